"""Pipelines: one feed each, declared once in ``schemas/<name>.pipeline.toml`` beside its schema.

A spec says which schema, topic and key a feed has and how its Bronze tables are written; everything
else (the Bronze job, the dbt source and Silver model, the Airflow DAG, the dashboards' choice) is
derived from it. The stock-trade example is ``schemas/trades.pipeline.toml``.

Checked when read: unknown keys (a typo) and missing ones are refused with the file's name, and the
key and event-time fields must exist in the schema with a type Bronze can use.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
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
EVENT_TIME_TYPES = ("TIMESTAMP(3)", "DATE")


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    schema: Path  # absolute; the file says it relative to itself
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
        return load_schema_file(self.schema)

    @cached_property
    def columns(self) -> list[Column]:
        return columns(self.schema_text)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "schema": str(self.schema), "topic": self.topic, "key": self.key,
                "event_time": self.event_time, "partitions": self.partitions, "formats": list(self.formats),
                "partition_by": self.partition_by, "checkpoint_interval_s": self.checkpoint_interval_s,
                "dlq": self.dlq, "parallelism": self.parallelism, "silver": self.silver_table,
                "path": str(self.path) if self.path else None}

    def bronze_job_args(self) -> list[str]:
        """The Bronze job's options (flink_jobs/bronze/job.py) after lakectl's own --context and --name: the same
        for a job submitted to a JobManager and for a FlinkDeployment."""
        args = ["--topic", self.topic, "--table", self.table, "--formats", ",".join(self.formats),
                "--partition-by", self.partition_by, "--checkpoint-interval", f"{self.checkpoint_interval_s:g}"]
        return args + (["--event-time", self.event_time] if self.event_time else [])

    def job_options(self) -> dict[str, Any]:
        """What the Bronze job needs beyond the stack's connections (it reads the schema from the registry)."""
        return {"name": self.name, "topic": self.topic, "table": self.table, "formats": list(self.formats),
                "partition_by": self.partition_by, "event_time": self.event_time,
                "checkpoint_interval_s": self.checkpoint_interval_s}


ALLOWED = {"schema", "topic", "key", "event_time", "partitions", "formats", "partition_by",
           "checkpoint_interval_s", "dlq", "silver", "parallelism"}
REQUIRED = {"schema", "key"}


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


def from_mapping(name: str, data: dict[str, Any], path: Path) -> PipelineSpec:
    where = str(path)
    for key in data:
        if key not in ALLOWED:
            close = difflib.get_close_matches(key, sorted(ALLOWED), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(ALLOWED))})"
            raise UsageError(f"{where}: unknown key {key!r}{hint}")
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
    check_against_schema(spec, where)
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
