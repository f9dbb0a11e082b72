"""Pipelines for any feed, on the real stack: a nested feed from its .avsc to Silver, schema evolution,
three pipelines at once through a TaskManager SIGKILL, and the bad input that must leave nothing behind.

`pipeline add` writes into the checkout (schemas/, dbt_project/models/pipelines/), as it does for a user;
every pipeline here is named e2e_* and removed with --purge when the module ends (.gitignore keeps any
leftover out of commits)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.bronze_helpers import REPO, kill_taskmanager, remove_paths, restarts, wait_until_recovered
from tests.e2e.conftest import cancel_active_jobs, report_artifact

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "schemas" / "examples"
ORDERS = "e2e_orders"
OTHERS = {"e2e_sensors": EXAMPLES / "sensor_readings.avsc", "e2e_clicks": EXAMPLES / "clicks.avsc"}
COUNT = 50_000


def _files(name: str) -> list[Path]:
    return [REPO / "schemas" / f"{name}.pipeline.toml", REPO / "schemas" / f"{name}.avsc",
            REPO / "dbt_project" / "models" / "pipelines" / name]


@pytest.fixture(scope="module", autouse=True)
def _pipelines_removed(stack):
    yield
    cancel_active_jobs(stack)
    for name in (ORDERS, *OTHERS, "e2e_typo"):
        if (REPO / "schemas" / f"{name}.pipeline.toml").exists():
            stack.lakectl("pipeline", "remove", name, "--purge", "-o", "json")
        remove_paths(_files(name))


def one_line_error(result, code: int, *needles: str) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lakectl: error:"), result.err
    for needle in needles:
        assert needle in lines[0], result.err
    assert "Traceback" not in result.err


def query(stack, sql: str) -> list[list]:
    return stack.ok("query", sql, "-o", "json").json()["rows"]


def test_bad_input_is_one_line_and_creates_nothing(stack, tmp_path):
    union = json.loads((EXAMPLES / "clicks.avsc").read_text())
    union["fields"].append({"name": "either", "type": ["int", "string"]})
    bad = tmp_path / "bad.avsc"
    bad.write_text(json.dumps(union))
    one_line_error(stack.lakectl("pipeline", "add", "e2e_bad", "--schema", str(bad)), 2,
                   "either: union of several types [int, string]")
    one_line_error(stack.lakectl("pipeline", "add", "e2e_bad", "--schema", str(EXAMPLES / "clicks.avsc"),
                                 "--key", "nope"), 2, "key field 'nope' is not a top-level field")
    assert not any(p.exists() for p in _files("e2e_bad"))
    typo = REPO / "schemas" / "e2e_typo.pipeline.toml"
    typo.write_text('schema = "examples/clicks.avsc"\nkey = "click_id"\nevent_tme = "clicked_at"\n')
    try:
        one_line_error(stack.lakectl("pipeline", "apply", "e2e_typo"), 2,
                       "unknown key 'event_tme' (did you mean 'event_time'?)")
    finally:
        typo.unlink()
    assert "e2e-typo" not in stack.ok("topic", "list", "-o", "json").out


def test_a_nested_feed_from_its_avsc_to_silver(stack, request):
    started = time.perf_counter()
    stack.ok("pipeline", "add", ORDERS, "--schema", str(EXAMPLES / "orders.avsc"), "-o", "json")
    applied = stack.ok("pipeline", "apply", ORDERS, "-o", "json", timeout=900).json()[0]
    assert applied["job"]["state"] == "RUNNING" and applied["dbt"]
    sent = stack.ok("produce", ORDERS, "--synthetic", str(COUNT), "--seed", "7", "-o", "json", timeout=900).json()
    assert (sent["sent"], sent["rejected"]) == (COUNT, 0)
    status = stack.ok("pipeline", "status", ORDERS, "--wait", "--timeout", "600", "-o", "json", timeout=900).json()
    assert status["records"] == COUNT and status["dlq"]["records"] == 0
    assert status["rows"]["iceberg.bronze"] == COUNT and status["rows"]["delta.bronze"] == COUNT
    stack.ok("dbt", "build", "--select", f"tag:pipeline_{ORDERS}", "-o", "json", timeout=900)
    elapsed = time.perf_counter() - started
    silver = query(stack, f"SELECT count(*), count(DISTINCT order_id) FROM iceberg.silver.{ORDERS}")
    assert silver == [[COUNT, COUNT]]
    report_artifact(request.config, f"{ORDERS}: pipeline add -> {COUNT:,} rows in Silver in {elapsed:.0f} s")

    # nested fields, read through both catalogs, agree
    nested = ("SELECT count(*), count(customer.address.city), sum(cardinality(lines)), "
              "sum(coalesce(element_at(lines, 1).quantity, 0)), count(customer.address.geo.lat), "
              "sum(cardinality(attributes)), count_if(status = 'PAID'), sum(total) FROM {}.bronze." + ORDERS)
    iceberg, delta = query(stack, nested.format("iceberg")), query(stack, nested.format("delta"))
    assert iceberg == delta and iceberg[0][0] == COUNT and 0 < iceberg[0][1] < COUNT
    stack.ok("verify", "--pipeline", ORDERS, "-o", "json", timeout=600)

    again = stack.ok("pipeline", "apply", ORDERS, "-o", "json", timeout=900).json()[0]
    assert again["changes"] == [], again  # running it twice changes nothing


def test_a_new_nested_optional_field_joins_both_tables(stack):
    schema_file = REPO / "schemas" / f"{ORDERS}.avsc"
    document = json.loads(schema_file.read_text())
    customer = next(f for f in document["fields"] if f["name"] == "customer")["type"]
    customer["fields"].append({"name": "loyalty_tier", "type": ["null", "string"], "default": None})
    document["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None})
    schema_file.write_text(json.dumps(document, indent=1))
    applied = stack.ok("pipeline", "apply", ORDERS, "-o", "json", timeout=900).json()[0]
    assert any(c.startswith("resubmitted") for c in applied["changes"]), applied
    stack.ok("produce", ORDERS, "--synthetic", "2000", "--seed", "8", "-o", "json", timeout=600)
    status = stack.ok("pipeline", "status", ORDERS, "--wait", "--timeout", "600", "-o", "json", timeout=900).json()
    total = COUNT + 2000
    assert status["rows"]["iceberg.bronze"] == total and status["rows"]["delta.bronze"] == total
    new = ("SELECT count(*), count(customer.loyalty_tier) + count(coupon), "
           "count_if(customer.loyalty_tier IS NULL AND coupon IS NULL) FROM {}.bronze." + ORDERS)
    iceberg, delta = query(stack, new.format("iceberg")), query(stack, new.format("delta"))
    assert iceberg == delta, (iceberg, delta)
    assert iceberg[0][0] == total and iceberg[0][1] > 0 and iceberg[0][2] >= COUNT  # old rows read null
    stack.ok("dbt", "build", "--select", f"tag:pipeline_{ORDERS}", "-o", "json", timeout=900)
    assert query(stack, f"SELECT count(*), count(customer.loyalty_tier) + count(coupon) FROM iceberg.silver.{ORDERS}"
                 )[0] == [total, iceberg[0][1]]
    stack.ok("verify", "--pipeline", ORDERS, "-o", "json", timeout=600)


def test_its_generated_dag_runs_green(stack):
    from tests.e2e.test_dag import airflow_python

    stack.ok("up", "airflow", timeout=1200)
    dag_id = f"pipeline_{ORDERS}"
    # paused, the running scheduler leaves dag.test()'s run alone (see test_dag.pause_once_parsed)
    deadline = time.monotonic() + 300
    while (paused := stack.lakectl("dag", "pause", dag_id, "-o", "json")).code != 0:
        assert "no DAG" in paused.err and time.monotonic() < deadline, paused.err
        time.sleep(2)
    stack.ok("produce", ORDERS, "--synthetic", "500", "--seed", "9", "-o", "json", timeout=600)
    code = ("import runpy, sys; dags = runpy.run_path(sys.argv[1]); dag = dags['pipeline_' + sys.argv[2]]; "
            "print('TASKS', sorted(dag.task_ids)); run = dag.test(); print('RUN-STATE', run.state)")
    done = airflow_python(stack, code, str(REPO / "dags" / "pipelines.py"), ORDERS)
    assert "TASKS ['apply', 'dbt_build', 'freshness', 'verify', 'wait_for_bronze']" in done.stdout, done.stdout
    assert "RUN-STATE success" in done.stdout, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"


def test_removing_a_running_pipeline_is_refused(stack):
    one_line_error(stack.lakectl("pipeline", "remove", ORDERS), 2, f"pipeline {ORDERS} is running")
    assert all(p.exists() for p in _files(ORDERS))


def test_three_pipelines_at_once_survive_a_taskmanager_kill(stack):
    for name, schema in OTHERS.items():
        stack.ok("pipeline", "add", name, "--schema", str(schema), "-o", "json")
    stack.ok("pipeline", "apply", *OTHERS, "--no-models", "-o", "json", timeout=900)
    listed = {p["name"]: p["state"] for p in stack.ok("pipeline", "list", "-o", "json").json()}
    assert all(listed[n] == "RUNNING" for n in (ORDERS, *OTHERS)), listed
    # the restart counts before the producers start: four `job status` calls take seconds on a loaded
    # machine, long enough for 20 s of producing to end before the kill
    before = {name: restarts(stack, f"bronze_{name}") for name in (ORDERS, *OTHERS)}
    producers = {
        name: subprocess.Popen([sys.executable, "-m", "lakectl", "produce", name, "--synthetic", "20000",
                                "--seed", "3", "--rate", "1000", "-o", "json"],
                               cwd=stack.project, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        for name in (ORDERS, *OTHERS)}
    try:
        time.sleep(6)
        ended = {name: (p.returncode, p.communicate()[1][-2000:]) for name, p in producers.items()
                 if p.poll() is not None}
        assert not ended, f"the kill must land mid-stream, but these producers ended: {ended}"
        kill_taskmanager(stack)
        for name, count in before.items():
            wait_until_recovered(stack, f"bronze_{name}", count, timeout=300)
        for name, producer in producers.items():
            _out, err = producer.communicate(timeout=600)
            assert producer.returncode == 0, (name, err)
    finally:
        for producer in producers.values():
            if producer.poll() is None:
                producer.send_signal(signal.SIGTERM)
    for name in (ORDERS, *OTHERS):
        status = stack.ok("pipeline", "status", name, "--wait", "--timeout", "600", "-o", "json", timeout=900).json()
        records = status["records"]
        assert status["rows"]["iceberg.bronze"] == records == status["rows"]["delta.bronze"], status
        stack.ok("verify", "--pipeline", name, "-o", "json", timeout=600)  # exact: rows, keys, key digest
