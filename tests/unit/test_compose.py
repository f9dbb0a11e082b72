"""deploy/docker-compose.yml checked by the real Compose v2 implementation (no engine needed)."""

import re

import pytest

from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime.base import StackContext
from lakectl.runtime.compose import validate
from lakectl.runtime.service_table import all_services
from lakectl.settings import load_settings


@pytest.fixture
def stack(isolated):
    return StackContext(load_settings(), "compose")


@pytest.fixture
def config(stack):
    return validate(stack)


def test_every_service_is_in_compose(config):
    assert {spec.compose_name for spec in all_services().values()} <= set(config["services"])


def test_images_are_pinned(config):
    for name, service in config["services"].items():
        image = service["image"]
        # a version number (Prometheus tags it vX.Y.Z), or MinIO's dated release tags
        assert re.search(r":(v?\d[\w.-]*|RELEASE\.[\w.-]+)$", image), f"{name}: {image} is not pinned to a version"


def test_ports_only_on_loopback(config):
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)


def test_every_service_has_a_healthcheck(config):
    for name, service in config["services"].items():
        assert service.get("healthcheck", {}).get("test"), name


def test_published_ports_match_the_service_description(config, stack):
    for spec in all_services().values():
        if "main" not in spec.ports:
            continue
        published = {int(p["published"]) for p in config["services"][spec.compose_name].get("ports", [])}
        assert stack.port(spec) in published, spec.name


def test_no_secret_in_the_yaml():
    text = (deploy_dir() / "docker-compose.yml").read_text()
    assert "PASSWORD: \"${LAKECTL_POSTGRES_PASSWORD:?" in text
    assert not re.search(r"PASSWORD:\s*\"?[A-Za-z0-9]{6,}\"?\s*$", text, re.M)


def test_secret_comes_from_the_0600_env_file(stack, config):
    env_file = stack.state_dir / "compose.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == stack.secret("postgres_password")


def test_missing_secret_fails_clearly(stack, monkeypatch):
    import lakectl.runtime.compose as compose_module

    def empty_env(stack, extra=None):
        stack.state_dir.mkdir(parents=True, exist_ok=True)
        path = stack.state_dir / "empty.env"
        path.write_text("")
        return path

    import re

    # every secret the compose file requires (`${NAME:?...}`); Compose names whichever it meets first
    required = sorted(set(re.findall(r"\$\{(LAKECTL_[A-Z_]+):\?", compose_module.compose_file().read_text())))
    assert "LAKECTL_POSTGRES_PASSWORD" in required
    monkeypatch.setattr(compose_module, "write_env_file", empty_env)
    for name in required:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ComponentError, match=rf"required variable ({'|'.join(required)}) is missing a value"):
        validate(stack)
