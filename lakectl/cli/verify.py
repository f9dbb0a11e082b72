"""``lakectl verify``: Kafka vs Bronze (Iceberg and Delta, through Trino)."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_commands
from lakectl.errors import CheckFailed, UsageError
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()


@app.command()
def verify(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="A declared pipeline: its topic, table, "
                                                 "key and formats (instead of the options below).")] = None,
    topic: Annotated[str | None, typer.Option("--topic", help="The Kafka topic the table is fed from.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="<schema>.<table> in both the iceberg and "
                                              "the delta catalog (default: bronze.<topic>).")] = None,
    key: Annotated[str | None, typer.Option("--key", help="The field that identifies a record (default: the key "
                                            "of the pipeline declaring the topic; kafka_position: each record's "
                                            "partition and offset, against Bronze's).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to read the topic.")] = 300,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Does Bronze hold exactly what Kafka holds (rows, key set), in Iceberg and in Delta? Exit 1 if not."""
    from lakectl.ops.verify import BY_POSITION
    from lakectl.ops.verify import verify as run

    out = Output(output)
    from lakectl import pipeline_spec

    formats: tuple[str, ...] = ("iceberg", "delta")
    if pipeline is not None:
        spec = pipeline_spec.load(pipeline)
        if spec.is_file:
            raise UsageError(f"pipeline {pipeline} reads a file: verify compares a topic's Avro records with Bronze, "
                             "and its topic holds JSON lines (pipeline status shows Bronze's rows and the DLQ's)")
        # a CDC pipeline's change events are checked by their place in Kafka (a row's key changes many times)
        topic, table, formats = spec.topic, f"bronze.{spec.table}", spec.formats
        key = BY_POSITION if spec.is_cdc else spec.key
    elif topic is None:
        raise UsageError("say what to verify: --pipeline NAME, or --topic T [--key F]")
    key = key or pipeline_spec.key_for_topic(topic)
    if key is None:
        raise UsageError(f"no pipeline declares topic {topic}: give its key field with --key")
    lake = lake_context(ctx)
    with out.spinner(f"reading {topic} and summarising the tables"), closing(lake.trino()) as trino:
        report = run(lake.kafka(), lake.registry(), trino, lake.s3(), topic, table or f"bronze.{topic}",
                     key, timeout, formats=formats)
    out.emit(report.to_dict(), table=lambda d: simple_table(d["sources"], ["source", "rows", "distinct_keys",
                                                                           "digest"],
                                                            title=f"{d['topic']} -> {d['table']}"))
    if not report.ok:
        raise CheckFailed("; ".join(report.differences))
    names = ["Kafka", *(f.capitalize() for f in formats)]
    out.info(f"verified: {', '.join(names[:-1])} and {names[-1]} hold the same records")
