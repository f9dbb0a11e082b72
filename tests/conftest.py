"""The real native stack, started once per test session for integration and e2e tests.

It runs on its own ports and state dir, so a developer's own stack is never touched. Logs are
copied next to pytest's temp dir before the stack is purged, so a failure can be read afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EPHEMERAL_PORTS = range(32768, 61000)


def native_ports() -> dict[str, int]:
    """Every port of every native service, by its lakectl.toml key ("kafka", "kafka.metrics"), read
    from the ServiceSpecs: a new service gets its test ports without an edit here."""
    from lakectl.runtime.service_table import for_runtime

    return {spec.name if port == "main" else f"{spec.name}.{port}": number
            for spec in for_runtime("native").values() for port, number in spec.ports.items()}


def native_services() -> list[str]:
    """Every service the native runtime runs, in start order: what the session stack starts."""
    from lakectl.runtime.service_table import for_runtime

    return list(for_runtime("native"))


def private_ports(base: dict[str, int], offset: int) -> dict[str, int]:
    """``base`` moved down by ``offset``; every port distinct and below the ephemeral range, where a
    port can be the local end of any outgoing connection (and then the port check rightly refuses it)."""
    ports = {name: port - offset for name, port in base.items()}
    assert len(set(ports.values())) == len(ports), ports
    assert not [p for p in ports.values() if p in EPHEMERAL_PORTS or p < 1024], ports
    return ports


# the session stack's ports: each service's own moved up by 20000 (9092 -> 29092 for Kafka), in 2xxxx.
# LAKECTL_TEST_PORT_OFFSET moves every port down by that much, so that two checkouts can run their
# suites side by side (e.g. 5000 -> 24092 for Kafka).
PORT_OFFSET = int(os.environ.get("LAKECTL_TEST_PORT_OFFSET") or 0)
TEST_PORTS = private_ports({name: port + 20000 for name, port in native_ports().items()}, PORT_OFFSET)


@dataclass
class Completed:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def json_lines(self) -> list:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class Stack:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
        self.env.update({"LAKECTL_CONFIG": str(project / "lakectl.toml"),
                         "LAKECTL_SECRETS_FILE": str(project / "no-secrets.toml"),
                         # dags/maintenance.py is daily by default, and Airflow runs a new daily DAG at once:
                         # the test stack's Airflow maintains tables only when a test says so
                         "LAKECTL_MAINTENANCE_SCHEDULE": "none"})
        if "LAKECTL_CACHE_DIR" in os.environ:
            self.env["LAKECTL_CACHE_DIR"] = os.environ["LAKECTL_CACHE_DIR"]

    @property
    def state_dir(self) -> Path:
        return self.project / ".lakectl"

    def lakectl(self, *args: str, timeout: float = 600, env: dict | None = None, stdin: str | None = None
                ) -> Completed:
        done = subprocess.run([sys.executable, "-m", "lakectl", *args], cwd=self.project, capture_output=True,
                              text=True, timeout=timeout, env={**self.env, **(env or {})}, input=stdin)
        return Completed(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, **kwargs) -> Completed:
        result = self.lakectl(*args, **kwargs)
        assert result.code == 0, f"lakectl {' '.join(args)} -> {result.code}\n{result.err}\n{result.out[-2000:]}"
        return result

    def lakehouse(self):
        """An in-process reader of this stack's Iceberg and Delta tables (pyiceberg, delta-rs)."""
        from lakectl.components.lakehouse import Lakehouse
        from lakectl.context import LakeContext

        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(self.env)
            app = LakeContext()
            return Lakehouse(app.s3(), app.catalog())
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def pid(self, service: str) -> int | None:
        record = self.state_dir / "run" / f"{service}.json"
        return json.loads(record.read_text())["pid"] if record.exists() else None

    def recorded_pids(self) -> list[int]:
        run = self.state_dir / "run"
        return [json.loads(p.read_text())["pid"] for p in run.glob("*.json")] if run.exists() else []


def stack_processes(project: Path, ports=None) -> list[str]:
    """Every live process that belongs to this test stack (by its state dir or its ports)."""
    import psutil

    markers = [str(project)] + [str(p) for p in (TEST_PORTS.values() if ports is None else ports)]
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.pid == os.getpid() or "pytest" in cmdline:
            continue
        if any(m in cmdline for m in markers) and any(w in cmdline for w in ("java", "postgres", "python")):
            found.append(f"{proc.pid}: {cmdline[:160]}")
    return found


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    project = tmp_path_factory.mktemp("stack")
    ports = "\n".join(f'"{k}" = {v}' for k, v in TEST_PORTS.items())
    (project / "lakectl.toml").write_text(
        f'[profiles.local]\nruntime = "native"\ntimeout = 300\n\n[profiles.local.ports]\n{ports}\n'
    )
    stack = Stack(project)
    # every native service, the optional ones too (a plain `up` leaves out the Connect worker)
    started = stack.lakectl("up", *native_services(), "-o", "json", timeout=3600)
    if started.code != 0:
        logs = "\n".join(f"== {p.name}\n{p.read_text()[-3000:]}" for p in (stack.state_dir / "logs").glob("*.log"))
        stack.lakectl("down", "--purge")
        pytest.fail(f"the native stack did not start (exit {started.code}): {started.err}\n{logs}")
    yield stack
    keep = tmp_path_factory.getbasetemp() / "stack-logs"
    if (stack.state_dir / "logs").exists():
        shutil.copytree(stack.state_dir / "logs", keep, dirs_exist_ok=True)
        print(f"\nstack logs kept in {keep}")
    stack.lakectl("down", "--purge")
    leftovers = stack_processes(project)
    assert not leftovers, f"processes left after down --purge: {leftovers}"
