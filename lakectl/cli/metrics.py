"""``lakectl metrics``: Prometheus, a PromQL query or a curated summary of the pipeline."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_commands
from lakectl.errors import UsageError
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()


@app.command()
def metrics(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Option("--query", "-q", help="A PromQL instant query; its vector "
                                              "is printed (labels and value).")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="The summary of this pipeline only: its "
                                                 "Bronze job's metrics and its Bronze table's freshness.")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Metrics from Prometheus: a PromQL query, or a summary of the pipelines (throughput, Kafka lag,
    checkpoints, Bronze freshness, targets up), or of one (--pipeline)."""
    from lakectl.ops import metrics as ops

    if query is not None and not query.strip():
        raise UsageError("--query is empty")
    if query is not None and pipeline is not None:
        raise UsageError("--query and --pipeline: give one (a query names its own series)")
    spec = None
    if pipeline is not None:
        from lakectl import pipeline_spec

        spec = pipeline_spec.load(pipeline)  # an unknown one: a usage error naming the known ones
    out = Output(output)
    lake = lake_context(ctx)
    if query is not None:
        out.emit(ops.query(lake.prometheus(), query), table=_query_table)
        return
    found = ops.summary(lake.prometheus(), lake.lakehouse, url=lake.prometheus_url(), pipeline=spec)
    out.emit(found.to_dict(), table=lambda d: simple_table(summary_table_rows(d["metrics"]), ["metric", "of", "value"],
                                                           title=summary_title(d)))


def summary_title(data: dict[str, Any]) -> str:
    title = f"prometheus: {data['prometheus']}"
    return f"{title}  pipeline: {data['pipeline']}" if data.get("pipeline") else title


def _query_table(data: dict):
    rows = [{"series": _series(r["metric"]), "value": "-" if r["value"] is None else f"{r['value']:g}"
             if isinstance(r["value"], float) else str(r["value"])} for r in data["result"]]
    return simple_table(rows, ["series", "value"], title=f"{data['result_type']}: {len(rows)} result(s)")


def _series(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}" if labels or not name else name


def format_value(value: Any, unit: str) -> str:
    """A summary value for people: rounded to what matters, durations in s/min/h."""
    if value is None:
        return "-"
    if not isinstance(value, int | float):
        return str(value)
    if unit == "s":
        if value < 120:
            return f"{value:.1f} s"
        if value < 7200:
            return f"{value / 60:.1f} min"
        return f"{value / 3600:.1f} h"
    if unit == "":
        return f"{value:g}"
    number = f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"
    return f"{number} {unit}"


def format_labels(labels: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in labels.items() if v not in (None, "")) or "-"


def summary_table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"metric": r["metric"], "of": format_labels(r["labels"]),
             "value": format_value(r["value"], r["unit"]) if r["value"] is not None else r.get("note", "-")}
            for r in rows]


# `open` moves to the stack commands' module (another branch); left here unchanged until then
