"""Small Kubernetes objects the Kubernetes checks share (tests/unit/test_kube_validate.py, tests/kubernetes):
valid ones of each kind lakectl renders, and helpers to plant one mistake in a copy."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from lakectl.runtime import versions

NAMESPACE = "lakehouse"


def cache_dir() -> Path:
    """The cache the tools are built into (LAKECTL_CACHE_DIR, as lakectl's settings read it)."""
    return Path(os.environ.get("LAKECTL_CACHE_DIR", "~/.cache/lakectl")).expanduser()


def namespace(name: str = NAMESPACE) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(name: str = "registry", replicas: int = 1) -> dict:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "lakectl"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": name, "image": f"lakectl/{name}:1",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
                }]},
            },
        },
    }


def service(name: str = "registry") -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app.kubernetes.io/name": name},
                 "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
    }


def kafka_topic(name: str = "trades", partitions: int = 3) -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"strimzi.io/cluster": "lakehouse"}},
        "spec": {"partitions": partitions, "replicas": 3, "config": {"retention.ms": 604800000}},
    }


def kafka_user(name: str = "bronze") -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"strimzi.io/cluster": "lakehouse"}},
        "spec": {"authentication": {"type": "tls"}},
    }


def flink_deployment(name: str = "bronze-trades") -> dict:
    return {
        "apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "image": "lakectl/flink:1", "flinkVersion": versions.FLINK_OPERATOR_FLINK_VERSION,
            "serviceAccount": "flink",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
            "jobManager": {"resource": {"memory": "1024m", "cpu": 0.5}},
            "taskManager": {"resource": {"memory": "2048m", "cpu": 1}},
            "job": {"jarURI": "local:///opt/flink/usrlib/bronze.jar", "parallelism": 2, "upgradeMode": "savepoint"},
        },
    }


def pod_monitor(name: str = "flink") -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": {"app": name}}, "podMetricsEndpoints": [{"port": "metrics"}]},
    }


def good_objects() -> list[dict]:
    return [deployment(), service(), kafka_topic(), kafka_user(), flink_deployment(), pod_monitor()]


def planted(obj: dict, path: str, value: object) -> dict:
    """A copy of ``obj`` with ``value`` at the dotted ``path`` (list indexes as numbers)."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out
