"""Pipelines: one feed each, declared once in ``schemas/<name>.pipeline.toml`` beside its schema.

A spec says which schema, topic and key a feed has and how its Bronze tables are written; everything
else (the Bronze job, the dbt source and Silver model, the Airflow DAG, the dashboards' choice) is
derived from it. The stock-trade example is ``schemas/trades.pipeline.toml``.

Checked when read: unknown keys (a typo) and missing ones are refused with the file's name, and the
key and event-time fields must exist in the schema with a type Bronze can use.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from lakectl.avro import load_schema_file
from lakectl.avro_sql import Column, UnsupportedSchema, columns
from lakectl.errors import UsageError
from lakectl.paths import read_text, schemas_dir

SUFFIX = ".pipeline.toml"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")  # a table, a job, a DAG and a dbt model are named after it
TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
FORMATS = ("iceberg", "delta")
PARTITION_BY = ("day", "none")
KEY_TYPES = ("STRING", "INT", "BIGINT")
SOURCES = ("kafka", "postgres-cdc", "file")  # kafka: records produced to the topic (lakectl produce, any producer)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")  # a PostgreSQL identifier lakectl will quote
CDC_ALLOWED = {"database", "schema", "tables", "host", "port", "admin_user", "admin_password_secret"}
EVENT_TIME_TYPES = ("TIMESTAMP(3)", "DATE")


@dataclass(frozen=True)
class CdcSource:
    """``[postgres]`` of a ``source = "postgres-cdc"`` pipeline: which table Debezium captures, and where.
    No host: the stack's own PostgreSQL, as its superuser. Otherwise ``admin_user`` (and the secrets-file key of
    its password) must be allowed to create a replication user and a publication."""

    database: str
    schema: str
    table: str
    host: str | None = None
    port: int = 5432
    admin_user: str | None = None
    admin_password_secret: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class FileSource:
    """``[file]`` of a ``source = "file"`` pipeline: the JSON-lines file Kafka Connect's FileStreamSource tails
    (one JSON object per line, the schema's fields). ``path`` is absolute: the spec says it relative to the
    project root (the checkout) or absolute; the Connect worker reads it, so it must be on the worker's machine."""

    path: Path


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    schema: Path | None  # absolute; the file says it relative to itself (None: a CDC pipeline's rows come from
    # its table's columns)
    topic: str
    key: str
    event_time: str | None = None
    partitions: int = 3
    formats: tuple[str, ...] = FORMATS
    partition_by: str = "day"  # Bronze: by day of event_time ("none": unpartitioned)
    checkpoint_interval_s: float = 2.0
    dlq: bool = True
    parallelism: int | None = None  # the Bronze job's (None: the stack's default); one TaskManager slot each
    silver: str | None = None  # the Silver table, when written by hand (the trades' is trades_clean)
    path: Path | None = field(default=None, compare=False)  # the spec file
    source: str = "kafka"
    cdc: CdcSource | None = None  # source = "postgres-cdc"
    file: FileSource | None = None  # source = "file"

    @property
    def is_cdc(self) -> bool:
        return self.cdc is not None

    @property
    def is_file(self) -> bool:
        return self.file is not None

    @property
    def connector_name(self) -> str:
        return f"file_{self.name}" if self.is_file else f"cdc_{self.name}"

    @property
    def cdc_user(self) -> str:
        return f"lakectl_cdc_{self.name}"

    @property
    def publication(self) -> str:
        return f"lakectl_{self.name}"

    @property
    def slot(self) -> str:
        return f"lakectl_{self.name}"

    @property
    def job_name(self) -> str:
        return f"bronze_{self.name}"

    @property
    def table(self) -> str:
        return self.name

    @property
    def silver_table(self) -> str:
        return self.silver or self.name

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    @property
    def subject(self) -> str:
        return f"{self.topic}-value"

    @cached_property
    def schema_text(self) -> str:
        if self.schema is None:
            raise UsageError(f"pipeline {self.name}: a {self.source} pipeline has no Avro schema")
        return load_schema_file(self.schema)

    @cached_property
    def columns(self) -> list[Column]:
        return columns(self.schema_text)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "schema": str(self.schema) if self.schema else None,
                "cdc": dict(vars(self.cdc)) if self.cdc else None,
                "file": {"path": str(self.file.path)} if self.file else None, "topic": self.topic, "key": self.key,
                "event_time": self.event_time, "partitions": self.partitions, "formats": list(self.formats),
                "partition_by": self.partition_by, "checkpoint_interval_s": self.checkpoint_interval_s,
                "dlq": self.dlq, "parallelism": self.parallelism, "silver": self.silver_table,
                "path": str(self.path) if self.path else None}

    def bronze_job_args(self) -> list[str]:
        """The Bronze job's options (flink_jobs/bronze/job.py) after lakectl's own --context and --name: the same
        for a job submitted to a JobManager and for a FlinkDeployment."""
        args = ["--topic", self.topic, "--table", self.table, "--formats", ",".join(self.formats),
                "--partition-by", self.partition_by, "--checkpoint-interval", f"{self.checkpoint_interval_s:g}"]
        args += ["--event-time", self.event_time] if self.event_time else []
        return args + (["--json-lines-schema", self.schema_text] if self.is_file else [])

    def job_options(self) -> dict[str, Any]:
        """What the Bronze job needs beyond the stack's connections (it reads the schema from the registry)."""
        return {"name": self.name, "topic": self.topic, "table": self.table, "formats": list(self.formats),
                "partition_by": self.partition_by, "event_time": self.event_time,
                "checkpoint_interval_s": self.checkpoint_interval_s}


