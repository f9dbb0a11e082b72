"""Bronze: one pipeline's Kafka topic -> Iceberg ``bronze.<table>`` and Delta ``bronze/<table>``, exactly-once.

One job per pipeline, for any Avro schema: records, arrays, maps, enums, decimals, dates and timestamps
become the columns ``lakectl/avro_sql.py`` maps them to (nested ROW/ARRAY/MAP columns included), the
same in both formats. One Kafka source feeds both sinks: the source table becomes one DataStream and
both the Iceberg INSERT and the Delta sink read it, so a record is read once and both tables commit on
the same checkpoints. Each row gets the ingestion time, its Kafka partition and offset, and (with
``--partition-by day``) ``event_date``, the day of its event time, which both tables are partitioned by.

Run by ``lakectl pipeline apply`` (or ``lakectl job submit flink_jobs/bronze/job.py -- --topic T``), which
passes ``--context`` (a 0600 JSON file with the stack's endpoints and credentials, lakectl/job_context.py:
Kafka's SASL/TLS properties and the registry's basic auth included) and ``--name``. On Kubernetes the image's
entry point writes that file from a template and the pod's Secrets (deploy/images/flink-job-entrypoint.sh).

Schema: the reader schema is the subject's latest version at submit time. Records written with a newer
compatible version keep landing, projected onto it by Avro resolution; resubmitting (``pipeline apply``
after ``schema register``) picks up the new version and merges its new fields, top-level or nested,
into both tables (Iceberg's union-by-name; the Delta sink merges on its first commit), never rewriting.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.request
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))  # the checkout: lakectl.avro_sql is standard library only

from lakectl.avro_sql import Column, UnsupportedSchema, columns, reader_schema  # noqa: E402


def column_ddl(cols: list[Column], *, not_null: bool) -> str:
    return ",\n  ".join(c.ddl(not_null=not_null) for c in cols)


def latest_schema(registry_url: str, subject: str, user_info: str | None = None) -> str:
    request = urllib.request.Request(f"{registry_url}/subjects/{subject}/versions/latest")
    if user_info:
        request.add_header("Authorization", "Basic " + base64.b64encode(user_info.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["schema"]


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def options(pairs: dict[str, str]) -> str:
    return ",\n  ".join(f"{sql_string(k)} = {sql_string(str(v))}" for k, v in pairs.items())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--context", required=True, help="the job context (a JSON file)")
    parser.add_argument("--name", default=None, help="the job's name (default: bronze_<table>)")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--table", default=None, help="table name in the bronze layer (default: the topic)")
    parser.add_argument("--formats", "--sinks", dest="formats", default="iceberg,delta",
                        help="comma-separated: iceberg, delta")
    parser.add_argument("--partition-by", choices=("day", "none"), default="none")
    parser.add_argument("--event-time", default=None, help="the field whose day partitions Bronze")
    parser.add_argument("--checkpoint-interval", type=float, default=None, help="seconds (default: the stack's)")
    parser.add_argument("--cdc-columns", default=None,
                        help="a Debezium change-event topic (JSON, schemas off) of a table with these columns: a JSON "
                             "list of [name, Flink type, is key] (lakectl/ops/pipeline_cdc.py)")
    parser.add_argument("--json-lines-schema", default=None,
                        help="a topic of JSON lines (a file pipeline's, Kafka Connect's FileStreamSource): the Avro "
                             "schema (its JSON text) whose fields each line holds; lines that do not fit go to "
                             "<topic>.dlq (lakectl/jsonl_sql.py)")
    parser.add_argument("--no-chaining", action="store_true",
                        help="one task per operator: slower, but Flink then reports each one's busy time "
                             "(bench/p2_profile.py)")
    args = parser.parse_args()
    args.formats = {s.strip() for s in args.formats.split(",") if s.strip()}
    if not args.formats or args.formats - {"iceberg", "delta"}:
        raise SystemExit(f"--formats: expected iceberg and/or delta, got {sorted(args.formats)}")
    if args.partition_by == "day" and not args.event_time:
        raise SystemExit("--partition-by day needs --event-time")
    args.table = args.table or args.topic
    args.name = args.name or f"bronze_{args.table}"
    return args


def main() -> None:
    args = parse_args()
    ctx = json.loads(Path(args.context).read_text())
    if args.cdc_columns:
        return bronze(args, ctx, *cdc_source(args, ctx))
    if args.json_lines_schema:
        return bronze(args, ctx, *json_lines_source(args, ctx))
    schema_text = latest_schema(ctx["registry_url"], f"{args.topic}-value", ctx.get("registry_user_info"))
    try:
        cols = columns(schema_text)
    except UnsupportedSchema as exc:
        raise SystemExit(f"{args.topic}-value: {exc}") from None
    by_name = {c.name: c for c in cols}
    if args.event_time and args.event_time not in by_name:
        raise SystemExit(f"--event-time {args.event_time}: not a field of {args.topic}-value")

    env, t_env = environment(args, ctx)

    kafka = kafka_options(args, ctx, {
        "value.format": "avro-confluent",
        "value.avro-confluent.url": ctx["registry_url"],
        # the reader schema: the registry's own (Flink's derived one loses enums and names), with the logical
        # types Flink cannot decode taken off (lakectl/avro_sql.py)
        "value.avro-confluent.schema": reader_schema(schema_text),
    })
    if ctx.get("registry_user_info"):
        kafka["value.avro-confluent.basic-auth.credentials-source"] = "USER_INFO"
        kafka["value.avro-confluent.basic-auth.user-info"] = ctx["registry_user_info"]
    create_kafka_source(t_env, kafka)
    select, all_cols = with_metadata(args, cols)
    bronze(args, ctx, t_env, env, f"SELECT {select} FROM kafka_source", all_cols)


def with_metadata(args: argparse.Namespace, cols: list[Column]) -> tuple[str, list[Column]]:
    """The select list of a record's fields with Bronze's own columns after them (when the job read it, where
    from in Kafka, and the day partition when asked for), and the table's columns in the same order."""
    metadata = [Column("ingested_at", "TIMESTAMP_LTZ(3)", False), Column("kafka_partition", "INT", False),
                Column("kafka_offset", "BIGINT", False)]
    select = [f"`{c.name}`" for c in cols] + ["CAST(NOW() AS TIMESTAMP_LTZ(3)) AS ingested_at", "kafka_partition",
                                              "kafka_offset"]
    if args.partition_by == "day":
        metadata.append(Column("event_date", "DATE", True))
        select.append(f"CAST(`{args.event_time}` AS DATE) AS event_date")
    return ", ".join(select), [*cols, *metadata]


