"""The compose runtime's images, built here from a Debian base and the registries lakectl fetches from.

Two steps, both through the ``docker`` CLI against whatever engine it answers (``DOCKER_HOST``):

1. **The base** (deploy/images/base.Dockerfile, ``FROM`` the ``image_base`` setting, debian:bookworm-slim by
   default): Debian's PostgreSQL, Prometheus, JDK 17 and Maven, and a virtualenv with lakectl's dependencies.
2. **One image per service family** (``ServiceSpec.image_family``: kafka, flink, airflow...): a container of
   the base runs ``lakectl service fetch`` for the family's services into a staging cache kept under
   ``<cache>/images/<family>`` (the host's Maven, uv and pip caches mounted, and its lakectl cache as a seed
   of finished downloads, so nothing is downloaded twice),
   and deploy/images/family.Dockerfile copies that cache in. Venvs and javac builds are thus made by the
   image's own Python and JDK, at the path they run from.

Each image is tagged with a content hash of what it is made from (its Dockerfile, the base, lakectl's runtime
code, versions and deploy/native assets, the CA certificates trusted here): an image whose tag exists is
never built again, so a warm ``up`` only looks the tags up.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakectl.errors import ComponentError, ServiceUnavailable
from lakectl.paths import ROOT, deploy_dir
from lakectl.runtime.base import ServiceSpec, StackContext
from lakectl.runtime.compose_file import builds_image
from lakectl.runtime.service_table import all_services

CONTAINER_CACHE = "/opt/lakectl/cache"
CONTAINER_HOME = "/tmp/home"
REPOSITORY = "lakectl"
# Environment a build passes through to what runs inside it: proxies and package index settings of this machine
PASSED_THROUGH = re.compile(r"^(HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|"
                            r"UV_INDEX_URL|UV_DEFAULT_INDEX|UV_EXTRA_INDEX_URL|UV_INDEX|MAVEN_OPTS)$")
CONTAINER_SEED = "/opt/lakectl/seed"


@dataclass(frozen=True)
class Image:
    family: str
    tag: str
    services: tuple[str, ...]
    built: bool  # built by this call (else: it existed)
    seconds: float
    size_mb: float | None

    def to_dict(self) -> dict:
        return {"family": self.family, "image": self.tag, "services": list(self.services), "built": self.built,
                "seconds": round(self.seconds, 1), "size_mb": self.size_mb}


def images_dir() -> Path:
    return deploy_dir() / "images"


def families(specs: Iterable[ServiceSpec]) -> dict[str, list[ServiceSpec]]:
    """Family -> its services, for the services whose container runs a lakectl image (Grafana's does not)."""
    table: dict[str, list[ServiceSpec]] = {}
    for spec in specs:
        if builds_image(spec):
            table.setdefault(spec.image_family, []).append(spec)
    return table


# ---- the docker CLI ------------------------------------------------------------------------------------------

def _docker(*args: str, capture: bool = True, timeout: float | None = None,
            stdout_to: Path | None = None) -> subprocess.CompletedProcess:
    docker = shutil.which("docker")
    if docker is None:
        raise ServiceUnavailable("no docker command found", hint="install Docker, or use --runtime native")
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder: Debian's engine has no buildx
    if stdout_to is not None:
        with stdout_to.open("ab") as log:
            return subprocess.run([docker, *args], stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout,
                                  check=False)
    return subprocess.run([docker, *args], capture_output=capture, text=True, env=env, timeout=timeout, check=False)


def engine_version() -> str:
    """The engine's version; ServiceUnavailable naming what the CLI said when none answers."""
    done = _docker("version", "--format", "{{.Server.Version}}", timeout=20)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise ServiceUnavailable(f"no Docker engine answers: {said[-1] if said else 'docker version failed'}",
                                 hint="start the Docker engine (dockerd), or use --runtime native")
    return done.stdout.strip()


def image_exists(tag: str) -> bool:
    return _docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=30).returncode == 0


def image_size_mb(tag: str) -> float | None:
    done = _docker("image", "inspect", "--format", "{{.Size}}", tag, timeout=30)
    return round(int(done.stdout.strip()) / 1e6, 1) if done.returncode == 0 and done.stdout.strip() else None


def _tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return " | ".join(ln.strip() for ln in text.strip().splitlines()[-lines:])[-600:]


# ---- content keys --------------------------------------------------------------------------------------------