ALLOWED = {"schema", "topic", "key", "event_time", "partitions", "formats", "partition_by",
           "checkpoint_interval_s", "dlq", "silver", "parallelism", "source", "postgres", "file"}
REQUIRED = {"schema", "key"}
# a CDC pipeline's rows are its table's change events: no schema file, the key is the table's primary key,
# Bronze is unpartitioned and a DLQ has nothing to catch (Debezium writes what PostgreSQL committed)
CDC_REFUSED = {"schema", "key", "event_time", "dlq", "silver"}


def spec_path(name: str, directory: Path | None = None) -> Path:
    return (directory or schemas_dir()) / f"{name}{SUFFIX}"


def load(name: str, directory: Path | None = None) -> PipelineSpec:
    path = spec_path(check_name(name), directory)
    if not path.exists():
        known = ", ".join(sorted(names(directory))) or "none"
        raise UsageError(f"no pipeline {name!r} (no {path}); pipelines: {known}")
    return parse(path)


def names(directory: Path | None = None) -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in (directory or schemas_dir()).glob(f"*{SUFFIX}"))


def load_all(directory: Path | None = None) -> list[PipelineSpec]:
    return [load(name, directory) for name in names(directory)]


def key_for_topic(topic: str, directory: Path | None = None) -> str | None:
    """The key a declared pipeline gives ``topic``, if one does (specs that do not parse are skipped here:
    `pipeline list` names them)."""
    for name in names(directory):
        try:
            data = tomllib.loads(read_text(spec_path(name, directory), "pipeline spec"))
        except (UsageError, tomllib.TOMLDecodeError):
            continue
        if data.get("topic", name) == topic and isinstance(data.get("key"), str):
            return data["key"]
    return None


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UsageError(f"pipeline name {name!r}: use lower-case letters, digits and _, starting with a letter")
    return name


