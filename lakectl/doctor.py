"""Checks of this machine for the native stack: Java, Maven, PostgreSQL, ports, disk, Docker."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from lakectl.context import AppContext

MIN_FREE_DISK_GB = 5


def _java_major(java: str) -> int | None:
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', done.stderr)
    return int(match.group(1)) if match else None


def run_checks(app: AppContext) -> list[dict[str, Any]]:
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.catalog import for_runtime
    from lakectl.runtime.native.process import ProcessManager
    from lakectl.runtime.select import docker_engine_answers
    from lakectl.runtime.services.postgres import server_bindir
    from lakectl.runtime.waiting import port_is_free

    checks: list[dict[str, Any]] = []

    def add(name: str, ok: bool, detail: str, required: bool = True) -> None:
        checks.append({"check": name, "ok": ok, "required": required, "detail": detail})

    java = shutil.which("java")
    major = _java_major(java) if java else None
    add("java 17+", bool(major and major >= 17), f"{java} (major {major})" if java else "java not on PATH")
    from lakectl.errors import ComponentError
    from lakectl.runtime.native.java import find_java

    for minimum, users in ((21, "schema registry"), (24, "trino")):
        try:
            add(f"java {minimum}+ ({users})", True, find_java(minimum))
        except ComponentError as exc:
            add(f"java {minimum}+ ({users})", False, exc.one_line())
    mvn = shutil.which("mvn")
    add("maven", mvn is not None, mvn or "mvn not on PATH (apt-get install maven)")
    bindir = server_bindir()
    add("postgresql server", bindir is not None, str(bindir) if bindir else "apt-get install postgresql")

    loaded = app.loaded
    stack = StackContext(loaded, "native")
    manager = ProcessManager(loaded.state_dir)
    for spec in for_runtime("native").values():
        for port_name in spec.ports:
            port = stack.port(spec, port_name)
            ours = manager.running(spec.name) is not None
            free = port_is_free(port)
            add(f"port {port} ({spec.name})", free or ours,
                "in use by lakectl's " + spec.name if ours else ("free" if free else "in use by another process"))
    cache = loaded.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(cache).free / 2**30
    add("disk", free_gb >= MIN_FREE_DISK_GB, f"{free_gb:.1f} GB free under {cache}")
    engine = docker_engine_answers()
    add("docker engine", engine, "answers: compose runtime available" if engine else
        "no engine: the native runtime will be used", required=False)
    return checks
