"""Deploying the stack elsewhere: ``render_to`` writes the Kubernetes manifests of the stack and its pipelines
(lakectl/runtime/kubernetes/render) into a directory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakectl.errors import UsageError
from lakectl.settings import LoadedSettings

TARGETS = ("kubernetes",)


@dataclass
class RenderResult:
    target: str
    out_dir: Path
    files: list[Path]
    kinds: dict[str, int] = field(default_factory=dict)  # objects rendered, by kind

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "out_dir": str(self.out_dir), "files": [str(p) for p in self.files],
                "kinds": self.kinds, "objects": sum(self.kinds.values())}


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise UsageError(f"--target {target!r}: lakectl renders for {', '.join(TARGETS)} only")
    return target


def render_to(loaded: LoadedSettings, out_dir: Path, pipelines: Sequence[str] | None = None, *,
              target: str = "kubernetes", directory: Path | None = None) -> RenderResult:
    """Render the manifests for ``target`` (the stack, and the named pipelines or every declared one) into
    ``out_dir``; an unknown pipeline is a UsageError before anything is written."""
    check_target(target)
    from lakectl.runtime.kubernetes import render

    objects = render.render(loaded, list(pipelines) if pipelines else None, directory=directory)
    files = render.write(objects, out_dir, image_prefix=loaded.settings.kubernetes.image_prefix)
    kinds = dict(sorted(Counter(obj["kind"] for obj in objects).items()))
    return RenderResult(target, out_dir, files, kinds)
