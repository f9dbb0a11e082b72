"""Prometheus: the scrape config rendered from its template, query answers as rows, the summary's
formatting, and `metrics` / `open` usage errors (no service needed)."""

from __future__ import annotations

import json

import yaml

from lakectl.cli.metrics import format_value, summary_table_rows
from lakectl.components.prometheus import CURATED, curated_rows, parse_query_result
from lakectl.runtime.base import StackContext
from lakectl.runtime.service_table import all_services
from lakectl.runtime.services import prometheus
from lakectl.settings import load_settings


def _jobs(text: str) -> dict[str, dict]:
    return {job["job_name"]: job for job in yaml.safe_load(text)["scrape_configs"]}


def test_native_config_scrapes_every_target_on_loopback_at_the_stack_ports(monkeypatch):
    monkeypatch.setenv("LAKECTL_PORTS", json.dumps({"kafka.metrics": 39308, "trino": 38080, "prometheus": 39090,
                                                    "flink-taskmanager.metrics": 39250}))
    stack = StackContext(load_settings(), "native")
    text = prometheus.render_config(prometheus.native_targets(stack))
    assert "${" not in text
    jobs = _jobs(text)
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items() if "static_configs" in job}
    assert targets == {"prometheus": ["127.0.0.1:39090"], "flink-jobmanager": ["127.0.0.1:9249"],
                       "flink-taskmanager": ["127.0.0.1:39250"], "kafka": ["127.0.0.1:39308"],
                       "trino": ["127.0.0.1:38080"], "schema-registry": ["127.0.0.1:9085"]}
    # the optional Connect worker is found in the files it writes when it starts, never a target always down
    assert jobs["connect"]["file_sd_configs"] == [
        {"files": [f"{prometheus.targets_dir(stack)}/connect*.json"], "refresh_interval": "10s"}]
    # Trino refuses /metrics without a user: a password-less basic credential names one
    assert jobs["trino"]["basic_auth"] == {"username": "prometheus"}
    assert jobs["trino"]["metrics_path"] == "/metrics"
    assert yaml.safe_load(text)["global"]["scrape_interval"] == "10s"


def test_prometheus_spec_and_kafka_metrics_port():
    catalog = all_services()
    spec = catalog["prometheus"]
    assert spec.ports == {"main": 9090} and spec.depends_on == ()
    assert catalog["kafka"].ports["metrics"] == 9308
    stack = StackContext(load_settings(), "native")
    assert spec.url(stack) == "http://127.0.0.1:9090"
    assert spec.probe(stack).description.endswith("/-/ready")


def test_vector_matrix_and_scalar_answers_become_rows():
    vector = parse_query_result({"resultType": "vector", "result": [
        {"metric": {"__name__": "up", "job": "kafka"}, "value": [1700000000.5, "1"]},
        {"metric": {"job": "x"}, "value": [1700000000.5, "NaN"]}]})
    assert vector == {"result_type": "vector", "result": [
        {"metric": {"__name__": "up", "job": "kafka"}, "timestamp": 1700000000.5, "value": 1.0},
        {"metric": {"job": "x"}, "timestamp": 1700000000.5, "value": None}]}
    matrix = parse_query_result({"resultType": "matrix", "result": [
        {"metric": {"job": "kafka"}, "values": [[1, "2"], [2, "3.5"]]}]})
    assert matrix["result"][0]["value"] == 3.5 and matrix["result"][0]["values"] == [[1, 2.0], [2, 3.5]]
    scalar = parse_query_result({"resultType": "scalar", "result": [3, "42"]})
    assert scalar["result"] == [{"metric": {}, "timestamp": 3, "value": 42.0}]


def test_curated_rows_name_their_subject_and_say_when_there_is_no_data():
    records_out = next(c for c in CURATED if c.metric == "records_out_per_s")
    answer = parse_query_result({"resultType": "vector", "result": [
        {"metric": {"job_name": "bronze", "operator_name": "delta_sink:_Writer"}, "value": [1, "120.5"]},
        {"metric": {"job_name": "bronze", "operator_name": "IcebergStreamWriter"}, "value": [1, "120.5"]}]})
    rows = curated_rows(records_out, answer)
    assert [r["labels"] for r in rows] == [{"job": "bronze", "sink": "IcebergStreamWriter"},
                                           {"job": "bronze", "sink": "delta_sink:_Writer"}]
    assert rows[0]["value"] == 120.5 and rows[0]["unit"] == "records/s"
    empty = curated_rows(records_out, {"result_type": "vector", "result": []})
    assert empty[0]["value"] is None and "no data" in empty[0]["note"]
    table = summary_table_rows(rows + empty)
    assert table[0] == {"metric": "records_out_per_s", "of": "job=bronze sink=IcebergStreamWriter",
                        "value": "120 records/s"}
    assert table[-1]["of"] == "-" and table[-1]["value"].startswith("no data")


