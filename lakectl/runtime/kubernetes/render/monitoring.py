"""Monitoring on Kubernetes for kube-prometheus-stack (``monitoring.coreos.com/v1``): PodMonitors for Kafka
and Kafka Connect (Strimzi's JMX exporter), the Flink jobs (Flink's Prometheus reporter), Trino and the schema registry,
and the Grafana dashboards of deploy/grafana as ConfigMaps its Grafana sidecar loads (label ``grafana_dashboard: "1"``).

Trino's ``/metrics`` wants a user (``X-Trino-User``). A PodMonitor cannot set arbitrary request headers, but it
can send HTTP basic auth, and Trino without authentication configured takes the basic credential's user name as
the user, which is what the local Prometheus does (deploy/prometheus/prometheus.yml): the user name is read from
a Secret (``TRINO_METRICS_SECRET``, key ``username``).

The dashboards name the local stack's Prometheus datasource (uid ``lakectl-prometheus``); in the ConfigMaps it is
the kube-prometheus-stack Grafana's own (uid ``prometheus``).
"""

from __future__ import annotations

import json
from typing import Any

from lakectl.paths import deploy_dir
from lakectl.runtime.kubernetes.render import connect, flink, kafka, registry, trino
from lakectl.runtime.kubernetes.render.common import (
    PART_OF,
    TRINO_METRICS_SECRET,
    config_map,
    k8s_name,
    metadata,
    namespace,
)
from lakectl.settings import LoadedSettings

API = "monitoring.coreos.com/v1"
COMPONENT = "monitoring"
LOCAL_DATASOURCE = "lakectl-prometheus"
CLUSTER_DATASOURCE = "prometheus"  # kube-prometheus-stack's grafana.sidecar.datasources.uid default
INTERVAL = "15s"


def pod_monitor(loaded: LoadedSettings, name: str, selector: dict[str, Any],
                endpoint: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "PodMonitor", "metadata": metadata(loaded, name, COMPONENT),
            "spec": {"selector": selector, "namespaceSelector": {"matchNames": [namespace(loaded)]},
                     "podMetricsEndpoints": [{"interval": INTERVAL, **endpoint}]}}


def pod_monitors(loaded: LoadedSettings) -> list[dict[str, Any]]:
    return [
        # Strimzi labels the broker pods with their kind and cluster; its exporter's port is tcp-prometheus
        pod_monitor(loaded, "kafka", {"matchLabels": {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": kafka.CLUSTER}},
                    {"port": "tcp-prometheus", "path": "/metrics"}),
        # the Connect workers: Strimzi labels them likewise (their cluster is the KafkaConnect's name)
        pod_monitor(loaded, "connect", {"matchLabels": {"strimzi.io/kind": "KafkaConnect",
                                                        "strimzi.io/cluster": connect.NAME}},
                    {"port": "tcp-prometheus", "path": "/metrics"}),
        # every JobManager and TaskManager of every FlinkDeployment lakectl renders (their pod template's labels)
        pod_monitor(loaded, "flink-jobs", {"matchLabels": {"app.kubernetes.io/component": flink.COMPONENT,
                                                           "app.kubernetes.io/part-of": PART_OF}},
                    {"port": "metrics", "path": "/metrics"}),
        pod_monitor(loaded, "trino", {"matchLabels": {"app.kubernetes.io/component": trino.COMPONENT,
                                                      "app.kubernetes.io/part-of": PART_OF}},
                    {"port": "http", "path": "/metrics",
                     "basicAuth": {"username": {"name": TRINO_METRICS_SECRET, "key": "username"}}}),
        pod_monitor(loaded, "schema-registry", {"matchLabels": {"app.kubernetes.io/name": registry.NAME,
                                                                "app.kubernetes.io/part-of": PART_OF}},
                    {"port": "management", "path": "/metrics"}),
    ]


def _datasource(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("uid") == LOCAL_DATASOURCE:
            return {**node, "uid": CLUSTER_DATASOURCE}
        return {key: _datasource(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_datasource(item) for item in node]
    return node


def dashboards(loaded: LoadedSettings) -> list[dict[str, Any]]:
    objects = []
    for path in sorted((deploy_dir() / "grafana" / "dashboards").glob("*.json")):
        board = _datasource(json.loads(path.read_text()))
        objects.append(config_map(loaded, k8s_name(f"grafana-dashboard-{path.stem}"), COMPONENT,
                                  {path.name: json.dumps(board, indent=2) + "\n"},
                                  extra_labels={"grafana_dashboard": "1"}))
    return objects


def render(loaded: LoadedSettings) -> list[dict[str, Any]]:
    return [*dashboards(loaded), *pod_monitors(loaded)]
