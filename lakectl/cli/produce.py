"""Produce schema-checked Avro records into Kafka, and consume them back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_commands
from lakectl.errors import CheckFailed, ExitCode, UsageError
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()


def _summary(d: dict) -> str:
    text = (f"sent {d['sent']} to {d['topic']} (schema id {d['schema_id']}) in {d['elapsed_s']}s "
            f"= {d['records_per_s']:,.0f} records/s" + (f" ({d['generator']} generator)" if d.get("generator") else ""))
    if d.get("seed") is not None:
        text += f"\nseed {d['seed']} (--seed {d['seed']} makes the same records again)"
    if d["rejected"]:
        text += f"\nrejected {d['rejected']} -> {d['dlq_topic']}" + "".join(f"\n  - {r}" for r in d["reasons"])
    return text


@app.command()
def produce(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic; its value schema is the latest of <TOPIC>-value.")],
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Records to send.")] = None,
    rate: Annotated[float | None, typer.Option("--rate", min=1, help="Records per second (total).")] = None,
    duration: Annotated[float | None, typer.Option("--duration", min=0.1, help="Stop after S seconds.")] = None,
    from_file: Annotated[Path | None, typer.Option("--from-file", help="JSON Lines input; without it (and "
                                                   "without --synthetic), synthetic stock trades.")] = None,
    synthetic: Annotated[int | None, typer.Option("--synthetic", min=1, metavar="N", help="Send N records "
                                                  "made up for the topic's schema, whatever it is.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="With --synthetic: the same seed makes the "
                                             "same records (default: a random one, reported).")] = None,
    key_field: Annotated[str, typer.Option("--key-field", help="Field used as the message key; 'auto' = the "
                                           "key of the pipeline declaring the topic, else symbol if the schema "
                                           "has it, 'none' = no key. With --synthetic "
                                           "it gets a value unique within the run.")] = "auto",
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=16, help="Encoding processes for "
                                                "synthetic records (default: up to 4, one per core).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Validate, encode (Avro, Confluent wire format) and send records; invalid ones go to <TOPIC>.dlq.

    Exit 0 when every record was sent, 1 when some were rejected (the valid ones are still sent),
    130 when Ctrl-C or SIGTERM stopped it early (every record it had accepted is still delivered).
    """
    from lakectl.ops.produce import produce as run

    out = Output(output)
    if synthetic is not None and (from_file is not None or count is not None):
        raise UsageError(f"--synthetic N sends N records of its own: it excludes "
                         f"{'--from-file' if from_file is not None else '--count'}")
    if seed is not None and synthetic is None:
        raise UsageError("--seed applies to --synthetic")
    if from_file is not None and workers:
        raise UsageError("--workers applies to synthetic trades, not --from-file")
    lake = lake_context(ctx)
    with out.spinner(f"producing to {topic}") as update:

        def progress(sent: int, target: int | None) -> None:  # on a terminal only: stderr stays clean elsewhere
            update(f"producing to {topic}: {sent:,}" + (f" of {target:,} records" if target else " records"))

        result = run(lake.kafka(), lake.registry(), topic, count=count, rate=rate, duration=duration,
                     from_file=from_file, synthetic=synthetic, seed=seed,
                     key_field=None if key_field == "none" else key_field, workers=workers,
                     interruptible=True, progress=progress if out.err.is_terminal else None)
    out.emit(result.to_dict(), table=_summary)
    if result.interrupted:
        out.info(f"interrupted: stopped early, the {result.sent} records sent were delivered")
        raise typer.Exit(ExitCode.INTERRUPTED)
    if result.rejected:
        raise CheckFailed(f"{result.rejected} records broke the schema of {result.subject} and went to "
                          f"{result.dlq_topic}; the {result.sent} valid ones were sent")


@app.command()
def consume(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic to read.")],
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Stop after N records.")] = None,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the earliest offset "
                                                 "(default: only new records).")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Stop after S seconds without a record.")] = 10.0,
    meta: Annotated[bool, typer.Option("--meta", help="Include partition, offset, key, headers.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print records decoded from Avro through the registry (JSON lines with -o json)."""
    from lakectl.ops.consume import consume as run

    out = Output(output)
    lake = lake_context(ctx)
    records = run(lake.kafka(), lake.registry(), topic, count=count, from_beginning=from_beginning,
                  timeout=timeout, with_meta=meta)
    if out.is_json:
        for record in records:
            out.json_line(record)
        return
    rows = list(records)
    columns = list(rows[0]) if rows else []
    out.emit(rows, table=lambda r: simple_table(r, columns, title=f"{len(r)} records from {topic}"))
