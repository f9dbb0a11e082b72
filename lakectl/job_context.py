"""What a Flink job is handed: Kafka (with its security settings), the registry (with its credentials), the
Iceberg catalog, Delta's root and the object store, as one JSON document.

Two ways in, one spelling: ``lakectl job submit`` writes the document to a 0600 file (``--context FILE``) from
the profile's settings; on Kubernetes the FlinkDeployment runs the job with ``--context env`` and the document
is built here from ``LAKECTL_JOB_*`` environment variables, which the manifest fills from Secrets (so no
credential is ever in a manifest). Standard library only (plus object_store's spellings): the Flink job imports
this module from the job image's checkout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lakectl.components.object_store import S3Location

# Kafka's login modules inside flink-sql-connector-kafka, which shades the Kafka client
_SHADED = "org.apache.flink.kafka.shaded."
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
ENV_PREFIX = "LAKECTL_JOB_"


def kafka_properties(security_protocol: str = "PLAINTEXT", sasl_mechanism: str | None = None,
                     username: str | None = None, password: str | None = None,
                     ca_location: str | None = None) -> dict[str, str]:
    """The Java Kafka client's security properties (empty for PLAINTEXT)."""
    props: dict[str, str] = {}
    if security_protocol and security_protocol != "PLAINTEXT":
        props["security.protocol"] = security_protocol
    if sasl_mechanism:
        module = _LOGIN_MODULES.get(sasl_mechanism)
        if module is None:
            raise ValueError(f"unsupported SASL mechanism {sasl_mechanism!r} (known: {', '.join(_LOGIN_MODULES)})")
        props["sasl.mechanism"] = sasl_mechanism

        def quoted(value: str | None) -> str:
            return '"' + (value or "").replace("\\", "\\\\").replace('"', '\\"') + '"'

        props["sasl.jaas.config"] = (f"{_SHADED}{module} required username={quoted(username)} "
                                     f"password={quoted(password)};")
    if ca_location:
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = ca_location
    return props


def document(*, bootstrap_servers: str, registry_url: str, checkpoint_interval_s: float, iceberg: Mapping[str, str],
             s3: S3Location, kafka: Mapping[str, str] | None = None, registry_user_info: str | None = None
             ) -> dict[str, Any]:
    """The context document every job reads (flink_jobs/bronze/job.py)."""
    data: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "registry_url": registry_url,
        "checkpoint_interval_s": checkpoint_interval_s,
        "iceberg": {**iceberg, "io": s3.iceberg_java_options()},
        "delta": {"root": s3.uri("delta", scheme="s3a"), "hadoop": s3.hadoop_s3a_options()},
    }
    if kafka:
        data["kafka"] = dict(kafka)
    if registry_user_info:
        data["registry_user_info"] = registry_user_info
    return data


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The document from LAKECTL_JOB_* variables (what the Kubernetes manifests set); a missing required
    variable is named in the error."""
    env = os.environ if environ is None else environ

    def get(name: str, default: str | None = None) -> str:
        value = env.get(ENV_PREFIX + name, default)
        if value is None:
            raise SystemExit(f"job context: {ENV_PREFIX}{name} is not set")
        return value

    s3 = S3Location(endpoint=get("S3_ENDPOINT"), bucket=get("S3_BUCKET"), access_key=get("S3_ACCESS_KEY"),
                    secret_key=get("S3_SECRET_KEY"), region=get("S3_REGION", "us-east-1"))
    iceberg = {"jdbc_url": get("ICEBERG_JDBC_URL"), "user": get("ICEBERG_USER"), "password": get("ICEBERG_PASSWORD"),
               "warehouse": get("ICEBERG_WAREHOUSE", s3.uri("iceberg")), "name": get("ICEBERG_CATALOG", "lakehouse")}
    kafka = kafka_properties(get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"), env.get(ENV_PREFIX + "KAFKA_SASL_MECHANISM"),
                             env.get(ENV_PREFIX + "KAFKA_USERNAME"), env.get(ENV_PREFIX + "KAFKA_PASSWORD"),
                             env.get(ENV_PREFIX + "KAFKA_CA_LOCATION"))
    user, password = env.get(ENV_PREFIX + "REGISTRY_USERNAME"), env.get(ENV_PREFIX + "REGISTRY_PASSWORD")
    return document(bootstrap_servers=get("BOOTSTRAP_SERVERS"), registry_url=get("REGISTRY_URL"),
                    checkpoint_interval_s=float(get("CHECKPOINT_INTERVAL_S", "10")), iceberg=iceberg, s3=s3,
                    kafka=kafka, registry_user_info=f"{user}:{password}" if user else None)


# every variable from_env reads, for the manifests that set them (lakectl/runtime/kubernetes/render/flink.py)
ENV_VARIABLES = tuple(ENV_PREFIX + n for n in (
    "BOOTSTRAP_SERVERS", "REGISTRY_URL", "CHECKPOINT_INTERVAL_S", "S3_ENDPOINT", "S3_BUCKET", "S3_REGION",
    "S3_ACCESS_KEY", "S3_SECRET_KEY", "ICEBERG_JDBC_URL", "ICEBERG_USER", "ICEBERG_PASSWORD", "ICEBERG_WAREHOUSE",
    "ICEBERG_CATALOG", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_USERNAME", "KAFKA_PASSWORD",
    "KAFKA_CA_LOCATION", "REGISTRY_USERNAME", "REGISTRY_PASSWORD"))
