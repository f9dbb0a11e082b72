"""Every service lakectl knows. Adding a service = adding a module under runtime/services/
and its name here; both runtimes pick it up from its ServiceSpec (``SPEC``, or ``SPECS`` when
one component runs as several processes, with ``ALIASES`` naming the group)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from functools import cache

from lakectl.errors import UsageError
from lakectl.runtime.base import RuntimeKind, ServiceSpec

# display and default start order; dependencies are resolved from each spec
SERVICE_MODULES = ("postgres", "kafka", "schema_registry", "object_store", "flink", "trino", "prometheus", "airflow",
                   "grafana", "superset")


def _modules():
    return [importlib.import_module(f"lakectl.runtime.services.{m}") for m in SERVICE_MODULES]


@cache
def load_catalog() -> dict[str, ServiceSpec]:
    specs = [spec for module in _modules() for spec in getattr(module, "SPECS", (getattr(module, "SPEC", None),))]
    return {spec.name: spec for spec in specs}


def for_runtime(kind: RuntimeKind) -> dict[str, ServiceSpec]:
    """The services a runtime can run: compose all of them, native those with a native recipe."""
    return {name: spec for name, spec in load_catalog().items() if kind == "compose" or spec.native is not None}


def unknown_service(name: str, known: Mapping[str, ServiceSpec]) -> UsageError:
    """The one-line error for a service name this runtime does not run."""
    spec = load_catalog().get(name)
    if spec is not None and name not in known:
        return UsageError(spec.not_native or f"{name} runs only in the compose runtime")
    return UsageError(f"unknown service {name!r} (known: {', '.join(known)})")


@cache
def aliases() -> dict[str, tuple[str, ...]]:
    return {name: members for module in _modules() for name, members in getattr(module, "ALIASES", {}).items()}


def expand(names: Sequence[str]) -> list[str]:
    """Service names with group aliases (``flink``) replaced by their members."""
    table = aliases()
    return [member for name in names for member in table.get(name, (name,))]