def kafka_options(args: argparse.Namespace, ctx: dict, value_format: dict[str, str]) -> dict[str, str]:
    """The Kafka source's options for the job's topic, with ``value_format``'s (how a value is decoded)."""
    return {
        "connector": "kafka",
        "topic": args.topic,
        "properties.bootstrap.servers": ctx["bootstrap_servers"],
        "properties.group.id": args.name,
        # a fresh job starts at the group's committed offsets (earliest if none); a restore from a
        # checkpoint or savepoint uses the offsets in its state, so nothing is read twice
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        "properties.isolation.level": "read_committed",
        **value_format,
        # SASL/TLS for a secured cluster (Strimzi's SCRAM listener, a managed Kafka): none on the local stack
        **{f"properties.{k}": v for k, v in ctx.get("kafka", {}).items()},
    }


def environment(args: argparse.Namespace, ctx: dict):
    interval_s = args.checkpoint_interval or ctx["checkpoint_interval_s"]
    # object reuse: chained operators hand a row on instead of deep-copying it first; safe here, since the
    # Kafka decoder makes a new row per record and both writers encode a row before taking the next
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration().set_string("pipeline.object-reuse", "true"))
    env.enable_checkpointing(int(interval_s * 1000), CheckpointingMode.EXACTLY_ONCE)
    if args.no_chaining:
        env.disable_operator_chaining()
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("pipeline.name", args.name)
    t_env.get_config().set("table.exec.source.idle-timeout", "5 s")
    return env, t_env


