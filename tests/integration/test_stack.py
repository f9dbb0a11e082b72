"""up / status / logs / down on the real native services."""

import time

import pytest

pytestmark = pytest.mark.integration


def test_status_reports_every_service_healthy(stack):
    services = {s["name"]: s for s in stack.ok("status", "-o", "json").json()["services"]}
    assert set(services) == {"postgres", "kafka", "schema-registry"}
    for service in services.values():
        assert service["state"] == "running" and service["healthy"] is True, service
        assert "127.0.0.1" in service["url"]
        assert service["pid"] and service["rss_mb"] > 0
    assert services["kafka"]["url"] == "127.0.0.1:29092"
    assert services["schema-registry"]["url"].endswith(":28085/apis/ccompat/v7")


def test_up_twice_is_harmless(stack):
    before = sorted(stack.recorded_pids())
    started = time.monotonic()
    again = stack.ok("up", "-o", "json").json()
    assert time.monotonic() - started < 30
    assert all(s["healthy"] for s in again["services"])
    assert sorted(stack.recorded_pids()) == before


def test_logs_tail(stack):
    result = stack.ok("logs", "kafka", "--tail", "5")
    assert 0 < len(result.out.splitlines()) <= 5
    lines = stack.ok("logs", "schema-registry", "--tail", "3", "-o", "json").json_lines()
    assert len(lines) == 3 and lines[0]["service"] == "schema-registry"


def test_doctor_passes(stack):
    checks = stack.ok("doctor", "-o", "json").json()
    assert checks["ok"], checks


def test_registry_restart_keeps_schemas(stack):
    stack.ok("schema", "register", str(_schema("trade.avsc")),
             "--subject", "restart-value")
    before = stack.ok("schema", "get", "restart-value", "-o", "json").json()
    stack.ok("down", "schema-registry")
    status = {s["name"]: s for s in stack.lakectl("status", "-o", "json").json()["services"]}
    assert status["schema-registry"]["state"] == "not-started"
    assert status["kafka"]["healthy"] is True  # only the registry was stopped
    assert stack.lakectl("schema", "list").code == 3  # down means unavailable
    stack.ok("up", "schema-registry")
    after = stack.ok("schema", "get", "restart-value", "-o", "json").json()
    assert (after["id"], after["version"], after["schema"]) == (before["id"], before["version"], before["schema"])


def _schema(name):
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "schemas" / name
