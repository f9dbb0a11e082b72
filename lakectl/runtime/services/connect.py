"""Kafka Connect: one distributed worker of the broker's own Kafka version, its REST API on 127.0.0.1.

Native: ``connect-runtime``, ``connect-json`` and ``connect-file`` of ``versions.KAFKA`` from Maven Central
(plus the log4j2 binding Kafka's POMs do not bring; the log config is a properties file, so the worker needs no
YAML parser to log) on the worker's classpath, run as ``ConnectDistributed`` with a config written into its data
dir. Connector plugins are fetched by coordinates, each into its own folder (its jars and their runtime
dependencies, without ``org.apache.kafka:*``, which the worker provides) and linked under ``plugin.path``:
Debezium's PostgreSQL connector (``versions.DEBEZIUM``, built against the same Kafka) and whatever the
``connect.plugins`` setting adds. The worker creates its three internal topics (configs, offsets, statuses;
compacted, as Connect requires) with the names, partitions and replication factor set here. The JMX exporter
java agent serves its metrics (rules: deploy/prometheus/connect-jmx.yml) on 127.0.0.1 at the ``metrics`` port.

Not part of a plain ``lakectl up`` (a JVM of ~400 MB for whoever ingests through Connect): ``lakectl up connect``
starts it, after Kafka. Compose runs the same recipe in the ``lakectl/connect`` image.
"""

from __future__ import annotations

import os
from pathlib import Path

from lakectl.artifacts import Dependency, maven_classpath
from lakectl.errors import UsageError
from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.services import kafka, prometheus
from lakectl.runtime.waiting import Probe, ProbeResult

DEPENDENCIES = (
    Dependency(f"org.apache.kafka:connect-runtime:{versions.KAFKA}"),
    Dependency(f"org.apache.kafka:connect-json:{versions.KAFKA}"),
    Dependency(f"org.apache.kafka:connect-file:{versions.KAFKA}"),
    Dependency(f"org.apache.logging.log4j:log4j-slf4j-impl:{versions.LOG4J}"),
)
# the connector plugins every local worker has (connect.plugins in lakectl.toml adds more)
DEFAULT_PLUGINS = (f"io.debezium:debezium-connector-postgres:{versions.DEBEZIUM}",)
# the worker brings Kafka's own jars; a second copy in a plugin's folder would shadow them
PLUGIN_EXCLUDES = ("org.apache.kafka:*",)

GROUP_ID = "lakectl-connect"
CONFIG_TOPIC = "lakectl-connect-configs"
OFFSET_TOPIC = "lakectl-connect-offsets"
STATUS_TOPIC = "lakectl-connect-status"
# the worker creates them compacted; the config topic always has one partition
OFFSET_PARTITIONS = 5
STATUS_PARTITIONS = 1
REPLICATION_FACTOR = 1  # one broker natively


def lib_dir(stack: StackContext) -> Path:
    return maven_classpath(stack.cache_dir, f"connect-{versions.KAFKA}", DEPENDENCIES) / "lib"


def plugin_coordinates(stack: StackContext) -> list[str]:
    """Every plugin the local worker loads: the default ones and the ``connect.plugins`` setting's, once each."""
    return list(dict.fromkeys((*DEFAULT_PLUGINS, *stack.settings.connect.plugins)))


def plugin_folder_name(coords: str) -> str:
    """``group:artifact:version`` -> ``artifact-version`` (its folder under ``plugin.path``); UsageError otherwise."""
    parts = coords.split(":")
    if len(parts) != 3 or not all(parts) or any(c in coords for c in "/\\ "):
        raise UsageError(f"connect.plugins: {coords!r} is not group:artifact:version")
    return f"{parts[1]}-{parts[2]}"


def plugin_dir(stack: StackContext, coords: str) -> Path:
    """One plugin's jars (the artifact and its runtime dependencies but Kafka's), in the cache."""
    name = plugin_folder_name(coords)
    return maven_classpath(stack.cache_dir, f"connect-plugin-{name}",
                           [Dependency(coords, exclude=PLUGIN_EXCLUDES)]) / "lib"


def jmx_rules() -> Path:
    return deploy_dir() / "prometheus" / "connect-jmx.yml"


