"""Kafka Connect: the REST client and `lakectl connect` use cases against Connect-shaped payloads
(httpx.MockTransport), and connector files with placeholders."""

import json
from pathlib import Path

import httpx
import pytest

from lakectl.components.connect import ConnectWorker
from lakectl.errors import CheckFailed, ComponentError, ServiceUnavailable, UsageError
from lakectl.ops import connect
from lakectl.ops.placeholders import Lazy
from tests.unit.routed import routed_transport

PAYLOADS = Path(__file__).parent / "payloads" / "connect"
BASE = "http://connect.test:8083"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def worker(routes: dict) -> tuple[ConnectWorker, list[httpx.Request]]:
    transport, seen = routed_transport(routes, payload("connector_404.json"))
    return ConnectWorker(httpx.Client(base_url=BASE, transport=transport)), seen


def connector_file(tmp_path: Path, data) -> Path:
    path = tmp_path / "c.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


GOOD = {"name": "trades-file", "config": {"connector.class": FILE_SOURCE, "file": "/tmp/trades.jsonl",
                                          "topic": "${topic:-trades}", "tasks.max": 1}}
VALIDATE = ("PUT", f"/connector-plugins/{FILE_SOURCE}/config/validate")
CONFIG = ("GET", "/connectors/trades-file/config")
PUT = ("PUT", "/connectors/trades-file/config")


def test_plugins():
    w, seen = worker({("GET", "/connector-plugins"): (200, payload("plugins.json"))})
    classes = [p["class"] for p in connect.plugins(w)]
    assert FILE_SOURCE in classes
    assert seen[0].url.params["connectorsOnly"] == "true"


def test_list_expands_status():
    w, seen = worker({("GET", "/connectors"): (200, payload("connectors_expand_status.json"))})
    [row] = connect.list_connectors(w)
    assert (row["name"], row["type"], row["state"], row["tasks"][0]["state"]) == \
        ("trades-file", "source", "RUNNING", "RUNNING")
    assert seen[0].url.params["expand"] == "status"


def test_load_fills_placeholders_and_stringifies(tmp_path):
    data = {"name": "pg", "config": {"connector.class": "x.Y", "database.password": "${catalog.password}",
                                     "bootstrap": "${bootstrap_servers}", "snapshot": True, "tasks.max": 1}}
    asked = []

    def password():
        asked.append("password")
        return "s3cret"

    values = Lazy({"catalog.password": password, "bootstrap_servers": lambda: "127.0.0.1:9092",
                   "catalog.user": lambda: pytest.fail("not used, never computed")})
    loaded = connect.load(connector_file(tmp_path, data), values)
    assert loaded.config == {"connector.class": "x.Y", "database.password": "s3cret", "bootstrap": "127.0.0.1:9092",
                             "snapshot": "true", "tasks.max": "1", "name": "pg"}
    assert asked == ["password"]


@pytest.mark.parametrize(("content", "message"), [
    ('{"name": "x", "config": {"connector.class": "${nope}"}}', "unknown placeholder ${nope}"),
    ('{"name": "x", "config": ', "not JSON"),
    ('[1]', '"name"'),
    ('{"name": "x"}', '"config" must be'),
    ('{"name": "x", "config": {"topic": "t"}}', 'no "connector.class"'),
    ('{"name": "x", "config": {"connector.class": "A", "name": "y"}}', "differs"),
    ('{"name": "x", "config": {"connector.class": "A", "t": {"a": 1}}}', "not t"),
])
def test_load_errors_are_usage_errors(tmp_path, content, message):
    with pytest.raises(UsageError, match=None) as info:
        connect.load(connector_file(tmp_path, content), {"known": "1"})
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_load_missing_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        connect.load(tmp_path / "missing.json", {})


def test_deploy_creates_then_unchanged_then_updates(tmp_path):
    loaded = connect.load(connector_file(tmp_path, GOOD), {})
    w, seen = worker({VALIDATE: (200, payload("validate_ok.json")), PUT: (201, payload("config.json"))})
    assert connect.deploy(w, loaded).action == "created"
    assert [r.method for r in seen] == ["PUT", "GET", "PUT"]
    assert json.loads(seen[-1].content)["topic"] == "trades"

    w, seen = worker({VALIDATE: (200, payload("validate_ok.json")), CONFIG: (200, payload("config.json"))})
    assert connect.deploy(w, loaded).action == "unchanged"
    assert [r.method for r in seen] == ["PUT", "GET"]  # validate, read; no write

    changed = connect.load(connector_file(tmp_path, {**GOOD, "config": {**GOOD["config"], "topic": "t2"}}), {})
    w, seen = worker({VALIDATE: (200, payload("validate_ok.json")), CONFIG: (200, payload("config.json")),
                      PUT: (200, payload("config.json"))})
    assert connect.deploy(w, changed).action == "updated"


def test_deploy_refused_config_is_one_line_with_the_workers_words(tmp_path):
    loaded = connect.load(connector_file(tmp_path, GOOD), {})
    w, seen = worker({VALIDATE: (200, payload("validate_errors.json"))})
    with pytest.raises(CheckFailed) as info:
        connect.deploy(w, loaded)
    assert info.value.one_line() == ('kafka connect refused trades-file: topic: Missing required configuration '
                                     '"topic" which has no default value.')
    assert len(seen) == 1  # nothing written


