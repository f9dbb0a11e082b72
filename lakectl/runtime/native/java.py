"""Find a Java runtime of a given major version: JAVA_HOME, PATH, then /usr/lib/jvm."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from lakectl.errors import ComponentError


@cache
def _major(java: str) -> int | None:
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', done.stderr)
    return int(match.group(1)) if match else None


def find_java(minimum: int, maximum: int | None = None) -> str:
    candidates: list[str] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(shutil.which("java"))  # type: ignore[arg-type]
    candidates += [str(p) for p in sorted(Path("/usr/lib/jvm").glob("*/bin/java"))]
    for java in candidates:
        major = _major(java)
        if major is not None and major >= minimum and (maximum is None or major <= maximum):
            return java
    wanted = f"{minimum}+" if maximum is None else f"{minimum}-{maximum}"
    raise ComponentError(f"no Java {wanted} found (JAVA_HOME, PATH, /usr/lib/jvm)",
                         hint="apt-get install openjdk-17-jre-headless")
