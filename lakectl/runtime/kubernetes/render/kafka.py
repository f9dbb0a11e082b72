"""Kafka on Strimzi (``kafka.strimzi.io/v1``, Strimzi 1.x: KRaft only, no v1beta2): node pools, the cluster,
a KafkaTopic per pipeline and its DLQ, and the SCRAM users lakectl's clients log in as.

Derived from: ``versions.KAFKA`` (spec.kafka.version), the kafka ServiceSpec's port (the SCRAM listener), the
JMX exporter rules the local broker uses (deploy/prometheus/kafka-jmx.yml, as the metrics ConfigMap), and each
pipeline spec (topic, partitions, DLQ). Strimzi's user operator generates each KafkaUser's password into a
Secret named after the user (keys ``password`` and ``sasl.jaas.config``): nothing here holds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lakectl.paths import deploy_dir
from lakectl.pipeline_spec import PipelineSpec
from lakectl.runtime import versions
from lakectl.runtime.kubernetes.render.common import Resources, k8s_name, metadata, namespace
from lakectl.runtime.services import kafka as kafka_service
from lakectl.settings import LoadedSettings

API = "kafka.strimzi.io/v1"
CLUSTER = "lakectl"
COMPONENT = "kafka"
REPLICAS = 3  # one dual-role (controller + broker) pool: replication 3, min ISR 2
STORAGE_SIZE = "100Gi"
METRICS_CONFIG_MAP = "lakectl-kafka-metrics"
METRICS_KEY = "kafka-metrics-config.yml"
SCRAM_LISTENER = "scram"  # SASL_PLAINTEXT inside the cluster, on the port the local broker uses
TLS_LISTENER = "tls"  # SASL_SSL
TLS_PORT = 9094
EXTERNAL_LISTENER = "external"  # SASL_SSL from outside the cluster, when [kubernetes] kafka_external asks for it
EXTERNAL_PORT = 9095
MECHANISM = "SCRAM-SHA-512"
BROKER = Resources("500m", "2Gi", "2", "2Gi")
OPERATOR = Resources("100m", "256Mi", "500m", "512Mi")

# the SCRAM users: who logs in as which, and what each may do (simple authorization)
FLINK_USER = "lakectl-flink"  # the Bronze jobs: read the pipelines' topics, commit offsets as bronze_*
REGISTRY_USER = "lakectl-registry"  # the schema registry (its kafkasql storage, should it be switched to it)
LAKECTL_USER = "lakectl-ops"  # lakectl and Airflow's tasks: create topics, produce, consume, DLQ


def bootstrap(loaded: LoadedSettings) -> str:
    """The SCRAM listener's bootstrap address inside the cluster (Strimzi's bootstrap Service)."""
    return f"{CLUSTER}-kafka-bootstrap.{namespace(loaded)}.svc:{port()}"


def port() -> int:
    return kafka_service.SPEC.ports["main"]


def _strimzi_meta(loaded: LoadedSettings, name: str) -> dict[str, Any]:
    meta = metadata(loaded, name, COMPONENT)
    meta["labels"]["strimzi.io/cluster"] = CLUSTER
    return meta


def node_pool(loaded: LoadedSettings) -> dict[str, Any]:
    volume: dict[str, Any] = {"id": 0, "type": "persistent-claim", "size": STORAGE_SIZE, "deleteClaim": False,
                              "kraftMetadata": "shared"}
    if loaded.settings.kubernetes.storage_class:
        volume["class"] = loaded.settings.kubernetes.storage_class
    return {"apiVersion": API, "kind": "KafkaNodePool", "metadata": _strimzi_meta(loaded, "dual-role"),
            "spec": {"replicas": REPLICAS, "roles": ["controller", "broker"],
                     "storage": {"type": "jbod", "volumes": [volume]},
                     "resources": BROKER.to_dict(),
                     "jvmOptions": {"-Xms": "1g", "-Xmx": "1g"}}}


def metrics_config_map(loaded: LoadedSettings) -> dict[str, Any]:
    """The JMX exporter rules of the local broker, which Strimzi's exporter reads the same way."""
    rules = (deploy_dir() / "prometheus" / "kafka-jmx.yml").read_text()
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(loaded, METRICS_CONFIG_MAP, COMPONENT),
            "data": {METRICS_KEY: rules}}


