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

pytestmark = pytest.mark.e2e

TOPIC = "trades_faults"
COUNT = 500_000
RATE = 8_000  # steady, ~60 s of producing: the faults land mid-stream


def _wait_until_running(stack, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = stack.lakectl("job", "status", name, "-o", "json")
        if status.code == 0:
            data = status.json()
            if data["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in data["vertices"]):
                return
        time.sleep(1)
    raise AssertionError(f"{name} not running again after {timeout}s")


def _kill_taskmanager(stack) -> None:
    pid = stack.pid("flink-taskmanager")
    assert pid, "no TaskManager recorded"
    os.kill(pid, signal.SIGKILL)
    time.sleep(1)  # let the process disappear before a new one is started (an immediate restart is fine too)
    stack.ok("up", "flink-taskmanager")


def test_exactly_once_with_taskmanager_kills_and_a_kafka_restart(stack):
    prepare_topic(stack, TOPIC)
    submit(stack, "bronze_faults", TOPIC)
    producer = subprocess.Popen(
        [sys.executable, "-m", "lakectl", "produce", TOPIC, "--count", str(COUNT), "--rate", str(RATE), "-o", "json"],
        cwd=stack.project, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(10)
        _kill_taskmanager(stack)                       # fault 1: TaskManager dies mid-stream
        _wait_until_running(stack, "bronze_faults")
        stack.ok("down", "kafka")                      # fault 2: the broker restarts
        stack.ok("up", "kafka")
        _wait_until_running(stack, "bronze_faults")
        _kill_taskmanager(stack)                       # fault 3: TaskManager dies again
        out, err = producer.communicate(timeout=900)
    finally:
        if producer.poll() is None:
            producer.kill()
    assert producer.returncode == 0, err
    summary = json.loads(out)
    assert summary["sent"] == COUNT and summary["rejected"] == 0

    counts = wait_for_rows(stack, TOPIC, COUNT, timeout=420)
    assert counts == {"iceberg": COUNT, "delta": COUNT}
    lakehouse = stack.lakehouse()
    for table in (iceberg_rows(lakehouse, TOPIC), delta_rows(lakehouse, TOPIC)):
        ids = table.column("trade_id")
        assert table.num_rows == COUNT and len(pc.unique(ids)) == COUNT
