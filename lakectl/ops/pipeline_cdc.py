"""Pipelines with ``source = "postgres-cdc"``: a PostgreSQL table's changes, captured by Debezium through Kafka
Connect, kept append-only in Bronze and folded into Silver (the table's current state).

``pipeline apply`` runs ``prepare`` and ``deploy_connector``: PostgreSQL's side first (``wal_level`` must be
logical, a replication user whose generated password lives only in the stack's 0600 secrets, a publication of
the table, full replica identity so updates and deletes carry every column in ``before``), then the Debezium
connector from
``deploy/connect/postgres-cdc.json`` through the connect ops. The table's columns, read from
``information_schema``, give the Bronze job its row type and the generated Silver model its columns. Bronze also
keeps each event's after image as the JSON text Debezium wrote (``after_json``), so a column added in PostgreSQL is
in Bronze from its first event on; the next ``apply`` gives it its own typed field (the job is resubmitted from a
savepoint, the tables gain it, the model is rewritten) and Silver takes the values written before that from the
text.

Schema contract: Connect's JsonConverter with schemas off (the change-event envelope as JSON), read by the
Bronze job with a row type declared from the table; see docs/design.md, "Change data capture".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from lakectl.errors import UsageError
from lakectl.paths import dbt_project_dir, deploy_dir

if TYPE_CHECKING:
    from lakectl.components.connect import ConnectWorker
    from lakectl.components.postgres import PgAccess, TableColumn
    from lakectl.pipeline_spec import PipelineSpec

CONNECTOR_FILE = deploy_dir() / "connect" / "postgres-cdc.json"
# Bronze's own columns beside the key: a key column of the same name would be ambiguous
METADATA = ("op", "before", "after", "after_json", "source_lsn", "tx_id", "source_ts_ms", "committed_at", "ingested_at",
            "kafka_partition", "kafka_offset")


# -- types: PostgreSQL -> the change event's JSON -> Bronze -> Silver ----------------------------------------
def bronze_type(column: TableColumn) -> str:
    """The Flink type of a column inside ``before``/``after``, as Debezium writes it with the connector file's
    settings (decimal.handling.mode=string, time.precision.mode=adaptive_time_microseconds,
    binary.handling.mode=base64, interval.handling.mode=string)."""
    kind = column.data_type
    if kind in ("smallint", "integer"):
        return "INT"
    if kind == "bigint":
        return "BIGINT"
    if kind == "boolean":
        return "BOOLEAN"
    if kind == "real":
        return "FLOAT"
    if kind == "double precision":
        return "DOUBLE"
    if kind == "numeric" and column.precision and column.precision <= 38:
        return f"DECIMAL({column.precision}, {column.scale or 0})"
    if kind == "date":
        return "INT"  # days since 1970-01-01 (io.debezium.time.Date)
    if kind == "timestamp without time zone":
        return "BIGINT"  # ms (precision <= 3) or us since the epoch, UTC wall clock
    if kind == "time without time zone":
        return "BIGINT"  # ms or us since midnight
    return "STRING"  # text, varchar, uuid, json(b), numeric without precision (exact text), timestamptz (ISO),
    # bytea (base64), interval (ISO), arrays (JSON text) and anything else Debezium writes as text


def silver_expr(column: TableColumn, image: str = '"after"', text: str = "after_json") -> str:
    """Trino SQL turning a column of an image back into the table's type (the inverse of ``bronze_type``): from
    the typed image, or, where that has no value, from the event's JSON text (``after_json``), which holds the
    columns the running job did not know yet (added in PostgreSQL before the next ``apply``)."""
    path = "$[" + json.dumps(column.name).replace("'", "''") + "]"
    raw = f"json_extract_scalar({text}, '{path}')"
    typed, scalar = f'{image}."{column.name}"', {
        "smallint": "integer", "integer": "integer", "bigint": "bigint", "boolean": "boolean", "real": "real",
        "double precision": "double", "date": "integer", "timestamp without time zone": "bigint",
        "time without time zone": "bigint"}.get(column.data_type)
    if column.data_type == "numeric" and column.precision and column.precision <= 38:
        scalar = f"decimal({column.precision}, {column.scale or 0})"
    if scalar:
        from_text = f"CAST({raw} AS {scalar})"
    else:  # text, or a JSON array or object (PostgreSQL arrays) as its JSON text; JSON null stays NULL
        from_text = f"COALESCE({raw}, NULLIF(json_format(json_extract({text}, '{path}')), 'null'))"
    return _from_image(column, f"COALESCE({typed}, {from_text})")


def _from_image(column: TableColumn, ref: str) -> str:
    kind, precision = column.data_type, column.precision
    if kind == "date":
        return f"date_add('day', {ref}, DATE '1970-01-01')"
    if kind == "timestamp without time zone":
        if precision is not None and precision <= 3:
            return f"CAST(from_unixtime_nanos({ref} * 1000000) AS timestamp(3))"
        return f"CAST(from_unixtime_nanos({ref} * 1000) AS timestamp(6))"
    if kind == "timestamp with time zone":
        return f"from_iso8601_timestamp_nanos({ref})"
    if kind == "bytea":
        return f"from_base64({ref})"
    return ref  # numeric without a precision stays exact text


def job_columns(columns: list[TableColumn]) -> str:
    """The Bronze job's ``--cdc-columns``: [name, Flink type, is key] per column, in table order."""
    return json.dumps([[c.name, bronze_type(c), c.primary_key] for c in columns], separators=(",", ":"))


