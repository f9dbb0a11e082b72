"""Prometheus on the real stack: targets up, every curated metric has a value while a job runs,
a PromQL query, a malformed one (exit 1), Prometheus down (exit 3)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import TEST_PORTS
from tests.e2e.bronze_helpers import trades_flowing

pytestmark = pytest.mark.e2e

TOPIC = "trades_metrics"
JOB_NAME = "bronze_metrics"
PROMETHEUS = f"http://127.0.0.1:{TEST_PORTS['prometheus']}"
PER_JOB = ("records_in_per_s", "records_out_per_s", "kafka_lag_records", "checkpoint_age_s", "checkpoint_duration_ms")


@pytest.fixture(scope="module")
def running_job(stack):
    """The bronze job on its own topic, with trades arriving at a steady rate for the whole module."""
    with trades_flowing(stack, TOPIC, JOB_NAME, count=30000, rate=250) as job:
        yield job


def _targets() -> dict[str, str]:
    data = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in data}


def test_prometheus_scrapes_flink_kafka_and_trino(stack, running_job):
    wanted = {"flink-jobmanager", "flink-taskmanager", "kafka", "trino", "schema-registry", "prometheus"}
    deadline = time.monotonic() + 90
    health = {}
    while time.monotonic() < deadline:
        health = _targets()
        if all(health.get(job) == "up" for job in wanted):
            break
        time.sleep(3)
    assert {job: health.get(job) for job in wanted} == dict.fromkeys(wanted, "up")


def test_every_curated_metric_has_a_value_while_the_job_runs(stack, running_job):
    deadline = time.monotonic() + 180
    missing: list[str] = ["not run yet"]
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = stack.ok("metrics", "-o", "json").json()["metrics"]
        ours = {r["metric"]: r for r in rows if r["labels"].get("job") == JOB_NAME}
        missing = [m for m in PER_JOB if ours.get(m, {}).get("value") is None]
        if not ours.get("records_in_per_s", {}).get("value"):
            missing.append("records_in_per_s > 0")
        fresh = [r for r in rows
                 if r["metric"] == "bronze_freshness_s" and r["labels"].get("table") == f"bronze.{TOPIC}"]
        if {r["labels"]["format"] for r in fresh if r["value"] is not None} != {"iceberg", "delta"}:
            missing.append("bronze_freshness_s")
        if not missing:
            break
        time.sleep(5)
    assert not missing, (missing, rows)
    up = {r["labels"]["target"]: r["value"] for r in rows if r["metric"] == "up"}
    assert up["kafka"] == 1 and up["trino"] == 1 and up["flink-taskmanager"] == 1
    sinks = {r["labels"]["sink"] for r in rows
             if r["metric"] == "records_out_per_s" and r["labels"].get("job") == JOB_NAME}
    assert any("Iceberg" in s for s in sinks) and any("delta" in s for s in sinks), sinks
    table = stack.ok("metrics").out
    assert "records_in_per_s" in table and f"job={JOB_NAME}" in table


def test_query_prints_the_vector(stack, running_job):
    data = stack.ok("metrics", "--query", 'up{job="kafka"}', "-o", "json").json()
    assert data["result_type"] == "vector"
    assert [(r["metric"]["job"], r["value"]) for r in data["result"]] == [("kafka", 1.0)]
    offsets = stack.ok("metrics", "-q", f'sum(kafka_log_log_logendoffset{{topic="{TOPIC}"}})', "-o", "json").json()
    assert offsets["result"][0]["value"] > 0
    assert "kafka" in stack.ok("metrics", "-q", "up").out


def test_malformed_promql_is_exit_1_with_prometheus_message(stack):
    result = stack.lakectl("metrics", "--query", "sum(rate(up[1m])")
    assert result.code == 1, result.err
    assert "parse error" in result.err and result.err.startswith("lakectl: error: prometheus:")
    assert len(result.err.strip().splitlines()) == 1


def test_prometheus_down_is_exit_3(stack):
    stack.ok("down", "prometheus")
    try:
        for args in (("metrics",), ("metrics", "-q", "up")):
            result = stack.lakectl(*args)
            assert result.code == 3, result.err
            assert "unreachable" in result.err and "lakectl up prometheus" in result.err
            assert len(result.err.strip().splitlines()) == 1
    finally:
        stack.ok("up", "prometheus")


def test_open_prints_every_ui(stack):
    assert stack.ok("open", "prometheus").out.strip() == PROMETHEUS
    assert stack.ok("open", "flink").out.strip() == f"http://127.0.0.1:{TEST_PORTS['flink-jobmanager']}"
    assert stack.ok("open", "trino", "--browser").out.strip() == f"http://127.0.0.1:{TEST_PORTS['trino']}"
    assert stack.lakectl("open", "nope").code == 2
