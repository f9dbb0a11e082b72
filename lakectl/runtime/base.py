"""The service description both runtimes read, and the runtime interface.

A service is described once (``ServiceSpec``): name, dependencies, ports, how to build its URL,
its readiness probe, its compose service name and its native recipe. ``NativeRuntime`` and
``ComposeRuntime`` both start from these descriptions.
"""

from __future__ import annotations

import json
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lakectl.errors import UsageError
from lakectl.runtime.waiting import Probe
from lakectl.settings import LoadedSettings

if TYPE_CHECKING:
    from lakectl.runtime.native.recipe import NativeRecipe

RuntimeKind = Literal["native", "compose"]
LOCALHOST = "127.0.0.1"


@dataclass
class StackContext:
    """What a service description needs to know about this stack: settings, paths, secrets."""

    loaded: LoadedSettings
    kind: RuntimeKind

    @property
    def settings(self):
        return self.loaded.settings

    @property
    def state_dir(self) -> Path:
        return self.loaded.state_dir

    @property
    def cache_dir(self) -> Path:
        return self.loaded.cache_dir

    def port(self, spec: ServiceSpec, name: str = "main") -> int:
        key = spec.name if name == "main" else f"{spec.name}.{name}"
        return self.settings.port(key, spec.ports[name])

    def secret(self, name: str) -> str:
        """A generated secret of the local stack, kept in ``<state>/secrets.json`` (mode 0600)."""
        return self.stack_secrets(name)[name]

    def stack_secrets(self, *wanted: str) -> dict[str, str]:
        """The stack's generated secrets; any name in ``wanted`` that does not exist yet is created."""
        path = self.state_dir / "secrets.json"
        wanted = wanted or STACK_SECRETS
        current: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        if all(name in current for name in wanted):
            return current
        for name in wanted:
            current.setdefault(name, secrets.token_urlsafe(24) if not name.endswith("_key_id") else _access_key())
        write_private(path, json.dumps(current, indent=2))
        return current


def write_private(path: Path, text: str) -> None:
    """Write a file that holds secrets: 0600 from the first byte (never a moment where it is
    world-readable), through a temp file and a rename, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(path.with_suffix(".tmp"), path)


# every secret the local stack generates on first use (compose gets all of them in its env file)
STACK_SECRETS = ("postgres_password", "object_store_key_id", "object_store_secret", "airflow_admin_password",
                 "airflow_jwt_secret", "airflow_secret_key", "grafana_admin_password", "superset_admin_password",
                 "superset_secret_key")


def _access_key() -> str:
    """An S3 access key id: 20 upper-case alphanumerics, the shape S3 clients expect."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "LK" + "".join(secrets.choice(alphabet) for _ in range(18))


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    summary: str
    ports: Mapping[str, int]
    url: Callable[[StackContext], str]
    probe: Callable[[StackContext], Probe]
    # None: the service runs only in compose (no registry serves it natively, e.g. Grafana)
    native: Callable[[StackContext], NativeRecipe] | None
    # started with it, and ready before it is reported ready (and its after_ready runs)
    depends_on: tuple[str, ...] = ()
    # the part of depends_on that must be ready before it starts at all (None: all of it); the rest
    # starts alongside, so that a slow-starting JVM does not wait on a service it needs only later
    starts_after: tuple[str, ...] | None = None
    compose_service: str | None = None
    # done once the service answers, e.g. setting the registry's default compatibility
    after_ready: Callable[[StackContext], None] | None = None
    # variables the compose file needs from lakectl before `up` (e.g. a directory of cached jars)
    compose_env: Callable[[StackContext], dict[str, str]] | None = None
    # why a compose-only service (``native`` None) has no native runtime: the error natively
    not_native: str = ""

    @property
    def start_dependencies(self) -> tuple[str, ...]:
        return self.depends_on if self.starts_after is None else self.starts_after

    @property
    def compose_name(self) -> str:
        return self.compose_service or self.name


@dataclass
class ServiceStatus:
    name: str
    state: str  # running | stopped | exited | not-started
    healthy: bool | None
    url: str
    runtime: str
    pid: int | None = None
    uptime_s: float | None = None
    rss_mb: float | None = None
    detail: str = ""
    log: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "state": self.state,
            "healthy": self.healthy,
            "url": self.url,
            "runtime": self.runtime,
            "pid": self.pid,
            "uptime_s": self.uptime_s,
            "rss_mb": self.rss_mb,
            "detail": self.detail,
            "log": self.log,
        }
        data.update(self.extra)
        return data


def resolve_order(catalog: Mapping[str, ServiceSpec], names: Sequence[str]) -> list[ServiceSpec]:
    """The named services and everything they depend on, dependencies first."""
    ordered: list[ServiceSpec] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise UsageError(f"dependency cycle: {' -> '.join((*path, name))}")
        if name in seen:
            return
        if name not in catalog:
            from lakectl.runtime.catalog import unknown_service

            raise unknown_service(name, catalog)
        for dependency in catalog[name].depends_on:
            visit(dependency, (*path, name))
        seen.add(name)
        ordered.append(catalog[name])

    for name in names:
        visit(name, ())
    return ordered


class Runtime(ABC):
    kind: RuntimeKind

    def __init__(self, stack: StackContext, catalog: Mapping[str, ServiceSpec]) -> None:
        self.stack = stack
        self.catalog = catalog

    @abstractmethod
    def up(
        self, services: Sequence[ServiceSpec], timeout: float, progress: Callable[[str], None]
    ) -> list[ServiceStatus]: ...

    @abstractmethod
    def down(self, services: Sequence[ServiceSpec], purge: bool, progress: Callable[[str], None]) -> None: ...

    @abstractmethod
    def status(self, services: Sequence[ServiceSpec]) -> list[ServiceStatus]: ...

    @abstractmethod
    def logs(self, spec: ServiceSpec, tail: int | None, follow: bool) -> Iterator[str]: ...

    def url(self, name: str) -> str:
        return self.catalog[name].url(self.stack)