def listeners(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """SCRAM inside the cluster (plain and TLS) and, when asked for, SCRAM over TLS from outside it: the address
    is the cluster's to give (a load balancer's, or a node's with the NodePort), the CA Strimzi's cluster CA."""
    scram = {"type": "scram-sha-512"}
    found = [{"name": SCRAM_LISTENER, "port": port(), "type": "internal", "tls": False, "authentication": scram},
             {"name": TLS_LISTENER, "port": TLS_PORT, "type": "internal", "tls": True, "authentication": scram}]
    external = loaded.settings.kubernetes.kafka_external
    if external != "none":
        found.append({"name": EXTERNAL_LISTENER, "port": EXTERNAL_PORT, "type": external, "tls": True,
                      "authentication": scram})
    return found


def cluster(loaded: LoadedSettings) -> dict[str, Any]:
    return {
        "apiVersion": API, "kind": "Kafka", "metadata": metadata(loaded, CLUSTER, COMPONENT),
        "spec": {
            "kafka": {
                "version": versions.KAFKA,
                "listeners": listeners(loaded),
                "authorization": {"type": "simple"},
                "config": {
                    "offsets.topic.replication.factor": REPLICAS,
                    "transaction.state.log.replication.factor": REPLICAS,
                    "transaction.state.log.min.isr": 2,
                    "default.replication.factor": REPLICAS,
                    "min.insync.replicas": 2,
                    "auto.create.topics.enable": False,  # topics are KafkaTopics (pipelines) or made by lakectl
                },
                "metricsConfig": {"type": "jmxPrometheusExporter",
                                  "valueFrom": {"configMapKeyRef": {"name": METRICS_CONFIG_MAP, "key": METRICS_KEY}}},
            },
            "entityOperator": {"topicOperator": {"resources": OPERATOR.to_dict()},
                               "userOperator": {"resources": OPERATOR.to_dict()}},
        },
    }


def topic(loaded: LoadedSettings, name: str, partitions: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"topicName": name, "partitions": partitions, "replicas": REPLICAS}
    if config:
        spec["config"] = config
    return {"apiVersion": API, "kind": "KafkaTopic", "metadata": _strimzi_meta(loaded, k8s_name(name)), "spec": spec}


def pipeline_topics(loaded: LoadedSettings, spec: PipelineSpec) -> list[dict[str, Any]]:
    """The pipeline's topic (its partitions) and, when it has one, its DLQ (as lakectl names it: <topic>.dlq)."""
    topics = [topic(loaded, spec.topic, spec.partitions)]
    if spec.dlq:
        topics.append(topic(loaded, spec.dlq_topic, spec.partitions))
    return topics


def acl(resource_type: str, name: str, operations: Sequence[str], pattern: str = "literal") -> dict[str, Any]:
    resource: dict[str, Any] = {"type": resource_type}
    if resource_type != "cluster":
        resource.update({"name": name, "patternType": pattern})
    return {"resource": resource, "operations": list(operations), "host": "*"}


def user(loaded: LoadedSettings, name: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "KafkaUser", "metadata": _strimzi_meta(loaded, name),
            "spec": {"authentication": {"type": "scram-sha-512"},
                     "authorization": {"type": "simple", "acls": acls}}}


def users(loaded: LoadedSettings, specs: Sequence[PipelineSpec]) -> list[dict[str, Any]]:
    flink = [acl("topic", spec.topic, ["Describe", "Read"]) for spec in specs]
    # a Bronze job's consumer group is its job name (bronze_<pipeline>)
    flink.append(acl("group", "bronze_", ["Describe", "Read"], pattern="prefix"))
    registry = [acl("topic", "registry-", ["All"], pattern="prefix"),
                acl("group", "registry-", ["All"], pattern="prefix")]
    ops = [acl("topic", "*", ["All"]), acl("group", "*", ["All"]),
           acl("transactionalId", "*", ["All"]),
           acl("cluster", "", ["Describe", "DescribeConfigs", "Create", "IdempotentWrite"])]
    return [user(loaded, FLINK_USER, flink), user(loaded, REGISTRY_USER, registry), user(loaded, LAKECTL_USER, ops)]


def render(loaded: LoadedSettings, specs: Sequence[PipelineSpec]) -> list[dict[str, Any]]:
    objects = [metrics_config_map(loaded), node_pool(loaded), cluster(loaded)]
    for spec in specs:
        objects += pipeline_topics(loaded, spec)
    return objects + users(loaded, specs)