def _digest(parts: Iterable[bytes | str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _files(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(p for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)
    return found


def _content(paths: Iterable[Path]) -> list[bytes | str]:
    return [part for p in paths for part in (str(p.relative_to(ROOT)), p.read_bytes())]


def uv_version() -> str:
    """The uv the Makefile installs into lakectl's venv (one pin for both)."""
    found = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), flags=re.M)
    if not found:
        raise ComponentError("Makefile: no UV_VERSION line")
    return found.group(1)


def host_ca_certs() -> list[Path]:
    """CA certificates this machine trusts beyond Debian's (e.g. an HTTPS-intercepting proxy's)."""
    return sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))


def base_tag(stack: StackContext) -> str:
    key = _digest([stack.settings.image_base, uv_version(), *_content([images_dir() / "base.Dockerfile",
                                                                       ROOT / "pyproject.toml"]),
                   *(c.read_bytes() for c in host_ca_certs())])
    return f"{REPOSITORY}/base:{key}"


def family_tag(stack: StackContext, family: str, specs: Sequence[ServiceSpec]) -> str:
    runtime = ROOT / "lakectl" / "runtime"
    inputs = _files(images_dir() / "family.Dockerfile", runtime, ROOT / "lakectl" / "artifacts.py",
                    deploy_dir() / "native")
    key = _digest([base_tag(stack), family, *(s.name for s in specs), *_content(inputs)])
    return f"{REPOSITORY}/{family}:{key}"


# ---- building ------------------------------------------------------------------------------------------------

def _build_base(stack: StackContext, tag: str, log: Path) -> None:
    context = stack.cache_dir / "images" / "base-context"
    shutil.rmtree(context, ignore_errors=True)
    (context / "certs").mkdir(parents=True)
    for cert in host_ca_certs():
        shutil.copy2(cert, context / "certs" / cert.name)
    shutil.copy2(images_dir() / "base.Dockerfile", context / "Dockerfile")
    shutil.copy2(ROOT / "pyproject.toml", context / "pyproject.toml")
    done = _docker("build", "--network", "host", "--build-arg", f"DEBIAN={stack.settings.image_base}",
                   "--build-arg", f"UV_VERSION={uv_version()}", "--label", "lakectl.image=base", "-t", tag,
                   str(context), stdout_to=log)
    if done.returncode != 0:
        raise ComponentError(f"image {tag}: the build failed ({_tail(log)}); full log: {log}")


def _host_caches() -> dict[str, Path]:
    """The host's download caches mounted into the staging container (created when missing)."""
    home = Path.home()
    caches = {
        ".m2": home / ".m2",
        ".cache/uv": Path(os.environ.get("UV_CACHE_DIR") or home / ".cache" / "uv"),
        ".cache/pip": Path(os.environ.get("PIP_CACHE_DIR") or home / ".cache" / "pip"),
    }
    for path in caches.values():
        path.mkdir(parents=True, exist_ok=True)
    return caches


def _stage(stack: StackContext, family: str, specs: Sequence[ServiceSpec], base: str, log: Path) -> Path:
    """Run ``lakectl service fetch`` for the family in a container of the base; its cache is the stage's."""
    stage = stack.cache_dir / "images" / family
    cache = stage / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    # the host's lakectl cache, read-only: finished downloads are copied from it (artifacts.SEEDABLE)
    mounts = [f"{ROOT}:{ROOT}:ro", f"{cache}:{CONTAINER_CACHE}", f"{stack.cache_dir}:{CONTAINER_SEED}:ro"]
    mounts += [f"{path}:{CONTAINER_HOME}/{name}" for name, path in _host_caches().items()]
    env = {"HOME": CONTAINER_HOME, "PYTHONPATH": str(ROOT), "LAKECTL_CACHE_DIR": CONTAINER_CACHE,
           "LAKECTL_STATE_DIR": f"{CONTAINER_HOME}/state", "UV_NATIVE_TLS": "1", "LAKECTL_CACHE_SEED": CONTAINER_SEED,
           **{k: v for k, v in os.environ.items() if PASSED_THROUGH.match(k)}}
    args = ["run", "--rm", "--network", "host", "--user", f"{os.getuid()}:{os.getgid()}",
            *(a for m in mounts for a in ("-v", m)), *(a for k, v in env.items() for a in ("-e", f"{k}={v}")),
            base, "lakectl", "service", "fetch", *(s.name for s in specs)]
    done = _docker(*args, stdout_to=log)
    if done.returncode != 0:
        raise ComponentError(f"image {family}: fetching its artifacts failed ({_tail(log)}); full log: {log}")
    (stage / ".dockerignore").write_text("cache/locks\ncache/cds\n")
    shutil.copy2(images_dir() / "family.Dockerfile", stage / "Dockerfile")
    return stage


