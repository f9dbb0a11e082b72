"""up / status / logs / down on the real native services."""

import time

import pytest

from tests.conftest import TEST_PORTS

pytestmark = pytest.mark.integration


def test_status_reports_every_service_healthy(stack):
    from lakectl.runtime.service_table import for_runtime

    services = {s["name"]: s for s in stack.ok("status", "-o", "json").json()["services"]}
    assert set(services) == set(for_runtime("native"))  # Grafana runs only in compose
    for service in services.values():
        assert service["state"] == "running" and service["healthy"] is True, service
        assert "127.0.0.1" in service["url"]
        assert service["pid"] and service["rss_mb"] > 0
    assert services["kafka"]["url"] == f"127.0.0.1:{TEST_PORTS['kafka']}"
    assert services["schema-registry"]["url"].endswith(f":{TEST_PORTS['schema-registry']}/apis/ccompat/v7")
    assert services["object-store"]["url"] == f"http://127.0.0.1:{TEST_PORTS['object-store']}"
    assert services["flink-jobmanager"]["url"] == f"http://127.0.0.1:{TEST_PORTS['flink-jobmanager']}"
    assert services["trino"]["url"] == f"http://127.0.0.1:{TEST_PORTS['trino']}"
    assert services["prometheus"]["url"] == f"http://127.0.0.1:{TEST_PORTS['prometheus']}"


def test_every_service_listens_on_loopback_only(stack):
    """Native services bind 127.0.0.1, Flink's Prometheus reporters included (upstream's listens on
    every interface; lakectl ships one that takes a host)."""
    import json

    import psutil

    for record in (stack.state_dir / "run").glob("*.json"):
        root = psutil.Process(json.loads(record.read_text())["pid"])
        for proc in [root, *root.children(recursive=True)]:
            for conn in proc.net_connections(kind="inet"):
                if conn.status != psutil.CONN_LISTEN:
                    continue
                assert conn.laddr.ip in ("127.0.0.1", "::ffff:127.0.0.1"), (record.stem, conn.laddr)


def test_flink_prometheus_reporters_serve_metrics(stack):
    import httpx

    for role in ("jobmanager", "taskmanager"):
        port = TEST_PORTS[f"flink-{role}.metrics"]
        assert f"flink_{role}_" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_object_store_bucket_and_private_credentials(stack):
    secrets = stack.state_dir / "secrets.json"
    assert secrets.stat().st_mode & 0o777 == 0o600
    config = stack.state_dir / "native" / "object-store" / "s3proxy.conf"
    assert config.stat().st_mode & 0o777 == 0o600
    s3 = stack.lakehouse().s3
    from pyarrow import fs

    assert s3.filesystem().get_file_info(s3.bucket).type == fs.FileType.Directory
    wrong = type(s3)(s3.endpoint, s3.bucket, s3.access_key, "not-the-secret")
    with pytest.raises(OSError):
        wrong.filesystem().get_file_info(fs.FileSelector(s3.bucket))


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
