"""The Kafka Connect worker as a service: its spec, worker config, plugin folders and place in the stack
(no JVM started here)."""

from __future__ import annotations

import json

import pytest

from lakectl.errors import ConfigError, UsageError
from lakectl.runtime import versions
from lakectl.runtime.base import StackContext
from lakectl.runtime.compose_file import profiles, service
from lakectl.runtime.service_table import all_services, for_runtime
from lakectl.runtime.services import connect
from lakectl.settings import load_settings


def _stack(kind="native") -> StackContext:
    return StackContext(load_settings(), kind)


def test_spec_runs_the_brokers_kafka_after_kafka_on_its_own_ports(isolated):
    spec = all_services()["connect"]
    assert spec.depends_on == ("kafka",) and spec.version == versions.KAFKA and spec.java == (17, None)
    # 8083 is the SQL Gateway's: every port of the stack is distinct
    ports = [port for s in for_runtime("native").values() for port in s.ports.values()]
    assert len(ports) == len(set(ports))
    assert spec.url(_stack()) == "http://127.0.0.1:8084" and spec.remote_url == "connect.url"
    assert "/health" in spec.probe(_stack()).description


def test_worker_config_binds_loopback_and_names_its_internal_topics(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("LAKECTL_PORTS", json.dumps({"connect": 28084, "kafka": 29092}))
    props = connect.worker_properties(_stack(), tmp_path / "plugins")
    assert props["listeners"] == "http://127.0.0.1:28084" and props["rest.advertised.host.name"] == "127.0.0.1"
    assert props["bootstrap.servers"] == "127.0.0.1:29092"
    assert (props["config.storage.topic"], props["offset.storage.topic"], props["status.storage.topic"]) == (
        "lakectl-connect-configs", "lakectl-connect-offsets", "lakectl-connect-status")
    assert {props[f"{t}.storage.replication.factor"] for t in ("config", "offset", "status")} == {1}
    assert props["plugin.path"] == tmp_path / "plugins"


def test_plugins_are_debezium_postgres_and_the_settings_extra_ones(isolated, monkeypatch):
    assert connect.plugin_coordinates(_stack()) == [f"io.debezium:debezium-connector-postgres:{versions.DEBEZIUM}"]
    monkeypatch.setenv("LAKECTL_CONNECT__PLUGINS", '["io.debezium:debezium-connector-mysql:3.6.1.Final"]')
    assert connect.plugin_coordinates(_stack())[-1] == "io.debezium:debezium-connector-mysql:3.6.1.Final"
    assert connect.plugin_folder_name("io.debezium:debezium-connector-mysql:3.6.1.Final") == (
        "debezium-connector-mysql-3.6.1.Final")
    with pytest.raises(UsageError):
        connect.plugin_folder_name("io.debezium:../../x")


def test_a_plugin_setting_that_is_not_coordinates_is_refused(isolated, monkeypatch):
    monkeypatch.setenv("LAKECTL_CONNECT__PLUGINS", '["debezium-connector-mysql"]')
    with pytest.raises(ConfigError, match="group:artifact:version"):
        load_settings()


def test_plugin_folders_exclude_kafkas_own_jars():
    assert connect.PLUGIN_EXCLUDES == ("org.apache.kafka:*",)


def test_optional_not_in_a_plain_up_in_either_runtime_and_under_a_compose_profile(isolated):
    from lakectl.runtime.compose import ComposeRuntime
    from lakectl.runtime.native.runtime import NativeRuntime

    native = NativeRuntime(_stack(), for_runtime("native"))
    assert "connect" not in native.default_services() and "kafka" in native.default_services()
    compose = ComposeRuntime(_stack("compose"), for_runtime("compose"))
    assert "connect" not in compose.default_services() and "kafka" in compose.default_services()
    spec = all_services()["connect"]
    assert service(spec)["profiles"] == ["connect"] and "connect" in profiles(all_services().values())
    assert service(spec)["command"] == ["lakectl", "service", "run", "connect"]


def test_recipe_links_one_folder_per_plugin_and_drops_stale_ones(isolated, monkeypatch, tmp_path):
    stack = _stack()
    recipe = connect.ConnectRecipe(stack, all_services()["connect"])
    folders = {}

    def fake_plugin_dir(_stack, coords):
        folders[coords] = tmp_path / "cache" / connect.plugin_folder_name(coords) / "lib"
        folders[coords].mkdir(parents=True, exist_ok=True)
        return folders[coords]

    monkeypatch.setattr(connect, "plugin_dir", fake_plugin_dir)
    recipe.plugin_path.mkdir(parents=True)
    (recipe.plugin_path / "old-plugin-1.0").symlink_to(tmp_path)
    recipe._link_plugins()
    links = sorted(p.name for p in recipe.plugin_path.iterdir())
    assert links == [f"debezium-connector-postgres-{versions.DEBEZIUM}"]
    assert (recipe.plugin_path / links[0]).resolve() == next(iter(folders.values())).resolve()
    recipe._link_plugins()  # idempotent
    assert sorted(p.name for p in recipe.plugin_path.iterdir()) == links
