"""Superset's pure parts: the Gold bundle (its references, its columns against the dbt models, the
zip lakectl renders from it), the rendered config, the revision check, and `open` when stopped."""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
import yaml

from lakectl.errors import ComponentError
from lakectl.runtime.base import StackContext
from lakectl.runtime.services import superset
from lakectl.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "deploy" / "superset"
GOLD_MODELS = REPO / "dbt_project" / "models" / "gold"


def load(kind: str) -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((BUNDLE / kind).rglob("*.yaml"))}


@pytest.fixture
def stack(isolated, monkeypatch):
    monkeypatch.setenv("LAKECTL_STATE_DIR", str(isolated / "state"))
    monkeypatch.setenv("LAKECTL_PORTS", json.dumps({"trino": 18080, "superset": 18091}))
    return StackContext(load_settings(), "native")


def test_bundle_references_resolve():
    databases = {d["uuid"] for d in load("databases").values()}
    datasets = load("datasets")
    charts = load("charts")
    (dashboard,) = load("dashboards").values()
    assert yaml.safe_load((BUNDLE / "metadata.yaml").read_text())["type"] == "Dashboard"
    assert all(d["database_uuid"] in databases for d in datasets.values())
    dataset_ids = {d["uuid"] for d in datasets.values()}
    assert all(c["dataset_uuid"] in dataset_ids for c in charts.values())
    nodes = [n for n in dashboard["position"].values() if isinstance(n, dict)]
    placed = {n["meta"]["uuid"] for n in nodes if n.get("type") == "CHART"}
    assert placed == {c["uuid"] for c in charts.values()} and len(placed) == 3
    uuids = [x["uuid"] for kind in ("databases", "datasets", "charts", "dashboards") for x in load(kind).values()]
    assert len(uuids) == len(set(uuids))
    assert dashboard["slug"] == superset.DASHBOARD_SLUG


def test_datasets_match_the_gold_models():
    """Every column a dbt model documents is in its dataset, and every dataset column is in the model."""
    documented = {m["name"]: [c["name"] for c in m["columns"]]
                  for m in yaml.safe_load((GOLD_MODELS / "gold.yml").read_text())["models"]}
    datasets = {d["table_name"]: d for d in load("datasets").values()}
    assert set(datasets) == {"ohlcv_1m", "vwap", "top_movers"}
    for table, dataset in datasets.items():
        assert dataset["schema"] == "gold"
        columns = [c["column_name"] for c in dataset["columns"]]
        assert set(documented[table]) <= set(columns), table
        sql = (GOLD_MODELS / f"{table}.sql").read_text()
        final_select = sql[sql.rindex("select"):]
        for column in columns:
            assert re.search(rf"\b{column}\b", final_select), f"{table}.{column} is not selected by the model"
        assert dataset["main_dttm_col"] in columns


def test_charts_query_only_their_datasets_columns():
    datasets = {d["uuid"]: {c["column_name"] for c in d["columns"]} for d in load("datasets").values()}
    tables = {d["uuid"]: d["table_name"] for d in load("datasets").values()}
    by_table = {}
    for chart in load("charts").values():
        columns = datasets[chart["dataset_uuid"]]
        context = json.loads(chart["query_context"])
        assert context["form_data"]["viz_type"] == chart["viz_type"] == chart["params"]["viz_type"]
        (query,) = context["queries"]
        for column in query["columns"]:
            name = column["sqlExpression"] if isinstance(column, dict) else column
            assert name in columns, (chart["slice_name"], name)
        for metric in query.get("metrics") or []:
            assert metric["column"]["column_name"] in columns
        by_table[tables[chart["dataset_uuid"]]] = chart["viz_type"]
    assert by_table == {"ohlcv_1m": "echarts_timeseries_line", "vwap": "echarts_timeseries_bar",
                        "top_movers": "table"}


