"""The compose runtime for real: a Docker engine of the test's own, images built from a debootstrap Debian base.

CI has no engine running and no image registry. The session fixture installs Debian's ``docker.io`` and
``debootstrap`` when missing, starts ``dockerd`` with its own data root and socket (tests/fresh/fresh.py's
``Engine``: no firewall changes, no bridge, host networking), imports a debootstrap Debian 12 as the images'
base, and ALWAYS stops the engine at the end (checking the firewall and links are as before): a running
engine would change what ``--runtime auto`` picks for everything after.

The stack runs on its own ports (each service's own + 16000) and in its own project dir, like the native one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Stack, native_ports, private_ports

REPO = Path(__file__).resolve().parents[2]
COMPOSE_PORTS = private_ports({name: port + 16000 for name, port in native_ports().items()}, 0)


def _fresh_module():
    spec = importlib.util.spec_from_file_location("lakectl_fresh", REPO / "tests" / "fresh" / "fresh.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Engine:
    """What a test needs of the engine: its environment (DOCKER_HOST) and the docker CLI against it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.env = {"DOCKER_HOST": inner.env["DOCKER_HOST"], "DOCKER_BUILDKIT": "0"}

    def docker(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                              env={**os.environ, **self.env}, timeout=600)

    def lines(self, *args: str) -> list[str]:
        return [line for line in self.docker(*args, check=True).stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def engine() -> Engine:
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        pytest.skip("starting dockerd needs root")
    fresh = _fresh_module()
    fresh.ensure_host_tools()
    cache = Path(os.environ.get("LAKECTL_CACHE_DIR") or Path.home() / ".cache" / "lakectl")
    with fresh.Engine(cache / "compose-test-engine") as inner:
        fresh.base_image(inner, cache / "fresh")
        yield Engine(inner)
    assert not subprocess.run(["pgrep", "-f", str(cache / "compose-test-engine")], capture_output=True).stdout


@pytest.fixture(scope="session")
def compose_stack(engine, tmp_path_factory) -> Stack:
    """A project whose profile runs the compose runtime on the test engine (nothing started yet)."""
    project = tmp_path_factory.mktemp("compose-stack")
    ports = "\n".join(f'"{k}" = {v}' for k, v in COMPOSE_PORTS.items())
    (project / "lakectl.toml").write_text(
        f'[profiles.local]\nruntime = "compose"\ntimeout = 600\nimage_base = "lakectl/debian:bookworm"\n\n'
        f'[profiles.local.ports]\n{ports}\n')
    stack = Stack(project)
    stack.env.update(engine.env)
    yield stack
    keep = tmp_path_factory.getbasetemp() / "compose-logs"
    keep.mkdir(exist_ok=True)
    from lakectl.runtime.service_table import all_services

    for name in all_services():
        logs = stack.lakectl("logs", name, "--tail", "300", timeout=60)
        (keep / f"{name}.log").write_text(logs.out + logs.err)
    stack.lakectl("down", "--purge", timeout=300)