def worker_properties(stack: StackContext, plugin_path: Path) -> dict[str, object]:
    """The distributed worker's config: the broker, the internal topics, the REST listener, the plugins."""
    port = stack.port(SPEC)
    return {
        "bootstrap.servers": kafka.bootstrap(stack),
        "group.id": GROUP_ID,
        "config.storage.topic": CONFIG_TOPIC,
        "config.storage.replication.factor": REPLICATION_FACTOR,
        "offset.storage.topic": OFFSET_TOPIC,
        "offset.storage.partitions": OFFSET_PARTITIONS,
        "offset.storage.replication.factor": REPLICATION_FACTOR,
        "status.storage.topic": STATUS_TOPIC,
        "status.storage.partitions": STATUS_PARTITIONS,
        "status.storage.replication.factor": REPLICATION_FACTOR,
        # what a connector that names no converter gets: schemaless JSON
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "offset.flush.interval.ms": 10000,
        "listeners": f"http://{LOCALHOST}:{port}",
        "rest.advertised.host.name": LOCALHOST,
        "rest.advertised.port": port,
        "rest.advertised.listener": "http",
        "plugin.path": plugin_path,
        # the default plugins (and Kafka's own) declare themselves in ServiceLoader manifests: finding them that
        # way takes a second where scanning every class of every jar took 30 s. Extra plugins may predate
        # manifests: then the worker scans too (and its log says which plugins lack one)
        "plugin.discovery": "hybrid_warn" if stack.settings.connect.plugins else "service_load",
        # connectors may read settings from files (${file:...}) instead of carrying secrets in their configs
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
    }


class ConnectRecipe(NativeRecipe):
    @property
    def config_dir(self) -> Path:
        return self.data_dir / "config"

    @property
    def plugin_path(self) -> Path:
        return self.data_dir / "plugins"

    def fetch(self) -> None:
        lib_dir(self.stack)
        for coords in plugin_coordinates(self.stack):
            plugin_dir(self.stack, coords)
        kafka.jmx_agent(self.stack)
        self.java()

    def prepare(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self._link_plugins()
        lines = [f"{key}={value}" for key, value in worker_properties(self.stack, self.plugin_path).items()]
        (self.config_dir / "connect-distributed.properties").write_text(
            "# written by lakectl at every start (lakectl/runtime/services/connect.py)\n" + "\n".join(lines) + "\n")
        (self.config_dir / "log4j2.properties").write_text(
            (deploy_dir() / "native" / "connect" / "log4j2.properties").read_text())
        prometheus.announce(self.stack, "connect", f"{LOCALHOST}:{self.port('metrics')}")

    def purge(self) -> None:
        super().purge()
        prometheus.withdraw(self.stack, "connect")

    def _link_plugins(self) -> None:
        """``plugin.path`` holds one link per plugin, to its folder in the cache; links of plugins no longer
        configured are removed."""
        self.plugin_path.mkdir(parents=True, exist_ok=True)
        wanted = {plugin_folder_name(c): plugin_dir(self.stack, c) for c in plugin_coordinates(self.stack)}
        for entry in self.plugin_path.iterdir():
            stale = entry.name not in wanted or not entry.is_symlink() or Path(os.readlink(entry)) != wanted[entry.name]
            if stale and (entry.is_symlink() or entry.is_file()):
                entry.unlink()
        for name, target in wanted.items():
            link = self.plugin_path / name
            if not link.is_symlink():
                link.symlink_to(target, target_is_directory=True)

    def launch(self) -> Launch:
        java = self.java()
        agent = kafka.jmx_agent(self.stack)
        return Launch(
            [java, f"-javaagent:{agent}={LOCALHOST}:{self.port('metrics')}:{jmx_rules()}",
             *self.class_data_sharing(java, [lib_dir(self.stack), agent], java_agent=True),
             "-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={self.config_dir / 'log4j2.properties'}",
             "-cp", f"{lib_dir(self.stack)}/*",
             "org.apache.kafka.connect.cli.ConnectDistributed",
             str(self.config_dir / "connect-distributed.properties")],
            cwd=self.data_dir,
        )


def url(stack: StackContext) -> str:
    return f"http://{LOCALHOST}:{stack.port(SPEC)}"


def probe(stack: StackContext) -> Probe:
    """Ready when the worker has joined its group (GET /health answers 200, not 503 while it starts) and
    lists its plugins (GET /connector-plugins)."""
    base = url(stack)

    def check(timeout: float) -> ProbeResult:
        import httpx

        try:
            health = httpx.get(f"{base}/health", timeout=timeout)
            if health.status_code != 200:
                message = health.json().get("message", "") if health.content else ""
                return ProbeResult(False, f"GET {base}/health -> {health.status_code} {message}"[:200])
            plugins = httpx.get(f"{base}/connector-plugins", timeout=timeout)
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"GET {base}: {type(exc).__name__}")
        except ValueError:
            return ProbeResult(False, f"GET {base}/health -> {health.status_code}")
        if plugins.status_code != 200:
            return ProbeResult(False, f"GET {base}/connector-plugins -> {plugins.status_code}")
        return ProbeResult(True, f"{len(plugins.json())} connector plugin(s)")

    return Probe(f"http GET {base}/health and /connector-plugins", check)


SPEC = ServiceSpec(
    name="connect",
    summary="Kafka Connect worker (distributed; Debezium PostgreSQL, file connectors)",
    # not Connect's usual 8083: Flink's SQL Gateway has it
    ports={"main": 8084, "metrics": 9309},
    url=url,
    probe=probe,
    native=lambda stack: ConnectRecipe(stack, SPEC),
    depends_on=("kafka",),
    java=(17, None),
    version=versions.KAFKA,
    remote_url="connect.url",
    optional=True,
)
