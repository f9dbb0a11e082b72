"""The context: a profile's remote settings win; otherwise the local stack's endpoints
(runtime/endpoints.py) answer. Nothing here contacts a service."""

from __future__ import annotations

import json

import pytest

from lakectl.context import LakeContext


@pytest.fixture
def local(monkeypatch, isolated):
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    monkeypatch.setenv("LAKECTL_PORTS", json.dumps({"trino": 28080, "prometheus": 39090, "flink-jobmanager": 38081,
                                                    "schema-registry": 38085, "postgres": 35432}))
    return LakeContext()


def test_local_endpoints_follow_the_stack_ports(local):
    assert local.trino_url() == "http://127.0.0.1:28080"
    assert local.prometheus_url() == "http://127.0.0.1:39090"
    assert local.flink_url() == "http://127.0.0.1:38081"
    assert local.registry_url().startswith("http://127.0.0.1:38085")
    assert local.trino_endpoint().port == 28080


def test_a_profile_url_wins_over_the_local_stack(local, monkeypatch):
    monkeypatch.setenv("LAKECTL_TRINO__URL", "https://trino.example.internal")
    monkeypatch.setenv("LAKECTL_PROMETHEUS__URL", "https://prom.example.internal")
    remote = LakeContext()
    assert remote.trino_url() == "https://trino.example.internal"
    assert remote.prometheus_url() == "https://prom.example.internal"
    assert remote.flink_url() == "http://127.0.0.1:38081"  # not set: still the local one


def test_the_local_catalog_and_object_store_use_the_stacks_generated_secrets(local, isolated):
    local.runtime.stack.ensure_secrets()  # what `lakectl up` does first
    catalog = local.catalog()
    assert catalog["jdbc_url"].startswith("jdbc:postgresql://127.0.0.1:35432/")
    assert catalog["user"] and catalog["password"] and catalog["warehouse"].endswith("/iceberg")
    s3 = local.s3()
    assert s3.access_key and s3.secret_key and s3.endpoint.startswith("http://127.0.0.1:")
    stored = json.loads((isolated / ".lakectl" / "secrets.json").read_text())
    assert catalog["password"] in stored.values() and s3.secret_key in stored.values()


def test_a_job_cluster_is_built_without_contacting_flink(local, isolated):
    cluster = local.job_cluster()  # no stack was ever started here: building it reads no secret
    assert not (isolated / ".lakectl" / "secrets.json").exists()
    local.runtime.stack.ensure_secrets()  # the connections are read on first use, from the started stack's secrets
    assert cluster.state_dir == local.state_dir and cluster.parallelism >= 1
    assert cluster.connections.registry_url == local.registry_url()
    assert cluster.history_path("bronze_trades").name == "bronze_trades.json"


def test_a_never_started_stack_has_no_secrets_to_read(local, isolated):
    from lakectl.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="never started"):
        local.catalog()
    assert not (isolated / ".lakectl" / "secrets.json").exists()  # reading never writes


def test_the_dbt_target_keeps_its_files_under_the_state_dir(local):
    target = local.dbt_target()
    assert target.state_dir == local.state_dir / "dbt" and target.endpoint.url == "http://127.0.0.1:28080"
