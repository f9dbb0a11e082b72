"""Class-data-sharing flags for the native JVMs, checked against the real Java runtimes here."""

import subprocess
from pathlib import Path

import pytest

from lakectl.errors import ComponentError
from lakectl.runtime.native.java import _complete_archive, class_data_sharing, find_java


def java_or_skip(minimum: int, maximum: int | None = None) -> str:
    try:
        return find_java(minimum, maximum)
    except ComponentError:
        pytest.skip(f"no Java {minimum}-{maximum or ''} here")


def flag(flags: list[str], name: str) -> str | None:
    return next((f.split("=", 1)[1] for f in flags if f.startswith(f"-XX:{name}=")), None)


def test_java17_records_an_archive_at_exit_then_starts_from_it(tmp_path):
    java = java_or_skip(17, 18)
    jar = tmp_path / "app.jar"
    jar.write_bytes(b"")
    first = class_data_sharing(tmp_path, "svc", java, [jar])
    archive = flag(first, "ArchiveClassesAtExit")
    assert archive and flag(first, "SharedArchiveFile") is None
    # the real JVM writes it at exit, and our completeness check recognises what it wrote
    subprocess.run([java, *first, "-version"], check=True, capture_output=True)
    assert _complete_archive(tmp_path / "cds" / archive.rsplit("/", 1)[1])
    second = class_data_sharing(tmp_path, "svc", java, [jar])
    assert flag(second, "SharedArchiveFile") == archive and flag(second, "ArchiveClassesAtExit") is None
    done = subprocess.run([java, *second, "-Xshare:on", "-version"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # -Xshare:on fails when the archive cannot be mapped


def test_an_interrupted_archive_is_recorded_again(tmp_path):
    java = java_or_skip(17, 18)
    archive = flag(class_data_sharing(tmp_path, "svc", java, []), "ArchiveClassesAtExit")
    with open(archive, "wb") as handle:  # what a JVM killed while dumping leaves: no header yet
        handle.write(b"\0" * 4096)
    assert flag(class_data_sharing(tmp_path, "svc", java, []), "ArchiveClassesAtExit") == archive


def test_the_archive_follows_the_classpath(tmp_path):
    java = java_or_skip(17)
    jar = tmp_path / "app.jar"
    jar.write_bytes(b"one")
    before = class_data_sharing(tmp_path, "svc", java, [jar])
    jar.write_bytes(b"a longer jar")
    assert class_data_sharing(tmp_path, "svc", java, [jar]) != before
    assert class_data_sharing(tmp_path, "other", java, [jar]) != class_data_sharing(tmp_path, "svc", java, [jar])


def test_java19_plus_creates_and_validates_its_archive_itself(tmp_path):
    java = java_or_skip(19)
    flags = class_data_sharing(tmp_path, "svc", java, [])
    assert "-XX:+AutoCreateSharedArchive" in flags and flag(flags, "SharedArchiveFile")
    for _ in range(2):  # the second run maps what the first one wrote
        done = subprocess.run([java, *flags, "-version"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert _complete_archive(Path(flag(flags, "SharedArchiveFile")))


def test_java_agent_flags_come_unlocked(tmp_path):
    flags = class_data_sharing(tmp_path, "svc", java_or_skip(17), [], java_agent=True)
    unlock = flags.index("-XX:+UnlockDiagnosticVMOptions")
    assert flags.index("-XX:+AllowArchivingWithJavaAgent") > unlock


def test_the_setting_turns_it_off(tmp_path, monkeypatch):
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.services import trino
    from lakectl.settings import load_settings

    monkeypatch.setenv("LAKECTL_CLASS_DATA_SHARING", "false")
    recipe = trino.TrinoRecipe(StackContext(load_settings(), "native"), trino.SPEC)
    assert recipe.class_data_sharing(java_or_skip(17), []) == []
