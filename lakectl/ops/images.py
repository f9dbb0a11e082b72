"""The compose runtime's images: build them (from the Debian base, see lakectl/runtime/images.py), list them;
and the images derived from them for Kubernetes (``DERIVED``: flink-job, airflow-project)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lakectl.errors import UsageError
from lakectl.runtime.base import ServiceSpec, StackContext
from lakectl.runtime.images import (
    DERIVED,
    Image,
    derived_tag,
    ensure_derived_image,
    ensure_images,
    families,
    image_exists,
    image_size_mb,
    listed,
)
from lakectl.settings import LoadedSettings


def _specs(names: Sequence[str]) -> list[ServiceSpec]:
    from lakectl.runtime.service_table import all_services

    specs = list(all_services().values())
    table = families(specs)
    unknown = [name for name in names if name not in table and name not in DERIVED]
    if unknown:
        raise UsageError(f"unknown image {unknown[0]!r} (lakectl builds: {', '.join([*table, *DERIVED])})")
    return [spec for spec in specs if not names or spec.image_family in names]


def build(loaded: LoadedSettings, names: Sequence[str], rebuild: bool, progress: Callable[[str], None]) -> list[Image]:
    """The named families' images (all of them when none is named); a derived image (flink-job, airflow-project:
    what Kubernetes runs) only when named, after the family image it starts FROM."""
    stack = StackContext(loaded, "compose")
    families_named = [name for name in names if name not in DERIVED]
    specs = _specs(names)  # refuses an unknown name before anything is built
    images = ensure_images(stack, specs, progress, rebuild=rebuild) if families_named or not names else []
    for name in dict.fromkeys(name for name in names if name in DERIVED):
        images.append(ensure_derived_image(stack, name, progress, rebuild=rebuild))
    return images


def list_images(loaded: LoadedSettings) -> list[dict]:
    """The compose families' images, and each derived image once it is built (``image build <name>``)."""
    stack = StackContext(loaded, "compose")
    rows = listed(stack, _specs([]))
    for name in DERIVED:
        tag = derived_tag(stack, name)
        if image_exists(tag):
            rows.append({"family": name, "image": tag, "services": [], "built": True, "size_mb": image_size_mb(tag)})
    return rows
