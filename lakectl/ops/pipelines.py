"""`lakectl pipeline add|apply|list|status|remove`: a feed from its .avsc to queryable Bronze and Silver.

``add`` writes files only (the spec beside the schema, the dbt source and Silver model); ``apply``
makes the stack match the specs (schema, topics, Bronze job, Delta table in Trino, dbt models) and
changes nothing when it already does; ``status`` reads every layer; ``remove`` takes the files away
(``--purge``: the pipeline's topics, subject and tables too).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakectl import pipeline_spec
from lakectl.errors import CheckFailed, LakectlError, UsageError
from lakectl.ops import pipeline_dbt
from lakectl.paths import flink_jobs_dir, schemas_dir

if TYPE_CHECKING:
    from lakectl.components.dbt import DbtOutcome
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.components.object_store import S3Location
    from lakectl.components.registry import SchemaRegistry
    from lakectl.components.trino import TrinoClient
    from lakectl.ops.dbt import DbtTarget
    from lakectl.ops.jobs import JobCluster
    from lakectl.ops.pipeline_cdc import CdcStack
    from lakectl.pipeline_spec import PipelineSpec

BRONZE_JOB = flink_jobs_dir() / "bronze" / "job.py"


def job_args(spec: PipelineSpec) -> list[str]:
    return spec.bronze_job_args()


# -- add ----------------------------------------------------------------------------------------------
@dataclass
class AddResult:
    name: str
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def add(name: str, schema: Path, *, key: str | None, event_time: str | None, topic: str | None,
        partitions: int, formats: list[str], force: bool, directory: Path | None = None,
        dbt_dir: Path | None = None, file: Path | None = None) -> AddResult:
    """Write ``schemas/<name>.pipeline.toml`` (the schema copied beside it when it is elsewhere), the dbt
    source and the Silver model. Everything is checked before the first file is written. ``file``: a file
    pipeline's JSON-lines file (written relative to the project root when it is inside it)."""
    from lakectl.avro import load_schema_file
    from lakectl.avro_sql import UnsupportedSchema, columns

    pipeline_spec.check_name(name)
    directory = directory or schemas_dir()
    path = pipeline_spec.spec_path(name, directory)
    if path.exists() and not force:
        raise UsageError(f"pipeline {name} exists ({path})", hint="pipeline add --force rewrites it")
    text = load_schema_file(schema)
    try:
        columns(text)  # a schema Bronze cannot hold is the first thing to say
    except UnsupportedSchema as exc:
        raise UsageError(f"{schema.name}: {exc}") from None
    beside = schema.resolve().parent == directory.resolve()
    schema_file = schema.name if beside else f"{name}.avsc"
    target_schema = directory / schema_file
    if not beside and target_schema.exists() and load_schema_file(target_schema) != text and not force:
        raise UsageError(f"{target_schema} exists with another schema", hint="pipeline add --force replaces it")
    data: dict[str, Any] = {"schema": schema_file, "topic": topic or name, "partitions": partitions,
                            "formats": formats, "key": key or _guess_key(text, schema)}
    event_time = event_time or _guess_event_time(text)
    if event_time:
        data["event_time"] = event_time
    data["partition_by"] = "day" if event_time else "none"
    file_ref = _file_ref(file) if file is not None else None
    if file_ref is not None:
        data.update(source="file", file={"path": file_ref})
    # checked against the schema where it is now: nothing is written unless all of it holds
    spec = pipeline_spec.from_mapping(name, {**data, "schema": str(schema.resolve())}, path)
    checked = spec
    spec = dataclasses.replace(spec, schema=target_schema.resolve())
    spec.__dict__["schema_text"] = checked.schema_text  # the copy is not written yet: keep what was read
    files = pipeline_dbt.files(spec, dbt_dir)
    written = []
    if not beside:
        shutil.copyfile(schema, target_schema)
        written.append(str(target_schema))
    path.write_text(pipeline_spec.render_file(spec, schema_file, file_ref) if file_ref is not None
                    else pipeline_spec.render(spec, schema_file))
    written.append(str(path))
    for file, content in files.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content)
        written.append(str(file))
    return AddResult(name, written)


