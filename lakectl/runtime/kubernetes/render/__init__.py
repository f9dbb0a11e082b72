"""Kubernetes manifests for the stack and its pipelines, derived from the ServiceSpecs, ``versions`` and the
pipeline specs (``lakectl deploy render --target kubernetes``).

``render`` returns plain dicts in apply order (the Namespace, service accounts and ConfigMaps, the operators'
resources, the workloads, the monitors); ``write`` dumps them as one multi-document YAML file per component plus a
``kustomization.yaml`` and a README.md (operators to install, Secrets to create), byte-identical for the same
input. One module per component: kafka (Strimzi), connect (Strimzi's KafkaConnect), registry (Apicurio), flink
(FlinkDeployments), trino, airflow, superset, monitoring (PodMonitors, Grafana dashboards). No Secret carries
data: every secret is referenced by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lakectl.errors import UsageError
from lakectl.pipeline_spec import PipelineSpec, load, load_all
from lakectl.runtime.kubernetes.render import (
    airflow,
    common,
    connect,
    flink,
    kafka,
    monitoring,
    operators,
    registry,
    superset,
    trino,
)
from lakectl.settings import KubernetesSettings, LoadedSettings

# file -> the app.kubernetes.io/component values whose objects it holds, in kustomization order
FILES: dict[str, tuple[str, ...]] = {
    "00-namespace.yaml": ("namespace",),
    "10-kafka.yaml": (kafka.COMPONENT,),
    "15-connect.yaml": (connect.COMPONENT,),
    "20-schema-registry.yaml": (registry.COMPONENT,),
    "30-flink.yaml": (flink.COMPONENT,),
    "40-trino.yaml": (trino.COMPONENT,),
    "50-airflow.yaml": (airflow.COMPONENT,),
    "60-superset.yaml": (superset.COMPONENT,),
    "70-monitoring.yaml": (monitoring.COMPONENT,),
}
# apply order across files: what others refer to first, the operators' resources before the workloads
KIND_ORDER = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "KafkaNodePool", "Kafka",
              "KafkaTopic", "KafkaUser", "KafkaConnect", "KafkaConnector", "Service", "Deployment", "FlinkDeployment",
              "PodMonitor")


def namespace_object(loaded: LoadedSettings) -> dict[str, Any]:
    name = common.namespace(loaded)
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": common.labels(name, "namespace")}}


def pipelines(pipeline_names: Sequence[str] | None, directory: Path | None = None) -> list[PipelineSpec]:
    """The named pipelines (UsageError, one line, for a name not declared), or every declared one.

    A postgres-cdc pipeline is not rendered yet: its Bronze job's row type comes from the live table when
    ``pipeline apply`` runs, which a render does not reach. Nor is a file pipeline (its file is on the Connect
    worker's machine). Named, they are refused; otherwise they are left out."""
    if pipeline_names is None:
        return [spec for spec in load_all(directory) if not (spec.is_cdc or spec.is_file)]
    specs = [load(name, directory) for name in dict.fromkeys(pipeline_names)]
    cdc = [spec.name for spec in specs if spec.is_cdc]
    if cdc:
        raise UsageError(f"{', '.join(cdc)}: postgres-cdc pipelines are not rendered for Kubernetes yet "
                         "(their Bronze job's columns come from the table at `pipeline apply`)")
    files = [spec.name for spec in specs if spec.is_file]
    if files:
        raise UsageError(f"{', '.join(files)}: file pipelines are not rendered for Kubernetes (the file is read by "
                         "a Connect worker on its own machine: run them on a local stack)")
    return specs


def render(loaded: LoadedSettings, pipeline_names: Sequence[str] | None = None, *,
           directory: Path | None = None, connectors: Sequence[connect.Connector] = ()) -> list[dict[str, Any]]:
    """Every object of the stack and of the named pipelines (None: all declared in ``directory``, by default
    schemas/), and a KafkaConnector per connector, in apply order. The Flink jobs' KafkaUser may read every declared
    pipeline's topic, the Connect worker's write it."""
    specs = pipelines(pipeline_names, directory)
    declared = load_all(directory) if pipeline_names is not None else specs
    objects = [namespace_object(loaded)]
    objects += kafka.render(loaded, specs)
    objects = [o for o in objects if o["kind"] != "KafkaUser"] + kafka.users(loaded, declared)
    objects.append(connect.user(loaded, [spec.topic for spec in declared], connectors))
    objects += connect.render(loaded, connectors)
    objects += registry.render(loaded)
    objects += flink.render(loaded, specs)
    objects += trino.render(loaded)
    objects += airflow.render(loaded)
    objects += superset.render(loaded)
    objects += monitoring.render(loaded)
    return sorted(objects, key=lambda o: KIND_ORDER.index(o["kind"]))  # stable: component order within a kind


def component(obj: dict[str, Any]) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def file_for(obj: dict[str, Any]) -> str:
    name = component(obj)
    return next(file for file, components in FILES.items() if name in components)


def dump(objects: Sequence[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in the order the renderers wrote them (deterministic)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # multi-line strings (config files, dashboards) as literal blocks: readable, diffable
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text)
    return "".join("---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120,
                                       allow_unicode=True)
                   for obj in objects)


def write(objects: Sequence[dict[str, Any]], out_dir: Path, *,
          image_prefix: str = KubernetesSettings().image_prefix) -> list[Path]:
    """One YAML file per component (``FILES``), a kustomization.yaml listing them and README.md (operators, Secrets
    and the images of ``image_prefix`` to push); files of FILES that this render has no object for are removed.
    Returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        grouped.setdefault(file_for(obj), []).append(obj)
    written = []
    for name in FILES:
        path = out_dir / name
        if name in grouped:
            path.write_text(dump(grouped[name]))
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    import yaml

    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": [p.name for p in written]}
    (out_dir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    (out_dir / "README.md").write_text(operators.readme(list(objects), image_prefix))
    return [*written, out_dir / "kustomization.yaml", out_dir / "README.md"]