def check_columns(spec: PipelineSpec, columns: list[TableColumn]) -> None:
    keys = [c.name for c in columns if c.primary_key]
    assert spec.cdc is not None
    if not keys:
        raise UsageError(f"pipeline {spec.name}: {spec.cdc.qualified} has no primary key (Silver keeps the latest "
                         "change per key)", hint=f"ALTER TABLE {spec.cdc.qualified} ADD PRIMARY KEY (...)")
    clash = [k for k in keys if k.lower() in METADATA]
    if clash:
        raise UsageError(f"pipeline {spec.name}: key column {clash[0]!r} is named like a Bronze column "
                         f"({', '.join(METADATA)})")


# -- the generated dbt files ----------------------------------------------------------------------------------
def silver_model(spec: PipelineSpec, columns: list[TableColumn]) -> str:
    """The current state of each row: the latest change per primary key by source position (the LSN; the Kafka
    offset orders events of one key that share it), deletes removed. A table rebuilt at each run: a delete
    must take a row away, which an append or merge of new changes would not."""
    assert spec.cdc is not None
    keys = ", ".join(f'"{c.name}"' for c in columns if c.primary_key)
    selected = ",\n    ".join(f'{silver_expr(c)} AS "{c.name}"' for c in columns)
    return f"""{{#- Silver of pipeline {spec.name}: {spec.cdc.database}.{spec.cdc.qualified} as it is now. Generated by
    `lakectl pipeline apply {spec.name}` from the table's columns; rewritten when they change. -#}}
{{{{ config(
    materialized='table',
    schema='silver',
    alias='{spec.name}',
    tags=['pipeline_{spec.name}'],
    properties={{'format': "'PARQUET'"}},
) }}}}

WITH changes AS (
    SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY source_lsn DESC, kafka_offset DESC) AS change_rank
    FROM {{{{ source('pipeline_{spec.name}', 'bronze') }}}}
)
SELECT
    {selected},
    source_lsn,
    committed_at
FROM changes
WHERE change_rank = 1 AND op <> 'd'
"""


def silver_properties(spec: PipelineSpec, columns: list[TableColumn]) -> str:
    assert spec.cdc is not None
    keys = [c for c in columns if c.primary_key]
    composite = len(keys) > 1
    bronze_cols = [{"name": c.name, "description": "Primary key (from after, or before for a delete).",
                    "data_tests": ["not_null"]} for c in keys]
    bronze_cols += [
        {"name": "op", "description": "c insert, u update, d delete, r read by the initial snapshot.",
         "data_tests": [{"accepted_values": {"arguments": {"values": ["c", "u", "d", "r"]}}}]},
        {"name": "before", "description": "The row before the change (null for c and r)."},
        {"name": "after", "description": "The row after the change (null for d)."},
        {"name": "after_json", "description": "The after image as Debezium wrote it (JSON text): every column, "
                                              "also one added since the job last started."},
        {"name": "source_lsn", "description": "The change's position in PostgreSQL's WAL."},
        {"name": "tx_id", "description": "PostgreSQL's transaction id."},
        {"name": "source_ts_ms", "description": "When the transaction committed (epoch ms)."},
        {"name": "committed_at", "description": "source_ts_ms as a timestamp (UTC)."},
        {"name": "ingested_at", "description": "When the Bronze job read the event (UTC)."},
        {"name": "kafka_partition"}, {"name": "kafka_offset"}]
    silver_cols = [{"name": c.name, **({"data_tests": ["not_null"] + ([] if composite else ["unique"])}
                                        if c.primary_key else {})} for c in columns]
    silver_cols += [{"name": "source_lsn", "description": "Position of the change this row is as of."},
                    {"name": "committed_at", "description": "When that change committed (UTC)."}]
    document = {
        "version": 2,
        "sources": [{
            "name": f"pipeline_{spec.name}",
            "description": f"Bronze of pipeline {spec.name}: every change of {spec.cdc.database}."
                           f"{spec.cdc.qualified}, append-only, as Debezium captured it.",
            "database": "{{ env_var('LAKECTL_TRINO_CATALOG', 'iceberg') }}",
            "schema": "bronze",
            "config": {"tags": [f"pipeline_{spec.name}"], "loaded_at_field": "ingested_at",
                       "freshness": {"warn_after": {"count": 10, "period": "minute"},
                                     "error_after": {"count": 1, "period": "hour"}}},
            "tables": [{"name": "bronze", "identifier": spec.table, "columns": bronze_cols}],
        }],
        "models": [{
            "name": f"silver_{spec.name}",
            "description": f"Silver of pipeline {spec.name}: {spec.cdc.qualified} as it is now (the latest change "
                           "per primary key, deletes removed).",
            "columns": silver_cols,
        }],
    }
    header = (f"# Generated by `lakectl pipeline apply {spec.name}` from the columns of "
              f"{spec.cdc.database}.{spec.cdc.qualified}.\n")
    return header + yaml.safe_dump(document, sort_keys=False, width=110, allow_unicode=True)


