"""Trino on Kubernetes: a coordinator Deployment, a workers Deployment and their Service, on Trino's upstream
image at ``versions.TRINO``.

Derived from the trino ServiceSpec (port, version, JVM options) and the catalog templates the local stack uses
(deploy/trino/catalog): the same files go into a ConfigMap unchanged, and Trino's own ``${ENV:...}`` substitution
fills them from the pods' environment, where each secret comes from a Secret by name and the rest from the
settings. A placeholder this module cannot source is an error, not a silent gap.
"""

from __future__ import annotations

from typing import Any

from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.kubernetes.render.common import (
    CATALOG_SECRET,
    OBJECT_STORE_SECRET,
    Resources,
    config_map,
    container,
    deployment,
    http_probe,
    namespace,
    secret_env,
    selector_labels,
    service,
)
from lakectl.runtime.services import trino as trino_service
from lakectl.settings import LoadedSettings

NAME = "trino"
COMPONENT = "trino"
COORDINATOR, WORKER = "trino-coordinator", "trino-worker"
IMAGE = f"trinodb/trino:{versions.TRINO}"
WORKERS = 2
RESOURCES = Resources("1", "3Gi", "2", "3Gi")  # the JVM's heap (trino_service.HEAP) plus its native memory
ETC = "/etc/trino"
# the local process's core count pin is no container's business: Kubernetes' CPU limit sets what the JVM sees
DROPPED_JVM_OPTIONS = ("-XX:ActiveProcessorCount=",)

# ${ENV:NAME} in deploy/trino/catalog -> where a pod's environment gets it: ("secret", Secret, key) or a setting
CATALOG_SECRETS: dict[str, tuple[str, str]] = {
    "TRINO_ICEBERG_JDBC_URL": (CATALOG_SECRET, "jdbc-url"),
    "TRINO_JDBC_USER": (CATALOG_SECRET, "user"),
    "LAKECTL_POSTGRES_PASSWORD": (CATALOG_SECRET, "password"),
    "LAKECTL_OBJECT_STORE_KEY_ID": (OBJECT_STORE_SECRET, "access-key"),
    "LAKECTL_OBJECT_STORE_SECRET": (OBJECT_STORE_SECRET, "secret-key"),
}


def catalog_settings(loaded: LoadedSettings) -> dict[str, str]:
    store = loaded.settings.object_store
    return {"TRINO_CATALOG_NAME": loaded.settings.catalog.name, "TRINO_WAREHOUSE": f"s3://{store.bucket}",
            "TRINO_S3_ENDPOINT": store.endpoint or "", "TRINO_S3_REGION": store.region}


def url(loaded: LoadedSettings) -> str:
    return f"http://{NAME}.{namespace(loaded)}.svc:{port()}"


def port() -> int:
    return trino_service.SPEC.ports["main"]


def catalogs(loaded: LoadedSettings) -> dict[str, str]:
    """The catalog files as the local stack has them; a line whose setting is empty (no S3 endpoint: the
    cloud's own) is left out, so Trino uses its default."""
    values = catalog_settings(loaded)
    files = {}
    for template in sorted((deploy_dir() / "trino" / "catalog").glob("*.properties")):
        lines = []
        for line in template.read_text().splitlines():
            names = trino_service.PLACEHOLDER.findall(line)
            unknown = [n for n in names if n not in values and n not in CATALOG_SECRETS]
            if unknown:
                raise ComponentError(f"trino: {template.name} needs {unknown[0]}, which the Kubernetes manifests "
                                     "do not set (lakectl/runtime/kubernetes/render/trino.py)")
            if any(values.get(n) == "" for n in names):
                continue
            lines.append(line)
        files[template.name] = "\n".join(lines) + "\n"
    return files


def catalog_env(loaded: LoadedSettings) -> list[dict[str, Any]]:
    used = {n for text in catalogs(loaded).values() for n in trino_service.PLACEHOLDER.findall(text)}
    values = catalog_settings(loaded)
    env = [secret_env(n, *CATALOG_SECRETS[n]) for n in sorted(used) if n in CATALOG_SECRETS]
    return env + [{"name": n, "value": values[n]} for n in sorted(used) if n in values]


def jvm_config() -> str:
    options = [o for o in trino_service.JVM_OPTIONS if not o.startswith(DROPPED_JVM_OPTIONS)]
    return "\n".join(options) + "\n"


def node_config(loaded: LoadedSettings, coordinator: bool) -> dict[str, str]:
    properties: dict[str, Any] = {"coordinator": str(coordinator).lower()}
    if coordinator:
        properties["node-scheduler.include-coordinator"] = "false"
    properties.update({
        "http-server.http.port": port(),
        "discovery.uri": url(loaded),
        "query.max-memory": "4GB",
        "query.max-memory-per-node": "1GB",
        "query.client.timeout": "5m",
    })
    # node.id: the image's launcher passes the pod's host name
    node = {"node.environment": trino_service.ENVIRONMENT, "node.data-dir": "/data/trino"}
    return {"config.properties": "".join(f"{k}={v}\n" for k, v in properties.items()),
            "node.properties": "".join(f"{k}={v}\n" for k, v in node.items()),
            "jvm.config": jvm_config()}


def _volume(role: str) -> dict[str, Any]:
    return {"name": "etc", "projected": {"sources": [
        {"configMap": {"name": role}},
        {"configMap": {"name": "trino-catalogs",
                       "items": [{"key": n, "path": f"catalog/{n}"} for n in _catalog_names()]}},
    ]}}


def _catalog_names() -> list[str]:
    return sorted(p.name for p in (deploy_dir() / "trino" / "catalog").glob("*.properties"))


def _workload(loaded: LoadedSettings, role: str, replicas: int) -> dict[str, Any]:
    main = container(
        "trino", IMAGE, RESOURCES, env=catalog_env(loaded),
        ports=[{"name": "http", "containerPort": port(), "protocol": "TCP"}],
        readinessProbe=http_probe("/v1/info", "http", initial_delay_s=15),
        livenessProbe=http_probe("/v1/info", "http", initial_delay_s=60, failure_threshold=5),
        volumeMounts=[{"name": "etc", "mountPath": ETC, "readOnly": True},
                      {"name": "data", "mountPath": "/data/trino"}],
    )
    return deployment(loaded, role, COMPONENT, containers=[main], replicas=replicas,
                      volumes=[_volume(role), {"name": "data", "emptyDir": {}}])


def render(loaded: LoadedSettings) -> list[dict[str, Any]]:
    return [
        config_map(loaded, "trino-catalogs", COMPONENT, catalogs(loaded)),
        config_map(loaded, COORDINATOR, COMPONENT, node_config(loaded, coordinator=True)),
        config_map(loaded, WORKER, COMPONENT, node_config(loaded, coordinator=False)),
        _workload(loaded, COORDINATOR, 1),
        _workload(loaded, WORKER, WORKERS),
        service(loaded, NAME, COMPONENT, {"http": port()}, selector_labels(COORDINATOR, COMPONENT)),
    ]
