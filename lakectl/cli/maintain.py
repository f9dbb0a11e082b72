"""``lakectl maintain``: compaction, expiry, orphan removal and Delta checkpoints for the Bronze tables."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_commands
from lakectl.errors import ComponentError
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()


@app.command()
def maintain(
    ctx: typer.Context,
    pipelines: Annotated[list[str] | None, typer.Option(
        "--pipeline", help="Only this pipeline's Bronze tables (repeatable; default: every declared "
        "pipeline).")] = None,
    tables: Annotated[list[str] | None, typer.Option(
        "--table", help="A Bronze table no pipeline declares, as bronze.NAME (repeatable; both formats).")] = None,
    table_format: Annotated[str | None, typer.Option("--format", help="iceberg or delta (default: the formats "
                                                     "each pipeline declares).")] = None,
    snapshot_retention: Annotated[str | None, typer.Option(
        "--snapshot-retention", help="Keep old snapshots / versions readable this long, e.g. 12h "
        "(default: maintenance.snapshot_retention, 1d).")] = None,
    orphan_retention: Annotated[str | None, typer.Option(
        "--orphan-retention", help="Delete unreferenced files only once older than this, e.g. 7d; at least 1h "
        "and three checkpoint intervals (default: maintenance.orphan_retention, 7d).")] = None,
    target_file_size_mb: Annotated[int | None, typer.Option(
        "--target-file-size-mb", help="Compact files smaller than this (default: maintenance."
        "target_file_size_mb, 128).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Compact Bronze's small files, expire old snapshots and versions, remove orphan files and write a
    Delta checkpoint, in Iceberg (through Trino) and Delta (delta-rs), while the Bronze jobs keep writing.

    Exit 1 when an action failed (the others still run), 2 on a bad pipeline or retention."""
    from lakectl import pipeline_spec
    from lakectl.ops import maintain as ops
    from lakectl.settings import parse_duration

    out = Output(output)
    lake = lake_context(ctx)
    flags = {"snapshot_retention": snapshot_retention, "orphan_retention": orphan_retention,
             "target_file_size_mb": target_file_size_mb}
    if any(v is not None for v in flags.values()):
        lake.override(maintenance={k: v for k, v in flags.items() if v is not None})
    conf = lake.settings.maintenance
    if tables:
        specs = [pipeline_spec.load(name) for name in dict.fromkeys(pipelines or [])]
        targets = ops.select(specs, table_format) + ops.select_tables(
            tables, table_format, lake.settings.flink.checkpoint_interval_s)
    else:
        specs = ([pipeline_spec.load(name) for name in dict.fromkeys(pipelines)] if pipelines
                 else pipeline_spec.load_all())
        targets = ops.select(specs, table_format)
    retentions = ops.Retentions(parse_duration(conf.snapshot_retention), parse_duration(conf.orphan_retention),
                                conf.target_file_size_mb)
    ops.check_retentions(retentions, targets,
                         orphan_source=f"from {lake.loaded.sources.get('maintenance.orphan_retention', 'default')}")
    if not targets:
        out.info("no declared pipeline: nothing to maintain")
    stack = ops.MaintainStack(trino=lake.trino, lakehouse=lake.lakehouse(), s3=lake.s3())
    with out.spinner("maintaining Bronze") as update:
        report = ops.maintain(stack, targets, retentions, progress=update, done=lambda a: out.info(_line(a)))
    out.emit(report.to_dict(), table=_table)
    if report.failed:
        first = report.failed[0]
        raise ComponentError(f"{len(report.failed)} of {len(report.actions)} maintenance actions failed; first: "
                             f"{first.format} {first.table} {first.action}: {first.detail}")


def _human(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def _change(action: dict[str, Any]) -> str:
    if action["before"] is not None and action["after"] is not None:
        return f"{action['before']} -> {action['after']} {action['unit']}"
    if action["after"] is not None:
        return f"{action['unit']} {action['after']}"
    return ""


def _line(action) -> str:
    data = action.to_dict()
    parts = [f"{data['format']} {data['table']} {data['action']}: {data['status']}", _change(data)]
    if data["removed"]:
        parts.append(f"{data['removed']} removed")
    if data["detail"]:
        parts.append(data["detail"])
    return ", ".join(p for p in parts if p) + f" ({data['seconds']:.1f} s)"


def _table(data: dict[str, Any]):
    rows = [{**a, "change": _change(a), "bytes": (f"{_human(a['bytes_before'])} -> {_human(a['bytes_after'])}"
                                                  if a["bytes_before"] is not None else _human(a["bytes_removed"])),
             "seconds": f"{a['seconds']:.1f}"} for a in data["actions"]]
    title = (f"snapshot retention {data['snapshot_retention']}, orphan retention {data['orphan_retention']}, "
             f"{data['seconds']:.1f} s")
    return simple_table(rows, ["format", "table", "action", "status", "change", "removed", "bytes", "seconds",
                               "detail"], title=title)
