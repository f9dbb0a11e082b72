"""Which runtime drives the stack: the one asked for, else the one that started it, else auto."""

from __future__ import annotations

import shutil
import subprocess

from lakectl.runtime.base import Runtime, RuntimeKind, StackContext
from lakectl.settings import LoadedSettings


def docker_engine_answers(timeout: float = 3.0) -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        done = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def recorded_kind(loaded: LoadedSettings) -> RuntimeKind | None:
    path = loaded.state_dir / "runtime"
    text = path.read_text().strip() if path.exists() else ""
    return text if text in ("native", "compose") else None  # type: ignore[return-value]


def record_kind(loaded: LoadedSettings, kind: RuntimeKind) -> None:
    loaded.state_dir.mkdir(parents=True, exist_ok=True)
    (loaded.state_dir / "runtime").write_text(kind + "\n")


def choose_kind(loaded: LoadedSettings, requested: str | None = None) -> RuntimeKind:
    wanted = requested or loaded.settings.runtime
    if wanted in ("native", "compose"):
        return wanted  # type: ignore[return-value]
    return recorded_kind(loaded) or ("compose" if docker_engine_answers() else "native")


def make_runtime(loaded: LoadedSettings, kind: RuntimeKind) -> Runtime:
    from lakectl.runtime.service_table import for_runtime

    stack = StackContext(loaded, kind)
    if kind == "compose":
        from lakectl.runtime.compose import ComposeRuntime

        return ComposeRuntime(stack, for_runtime(kind))
    from lakectl.runtime.native.runtime import NativeRuntime

    return NativeRuntime(stack, for_runtime(kind))


def start(loaded: LoadedSettings, services: list[str] | None, progress) -> tuple[RuntimeKind, list]:
    """Start ``services`` (all when None) and their dependencies; the statuses once every one is ready."""
    from lakectl.runtime.base import resolve_order
    from lakectl.runtime.service_table import expand

    kind = choose_kind(loaded)
    rt = make_runtime(loaded, kind)
    specs = resolve_order(rt.services, expand(services) if services else list(rt.services))
    record_kind(loaded, kind)
    return kind, rt.up(specs, loaded.settings.timeout, progress)
