"""deploy/grafana: every dashboard conforms to Grafana's schema (grafana-foundation-sdk's generated
models, made strict by tests/unit/grafana_schema.py), uses only the provisioned datasource, and
the provisioning matches the compose file. The checker is shown to refuse broken dashboards. The
pipeline dashboard's per-job panels all filter on its ``pipeline`` variable."""

from __future__ import annotations

import copy
import re
from importlib.metadata import version

import pytest
import yaml

from lakectl import pipeline_spec
from lakectl.runtime.services.prometheus import SCRAPE_INTERVAL_S
from tests.grafana_dashboards import (
    BUILTINS,
    DATASOURCE_UID,
    GRAFANA,
    dashboard_files,
    load,
    panels,
    queries,
    variables_used,
)
from tests.unit.grafana_schema import check_dashboard

FILES = dashboard_files()
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}


def test_the_three_dashboards_exist():
    assert [f.name for f in FILES] == ["kafka.json", "pipeline.json", "trino.json"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_conforms_to_grafanas_schema(path):
    assert check_dashboard(load(path)) == []


def defined_variables(dashboard: dict) -> list[dict]:
    return dashboard.get("templating", {}).get("list", [])


def project_problems(dashboard: dict) -> list[str]:
    """lakectl's own rules on top of the schema: one datasource, PromQL in every target, and only the
    variables the dashboard defines: query variables on that datasource whose "All" is the regex ``.*``
    (what a test stands in for them, and what matches a job started after the dashboard loaded)."""
    problems = []
    ids = [p.get("id") for p in panels(dashboard)]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {ids}")
    defined = set()
    for variable in defined_variables(dashboard):
        name = variable.get("name")
        defined.add(name)
        if variable.get("type") != "query" or variable.get("datasource") != DATASOURCE:
            problems.append(f"variable {name}: not a query of the provisioned datasource {DATASOURCE}")
        if not (variable.get("includeAll") and variable.get("allValue") == ".*"):
            problems.append(f"variable {name}: no \"All\" standing for every value (includeAll, allValue .*)")
    for panel in panels(dashboard):
        if panel.get("type") == "row":
            continue
        title = panel.get("title")
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{title}: datasource {panel.get('datasource')} is not the provisioned {DATASOURCE}")
        if not panel.get("targets"):
            problems.append(f"{title}: no query")
        for target in panel.get("targets", []):
            if target.get("datasource", DATASOURCE) != DATASOURCE:
                problems.append(f"{title} {target.get('refId')}: datasource {target.get('datasource')}")
    for query in queries(dashboard):
        if not query.expr.strip():
            problems.append(f"{query.name}: empty expr")
        unknown = {v for v in variables_used(query.expr) if f"${v}" not in BUILTINS and v not in defined}
        if unknown:
            problems.append(f"{query.name}: variables {sorted(unknown)} that nothing defines")
    return problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_follows_lakectls_rules(path):
    dashboard = load(path)
    assert project_problems(dashboard) == []
    assert dashboard["uid"].startswith("lakectl-") and "lakectl" in dashboard["tags"]


def test_dashboard_uids_are_unique():
    uids = [load(f)["uid"] for f in FILES]
    assert len(uids) == len(set(uids))


def _pipeline() -> dict:
    return load(GRAFANA / "dashboards" / "pipeline.json")


def _first(dashboard: dict, kind: str) -> dict:
    return next(p for p in dashboard["panels"] if p["type"] == kind)


def _wrong_type(d):
    _first(d, "timeseries")["gridPos"]["h"] = "8"


def _no_datasource(d):
    panel = _first(d, "timeseries")
    del panel["datasource"]
    for target in panel["targets"]:
        del target["datasource"]


def _unknown_panel_field(d):
    _first(d, "timeseries")["titel"] = "typo"


def _unknown_target_field(d):
    _first(d, "timeseries")["targets"][0]["legendFromat"] = "{{job_name}}"


def _bad_enum(d):
    d["graphTooltip"] = 7


def _bad_panel_option(d):
    _first(d, "timeseries")["options"]["legend"]["placement"] = "top"


def _bad_stat_option(d):
    _first(d, "stat")["options"]["reduceOptions"]["calcs"] = "lastNotNull"


def _expr_not_a_string(d):
    _first(d, "timeseries")["targets"][0]["expr"] = 42


def _bad_custom_field_config(d):
    _first(d, "timeseries")["fieldConfig"]["defaults"]["custom"]["lineWidth"] = "thick"


def _bad_threshold(d):
    _first(d, "stat")["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"] = "low"


def _bad_link(d):
    _first(d, "timeseries")["links"] = [{"title": 3, "url": "http://x", "colour": "red"}]


BROKEN = {
    "wrong type (gridPos.h a string)": (_wrong_type, r"grid_pos\.h: expected an integer, got '8'"),
    "panel and targets without a datasource": (_no_datasource, r"targets\[0\]: a query of unknown datasource type"),
    "unknown panel field": (_unknown_panel_field, r"panels\[0\]\.titel: unknown field"),
    "unknown target field": (_unknown_target_field, r"targets\[0\]\.legendFromat: unknown field"),
    "graphTooltip outside its enum": (_bad_enum, r"graph_tooltip: 7 is not one of \[0, 1, 2\]"),
    "timeseries legend placement": (_bad_panel_option, r"legend\.placement: 'top' is not one of"),
    "stat reduceOptions.calcs not a list": (_bad_stat_option, r"reduce_options\.calcs: expected a list"),
    "expr not a string": (_expr_not_a_string, r"expr: expected a string, got 42"),
    "timeseries custom lineWidth": (_bad_custom_field_config, r"custom\.line_width: expected a number"),
    "threshold value": (_bad_threshold, r"steps\[0\]\.value: expected a number"),
    "panel link (raw JSON in the SDK)": (_bad_link, r"links\[0\]\.(colour: unknown field|title: expected a string)"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_the_schema_check_refuses_a_broken_dashboard(case):
    breaks, expected = BROKEN[case]
    dashboard = copy.deepcopy(_pipeline())
    breaks(dashboard)
    problems = check_dashboard(dashboard)
    assert any(re.search(expected, p) for p in problems), problems


# -- the pipeline variable ---------------------------------------------------------------------------
MATCHER = 'job_name=~"bronze_$pipeline"'
STACK_WIDE = {"Running jobs and scrape targets up"}  # every job and target: never filtered
SELECTOR = re.compile(r"\b(flink_\w+)(\{[^}]*\})?")


def _selectors(expr: str) -> list[tuple[str, str]]:
    """Each Flink metric selector of an expression: (metric, its braces or '')."""
    return [(m.group(1), m.group(2) or "") for m in SELECTOR.finditer(expr)]


def _pipeline_variable(dashboard: dict) -> dict:
    [variable] = [v for v in defined_variables(dashboard) if v["name"] == "pipeline"]
    return variable


def _regex(variable: dict) -> re.Pattern:
    assert variable["regex"].startswith("/") and variable["regex"].endswith("/")  # Grafana's /.../ form
    return re.compile(variable["regex"][1:-1])


def test_the_pipeline_variable_lists_the_bronze_jobs_by_pipeline_name():
    variable = _pipeline_variable(_pipeline())
    assert variable["type"] == "query" and variable["datasource"] == DATASOURCE
    assert variable["query"] == "label_values(flink_jobmanager_job_uptime, job_name)"
    assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"
    assert variable["current"]["value"] == ["$__all"]  # every pipeline until one is picked
    assert variable["sort"] in (1, 5, 7) and variable["refresh"] == 2  # ascending; new jobs show up
    # Grafana keeps the regex's capture group: the pipeline's name, and drops jobs that are no pipeline's
    regex = _regex(variable)
    assert regex.search("bronze_trades").group(1) == "trades" and not regex.search("silver_trades")


def test_every_pipelines_job_is_what_the_variables_value_selects():
    specs = pipeline_spec.load_all()
    assert specs, "no pipeline specs in schemas/"
    regex = _regex(_pipeline_variable(_pipeline()))
    names = [spec.name for spec in specs]
    selected = MATCHER.split('"')[1]
    for spec in specs:
        value = regex.search(spec.job_name).group(1)
        assert value == spec.name
        # one pipeline, several (Grafana joins them as a regex group) and "All"
        for substituted in (spec.name, "(" + "|".join(names) + ")", ".*"):
            assert re.fullmatch(selected.replace("$pipeline", substituted), spec.job_name)
        others = [n for n in names if n != spec.name]
        if others:
            assert not re.fullmatch(selected.replace("$pipeline", others[0]), spec.job_name)


def test_every_per_job_panel_filters_on_the_pipeline_variable():
    dashboard = _pipeline()
    filtered = [p for p in panels(dashboard) if p.get("type") != "row" and p["title"] not in STACK_WIDE]
    assert len(filtered) >= 10, "the pipeline dashboard lost its per-job panels"
    unfiltered = []
    for panel in filtered:
        for target in panel["targets"]:
            selectors = _selectors(target["expr"])
            assert selectors, f"{panel['title']} {target['refId']}: no Flink metric: {target['expr']}"
            unfiltered += [f"{panel['title']} {target['refId']}: {metric}{braces}"
                           for metric, braces in selectors if MATCHER not in braces]
    assert unfiltered == []


def test_stack_wide_panels_are_not_filtered():
    dashboard = _pipeline()
    stack_wide = [p for p in panels(dashboard) if p.get("title") in STACK_WIDE]
    assert [p["title"] for p in stack_wide] == sorted(STACK_WIDE)
    assert all("$pipeline" not in t["expr"] for p in stack_wide for t in p["targets"])


def test_lakectls_rules_refuse_a_variable_without_all():
    dashboard = copy.deepcopy(_pipeline())
    del _pipeline_variable(dashboard)["allValue"]
    assert any("variable pipeline" in p for p in project_problems(dashboard))


def test_the_schema_check_refuses_what_is_not_a_dashboard():
    assert check_dashboard([]) and check_dashboard({"panels": "none"})


def test_lakectls_rules_refuse_another_datasource_and_variables():
    dashboard = copy.deepcopy(_pipeline())
    panel = _first(dashboard, "timeseries")
    panel["datasource"] = {"type": "prometheus", "uid": "someone-elses"}
    panel["targets"][0]["expr"] = 'up{job="$job"}'
    problems = project_problems(dashboard)
    assert any("someone-elses" in p for p in problems) and any("['job']" in p for p in problems), problems
    assert check_dashboard(dashboard) == []  # both are valid Grafana: only lakectl's rules catch them


def test_datasource_provisioning_matches_the_dashboards_and_prometheus():
    config = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [source] = config["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    # Grafana has the host's network: the stack's Prometheus on 127.0.0.1, at the port the compose file
    # passes (Grafana expands ${...} in provisioning files)
    assert source["url"] == "http://127.0.0.1:${LAKECTL_PROMETHEUS_PORT}"
    assert source["jsonData"]["timeInterval"] == f"{SCRAPE_INTERVAL_S}s"


def test_compose_mounts_the_provisioning_where_grafana_reads_it(isolated):
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.compose import validate
    from lakectl.settings import load_settings

    config = validate(StackContext(load_settings(), "compose"))
    grafana = config["services"]["grafana"]
    mounts = {m["target"]: m for m in grafana["volumes"]}
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "lakectl.yml").read_text())["providers"][0]
    assert mounts["/etc/grafana/provisioning"]["source"] == str(GRAFANA / "provisioning")
    assert mounts[provider["options"]["path"]]["source"] == str(GRAFANA / "dashboards")
    assert all(mounts[t].get("read_only") for t in ("/etc/grafana/provisioning", provider["options"]["path"]))
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (GRAFANA / "dashboards" / home.rsplit("/", 1)[1]).exists()
    assert "prometheus" in grafana["depends_on"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]  # from the 0600 env file, never the YAML
    assert grafana["environment"]["LAKECTL_PROMETHEUS_PORT"] == "9090"  # what the datasource's URL names
    assert grafana["network_mode"] == "host" and grafana["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"


def test_grafana_image_matches_the_schema_version():
    """The SDK's models are generated for one Grafana minor version: the image runs that one."""
    sdk = version("grafana-foundation-sdk")  # e.g. 1769699379!11.6.0: epoch, then the Grafana version
    grafana_minor = ".".join(sdk.split("!")[-1].split(".")[:2])
    compose = (GRAFANA.parent / "docker-compose.yml").read_text()
    image = re.search(r"image: \"?grafana/grafana:([^\s\"]+)", compose).group(1)
    assert image.startswith(grafana_minor + "."), (image, sdk)
