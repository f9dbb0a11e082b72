"""Kafka: a single-node KRaft broker (broker + controller in one process).

Native: Kafka's jars from Maven Central (plus a log4j2 binding, which Kafka's POM does not bring),
``StorageTool format --standalone`` once, then ``kafka.Kafka``. Compose runs the same recipe in the
``lakectl/kafka`` image. The Prometheus JMX exporter runs as a java agent (rules:
deploy/prometheus/kafka-jmx.yml) on 127.0.0.1 at the ``metrics`` port.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from string import Template

from lakectl.artifacts import Dependency, maven_classpath
from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.waiting import kafka_probe

DEPENDENCIES = (
    Dependency(f"org.apache.kafka:kafka_2.13:{versions.KAFKA}"),
    # ProducerPerformance for the P1 benchmark; Connect's web stack is not needed for it
    Dependency(f"org.apache.kafka:kafka-tools:{versions.KAFKA}", exclude=(
        "org.apache.kafka:connect-runtime", "com.fasterxml.jackson.jakarta.rs:jackson-jakarta-rs-json-provider")),
    Dependency(f"org.apache.logging.log4j:log4j-slf4j-impl:{versions.LOG4J}"),
)


JMX_AGENT = (Dependency(f"io.prometheus.jmx:jmx_prometheus_javaagent:{versions.JMX_EXPORTER}", exclude=("*:*",)),)


def jmx_agent(stack: StackContext) -> Path:
    """The JMX exporter's self-contained agent jar (from Maven Central through mvn, cached)."""
    lib = maven_classpath(stack.cache_dir, f"jmx-prometheus-javaagent-{versions.JMX_EXPORTER}", JMX_AGENT) / "lib"
    return next(lib.glob("jmx_prometheus_javaagent-*.jar"))


def jmx_rules() -> Path:
    return deploy_dir() / "prometheus" / "kafka-jmx.yml"


def lib_dir(stack: StackContext) -> Path:
    return maven_classpath(stack.cache_dir, f"kafka-{versions.KAFKA}", DEPENDENCIES) / "lib"


def classpath(stack: StackContext) -> str:
    return str(lib_dir(stack) / "*")


def new_cluster_id() -> str:
    """A random cluster id as Kafka's ``Uuid.randomUuid`` makes them: base64url of 16 bytes, never starting
    with "-" (StorageTool's argument parser would take it for an option: 1 format in 64 failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaRecipe(NativeRecipe):
    @property
    def config_dir(self) -> Path:
        return self.data_dir / "config"

    def fetch(self) -> None:
        classpath(self.stack)
        jmx_agent(self.stack)
        self.java()

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        return [self.java(), f"-Xmx{heap}", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.config_dir / 'log4j2.yaml'}",
                # log4j must not stop before Kafka finishes its controlled shutdown
                "-Dlog4j2.shutdownHookEnabled=false", "-cp", classpath(self.stack), *args]

    def prepare(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        template = Template((deploy_dir() / "native" / "kafka" / "server.properties").read_text())
        (self.config_dir / "server.properties").write_text(template.substitute(
            port=self.port(), controller_port=self.port("controller"), log_dirs=self.data_dir / "kraft-logs"))
        (self.config_dir / "log4j2.yaml").write_text((deploy_dir() / "native" / "kafka" / "log4j2.yaml").read_text())
        if (self.data_dir / "kraft-logs" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        done = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "--standalone", "--ignore-formatted",
                       "-t", cluster_id, "-c", str(self.config_dir / "server.properties")),
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise ComponentError(f"kafka: formatting storage failed: {(done.stderr or done.stdout).strip()[-400:]}")

    def launch(self) -> Launch:
        agent = f"-javaagent:{jmx_agent(self.stack)}={LOCALHOST}:{self.port('metrics')}:{jmx_rules()}"
        java = self.java()
        return Launch(self._java(
            agent, *self.class_data_sharing(java, [lib_dir(self.stack), jmx_agent(self.stack)], java_agent=True),
            "-Xms256m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "kafka.Kafka", str(self.config_dir / "server.properties"), heap="1g"))


def bootstrap(stack: StackContext) -> str:
    return f"{LOCALHOST}:{stack.port(SPEC)}"


SPEC = ServiceSpec(
    name="kafka",
    summary="Kafka broker (KRaft, single node)",
    ports={"main": 9092, "controller": 9093, "metrics": 9308},
    url=bootstrap,
    probe=lambda stack: kafka_probe({"bootstrap.servers": bootstrap(stack), "reconnect.backoff.max.ms": 200}),
    native=lambda stack: KafkaRecipe(stack, SPEC),
    java=(17, None),
    version=versions.KAFKA,
    stop_grace_s=60,  # a broker that is killed recovers its log segments at the next start
    remote_url="kafka.bootstrap_servers",
)
