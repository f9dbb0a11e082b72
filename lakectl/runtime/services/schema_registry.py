"""Schema Registry speaking the Confluent REST API.

Apicurio Registry 3 (Quarkus fast-jar from Maven Central, Java 21+) with its Confluent-compatible
API at /apis/ccompat/v7 and SQL storage in the stack's PostgreSQL, so schemas survive restarts.
Compose runs the same recipe in the ``lakectl/schema-registry`` image.
"""

from __future__ import annotations

from lakectl.artifacts import maven_archive
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.services import postgres
from lakectl.runtime.waiting import http_probe

DATABASE = "registry"
CCOMPAT_PATH = "/apis/ccompat/v7"
DEFAULT_COMPATIBILITY = "BACKWARD"
# SQL storage in PostgreSQL and its connection pool: the same natively, in compose and on Kubernetes
STORAGE_PROPERTIES: dict[str, object] = {
    "apicurio.storage.kind": "sql",
    "apicurio.storage.sql.kind": "postgresql",
    "apicurio.datasource.jdbc.initial-size": 2,
    "apicurio.datasource.jdbc.min-size": 2,
    "apicurio.datasource.jdbc.max-size": 10,
}


def url(stack: StackContext) -> str:
    return f"http://{LOCALHOST}:{stack.port(SPEC)}{CCOMPAT_PATH}"


class ApicurioRecipe(NativeRecipe):
    def fetch(self) -> None:
        self.app_dir()
        self.java()

    def app_dir(self):
        return maven_archive(
            self.stack.cache_dir,
            f"apicurio-registry-{versions.APICURIO_REGISTRY}",
            f"io.apicurio:apicurio-registry-app:{versions.APICURIO_REGISTRY}:tar.gz:all",
        )

    def prepare(self) -> None:
        postgres.ensure_database(self.stack, DATABASE)
        (self.data_dir / "work").mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        work = self.data_dir / "work"
        properties = {
            "quarkus.http.host": LOCALHOST,
            "quarkus.http.port": self.port(),
            "quarkus.management.host": LOCALHOST,
            "quarkus.management.port": self.port("management"),
            **STORAGE_PROPERTIES,
            "apicurio.datasource.url": postgres.jdbc_url(self.stack, DATABASE),
            "apicurio.datasource.username": postgres.SUPERUSER,
            "apicurio.import.work-dir": work,
            "apicurio.storage.snapshot.location": work,
        }
        java = self.java()
        return Launch(
            argv=[java, *self.class_data_sharing(java, [self.app_dir() / "quarkus-run.jar"]),
                  "-Xms64m", "-Xmx256m", "-XX:MaxMetaspaceSize=160m", "-XX:+UseSerialGC",
                  "-XX:TieredStopAtLevel=1", "-Djava.util.logging.manager=org.jboss.logmanager.LogManager",
                  *(f"-D{k}={v}" for k, v in properties.items()),
                  "-jar", str(self.app_dir() / "quarkus-run.jar")],
            # the password reaches the JVM through its environment, not its command line (ps shows argv)
            env={**postgres.client_env(self.stack),
                 "APICURIO_DATASOURCE_PASSWORD": self.stack.secret("postgres_password")},
            cwd=self.data_dir,
        )


def _after_ready(stack: StackContext) -> None:
    """Apicurio starts with no compatibility rule; Confluent's default is BACKWARD.

    A registry with no subjects yet gets BACKWARD; one already in use keeps whatever it has.
    """
    from lakectl.components.registry import SchemaRegistry

    registry = SchemaRegistry.connect(url(stack))
    try:
        if not registry.subjects() and registry.get_compatibility() == "NONE":
            registry.set_compatibility(DEFAULT_COMPATIBILITY)
    finally:
        registry.close()


SPEC = ServiceSpec(
    name="schema-registry",
    summary="Schema Registry (Apicurio; Confluent REST API)",
    ports={"main": 8085, "management": 9085},
    url=url,
    probe=lambda stack: http_probe(url(stack) + "/subjects"),
    native=lambda stack: ApicurioRecipe(stack, SPEC),
    depends_on=("postgres",),
    after_ready=_after_ready,
    java=(21, None),  # Apicurio Registry 3 refuses older runtimes
    version=versions.APICURIO_REGISTRY,
    remote_url="registry.url",
)