def cdc_source(args: argparse.Namespace, ctx: dict):
    """Debezium's change events of one table (JsonConverter, schemas off: the envelope itself), kept as they
    are: operation, before and after images, the source position (LSN), transaction and commit time, and the
    primary key at the top level (from after, or before for a delete). Append-only: no event is folded.

    The images are read as their JSON text (Flink's json format gives an object's text to a STRING field) and
    typed here, field by field; the after image's text is kept too (``after_json``): a column added in
    PostgreSQL is in the events before this job knows it, and so it reaches Bronze at once, before the next
    ``pipeline apply`` resubmits the job with a typed field for it."""
    env, t_env = environment(args, ctx)
    table_cols = json.loads(args.cdc_columns)
    image = "ROW<" + ", ".join(f"`{name}` {kind}" for name, kind, _key in table_cols) + ">"
    keys = [(name, kind) for name, kind, key in table_cols if key]
    kafka = kafka_options(args, ctx, {
        "value.format": "json",
        "value.json.fail-on-missing-field": "false",
        "value.json.ignore-parse-errors": "false",
    })
    t_env.execute_sql(f"""CREATE TEMPORARY TABLE kafka_source (
  `before` STRING,
  `after` STRING,
  `source` ROW<`lsn` BIGINT, `txId` BIGINT, `ts_ms` BIGINT, `snapshot` STRING>,
  `op` STRING,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  {options(kafka)}
)""")

    def field(text: str, name: str, kind: str) -> str:
        path = "$[" + json.dumps(name).replace("'", "''") + "]"
        if kind == "STRING":  # text as itself; an array or object (PostgreSQL arrays) as its JSON text
            return f"COALESCE(JSON_VALUE({text}, '{path}'), JSON_QUERY({text}, '{path}'))"
        return f"CAST(JSON_VALUE({text}, '{path}') AS {kind})"

    def typed(text: str) -> str:
        fields = ", ".join(field(f"`{text}`", name, kind) for name, kind, _key in table_cols)
        return f"CAST(ROW({fields}) AS {image}) AS `{text}_row`"

    cols = [Column(name, kind, True) for name, kind in keys]
    cols += [Column("op", "STRING", True), Column("before", image, True), Column("after", image, True),
             Column("after_json", "STRING", True),
             Column("source_lsn", "BIGINT", True), Column("tx_id", "BIGINT", True),
             Column("source_ts_ms", "BIGINT", True), Column("committed_at", "TIMESTAMP_LTZ(3)", True),
             Column("ingested_at", "TIMESTAMP_LTZ(3)", False), Column("kafka_partition", "INT", False),
             Column("kafka_offset", "BIGINT", False)]
    # two steps: Flink's validator refuses a ROW constructor inside a CASE, and a ROW of nulls is not a null image
    typed_rows = f"SELECT *, {typed('before')}, {typed('after')} FROM kafka_source"
    select = [f"CAST(COALESCE({field('`after`', name, kind)}, {field('`before`', name, kind)}) AS {kind}) "
              f"AS `{name}`" for name, kind in keys]
    select += ["`op`"] + [f"CASE WHEN `{image_name}` IS NULL THEN CAST(NULL AS {image}) ELSE `{image_name}_row` END "
                          f"AS `{image_name}`" for image_name in ("before", "after")]
    select += ["`after` AS after_json", "`source`.`lsn` AS source_lsn", "`source`.`txId` AS tx_id",
               "`source`.`ts_ms` AS source_ts_ms", "TO_TIMESTAMP_LTZ(`source`.`ts_ms`, 3) AS committed_at",
               "CAST(NOW() AS TIMESTAMP_LTZ(3)) AS ingested_at", "kafka_partition", "kafka_offset"]
    return t_env, env, f"SELECT {', '.join(select)} FROM ({typed_rows})", cols


