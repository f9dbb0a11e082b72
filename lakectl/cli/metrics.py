"""``lakectl metrics`` (Prometheus: a query, or a curated summary) and ``lakectl open`` (a service's URL)."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Annotated, Any

import typer

from lakectl.cli.common import AppContext, OutputOpt, app_context
from lakectl.errors import LakectlError, ServiceUnavailable, UsageError
from lakectl.output import Output, OutputFormat, simple_table

# services whose URL a profile may point elsewhere (the local stack's otherwise)
REMOTE_URLS = {"flink-jobmanager": "flink_url", "flink-taskmanager": "flink_url", "trino": "trino_url",
               "prometheus": "prometheus_url", "schema-registry": "registry_url"}


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

    @app.command("open")
    def open_(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="Service name, e.g. flink, trino, prometheus.")],
        browser: Annotated[bool, typer.Option("--browser", help="Also open it in a web browser (only when "
                                              "stdout is a terminal).")] = False,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Print a service's URL (its web UI where it has one)."""
        from lakectl.runtime.catalog import expand, unknown_service

        out = Output(output)
        app_ctx = app_context(ctx)
        rt = app_ctx.runtime
        name = (expand([service]) or [service])[0]
        if name not in rt.catalog:
            raise unknown_service(name, rt.catalog)
        getter = REMOTE_URLS.get(name)
        url = getattr(app_ctx, getter)() if getter else rt.url(name)
        if not getter:  # only this stack runs it (no URL setting can point elsewhere): is it up?
            state = rt.status([rt.catalog[name]])[0].state
            if state != "running":
                raise ServiceUnavailable(f"{name} is not running ({state}) at {url}",
                                         hint=f"lakectl up {service}")
        web = url.startswith(("http://", "https://"))
        opened = False
        if browser and web and sys.stdout.isatty():
            import webbrowser

            opened = webbrowser.open(url, new=2)
        elif browser and not web:
            out.info(f"{name} has no web UI; {url} is its address")
        out.emit({"service": name, "url": url, "web": web, "opened": opened}, table=lambda d: d["url"])