def parse(path: Path) -> PipelineSpec:
    """Read and check one spec file; every problem is one UsageError line naming the file."""
    name = path.name[: -len(SUFFIX)]
    try:
        data = tomllib.loads(read_text(path, "pipeline spec"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return from_mapping(check_name(name), data, path)


def from_mapping(name: str, data: dict[str, Any], path: Path, *, check_schema: bool = True) -> PipelineSpec:
    where = str(path)
    for key in data:
        if key not in ALLOWED:
            close = difflib.get_close_matches(key, sorted(ALLOWED), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(ALLOWED))})"
            raise UsageError(f"{where}: unknown key {key!r}{hint}")
    source = data.get("source", "kafka")
    if source not in SOURCES:
        close = difflib.get_close_matches(str(source), SOURCES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"{where}: source = {source!r}: choose from {list(SOURCES)}{hint}")
    if source == "postgres-cdc":
        return _cdc_from_mapping(name, data, path)
    if "postgres" in data:
        raise UsageError(f"{where}: [postgres] is for source = \"postgres-cdc\"")
    if source == "file":
        return _file_from_mapping(name, data, path, check_schema=check_schema)
    if "file" in data:
        raise UsageError(f"{where}: [file] is for source = \"file\"")
    missing = sorted(REQUIRED - set(data))
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)}")

    def typed(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = data.get(key, default)
        wrong_bool = isinstance(value, bool) and kind is not bool  # TOML's true is an int to Python
        if wrong_bool or not isinstance(value, kind):
            raise UsageError(f"{where}: {key} = {value!r} has the wrong type")
        return value

    schema = (path.parent / typed("schema", str, "")).resolve()
    topic = typed("topic", str, name)
    if not TOPIC.match(topic) or topic.endswith(".dlq"):
        raise UsageError(f"{where}: topic {topic!r} is not a valid topic name")
    formats = tuple(typed("formats", list, list(FORMATS)))
    if not formats or any(f not in FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise UsageError(f"{where}: formats = {list(formats)!r}: choose from {list(FORMATS)}")
    partition_by = typed("partition_by", str, "day")
    if partition_by not in PARTITION_BY:
        raise UsageError(f"{where}: partition_by = {partition_by!r}: choose from {list(PARTITION_BY)}")
    partitions = typed("partitions", int, 3)
    if not 1 <= partitions <= 1000:
        raise UsageError(f"{where}: partitions = {partitions}: expected 1..1000")
    interval = float(typed("checkpoint_interval_s", (int, float), 2.0))
    if not 1 <= interval <= 3600:
        raise UsageError(f"{where}: checkpoint_interval_s = {interval}: expected 1..3600 seconds")
    spec = PipelineSpec(name=name, schema=schema, topic=topic, key=typed("key", str, ""),
                        event_time=typed("event_time", str, None) if "event_time" in data else None,
                        partitions=partitions, formats=formats, partition_by=partition_by,
                        checkpoint_interval_s=interval, dlq=typed("dlq", bool, True),
                        silver=typed("silver", str, None) if "silver" in data else None,
                        parallelism=(_parallelism(typed("parallelism", int, 1), where) if "parallelism" in data
                                     else None),
                        path=path)
    if check_schema:
        check_against_schema(spec, where)
    return spec


def _cdc_from_mapping(name: str, data: dict[str, Any], path: Path) -> PipelineSpec:
    where = str(path)
    refused = sorted(CDC_REFUSED & set(data))
    if refused:
        raise UsageError(f"{where}: {', '.join(refused)}: not for source = \"postgres-cdc\" (the table's columns "
                         "and primary key are read from PostgreSQL)")
    pg = data.get("postgres")
    if not isinstance(pg, dict):
        raise UsageError(f"{where}: source = \"postgres-cdc\" needs a [postgres] table with database and tables")
    for key in pg:
        if key not in CDC_ALLOWED:
            close = difflib.get_close_matches(key, sorted(CDC_ALLOWED), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(CDC_ALLOWED))})"
            raise UsageError(f"{where}: unknown key 'postgres.{key}'{hint}")
    if "database" not in pg or "tables" not in pg:
        raise UsageError(f"{where}: [postgres] needs {' and '.join(k for k in ('database', 'tables') if k not in pg)}")

    def text(key: str, default: str | None = None) -> str | None:
        value = pg.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise UsageError(f"{where}: postgres.{key} = {value!r}: expected a non-empty string")
        return value

    database, schema = text("database"), text("schema", "public")
    tables = pg["tables"]
    if isinstance(tables, str):
        tables = [tables]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, str) and t for t in tables):
        raise UsageError(f"{where}: postgres.tables = {tables!r}: expected a list of table names")
    if len(tables) != 1:
        raise UsageError(f"{where}: postgres.tables = {tables!r}: one table per pipeline (its topic, Bronze table "
                         "and Silver model); declare a pipeline per table")
    for label, ident in (("database", database), ("schema", schema), ("tables", tables[0])):
        if not IDENT.match(str(ident)):
            raise UsageError(f"{where}: postgres.{label} = {ident!r}: expected a plain identifier")
    port = pg.get("port", 5432)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise UsageError(f"{where}: postgres.port = {port!r}: expected 1..65535")
    host, admin_user, secret = text("host"), text("admin_user"), text("admin_password_secret")
    if (admin_user is None) != (secret is None):
        raise UsageError(f"{where}: postgres.admin_user and postgres.admin_password_secret go together")
    if host is not None and admin_user is None:
        raise UsageError(f"{where}: postgres.host needs admin_user and admin_password_secret (a user allowed to "
                         "create a replication user and a publication)")
    cdc = CdcSource(database=str(database), schema=str(schema), table=tables[0], host=host, port=port,
                    admin_user=admin_user, admin_password_secret=secret)
    rest = {k: v for k, v in data.items() if k not in ("source", "postgres")}
    rest.setdefault("partition_by", "none")
    if rest["partition_by"] != "none":
        raise UsageError(f"{where}: partition_by = {rest['partition_by']!r}: a CDC pipeline's Bronze is "
                         "unpartitioned")
    # the shared keys are checked as for any pipeline, against a stand-in schema (the real columns are read
    # from PostgreSQL by apply)
    base = from_mapping(name, {**rest, "schema": "-", "key": "-", "dlq": False}, path, check_schema=False)
    return replace(base, schema=None, key="", source="postgres-cdc", cdc=cdc, dlq=False)


