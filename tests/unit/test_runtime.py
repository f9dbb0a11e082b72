import os
import signal
import socket
import sys
import time

import psutil
import pytest

from lakectl.errors import UsageError
from lakectl.polling import Deadline
from lakectl.runtime.base import ServiceSpec, resolve_order
from lakectl.runtime.native.process import Launch, ProcessManager
from lakectl.runtime.service_table import all_services
from lakectl.runtime.waiting import Probe, ProbeResult, all_of, port_holder, port_is_free


def spec(name, *deps):
    return ServiceSpec(name=name, summary="", ports={"main": 1}, url=lambda s: "", probe=lambda s: None,
                       native=lambda s: None, depends_on=deps)


def test_dependencies_come_first():
    catalog = {s.name: s for s in (spec("a"), spec("b", "a"), spec("c", "b"))}
    assert [s.name for s in resolve_order(catalog, ["c"])] == ["a", "b", "c"]
    assert [s.name for s in resolve_order(catalog, ["b", "a"])] == ["a", "b"]


def test_unknown_and_cycles():
    catalog = {s.name: s for s in (spec("a", "b"), spec("b", "a"))}
    with pytest.raises(UsageError, match="cycle"):
        resolve_order(catalog, ["a"])
    with pytest.raises(UsageError, match="unknown service 'z'"):
        resolve_order(catalog, ["z"])


def test_real_services_registry_needs_postgres():
    names = [s.name for s in resolve_order(all_services(), ["schema-registry"])]
    assert names == ["postgres", "schema-registry"]


def test_probe_never_raises_and_composite_reports_first_failure():
    def boom(_timeout):
        raise RuntimeError("nope")

    assert Probe("x", boom)().ok is False
    ok = Probe("ok", lambda t: ProbeResult(True, "fine"))
    bad = Probe("bad", lambda t: ProbeResult(False, "down"))
    assert all_of(ok, bad)().detail == "down"
    assert all_of(ok, ok)().ok


def test_deadline():
    deadline = Deadline(0.05)
    assert not deadline.expired
    time.sleep(0.06)
    assert deadline.expired and deadline.remaining() == 0


def test_process_manager_detached_group_lifecycle(tmp_path):
    manager = ProcessManager(tmp_path)
    # a parent that spawns a child: stopping must take the whole group
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); print('up', flush=True); time.sleep(60)"
    record = manager.start("demo", Launch([sys.executable, "-c", script]))
    assert manager.start("demo", Launch(["false"])).pid == record.pid  # already running: harmless
    for _ in range(50):
        if len(record.group_members()) == 2 and "up" in manager.tail("demo"):
            break
        time.sleep(0.1)
    members = record.group_members()
    assert len(members) == 2
    assert os.getpgid(record.pid) == record.pid  # its own session and group
    # a second manager (another lakectl) rebuilds the state from disk
    assert ProcessManager(tmp_path).running("demo").pid == record.pid
    assert manager.stop("demo", timeout=5)
    assert all(not m.is_running() or m.status() == "zombie" for m in members)
    assert manager.record("demo") is None


def test_stale_record_is_replaced(tmp_path):
    manager = ProcessManager(tmp_path)
    record = manager.start("short", Launch(["true"]))
    time.sleep(0.3)
    assert manager.running("short") is None
    again = manager.start("short", Launch(["sleep", "5"]))
    assert again.pid != record.pid
    os.killpg(again.pid, signal.SIGKILL)


def test_a_port_held_by_a_listener_or_a_connection_is_refused_naming_the_holder():
    # a port in the ephemeral range can be the local end of an outgoing connection: that is what made
    # the demo test's stack refuse to start once; the error must say who holds the port, either way
    me = f"pid {os.getpid()} ({psutil.Process().name()})"
    with socket.create_server(("127.0.0.1", 0)) as server:
        listening = server.getsockname()[1]
        assert not port_is_free(listening)
        assert port_holder(listening) == f"{me}, listening"
        with socket.create_connection(("127.0.0.1", listening)) as client, server.accept()[0]:
            local_end = client.getsockname()[1]
            assert not port_is_free(local_end)
            assert port_holder(local_end) == f"{me}, local end of a connection (ESTABLISHED)"


def test_starts_after_starts_early_but_is_ready_only_after_all_it_depends_on(tmp_path):
    # "engine" needs "db" to start and "store" to be ready: it must start while "store" is still
    # starting, and be reported ready (its after_ready run) only once "store" is
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.native.recipe import NativeRecipe
    from lakectl.runtime.native.runtime import NativeRuntime
    from lakectl.settings import load_settings

    events: list[str] = []

    class Sleeper(NativeRecipe):
        def launch(self) -> Launch:
            return Launch(["sleep", "60"])

    def probe_for(name):
        def check(_timeout):
            if name == "store" and "starting engine" not in events:  # slow: ready only once the engine started
                return ProbeResult(False, "starting")
            return ProbeResult(True, "up")
        return lambda stack: Probe(name, check)

    def make(name, depends_on=(), starts_after=None):
        return ServiceSpec(name=name, summary="", ports={}, url=lambda s: "", probe=probe_for(name),
                           native=lambda stack: Sleeper(stack, catalog[name]), depends_on=depends_on,
                           starts_after=starts_after,
                           after_ready=lambda stack: events.append(f"after_ready {name}"))

    catalog = {s.name: s for s in (make("db"), make("store"),
                                   make("engine", ("db", "store"), starts_after=("db",)))}
    stack = StackContext(load_settings(), "native")
    runtime = NativeRuntime(stack, catalog)
    try:
        runtime.up(resolve_order(catalog, ["engine"]), timeout=15, progress=events.append)
    finally:
        runtime.down(list(catalog.values()), purge=True, progress=lambda _m: None)
    assert events.index("starting engine") < events.index("store ready")
    assert events.index("store ready") < events.index("engine ready")
    assert events.index("after_ready store") < events.index("after_ready engine")


def test_every_service_has_a_url_and_a_probe_on_either_runtime(isolated):
    from lakectl.runtime.base import StackContext
    from lakectl.settings import load_settings

    for kind in ("native", "compose"):
        stack = StackContext(load_settings(), kind)
        for spec in all_services().values():
            assert "127.0.0.1:" in spec.url(stack), spec.name
            assert spec.probe(stack).description, spec.name


def test_a_kafka_cluster_id_never_looks_like_an_option(monkeypatch):
    import uuid

    from lakectl.runtime.services import kafka

    drawn = iter([b"\xfb" + bytes(15), bytes(16)])  # base64url of 0xfb... starts with "-"
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(bytes=next(drawn)))
    assert kafka.new_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
