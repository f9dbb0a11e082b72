"""Every service lakectl knows. Adding a service = adding a module under runtime/services/
and its name here; both runtimes pick it up from its ServiceSpec."""

from __future__ import annotations

import importlib
from functools import cache

from lakectl.runtime.base import ServiceSpec

# display and default start order; dependencies are resolved from each spec
SERVICE_MODULES = ("postgres", "kafka", "schema_registry")


@cache
def load_catalog() -> dict[str, ServiceSpec]:
    specs = [importlib.import_module(f"lakectl.runtime.services.{m}").SPEC for m in SERVICE_MODULES]
    return {spec.name: spec for spec in specs}
