"""Bad input: one clear line on stderr, the right exit code, never a traceback."""

import json
import os

import pytest


def assert_one_line(result, code: int, *fragments: str):
    assert result.code == code, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("lakectl: error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


def test_version_json(run):
    result = run("version", "-o", "json")
    assert result.code == 0
    assert json.loads(result.out)["lakectl"]


def test_unknown_service(run):
    assert_one_line(run("up", "nosuch", "--runtime", "native"), 2, "unknown service 'nosuch'", "kafka")


def test_unknown_service_for_logs(run):
    assert_one_line(run("logs", "nosuch"), 2, "unknown service")


def test_bad_runtime_value(run):
    assert_one_line(run("up", "--runtime", "podman"), 2, "--runtime")


def test_bad_output_value(run):
    assert_one_line(run("version", "-o", "yaml"), 2, "yaml")


def test_unknown_option(run):
    assert_one_line(run("status", "--colour"), 2, "--colour")


def test_malformed_toml(run, isolated):
    (isolated / "lakectl.toml").write_text("[profiles.local\n")
    assert_one_line(run("config", "show"), 2, "not valid TOML")


def test_missing_schema_file(run):
    assert_one_line(run("schema", "register", "nope.avsc", "--subject", "x-value"), 2,
                    "schema file nope.avsc does not exist")


def test_schema_file_not_avro(run, isolated):
    (isolated / "bad.avsc").write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "strin"}]}')
    assert_one_line(run("schema", "check", "bad.avsc", "-s", "x-value"), 2, "not a valid Avro schema")


def test_schema_file_not_json(run, isolated):
    (isolated / "bad.avsc").write_text("{nope")
    assert_one_line(run("schema", "check", "bad.avsc", "-s", "x-value"), 2, "not JSON")


def test_topic_config_must_be_key_value(run):
    assert_one_line(run("topic", "create", "t", "--config", "retention.ms"), 2, "key=value")


def test_produce_missing_file(run, monkeypatch):
    # the file is checked before any service is contacted: these point nowhere (exit 3 if they were asked)
    monkeypatch.setenv("LAKECTL_REGISTRY__URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LAKECTL_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert_one_line(run("produce", "trades", "--from-file", "missing.jsonl"), 2,
                    "input file missing.jsonl does not exist")


def test_unreachable_registry_is_exit_3(run, monkeypatch):
    monkeypatch.setenv("LAKECTL_REGISTRY__URL", "http://127.0.0.1:1")
    assert_one_line(run("schema", "list"), 3, "unreachable")


def test_unreachable_broker_is_exit_3_within_timeout(run, monkeypatch):
    import time

    monkeypatch.setenv("LAKECTL_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("LAKECTL_REQUEST_TIMEOUT", "2")
    started = time.monotonic()
    result = run("topic", "list")
    assert time.monotonic() - started < 10
    assert_one_line(result, 3, "did not answer")


def test_config_show_sources_json(run, isolated, monkeypatch):
    (isolated / "lakectl.toml").write_text("[profiles.local]\ntimeout = 42\n")
    monkeypatch.setenv("LAKECTL_REQUEST_TIMEOUT", "3")
    result = run("config", "show", "--sources", "-o", "json")
    assert result.code == 0, result.err
    rows = {r["key"]: r for r in json.loads(result.out)["settings"]}
    assert rows["timeout"]["value"] == 42 and "lakectl.toml" in rows["timeout"]["source"]
    assert rows["request_timeout"]["source"] == "env"
    assert rows["runtime"]["source"] == "default"


def test_secrets_are_masked(run, monkeypatch):
    monkeypatch.setenv("LAKECTL_REGISTRY__PASSWORD", "hunter2")
    result = run("config", "show", "-o", "json")
    assert "hunter2" not in result.out
    assert "********" in result.out


@pytest.mark.parametrize("debug", [True, False])
def test_debug_shows_traceback_only_when_asked(run, monkeypatch, debug):
    monkeypatch.setenv("LAKECTL_REGISTRY__URL", "http://127.0.0.1:1")
    args = ["--debug"] if debug else []
    result = run(*args, "schema", "list")
    assert result.code == 3
    assert ("Traceback" in result.err) is debug


def test_grafana_is_compose_only(run, monkeypatch):
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    for args in (("open", "grafana"), ("up", "grafana"), ("logs", "grafana"), ("down", "grafana")):
        assert_one_line(run(*args), 2, "grafana runs only in the compose runtime", "no package registry serves")


@pytest.mark.parametrize("kind", ["directory", "empty", "binary", "invalid TOML", "invalid UTF-8", "group-readable",
                                  "world-readable"])
def test_secrets_file_problems_are_one_line(run, isolated, monkeypatch, kind):
    secrets = isolated / "secrets.toml"
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(secrets))
    if kind == "directory":
        secrets.mkdir()
    else:
        content = {"empty": b"", "binary": bytes(range(256)), "invalid TOML": b"[profiles.local\n",
                   "invalid UTF-8": b'[profiles.local.registry]\npassword = "\xff"\n'}.get(
            kind, b'[profiles.local.registry]\npassword = "hunter2"\n')
        secrets.write_bytes(content)
        secrets.chmod({"group-readable": 0o640, "world-readable": 0o644}.get(kind, 0o600))
    result = run("config", "show")
    if kind == "empty":  # valid TOML without secrets
        assert result.code == 0, result.err
        return
    fragment = {"directory": "is not a file", "binary": "not UTF-8 text", "invalid TOML": "not valid TOML",
                "invalid UTF-8": "not UTF-8 text"}.get(kind, "readable by others")
    assert_one_line(result, 2, fragment, str(secrets))
    assert "hunter2" not in result.out + result.err


@pytest.mark.parametrize("args", [(), ("topic",), ("pipeline",)])
def test_a_group_without_its_command_shows_its_help_and_one_line(run, args):
    result = run(*args)
    assert_one_line(result, 2, "Missing command", f"see '{' '.join(('lakectl', *args))} --help'")
    assert "Usage: lakectl" in result.out


def test_a_value_with_newlines_stays_one_line(run):
    assert_one_line(run("version", "-o", "a\nb\r\nc"), 2, "is not one of")


@pytest.mark.parametrize("args", [("metrics", "-q", "up\udcff"), ("topic", "describe", "t\udcff"),
                                  ("query", "SELECT '\udcff'"), ("schema", "get", "--version=\udcff", "s")])
def test_an_argument_that_is_not_utf8_is_one_line(run, args):
    # bytes of argv that are not UTF-8 (surrogate escapes): 'unexpected UnicodeEncodeError' in the clients before
    assert_one_line(run(*args), 2, "is not UTF-8 text", "\\xff")


def test_an_existing_file_may_have_a_name_that_is_not_utf8(run, isolated):
    name = os.fsdecode(b"caf\xe9.avsc")
    (isolated / name).write_text("{nope")
    assert_one_line(run("schema", "check", name, "-s", "x-value"), 2, "not JSON")
