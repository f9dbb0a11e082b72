"""``lakectl metrics`` (Prometheus: a query, or a curated summary) and ``lakectl open`` (a service's URL)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from lakectl.cli.common import OutputOpt, app_context, lake_context, new_commands
from lakectl.errors import ServiceUnavailable, UsageError
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()

# services whose URL a profile may point elsewhere (the local stack's otherwise)
REMOTE_URLS = {"flink-jobmanager": "flink_url", "flink-taskmanager": "flink_url", "trino": "trino_url",
               "prometheus": "prometheus_url", "schema-registry": "registry_url"}


@app.command()
def metrics(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Option("--query", "-q", help="A PromQL instant query; its vector "
                                              "is printed (labels and value).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Metrics from Prometheus: a PromQL query, or a summary of the pipeline (throughput, Kafka lag,
    checkpoints, Bronze freshness, targets up)."""
    from lakectl.ops import metrics as ops

    if query is not None and not query.strip():
        raise UsageError("--query is empty")
    out = Output(output)
    lake = lake_context(ctx)
    if query is not None:
        out.emit(ops.query(lake.prometheus(), query), table=_query_table)
        return
    found = ops.summary(lake.prometheus(), lake.lakehouse, url=lake.prometheus_url())
    out.emit(found.to_dict(), table=lambda d: simple_table(summary_table_rows(d["metrics"]), ["metric", "of", "value"],
                                                           title=f"prometheus: {d['prometheus']}"))


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
def register(app: typer.Typer) -> None:
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
