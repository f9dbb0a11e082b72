"""What a Flink job is handed: Kafka (with its security settings), the registry (with its credentials), the
Iceberg catalog, Delta's root and the object store, as one JSON document.

One spelling for both places a context is made: ``lakectl job submit`` writes the document to a 0600 file
(``--context FILE``) from the profile's settings; ``lakectl deploy render`` writes it as a template whose
credentials are ``${NAME}`` placeholders, filled from the pod's Secrets by the job image's entry point
(lakectl/runtime/kubernetes/render/flink.py), so no credential is ever in a manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakectl.components.object_store import S3Location

# Kafka's login modules inside flink-sql-connector-kafka, which shades the Kafka client (the Delta sink's build
# relocates the same way: lakectl/runtime/services/flink.py SHADED)
_SHADED = "org.apache.flink.kafka.shaded."
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


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
