"""The Kafka Connect worker of the stack (`lakectl up connect`) and `lakectl connect` against it: plugins, a file
source putting exactly the file's lines on a topic, idempotent deploys, status, restart, delete, and bad input
(a config the worker refuses, a connector class no plugin has, the worker down) as one line each."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_PORTS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FILE_SOURCE = REPO / "deploy" / "connect" / "file-source.json"
LINES = 500


def _one_line(done) -> str:
    assert "Traceback" not in done.err
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lakectl: error:"), done.err
    return lines[0]


def _wait(check, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _state(stack, name: str) -> tuple[str, list[str]]:
    data = stack.lakectl("connect", "status", name, "-o", "json")
    if data.code not in (0, 1) or not data.out.strip():
        return "", []
    status = data.json()
    return status["state"], [t["state"] for t in status["tasks"]]


def test_up_connect_is_healthy_on_its_port(stack):
    started = stack.ok("up", "connect", "-o", "json", timeout=600).json()
    services = {s["name"]: s for s in started["services"]}
    assert services["connect"]["healthy"] is True and services["kafka"]["healthy"] is True
    assert services["connect"]["url"] == f"http://127.0.0.1:{TEST_PORTS['connect']}"
    config = (stack.state_dir / "native" / "connect" / "config" / "connect-distributed.properties").read_text()
    assert f"listeners=http://127.0.0.1:{TEST_PORTS['connect']}" in config
    topics = {t["name"] for t in stack.ok("topic", "list", "-o", "json").json()["topics"]}
    assert {"lakectl-connect-configs", "lakectl-connect-offsets", "lakectl-connect-status"} <= topics
    offsets = stack.ok("topic", "describe", "lakectl-connect-offsets", "-o", "json").json()
    assert offsets["config"]["cleanup.policy"] == "compact"


def test_plugins_include_the_file_source_and_debeziums_postgres_connector(stack):
    plugins = {p["class"] for p in stack.ok("connect", "plugins", "-o", "json").json()["plugins"]}
    assert "org.apache.kafka.connect.file.FileStreamSourceConnector" in plugins
    assert "io.debezium.connector.postgresql.PostgresConnector" in plugins


def test_prometheus_scrapes_the_workers_jmx_exporter(stack):
    def scraped() -> bool:
        data = stack.ok("metrics", "--query", 'up{job="connect"}', "-o", "json").json()["result"]
        return bool(data) and float(data[0]["value"]) == 1

    _wait(scraped, 60, "Prometheus scraping connect")
    workers = stack.ok("metrics", "--query", "kafka_connect_worker_connector_count", "-o", "json").json()["result"]
    assert workers and workers[0]["metric"]["job"] == "connect"


def test_a_file_source_puts_every_line_on_the_topic_once(stack, tmp_path):
    topic = "connect-file-lines"
    stack.ok("topic", "create", topic, "--if-not-exists")
    source = tmp_path / "lines.txt"
    lines = [f"line {i} {'x' * (i % 7)}" for i in range(LINES)]
    source.write_text("\n".join(lines) + "\n")
    args = ("connect", "deploy", str(FILE_SOURCE), "--set", f"file={source}", "--set", f"topic={topic}", "-o", "json")
    assert stack.ok(*args).json() == {"name": "file-source", "action": "created"}
    assert stack.ok(*args).json()["action"] == "unchanged"

    _wait(lambda: stack.ok("topic", "describe", topic, "-o", "json").json()["messages"] >= LINES, 90,
          f"{LINES} records on {topic}")
    records = stack.ok("consume", topic, "--from-beginning", "--timeout", "3", "-o", "json").json_lines()
    assert records == lines  # exactly the file's lines, in order, once each

    _wait(lambda: _state(stack, "file-source") == ("RUNNING", ["RUNNING"]), 60, "file-source RUNNING")
    listed = {c["name"]: c for c in stack.ok("connect", "list", "-o", "json").json()["connectors"]}
    assert listed["file-source"]["state"] == "RUNNING" and listed["file-source"]["type"] == "source"

    assert stack.ok("connect", "restart", "file-source", "-o", "json").json()["restarted"] is True
    _wait(lambda: _state(stack, "file-source") == ("RUNNING", ["RUNNING"]), 60, "file-source RUNNING again")

    assert stack.ok("connect", "delete", "file-source", "-o", "json").json()["deleted"] is True
    _wait(lambda: "file-source" not in {c["name"] for c in
                                        stack.ok("connect", "list", "-o", "json").json()["connectors"]}, 30,
          "file-source gone")
    missing = stack.lakectl("connect", "status", "file-source")
    assert missing.code == 2 and "no connector 'file-source'" in _one_line(missing)


def test_a_config_the_worker_refuses_is_one_line_with_its_words(stack, tmp_path):
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"name": "typo-source", "config": {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "file": str(tmp_path / "none.txt"), "topci": "t"}}))
    refused = stack.lakectl("connect", "deploy", str(typo))
    assert refused.code == 1
    line = _one_line(refused)
    assert "refused typo-source" in line and 'Missing required configuration "topic"' in line

    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"name": "many-tasks", "config": {
        "connector.class": "FileStreamSource", "file": "/tmp/x", "topic": "t", "tasks.max": "many"}}))
    refused = stack.lakectl("connect", "deploy", str(tasks))
    assert refused.code == 1 and "tasks.max" in _one_line(refused)
    assert "many-tasks" not in stack.ok("connect", "list").out


def test_a_connector_class_no_plugin_has_is_one_line(stack, tmp_path):
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"name": "nowhere", "config": {"connector.class": "com.example.NoSuchConnector"}}))
    refused = stack.lakectl("connect", "deploy", str(unknown))
    assert refused.code == 1
    assert "com.example.NoSuchConnector" in _one_line(refused)


def test_the_worker_down_is_unavailable_exit_3(stack):
    stack.ok("down", "connect")
    try:
        status = {s["name"]: s for s in stack.lakectl("status", "-o", "json").json()["services"]}
        assert status["connect"]["state"] == "not-started" and status["kafka"]["healthy"] is True
        down = stack.lakectl("connect", "list")
        assert down.code == 3
        assert "lakectl up connect" in _one_line(down)
    finally:
        stack.ok("up", "connect", timeout=600)
    assert stack.ok("connect", "list", "-o", "json").json()["connectors"] is not None
