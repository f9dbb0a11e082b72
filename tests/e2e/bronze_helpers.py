"""Shared steps of the bronze tests: set up a topic, run the bronze job, wait for rows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JOB = str(REPO / "flink_jobs" / "bronze" / "job.py")
SCHEMA_V1 = str(REPO / "schemas" / "trade.avsc")
SCHEMA_V2 = str(REPO / "schemas" / "trade_v2.avsc")


def prepare_topic(stack, topic: str, partitions: int = 3) -> None:
    stack.ok("schema", "register", SCHEMA_V1, "--subject", f"{topic}-value")
    stack.ok("topic", "create", topic, "--partitions", str(partitions), "--if-not-exists")


def submit(stack, name: str, topic: str, *extra: str) -> dict:
    return stack.ok("job", "submit", JOB, "--name", name, *extra, "-o", "json", "--", "--topic", topic,
                    timeout=600).json()


@contextmanager
def trades_flowing(stack, topic: str, job_name: str, count: int, rate: int) -> Iterator[dict]:
    """The bronze job ``job_name`` on its own ``topic`` while ``lakectl produce`` sends ``count`` trades
    at ``rate`` per second in the background; yields the submitted job, stops the producer after."""
    prepare_topic(stack, topic)
    job = submit(stack, job_name, topic)
    assert job["state"] == "RUNNING"
    # stderr to a file: a pipe nobody reads fills up and blocks the producer
    log = stack.project / f"produce-{topic}.log"
    with log.open("w") as err:
        producer = subprocess.Popen(
            [sys.executable, "-m", "lakectl", "produce", topic, "--count", str(count), "--rate", str(rate),
             "-o", "json"], cwd=stack.project, env=stack.env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    try:
        yield job
    finally:
        if producer.poll() is None:
            producer.terminate()  # stops early and delivers what it accepted
        try:
            code = producer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            producer.kill()
            tail = log.read_text()[-2000:]
            raise AssertionError(f"lakectl produce did not stop within 60 s of SIGTERM: {tail}") from None
        assert code in (0, 130), f"lakectl produce exited {code}: {log.read_text()[-2000:]}"


def row_counts(stack, table: str) -> dict[str, int]:
    tables = stack.ok("tables", "--layer", "bronze", "-o", "json").json()["tables"]
    return {t["format"]: t["rows"] for t in tables if t["name"] == table}


def wait_for_rows(stack, table: str, expected: int, timeout: float = 240) -> dict[str, int]:
    """Poll until both formats hold ``expected`` rows (or the deadline passes); returns the last counts."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = row_counts(stack, table)
        if counts.get("iceberg") == expected and counts.get("delta") == expected:
            return counts
        if any(v > expected for v in counts.values()):
            return counts  # more than produced: a duplicate, no point in waiting
        time.sleep(2)
    return counts


def wait_for_summaries(summarise, expected: int, timeout: float = 240) -> dict[str, list]:
    """Poll ``summarise()`` (per catalog, a row of figures whose first is the row count) until every catalog has
    at least ``expected`` rows or the deadline passes; returns what it saw last. A query that fails is asked
    again: the Delta table is not there before the sink's first commit."""
    deadline = time.monotonic() + timeout
    summaries: dict[str, list] = {}
    while time.monotonic() < deadline:
        try:
            summaries = summarise()
        except AssertionError:
            time.sleep(2)
            continue
        if all(row[0] >= expected for row in summaries.values()):
            return summaries
        time.sleep(2)
    return summaries


def iceberg_rows(lakehouse, table: str, snapshot_id: int | None = None):
    scan = lakehouse.iceberg_table(f"bronze.{table}").scan(snapshot_id=snapshot_id)
    return scan.to_arrow()


def delta_rows(lakehouse, table: str, version: int | None = None):
    return lakehouse.delta_table("bronze", table, version=version).to_pyarrow_table()


def normalise(record: dict) -> tuple:
    """A trade as comparable values, whatever library decoded it."""
    event_time = record["event_time"]
    if isinstance(event_time, str):
        event_time = datetime.fromisoformat(event_time)
    if event_time.tzinfo is None:  # Bronze keeps event_time as a UTC timestamp without zone
        event_time = event_time.replace(tzinfo=UTC)
    millis = round(event_time.timestamp() * 1000)
    return (record["trade_id"], record["symbol"], Decimal(str(record["price"])).quantize(Decimal("0.000001")),
            int(record["size"]), record["side"], record["exchange"], millis)


def restarts(stack, name: str) -> int:
    return stack.ok("job", "status", name, "-o", "json").json()["restarts"]


def wait_until_recovered(stack, name: str, restarts_before: int, timeout: float = 180) -> int:
    """Until the job has restarted at least once more and all its tasks run again."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        status = stack.lakectl("job", "status", name, "-o", "json")
        last = status.out or status.err
        if status.code == 0:
            data = status.json()
            if (data["restarts"] > restarts_before and data["state"] == "RUNNING"
                    and all(v["status"] == "RUNNING" for v in data["vertices"])):
                return data["restarts"]
        time.sleep(1)
    jobs = stack.lakectl("job", "list", "-o", "json").out
    tm_log = (stack.state_dir / "logs" / "flink-taskmanager.log")
    tail = tm_log.read_text()[-2000:] if tm_log.exists() else "(no TaskManager log)"
    raise AssertionError(f"{name} did not restart and recover within {timeout}s; last status: {last}; "
                         f"active jobs: {jobs}; TaskManager log tail:\n{tail}")


def kill_taskmanager(stack) -> None:
    pid = stack.pid("flink-taskmanager")
    assert pid, "no TaskManager recorded"
    os.kill(pid, signal.SIGKILL)
    time.sleep(1)  # let the process disappear before a new one is started (an immediate restart is fine too)
    stack.ok("up", "flink-taskmanager")


def remove_paths(paths: list[Path]) -> None:
    """What a test's pipeline left in the checkout: its spec, its schema, its generated dbt model folder."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
