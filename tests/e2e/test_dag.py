"""Airflow on the real stack: stock_data_pipeline with dag.test() and through the scheduler, the
bronze job brought back from its retained checkpoint and from a savepoint with exact counts, and
`lakectl dag` on bad input.

The DAG runs on its own topic (``trades_dag``: job ``bronze_trades_dag``, table
``bronze.trades_dag``); the Silver and Gold tables it builds are dropped afterwards, so the dbt
tests find them as they expect.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.e2e.bronze_helpers import prepare_topic

pytestmark = pytest.mark.e2e

DAG_ID = "stock_data_pipeline"
TOPIC = "trades_dag"
JOB_NAME = f"bronze_{TOPIC}"
CONF = json.dumps({"topic": TOPIC})
BUILT = ("silver.trades_clean", "gold.ohlcv_1m", "gold.vwap", "gold.top_movers")


def running_job(stack) -> dict | None:
    jobs = stack.ok("job", "list", "-o", "json").json()["jobs"]
    return next((j for j in jobs if j["name"] == JOB_NAME and j["state"] == "RUNNING"), None)


def history(stack) -> list[dict]:
    return json.loads((stack.state_dir / "jobs" / "history" / f"{JOB_NAME}.json").read_text())


def verified(stack) -> dict:
    result = stack.lakectl("verify", "--topic", TOPIC, "--key", "trade_id", "-o", "json", timeout=600)
    assert result.code == 0, f"{result.err}\n{result.out[-3000:]}"
    return result.json()


@pytest.fixture(scope="module")
def topic(stack):
    stack.ok("up", "airflow", "trino", "flink", timeout=1200)
    prepare_topic(stack, TOPIC)
    stack.ok("produce", TOPIC, "--count", "4000")
    yield TOPIC
    for table in BUILT:
        stack.lakectl("query", f"DROP TABLE IF EXISTS iceberg.{table}", timeout=120)


def airflow_python(stack, code: str, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run ``code`` with Airflow's own virtualenv and the environment the airflow service has."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(stack.env)
        from lakectl.context import LakeContext
        from lakectl.runtime.services import airflow

        lake = LakeContext()
        env = airflow.process_env(lake.runtime.stack)
        python = airflow.venv(lake.runtime.stack) / "bin" / "python"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.run([str(python), "-c", code, *args], env=env, cwd=stack.project, capture_output=True,
                          text=True, timeout=timeout)


def pause_once_parsed(stack, timeout: float = 300) -> None:
    """Pause the DAG as soon as the dag-processor has put it in the metadata database."""
    deadline = time.monotonic() + timeout
    while True:
        result = stack.lakectl("dag", "pause", DAG_ID, "-o", "json")
        if result.code == 0:
            assert result.json() == {"dag_id": DAG_ID, "is_paused": True}
            return
        assert result.code == 2 and "no DAG" in result.err and time.monotonic() < deadline, result.err
        time.sleep(2)


def test_dag_test_runs_green_on_the_real_stack(stack, topic):
    # paused, the running scheduler leaves dag.test()'s run alone: otherwise both run the same task
    # instances and the loser's state update is refused ("Task Instance not found")
    pause_once_parsed(stack)
    code = ("import json, runpy, sys; dag = runpy.run_path(sys.argv[1])['dag']; "
            "run = dag.test(run_conf=json.loads(sys.argv[2])); print('RUN-STATE', run.state)")
    from tests.conftest import REPO

    done = airflow_python(stack, code, str(REPO / "dags" / "stock_data_pipeline.py"), CONF)
    assert "RUN-STATE success" in done.stdout, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert running_job(stack) is not None
    verified(stack)


def test_scheduler_run_brings_a_cancelled_job_back_from_its_checkpoint(stack, topic):
    job = running_job(stack)
    assert job is not None
    stack.ok("job", "cancel", job["job_id"], "-o", "json")  # checkpoints are retained on cancellation
    assert running_job(stack) is None
    stack.ok("produce", TOPIC, "--count", "3000")
    result = stack.lakectl("dag", "trigger", DAG_ID, "--wait", "--timeout", "1200", "--conf", CONF, "-o", "json",
                           timeout=1300)
    assert result.code == 0, f"{result.err}\n{result.out[-3000:]}"
    run = result.json()
    assert run["state"] == "success"
    assert {t["task_id"]: t["state"] for t in run["tasks"]} == {
        "ensure_bronze_job": "success", "wait_for_bronze": "success", "dbt_build": "success",
        "bronze_freshness": "success", "verify_counts": "success"}
    restored = history(stack)[-1]
    assert restored["job_id"] == running_job(stack)["job_id"]
    assert f"/flink/checkpoints/{job['job_id']}/chk-" in (restored["restored_from"] or "")
    verified(stack)  # exactly what Kafka holds: nothing lost, nothing twice
    runs = stack.ok("dag", "runs", DAG_ID, "-o", "json").json()["runs"]
    assert runs[0]["dag_run_id"] == run["dag_run_id"] and runs[0]["state"] == "success"


def test_job_ensure_restores_from_a_savepoint_and_is_a_no_op_while_running(stack, topic):
    from tests.e2e.bronze_helpers import JOB, wait_for_rows

    ensure = ("job", "ensure", JOB, "--name", JOB_NAME, "-o", "json", "--", "--topic", TOPIC)
    job = running_job(stack)
    assert stack.ok(*ensure).json()["action"] == "none"
    stopped = stack.ok("job", "cancel", job["job_id"], "--savepoint", "-o", "json").json()
    stack.ok("produce", TOPIC, "--count", "2000")
    again = stack.ok(*ensure, timeout=600).json()
    assert again["action"] == "restored from savepoint" and again["from_savepoint"] == stopped["savepoint"]
    expected = 4000 + 3000 + 2000
    assert wait_for_rows(stack, TOPIC, expected) == {"iceberg": expected, "delta": expected}
    verified(stack)


def test_dag_list_and_bad_input(stack, topic):
    listed = stack.ok("dag", "list", "-o", "json").json()["dags"]
    assert DAG_ID in {d["dag_id"] for d in listed}
    # the dag-processor parses every file of dags/ (a file that fails to import lists no DAG)
    deadline = time.monotonic() + 120
    while not {"lakehouse_maintenance", "pipeline_trades"} <= {d["dag_id"] for d in listed}:
        assert time.monotonic() < deadline, f"not every DAG of dags/ was parsed: {[d['dag_id'] for d in listed]}"
        time.sleep(5)
        listed = stack.ok("dag", "list", "-o", "json").json()["dags"]
    for verb in ("trigger", "runs", "pause"):
        args = ("dag", verb, "no_such_dag")
        result = stack.lakectl(*args)
        assert result.code == 2 and "no DAG 'no_such_dag'" in result.err, result.err
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    for conf in ("{not json", "[1, 2]"):
        result = stack.lakectl("dag", "trigger", DAG_ID, "--conf", conf)
        assert result.code == 2 and "--conf" in result.err, result.err
    refused = stack.lakectl("dag", "trigger", DAG_ID, "--conf", json.dumps({"topic": "no spaces allowed"}))
    assert refused.code == 2 and "refused" in refused.err, refused.err
    down = stack.lakectl("dag", "list", env={"LAKECTL_AIRFLOW__URL": "http://127.0.0.1:9",
                                             "LAKECTL_AIRFLOW__PASSWORD": "x"})
    assert down.code == 3 and "unreachable" in down.err, down.err
