"""`lakectl demo` end to end from an empty state: its own stack (own ports, own state dir), stopped
by the demo itself, purged afterwards."""

from __future__ import annotations

import pytest

from tests.conftest import PORT_OFFSET, TEST_PORTS, Stack, native_ports, private_ports, stack_processes

pytestmark = pytest.mark.e2e

# every port distinct from the session stack's (tests/conftest.py), which keeps running meanwhile, and
# below the kernel's ephemeral range (32768+): a port up there can be the local end of any outgoing
# connection of the running session stack, and then the demo's port check rightly refuses it.
# Rule: 23000 + the last three digits of the service's own port; these three were chosen before the
# rule (or would collide: 9085 and 8085) and keep their numbers
_DEMO_PORTS_KEPT = {"schema-registry.management": 23086, "postgres": 23433, "flink-jobmanager.rpc": 23124}
DEMO_PORTS = private_ports({name: _DEMO_PORTS_KEPT.get(name, 23000 + port % 1000)
                            for name, port in native_ports().items()}, PORT_OFFSET)
assert not set(DEMO_PORTS.values()) & set(TEST_PORTS.values())
COUNT = 20_000
STAGES = ["up", "schema", "topic", "bronze_job", "produce", "bronze", "dbt", "gold", "down"]


@pytest.fixture
def empty_stack(tmp_path_factory, stack):
    # `stack` first: the session stack is up before this one, never started concurrently with it
    project = tmp_path_factory.mktemp("demo")
    ports = "\n".join(f'"{k}" = {v}' for k, v in DEMO_PORTS.items())
    (project / "lakectl.toml").write_text(
        f'[profiles.local]\nruntime = "native"\ntimeout = 300\n\n[profiles.local.ports]\n{ports}\n')
    demo = Stack(project)
    yield demo
    demo.lakectl("down", "--purge")
    assert not stack_processes(project, DEMO_PORTS.values())


def test_demo_from_an_empty_state(empty_stack):
    assert not empty_stack.state_dir.exists()
    result = empty_stack.lakectl("demo", "--count", str(COUNT), "-o", "json", timeout=1800)
    assert result.code == 0, result.err[-3000:]
    report = result.json()
    assert report["produced"] == COUNT
    assert report["bronze_iceberg_rows"] == COUNT and report["bronze_delta_rows"] == COUNT
    assert report["silver_rows"] == COUNT  # synthetic trades: all valid, all distinct
    assert set(report["gold_tables"]) >= {"ohlcv_1m", "vwap", "top_movers"}
    assert report["gold_rows"] == sum(report["gold_tables"].values()) > 0
    assert list(report["stage_seconds"]) == STAGES
    assert report["result"]["columns"][:2] == ["rank", "symbol"] and report["result"]["rows"]
    assert report["job"]["reused"] is False
    # the demo stopped its stack (no --keep): nothing of it is left running
    status = empty_stack.lakectl("status", "-o", "json")
    assert all(s["state"] != "running" for s in status.json()["services"]), status.out
