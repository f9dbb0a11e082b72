"""Flink 1.20 session cluster: a JobManager (REST API) and a TaskManager, as two services.

Native: the PyPI ``apache-flink`` distribution (bin/, lib/, opt/, plugins/) in its own virtualenv,
plus connector jars from Maven Central, assembled into a FLINK_HOME in the cache. Configuration
lives in the state dir (FLINK_CONF_DIR), because it holds the object store's secret key.
Checkpoints and savepoints go to the object store (``s3://<bucket>/flink/...``) through the
flink-s3-fs-hadoop plugin; Iceberg writes with its own S3FileIO; the Delta sink with Hadoop S3A.

``lakectl up flink`` starts both processes (``flink`` is an alias); the TaskManager is its own
service so it can be killed and restarted on its own, which is what the fault tests do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from lakectl.artifacts import (
    Dependency,
    cache_lock,
    cached_build,
    maven_classpath,
    maven_shaded_jar,
    python_venv,
)
from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext, write_private
from lakectl.runtime.native.java import find_java
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.services import flink_delta, object_store, postgres
from lakectl.runtime.waiting import http_probe

CATALOG_DATABASE = "iceberg"
NONE = ("*:*",)  # fat jars: their POM dependencies are already inside

LIB_DEPENDENCIES = (
    Dependency(f"org.apache.flink:flink-sql-avro-confluent-registry:{versions.FLINK_AVRO_CONFLUENT}", NONE),
    Dependency(f"org.apache.iceberg:iceberg-flink-runtime-1.20:{versions.ICEBERG}", NONE),
    Dependency(f"org.apache.iceberg:iceberg-aws-bundle:{versions.ICEBERG}", NONE),
    Dependency(f"org.apache.hadoop:hadoop-client-api:{versions.HADOOP}", NONE),
    Dependency(f"org.apache.hadoop:hadoop-client-runtime:{versions.HADOOP}", NONE),
    Dependency(f"org.postgresql:postgresql:{versions.POSTGRESQL_JDBC}", NONE),
)
S3_PLUGIN = (Dependency(f"org.apache.flink:flink-s3-fs-hadoop:{versions.FLINK_S3_PLUGIN}", NONE),)
OPT_DEPENDENCIES = (Dependency(f"org.apache.flink:flink-sql-gateway:{versions.FLINK_SQL_GATEWAY}", NONE),)
SHADED = "org.apache.flink.kafka.shaded."


def kafka_connector(cache_dir: Path) -> Path:
    """Flink's Kafka SQL connector for 1.20: the registries serve it only unshaded, so build the
    shaded jar the way upstream does (kafka-clients and its helpers relocated)."""
    return maven_shaded_jar(
        cache_dir, f"flink-sql-connector-kafka-{versions.FLINK_KAFKA_CONNECTOR}",
        [Dependency(f"org.apache.flink:flink-connector-kafka:{versions.FLINK_KAFKA_CONNECTOR}")],
        {p: SHADED + p for p in ("org.apache.kafka", "com.google", "com.fasterxml.jackson")},
        excludes=["org.slf4j:*", "org.apache.flink:flink-shaded-*", "com.google.code.findbugs:jsr305",
                  "org.checkerframework:*"],
    )


def loopback_reporter(stack: StackContext) -> Path:
    """Flink's Prometheus reporter bound to one address (deploy/native/flink/loopback-reporter),
    compiled with javac against the distribution's own reporter plugin; cached by source hash."""
    sources = deploy_dir() / "native" / "flink" / "loopback-reporter"
    files = sorted(p for p in sources.rglob("*") if p.is_file())
    digest = hashlib.sha256(b"".join(p.relative_to(sources).as_posix().encode() + p.read_bytes() for p in files))
    target = stack.cache_dir / "build" / f"flink-loopback-reporter-{digest.hexdigest()[:10]}"
    jar_name = "lakectl-loopback-reporter.jar"

    def build(work: Path) -> Path:
        dist = pyflink_dir(stack)
        classpath = ":".join(str(p) for p in [*(dist / "plugins" / "metrics-prometheus").glob("*.jar"),
                                              *(dist / "lib").glob("flink-dist-*.jar")])
        java = Path(find_java(*JAVA, jvm_dirs=stack.settings.jvm_dirs))
        javac, jar_tool = java.parent / "javac", java.parent / "jar"
        if not javac.exists():
            raise ComponentError(f"flink: no javac next to {java}", hint="apt-get install openjdk-17-jdk-headless")
        (work / "result").mkdir()
        java_files = [str(p) for p in files if p.suffix == ".java"]
        for argv in ([str(javac), "-nowarn", "-d", str(work / "classes"), "-cp", classpath, *java_files],
                     [str(jar_tool), "cf", str(work / "result" / jar_name), "-C", str(work / "classes"), ".",
                      "-C", str(sources), "META-INF"]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise ComponentError(f"flink: building the loopback reporter failed: {done.stderr.strip()[-400:]}")
        return work / "result"

    return cached_build(stack.cache_dir, target, build, {"javac": [p.name for p in files]}) / jar_name


def venv(stack: StackContext) -> Path:
    return python_venv(stack.cache_dir, f"flink-{versions.FLINK}", [f"apache-flink=={versions.FLINK}"])


def pyflink_dir(stack: StackContext) -> Path:
    return next((venv(stack) / "lib").glob("python3*/site-packages/pyflink"))


def extra_lib_jars(stack: StackContext) -> list[Path]:
    jars = sorted((maven_classpath(stack.cache_dir, f"flink-lib-{versions.FLINK}-{_digest(LIB_DEPENDENCIES)}",
                                   LIB_DEPENDENCIES) / "lib").glob("*.jar"))
    jars.append(kafka_connector(stack.cache_dir))
    # the Delta sink (built from flink_jobs/delta_sink) and the two jars S3A needs besides lib/'s
    deps = flink_delta.DELTA_LIB_DEPENDENCIES
    delta_lib = maven_classpath(stack.cache_dir, f"flink-delta-lib-{_digest(deps)}", deps) / "lib"
    jars += sorted(delta_lib.glob("*.jar"))
    jars.append(flink_delta.build_delta_sink_jar(stack.cache_dir))
    return jars


def _digest(deps) -> str:
    return hashlib.sha256(repr([(d.coords, d.exclude) for d in deps]).encode()).hexdigest()[:10]


def flink_home(stack: StackContext) -> Path:
    """FLINK_HOME assembled in the cache: bin/ copied (config.sh resolves its own path with
    ``pwd -P``), lib/ opt/ plugins/ as directories of symlinks (PythonDriver does not find the
    flink-python jar through a symlinked opt/)."""
    dist = pyflink_dir(stack)
    libs = extra_lib_jars(stack)
    plugin = sorted((maven_classpath(stack.cache_dir, f"flink-s3-plugin-{versions.FLINK_S3_PLUGIN}", S3_PLUGIN)
                     / "lib").glob("*.jar"))
    opt = sorted((maven_classpath(stack.cache_dir, f"flink-opt-{versions.FLINK_SQL_GATEWAY}", OPT_DEPENDENCIES)
                  / "lib").glob("*.jar"))
    layout = {"lib": [*sorted((dist / "lib").glob("*.jar")), *libs],
              "opt": [*sorted((dist / "opt").glob("*.jar")), *opt],
              "plugins/s3-fs-hadoop": plugin}
    layout.update({f"plugins/{p.name}": sorted(p.glob("*.jar")) for p in (dist / "plugins").iterdir() if p.is_dir()})
    layout["plugins/metrics-prometheus"].append(loopback_reporter(stack))
    key = hashlib.sha256(repr(sorted((k, [str(p) for p in v]) for k, v in layout.items())).encode()).hexdigest()[:10]
    home = stack.cache_dir / "flink" / f"home-{versions.FLINK}-{key}"
    if (home / ".complete").exists():
        return home
    with cache_lock(stack.cache_dir, home.name):  # both Flink services fetch in parallel
        if not (home / ".complete").exists():
            _assemble(home, dist, layout)
    return home


def _assemble(home: Path, dist: Path, layout: dict[str, list[Path]]) -> None:
    work = home.with_name(home.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(dist / "bin", work / "bin")
    for directory, jars in layout.items():
        (work / directory).mkdir(parents=True, exist_ok=True)
        for jar in jars:
            (work / directory / jar.name).symlink_to(jar)
    shutil.copytree(dist / "conf", work / "conf")  # defaults only; the stack's config is FLINK_CONF_DIR
    (work / "log").mkdir()
    (work / ".complete").write_text("")
    shutil.rmtree(home, ignore_errors=True)
    os.replace(work, home)


def rest_url(stack: StackContext) -> str:
    return JOBMANAGER.url(stack)


def conf_dir(stack: StackContext) -> Path:
    return stack.data_root / "flink" / "conf"


def catalog_jdbc_url(stack: StackContext) -> str:
    return postgres.jdbc_url(stack, CATALOG_DATABASE)


def write_config(stack: StackContext) -> Path:
    """conf/config.yaml for both processes (flat keys are valid in Flink 1.20's YAML config)."""
    s3 = object_store.location(stack)
    python = str(venv(stack) / "bin" / "python")
    flink = stack.settings.flink
    config: dict[str, object] = {
        "jobmanager.rpc.address": LOCALHOST,
        "jobmanager.rpc.port": stack.port(JOBMANAGER, "rpc"),
        "jobmanager.bind-host": LOCALHOST,
        "jobmanager.memory.process.size": "1000m",
        "rest.address": LOCALHOST,
        "rest.bind-address": LOCALHOST,
        "rest.port": stack.port(JOBMANAGER),
        "taskmanager.host": LOCALHOST,
        "taskmanager.bind-host": LOCALHOST,
        "taskmanager.numberOfTaskSlots": 4,
        "taskmanager.memory.process.size": "2000m",
        "taskmanager.memory.managed.fraction": 0.1,  # no RocksDB, no Python UDFs: give it to the heap
        "parallelism.default": flink.parallelism,
        "blob.server.port": "0",
        # a lost TaskManager is noticed in ~10 s instead of 50 s
        "heartbeat.interval": 2000,
        "heartbeat.timeout": 10000,
        # a TaskManager that starts alongside its JobManager retries every second, not every 10 s
        "cluster.registration.error-delay": 1000,
        "cluster.registration.max-timeout": 2000,
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "20 s",
        # back to a 1 s backoff after a minute without failure (upstream: an hour), so that a fault an
        # hour after the last one is not waited out as if it were a crash loop
        "restart-strategy.exponential-delay.reset-backoff-threshold": "1 min",
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": s3.uri("flink", "checkpoints"),
        "execution.checkpointing.savepoint-dir": s3.uri("flink", "savepoints"),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": 3,
        # the flink-s3-fs-hadoop plugin, for checkpoints and savepoints
        "s3.endpoint": s3.endpoint,
        "s3.path.style.access": "true",
        "s3.access-key": s3.access_key,
        "s3.secret-key": s3.secret_key,
        "python.executable": python,
        "python.client.executable": python,
        # upstream's reporter listens on every interface; this one on 127.0.0.1 only
        "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.LoopbackPrometheusReporterFactory",
        "metrics.reporter.prom.host": LOCALHOST,
        "metrics.reporter.prom.port": stack.port(JOBMANAGER, "metrics"),
        "web.submit.enable": "true",
        "web.cancel.enable": "true",
    }
    path = conf_dir(stack)
    path.mkdir(parents=True, exist_ok=True)
    dist_conf = pyflink_dir(stack) / "conf"
    java_opts = next((line.split("all:", 1)[1].strip() for line in (dist_conf / "config.yaml").read_text().splitlines()
                      if line.strip().startswith("all: --add-exports")), "")
    config["env.java.opts.all"] = java_opts
    for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
        shutil.copy(dist_conf / name, path / name)
    # it holds the S3 secret
    write_private(path / "config.yaml", "".join(f"{key}: {_yaml_scalar(value)}\n" for key, value in config.items()))
    return path


def _yaml_scalar(value: object) -> str:
    text = str(value)
    return text if isinstance(value, int | float) or text.startswith("--") else f'"{text}"'


class _FlinkRecipe(NativeRecipe):
    process = "jobmanager"

    def fetch(self) -> None:
        flink_home(self.stack)
        self.java()

    def prepare(self) -> None:
        if self.process == "jobmanager":
            postgres.ensure_database(self.stack, CATALOG_DATABASE)
        write_config(self.stack)
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        home = flink_home(self.stack)
        java = Path(self.java())
        dynamic = []
        if self.process == "taskmanager":
            dynamic = ["-D", f"metrics.reporter.prom.port={self.port('metrics')}",
                       "-D", f"io.tmp.dirs={self.data_dir / 'tmp'}"]
            (self.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        # the JobManager and the SQL Gateway do no data processing: C1 only starts them faster on
        # 2 cores; the TaskManager keeps the optimising compiler
        quick = "" if self.process == "taskmanager" else "-XX:TieredStopAtLevel=1"
        cds = " ".join(self.class_data_sharing(str(java), [home / "lib"]))
        return Launch(
            [str(home / "bin" / f"{self.process}.sh"), "start-foreground", *dynamic],
            env={**os.environ, "FLINK_HOME": str(home), "FLINK_CONF_DIR": str(conf_dir(self.stack)),
                 "FLINK_LOG_DIR": str(self.data_dir), "JAVA_HOME": str(java.parent.parent),
                 "FLINK_ENV_JAVA_OPTS_JM": f"{quick} {cds}", "FLINK_ENV_JAVA_OPTS_TM": cds,
                 "FLINK_ENV_JAVA_OPTS_SQL_GATEWAY": f"-Xmx384m {quick} {cds}",
                 "PATH": f"{java.parent}:{os.environ.get('PATH', '')}"},
            cwd=self.data_dir,
        )


class JobManagerRecipe(_FlinkRecipe):
    process = "jobmanager"


class TaskManagerRecipe(_FlinkRecipe):
    process = "taskmanager"


class SqlGatewayRecipe(_FlinkRecipe):
    """The SQL Gateway (REST): runs ``.sql`` jobs on the session cluster. Its jar is not in the PyPI
    distribution; it comes from Maven Central into opt/."""

    process = "sql-gateway"

    def launch(self) -> Launch:
        launch = super().launch()
        launch.argv += ["-Dsql-gateway.endpoint.rest.address=" + LOCALHOST,
                        "-Dsql-gateway.endpoint.rest.bind-address=" + LOCALHOST,
                        f"-Dsql-gateway.endpoint.rest.port={self.port()}",
                        "-Dexecution.target=remote"]
        return launch


def _taskmanager_probe(stack: StackContext):
    """Ready when the JobManager counts at least one registered TaskManager with free slots."""
    return http_probe(rest_url(stack) + "/overview", expect=lambda r: r.status_code == 200
                      and r.json().get("taskmanagers", 0) >= 1)


# what the three Flink services share: Java, version, the alias that starts them together
JAVA = (11, 17)
FLINK = {"java": JAVA, "version": versions.FLINK, "group": "flink"}

JOBMANAGER = ServiceSpec(
    name="flink-jobmanager",
    summary="Flink JobManager (REST API, session cluster)",
    ports={"main": 8081, "rpc": 6123, "metrics": 9249},
    probe=lambda stack: http_probe(rest_url(stack) + "/config"),
    native=lambda stack: JobManagerRecipe(stack, JOBMANAGER),
    depends_on=("postgres", "object-store"),
    # checkpoints reach the object store only once a job runs
    starts_after=("postgres",),
    remote_url="flink.url",
    **FLINK,
)

TASKMANAGER = ServiceSpec(
    name="flink-taskmanager",
    summary="Flink TaskManager (runs the jobs' tasks)",
    ports={"metrics": 9250},
    url=rest_url,
    probe=_taskmanager_probe,
    native=lambda stack: TaskManagerRecipe(stack, TASKMANAGER),
    depends_on=("flink-jobmanager",),
    # it keeps trying to register with the JobManager (cluster.registration.*): both start together
    starts_after=(),
    remote_url="flink.url",
    **FLINK,
)


SQL_GATEWAY = ServiceSpec(
    name="flink-sql-gateway",
    summary="Flink SQL Gateway (REST; runs .sql jobs)",
    ports={"main": 8083},
    probe=lambda stack: http_probe(SQL_GATEWAY.url(stack) + "/v1/info"),
    native=lambda stack: SqlGatewayRecipe(stack, SQL_GATEWAY),
    depends_on=("flink-jobmanager",),
    # it reaches the JobManager only when a session runs a statement
    starts_after=(),
    **FLINK,
)

SPECS = (JOBMANAGER, TASKMANAGER, SQL_GATEWAY)
