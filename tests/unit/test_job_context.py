"""The Kafka security properties a job's context carries (the shaded connector's login module)."""

from __future__ import annotations

import pytest

from lakectl.job_context import kafka_properties


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
