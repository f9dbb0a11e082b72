"""`lakectl pipeline`: declare a feed once (schemas/<name>.pipeline.toml) and run it end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, key_value_table, simple_table

app = new_group("pipeline", "Pipelines: a feed from its .avsc to Bronze (Iceberg and Delta) and Silver.")

NamesArg = Annotated[list[str] | None, typer.Argument(help="Pipelines (default: every one in schemas/).")]


def _stack(ctx: typer.Context):
    from lakectl.ops.pipelines import PipelineStack

    lake = lake_context(ctx)
    return PipelineStack(registry=lake.registry, kafka=lake.kafka, jobs=lake.job_cluster, trino=lake.trino,
                         s3=lake.s3, lakehouse=lake.lakehouse, dbt=lake.dbt_target, state_dir=lake.state_dir,
                         cdc=lake.cdc_stack)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="The pipeline's name (its table, job, DAG and models).")],
    schema: Annotated[Path | None, typer.Option("--schema", help="The feed's Avro schema (.avsc); copied to "
                                                "schemas/ when it is elsewhere.")] = None,
    source: Annotated[str, typer.Option("--source", help="kafka (records produced to the topic), postgres-cdc "
                                        "(a PostgreSQL table's changes) or file (a JSON-lines file).")] = "kafka",
    file: Annotated[Path | None, typer.Option("--file", help="file: the JSON-lines file Kafka Connect tails (one "
                                              "JSON object per line, the schema's fields).")] = None,
    database: Annotated[str | None, typer.Option("--database", help="postgres-cdc: the database.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="postgres-cdc: [schema.]table (schema: public).")
                     ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Top-level field identifying a record (default: id or "
                                            "the one *_id field).")] = None,
    event_time: Annotated[str | None, typer.Option("--event-time", help="Top-level timestamp-millis field; "
                                                   "Bronze is partitioned by its day.")] = None,
    topic: Annotated[str | None, typer.Option("--topic", help="Kafka topic (default: the name).")] = None,
    partitions: Annotated[int, typer.Option("--partitions", min=1, max=1000)] = 3,
    formats: Annotated[str, typer.Option("--formats", help="Bronze formats: iceberg,delta.")] = "iceberg,delta",
    force: Annotated[bool, typer.Option("--force", help="Rewrite an existing pipeline's files.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Write the spec, the dbt source and the Silver model; `pipeline apply NAME` then runs it."""
    from lakectl.errors import UsageError
    from lakectl.ops.pipelines import add as run
    from lakectl.ops.pipelines import add_cdc

    out = Output(output)
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    if source == "postgres-cdc":
        if not database or not table or schema is not None or key or event_time or file is not None:
            raise UsageError("pipeline add --source postgres-cdc takes --database and --table (not --schema, --key "
                             "or --event-time: they come from the table)")
        result = add_cdc(name, database=database, table=table, topic=topic, partitions=partitions, formats=chosen,
                         force=force)
    elif source not in ("kafka", "file"):
        raise UsageError(f"--source {source!r}: choose from kafka, postgres-cdc, file")
    elif schema is None:
        raise UsageError("pipeline add: --schema is required (or --source postgres-cdc)")
    elif (source == "file") != (file is not None):
        raise UsageError("pipeline add: --file goes with --source file (and --source file needs --file)")
    else:
        result = run(name, schema, key=key, event_time=event_time, topic=topic, partitions=partitions,
                     formats=chosen, force=force, file=file)
    out.emit(result.to_dict(), table=lambda d: "\n".join(["wrote:", *(f"  {f}" for f in d["files"])]))
    out.info(f"next: lakectl pipeline apply {name}")


@app.command()
def apply(
    ctx: typer.Context,
    names: NamesArg = None,
    no_models: Annotated[bool, typer.Option("--no-models", help="Skip dbt (schema, topics, job only).")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Make the stack match the specs: schema, topic and DLQ, Bronze job, Delta table in Trino, dbt models.
    Running it again changes nothing; a new schema version resubmits the job from a savepoint."""
    from lakectl import pipeline_spec
    from lakectl.ops.pipelines import apply as run

    out = Output(output)
    specs = [pipeline_spec.load(n) for n in names] if names else pipeline_spec.load_all()
    with out.spinner("applying") as update:
        results = run(_stack(ctx), specs, build_models=not no_models, progress=update)
    data = [r.to_dict() for r in results]
    out.emit(data, table=lambda rows: "\n".join(
        f"{r['name']}: " + ("; ".join(r["changes"]) if r["changes"] else "unchanged")
        + (f" (dbt: {r['dbt']})" if r["dbt"] else "") for r in rows))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Every declared pipeline and its Bronze job's state."""
    from lakectl.ops.pipelines import list_pipelines

    out = Output(output)
    rows = list_pipelines(lake_context(ctx).job_cluster)
    out.emit(rows, table=lambda r: simple_table(r, ["name", "topic", "key", "formats", "job", "state"],
                                                 title=f"{len(r)} pipelines"))


@app.command()
def status(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    wait: Annotated[bool, typer.Option("--wait", help="First wait until Bronze holds every record of the "
                                       "topic, in each format.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --wait waits.")] = 300,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Job state, Kafka lag, rows per layer, freshness, DLQ count and the last error."""
    from lakectl import pipeline_spec
    from lakectl.ops.pipelines import status as run

    out = Output(output)
    spec = pipeline_spec.load(name)
    with out.spinner(f"reading {name}") as update:
        data = run(_stack(ctx), spec, wait_s=timeout if wait else None, progress=update)
    out.emit(data, table=lambda d: key_value_table([
        *([("connector", d["connector"])] if "connector" in d else []),
        ("job", f"{d['job']['name']}: {d['job']['state']}"), ("topic", f"{d['topic']}: {d['records']} records"),
        ("lag", d["lag"]), *((f"rows {k}", v) for k, v in d["rows"].items()),
        *((f"freshness {k} (s)", v) for k, v in d["freshness_s"].items()),
        ("dlq", f"{d['dlq']['topic']}: {d['dlq']['records']}"), ("last error", d["last_error"] or "none")]))


@app.command()
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    purge: Annotated[bool, typer.Option("--purge", help="Also delete its topics, subject and tables.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Remove a stopped pipeline's spec and generated models (refused while its job runs)."""
    from lakectl import pipeline_spec
    from lakectl.ops.pipelines import remove as run

    out = Output(output)
    spec = pipeline_spec.load(name)
    data = run(_stack(ctx), spec, purge=purge)
    out.emit(data, table=lambda d: "\n".join(["removed:", *(f"  {f}" for f in d["removed"])]))
