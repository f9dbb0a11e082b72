"""Every version of a native artifact, pinned in one place (each ServiceSpec names its own)."""

# a version Strimzi 1.2 runs (4.2.0-4.3.1), so the local broker is the one a cluster runs (STRIMZI below)
KAFKA = "4.3.1"
# Kafka 4.3 is still built against SLF4J 1.7: the binding must be log4j-slf4j-impl, not -slf4j2-impl; the
# same log4j as the one Kafka's POM brings
LOG4J = "2.25.4"
APICURIO_REGISTRY = "3.3.3"
POSTGRESQL_JDBC = "42.7.8"
S3PROXY = "4.1.0"
FLINK = "1.20.5"  # the PyPI apache-flink distribution: bin/, lib/, opt/, plugins/
# Maven Central lacks some 1.20.5 modules: these are the nearest patch releases it serves
FLINK_S3_PLUGIN = "1.20.1"
FLINK_SQL_GATEWAY = "1.20.3"
FLINK_AVRO_CONFLUENT = "1.20.0"
FLINK_KAFKA_CONNECTOR = "3.4.0-1.20"
ICEBERG = "1.10.1"
HADOOP = "3.4.3"
# Debezium's connectors for the Kafka Connect worker (which runs KAFKA): the 3.6 line is built against Kafka 4.3
DEBEZIUM = "3.6.1.Final"
# the Prometheus JMX exporter's java agent that serves Kafka's MBeans (natively and in compose)
JMX_EXPORTER = "1.0.1"
TRINO = "476"
AIRFLOW = "3.1.8"
SUPERSET = "6.1.0"

# --- Kubernetes (lakectl deploy): the operators a cluster runs, and the tools that check our manifests ---
# Strimzi 1.x serves kafka.strimzi.io/v1 only and runs Kafka 4.2.0-4.3.1: KAFKA above is one of those
STRIMZI = "1.2.0"
# the Flink Kubernetes Operator a cluster installs; its CRDs' schemas come from the newest API jar Maven serves
FLINK_OPERATOR = "1.15.0"
FLINK_OPERATOR_API = "1.10.0"
FLINK_OPERATOR_FLINK_VERSION = "v1_20"  # FlinkDeployment.spec.flinkVersion for FLINK above
# the Helm chart of Prometheus, Grafana and the Prometheus operator (PodMonitor) the rendered monitoring targets;
# the Flink operator is installed without its webhook, so it needs no cert-manager
KUBE_PROMETHEUS_STACK = "79.7.1"
# the API server and etcd the tests build from Go modules for server-side dry-runs
KUBERNETES = "1.37.2"
ETCD = "3.7.3"
KUBECONFORM = "0.8.0"  # schema checks of rendered manifests, offline (built from its Go module)
# PodMonitor/ServiceMonitor CRDs (kube-prometheus-stack): example/prometheus-operator-crd/ in its Go module
PROMETHEUS_OPERATOR = "0.85.0"
# the Kubernetes JSON schemas (one set per minor, 1.25-1.37) kubeconform reads, from its wheel (into the cache)
KUBERNETES_VALIDATE = "1.37.0"
