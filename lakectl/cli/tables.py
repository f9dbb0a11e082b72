"""``lakectl tables``: the lakehouse's tables with row counts and snapshots, without Trino."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, app_context
from lakectl.output import Output, OutputFormat, simple_table


def register(app: typer.Typer) -> None:
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
        """Iceberg and Delta tables: row count and latest snapshot / version (pyiceberg, delta-rs)."""
        from lakectl.components.lakehouse import LAYERS, Lakehouse
        from lakectl.errors import UsageError

        if layer is not None and layer not in LAYERS:
            raise UsageError(f"--layer must be one of {', '.join(LAYERS)}, not {layer!r}")
        if table_format is not None and table_format not in ("iceberg", "delta"):
            raise UsageError(f"--format must be iceberg or delta, not {table_format!r}")
        out = Output(output)
        app_ctx = app_context(ctx)
        lakehouse = Lakehouse(app_ctx.s3(), app_ctx.catalog())
        if wait_for_topic:
            with out.spinner(f"waiting until bronze.{wait_for_topic} holds the topic's records") as update:
                lakehouse.wait_for_topic(app_ctx.kafka(), wait_for_topic, timeout, update)
        found = []
        if table_format in (None, "iceberg"):
            found += lakehouse.iceberg_tables(layer)
        if table_format in (None, "delta"):
            found += lakehouse.delta_tables(layer)
        out.emit({"tables": [t.to_dict() for t in found]},
                 table=lambda d: simple_table(d["tables"], ["format", "layer", "name", "rows", "snapshot",
                                                            "updated_at"]))
