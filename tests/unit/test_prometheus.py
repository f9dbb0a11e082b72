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
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert targets == {"prometheus": ["127.0.0.1:39090"], "flink-jobmanager": ["127.0.0.1:9249"],
                       "flink-taskmanager": ["127.0.0.1:39250"], "kafka": ["127.0.0.1:39308"],
                       "trino": ["127.0.0.1:38080"], "schema-registry": ["127.0.0.1:9085"]}
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
