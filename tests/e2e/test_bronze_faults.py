"""Exactly-once under faults: TaskManager SIGKILLed twice and Kafka restarted while trades flow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.compute as pc
import pytest

from tests.e2e.bronze_helpers import delta_rows, iceberg_rows, prepare_topic, submit, wait_for_rows
from tests.e2e.conftest import cancel_active_jobs

pytestmark = pytest.mark.e2e

TOPIC = "trades_faults"
# steady trades until the test stops the producer (SIGTERM) after the last fault: the faults land
# mid-stream however long recovery takes, and the producer's summary says how many were delivered
RATE = 5_000
MAX_COUNT = RATE * 900


def _restarts(stack, name: str) -> int:
    return stack.ok("job", "status", name, "-o", "json").json()["restarts"]


def _wait_until_recovered(stack, name: str, restarts_before: int, timeout: float = 180) -> int:
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


def _kill_taskmanager(stack) -> None:
    pid = stack.pid("flink-taskmanager")
    assert pid, "no TaskManager recorded"
    os.kill(pid, signal.SIGKILL)
    time.sleep(1)  # let the process disappear before a new one is started (an immediate restart is fine too)
    stack.ok("up", "flink-taskmanager")


def test_exactly_once_with_taskmanager_kills_and_a_kafka_restart(stack):
    cancel_active_jobs(stack)  # this job alone on the cluster: a restart must not wait for another job's slots
    prepare_topic(stack, TOPIC)
    submit(stack, "bronze_faults", TOPIC)
    producer = subprocess.Popen(
        [sys.executable, "-m", "lakectl", "produce", TOPIC, "--count", str(MAX_COUNT), "--rate", str(RATE),
         "-o", "json"],
        cwd=stack.project, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(10)
        restarts = _restarts(stack, "bronze_faults")
        _kill_taskmanager(stack)                       # fault 1: TaskManager dies mid-stream
        restarts = _wait_until_recovered(stack, "bronze_faults", restarts)
        stack.ok("down", "kafka")                      # fault 2: the broker restarts
        stack.ok("up", "kafka")
        time.sleep(5)
        restarts = _restarts(stack, "bronze_faults")
        assert producer.poll() is None, "every fault must land while trades are still being produced"
        _kill_taskmanager(stack)                       # fault 3: TaskManager dies again
        _wait_until_recovered(stack, "bronze_faults", restarts)
        time.sleep(5)                                  # trades into the recovered job, then stop producing
        assert producer.poll() is None, "the producer must still be running when it is stopped"
        producer.send_signal(signal.SIGTERM)           # stops early, delivers what it accepted, exit 130
        out, err = producer.communicate(timeout=300)
    finally:
        if producer.poll() is None:
            producer.kill()
    assert producer.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["rejected"] == 0 and summary["failed"] == 0
    sent = summary["sent"]
    assert RATE * 20 < sent < MAX_COUNT, summary

    counts = wait_for_rows(stack, TOPIC, sent, timeout=420)
    assert counts == {"iceberg": sent, "delta": sent}
    lakehouse = stack.lakehouse()
    for table in (iceberg_rows(lakehouse, TOPIC), delta_rows(lakehouse, TOPIC)):
        ids = table.column("trade_id")
        assert table.num_rows == sent and len(pc.unique(ids)) == sent