def _file_from_mapping(name: str, data: dict[str, Any], path: Path, *, check_schema: bool) -> PipelineSpec:
    """A file pipeline: as a kafka one (schema, key, event time, formats...), plus ``[file] path``; its schema's
    fields must be scalars (a line's JSON is checked and converted in SQL, lakectl/jsonl_sql.py) and it keeps a
    DLQ (the lines that do not fit go there)."""
    from lakectl.paths import ROOT

    where = str(path)
    section = data.get("file")
    if not isinstance(section, dict):
        raise UsageError(f'{where}: source = "file" needs a [file] table with path (the JSON-lines file)')
    for key in section:
        if key != "path":
            close = difflib.get_close_matches(key, ["path"], n=1)
            raise UsageError(f"{where}: unknown key 'file.{key}'" + (" (did you mean 'path'?)" if close else
                                                                     " (known: path)"))
    raw = section.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise UsageError(f"{where}: file.path = {raw!r}: expected the JSON-lines file's path (relative to the "
                         "project root, or absolute)")
    if "\n" in raw or "\x00" in raw:
        raise UsageError(f"{where}: file.path: not a path")
    if data.get("dlq", True) is not True:
        raise UsageError(f'{where}: dlq = {data["dlq"]!r}: a file pipeline always has its DLQ (the lines that do not '
                         "fit the schema go there)")
    file_path = Path(raw).expanduser()
    file_path = (file_path if file_path.is_absolute() else ROOT / file_path).resolve()
    if file_path.is_dir():
        raise UsageError(f"{where}: file.path = {raw!r} is a directory; expected a file")
    rest = {k: v for k, v in data.items() if k not in ("source", "file")}
    base = from_mapping(name, rest, path, check_schema=check_schema)
    spec = replace(base, source="file", file=FileSource(file_path), dlq=True)
    if check_schema:
        from lakectl.jsonl_sql import file_source_problem

        problem = file_source_problem(spec.schema_text)
        if problem:
            raise UsageError(f"{where}: {problem}")
    return spec


def _parallelism(value: int, where: str) -> int:
    if not 1 <= value <= 64:
        raise UsageError(f"{where}: parallelism = {value}: expected 1..64")
    return value


def check_against_schema(spec: PipelineSpec, where: str) -> None:
    """The schema maps onto Bronze, the key is a required top-level string or integer, the event time a
    top-level timestamp-millis or date (what Bronze is partitioned by)."""
    try:
        by_name = {c.name: c for c in spec.columns}
    except UnsupportedSchema as exc:
        raise UsageError(f"{spec.schema.name}: {exc}") from None
    key = by_name.get(spec.key)
    if key is None:
        raise UsageError(f"{where}: key field {spec.key!r} is not a top-level field of {spec.schema.name} "
                         f"(fields: {', '.join(by_name)})")
    if key.flink not in KEY_TYPES or key.nullable:
        raise UsageError(f"{where}: key field {spec.key!r} is {'nullable ' if key.nullable else ''}{key.avro}: "
                         "a key must be a required string, int or long")
    if spec.event_time is not None:
        event = by_name.get(spec.event_time)
        if event is None:
            raise UsageError(f"{where}: event_time field {spec.event_time!r} is not a top-level field of "
                             f"{spec.schema.name} (fields: {', '.join(by_name)})")
        if event.flink not in EVENT_TIME_TYPES:
            raise UsageError(f"{where}: event_time field {spec.event_time!r} is {event.avro}: expected "
                             "timestamp-millis, local-timestamp-millis or date")
    elif spec.partition_by == "day":
        raise UsageError(f"{where}: partition_by = 'day' needs an event_time field")


