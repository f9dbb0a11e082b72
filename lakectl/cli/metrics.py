"""``lakectl metrics`` (Prometheus: a query, or a curated summary)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import typer

from lakectl.cli.common import AppContext, OutputOpt, app_context
from lakectl.errors import LakectlError, UsageError
from lakectl.output import Output, OutputFormat, simple_table


def bronze_freshness(app: AppContext, now: float | None = None) -> list[dict[str, Any]]:
    """Seconds since the newest commit of each Bronze table, read from the tables themselves.

    Not from Prometheus: the catalog's newest snapshot (and the Delta log's last commit) is exactly
    what Trino and dbt can read, whichever writer made it; and it keeps growing while the job is
    down, when the Iceberg committer's own gauge (elapsedSecondsSinceLastSuccessfulCommit) is gone
    with the job. Delta's sink has no such gauge at all.
    """
    from lakectl.components.lakehouse import Lakehouse

    now = time.time() if now is None else now
    try:
        lakehouse = Lakehouse(app.s3(), app.catalog())
        tables = [*lakehouse.iceberg_tables("bronze"), *lakehouse.delta_tables("bronze")]
    except LakectlError as exc:
        return [{"metric": "bronze_freshness_s", "labels": {}, "value": None, "unit": "s",
                 "note": f"unavailable: {exc.one_line()}"}]
    rows = [{"metric": "bronze_freshness_s", "labels": {"table": f"bronze.{t.name}", "format": t.format},
             "value": round(now - datetime.fromisoformat(t.updated_at).timestamp(), 1) if t.updated_at else None,
             "unit": "s"} for t in tables]
    rows.sort(key=lambda r: (r["labels"]["table"], r["labels"]["format"]))
    return rows or [{"metric": "bronze_freshness_s", "labels": {}, "value": None, "unit": "s",
                     "note": "no Bronze table yet"}]


def _query_table(data: dict):
    rows = [{"series": _series(r["metric"]), "value": "-" if r["value"] is None else f"{r['value']:g}"
             if isinstance(r["value"], float) else str(r["value"])} for r in data["result"]]
    return simple_table(rows, ["series", "value"], title=f"{data['result_type']}: {len(rows)} result(s)")


def _series(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}" if labels or not name else name


def register(app: typer.Typer) -> None:
    @app.command()
    def metrics(
        ctx: typer.Context,
        query: Annotated[str | None, typer.Option("--query", "-q", help="A PromQL instant query; its vector "
                                                  "is printed (labels and value).")] = None,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Metrics from Prometheus: a PromQL query, or a summary of the pipeline (throughput, Kafka lag,
        checkpoints, Bronze freshness, targets up)."""
        from lakectl.components.prometheus import CURATED, curated_rows, summary_table_rows

        out = Output(output)
        app_ctx = app_context(ctx)
        if query is not None and not query.strip():
            raise UsageError("--query is empty")
        prometheus = app_ctx.prometheus()
        try:
            if query is not None:
                data = {"query": query, **prometheus.query(query)}
                out.emit(data, table=_query_table)
                return
            rows = []
            for curated in CURATED:
                rows += curated_rows(curated, prometheus.query(curated.promql))
        finally:
            prometheus.close()
        rows += bronze_freshness(app_ctx)
        data = {"prometheus": app_ctx.prometheus_url(), "metrics": rows}
        out.emit(data, table=lambda d: simple_table(summary_table_rows(d["metrics"]), ["metric", "of", "value"],
                                                    title=f"prometheus: {d['prometheus']}"))