def _file_ref(file: Path) -> str:
    """How a spec names the file: relative to the project root when it is inside it, else absolute."""
    from lakectl.paths import ROOT

    absolute = file.expanduser().resolve()
    return str(absolute.relative_to(ROOT)) if absolute.is_relative_to(ROOT) else str(absolute)


def add_cdc(name: str, *, database: str, table: str, topic: str | None, partitions: int, formats: list[str],
            force: bool, directory: Path | None = None) -> AddResult:
    """Write ``schemas/<name>.pipeline.toml`` for a PostgreSQL table (``schema.table`` or ``table`` in public);
    its Silver model needs the table's columns, so ``apply`` writes it."""
    pipeline_spec.check_name(name)
    directory = directory or schemas_dir()
    path = pipeline_spec.spec_path(name, directory)
    if path.exists() and not force:
        raise UsageError(f"pipeline {name} exists ({path})", hint="pipeline add --force rewrites it")
    schema, _, bare = table.rpartition(".")
    data: dict[str, Any] = {"source": "postgres-cdc", "topic": topic or name, "partitions": partitions,
                            "formats": formats,
                            "postgres": {"database": database, "schema": schema or "public", "tables": [bare]}}
    spec = pipeline_spec.from_mapping(name, data, path)
    path.write_text(pipeline_spec.render_cdc(spec))
    return AddResult(name, [str(path)])


def _guess_key(schema_text: str, schema: Path) -> str:
    """The key when ``--key`` is not given: a required field named id, <name>_id or key, else refused."""
    from lakectl.avro_sql import columns

    cols = [c for c in columns(schema_text) if c.flink in pipeline_spec.KEY_TYPES and not c.nullable]
    for candidate in cols:
        if candidate.name in ("id", "key") or candidate.name.endswith("_id"):
            return candidate.name
    raise UsageError(f"{schema.name}: no field looks like a key (id, *_id)", hint="pipeline add --key FIELD")


def _guess_event_time(schema_text: str) -> str | None:
    """A top-level timestamp-millis field, when there is exactly one."""
    from lakectl.avro_sql import columns

    found = [c.name for c in columns(schema_text) if c.logical == "timestamp-millis"]
    return found[0] if len(found) == 1 else None


# -- apply --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineStack:
    """What apply, status and remove drive; each client is made when first needed."""

    registry: Callable[[], SchemaRegistry]
    kafka: Callable[[], KafkaClient]
    jobs: Callable[[], JobCluster]
    trino: Callable[[], TrinoClient]
    s3: Callable[[], S3Location]
    lakehouse: Callable[[], Lakehouse]
    dbt: Callable[[], DbtTarget]
    state_dir: Path
    cdc: Callable[[], CdcStack] | None = None  # PostgreSQL and the Connect worker, for postgres-cdc pipelines


@dataclass
class ApplyResult:
    name: str
    schema_id: int | None = None
    changes: list[str] = field(default_factory=list)  # empty: the stack already matched the spec
    job: dict[str, Any] = field(default_factory=dict)
    dbt: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply(stack: PipelineStack, specs: list[PipelineSpec], *, build_models: bool = True,
          progress: Callable[[str], None] = lambda _m: None) -> list[ApplyResult]:
    results = []
    for spec in specs:
        progress(f"{spec.name}: schema, topics, Bronze job")
        result = ApplyResult(spec.name)
        _apply_stream(stack, spec, result)
        results.append(result)
    if build_models:
        for spec, result in zip(specs, results, strict=True):
            progress(f"{spec.name}: dbt build {pipeline_dbt.selector(spec)}")
            result.dbt = build_models_of(stack, spec).counts()
    return results


