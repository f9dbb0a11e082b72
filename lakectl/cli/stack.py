"""Stack lifecycle: up, down, status, logs, doctor."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, app_context
from lakectl.errors import ExitCode, UsageError
from lakectl.output import Output, OutputFormat, simple_table

STATUS_COLUMNS = ["name", "state", "healthy", "url", "pid", "rss_mb"]


def _status_table(data: dict):
    rows = [{**s, "healthy": {True: "yes", False: "NO", None: "-"}[s["healthy"]]} for s in data["services"]]
    return simple_table(rows, STATUS_COLUMNS, title=f"runtime: {data['runtime']}")


def register(app: typer.Typer) -> None:
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
        from lakectl.runtime.select import start

        out = Output(output)
        app_ctx = app_context(ctx)
        if runtime is not None and runtime not in ("auto", "native", "compose"):
            raise UsageError(f"--runtime must be auto, native or compose, not {runtime!r}")
        app_ctx.override(runtime=runtime, timeout=timeout)
        with out.spinner("starting the stack") as update:

            def progress(message: str) -> None:
                update(message)
                if not out.err.is_terminal:
                    out.info(message)

            kind, statuses = start(app_ctx.loaded, services, progress)
        data = {"runtime": kind, "services": [s.to_dict() for s in statuses]}
        out.emit(data, table=_status_table)

    @app.command()
    def down(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Services to stop (default: all).")] = None,
        purge: Annotated[bool, typer.Option("--purge", help="Also delete the services' data.")] = False,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Stop services (default: all). --purge also deletes their data (never the download cache)."""
        from lakectl.runtime.catalog import expand, unknown_service

        out = Output(output)
        rt = app_context(ctx).runtime
        services = expand(services) if services else None
        unknown = [s for s in services or [] if s not in rt.catalog]
        if unknown:
            raise unknown_service(unknown[0], rt.catalog)
        specs = [spec for name, spec in rt.catalog.items() if not services or name in services]
        rt.down(specs, purge, out.info)
        out.emit({"runtime": rt.kind, "stopped": [s.name for s in specs], "purged": purge},
                 table=lambda d: f"stopped ({d['runtime']})" + (", data purged" if purge else ""))

    @app.command()
    def status(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
        """Show every service: state, health, URL. Exit 3 if a started service is unhealthy."""
        out = Output(output)
        rt = app_context(ctx).runtime
        statuses = rt.status(list(rt.catalog.values()))
        data = {"runtime": rt.kind, "services": [s.to_dict() for s in statuses]}
        out.emit(data, table=_status_table)
        if any(s.state != "not-started" and s.healthy is False for s in statuses):
            raise typer.Exit(ExitCode.UNAVAILABLE)

    @app.command()
    def logs(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="Service name.")],
        tail: Annotated[int | None, typer.Option("--tail", "-n", help="Only the last N lines.")] = None,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Print a service's log."""
        import sys

        out = Output(output)
        rt = app_context(ctx).runtime
        if service not in rt.catalog:
            from lakectl.runtime.catalog import unknown_service

            raise unknown_service(service, rt.catalog)
        for line in rt.logs(rt.catalog[service], tail, follow):
            if out.is_json:
                out.json_line({"service": service, "line": line.rstrip("\n")})
            else:
                sys.stdout.write(line)
            if follow:
                sys.stdout.flush()

    @app.command()
    def doctor(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
        """Check this machine for what the stack needs: Java, Maven, PostgreSQL, ports, disk, Docker."""
        from lakectl.doctor import run_checks

        out = Output(output)
        checks = run_checks(app_context(ctx))
        ok = all(c["ok"] or not c["required"] for c in checks)
        out.emit({"ok": ok, "checks": checks},
                 table=lambda d: simple_table(
                     [{**c, "ok": "pass" if c["ok"] else ("FAIL" if c["required"] else "warn")} for c in d["checks"]],
                     ["check", "ok", "detail"]))
        if not ok:
            raise typer.Exit(ExitCode.FAILED)
