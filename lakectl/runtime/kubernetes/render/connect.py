"""Kafka Connect on Strimzi (``kafka.strimzi.io/v1``): a KafkaConnect whose image Strimzi builds with the plugins
the local worker loads (``build``: each plugin a Maven artifact), and one KafkaConnector per connector given to the
render (a connector file of deploy/connect, or one a pipeline derives).

Derived from the connect ServiceSpec's recipe: the same Kafka version, group id, internal topic names and default
converters as the local worker (``lakectl.runtime.services.connect``), the same plugins (Debezium's PostgreSQL
connector and the ``connect.plugins`` setting's) and the same JMX exporter rules (deploy/prometheus/connect-jmx.yml,
as the metrics ConfigMap). It logs in to the rendered Kafka as the SCRAM user ``CONNECT_USER`` (its KafkaUser is
rendered with the Kafka's users; Strimzi's user operator generates its password into a Secret of that name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.kubernetes.render import kafka
from lakectl.runtime.kubernetes.render.common import Resources, k8s_name, metadata
from lakectl.runtime.services import connect as connect_service
from lakectl.settings import LoadedSettings

API = kafka.API
NAME = "lakectl"  # the KafkaConnect; its pods are lakectl-connect-*, its REST Service lakectl-connect-api
COMPONENT = "connect"
CONNECT_USER = "lakectl-connect"
REPLICAS = 1
METRICS_CONFIG_MAP = "lakectl-connect-metrics"
METRICS_KEY = "connect-metrics-config.yml"
RESOURCES = Resources("250m", "768Mi", "1", "1Gi")
REST_PORT = 8083  # Strimzi's fixed REST port of the workers


@dataclass(frozen=True)
class Connector:
    """A connector to render: its name and its config as the worker takes it (``connector.class`` included)."""

    name: str
    config: dict[str, str]


def image(loaded: LoadedSettings) -> str:
    """Where Strimzi pushes the worker image it builds with the plugins (the cluster must be able to push there
    and pull from it): ``<kubernetes.image_prefix>/connect:<Kafka>-<plugins>``."""
    tag = "-".join([versions.KAFKA, *(c.split(":")[2] for c in plugins(loaded))])
    return f"{loaded.settings.kubernetes.image_prefix}/connect:{k8s_name(tag)}"


def plugins(loaded: LoadedSettings) -> list[str]:
    return list(dict.fromkeys((*connect_service.DEFAULT_PLUGINS, *loaded.settings.connect.plugins)))


def _plugin(coords: str) -> dict[str, Any]:
    group, artifact, version = coords.split(":")
    # runtime scope: what the connector runs with (Kafka's own jars are provided-scope in connector POMs)
    # Strimzi's plugin names: lower-case letters, digits, - and _ (no dots): the artifact's id
    return {"name": re.sub(r"[^a-z0-9_-]+", "-", artifact.lower()).strip("-_"),
            "artifacts": [{"type": "maven", "group": group, "artifact": artifact, "version": version,
                           "includeScope": "runtime"}]}


def metrics_config_map(loaded: LoadedSettings) -> dict[str, Any]:
    """The JMX exporter rules of the local worker, which Strimzi's exporter reads the same way."""
    rules = (deploy_dir() / "prometheus" / "connect-jmx.yml").read_text()
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(loaded, METRICS_CONFIG_MAP, COMPONENT),
            "data": {METRICS_KEY: rules}}


