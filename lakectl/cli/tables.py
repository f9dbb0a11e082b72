"""``lakectl tables``: the lakehouse's tables with row counts, files and snapshots, without Trino."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_commands
from lakectl.output import Output, OutputFormat, list_table

app = new_commands()


@app.command()
def tables(
    ctx: typer.Context,
    layer: Annotated[str | None, typer.Option("--layer", help="bronze, silver or gold (default: all).")] = None,
    table_format: Annotated[str | None, typer.Option("--format", help="iceberg or delta (default: both).")] = None,
    wait_for_topic: Annotated[str | None, typer.Option(
        "--wait-for-topic", help="First wait until bronze.<TOPIC> holds, in every format, as many rows as "
        "the Kafka topic holds records.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --wait-for-topic may wait.")] = 300,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Iceberg and Delta tables: rows, data files and their bytes, snapshots / versions retained and the
    latest one (pyiceberg, delta-rs)."""
    from lakectl.ops.tables import check_filters, list_tables

    check_filters(layer, table_format)
    out = Output(output)
    lake = lake_context(ctx)
    waiting = f"waiting until bronze.{wait_for_topic} holds the topic's records" if wait_for_topic else "reading"
    with out.spinner(waiting) as update:
        found = list_tables(lake.lakehouse(), layer=layer, table_format=table_format, wait_for_topic=wait_for_topic,
                            kafka=lake.kafka, timeout=timeout, progress=update)
    out.emit(found.to_dict(), table=list_table("tables", "format", "layer", "name", "rows", "data_files", "data_bytes",
                                               "snapshots", "snapshot", "updated_at"))
