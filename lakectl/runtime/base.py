"""The service description both runtimes read, and the runtime interface.

A service is described once (``ServiceSpec``): name, dependencies, ports, how to build its URL,
its readiness probe, the secrets it needs, its Java and version, the setting that points it
elsewhere, its image family and its native recipe (which its compose container runs too).
``NativeRuntime`` and ``ComposeRuntime`` both start from these descriptions; the list of them is
``lakectl.runtime.services.SERVICES``.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from secrets import choice, token_urlsafe
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lakectl.errors import ServiceUnavailable, UsageError
from lakectl.runtime.waiting import Probe, port_holder, port_is_free
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

    @property
    def data_root(self) -> Path:
        """Where services keep their data: ``<state>/native`` natively, ``<state>/compose`` for the
        containers (the state dir is bind-mounted into them at its own path), so the two never mix."""
        return self.state_dir / ("compose" if self.kind == "compose" else "native")

    def port(self, spec: ServiceSpec, name: str = "main") -> int:
        key = spec.name if name == "main" else f"{spec.name}.{name}"
        return self.settings.port(key, spec.ports[name])

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"

    def ensure_secrets(self) -> dict[str, str]:
        """Generate every secret the stack's services declare (``ServiceSpec.secrets``) that
        ``<state>/secrets.json`` (mode 0600) does not hold yet; called when the stack is started and
        when the compose env file is written. Returns all of them."""
        from lakectl.runtime.service_table import stack_secret_names

        current = self._read_secrets()
        missing = [name for name in stack_secret_names() if name not in current]
        if missing:
            for name in missing:
                current[name] = _access_key() if name.endswith("_key_id") else token_urlsafe(24)
            write_private(self.secrets_file, json.dumps(current, indent=2))
        return current

    def secret(self, name: str) -> str:
        """A generated secret of the local stack; read only: ServiceUnavailable when the stack never
        generated it (it was never started here)."""
        return self.secrets(name)[name]

    def generated_secret(self, name: str) -> str:
        """A secret lakectl makes for something it sets up (e.g. a CDC pipeline's replication user): read from
        the 0600 secrets file, generated into it the first time."""
        current = self._read_secrets()
        if name not in current:
            current[name] = token_urlsafe(24)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            write_private(self.secrets_file, json.dumps(current, indent=2))
        return current[name]

    def secrets(self, *names: str) -> dict[str, str]:
        """The named generated secrets (read only; see ``secret``)."""
        current = self._read_secrets()
        missing = [name for name in names if name not in current]
        if missing:
            raise ServiceUnavailable(f"the local stack has no {', '.join(missing)} in {self.secrets_file}: "
                                     "it was never started with this state dir", hint="lakectl up")
        return {name: current[name] for name in names}

    def _read_secrets(self) -> dict[str, str]:
        path = self.secrets_file
        return json.loads(path.read_text()) if path.exists() else {}


def write_private(path: Path, text: str) -> None:
    """Write a file that holds secrets: 0600 from the first byte (never a moment where it is
    world-readable), through a temp file and a rename, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temp name of this process's own: compose containers sharing the state dir may write one file at once
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temp, path)


