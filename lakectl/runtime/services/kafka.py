"""Kafka: a single-node KRaft broker (broker + controller in one process).

Native: Kafka's jars from Maven Central (plus a log4j2 binding, which Kafka's POM does not bring),
``StorageTool format --standalone`` once, then ``kafka.Kafka``. Compose: the apache/kafka image.
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
from lakectl.runtime.native.java import find_java
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


def classpath(stack: StackContext) -> str:
    return str(maven_classpath(stack.cache_dir, f"kafka-{versions.KAFKA}", DEPENDENCIES) / "lib" / "*")


class KafkaRecipe(NativeRecipe):
    @property
    def config_dir(self) -> Path:
        return self.data_dir / "config"

    def fetch(self) -> None:
        classpath(self.stack)

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        return [find_java(17), f"-Xmx{heap}", "-Djava.awt.headless=true",
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
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        done = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "--standalone", "--ignore-formatted",
                       "-t", cluster_id, "-c", str(self.config_dir / "server.properties")),
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise ComponentError(f"kafka: formatting storage failed: {(done.stderr or done.stdout).strip()[-400:]}")

    def launch(self) -> Launch:
        return Launch(self._java(
            "-Xms256m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "kafka.Kafka", str(self.config_dir / "server.properties"), heap="1g"))


def bootstrap(stack: StackContext) -> str:
    return f"{LOCALHOST}:{stack.port(SPEC)}"


SPEC = ServiceSpec(
    name="kafka",
    summary="Kafka broker (KRaft, single node)",
    ports={"main": 9092, "controller": 9093},
    url=bootstrap,
    probe=lambda stack: kafka_probe({"bootstrap.servers": bootstrap(stack), "reconnect.backoff.max.ms": 200}),
    native=lambda stack: KafkaRecipe(stack, SPEC),
)
