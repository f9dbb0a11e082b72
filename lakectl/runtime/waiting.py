"""Readiness probes that say what they saw, and the port checks ``up`` and ``doctor`` make.

Modelled on testcontainers' wait strategies: a probe returns (ok, what it observed); the one loop
that waits on them is runtime/readiness.py.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Probe:
    """A named readiness check; ``check(timeout)`` must return within about ``timeout`` seconds."""

    description: str
    check: Callable[[float], ProbeResult]

    def __call__(self, timeout: float = 2.0) -> ProbeResult:
        try:
            return self.check(timeout)
        except Exception as exc:  # a probe reports failures, it never raises: the loop decides
            return ProbeResult(False, f"{type(exc).__name__}: {exc}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_holder(port: int) -> str:
    """Who holds ``port`` locally, for the error that refuses it: a listener, or the local end of a
    connection (a port in the ephemeral range can be either), with pid and name when visible."""
    import psutil

    try:
        connections = psutil.net_connections("tcp")
    except (psutil.Error, OSError):  # other users' sockets need privileges on some systems
        return "another process"
    for conn in sorted(connections, key=lambda c: c.status != psutil.CONN_LISTEN):
        if not conn.laddr or conn.laddr.port != port:
            continue
        role = "listening" if conn.status == psutil.CONN_LISTEN else f"local end of a connection ({conn.status})"
        try:
            owner = f"pid {conn.pid} ({psutil.Process(conn.pid).name()})" if conn.pid else "another process"
        except psutil.Error:
            owner = f"pid {conn.pid}"
        return f"{owner}, {role}"
    return "another process"


def http_probe(url: str, *, expect: Callable[[httpx.Response], bool] | None = None) -> Probe:
    import httpx  # here, not at the top: every command imports this module, few of them probe
    def check(timeout: float) -> ProbeResult:
        try:
            response = httpx.get(url, timeout=timeout)
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"GET {url}: {type(exc).__name__}")
        ok = expect(response) if expect else response.status_code == 200
        return ProbeResult(ok, f"GET {url} -> {response.status_code}")

    return Probe(f"http GET {url}", check)


def kafka_probe(client_config: dict) -> Probe:
    """A broker is ready when the admin client gets cluster metadata, not when a port opens."""

    def check(timeout: float) -> ProbeResult:
        from lakectl.components.kafka import KafkaClient, quiet_logger
        from lakectl.errors import LakectlError

        kafka = KafkaClient({**client_config, "socket.connection.setup.timeout.ms": max(1000, int(timeout * 1000)),
                             "logger": quiet_logger()}, timeout=timeout)
        try:
            metadata = kafka.metadata()
        except LakectlError as exc:
            return ProbeResult(False, f"metadata request failed: {exc.one_line()}")
        if not metadata.brokers:
            return ProbeResult(False, "metadata has no brokers yet")
        return ProbeResult(True, f"{len(metadata.brokers)} broker(s), controller {metadata.controller_id}")

    return Probe(f"kafka admin metadata from {client_config.get('bootstrap.servers')}", check)


def exec_probe(argv: list[str], description: str, env: dict[str, str] | None = None) -> Probe:
    def check(timeout: float) -> ProbeResult:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ProbeResult(False, str(exc))
        detail = (done.stdout or done.stderr).strip().splitlines()
        return ProbeResult(done.returncode == 0, detail[-1] if detail else f"exit {done.returncode}")

    return Probe(description, check)


def all_of(*probes: Probe) -> Probe:
    """Composite: ready when every probe is, checked in order (the first failure is reported)."""

    def check(timeout: float) -> ProbeResult:
        details = []
        for probe in probes:
            result = probe(timeout)
            if not result.ok:
                return result
            details.append(result.detail)
        return ProbeResult(True, "; ".join(details))

    return Probe(" and ".join(p.description for p in probes), check)