def _access_key() -> str:
    """An S3 access key id: 20 upper-case alphanumerics, the shape S3 clients expect."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "LK" + "".join(choice(alphabet) for _ in range(18))


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    summary: str
    ports: Mapping[str, int]
    probe: Callable[[StackContext], Probe]
    # None: the service runs only in compose (no registry serves it natively, e.g. Grafana)
    native: Callable[[StackContext], NativeRecipe] | None
    # None: http://127.0.0.1:<its main port> (set in __post_init__), what most services serve
    url: Callable[[StackContext], str] = None  # type: ignore[assignment]
    # started with it, and ready before it is reported ready (and its after_ready runs)
    depends_on: tuple[str, ...] = ()
    # the part of depends_on that must be ready before it starts at all (None: all of it); the rest
    # starts alongside, so that a slow-starting JVM does not wait on a service it needs only later
    starts_after: tuple[str, ...] | None = None
    # done once the service answers, e.g. setting the registry's default compatibility
    after_ready: Callable[[StackContext], None] | None = None
    # why a compose-only service (``native`` None) has no native runtime: the error natively
    not_native: str = ""
    # the generated secrets it needs (kept in <state>/secrets.json, which its process reads; a compose
    # service that runs no lakectl, e.g. Grafana, gets them through the 0600 env file)
    secrets: tuple[str, ...] = ()
    # the Java majors its native process runs on: (minimum, maximum or None); None: not a JVM
    java: tuple[int, int | None] | None = None
    # the version it runs (lakectl.runtime.versions); "" where a distribution package decides
    version: str = ""
    # the setting that points lakectl at another instance instead of the local one, e.g. "trino.url"
    remote_url: str | None = None
    # the alias naming the services one component runs as (``lakectl up flink``)
    group: str | None = None
    # the image (lakectl/<family>) its compose container runs, when not the group's or its own name
    image: str | None = None
    # a path inside its compose container kept in the named volume <name>-data (besides the state dir):
    # PostgreSQL's cluster as root, which the unprivileged server user must reach (postgres.cluster_dir)
    container_data: str | None = None
    # how long compose waits after SIGTERM before it kills the container (a clean shutdown: Kafka, PostgreSQL)
    stop_grace_s: int = 30
    # started again whenever it exits until lakectl stops it: for services that exit by design when a
    # dependency goes away (Airflow's scheduler on a lost database). Natively a supervisor process does
    # it (lakectl.runtime.native.supervise); compose gets ``restart: unless-stopped``
    restart: bool = False
    # not started by a plain ``lakectl up`` (in either runtime; ``lakectl up NAME`` starts it): a service few
    # stacks need and that costs a JVM, e.g. the Kafka Connect worker. Its compose service is under a profile of
    # its own name, so ``docker compose up`` by hand leaves it off too
    optional: bool = False
    # a service lakectl builds no image for (``native`` None): its compose service as it stands
    # (image, environment, volumes; lakectl.runtime.compose_file adds the rest)
    compose: Callable[[], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.url is None:
            object.__setattr__(self, "url", lambda stack: f"http://{LOCALHOST}:{stack.port(self)}")

    @property
    def start_dependencies(self) -> tuple[str, ...]:
        return self.depends_on if self.starts_after is None else self.starts_after

    @property
    def image_family(self) -> str:
        """The lakectl image its container runs (``lakectl/<family>``): one per component."""
        return self.image or self.group or self.name

    def remote(self, settings: Any) -> str | None:
        """The URL ``remote_url`` names in ``settings`` (None when unset, or the service has none)."""
        if self.remote_url is None:
            return None
        section, field_name = self.remote_url.split(".")
        return getattr(getattr(settings, section), field_name)


class ServiceEvent(str):
    """One service's progress during ``up``: a plain message for whoever logs lines ("kafka ready",
    "starting kafka"), and data for whoever draws a live table (service, state, seconds since ``up``
    began, detail)."""

    service: str
    state: str  # waiting | starting | ready | failed
    seconds: float
    detail: str

    TEXT: ClassVar[dict[str, str]] = {"waiting": "{0} waiting", "starting": "starting {0}", "ready": "{0} ready",
                                      "failed": "{0} failed"}

    def __new__(cls, service: str, state: str, seconds: float, detail: str = "") -> ServiceEvent:
        event = super().__new__(cls, cls.TEXT[state].format(service))
        event.service, event.state, event.seconds, event.detail = service, state, seconds, detail
        return event


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


def resolve_order(services: Mapping[str, ServiceSpec], names: Sequence[str]) -> list[ServiceSpec]:
    """The named services and everything they depend on, dependencies first."""
    ordered: list[ServiceSpec] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise UsageError(f"dependency cycle: {' -> '.join((*path, name))}")
        if name in seen:
            return
        if name not in services:
            from lakectl.runtime.service_table import unknown_service

            raise unknown_service(name, services)
        for dependency in services[name].depends_on:
            visit(dependency, (*path, name))
        seen.add(name)
        ordered.append(services[name])

    for name in names:
        visit(name, ())
    return ordered


class Runtime(ABC):
    kind: RuntimeKind

    def __init__(self, stack: StackContext, services: Mapping[str, ServiceSpec]) -> None:
        self.stack = stack
        # every service this runtime can run, by name
        self.services = services

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

    # what the one readiness loop (runtime/readiness.py) needs from each runtime
    @abstractmethod
    def start_service(self, spec: ServiceSpec) -> bool:
        """Start ``spec`` unless it runs already (idempotent); True when this call started it."""

    @abstractmethod
    def exited(self, specs: Sequence[ServiceSpec]) -> dict[str, str]:
        """Of ``specs`` (started, not ready yet): name -> why it is gone, for each that stopped running."""

    @abstractmethod
    def log_location(self, spec: ServiceSpec) -> str:
        """Where to read ``spec``'s log (a path, or the command that prints it)."""

    def check_ports(self, spec: ServiceSpec) -> None:
        """Before ``spec`` starts: every port it binds is free on 127.0.0.1 (in both runtimes it binds
        the host's own; a container shares the host's network), else one line naming the holder."""
        for port_name in spec.ports:
            port = self.stack.port(spec, port_name)
            if not port_is_free(port):
                raise ServiceUnavailable(
                    f"{spec.name}: port {port} on {LOCALHOST} is taken by {port_holder(port)}",
                    hint=f"stop it, or set ports.\"{spec.name}{'' if port_name == 'main' else '.' + port_name}\" "
                    "in lakectl.toml",
                )

    def default_services(self) -> list[str]:
        """What ``up`` with no names starts: every service this runtime runs but the optional ones."""
        return [name for name, spec in self.services.items() if not spec.optional]

    def url(self, name: str) -> str:
        """Where this stack's ``name`` answers."""
        return self.services[name].url(self.stack)

    def endpoint(self, name: str) -> str:
        """Where lakectl reaches ``name``: the URL its remote setting names (``ServiceSpec.remote_url``,
        e.g. ``trino.url``) when set, else this stack's."""
        return self.services[name].remote(self.stack.settings) or self.url(name)