def json_lines_source(args: argparse.Namespace, ctx: dict):
    """A topic of text lines, each one JSON object with the schema's fields (a file pipeline). One Kafka source
    (``raw``: the line as it is) and one SQL projection that gives each line either its typed columns or the reason
    it is refused (lakectl/jsonl_sql.py); refused lines go to ``<topic>.dlq`` as they were, with the reason and
    their position in ``lakectl.*`` headers, through a transactional Kafka sink that commits on the same
    checkpoints as Bronze: every line ends in exactly one of the two, and a bad line never fails the job."""
    from lakectl.jsonl_sql import checking_query, file_source_problem

    try:
        cols = columns(args.json_lines_schema)
    except UnsupportedSchema as exc:
        raise SystemExit(f"--json-lines-schema: {exc}") from None
    problem = file_source_problem(args.json_lines_schema)
    if problem:
        raise SystemExit(f"--json-lines-schema: {problem}")
    env, t_env = environment(args, ctx)
    t_env.get_config().set("table.local-time-zone", "UTC")  # timestamps are UTC wall clock, as in Avro pipelines
    kafka = kafka_options(args, ctx, {"value.format": "raw"})
    t_env.execute_sql(f"""CREATE TEMPORARY TABLE kafka_source (
  `line` STRING,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  {options(kafka)}
)""")
    checked = one_stream(t_env, t_env.sql_query(checking_query(args.json_lines_schema, "kafka_source")))
    t_env.create_temporary_view("checked_lines", checked)
    dlq = {
        "connector": "kafka",
        "topic": f"{args.topic}.dlq",
        "properties.bootstrap.servers": ctx["bootstrap_servers"],
        "value.format": "raw",
        "sink.delivery-guarantee": "exactly-once",
        "sink.transactional-id-prefix": f"{args.name}-dlq",
        # within the broker's transaction.max.timeout.ms (15 min by default); Flink's default is an hour
        "properties.transaction.timeout.ms": "600000",
        **{f"properties.{k}": v for k, v in ctx.get("kafka", {}).items()},
    }
    t_env.execute_sql(f"""CREATE TEMPORARY TABLE dlq_sink (
  `line` STRING,
  `headers` MAP<STRING, BYTES> METADATA
) WITH (
  {options(dlq)}
)""")
    statements = t_env.create_statement_set()
    statements.add_insert_sql(
        "INSERT INTO dlq_sink SELECT line, MAP['lakectl.error', CAST(reason AS BYTES), "
        f"'lakectl.source', CAST(CONCAT({sql_string(args.topic + ' partition ')}, CAST(kafka_partition AS STRING), "
        "' offset ', CAST(kafka_offset AS STRING)) AS BYTES), "
        f"'lakectl.pipeline', CAST({sql_string(args.table)} AS BYTES)] "
        "FROM checked_lines WHERE reason IS NOT NULL")
    statements.attach_as_datastream()
    select, all_cols = with_metadata(args, cols)
    return t_env, env, f"SELECT {select} FROM checked_lines WHERE reason IS NULL", all_cols


def bronze(args: argparse.Namespace, ctx: dict, t_env, env, query: str, all_cols: list[Column]) -> None:
    """The rows of ``query`` into both formats, read once."""
    source = t_env.sql_query(query)
    shared = one_stream(t_env, source)
    t_env.create_temporary_view("bronze_rows", shared)
    partition_columns = ["event_date"] if args.partition_by == "day" else []

    if "iceberg" in args.formats:
        ensure_iceberg_table(t_env, ctx["iceberg"], args.table, all_cols, partition_columns, shared)
    if "delta" in args.formats:
        from delta_sink import attach_delta_sink

        delta_options = {"app-id": args.name, **ctx["delta"]["hadoop"]}
        if partition_columns:
            delta_options["partition-columns"] = ",".join(partition_columns)
        attach_delta_sink(t_env, shared, ctx["delta"]["root"].rstrip("/") + f"/bronze/{args.table}", delta_options)
    if "iceberg" in args.formats:
        statements = t_env.create_statement_set()
        # by name: a column added by evolution sits at the table's end, not where the query has it
        listed = ", ".join(f"`{c.name}`" for c in all_cols)
        statements.add_insert_sql(
            f"INSERT INTO lakehouse.bronze.`{args.table}` ({listed}) SELECT {listed} FROM bronze_rows")
        statements.attach_as_datastream()
    # submit and return: the JobManager's REST call waits for this script, not for the job
    env.execute_async(args.name)