def _build_family(tag: str, base: str, stage: Path, family: str, log: Path) -> None:
    done = _docker("build", "--build-arg", f"BASE={base}", "--label", f"lakectl.image={family}", "-t", tag,
                   str(stage), stdout_to=log)
    if done.returncode != 0:
        raise ComponentError(f"image {tag}: the build failed ({_tail(log)}); full log: {log}")


def ensure_images(stack: StackContext, specs: Iterable[ServiceSpec], progress: Callable[[str], None],
                  rebuild: bool = False) -> list[Image]:
    """The image of every family among ``specs``, built when its tag does not exist yet (or ``rebuild``)."""
    engine_version()
    logs = stack.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = base_tag(stack)
    if rebuild or not image_exists(base):
        progress(f"building image {base} (Debian packages and lakectl's dependencies; minutes the first time)")
        started = time.monotonic()
        _build_base(stack, base, logs / "image-base.log")
        remove_older("base", base)
        progress(f"built {base} in {time.monotonic() - started:.0f} s")
    images = []
    every = families(all_services().values())  # a family's image holds all its services, whichever start
    for family in families(specs):
        members = every[family]
        tag = family_tag(stack, family, members)
        started = time.monotonic()
        built = rebuild or not image_exists(tag)
        if built:
            log = logs / f"image-{family}.log"
            log.unlink(missing_ok=True)
            progress(f"building image {tag} ({', '.join(s.name for s in members)})")
            stage = _stage(stack, family, members, base, log)
            _build_family(tag, base, stage, family, log)
            remove_older(family, tag)
        images.append(Image(family, tag, tuple(s.name for s in members), built, time.monotonic() - started,
                            image_size_mb(tag)))
    return images


def listed(stack: StackContext, specs: Iterable[ServiceSpec]) -> list[dict]:
    """Each family's current tag and whether it is built (no engine needed for the tags)."""
    rows = []
    for family, members in families(specs).items():
        tag = family_tag(stack, family, members)
        rows.append({"family": family, "image": tag, "services": [s.name for s in members],
                     "built": image_exists(tag), "size_mb": image_size_mb(tag)})
    return rows


def remove_older(family: str, current: str) -> list[str]:
    """Earlier builds of ``family`` (each source change gives a new tag): removed, so that the engine's disk
    holds one image per family. One a container still runs is kept (docker refuses; it is not forced)."""
    done = _docker("image", "ls", "--filter", f"label=lakectl.image={family}", "--format",
                   "{{.Repository}}:{{.Tag}}", timeout=60)
    older = [tag for tag in done.stdout.split() if tag != current and not tag.endswith(":<none>")]
    for tag in older:
        _docker("image", "rm", tag, timeout=300)
    return older


# ---- derived images (Kubernetes) ---------------------------------------------------------------------------
# A family image plus files of the checkout, for what runs on Kubernetes without the checkout mounted: ``FROM`` the
# family's image (its tag passed as a build argument), a Dockerfile of deploy/images and a staged context. Tagged
# like the families: a hash of the family image's tag and the derived image's own inputs (context path -> file).
PROJECT_DIR = "/opt/lakectl/project"  # where airflow-project holds the project (LAKECTL_PROJECT_DIR on Kubernetes)
LAKECTL_BIN = "/usr/local/bin/lakectl"  # the base's lakectl entry point (deploy/images/base.Dockerfile)


@dataclass(frozen=True)
class Derived:
    name: str  # the image's name: lakectl/<name>
    family: str  # the family image it starts FROM
    base_arg: str  # the Dockerfile's ARG naming that image
    inputs: Callable[[], dict[str, Path]]  # build-context path -> source file (the Dockerfile among them)
    what: str  # for progress messages
    build_args: tuple[tuple[str, str], ...] = ()


def _kept(relative: Path) -> bool:
    """A file of the checkout worth shipping: no build output, caches, nor the Delta sink's Java sources (its jar
    is in the flink image already)."""
    drop = {"__pycache__", "target", "logs", "dbt_packages", ".lakectl", "delta_sink"}
    return not drop & set(relative.parts[:-1]) and relative.suffix != ".pyc" and not relative.name.startswith(".")


def _tree(prefix: str, root: Path) -> dict[str, Path]:
    return {f"{prefix}{path.relative_to(root).as_posix()}": path for path in _files(root)
            if _kept(path.relative_to(root))}


def _job_inputs() -> dict[str, Path]:
    """flink-job: the Dockerfile, the entry point, flink_jobs/ (without the Delta sink's Java sources) and
    lakectl/avro_sql.py, which job.py imports."""
    inputs = {"Dockerfile": images_dir() / "flink-job.Dockerfile",
              "flink-job-entrypoint.sh": images_dir() / "flink-job-entrypoint.sh",
              "avro_sql.py": ROOT / "lakectl" / "avro_sql.py", **_tree("flink_jobs/", ROOT / "flink_jobs")}
    return dict(sorted(inputs.items()))


