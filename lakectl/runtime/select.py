"""Which runtime drives the stack: the one asked for, else the one that started it, else auto."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from lakectl.runtime.base import Runtime, RuntimeKind, StackContext
from lakectl.settings import LoadedSettings


@dataclass(frozen=True)
class RuntimeChoice:
    """Which runtime drives the stack, and why (said on stderr when ``up`` starts it)."""

    kind: RuntimeKind
    reason: str


def docker_engine_version(timeout: float = 3.0) -> str | None:
    """The Docker engine's version when one answers (the docker CLI alone is not an engine)."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        done = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or "?") if done.returncode == 0 else None


def compose_runtime() -> tuple[bool, str]:
    """Can the compose runtime run here: a Docker engine AND Docker Compose v2 both answer (an engine
    without Compose cannot run the stack). The reason says what answered."""
    engine = docker_engine_version()
    if engine is None:
        return False, "no Docker engine answers"
    from lakectl.runtime.compose import compose_v2

    compose = compose_v2()
    if compose is None:
        return False, f"Docker engine {engine} answers, but no Docker Compose v2 was found"
    return True, f"Docker engine {engine} and Docker Compose {compose[0]} answer"


def recorded_kind(loaded: LoadedSettings) -> RuntimeKind | None:
    path = loaded.state_dir / "runtime"
    text = path.read_text().strip() if path.exists() else ""
    return text if text in ("native", "compose") else None  # type: ignore[return-value]


def record_kind(loaded: LoadedSettings, kind: RuntimeKind) -> None:
    loaded.state_dir.mkdir(parents=True, exist_ok=True)
    (loaded.state_dir / "runtime").write_text(kind + "\n")


def choose(loaded: LoadedSettings) -> RuntimeChoice:
    """The runtime asked for; else the one that started this stack; else compose when a Docker engine AND
    Compose v2 both answer, native otherwise (an engine without Compose cannot run the stack)."""
    wanted = loaded.settings.runtime
    if wanted in ("native", "compose"):
        source = loaded.sources.get("runtime", "the settings")
        source = {"flag": "--runtime", "env": "LAKECTL_RUNTIME"}.get(source, source)
        return RuntimeChoice(wanted, f"asked for by {source}")  # type: ignore[arg-type]
    recorded = recorded_kind(loaded)
    if recorded:
        return RuntimeChoice(recorded, f"the one this stack was started with ({loaded.state_dir / 'runtime'})")
    available, why = compose_runtime()
    return RuntimeChoice("compose" if available else "native", f"auto: {why}")


def choose_kind(loaded: LoadedSettings) -> RuntimeKind:
    return choose(loaded).kind


def make_runtime(loaded: LoadedSettings, kind: RuntimeKind) -> Runtime:
    from lakectl.runtime.service_table import for_runtime

    stack = StackContext(loaded, kind)
    if kind == "compose":
        from lakectl.runtime.compose import ComposeRuntime

        return ComposeRuntime(stack, for_runtime(kind))
    from lakectl.runtime.native.runtime import NativeRuntime

    return NativeRuntime(stack, for_runtime(kind))


def start(loaded: LoadedSettings, services: list[str] | None, progress,
          announce=None) -> tuple[RuntimeChoice, list]:
    """Start ``services`` (all when None) and their dependencies; the statuses once every one is ready.
    ``announce`` hears which runtime was chosen and why, before anything starts."""
    from lakectl.runtime.base import resolve_order
    from lakectl.runtime.service_table import expand

    choice = choose(loaded)
    rt = make_runtime(loaded, choice.kind)
    specs = resolve_order(rt.services, expand(services) if services else rt.default_services())  # bad names: here
    if announce is not None:
        announce(choice)
    record_kind(loaded, choice.kind)
    return choice, rt.up(specs, loaded.settings.timeout, progress)
