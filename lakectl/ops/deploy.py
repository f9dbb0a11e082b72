"""`lakectl deploy`: the Kubernetes manifests of the stack and its pipelines (``render_to`` writes them into a
directory: lakectl/runtime/kubernetes/render), put on a cluster by server-side apply (``apply``), and what would
change (``diff``: a server-side dry-run against the live objects). apply and diff take the objects from the
renderer (``rendered_objects``) or from files (``objects_from_file``: what `deploy render` wrote, or any
manifests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakectl.errors import UsageError

if TYPE_CHECKING:
    from lakectl.components.kubernetes import KubernetesClient, ObjectDiff
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


def cluster_connectors(loaded: LoadedSettings, files: Sequence[Path], sets: Sequence[str] = ()) -> list:
    """Connector files (deploy/connect/*.json) as the cluster's KafkaConnectors: their ``${...}`` filled with the
    cluster's addresses (``bootstrap_servers``: the rendered Kafka; ``registry_url``: the rendered registry) and
    ``sets`` (``key=value``, which win). A secret belongs in a Secret the worker reads (``${env:NAME}``)."""
    from lakectl.ops import connect
    from lakectl.ops.placeholders import Lazy
    from lakectl.runtime.kubernetes.render import connect as kube_connect
    from lakectl.runtime.kubernetes.render import kafka, registry

    values = connect.with_args(Lazy({"bootstrap_servers": lambda: kafka.bootstrap(loaded),
                                     "registry_url": lambda: registry.url(loaded)}), list(sets))
    loaded_files = [connect.load(path, values) for path in files]
    names = [item.name for item in loaded_files]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise UsageError(f"--connector: two files name the connector {duplicated[0]!r}")
    return [kube_connect.Connector(item.name, item.config) for item in loaded_files]


def render_to(loaded: LoadedSettings, out_dir: Path, pipelines: Sequence[str] | None = None, *,
              target: str = "kubernetes", directory: Path | None = None, connectors: Sequence = ()) -> RenderResult:
    """Render the manifests for ``target`` (the stack, and the named pipelines or every declared one, and the
    ``connectors``: ``cluster_connectors``) into ``out_dir``; an unknown pipeline is a UsageError before anything
    is written."""
    check_target(target)
    from lakectl.runtime.kubernetes import render

    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file: the manifests go into a directory")
    objects = render.render(loaded, list(pipelines) if pipelines else None, directory=directory,
                            connectors=connectors)
    try:
        files = render.write(objects, out_dir, image_prefix=loaded.settings.kubernetes.image_prefix)
    except OSError as exc:  # a parent that is a file, no permission, a read-only file system
        raise UsageError(f"cannot write the manifests into {out_dir}: {exc.strerror or exc}") from None
    kinds = dict(sorted(Counter(obj["kind"] for obj in objects).items()))
    return RenderResult(target, out_dir, files, kinds)


# applied first: what other objects live in (namespaces) or are instances of (CRDs)
_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}


def rendered_objects(loaded: LoadedSettings, pipelines: list[str] | None = None) -> list[dict]:
    """The stack's objects and those of ``pipelines`` (None: every declared pipeline), from the renderer."""
    from lakectl.runtime.kubernetes.render import render

    return render(loaded, list(pipelines) if pipelines else None)


def objects_from_file(path: Path) -> list[dict]:
    """The objects of a YAML (or JSON) file, one or more documents; ``List`` kinds are unpacked. A directory (what
    `deploy render` wrote): its *.yaml files in name order, kustomization.yaml left out."""
    import yaml

    if path.is_dir():
        files = sorted(p for p in path.glob("*.yaml") if p.name != "kustomization.yaml")
        if not files:
            raise UsageError(f"{path}: no *.yaml manifests in it (lakectl deploy render --out {path} writes them)")
        return [obj for file in files for obj in objects_from_file(file)]
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not YAML: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not YAML: {' '.join(str(exc).split())[:200]}") from None
    objects = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise UsageError(f"{path}: a document is not an object (a mapping with apiVersion and kind)")
        kind = document.get("kind")
        items = document.get("items") or [] if isinstance(kind, str) and kind.endswith("List") else [document]
        if not isinstance(items, list):
            raise UsageError(f"{path}: the items of a {kind} are not a list")
        objects += items
    for obj in objects:
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(metadata, dict) or not all(
                isinstance(value, str) and value for value in (obj.get("apiVersion"), obj.get("kind"),
                                                               metadata.get("name"))):
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
    if dry_run:
        # a dry run creates nothing, so the objects of a namespace the batch would create have nowhere to go
        for ns in [o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"]:
            if client.get("v1", "Namespace", ns) is None:
                raise UsageError(f"namespace {ns} does not exist yet: a dry run cannot check the objects in it",
                                 hint=f"create it first (kubectl create namespace {ns}), or apply without --dry-run")
    for live in client.apply(in_order(objects), namespace=namespace, dry_run=dry_run):
        metadata = live.get("metadata") or {}
        result.objects.append(AppliedObject(live.get("kind", ""), metadata.get("name", ""), metadata.get("namespace"),
                                            live.get("apiVersion", "")))
    return result


def diff(client: KubernetesClient, objects: list[dict], namespace: str) -> DiffResult:
    """What applying ``objects`` would change on the cluster, object by object."""
    return DiffResult(client.context, client.server, namespace, client.diff(in_order(objects), namespace=namespace))