def one_stream(t_env, table):
    """The table as one DataStream, back as a table both sinks read: the source is read once. In Flink's
    internal rows (RowData) throughout: PyFlink's to_data_stream would convert every row to an external
    Row and back, which costs more than decoding it."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Table

    jvm = get_gateway().jvm
    physical = table._j_table.getResolvedSchema().toPhysicalRowDataType()
    internal = physical.bridgedTo(jvm.java.lang.Class.forName("org.apache.flink.table.data.RowData"))
    stream = t_env._j_tenv.toDataStream(table._j_table, internal)
    return Table(t_env._j_tenv.fromDataStream(stream), t_env)


def create_kafka_source(t_env, kafka: dict[str, str]) -> None:
    """The Kafka table, its columns exactly Flink's own conversion of the reader schema (the format refuses
    any other). Not through SQL DDL: SQL makes every field of a nullable ROW nullable, which the format's
    conversion does not (a required field inside an optional record)."""
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    api = jvm.org.apache.flink.table.api
    row_type = jvm.org.apache.flink.formats.avro.typeutils.AvroSchemaConverter.convertToDataType(
        kafka["value.avro-confluent.schema"])
    schema = (api.Schema.newBuilder().fromRowDataType(row_type)
              .columnByMetadata("kafka_partition", api.DataTypes.INT(), "partition", True)
              .columnByMetadata("kafka_offset", api.DataTypes.BIGINT(), "offset", True)
              .build())
    descriptor = api.TableDescriptor.forConnector(kafka["connector"]).schema(schema)
    for key, value in kafka.items():
        if key != "connector":
            descriptor = descriptor.option(key, value)
    t_env._j_tenv.createTemporaryTable("kafka_source", descriptor.build())


def ensure_iceberg_table(t_env, iceberg: dict, table: str, all_cols: list[Column], partition_columns: list[str],
                         rows) -> None:
    """Create ``bronze.<table>`` if it is missing, else merge the job's columns into it (union by name: new
    fields, top-level or nested, join as optional; nothing is rewritten)."""
    t_env.execute_sql(f"""CREATE CATALOG lakehouse WITH (
  {options({"type": "iceberg", "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            "uri": iceberg["jdbc_url"], "jdbc.user": iceberg["user"], "jdbc.password": iceberg["password"],
            "jdbc.schema-version": "V1", "warehouse": iceberg["warehouse"], **iceberg["io"]})}
)""")
    t_env.execute_sql("CREATE DATABASE IF NOT EXISTS lakehouse.bronze")
    partitioned = f"PARTITIONED BY ({', '.join(f'`{c}`' for c in partition_columns)})" if partition_columns else ""
    t_env.execute_sql(f"""CREATE TABLE IF NOT EXISTS lakehouse.bronze.`{table}` (
  {column_ddl(all_cols, not_null=False)}
) {partitioned} WITH ('format-version' = '2', 'write.format.default' = 'parquet',
  'write.parquet.compression-codec' = 'zstd')""")
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    catalog = t_env._j_tenv.getCatalog("lakehouse").get().catalog()
    current = catalog.loadTable(jvm.org.apache.iceberg.catalog.TableIdentifier.parse(f"bronze.{table}"))
    wanted = jvm.org.apache.iceberg.flink.FlinkSchemaUtil.convert(rows._j_table.getResolvedSchema())
    update = current.updateSchema().unionByNameWith(wanted)
    if not update.apply().sameSchema(current.schema()):
        update.commit()


if __name__ == "__main__":
    main()