def test_render_bundle_sets_this_stacks_trino_and_imports_as_assets(stack, tmp_path):
    uri = superset.trino_uri(stack)
    assert uri == "trino://lakectl@127.0.0.1:18080/iceberg"
    # the same in compose: its containers share the host's network
    assert superset.trino_uri(StackContext(stack.loaded, "compose")) == uri
    target = superset.render_bundle(BUNDLE, tmp_path / "out" / "bundle.zip", uri)
    with zipfile.ZipFile(target) as bundle:
        names = bundle.namelist()
        files = {name: yaml.safe_load(bundle.read(name)) for name in names}
    shipped = sorted(p.relative_to(BUNDLE).as_posix() for p in BUNDLE.rglob("*.yaml"))
    assert sorted(n.removeprefix("gold/") for n in names) == shipped  # one root folder, stripped by Superset
    assert files["gold/metadata.yaml"]["type"] == "assets"
    assert files["gold/databases/trino.yaml"]["sqlalchemy_uri"] == uri
    assert files["gold/charts/Top_movers.yaml"] == yaml.safe_load((BUNDLE / "charts" / "Top_movers.yaml").read_text())
    # rendering again replaces the zip, never appends to it
    superset.render_bundle(BUNDLE, target, "trino://lakectl@127.0.0.1:1/iceberg")
    with zipfile.ZipFile(target) as bundle:
        assert len(bundle.namelist()) == len(names)
        assert "127.0.0.1:1/" in bundle.read("gold/databases/trino.yaml").decode()


def test_render_bundle_rejects_an_incomplete_export(tmp_path):
    (tmp_path / "databases").mkdir()
    with pytest.raises(ComponentError, match=r"no metadata\.yaml"):
        superset.render_bundle(tmp_path, tmp_path / "b.zip", "trino://x@y:1/iceberg")
    (tmp_path / "metadata.yaml").write_text("version: 1.0.0\ntype: Dashboard\n")
    with pytest.raises(ComponentError, match="no databases"):
        superset.render_bundle(tmp_path, tmp_path / "b.zip", "trino://x@y:1/iceberg")
    (tmp_path / "databases" / "t.yaml").write_text("database_name: t\n")
    with pytest.raises(ComponentError, match="no sqlalchemy_uri"):
        superset.render_bundle(tmp_path, tmp_path / "b.zip", "trino://x@y:1/iceberg")


def test_config_is_private_and_holds_the_generated_secrets(stack):
    superset.write_config(stack)
    root = superset.home(stack)
    config = root / "superset_config.py"
    assert config.stat().st_mode & 0o777 == 0o600
    namespace: dict = {}
    exec(compile(config.read_text(), str(config), "exec"), namespace)
    secrets = json.loads((stack.state_dir / "secrets.json").read_text())
    assert namespace["SECRET_KEY"] == secrets["superset_secret_key"] and len(namespace["SECRET_KEY"]) >= 32
    assert namespace["LAKECTL_ADMIN_PASSWORD"] == secrets["superset_admin_password"]
    assert namespace["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{root / 'superset.db'}?check_same_thread=false"
    assert Path(namespace["LAKECTL_BUNDLE"]).is_file()
    # a second write keeps the same secrets (the admin's password must not change under a running app)
    superset.write_config(stack)
    assert json.loads((stack.state_dir / "secrets.json").read_text()) == secrets
    assert superset.url(stack) == "http://127.0.0.1:18091"


def test_db_revision(tmp_path):
    database = tmp_path / "superset.db"
    assert superset.db_revision(database) == ""
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE other (x)")
    assert superset.db_revision(database) == ""  # not migrated yet
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        conn.execute("INSERT INTO alembic_version VALUES ('abc123')")
    assert superset.db_revision(database) == "abc123"


def test_superset_is_in_the_service_table_after_airflow():
    from lakectl.runtime.service_table import all_services

    names = list(all_services())
    assert names.index("superset") > names.index("airflow-api-server")
    spec = all_services()["superset"]
    assert spec.depends_on == () and spec.image_family == "superset"


def test_open_superset_when_stopped_is_one_line(run, monkeypatch, isolated):
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    monkeypatch.setenv("LAKECTL_STATE_DIR", str(isolated / "state"))
    result = run("open", "superset")
    assert result.code == 3, result.err
    assert result.err.strip() == ("lakectl: error: superset is not running (not-started) at http://127.0.0.1:8091 "
                                  "(lakectl up superset)")
    assert result.out == ""
