"""Bronze: Kafka topic -> Iceberg ``bronze.<table>`` and Delta ``bronze/<table>``, exactly-once.

One Kafka source (Avro through the Schema Registry) feeds both sinks in one job: the source table
becomes one DataStream, and both the Iceberg INSERT and the Delta sink read that same stream, so
a record is read once and both tables commit on the same checkpoints. Each row gets the ingestion
time and its Kafka partition and offset.

Run by ``lakectl job submit flink_jobs/bronze_trades/job.py``, which passes ``--context`` (a
0600 JSON file with the stack's endpoints and credentials) and ``--name``; job options follow
``--``: ``--topic trades --table trades``.

Schema: the reader schema is the subject's latest version at submit time. Records written with a
newer compatible version (e.g. v2's optional field) keep landing, projected onto that reader
schema by Avro resolution; resubmitting (``lakectl job submit --replace``) picks up the new
version and adds its columns to the Iceberg table before the job starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Avro primitive/logical type -> Flink SQL type (as the avro-confluent format maps them)
PRIMITIVES = {"string": "STRING", "int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
              "boolean": "BOOLEAN", "bytes": "BYTES"}


def flink_type(avro_type) -> tuple[str, bool]:
    """(Flink SQL type, nullable) for one Avro field type."""
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        if len(others) != 1:
            raise SystemExit(f"unsupported union {avro_type}")
        return flink_type(others[0])[0], True
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "decimal":
            return f"DECIMAL({avro_type['precision']}, {avro_type.get('scale', 0)})", False
        if logical == "timestamp-millis":
            return "TIMESTAMP(3)", False
        if logical == "timestamp-micros":
            return "TIMESTAMP(6)", False
        if logical == "date":
            return "DATE", False
        if avro_type["type"] == "enum":
            return "STRING", False
        return flink_type(avro_type["type"])
    return PRIMITIVES[avro_type], False


def columns(schema: dict) -> list[tuple[str, str, bool]]:
    return [(f["name"], *flink_type(f["type"])) for f in schema["fields"]]


def column_ddl(cols, *, not_null: bool) -> str:
    return ",\n  ".join(f"`{n}` {t}{' NOT NULL' if not_null and not nullable else ''}" for n, t, nullable in cols)


def latest_schema(registry_url: str, subject: str) -> str:
    with urllib.request.urlopen(f"{registry_url}/subjects/{subject}/versions/latest", timeout=30) as response:
        return json.load(response)["schema"]


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def options(pairs: dict[str, str]) -> str:
    return ",\n  ".join(f"{sql_string(k)} = {sql_string(str(v))}" for k, v in pairs.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--context", required=True)
    parser.add_argument("--name", default="bronze_trades")
    parser.add_argument("--topic", default="trades")
    parser.add_argument("--table", default=None, help="table name in the bronze layer (default: the topic)")
    parser.add_argument("--sinks", default="iceberg,delta", help="comma-separated: iceberg, delta")
    args = parser.parse_args()
    sinks = {s.strip() for s in args.sinks.split(",") if s.strip()}
    if not sinks or sinks - {"iceberg", "delta"}:
        raise SystemExit(f"--sinks: expected iceberg and/or delta, got {args.sinks!r}")
    ctx = json.loads(Path(args.context).read_text())
    table = args.table or args.topic
    schema_text = latest_schema(ctx["registry_url"], f"{args.topic}-value")
    cols = columns(json.loads(schema_text))

    env = StreamExecutionEnvironment.get_execution_environment(Configuration())
    env.enable_checkpointing(int(ctx["checkpoint_interval_s"] * 1000), CheckpointingMode.EXACTLY_ONCE)
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("pipeline.name", args.name)
    t_env.get_config().set("table.exec.source.idle-timeout", "5 s")

    kafka = {
        "connector": "kafka",
        "topic": args.topic,
        "properties.bootstrap.servers": ctx["bootstrap_servers"],
        "properties.group.id": args.name,
        # a fresh job starts at the group's committed offsets (earliest if none); a restore from a
        # checkpoint or savepoint uses the offsets in its state, so nothing is read twice
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        "properties.isolation.level": "read_committed",
        "value.format": "avro-confluent",
        "value.avro-confluent.url": ctx["registry_url"],
        # the reader schema: the registry's own text (Flink's derived schema loses the enum)
        "value.avro-confluent.schema": schema_text,
    }
    t_env.execute_sql(f"""CREATE TEMPORARY TABLE kafka_source (
  {column_ddl(cols, not_null=True)},
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  {options(kafka)}
)""")
    names = ", ".join(f"`{n}`" for n, _, _ in cols)
    source = t_env.sql_query(
        f"SELECT {names}, CAST(NOW() AS TIMESTAMP_LTZ(3)) AS ingested_at, kafka_partition, kafka_offset "
        "FROM kafka_source")
    # one stream for both sinks: the source is read once
    shared = t_env.from_data_stream(t_env.to_data_stream(source))
    t_env.create_temporary_view("bronze_rows", shared)

    iceberg = ctx["iceberg"]
    t_env.execute_sql(f"""CREATE CATALOG lakehouse WITH (
  {options({"type": "iceberg", "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            "uri": iceberg["jdbc_url"], "jdbc.user": iceberg["user"], "jdbc.password": iceberg["password"],
            "jdbc.schema-version": "V1", "warehouse": iceberg["warehouse"], **iceberg["io"]})}
)""")
    t_env.execute_sql("CREATE DATABASE IF NOT EXISTS lakehouse.bronze")
    all_cols = [*cols, ("ingested_at", "TIMESTAMP_LTZ(3)", False), ("kafka_partition", "INT", False),
                ("kafka_offset", "BIGINT", False)]
    t_env.execute_sql(f"""CREATE TABLE IF NOT EXISTS lakehouse.bronze.`{table}` (
  {column_ddl(all_cols, not_null=False)}
) WITH ('format-version' = '2', 'write.format.default' = 'parquet', 'write.parquet.compression-codec' = 'zstd')""")
    existing = {c.lower() for c in t_env.from_path(f"lakehouse.bronze.`{table}`").get_schema().get_field_names()}
    for name, sql_type, _ in all_cols:  # schema evolution: new optional fields become new columns
        if name.lower() not in existing:
            t_env.execute_sql(f"ALTER TABLE lakehouse.bronze.`{table}` ADD (`{name}` {sql_type})")

    if "delta" in sinks:
        from delta_sink import attach_delta_sink

        attach_delta_sink(t_env, shared, ctx["delta"]["root"].rstrip("/") + f"/bronze/{table}",
                          {"app-id": args.name, **ctx["delta"]["hadoop"]})
    if "iceberg" in sinks:
        statements = t_env.create_statement_set()
        # by name: a column added by evolution sits at the table's end, not where the query has it
        listed = ", ".join(f"`{n}`" for n, _, _ in all_cols)
        statements.add_insert_sql(f"INSERT INTO lakehouse.bronze.`{table}` ({listed}) SELECT {listed} FROM bronze_rows")
        statements.attach_as_datastream()
    # submit and return: the JobManager's REST call waits for this script, not for the job
    env.execute_async(args.name)


if __name__ == "__main__":
    main()
