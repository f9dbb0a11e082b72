"""The schema registry on Kubernetes: Apicurio Registry (``versions.APICURIO_REGISTRY``, its upstream image) as a
Deployment + Service, on an external PostgreSQL whose JDBC URL and credentials come from a Secret.

Derived from the schema-registry ServiceSpec: its ports (HTTP and management), its readiness path (the
Confluent-compatible API's ``/subjects``) and the storage properties it runs with natively
(``schema_registry.STORAGE_PROPERTIES``), spelled as Quarkus environment variables.
"""

from __future__ import annotations

import re
from typing import Any

from lakectl.runtime import versions
from lakectl.runtime.kubernetes.render.common import (
    REGISTRY_DB_SECRET,
    Resources,
    container,
    deployment,
    http_probe,
    namespace,
    secret_env,
    selector_labels,
    service,
    value_env,
)
from lakectl.runtime.services import schema_registry
from lakectl.settings import LoadedSettings

NAME = "schema-registry"
COMPONENT = "schema-registry"
IMAGE = f"apicurio/apicurio-registry:{versions.APICURIO_REGISTRY}"
RESOURCES = Resources("250m", "512Mi", "1", "768Mi")


def quarkus_env(name: str) -> str:
    """A Quarkus property as the environment variable Quarkus reads it from."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def url(loaded: LoadedSettings) -> str:
    """The Confluent-compatible API inside the cluster (what the Bronze jobs and lakectl's pods use)."""
    return f"http://{NAME}.{namespace(loaded)}.svc:{ports()['http']}{schema_registry.CCOMPAT_PATH}"


def ports() -> dict[str, int]:
    spec = schema_registry.SPEC.ports
    return {"http": spec["main"], "management": spec["management"]}


def render(loaded: LoadedSettings) -> list[dict[str, Any]]:
    properties = {
        "quarkus.http.port": ports()["http"],
        "quarkus.management.port": ports()["management"],
        **schema_registry.STORAGE_PROPERTIES,
    }
    env = value_env({quarkus_env(key): value for key, value in properties.items()})
    env += [secret_env("APICURIO_DATASOURCE_URL", REGISTRY_DB_SECRET, "jdbc-url"),
            secret_env("APICURIO_DATASOURCE_USERNAME", REGISTRY_DB_SECRET, "username"),
            secret_env("APICURIO_DATASOURCE_PASSWORD", REGISTRY_DB_SECRET, "password")]
    ready = http_probe(schema_registry.CCOMPAT_PATH + "/subjects", "http", initial_delay_s=10)
    main = container(
        NAME, IMAGE, RESOURCES, env=env,
        ports=[{"name": name, "containerPort": port, "protocol": "TCP"} for name, port in ports().items()],
        readinessProbe=ready,
        livenessProbe={**ready, "initialDelaySeconds": 60, "failureThreshold": 5},
    )
    return [deployment(loaded, NAME, COMPONENT, containers=[main], replicas=2),
            service(loaded, NAME, COMPONENT, ports(), selector_labels(NAME, COMPONENT))]
