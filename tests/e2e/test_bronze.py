"""Kafka -> Flink -> Bronze in Iceberg and Delta: exact contents, time travel, job lifecycle, bad input."""

from __future__ import annotations

import json
import time

import pyarrow.compute as pc
import pytest

from tests.e2e.bronze_helpers import (
    JOB,
    REPO,
    SCHEMA_V2,
    delta_rows,
    iceberg_rows,
    normalise,
    prepare_topic,
    row_counts,
    submit,
    wait_for_rows,
)

pytestmark = pytest.mark.e2e

TOPIC = "trades_e2e"
JOB_NAME = "bronze_e2e"
FIRST = 20_000


@pytest.fixture(scope="module")
def bronze(stack):
    """The topic with FIRST trades in it and the bronze job running on it."""
    prepare_topic(stack, TOPIC)
    stack.ok("produce", TOPIC, "--count", str(FIRST), "-o", "json")
    job = submit(stack, JOB_NAME, TOPIC)
    assert job["state"] == "RUNNING"
    counts = wait_for_rows(stack, TOPIC, FIRST)
    assert counts == {"iceberg": FIRST, "delta": FIRST}
    return job


def test_bronze_holds_exactly_what_was_produced(stack, bronze):
    produced = {r["trade_id"]: normalise(r) for r in stack.ok(
        "consume", TOPIC, "--from-beginning", "--count", str(FIRST), "--timeout", "60", "-o", "json").json_lines()}
    assert len(produced) == FIRST
    lakehouse = stack.lakehouse()
    for table in (iceberg_rows(lakehouse, TOPIC), delta_rows(lakehouse, TOPIC)):
        assert table.num_rows == FIRST
        assert len(pc.unique(table["trade_id"])) == FIRST
        landed = {r["trade_id"]: normalise(r) for r in table.to_pylist()}
        assert landed == produced
        # lineage columns: every row knows where in Kafka it came from and when it arrived
        assert table["kafka_offset"].null_count == 0 and table["ingested_at"].null_count == 0
        assert set(pc.unique(table["kafka_partition"]).to_pylist()) == {0, 1, 2}


def test_time_travel_shows_the_old_row_count(stack, bronze):
    lakehouse = stack.lakehouse()
    snapshot = lakehouse.iceberg_table(f"bronze.{TOPIC}").current_snapshot().snapshot_id
    version = lakehouse.delta_table("bronze", TOPIC).version()
    before = wait_for_rows(stack, TOPIC, FIRST)["iceberg"]
    stack.ok("produce", TOPIC, "--count", "5000")
    assert wait_for_rows(stack, TOPIC, before + 5000) == {"iceberg": before + 5000, "delta": before + 5000}
    lakehouse = stack.lakehouse()
    assert iceberg_rows(lakehouse, TOPIC, snapshot_id=snapshot).num_rows == before
    assert delta_rows(lakehouse, TOPIC, version=version).num_rows == before
    assert iceberg_rows(lakehouse, TOPIC).num_rows == before + 5000


def test_second_submit_of_the_same_name_is_refused(stack, bronze):
    again = stack.lakectl("job", "submit", JOB, "--name", JOB_NAME, "--", "--topic", TOPIC)
    assert again.code == 2
    assert "already running" in again.err and "--replace" in again.err
    assert len(again.err.strip().splitlines()) == 1


def test_list_status_savepoint_cancel_and_resume_without_loss_or_duplicates(stack, bronze):
    listed = stack.ok("job", "list", "-o", "json").json()["jobs"]
    assert any(j["name"] == JOB_NAME and j["state"] == "RUNNING" for j in listed)
    status = stack.ok("job", "status", JOB_NAME, "-o", "json").json()
    assert status["state"] == "RUNNING" and status["checkpoints"]["completed"] >= 1

    taken = stack.ok("job", "savepoint", JOB_NAME, "-o", "json").json()
    assert taken["savepoint"].startswith("s3://")

    start = row_counts(stack, TOPIC)["iceberg"]
    stopped = stack.ok("job", "cancel", JOB_NAME, "--savepoint", "-o", "json").json()
    assert stopped["state"] == "FINISHED" and stopped["savepoint"].startswith("s3://")
    # trades produced while the job is down are picked up after the resume, once
    stack.ok("produce", TOPIC, "--count", "3000")
    resumed = submit(stack, JOB_NAME, TOPIC, "--from-savepoint", stopped["savepoint"])
    assert resumed["job_id"] != bronze["job_id"]
    expected = start + 3000
    assert wait_for_rows(stack, TOPIC, expected) == {"iceberg": expected, "delta": expected}
    lakehouse = stack.lakehouse()
    for table in (iceberg_rows(lakehouse, TOPIC), delta_rows(lakehouse, TOPIC)):
        assert len(pc.unique(table["trade_id"])) == expected