def _apply_stream(stack: PipelineStack, spec: PipelineSpec, result: ApplyResult) -> None:

    record = _applied_path(stack, spec)
    applied = json.loads(record.read_text()) if record.exists() else {}
    layout = {"formats": list(spec.formats), "partition_by": spec.partition_by}
    if applied.get("layout", layout) != layout:
        # another job graph: its state would not restore, and a format added now would miss every record
        # read so far. Refused before anything changes.
        raise UsageError(f"pipeline {spec.name}: formats or partition_by changed since it was applied "
                         f"({applied['layout']} -> {layout}); Bronze cannot change its layout in place",
                         hint=f"keep them, or start over: lakectl job stop {spec.job_name}; lakectl pipeline "
                              f"remove {spec.name} --purge (its topic and tables too); add and apply it again")
    if spec.is_cdc:
        args = _apply_cdc_source(stack, spec, result)
        wanted: dict[str, Any] = {"job_args": args, "parallelism": spec.parallelism, "layout": layout}
    elif spec.is_file:
        args = _apply_file_source(stack, spec, result)
        wanted = {"job_args": args, "parallelism": spec.parallelism, "layout": layout}
    else:
        registry, kafka = stack.registry(), stack.kafka()
        known = set(registry.subjects())
        latest = registry.get(spec.subject).id if spec.subject in known else None
        result.schema_id = registry.register(spec.subject, spec.schema_text)  # the registry's reason when refused
        if result.schema_id != latest:
            result.changes.append(f"registered {spec.subject} (schema id {result.schema_id})")
        if kafka.ensure_topic(spec.topic, spec.partitions):
            result.changes.append(f"created topic {spec.topic} ({spec.partitions} partitions)")
        if spec.dlq and kafka.ensure_topic(spec.dlq_topic):
            result.changes.append(f"created topic {spec.dlq_topic}")
        args = job_args(spec)
        wanted = {"schema_id": result.schema_id, "job_args": args, "parallelism": spec.parallelism,
                  "layout": layout}
    _ensure_job(stack, spec, result, args, applied, wanted)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted))
    if "delta" in spec.formats:
        registered = _register_delta(stack, spec)
        if registered:
            result.changes.append(f"registered {registered} in Trino")


def _apply_cdc_source(stack: PipelineStack, spec: PipelineSpec, result: ApplyResult) -> list[str]:
    """PostgreSQL's side, the topic, the connector and the generated dbt files of a postgres-cdc pipeline; the
    Bronze job's arguments (the table's row type included, so a column added in PostgreSQL resubmits it)."""
    from lakectl.ops import pipeline_cdc

    if stack.cdc is None:
        raise UsageError(f"pipeline {spec.name}: postgres-cdc needs PostgreSQL and Kafka Connect, not given here")
    cdc = stack.cdc()
    prepared = pipeline_cdc.prepare(cdc, spec)  # first: a missing table or a refusal leaves nothing behind
    result.changes += prepared.changes
    if stack.kafka().ensure_topic(spec.topic, spec.partitions):  # before Debezium writes to it
        result.changes.append(f"created topic {spec.topic} ({spec.partitions} partitions)")
    result.changes += pipeline_cdc.deploy_connector(cdc, spec, prepared)
    result.changes += [f"wrote {path}" for path in pipeline_cdc.write_dbt_files(spec, prepared.columns)]
    return [*job_args(spec), "--cdc-columns", pipeline_cdc.job_columns(prepared.columns)]


def _apply_file_source(stack: PipelineStack, spec: PipelineSpec, result: ApplyResult) -> list[str]:
    """The topic, its DLQ and the FileStreamSource connector of a file pipeline; the Bronze job's arguments (the
    schema's text included: a new schema resubmits the job from a savepoint). No subject in the registry: the topic
    holds JSON lines, not Avro records."""
    from lakectl.ops import pipeline_file

    if stack.cdc is None:
        raise UsageError(f"pipeline {spec.name}: a file source needs Kafka Connect, not given here")
    pipeline_file.check_file(spec)
    kafka = stack.kafka()
    if kafka.ensure_topic(spec.topic, spec.partitions):  # before the connector writes to it
        result.changes.append(f"created topic {spec.topic} ({spec.partitions} partitions)")
    if kafka.ensure_topic(spec.dlq_topic):  # before the job's transactional DLQ sink starts
        result.changes.append(f"created topic {spec.dlq_topic}")
    result.changes += pipeline_file.deploy_connector(stack.cdc(), spec)
    return job_args(spec)