def test_deploy_unknown_class(tmp_path):
    loaded = connect.load(connector_file(tmp_path, {"name": "x", "config": {"connector.class": "org.example.No"}}), {})
    w, _ = worker({("PUT", "/connector-plugins/org.example.No/config/validate"):
                   (400, payload("validate_unknown_class.json"))})
    with pytest.raises(ComponentError) as info:
        connect.deploy(w, loaded)
    assert info.value.exit_code == 1
    assert info.value.one_line().startswith("kafka connect refused x: Failed to find any class that implements")


def test_unknown_class_drops_the_java_exception_and_the_plugin_dump(tmp_path):
    loaded = connect.load(connector_file(tmp_path, {"name": "x", "config": {"connector.class": "org.example.No"}}), {})
    body = json.dumps({"error_code": 500, "message": (
        "org.apache.kafka.connect.runtime.rest.errors.BadRequestException: org.apache.kafka.connect.errors."
        "ConnectException: Failed to find any class that implements Connector and which name matches org.example.No,"
        " available connectors are: PluginDesc{klass=class a.B, name='a.B'}")}).encode()
    w, _ = worker({("PUT", "/connector-plugins/org.example.No/config/validate"): (500, body)})
    with pytest.raises(ComponentError) as info:
        connect.deploy(w, loaded)
    assert info.value.one_line() == ("kafka connect refused x: Failed to find any class that implements Connector and "
                                     "which name matches org.example.No (lakectl connect plugins)")


def test_status_failed_task_and_unknown_connector():
    w, _ = worker({("GET", "/connectors/trades-file/status"): (200, payload("status_failed.json"))})
    data = connect.status(w, "trades-file")
    assert data["tasks"][0]["state"] == "FAILED"
    assert "NoSuchFileException" in data["tasks"][0]["trace"]
    assert "NoSuchFileException" in data["tasks"][0]["reason"] and "\n" not in data["tasks"][0]["reason"]


def test_a_failed_tasks_reason_is_its_first_line_and_root_cause():
    trace = ("org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n"
             "\tat org.apache.kafka.connect.runtime.errors.RetryWithToleranceOperator.execAndHandleError(X.java:1)\n"
             "Caused by: org.apache.kafka.connect.errors.DataException: Failed to serialize\n\tat a.B(C.java:2)\n"
             "Caused by: io.apicurio.registry.rest.client.exception.RuleViolationException: Incompatible artifact\n")
    assert connect.failure_reason(trace) == (
        "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler; caused by "
        "io.apicurio.registry.rest.client.exception.RuleViolationException: Incompatible artifact")
    assert connect.failure_reason("java.lang.IllegalStateException: boom\n\tat a.B(C.java:1)") == (
        "java.lang.IllegalStateException: boom")
    assert connect.failure_reason(None) is None
    w, _ = worker({})
    with pytest.raises(UsageError, match="no connector 'gone'"):
        connect.status(w, "gone")


def test_restart_includes_tasks_and_delete():
    status = ("GET", "/connectors/trades-file/status")
    w, seen = worker({status: (200, payload("status_failed.json")),
                      ("POST", "/connectors/trades-file/restart"): (202, b""),
                      ("DELETE", "/connectors/trades-file"): (204, b"")})
    connect.restart(w, "trades-file")
    assert seen[-1].url.params["includeTasks"] == "true"
    assert connect.delete(w, "trades-file") == {"name": "trades-file", "deleted": True}
    assert seen[-1].method == "DELETE"


def test_unreachable_worker_says_how_to_start_it():
    def refuse(request):
        raise httpx.ConnectError("refused")

    w = ConnectWorker(httpx.Client(base_url=BASE, transport=httpx.MockTransport(refuse)))
    with pytest.raises(ServiceUnavailable) as info:
        w.plugins()
    assert info.value.exit_code == 3
    assert "lakectl up connect" in info.value.one_line()


def test_cli_bad_connector_file_is_one_line_exit_2(run, tmp_path):
    from tests.unit.test_cli_errors import assert_one_line

    path = connector_file(tmp_path, '{"name": "x", "config": {"connector.class": "A", "p": "${no_such}"}}')
    assert_one_line(run("connect", "deploy", str(path), "-o", "json"), 2, "unknown placeholder ${no_such}",
                    "bootstrap_servers")


def test_cli_unreachable_worker_exit_3(run, monkeypatch):
    from tests.unit.test_cli_errors import assert_one_line

    monkeypatch.setenv("LAKECTL_CONNECT__URL", "http://127.0.0.1:9")
    assert_one_line(run("connect", "list"), 3, "kafka connect at http://127.0.0.1:9 is unreachable",
                    "lakectl up connect")


def test_set_args_win_and_are_checked(tmp_path):
    repo_file = Path(__file__).parents[2] / "deploy" / "connect" / "file-source.json"
    values = connect.with_args(Lazy({"bootstrap_servers": lambda: "b:9092"}), ["file=/data/in.jsonl", "topic=t"])
    loaded = connect.load(repo_file, values)
    assert (loaded.name, loaded.config["file"], loaded.config["topic"]) == ("file-source", "/data/in.jsonl", "t")
    with pytest.raises(UsageError, match="unknown placeholder"):
        connect.load(repo_file, {})
    with pytest.raises(UsageError, match="--set expects key=value"):
        connect.with_args({}, ["novalue"])
