"""The compose runtime's images: build them (from the Debian base, see lakectl/runtime/images.py), list them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lakectl.errors import UsageError
from lakectl.runtime.base import ServiceSpec, StackContext
from lakectl.runtime.images import Image, ensure_images, families, listed
from lakectl.settings import LoadedSettings


def _specs(names: Sequence[str]) -> list[ServiceSpec]:
    from lakectl.runtime.service_table import all_services

    specs = list(all_services().values())
    table = families(specs)
    unknown = [name for name in names if name not in table]
    if unknown:
        raise UsageError(f"unknown image {unknown[0]!r} (lakectl builds: {', '.join(table)})")
    return [spec for spec in specs if not names or spec.image_family in names]


def build(loaded: LoadedSettings, names: Sequence[str], rebuild: bool, progress: Callable[[str], None]) -> list[Image]:
    return ensure_images(StackContext(loaded, "compose"), _specs(names), progress, rebuild=rebuild)


def list_images(loaded: LoadedSettings) -> list[dict]:
    return listed(StackContext(loaded, "compose"), _specs([]))
