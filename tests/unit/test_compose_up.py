"""ComposeRuntime.up through the one readiness loop (runtime/readiness.py), with a fake compose client:
what is tested is the loop (one `compose up --no-deps` per service once what it starts after is ready,
dependencies before after_ready, an exited container fails at once, a taken port refused before the
container starts, the timeout names service, probe, last observation and log), not Docker."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

import lakectl.runtime.compose as compose_module
from lakectl.errors import ServiceUnavailable
from lakectl.runtime.base import ServiceSpec, StackContext, resolve_order
from lakectl.runtime.compose import ComposeRuntime
from lakectl.runtime.waiting import Probe, ProbeResult
from lakectl.settings import load_settings


class FakeCompose:
    """What ComposeRuntime asks of python-on-whales' compose: up (one service, without its dependencies),
    and ps with each container's state. ``states`` is what a started container turns into (running)."""

    def __init__(self, states: dict[str, tuple[str, int | None]]) -> None:
        self.states = states
        self.after_start: dict[str, tuple[str, int | None]] = {}
        self.started: list[str] = []
        self.on_up = None

    def up(self, names, detach, dependencies, stream_logs):
        assert detach and not dependencies and stream_logs and len(names) == 1
        self.started += names
        self.states[names[0]] = self.after_start.get(names[0], ("running", None))
        if self.on_up:
            self.on_up(names[0])
        return iter([("stderr", f"Container {names[0]} Started".encode())])

    def ps(self, all):
        return [SimpleNamespace(name=f"lakectl-{name}-1", config=SimpleNamespace(
            labels={"com.docker.compose.service": name}), state=SimpleNamespace(status=status, exit_code=code))
                for name, (status, code) in self.states.items()]


@pytest.fixture
def fake_compose(isolated, monkeypatch):
    fake = FakeCompose({})
    monkeypatch.setattr(compose_module, "docker_client", lambda stack, images=None: SimpleNamespace(compose=fake))
    # the loop reads the containers' states through one `docker ps`: the fake's states stand in for it
    monkeypatch.setattr(compose_module.ComposeRuntime, "_container_states", lambda self, client: dict(fake.states))
    return fake


@pytest.fixture
def built(monkeypatch):
    """lakectl.runtime.images.ensure_images (another module's), faked: what ``up`` asked it to build."""
    import lakectl.runtime.images as images_module

    asked: list[list[str]] = []

    def ensure_images(stack, specs, progress):
        families = images_module.families(specs)
        asked.append(list(families))
        return [images_module.Image(family, f"lakectl/{family}:test", tuple(s.name for s in members), True, 0.0,
                                    None) for family, members in families.items()]

    monkeypatch.setattr(images_module, "ensure_images", ensure_images)
    return asked


def make_services(events: list[str], probes: dict):
    def spec(name, depends_on=()):
        return ServiceSpec(name=name, summary="", ports={}, url=lambda s: f"http://{name}",
                           probe=lambda stack: Probe(f"probe of {name}", probes[name]), native=None,
                           depends_on=depends_on, after_ready=lambda stack: events.append(f"after_ready {name}"))

    return {s.name: s for s in (spec("db"), spec("store"), spec("engine", ("db", "store")))}


def test_a_service_starts_only_once_its_start_dependencies_are_ready(fake_compose, built):
    # "engine" answers at once, "store" only from its third probe: "engine" starts (its own
    # `compose up --no-deps`) only after "store" is ready, and is ready only after it
    events: list[str] = []
    store_calls = []

    def store(_timeout):
        store_calls.append(1)
        return ProbeResult(len(store_calls) >= 3, f"probe {len(store_calls)}")

    up = lambda _t: ProbeResult(True, "up")  # noqa: E731
    services = make_services(events, {"db": up, "store": store, "engine": up})
    fake_compose.on_up = lambda name: events.append(f"compose up {name}")
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    statuses = runtime.up(resolve_order(services, ["engine"]), timeout=15, progress=events.append)
    assert fake_compose.started == ["db", "store", "engine"]  # one `compose up --no-deps` each
    assert events.index("store ready") < events.index("compose up engine") < events.index("engine ready")
    assert events.index("db ready") < events.index("compose up engine")
    assert events.index("after_ready store") < events.index("after_ready engine")
    assert [s.state for s in statuses] == ["running"] * 3
    assert built == [["db", "store", "engine"]]  # each spec its own image family here
    assert (runtime.stack.state_dir / "compose" / "engine").is_dir()  # its data dir, made by this user


def test_a_running_container_is_not_started_again(fake_compose, built):
    events: list[str] = []
    up = lambda _t: ProbeResult(True, "up")  # noqa: E731
    services = make_services(events, {"db": up, "store": up, "engine": up})
    fake_compose.states = {"db": ("running", None)}
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    runtime.up(resolve_order(services, ["engine"]), timeout=15, progress=events.append)
    assert "starting db" not in events and "starting store" in events


def test_a_taken_port_is_refused_before_the_container_starts(fake_compose, built):
    import socket

    from lakectl.runtime.base import ServiceSpec

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        spec = ServiceSpec(name="db", summary="", ports={"main": port}, url=lambda s: "http://db",
                           probe=lambda stack: Probe("probe of db", lambda _t: ProbeResult(False, "")), native=None)
        runtime = ComposeRuntime(StackContext(load_settings(), "compose"), {"db": spec})
        with pytest.raises(ServiceUnavailable, match=rf"db: port {port} on 127.0.0.1 is taken by .*listening"):
            runtime.up([spec], timeout=15, progress=lambda _e: None)
    assert fake_compose.started == []


def test_a_container_that_exited_fails_at_once(fake_compose, built):
    events: list[str] = []
    down = lambda _t: ProbeResult(False, "connection refused")  # noqa: E731
    services = make_services(events, {"db": down, "store": down, "engine": down})
    fake_compose.after_start = {"db": ("exited", 1)}
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    runtime._last_lines = lambda spec: "the last words"  # docker logs of its container
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=r"db: its container exited while starting \(exit code 1\); "
                                                 r"last lines of lakectl logs db: the last words"):
        runtime.up(resolve_order(services, ["engine"]), timeout=60, progress=events.append)
    assert time.monotonic() - started < 10  # not the 60 s deadline


def test_the_timeout_names_service_probe_last_observation_and_log(fake_compose, built):
    events: list[str] = []
    up = lambda _t: ProbeResult(True, "up")  # noqa: E731
    services = make_services(events, {"db": up, "store": lambda _t: ProbeResult(False, "503 starting"),
                                      "engine": up})
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    with pytest.raises(ServiceUnavailable) as caught:
        runtime.up(resolve_order(services, ["engine"]), timeout=1, progress=events.append)
    assert caught.value.message == ("store not ready after 1s (probe: probe of store; last: 503 starting; "
                                    "log: lakectl logs store)")
    assert "after_ready engine" not in events