# what a DAG task's lakectl reads in its project dir (dags/, the pipeline specs and schemas, the dbt project, the
# job files it submits, its settings) and lakectl itself, which the base image does not hold (compose mounts it)
PROJECT_FILES = ("lakectl", "dags", "schemas", "dbt_project", "flink_jobs", "deploy", "lakectl.toml",
                 "pyproject.toml")


def _project_inputs() -> dict[str, Path]:
    """airflow-project: the Dockerfile and the project under project/ (the layout of the checkout)."""
    inputs = {"Dockerfile": images_dir() / "airflow-project.Dockerfile"}
    for name in PROJECT_FILES:
        source = ROOT / name
        inputs.update(_tree(f"project/{name}/", source) if source.is_dir() else {f"project/{name}": source})
    return dict(sorted(inputs.items()))


DERIVED: dict[str, Derived] = {
    "flink-job": Derived("flink-job", "flink", "FLINK_IMAGE", _job_inputs, "the Flink jobs for Kubernetes"),
    "airflow-project": Derived("airflow-project", "airflow", "AIRFLOW_IMAGE", _project_inputs,
                               "Airflow with the project, for Kubernetes",
                               build_args=(("PROJECT_DIR", PROJECT_DIR),)),
}
JOB_FAMILY = "flink-job"


def _base_family(stack: StackContext, derived: Derived) -> tuple[str, list[ServiceSpec]]:
    members = families(all_services().values())[derived.family]
    return family_tag(stack, derived.family, members), members


def image_tag(stack: StackContext, name: str) -> str:
    """The current tag of any image lakectl builds: a derived image's, or a family's (all its services)."""
    if name in DERIVED:
        return derived_tag(stack, name)
    return family_tag(stack, name, families(all_services().values())[name])


def derived_tag(stack: StackContext, name: str) -> str:
    """``lakectl/<name>:<hash>``: of its family image's tag, its build arguments and its inputs."""
    derived = DERIVED[name]
    base, _ = _base_family(stack, derived)
    extra = [f"{k}={v}" for k, v in derived.build_args]
    key = _digest([base, *extra, *(part for path, source in derived.inputs().items()
                                   for part in (path, source.read_bytes()))])
    return f"{REPOSITORY}/{name}:{key}"


def job_image_tag(stack: StackContext) -> str:
    """``lakectl/flink-job:<hash>`` (``derived_tag``)."""
    return derived_tag(stack, JOB_FAMILY)


def stage_derived(name: str, context: Path) -> Path:
    """The build context of a derived image: its inputs copied to their context paths."""
    shutil.rmtree(context, ignore_errors=True)
    for path, source in DERIVED[name].inputs().items():
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, context / path)
    return context


def derived_build_args(stack: StackContext, name: str) -> list[str]:
    """``docker build`` arguments naming its family image and its own build arguments."""
    derived = DERIVED[name]
    base, _ = _base_family(stack, derived)
    pairs = [(derived.base_arg, base), *derived.build_args]
    return [arg for key, value in pairs for arg in ("--build-arg", f"{key}={value}")]


def ensure_derived_image(stack: StackContext, name: str, progress: Callable[[str], None],
                         rebuild: bool = False) -> Image:
    """A derived image, built (after the family image it starts FROM) when its tag does not exist."""
    derived = DERIVED[name]
    _, members = _base_family(stack, derived)
    ensure_images(stack, members, progress, rebuild=rebuild)
    base, _ = _base_family(stack, derived)
    tag = derived_tag(stack, name)
    started = time.monotonic()
    built = rebuild or not image_exists(tag)
    if built:
        log = stack.state_dir / "logs" / f"image-{name}.log"
        log.unlink(missing_ok=True)
        progress(f"building image {tag} ({derived.what}, FROM {base})")
        context = stage_derived(name, stack.cache_dir / "images" / f"{name}-context")
        done = _docker("build", *derived_build_args(stack, name), "--label", f"lakectl.image={name}", "-t", tag,
                       str(context), stdout_to=log)
        if done.returncode != 0:
            raise ComponentError(f"image {tag}: the build failed ({_tail(log)}); full log: {log}")
        remove_older(name, tag)
    return Image(name, tag, (), built, time.monotonic() - started, image_size_mb(tag))


def ensure_job_image(stack: StackContext, progress: Callable[[str], None], rebuild: bool = False) -> Image:
    """The Flink job image (``ensure_derived_image``)."""
    return ensure_derived_image(stack, JOB_FAMILY, progress, rebuild=rebuild)