def _ensure_job(stack: PipelineStack, spec: PipelineSpec, result: ApplyResult, args: list[str],
                applied: dict[str, Any], wanted: dict[str, Any]) -> None:
    from lakectl.ops.jobs import ensure, submit

    cluster = stack.jobs()
    ensured = ensure(cluster, BRONZE_JOB, name=spec.job_name, parallelism=spec.parallelism, job_args=args)
    if ensured.action == "none" and applied and applied != wanted:
        # a new schema version or other options: stop with a savepoint and resume from it, so Bronze
        # gains the new columns and nothing is read twice
        replaced = submit(cluster, BRONZE_JOB, name=spec.job_name, parallelism=spec.parallelism, savepoint=None,
                          replace=True, job_args=args)
        result.job = replaced.to_dict()
        result.changes.append(f"resubmitted {spec.job_name} from a savepoint ({replaced.job_id})")
    else:
        result.job = ensured.to_dict()
        if ensured.action != "none":
            result.changes.append(f"{ensured.action} {spec.job_name} ({ensured.job_id})")


def _applied_path(stack: PipelineStack, spec: PipelineSpec) -> Path:
    return stack.state_dir / "pipelines" / f"{spec.name}.json"


def _register_delta(stack: PipelineStack, spec: PipelineSpec, wait_s: float = 0) -> str | None:
    """Register ``delta.bronze.<table>`` in Trino once the sink has made the table (on its first commit with
    rows: until then apply leaves it, and status, verify and the DAG register it)."""
    from lakectl.components.trino import register_delta_tables

    deadline = time.monotonic() + wait_s
    s3 = stack.s3()
    while True:
        if s3.listing("delta", "bronze", spec.table, "_delta_log", directories=False):
            break
        if time.monotonic() > deadline:
            return None  # status and verify register it later
        time.sleep(1)
    trino = stack.trino()
    try:
        done = register_delta_tables(trino, s3, layers=("bronze",))
    finally:
        trino.close()
    name = f"delta.bronze.{spec.table}"
    return name if name in done else None


def build_models_of(stack: PipelineStack, spec: PipelineSpec) -> DbtOutcome:
    from lakectl.components.dbt import dbt_args
    from lakectl.ops import dbt

    outcome = dbt.run(stack.dbt(), "build", dbt_args("build", select=[pipeline_dbt.selector(spec)]), quiet=True)
    outcome.raise_for_status()
    return outcome


# -- list and status ----------------------------------------------------------------------------------
def list_pipelines(jobs: Callable[[], JobCluster] | None = None) -> list[dict[str, Any]]:
    """Every spec, with its job's state when the cluster answers (``None`` skips asking)."""
    specs = pipeline_spec.load_all()
    states: dict[str, str] = {}
    if jobs is not None:
        try:
            states = {j.name: j.state for j in jobs().flink.jobs() if j.state not in ("CANCELED", "FINISHED")}
        except LakectlError:
            states = {}
    return [{"name": s.name, "topic": s.topic, "key": s.key, "formats": list(s.formats),
             "schema": s.schema.name if s.schema else f"{s.cdc.database}.{s.cdc.qualified} ({s.source})"
             if s.cdc else None, "job": s.job_name, "state": states.get(s.job_name, "not running")}
            for s in specs]


