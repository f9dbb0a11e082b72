"""Every version of a native artifact, pinned in one place."""

KAFKA = "4.1.2"
# Kafka 4.1 is built against SLF4J 1.7: the binding must be log4j-slf4j-impl, not -slf4j2-impl
LOG4J = "2.25.3"
APICURIO_REGISTRY = "3.3.3"
POSTGRESQL_JDBC = "42.7.8"
