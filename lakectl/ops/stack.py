"""The stack's lifecycle: up, down, status, logs, and the URL of a service (``open``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lakectl.errors import ServiceUnavailable
from lakectl.runtime.base import Runtime, ServiceSpec, ServiceStatus
from lakectl.runtime.select import RuntimeChoice
from lakectl.settings import LoadedSettings


@dataclass(frozen=True)
class StackStatus:
    runtime: str
    services: list[ServiceStatus]

    @property
    def unhealthy(self) -> list[str]:
        """Services that were started and do not answer their probe now."""
        return [s.name for s in self.services if s.state != "not-started" and s.healthy is False]

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "services": [s.to_dict() for s in self.services]}


@dataclass(frozen=True)
class Stopped:
    runtime: str
    stopped: list[str]
    purged: bool

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "stopped": self.stopped, "purged": self.purged}


@dataclass(frozen=True)
class ServiceUrl:
    service: str
    url: str

    @property
    def web(self) -> bool:
        return self.url.startswith(("http://", "https://"))


def specs_named(rt: Runtime, names: Sequence[str]) -> list[ServiceSpec]:
    """The specs of ``names`` (group aliases expanded) in the runtime's order; UsageError on an unknown one."""
    from lakectl.runtime.service_table import expand, unknown_service

    wanted = expand(names)
    unknown = [name for name in wanted if name not in rt.services]
    if unknown:
        raise unknown_service(unknown[0], rt.services)
    return [spec for name, spec in rt.services.items() if name in wanted]


def up(loaded: LoadedSettings, services: list[str] | None, progress: Callable[[str], None],
       announce: Callable[[RuntimeChoice], None] | None = None) -> StackStatus:
    """Start ``services`` (all when None) and what they depend on; once every one is ready, their status.
    ``announce`` hears which runtime runs them and why, before anything starts."""
    from lakectl.runtime.select import start

    choice, statuses = start(loaded, services, progress, announce)
    return StackStatus(choice.kind, statuses)


def down(rt: Runtime, services: list[str] | None, purge: bool, progress: Callable[[str], None]) -> Stopped:
    specs = specs_named(rt, services) if services else list(rt.services.values())
    rt.down(specs, purge, progress)
    return Stopped(rt.kind, [s.name for s in specs], purge)


def status(rt: Runtime) -> StackStatus:
    return StackStatus(rt.kind, rt.status(list(rt.services.values())))


def logs(rt: Runtime, service: str, tail: int | None, follow: bool) -> Iterator[str]:
    if service not in rt.services:
        from lakectl.runtime.service_table import unknown_service

        raise unknown_service(service, rt.services)
    return rt.logs(rt.services[service], tail, follow)


def service_url(rt: Runtime, service: str) -> ServiceUrl:
    """Where ``service`` answers (``Runtime.endpoint``). One that no setting can point elsewhere
    (``ServiceSpec.remote_url`` None) must be running on this stack: ServiceUnavailable otherwise."""
    spec = specs_named(rt, [service])[0]  # a group (flink) answers at its first member (the JobManager)
    name = spec.name
    url = rt.endpoint(name)
    if spec.remote_url is None:  # only this stack runs it (no URL setting can point elsewhere): is it up?
        state = rt.status([spec])[0].state
        if state != "running":
            raise ServiceUnavailable(f"{name} is not running ({state}) at {url}", hint=f"lakectl up {service}")
    return ServiceUrl(name, url)
