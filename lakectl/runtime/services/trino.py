"""Trino 476: SQL over the lakehouse, both Bronze formats through one engine.

Catalogs (templates in deploy/trino/catalog, shared with compose): ``iceberg`` = the same JDBC
catalog in PostgreSQL the Flink job writes, ``delta`` = the Delta tables on the object store (a
file metastore next to them holds their registration), ``memory`` and ``tpch``.

Native: the ``io.trino:trino-server`` tarball from Maven Central, of which only the server and the
four plugins above are unpacked (the registries serve no delta-lake plugin zip of its own, and the
whole server with its ~60 plugins would start slower and hold more memory). It runs on Java 24+
(the Temurin JDK 25) as one coordinator that also executes, with a 2 GB heap. The catalog files,
which hold the PostgreSQL password and the object store's secret key, are rendered into the state
dir with mode 0600. Compose: ``trinodb/trino:476`` with the same templates mounted, filled by
Trino's own ``${ENV:...}`` substitution.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from lakectl.artifacts import maven_archive
from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext, write_private
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.services import flink, object_store, postgres
from lakectl.runtime.waiting import Probe, ProbeResult

VERSION = versions.TRINO
PLUGINS = ("iceberg", "delta-lake", "memory", "tpch")
HEAP = "2g"
ENVIRONMENT = "lakectl"

JVM_OPTIONS = (
    f"-Xmx{HEAP}", "-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M", "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError", "-XX:-OmitStackTraceInFastThrow", "-XX:ReservedCodeCacheSize=256M",
    "-XX:PerMethodRecompilationCutoff=10000", "-XX:PerBytecodeRecompilationCutoff=10000",
    "-XX:+EnableDynamicAgentLoading", "-Djdk.attach.allowAttachSelf=true", "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8", "-XX:ActiveProcessorCount=2",
)


def url(stack: StackContext) -> str:
    return SPEC.url(stack)


def server_home(cache_dir: Path) -> Path:
    """bin/, lib/ and plugin/{PLUGINS} of the Trino server tarball, unpacked into the cache."""
    return maven_archive(cache_dir, f"trino-server-{VERSION}-" + "-".join(PLUGINS),
                         f"io.trino:trino-server:{VERSION}:tar.gz", keep=_wanted, source={"plugins": list(PLUGINS)})


def _wanted(member: str) -> bool:
    parts = member.split("/")
    if len(parts) < 2 or parts[1] in ("", "NOTICE", "README.txt", "lib", "bin"):
        return True
    return parts[1] == "plugin" and (len(parts) == 2 or parts[2] in PLUGINS)


def catalog_values(stack: StackContext) -> dict[str, str]:
    """What the ``${ENV:...}`` placeholders of deploy/trino/catalog stand for on this stack."""
    s3 = object_store.location(stack)
    return {
        "TRINO_CATALOG_NAME": stack.settings.catalog.name,
        "TRINO_ICEBERG_JDBC_URL": flink.catalog_jdbc_url(stack),
        "TRINO_JDBC_USER": postgres.SUPERUSER,
        "LAKECTL_POSTGRES_PASSWORD": stack.secret("postgres_password"),
        "TRINO_WAREHOUSE": s3.uri().rstrip("/"),
        "TRINO_S3_ENDPOINT": s3.endpoint,
        "TRINO_S3_REGION": s3.region,
        "LAKECTL_OBJECT_STORE_KEY_ID": s3.access_key,
        "LAKECTL_OBJECT_STORE_SECRET": s3.secret_key,
    }


PLACEHOLDER = re.compile(r"\$\{ENV:([A-Za-z0-9_]+)\}")


def render(template: str, values: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match.group(1) not in values:
            raise ComponentError(f"trino: catalog template needs {match.group(1)}, which lakectl does not set")
        return values[match.group(1)]

    return PLACEHOLDER.sub(one, template)


class TrinoRecipe(NativeRecipe):
    def fetch(self) -> None:
        server_home(self.stack.cache_dir)
        self.java()

    @property
    def etc(self) -> Path:
        return self.data_dir / "etc"

    def prepare(self) -> None:
        catalogs = self.etc / "catalog"
        catalogs.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "data").mkdir(exist_ok=True)
        values = catalog_values(self.stack)
        for template in sorted((deploy_dir() / "trino" / "catalog").glob("*.properties")):
            write_private(catalogs / template.name, render(template.read_text(), values))
        node_id = self.data_dir / "node-id"
        if not node_id.exists():  # a node keeps its id across restarts
            node_id.write_text(str(uuid.uuid4()))
        properties = {
            "node.environment": ENVIRONMENT,
            "node.id": node_id.read_text().strip(),
            "node.bind-ip": LOCALHOST,
            "node.internal-address": LOCALHOST,
            "coordinator": "true",
            "node-scheduler.include-coordinator": "true",
            "http-server.http.port": self.port(),
            "discovery.uri": url(self.stack),
            "catalog.config-dir": catalogs,
            "plugin.dir": server_home(self.stack.cache_dir) / "plugin",
            # 2 cores, a 2 GB heap: small queries, little parallelism
            "query.max-memory": "1GB",
            "query.max-memory-per-node": "768MB",
            "task.concurrency": 2,
            "task.max-worker-threads": 4,
            "query.client.timeout": "5m",
        }
        write_private(self.etc / "config.properties", "".join(f"{k}={v}\n" for k, v in properties.items()))

    def launch(self) -> Launch:
        home = server_home(self.stack.cache_dir)
        java = self.java()
        return Launch(
            [java, *JVM_OPTIONS, *self.class_data_sharing(java, [home / "lib"]),
             f"-Djava.io.tmpdir={self.data_dir / 'data'}",
             f"-Dconfig={self.etc / 'config.properties'}", "-cp", f"{home / 'lib'}/*", "io.trino.server.TrinoServer"],
            cwd=self.data_dir,
        )


def _probe(stack: StackContext) -> Probe:
    """Ready when /v1/info says it is no longer starting and a ``SELECT 1`` runs."""

    def check(timeout: float) -> ProbeResult:
        import httpx

        try:
            info = httpx.get(url(stack) + "/v1/info", timeout=timeout)
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"GET /v1/info: {type(exc).__name__}")
        if info.status_code != 200 or info.json().get("starting", True):
            return ProbeResult(False, f"GET /v1/info -> {info.status_code}, starting")
        from lakectl.components.trino import TrinoClient

        client = TrinoClient.connect(url(stack), timeout=max(timeout, 5.0))
        result = client.execute("SELECT 1")
        return ProbeResult(result.rows == [[1]], f"SELECT 1 -> {result.rows}")

    return Probe(f"trino {url(stack)}/v1/info and SELECT 1", check)


def _after_ready(stack: StackContext) -> None:
    """Create the Iceberg catalog's database and tables if need be, and register the Bronze Delta tables
    that exist already (lakectl query registers later ones)."""
    from lakectl.components.trino import TrinoClient, register_delta_tables

    postgres.ensure_database(stack, flink.CATALOG_DATABASE)
    _ensure_iceberg_catalog_tables(stack)
    register_delta_tables(TrinoClient.connect(url(stack), timeout=60), object_store.location(stack))


def _ensure_iceberg_catalog_tables(stack: StackContext) -> None:
    """Trino's JDBC catalog never creates its tables (it builds Iceberg's JdbcCatalog without initialising
    them), so on a stack where no Flink job has run yet every Iceberg statement failed with "Cannot check and
    eventually update SQL schema" (relation iceberg_tables does not exist). pyiceberg's SQL catalog creates
    the same tables Iceberg's Java JdbcCatalog uses, when they are missing."""
    from pyiceberg.catalog.sql import SqlCatalog

    from lakectl.components.lakehouse import sqlalchemy_url

    SqlCatalog(stack.settings.catalog.name,
               uri=sqlalchemy_url(flink.catalog_jdbc_url(stack), postgres.SUPERUSER, stack.secret("postgres_password")),
               warehouse=object_store.location(stack).uri("iceberg"), init_catalog_tables="true")


SPEC = ServiceSpec(
    name="trino",
    summary="Trino (SQL over Iceberg and Delta)",
    ports={"main": 8080},
    probe=_probe,
    native=lambda stack: TrinoRecipe(stack, SPEC),
    depends_on=("postgres", "object-store"),
    # its catalogs reach PostgreSQL and the object store only when queried: it starts (the slowest
    # of all) at once, and creates the Iceberg catalog's database once PostgreSQL is ready
    starts_after=(),
    after_ready=_after_ready,
    java=(24, None),  # Trino 476 refuses older runtimes
    version=VERSION,
    remote_url="trino.url",
)