def test_values_are_formatted_for_people():
    assert format_value(None, "s") == "-"
    assert format_value(4.25, "s") == "4.2 s"
    assert format_value(600, "s") == "10.0 min"
    assert format_value(7200, "s") == "2.0 h"
    assert format_value(1.0, "") == "1"
    assert format_value(12345.6, "records/s") == "12,346 records/s"
    assert format_value(0.5, "records/s") == "0.50 records/s"
    assert format_value(126.0, "ms") == "126 ms"


def test_every_curated_query_has_a_unique_name():
    names = [c.metric for c in CURATED]
    assert len(names) == len(set(names)) and "up" in names


def test_empty_query_is_a_usage_error(run):
    result = run("metrics", "--query", "  ")
    assert result.code == 2 and "--query is empty" in result.err


def test_open_unknown_service_is_a_usage_error(run, monkeypatch):
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    result = run("open", "no-such-service")
    assert result.code == 2 and "unknown service 'no-such-service'" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_open_prints_the_ui_url(run, monkeypatch):
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    monkeypatch.setenv("LAKECTL_PORTS", json.dumps({"prometheus": 39090}))
    assert run("open", "prometheus").out.strip() == "http://127.0.0.1:39090"
    assert run("open", "flink").out.strip() == "http://127.0.0.1:8081"
    data = json.loads(run("open", "trino", "--browser", "-o", "json").out)
    # not a terminal (pytest captures stdout): never a browser
    assert data == {"service": "trino", "url": "http://127.0.0.1:8080", "web": True, "opened": False}


# -- the summary of one pipeline (`metrics --pipeline`) -----------------------------------------------
def _vector(*series: tuple[dict[str, str], float]) -> dict:
    return {"result_type": "vector", "result": [{"metric": m, "timestamp": 1.0, "value": v} for m, v in series]}


def test_only_the_stack_wide_curated_query_is_not_per_job():
    assert [c.metric for c in CURATED if not c.per_job] == ["up"]


def test_curated_rows_of_one_job_keep_its_series_only():
    records_out = next(c for c in CURATED if c.metric == "records_out_per_s")
    answer = _vector(({"job_name": "bronze_trades", "operator_name": "IcebergStreamWriter"}, 120.5),
                     ({"job_name": "bronze_orders", "operator_name": "IcebergStreamWriter"}, 3.0),
                     ({"job_name": "bronze_trades", "operator_name": "delta_sink:_Writer"}, 120.5))
    rows = curated_rows(records_out, answer, job="bronze_trades")
    assert [r["labels"] for r in rows] == [{"job": "bronze_trades", "sink": "IcebergStreamWriter"},
                                           {"job": "bronze_trades", "sink": "delta_sink:_Writer"}]
    assert len(curated_rows(records_out, answer)) == 3  # no job: every series, as before


def test_a_job_without_series_gets_a_row_saying_so_labelled_with_the_job():
    lag = next(c for c in CURATED if c.metric == "kafka_lag_records")
    rows = curated_rows(lag, _vector(({"job_name": "bronze_orders"}, 7.0)), job="bronze_trades")
    assert rows == [{"metric": "kafka_lag_records", "labels": {"job": "bronze_trades"}, "value": None,
                     "unit": "records", "note": "no data (bronze_trades is not running or reports none yet)"}]
    assert summary_table_rows(rows)[0]["of"] == "job=bronze_trades"


