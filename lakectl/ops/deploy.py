"""`lakectl deploy`: put the rendered Kubernetes objects on a cluster (server-side apply) and say what would
change (server-side dry-run against the live objects). The objects come from the renderer
(``rendered_objects``) or from a file (``objects_from_file``: what `deploy render` wrote, or any manifests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl.errors import UsageError

if TYPE_CHECKING:
    from lakectl.components.kubernetes import KubernetesClient, ObjectDiff
    from lakectl.settings import LoadedSettings

# applied first: what other objects live in (namespaces) or are instances of (CRDs)
_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}


def rendered_objects(loaded: LoadedSettings, pipelines: list[str] | None = None) -> list[dict]:
    """The stack's objects and those of ``pipelines`` (None: every declared pipeline), from the renderer."""
    try:
        from lakectl.runtime.kubernetes.render import render
    except ImportError:  # the renderer arrives in its own change; until then manifests come from a file
        raise UsageError("this lakectl has no Kubernetes renderer yet", hint="pass manifests with --file") from None
    return render(loaded, pipelines or [])


def objects_from_file(path: Path) -> list[dict]:
    """The objects of a YAML (or JSON) file, one or more documents; ``List`` kinds are unpacked."""
    import yaml

    try:
        documents = list(yaml.safe_load_all(path.read_text()))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not YAML: {' '.join(str(exc).split())[:200]}") from None
    objects = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise UsageError(f"{path}: a document is not an object (a mapping with apiVersion and kind)")
        objects += document.get("items") or [] if document.get("kind", "").endswith("List") else [document]
    for obj in objects:
        if not obj.get("apiVersion") or not obj.get("kind") or not (obj.get("metadata") or {}).get("name"):
            raise UsageError(f"{path}: an object without apiVersion, kind or metadata.name")
    return objects


def in_order(objects: list[dict]) -> list[dict]:
    """Namespaces, then CRDs, then the rest, each group in the order given."""
    return sorted(objects, key=lambda obj: _FIRST.get(obj.get("kind", ""), 2))


@dataclass(frozen=True)
class AppliedObject:
    kind: str
    name: str
    namespace: str | None
    api_version: str


@dataclass
class ApplyResult:
    context: str
    server: str
    namespace: str
    dry_run: bool
    objects: list[AppliedObject] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DiffResult:
    context: str
    server: str
    namespace: str
    objects: list[ObjectDiff] = field(default_factory=list)

    @property
    def changed(self) -> list[ObjectDiff]:
        return [o for o in self.objects if o.action != "unchanged"]

    def to_dict(self) -> dict:
        return {"context": self.context, "server": self.server, "namespace": self.namespace,
                "changed": len(self.changed), "objects": [o.to_dict() for o in self.objects]}


def apply(client: KubernetesClient, objects: list[dict], namespace: str, *, dry_run: bool = False) -> ApplyResult:
    """Server-side apply of ``objects`` (namespaced ones without a namespace go to ``namespace``)."""
    result = ApplyResult(client.context, client.server, namespace, dry_run)
    for live in client.apply(in_order(objects), namespace=namespace, dry_run=dry_run):
        metadata = live.get("metadata") or {}
        result.objects.append(AppliedObject(live.get("kind", ""), metadata.get("name", ""), metadata.get("namespace"),
                                            live.get("apiVersion", "")))
    return result


def diff(client: KubernetesClient, objects: list[dict], namespace: str) -> DiffResult:
    """What applying ``objects`` would change on the cluster, object by object."""
    return DiffResult(client.context, client.server, namespace, client.diff(in_order(objects), namespace=namespace))