def status(stack: PipelineStack, spec: PipelineSpec, *, wait_s: float | None = None,
           progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Job state, Kafka lag, rows per layer, freshness, DLQ count and the last error, one pipeline.
    ``wait_s``: first wait until Bronze holds every record of the topic, in each of its formats."""
    from lakectl.components.trino import QueryFailed

    if wait_s is not None:
        if not any(j.name == spec.job_name and j.state == "RUNNING" for j in stack.jobs().flink.jobs()):
            raise CheckFailed(f"pipeline {spec.name}: its job {spec.job_name} is not running, Bronze will not "
                              "catch up", hint=f"lakectl pipeline apply {spec.name}")
        if spec.is_file:  # lines refused to the DLQ never reach Bronze: wait for the job to have read them all
            _wait_for_lag(stack, spec, wait_s, progress)
        else:
            stack.lakehouse().wait_for_topic(stack.kafka(), spec.topic, wait_s, progress, table=spec.table,
                                             formats=spec.formats)
    kafka, cluster = stack.kafka(), stack.jobs()
    jobs = [j for j in cluster.flink.jobs() if j.name == spec.job_name]
    active = next((j for j in jobs if j.state not in ("CANCELED", "FINISHED", "FAILED")), None)
    last = active or (sorted(jobs, key=lambda j: j.start_time or 0)[-1] if jobs else None)
    error = None
    if last is not None:
        trace = cluster.flink.exceptions(last.job_id).get("root-exception")
        error = cluster.flink.first_exception(last.job_id) if trace else None
    topic = kafka.describe_topic(spec.topic) if kafka.topic_exists(spec.topic) else None
    lag = kafka.group_lag(spec.job_name, spec.topic) if topic else None
    dlq = kafka.describe_topic(spec.dlq_topic)["messages"] if kafka.topic_exists(spec.dlq_topic) else 0
    rows: dict[str, int | None] = {}
    freshness: dict[str, float | None] = {}
    trino = stack.trino()
    try:
        if "delta" in spec.formats:
            _register_delta(stack, spec, wait_s=0)
        tables = {f"{fmt}.bronze": f"{fmt}.bronze.{spec.table}" for fmt in spec.formats}
        tables["iceberg.silver"] = f"iceberg.silver.{spec.silver_table}"
        for label, table in tables.items():
            try:
                count, newest = trino.execute(
                    f"SELECT count(*), to_unixtime(max(ingested_at)) FROM {table}").rows[0]
                rows[label] = int(count)
                freshness[label] = round(time.time() - newest, 1) if newest is not None else None
            except QueryFailed as exc:
                if exc.error_name not in ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND"):
                    raise
                rows[label] = None
                freshness[label] = None
    finally:
        trino.close()
    connector = _connector_state(stack, spec) if spec.is_file else None
    return {"name": spec.name, **({"connector": connector} if spec.is_file else {}),
            "job": {"name": spec.job_name, "state": active.state if active else "not running",
                                       "job_id": last.job_id if last else None},
            "topic": spec.topic, "records": topic["messages"] if topic else None,
            "lag": lag.get("lag") if lag else None, "rows": rows, "freshness_s": freshness,
            "dlq": {"topic": spec.dlq_topic, "records": dlq}, "last_error": error}


def _wait_for_lag(stack: PipelineStack, spec: PipelineSpec, wait_s: float, progress: Callable[[str], None]) -> None:
    """Until the job's committed offsets reach the topic's end (it commits them with the checkpoint that commits
    Bronze and the DLQ)."""
    deadline = time.monotonic() + wait_s
    kafka = stack.kafka()
    while True:
        lag = kafka.group_lag(spec.job_name, spec.topic).get("lag")
        if lag == 0:
            return
        if time.monotonic() > deadline:
            raise CheckFailed(f"pipeline {spec.name}: {lag} lines of {spec.topic} not in Bronze or the DLQ after "
                              f"{wait_s:g} s")
        progress(f"{spec.name}: {lag} lines to go")
        time.sleep(1)


def _connector_state(stack: PipelineStack, spec: PipelineSpec) -> str:
    """The FileStreamSource connector's state and its task's ("not deployed", "unreachable" when no worker)."""
    from lakectl.components.connect import ConnectError

    if stack.cdc is None:
        return "unknown"
    try:
        found = stack.cdc().connect().status(spec.connector_name)
    except ConnectError as exc:
        return "not deployed" if exc.status == 404 else "unreachable"
    except LakectlError:
        return "unreachable"
    tasks = ", ".join(t.state for t in found.tasks) or "no task"
    return f"{spec.connector_name}: {found.connector.state} ({tasks})"


# -- remove -------------------------------------------------------------------------------------------
def remove(stack: PipelineStack | None, spec: PipelineSpec, *, purge: bool, dbt_dir: Path | None = None
           ) -> dict[str, Any]:
    """Take the pipeline's files away; ``purge``: its topics, subject and tables too. A pipeline whose job
    runs is refused (stop it first): nothing is removed then."""
    removed: list[str] = []
    if stack is not None:
        cluster = stack.jobs()
        running = [j for j in cluster.flink.jobs() if j.name == spec.job_name
                   and j.state not in ("CANCELED", "FINISHED", "FAILED")]
        if running:
            raise UsageError(f"pipeline {spec.name} is running (job {spec.job_name}, {running[0].job_id})",
                             hint=f"lakectl job stop {spec.job_name} first")
    if spec.is_file and stack is not None and stack.cdc is not None and not purge:
        from lakectl.ops import pipeline_file

        removed += pipeline_file.remove_connector(stack.cdc(), spec, purge=False)
    if purge:
        assert stack is not None
        removed += _purge(stack, spec)
    for file in [*pipeline_dbt.paths(spec, dbt_dir), spec.path]:
        if file is not None and file.exists():
            file.unlink()
            removed.append(str(file))
    folder = pipeline_dbt.folder(spec, dbt_dir)
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
    return {"name": spec.name, "removed": removed}


def _purge(stack: PipelineStack, spec: PipelineSpec) -> list[str]:
    from lakectl.components.trino import QueryFailed

    kafka, registry = stack.kafka(), stack.registry()
    gone = []
    if spec.is_cdc and stack.cdc is not None:
        from lakectl.ops import pipeline_cdc

        gone += pipeline_cdc.remove(stack.cdc(), spec)  # the connector first: it holds the replication slot
    if spec.is_file and stack.cdc is not None:
        from lakectl.ops import pipeline_file

        gone += pipeline_file.remove_connector(stack.cdc(), spec, purge=True)  # first: it writes to the topic
    for topic in (spec.topic, spec.dlq_topic):
        if kafka.topic_exists(topic):
            kafka.delete_topic(topic)
            gone.append(f"topic {topic}")
    if spec.subject in registry.subjects():
        registry.delete_subject(spec.subject)
        gone.append(f"subject {spec.subject}")
    trino = stack.trino()
    try:
        tables = (("iceberg", "bronze", spec.table), ("iceberg", "silver", spec.silver_table),
                  ("delta", "bronze", spec.table))
        for catalog, schema, table in tables:
            try:
                found = trino.execute(f"SELECT count(*) FROM {catalog}.information_schema.tables "
                                      "WHERE table_schema = ? AND table_name = ?", [schema, table]).rows[0][0]
            except QueryFailed as exc:
                if exc.error_name != "SCHEMA_NOT_FOUND":
                    raise
                found = 0
            if found:
                trino.execute(f"DROP TABLE {catalog}.{schema}.{table}")
                gone.append(f"table {catalog}.{schema}.{table}")
    finally:
        trino.close()
    s3 = stack.s3()
    if s3.listing("delta", "bronze", spec.table):  # Trino forgets a registered Delta table; its files stay
        s3.filesystem().delete_dir(f"{s3.bucket}/delta/bronze/{spec.table}")
        gone.append(f"files {s3.uri('delta', 'bronze', spec.table)}")
    from lakectl.ops.jobs import forget

    # a pipeline added again under this name starts its job fresh, not from this one's checkpoints
    gone += [f"job state {p}" for p in forget(stack.jobs(), spec.job_name)]
    _applied_path(stack, spec).unlink(missing_ok=True)
    return gone