def test_replace_stops_the_old_job_with_a_savepoint(stack, bronze):
    current = stack.ok("job", "list", "-o", "json").json()["jobs"]
    old = next(j for j in current if j["name"] == JOB_NAME)
    replaced = submit(stack, JOB_NAME, TOPIC, "--replace")
    assert replaced["replaced"] == old["job_id"] and replaced["from_savepoint"].startswith("s3://")
    states = {j["job_id"]: j["state"] for j in stack.ok("job", "list", "--all", "-o", "json").json()["jobs"]}
    assert states[old["job_id"]] == "FINISHED" and states[replaced["job_id"]] == "RUNNING"


# -- bad input ------------------------------------------------------------------------------
def test_missing_job_file(stack):
    result = stack.lakectl("job", "submit", "no/such/job.py")
    assert result.code == 2
    assert result.err.strip() == "lakectl: error: job file no/such/job.py does not exist"


def test_syntax_error_in_the_job(stack, tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("from pyflink.table import TableEnvironment\n\ndef main(:\n    pass\n")
    result = stack.lakectl("job", "submit", str(bad))
    assert result.code == 2
    assert "broken.py:3: SyntaxError" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_job_that_fails_on_the_cluster(stack, tmp_path):
    bad = tmp_path / "fails.py"
    bad.write_text("raise RuntimeError('no such table: lakehouse.bronze.nothing')\n")
    result = stack.lakectl("job", "submit", str(bad))
    assert result.code == 1
    assert "RuntimeError: no such table: lakehouse.bronze.nothing" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_unreachable_jobmanager(stack):
    result = stack.lakectl("job", "list", env={"LAKECTL_FLINK__URL": "http://127.0.0.1:1"})
    assert result.code == 3
    assert "flink at http://127.0.0.1:1 is unreachable" in result.err
    assert len(result.err.strip().splitlines()) == 1


# -- SQL jobs through the SQL Gateway ------------------------------------------------------------
def test_sql_job_runs_and_writes_iceberg(stack):
    job = REPO / "flink_jobs" / "heartbeat" / "job.sql"
    started = stack.ok("job", "submit", str(job), "-o", "json", "--", "rows_per_second=20").json()
    assert started["name"] == "heartbeat" and started["state"] == "RUNNING"
    deadline = time.monotonic() + 120
    rows = 0
    while time.monotonic() < deadline and rows == 0:
        tables = stack.ok("tables", "--format", "iceberg", "-o", "json").json()["tables"]
        rows = next((t["rows"] for t in tables if t["name"] == "heartbeat"), 0)
        time.sleep(2)
    assert rows > 0
    assert stack.ok("job", "cancel", "heartbeat", "-o", "json").json()["state"] == "CANCELED"


def test_sql_job_with_an_unknown_placeholder(stack, tmp_path):
    script = tmp_path / "bad.sql"
    script.write_text("INSERT INTO x SELECT '${no_such_key}';\n")
    result = stack.lakectl("job", "submit", str(script))
    assert result.code == 2 and "unknown placeholder ${no_such_key}" in result.err


def test_sql_job_with_an_error(stack, tmp_path):
    script = tmp_path / "wrong.sql"
    script.write_text("INSERT INTO no_such_table SELECT 1;\n")
    result = stack.lakectl("job", "submit", str(script))
    assert result.code == 1
    assert "no_such_table" in result.err and len(result.err.strip().splitlines()) == 1


def test_schema_evolution_mid_stream(stack, tmp_path):
    """v2 (a new optional field) registered while the job runs: v1 and v2 records keep landing
    (projected onto the job's reader schema); `--replace` picks up v2 and the tables gain the column."""
    topic, name = "trades_evolve", "bronze_evolve"
    prepare_topic(stack, topic)
    submit(stack, name, topic)
    stack.ok("produce", topic, "--count", "2000")
    stack.ok("schema", "register", SCHEMA_V2, "--subject", f"{topic}-value")
    stack.ok("produce", topic, "--count", "2000")  # written with v2 now
    assert wait_for_rows(stack, topic, 4000) == {"iceberg": 4000, "delta": 4000}
    assert stack.ok("job", "status", name, "-o", "json").json()["state"] == "RUNNING"

    submit(stack, name, topic, "--replace")
    with_conditions = tmp_path / "v2.jsonl"
    with_conditions.write_text("".join(
        json.dumps({"trade_id": f"evolve-{i}", "symbol": "AAPL", "price": "190.5", "size": 100, "side": "BUY",
                    "exchange": "XNAS", "event_time": "2026-11-26T12:00:00Z", "conditions": "@ F"}) + "\n"
        for i in range(100)))
    stack.ok("produce", topic, "--from-file", str(with_conditions))
    assert wait_for_rows(stack, topic, 4100) == {"iceberg": 4100, "delta": 4100}
    lakehouse = stack.lakehouse()
    for table in (iceberg_rows(lakehouse, topic), delta_rows(lakehouse, topic)):
        assert "conditions" in table.column_names
        assert len(pc.unique(table["trade_id"])) == 4100
        landed = table.filter(pc.starts_with(table["trade_id"], "evolve-"))
        assert landed.num_rows == 100 and set(landed["conditions"].to_pylist()) == {"@ F"}
