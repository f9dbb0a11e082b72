"""ComposeRuntime.up through the one readiness loop (runtime/readiness.py), with a fake compose client:
what is tested is the loop (dependencies before after_ready, an exited container fails at once, the
timeout names service, probe, last observation and log), not Docker."""

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
    """What ComposeRuntime asks of python-on-whales' compose: up, and ps with each container's state."""

    def __init__(self, states: dict[str, tuple[str, int | None]]) -> None:
        self.states = states
        self.started: list[str] = []

    def up(self, names, detach):
        assert detach
        self.started += names

    def ps(self, all):
        return [SimpleNamespace(name=f"lakectl-{name}-1", config=SimpleNamespace(
            labels={"com.docker.compose.service": name}), state=SimpleNamespace(status=status, exit_code=code))
                for name, (status, code) in self.states.items()]


@pytest.fixture
def fake_compose(isolated, monkeypatch):
    fake = FakeCompose({})
    monkeypatch.setattr(compose_module, "docker_client", lambda stack, extra_env=None: SimpleNamespace(compose=fake))
    return fake


def make_services(events: list[str], probes: dict):
    def spec(name, depends_on=()):
        return ServiceSpec(name=name, summary="", ports={}, url=lambda s: f"http://{name}",
                           probe=lambda stack: Probe(f"probe of {name}", probes[name]), native=None,
                           depends_on=depends_on, after_ready=lambda stack: events.append(f"after_ready {name}"))

    return {s.name: s for s in (spec("db"), spec("store"), spec("engine", ("db", "store")))}


def test_a_service_is_ready_only_after_what_it_depends_on(fake_compose):
    # "engine" answers at once, "store" only from its third probe: compose used to call "engine"
    # ready (and run its after_ready) before "store" was
    events: list[str] = []
    store_calls = []

    def store(_timeout):
        store_calls.append(1)
        return ProbeResult(len(store_calls) >= 3, f"probe {len(store_calls)}")

    up = lambda _t: ProbeResult(True, "up")  # noqa: E731
    services = make_services(events, {"db": up, "store": store, "engine": up})
    fake_compose.states = {name: ("running", None) for name in services}
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    statuses = runtime.up(resolve_order(services, ["engine"]), timeout=15, progress=events.append)
    assert fake_compose.started == ["db", "store", "engine"]  # one `compose up` for all of them
    assert events.index("store ready") < events.index("after_ready engine") < events.index("engine ready")
    assert events.index("after_ready store") < events.index("after_ready engine")
    assert [s.state for s in statuses] == ["running"] * 3


def test_a_container_that_exited_fails_at_once(fake_compose):
    events: list[str] = []
    down = lambda _t: ProbeResult(False, "connection refused")  # noqa: E731
    services = make_services(events, {"db": down, "store": down, "engine": down})
    fake_compose.states = {"db": ("exited", 1), "store": ("running", None), "engine": ("running", None)}
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=r"db: its container exited while starting \(exit code 1\); "
                                                 r"see lakectl logs db"):
        runtime.up(resolve_order(services, ["engine"]), timeout=60, progress=events.append)
    assert time.monotonic() - started < 10  # not the 60 s deadline


def test_the_timeout_names_service_probe_last_observation_and_log(fake_compose):
    events: list[str] = []
    up = lambda _t: ProbeResult(True, "up")  # noqa: E731
    services = make_services(events, {"db": up, "store": lambda _t: ProbeResult(False, "503 starting"),
                                      "engine": up})
    fake_compose.states = {name: ("running", None) for name in services}
    runtime = ComposeRuntime(StackContext(load_settings(), "compose"), services)
    with pytest.raises(ServiceUnavailable) as caught:
        runtime.up(resolve_order(services, ["engine"]), timeout=1, progress=events.append)
    assert caught.value.message == ("store not ready after 1s (probe: probe of store; last: 503 starting; "
                                    "log: lakectl logs store)")
    assert "after_ready engine" not in events
