"""The job context: one document whether lakectl writes it to a file or the job builds it from LAKECTL_JOB_*."""

from __future__ import annotations

import pytest

from lakectl.components.object_store import S3Location
from lakectl.job_context import ENV_PREFIX, ENV_VARIABLES, document, from_env, kafka_properties

BASE = {"S3_ENDPOINT": "http://s3.internal:9000", "S3_BUCKET": "lake", "S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk",
        "ICEBERG_JDBC_URL": "jdbc:postgresql://pg:5432/iceberg", "ICEBERG_USER": "iceberg",
        "ICEBERG_PASSWORD": "pw", "BOOTSTRAP_SERVERS": "kafka:9092", "REGISTRY_URL": "http://registry:8080/apis/ccompat/v7"}


def env(**extra: str) -> dict[str, str]:
    return {ENV_PREFIX + k: v for k, v in {**BASE, **extra}.items()}


def test_plaintext_needs_no_properties():
    assert kafka_properties() == {}


def test_scram_uses_the_shaded_login_module_and_quotes_the_password():
    props = kafka_properties("SASL_SSL", "SCRAM-SHA-512", "flink", 'p"w\\x', "/etc/kafka-ca/ca.crt")
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["sasl.jaas.config"] == ('org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.'
                                         'ScramLoginModule required username="flink" password="p\\"w\\\\x";')
    assert props["ssl.truststore.type"] == "PEM" and props["ssl.truststore.location"] == "/etc/kafka-ca/ca.crt"
    with pytest.raises(ValueError, match="GSSAPI"):
        kafka_properties("SASL_SSL", "GSSAPI", "u", "p")


def test_the_env_document_equals_the_file_document():
    s3 = S3Location("http://s3.internal:9000", "lake", "ak", "sk")
    iceberg = {"jdbc_url": "jdbc:postgresql://pg:5432/iceberg", "user": "iceberg", "password": "pw",
               "warehouse": "s3://lake/iceberg", "name": "lakehouse"}
    kafka = kafka_properties("SASL_PLAINTEXT", "SCRAM-SHA-512", "flink", "secret")
    expected = document(bootstrap_servers="kafka:9092", registry_url="http://registry:8080/apis/ccompat/v7",
                        checkpoint_interval_s=5.0, iceberg=iceberg, s3=s3, kafka=kafka, registry_user_info="r:rp")
    got = from_env(env(CHECKPOINT_INTERVAL_S="5", KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
                       KAFKA_SASL_MECHANISM="SCRAM-SHA-512", KAFKA_USERNAME="flink", KAFKA_PASSWORD="secret",
                       REGISTRY_USERNAME="r", REGISTRY_PASSWORD="rp"))
    assert got == expected
    assert set(env()) <= set(ENV_VARIABLES)


def test_a_missing_variable_is_named():
    incomplete = env()
    del incomplete[ENV_PREFIX + "ICEBERG_PASSWORD"]
    with pytest.raises(SystemExit, match="LAKECTL_JOB_ICEBERG_PASSWORD is not set"):
        from_env(incomplete)
