"""Lookups over ``lakectl.runtime.services.SERVICES``: by name, per runtime, group aliases, secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from lakectl.errors import UsageError
from lakectl.runtime.base import RuntimeKind, ServiceSpec


@cache
def all_services() -> dict[str, ServiceSpec]:
    """Every service lakectl knows, by name, in display and default start order."""
    from lakectl.runtime.services import SERVICES

    return {spec.name: spec for spec in SERVICES}


def for_runtime(kind: RuntimeKind) -> dict[str, ServiceSpec]:
    """The services a runtime can run: compose all of them, native those with a native recipe."""
    return {name: spec for name, spec in all_services().items() if kind == "compose" or spec.native is not None}


def unknown_service(name: str, known: Mapping[str, ServiceSpec]) -> UsageError:
    """The one-line error for a service name this runtime does not run."""
    spec = all_services().get(name)
    if spec is not None and name not in known:
        return UsageError(spec.not_native or f"{name} runs only in the compose runtime")
    return UsageError(f"unknown service {name!r} (known: {', '.join(known)})")


@cache
def aliases() -> dict[str, tuple[str, ...]]:
    """Group name -> the services of that group (``flink`` -> its JobManager, TaskManager, SQL Gateway)."""
    table: dict[str, tuple[str, ...]] = {}
    for spec in all_services().values():
        if spec.group:
            table[spec.group] = (*table.get(spec.group, ()), spec.name)
    return table


def expand(names: Sequence[str]) -> list[str]:
    """Service names with group aliases (``flink``) replaced by their members."""
    table = aliases()
    return [member for name in names for member in table.get(name, (name,))]


def stack_secret_names() -> tuple[str, ...]:
    """Every secret the local stack generates (compose gets all of them in its env file)."""
    return tuple(dict.fromkeys(name for spec in all_services().values() for name in spec.secrets))