class FakePrometheus:
    """Every curated query answered with series of two jobs (and `up` with two targets)."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.closed = False

    def query(self, promql: str) -> dict:
        self.queries.append(promql)
        if promql == "up":
            return _vector(({"job": "prometheus", "instance": "127.0.0.1:9090"}, 1.0),
                           ({"job": "flink-jobmanager", "instance": "127.0.0.1:9249"}, 1.0))
        sink = {"operator_name": "IcebergStreamWriter"} if "Writer" in promql else {}
        return _vector(({"job_name": "bronze_orders", **sink}, 1.0), ({"job_name": "bronze_trades", **sink}, 2.0))

    def close(self) -> None:
        self.closed = True


def _house(*tables: tuple[str, str]):
    from types import SimpleNamespace

    from lakectl.components.lakehouse import TableInfo

    def listing(fmt: str):
        return lambda layer: [TableInfo(f, layer, n, f"s3://lake/{f}/{layer}/{n}", 1, "1", "2027-01-15T08:00:00+00:00")
                              for n, f in tables if f == fmt]

    return SimpleNamespace(iceberg_tables=listing("iceberg"), delta_tables=listing("delta"))


def _spec(name: str, formats: tuple[str, ...] = ("iceberg", "delta")):
    from pathlib import Path

    from lakectl.pipeline_spec import PipelineSpec

    return PipelineSpec(name=name, schema=Path(f"/schemas/{name}.avsc"), topic=name, key="id", formats=formats)


TABLES = (("trades", "iceberg"), ("trades", "delta"), ("orders", "iceberg"))


def test_a_pipelines_summary_has_its_jobs_rows_and_its_tables_freshness_only():
    from lakectl.ops.metrics import summary

    prometheus = FakePrometheus()
    found = summary(prometheus, lambda: _house(*TABLES), url="http://127.0.0.1:9090", pipeline=_spec("trades"))
    assert prometheus.closed and "up" not in prometheus.queries
    curated = [r for r in found.metrics if r["metric"] != "bronze_freshness_s"]
    assert [r["metric"] for r in curated] == [c.metric for c in CURATED if c.per_job]
    assert {r["labels"]["job"] for r in curated} == {"bronze_trades"} and {r["value"] for r in curated} == {2.0}
    fresh = [r["labels"] for r in found.metrics if r["metric"] == "bronze_freshness_s"]
    assert fresh == [{"table": "bronze.trades", "format": "delta"}, {"table": "bronze.trades", "format": "iceberg"}]
    data = found.to_dict()
    assert data["pipeline"] == "trades" and list(data) == ["prometheus", "metrics", "pipeline"]


def test_the_whole_summary_is_unchanged():
    from lakectl.ops.metrics import summary

    found = summary(FakePrometheus(), lambda: _house(*TABLES), url="http://127.0.0.1:9090")
    assert list(found.to_dict()) == ["prometheus", "metrics"]  # no "pipeline" key
    assert len([r for r in found.metrics if r["metric"] == "up"]) == 2
    assert {r["labels"].get("job") for r in found.metrics if r["metric"] == "checkpoint_age_s"} == {
        "bronze_orders", "bronze_trades"}
    assert len([r for r in found.metrics if r["metric"] == "bronze_freshness_s"]) == 3


def test_a_pipeline_whose_tables_do_not_exist_yet_says_so_per_format():
    from lakectl.ops.metrics import summary

    found = summary(FakePrometheus(), lambda: _house(*TABLES), url="u", pipeline=_spec("orders"))
    fresh = [r for r in found.metrics if r["metric"] == "bronze_freshness_s"]
    assert [(r["labels"], r["value"] is None, r.get("note")) for r in fresh] == [
        ({"table": "bronze.orders", "format": "delta"}, True, "no delta table yet"),
        ({"table": "bronze.orders", "format": "iceberg"}, False, None)]


def test_metrics_of_an_unknown_pipeline_is_one_usage_error_line(run):
    result = run("metrics", "--pipeline", "no_such_pipeline")
    assert result.code == 2 and "no pipeline 'no_such_pipeline'" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_metrics_takes_a_query_or_a_pipeline(run):
    result = run("metrics", "--pipeline", "trades", "--query", "up")
    assert result.code == 2 and "--query and --pipeline" in result.err


def test_metrics_of_a_pipeline_as_json(run, monkeypatch):
    from lakectl.components.prometheus import Prometheus
    from lakectl.context import LakeContext

    fake = FakePrometheus()
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    monkeypatch.setattr(Prometheus, "query", lambda self, promql: fake.query(promql))
    monkeypatch.setattr(LakeContext, "lakehouse", lambda self: _house(*TABLES))
    result = run("metrics", "--pipeline", "trades", "-o", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["pipeline"] == "trades" and data["prometheus"].startswith("http://127.0.0.1:")
    assert {r["labels"].get("job") for r in data["metrics"] if r["metric"] != "bronze_freshness_s"} == {"bronze_trades"}
    assert {r["labels"]["table"] for r in data["metrics"] if r["metric"] == "bronze_freshness_s"} == {"bronze.trades"}
    table = run("metrics", "--pipeline", "trades")
    assert table.code == 0 and "pipeline: trades" in table.out and "bronze_orders" not in table.out


def test_an_optional_service_announces_its_target_when_it_starts_and_withdraws_it_on_purge(isolated):
    from lakectl.runtime.services import connect

    stack = StackContext(load_settings(cwd=isolated), "native")
    recipe = connect.ConnectRecipe(stack, all_services()["connect"])
    announced = prometheus.targets_dir(stack) / "connect.json"
    assert not announced.exists()  # never started: nothing to scrape
    recipe.prepare()
    assert json.loads(announced.read_text()) == [{"targets": [f"127.0.0.1:{stack.port(recipe.spec, 'metrics')}"]}]
    assert [p.name for p in announced.parent.iterdir()] == ["connect.json"]  # no staging file left behind
    recipe.purge()
    assert not announced.exists()