def render(spec: PipelineSpec, schema_ref: str) -> str:
    """The spec file's text, commented, as ``pipeline add`` writes it."""
    lines = [
        f"# Pipeline {spec.name}: {schema_ref} -> Kafka topic {spec.topic} -> Bronze (bronze.{spec.table})",
        "# -> dbt Silver (silver." + spec.name + f"). Written by `lakectl pipeline add {spec.name}`; edit, then",
        f"# `lakectl pipeline apply {spec.name}`.",
        f'schema = "{schema_ref}"           # relative to this file',
        f'topic = "{spec.topic}"',
        f"partitions = {spec.partitions}",
        f'key = "{spec.key}"                # Silver keeps the first arrival per key; synthetic keys are unique',
    ]
    if spec.event_time:
        lines.append(f'event_time = "{spec.event_time}"     # Bronze is partitioned by its day')
    lines += [
        f"formats = [{', '.join(repr(f).replace(chr(39), chr(34)) for f in spec.formats)}]",
        f'partition_by = "{spec.partition_by}"      # "day" (of event_time) or "none"',
        f"checkpoint_interval_s = {spec.checkpoint_interval_s:g}   # each checkpoint commits Bronze",
        f"parallelism = {spec.parallelism or 1}                # Bronze job; one TaskManager slot each (the local "
        "stack has 4)",
        f"dlq = {'true' if spec.dlq else 'false'}                   # records that break the schema go to "
        f"{spec.dlq_topic}",
    ]
    return "\n".join(lines) + "\n"


def render_file(spec: PipelineSpec, schema_ref: str, file_ref: str) -> str:
    """A file spec's text, as ``pipeline add --source file`` writes it: a kafka spec's keys, the source and [file]."""
    keys = render(spec, schema_ref).splitlines()[3:]  # after render's three lines of comment
    return "\n".join([
        f"# Pipeline {spec.name}: the JSON lines of {file_ref} (Kafka Connect's FileStreamSource) -> Kafka topic "
        f"{spec.topic}",
        f"# -> Bronze (bronze.{spec.table}) -> dbt Silver (silver.{spec.name}); lines that do not fit the schema go",
        f"# to {spec.dlq_topic}. Written by `lakectl pipeline add {spec.name}`; edit, then `lakectl pipeline apply "
        f"{spec.name}`.",
        'source = "file"',
        *(k.replace("records that break", "lines that break") for k in keys),
        "",
        "[file]    # one JSON object per line with the schema's fields; lines appended later are read as they",
        "          # come (the Connect worker tails the file: it must be able to read it)",
        f"path = {json.dumps(file_ref)}",
    ]) + "\n"


def render_cdc(spec: PipelineSpec) -> str:
    """A postgres-cdc spec file's text, as ``pipeline add --source postgres-cdc`` writes it."""
    cdc = spec.cdc
    assert cdc is not None
    return "\n".join([
        f"# Pipeline {spec.name}: changes of PostgreSQL {cdc.database}.{cdc.qualified} (Debezium, Kafka Connect) ->",
        f"# Kafka topic {spec.topic} -> Bronze (bronze.{spec.table}: every change, append-only) -> dbt Silver",
        f"# (silver.{spec.name}: the table as it is now). Written by `lakectl pipeline add {spec.name}`; edit, then",
        f"# `lakectl pipeline apply {spec.name}` (it also writes the Silver model from the table's columns).",
        'source = "postgres-cdc"',
        f'topic = "{spec.topic}"',
        f"partitions = {spec.partitions}               # a key's changes stay in order within its partition",
        f"formats = [{', '.join(repr(f).replace(chr(39), chr(34)) for f in spec.formats)}]",
        f"checkpoint_interval_s = {spec.checkpoint_interval_s:g}   # each checkpoint commits Bronze",
        f"parallelism = {spec.parallelism or 1}",
        "",
        "[postgres]                   # no host: the stack's PostgreSQL (see the README for another database)",
        f'database = "{cdc.database}"',
        f'schema = "{cdc.schema}"',
        f'tables = ["{cdc.table}"]',
    ]) + "\n"