def dbt_files(spec: PipelineSpec, columns: list[TableColumn], dbt_dir: Path | None = None) -> dict[Path, str]:
    base = (dbt_dir or dbt_project_dir()) / "models" / "pipelines" / spec.name
    return {base / f"{spec.name}.yml": silver_properties(spec, columns),
            base / f"silver_{spec.name}.sql": silver_model(spec, columns)}


def write_dbt_files(spec: PipelineSpec, columns: list[TableColumn], dbt_dir: Path | None = None) -> list[str]:
    """Write the model files when they differ; the paths written."""
    written = []
    for path, text in dbt_files(spec, columns, dbt_dir).items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(str(path))
    return written


# -- apply ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CdcStack:
    """What the PostgreSQL side and the connector need; each made when first used."""

    admin: Callable[[PipelineSpec], PgAccess]  # a user allowed to set up replication on the spec's database
    password: Callable[[str], str]  # the replication user's password: generated into the stack's secrets
    connect: Callable[[], ConnectWorker]
    placeholders: Callable[[], Mapping[str, str]]


@dataclass
class Prepared:
    columns: list[TableColumn]
    changes: list[str]
    access: PgAccess
    password: str


def prepare(stack: CdcStack, spec: PipelineSpec) -> Prepared:
    """PostgreSQL ready for logical replication of the table (idempotent), and the table's columns. Checked
    before anything else is made: no such table or no primary key is exit 2, a database that refuses
    replication (wal_level, a user who may not set it up) exit 1."""
    from lakectl.components.postgres import Postgres

    cdc = spec.cdc
    assert cdc is not None
    access = stack.admin(spec)
    changes: list[str] = []
    with Postgres(access, cdc.database) as pg:
        pg.check_logical()
        columns = pg.columns(cdc.schema, cdc.table)
        check_columns(spec, columns)
        password = stack.password(f"cdc_{spec.name}_password")
        changes += pg.ensure_replication_user(spec.cdc_user, password, cdc.schema, [cdc.table])
        changes += pg.ensure_replica_identity_full(cdc.schema, cdc.table)
        changes += pg.ensure_publication(spec.publication, cdc.schema, [cdc.table])
    return Prepared(columns, changes, access, password)


def deploy_connector(stack: CdcStack, spec: PipelineSpec, prepared: Prepared,
                     connector_file: Path = CONNECTOR_FILE) -> list[str]:
    """The Debezium connector, created or updated only when its config differs."""
    from lakectl.ops import connect

    values = connect.overlay(stack.placeholders(), connector_values(spec, prepared.access, prepared.password))
    deployed = connect.deploy(stack.connect(), connect.load(connector_file, values))
    return [] if deployed.action == "unchanged" else [f"{deployed.action} connector {deployed.name}"]


def connector_values(spec: PipelineSpec, access: PgAccess, password: str) -> dict[str, str]:
    """The ``${cdc.*}`` placeholders of the connector file (the password only here, never in a file)."""
    cdc = spec.cdc
    assert cdc is not None
    debezium_topic = f"{spec.name}.{cdc.schema}.{cdc.table}"  # topic.prefix.schema.table
    return {"cdc.connector": spec.connector_name, "cdc.host": access.host, "cdc.port": str(access.port),
            "cdc.database": cdc.database, "cdc.user": spec.cdc_user, "cdc.password": password,
            "cdc.prefix": spec.name, "cdc.tables": f"{cdc.schema}.{cdc.table}",
            "cdc.publication": spec.publication, "cdc.slot": spec.slot,
            "cdc.route_regex": debezium_topic.replace(".", "\\\\."), "cdc.topic": spec.topic}


def remove(stack: CdcStack, spec: PipelineSpec) -> list[str]:
    """The connector, then the replication slot it held and the publication (``pipeline remove --purge``)."""
    import time

    from lakectl.components.connect import ConnectError
    from lakectl.components.postgres import Postgres

    cdc = spec.cdc
    assert cdc is not None
    gone = []
    worker = stack.connect()
    try:
        worker.delete(spec.connector_name)
        gone.append(f"connector {spec.connector_name}")
    except ConnectError as exc:
        if exc.status != 404:
            raise
    with Postgres(stack.admin(spec), cdc.database) as pg:
        deadline = time.monotonic() + 30  # the task lets go of the slot once it has stopped
        while pg.rows("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", (spec.slot,)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        gone += pg.drop_replication(spec.publication, spec.slot, spec.cdc_user)
    return gone
