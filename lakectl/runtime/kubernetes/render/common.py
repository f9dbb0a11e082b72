"""What every component's manifests share: names, labels, resources, Secret references, images.

Plain dicts, no YAML here (``render.write`` dumps them). Nothing a user keeps secret is ever read: a
Secret is referenced by the names below (``kubectl create secret`` with placeholders in the rendered
README), never created with data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lakectl.settings import LoadedSettings

PART_OF = "lakectl"
MANAGED_BY = "lakectl"

# The Secrets the manifests reference, by name; the keys each is read with are the ones its users name
# (the rendered README lists every reference and the `kubectl create secret` command for it).
OBJECT_STORE_SECRET = "lakectl-object-store"  # access-key, secret-key
CATALOG_SECRET = "lakectl-catalog"  # jdbc-url, user, password: the Iceberg JDBC catalog's PostgreSQL
REGISTRY_DB_SECRET = "lakectl-registry-db"  # jdbc-url, username, password: Apicurio's PostgreSQL
AIRFLOW_SECRET = "lakectl-airflow"  # sql-alchemy-conn, fernet-key, jwt-secret, api-secret-key, passwords.json
SUPERSET_SECRET = "lakectl-superset"  # secret-key, database-uri, admin-password
TRINO_METRICS_SECRET = "lakectl-trino-metrics"  # username: the user Prometheus scrapes Trino's /metrics as


@dataclass(frozen=True)
class Resources:
    """A container's requests and limits (both always set)."""

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str

    def to_dict(self) -> dict[str, Any]:
        return {"requests": {"cpu": self.cpu, "memory": self.memory},
                "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit}}


def k8s_name(name: str) -> str:
    """A DNS-1123 name for an object named after a lakectl name (``bronze_trades`` -> ``bronze-trades``)."""
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return cleaned[:63].rstrip("-.")


def labels(name: str, component: str) -> dict[str, str]:
    """The recommended labels every object and pod carries."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": MANAGED_BY}


def selector_labels(name: str, component: str) -> dict[str, str]:
    """What a Deployment selects its pods by (a subset of ``labels``: it never changes)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": PART_OF}


def namespace(loaded: LoadedSettings) -> str:
    return loaded.settings.kubernetes.namespace


def metadata(loaded: LoadedSettings, name: str, component: str, *, extra_labels: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace(loaded),
                            "labels": {**labels(name, component), **(extra_labels or {})}}
    if annotations:
        meta["annotations"] = annotations
    return meta


def secret_env(env_name: str, secret: str, key: str) -> dict[str, Any]:
    """An environment variable read from a Secret's key (the value never appears in a manifest)."""
    return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def value_env(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": key, "value": str(value)} for key, value in values.items()]


def config_map(loaded: LoadedSettings, name: str, component: str, data: dict[str, str],
               extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(loaded, name, component, extra_labels=extra_labels),
            "data": dict(sorted(data.items()))}


def service(loaded: LoadedSettings, name: str, component: str, ports: dict[str, int],
            selector: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(loaded, name, component),
            "spec": {"selector": selector,
                     "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
                               for port_name, port in ports.items()]}}


def deployment(loaded: LoadedSettings, name: str, component: str, *, containers: list[dict[str, Any]],
               replicas: int = 1, init_containers: list[dict[str, Any]] | None = None,
               volumes: list[dict[str, Any]] | None = None, service_account: str | None = None,
               strategy: str | None = None) -> dict[str, Any]:
    """A Deployment whose selector is exactly its pod template's selector labels."""
    select = selector_labels(name, component)
    pod: dict[str, Any] = {"containers": containers}
    if init_containers:
        pod["initContainers"] = init_containers
    if volumes:
        pod["volumes"] = volumes
    if service_account:
        pod["serviceAccountName"] = service_account
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": select},
                            "template": {"metadata": {"labels": labels(name, component)}, "spec": pod}}
    if strategy:
        spec["strategy"] = {"type": strategy}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(loaded, name, component),
            "spec": spec}


def container(name: str, image: str, resources: Resources, **fields: Any) -> dict[str, Any]:
    """A container with requests and limits; ``fields`` in Kubernetes spelling (command, args, env...)."""
    body: dict[str, Any] = {"name": name, "image": image}
    body.update({key: value for key, value in fields.items() if value not in (None, [], {})})
    body["resources"] = resources.to_dict()
    return body


def http_probe(path: str, port: str | int, *, initial_delay_s: int = 10, period_s: int = 10,
               failure_threshold: int = 6, headers: dict[str, str] | None = None) -> dict[str, Any]:
    get: dict[str, Any] = {"path": path, "port": port}
    if headers:
        get["httpHeaders"] = [{"name": k, "value": v} for k, v in headers.items()]
    return {"httpGet": get, "initialDelaySeconds": initial_delay_s, "periodSeconds": period_s,
            "failureThreshold": failure_threshold}


def lakectl_image(loaded: LoadedSettings, family: str, tag: str) -> str:
    """An image lakectl builds, as the cluster pulls it: ``<kubernetes.image_prefix>/<family>:<tag>``."""
    return f"{loaded.settings.kubernetes.image_prefix}/{family}:{tag}"


def built_image(loaded: LoadedSettings, name: str) -> str:
    """The image lakectl builds for ``name`` (a family, e.g. superset, or a derived image, e.g. flink-job) at this
    checkout's tag, as the cluster pulls it."""
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.images import image_tag

    return lakectl_image(loaded, name, image_tag(StackContext(loaded, "compose"), name).split(":", 1)[1])


def storage_class(loaded: LoadedSettings) -> dict[str, str]:
    """``{"storageClassName": ...}`` when the settings name one (else the cluster's default)."""
    name = loaded.settings.kubernetes.storage_class
    return {"storageClassName": name} if name else {}
