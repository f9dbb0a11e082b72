"""Stack lifecycle: up, down, status, logs, doctor, and open (a service's URL)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_commands
from lakectl.errors import CheckFailed, ServiceUnavailable, UsageError
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()

STATUS_COLUMNS = ["name", "state", "healthy", "url", "pid", "rss_mb"]


def _status_table(data: dict):
    rows = [{**s, "healthy": {True: "yes", False: "NO", None: "-"}[s["healthy"]]} for s in data["services"]]
    return simple_table(rows, STATUS_COLUMNS, title=f"runtime: {data['runtime']}")


@app.command()
def up(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="Services to start (default: all).")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="auto, native or compose.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds until every service must be "
                                                  "ready (artifact downloads not counted).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Start services and their dependencies; wait until each is ready. Safe to run twice."""
    from lakectl.ops import stack

    out = Output(output)
    lake = lake_context(ctx)
    if runtime is not None and runtime not in ("auto", "native", "compose"):
        raise UsageError(f"--runtime must be auto, native or compose, not {runtime!r}")
    lake.override(runtime=runtime, timeout=timeout)
    from lakectl.artifacts import reporting
    from lakectl.cli.progress import StackProgress

    with StackProgress(out, "starting the stack") as progress, reporting(progress):
        started = stack.up(lake.loaded, services, progress,
                           announce=lambda choice: out.info(f"runtime: {choice.kind} ({choice.reason})"))
    out.emit(started.to_dict(), table=_status_table)


@app.command()
def down(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="Services to stop (default: all).")] = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the services' data.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Stop services (default: all). --purge also deletes their data (never the download cache)."""
    from lakectl.ops import stack

    out = Output(output)
    stopped = stack.down(lake_context(ctx).runtime, services, purge, out.info)
    out.emit(stopped.to_dict(), table=lambda d: f"stopped ({d['runtime']})" + (", data purged" if purge else ""))


@app.command()
def status(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Show every service: state, health, URL. Exit 3 if a started service is unhealthy."""
    from lakectl.ops import stack

    out = Output(output)
    report = stack.status(lake_context(ctx).runtime)
    out.emit(report.to_dict(), table=_status_table)
    if report.unhealthy:  # printed first: a failing status still shows every service
        raise ServiceUnavailable(f"not healthy: {', '.join(report.unhealthy)}")


@app.command()
def logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="Service name.")],
    tail: Annotated[int | None, typer.Option("--tail", "-n", help="Only the last N lines.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print a service's log."""
    from lakectl.ops import stack

    out = Output(output)
    for line in stack.logs(lake_context(ctx).runtime, service, tail, follow):
        if out.is_json:
            out.json_line({"service": service, "line": line.rstrip("\n")})
        else:
            sys.stdout.write(line)
        if follow:
            sys.stdout.flush()


@app.command()
def doctor(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Check this machine for what the stack needs: Java, Maven, PostgreSQL, ports, disk, Docker."""
    from lakectl.ops.doctor import run_checks

    out = Output(output)
    report = run_checks(lake_context(ctx).loaded)
    out.emit(report.to_dict(),
             table=lambda d: simple_table(
                 [{**c, "ok": "pass" if c["ok"] else ("FAIL" if c["required"] else "warn")} for c in d["checks"]],
                 ["check", "ok", "detail"]))
    if not report.ok:  # printed first: the table says which
        raise CheckFailed(f"doctor: {len(report.failed)} required check(s) failed: "
                          + ", ".join(c.check for c in report.failed))


@app.command("open")
def open_(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="Service name, e.g. flink, trino, prometheus.")],
    browser: Annotated[bool, typer.Option("--browser", help="Also open it in a web browser (only when "
                                          "stdout is a terminal).")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print a service's URL (its web UI where it has one)."""
    from lakectl.ops import stack

    out = Output(output)
    found = stack.service_url(lake_context(ctx).runtime, service)
    opened = False
    if browser and found.web and sys.stdout.isatty():
        import webbrowser

        opened = webbrowser.open(found.url, new=2)
    elif browser and not found.web:
        out.info(f"{found.service} has no web UI; {found.url} is its address")
    out.emit({"service": found.service, "url": found.url, "web": found.web, "opened": opened},
             table=lambda d: d["url"])