def cluster(loaded: LoadedSettings) -> dict[str, Any]:
    worker = connect_service
    return {
        "apiVersion": API, "kind": "KafkaConnect",
        "metadata": metadata(loaded, NAME, COMPONENT),
        "spec": {
            "version": versions.KAFKA,
            "replicas": REPLICAS,
            "bootstrapServers": kafka.bootstrap(loaded),
            "groupId": worker.GROUP_ID,
            "configStorageTopic": worker.CONFIG_TOPIC,
            "offsetStorageTopic": worker.OFFSET_TOPIC,
            "statusStorageTopic": worker.STATUS_TOPIC,
            "authentication": {"type": "scram-sha-512", "username": CONNECT_USER,
                               "passwordSecret": {"secretName": CONNECT_USER, "password": "password"}},
            "config": {
                # -1: the broker's default.replication.factor (the rendered Kafka's 3)
                "config.storage.replication.factor": -1,
                "offset.storage.replication.factor": -1,
                "status.storage.replication.factor": -1,
                "key.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "key.converter.schemas.enable": False,
                "value.converter.schemas.enable": False,
                # a connector's secrets come from the worker's environment (${env:NAME}), set from Secrets
                "config.providers": "env",
                "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            },
            "build": {"output": {"type": "docker", "image": image(loaded)},
                      "plugins": [_plugin(coords) for coords in plugins(loaded)]},
            "resources": RESOURCES.to_dict(),
            "jvmOptions": {"-Xms": "256m", "-Xmx": "512m"},
            "metricsConfig": {"type": "jmxPrometheusExporter",
                              "valueFrom": {"configMapKeyRef": {"name": METRICS_CONFIG_MAP, "key": METRICS_KEY}}},
        },
    }


def connector(loaded: LoadedSettings, item: Connector) -> dict[str, Any]:
    """A KafkaConnector of the rendered KafkaConnect: ``connector.class`` and ``tasks.max`` become its fields, the
    rest of the config its ``config``."""
    config = {k: v for k, v in item.config.items() if k not in ("connector.class", "tasks.max", "name")}
    spec: dict[str, Any] = {"class": item.config["connector.class"],
                            "tasksMax": int(item.config.get("tasks.max", 1)), "state": "running",
                            "autoRestart": {"enabled": True}, "config": dict(sorted(config.items()))}
    meta = metadata(loaded, k8s_name(item.name), COMPONENT)
    meta["labels"]["strimzi.io/cluster"] = NAME
    return {"apiVersion": API, "kind": "KafkaConnector", "metadata": meta, "spec": spec}


def _written_topics(connectors: Sequence[Connector]) -> tuple[list[str], list[str]]:
    """The topics the connectors write (``topic``) and the prefixes of those they create (``topic.prefix``,
    Debezium's)."""
    topics = [c.config["topic"] for c in connectors if c.config.get("topic")]
    prefixes = [c.config["topic.prefix"] for c in connectors if c.config.get("topic.prefix")]
    return list(dict.fromkeys(topics)), list(dict.fromkeys(prefixes))


def user(loaded: LoadedSettings, pipeline_topics: Sequence[str], connectors: Sequence[Connector]) -> dict[str, Any]:
    """The worker's KafkaUser: its group and internal topics, and writing the pipelines' topics (and the connectors'
    own topics and prefixes)."""
    acl = kafka.acl
    topics, prefixes = _written_topics(connectors)
    acls = [acl("group", connect_service.GROUP_ID, ["All"]),
            acl("group", "connect-", ["Describe", "Read"], pattern="prefix"),  # sink connectors' consumer groups
            *(acl("topic", t, ["All"]) for t in (connect_service.CONFIG_TOPIC, connect_service.OFFSET_TOPIC,
                                                  connect_service.STATUS_TOPIC)),
            *(acl("topic", t, ["Describe", "DescribeConfigs", "Write"]) for t in
              dict.fromkeys([*pipeline_topics, *topics])),
            *(acl("topic", p, ["Create", "Describe", "DescribeConfigs", "Write"], pattern="prefix") for p in prefixes),
            acl("cluster", "", ["Describe", "DescribeConfigs", "IdempotentWrite"])]
    return kafka.user(loaded, CONNECT_USER, acls)


def render(loaded: LoadedSettings, connectors: Sequence[Connector] = ()) -> list[dict[str, Any]]:
    """The metrics ConfigMap, the KafkaConnect and a KafkaConnector per connector (its KafkaUser: ``user``)."""
    return [metrics_config_map(loaded), cluster(loaded), *(connector(loaded, c) for c in connectors)]
