"""The compose runtime's images: build them (from the Debian base, see lakectl/runtime/images.py), list them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lakectl.errors import UsageError
from lakectl.runtime.base import ServiceSpec, StackContext
from lakectl.runtime.images import (
    JOB_FAMILY,
    Image,
    ensure_images,
    ensure_job_image,
    families,
    image_exists,
    image_size_mb,
    job_image_tag,
    listed,
)
from lakectl.settings import LoadedSettings


def _specs(names: Sequence[str]) -> list[ServiceSpec]:
    from lakectl.runtime.service_table import all_services

    specs = list(all_services().values())
    table = families(specs)
    unknown = [name for name in names if name not in table and name != JOB_FAMILY]
    if unknown:
        raise UsageError(f"unknown image {unknown[0]!r} (lakectl builds: {', '.join([*table, JOB_FAMILY])})")
    return [spec for spec in specs if not names or spec.image_family in names]


def build(loaded: LoadedSettings, names: Sequence[str], rebuild: bool, progress: Callable[[str], None]) -> list[Image]:
    """The named families' images (all of them when none is named); ``flink-job``, the image the Kubernetes
    Flink jobs run, only when named (it starts FROM the flink family's)."""
    stack = StackContext(loaded, "compose")
    families_named = [name for name in names if name != JOB_FAMILY]
    images = ensure_images(stack, _specs(families_named), progress, rebuild=rebuild) if families_named or not names \
        else []
    if JOB_FAMILY in names:
        images.append(ensure_job_image(stack, progress, rebuild=rebuild))
    return images


def list_images(loaded: LoadedSettings) -> list[dict]:
    """The compose families' images, and the Flink job image once it is built (``image build flink-job``)."""
    stack = StackContext(loaded, "compose")
    rows = listed(stack, _specs([]))
    tag = job_image_tag(stack)
    if image_exists(tag):
        rows.append({"family": JOB_FAMILY, "image": tag, "services": [], "built": True, "size_mb": image_size_mb(tag)})
    return rows
