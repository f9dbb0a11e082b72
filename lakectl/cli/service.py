"""One service in the foreground (what a compose container runs), its probe, and fetching ahead of time."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.errors import CheckFailed
from lakectl.output import Output, OutputFormat

app = new_group("service", "Run one service in the foreground, probe it, or fetch its artifacts ahead of time.")

ServiceArg = Annotated[str, typer.Argument(help="The service (lakectl status lists them).")]


@app.command()
def run(ctx: typer.Context, service: ServiceArg) -> None:
    """Prepare SERVICE and replace this process with it (each compose container runs this)."""
    from lakectl.ops import service as ops

    ops.run(lake_context(ctx).loaded, service)


@app.command()
def probe(
    ctx: typer.Context,
    service: ServiceArg,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds the probe may take.")] = 5.0,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Exit 0 when SERVICE answers its readiness probe (each compose container's healthcheck)."""
    from lakectl.ops import service as ops

    result = ops.probe(lake_context(ctx).loaded, service, timeout)
    Output(output).emit({"service": service, "ready": result.ok, "detail": result.detail},
                        table=lambda d: f"{d['service']}: {'ready' if d['ready'] else 'not ready'} {d['detail']}")
    if not result.ok:
        raise CheckFailed(f"{service} is not ready: {result.detail}")


@app.command()
def fetch(
    ctx: typer.Context,
    services: Annotated[list[str], typer.Argument(help="Services (or groups such as flink).")],
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Download and build what SERVICES need into the cache (the image build runs this)."""
    from lakectl.artifacts import reporting
    from lakectl.cli.progress import StackProgress
    from lakectl.ops import service as ops

    out = Output(output)
    with StackProgress(out, "fetching") as progress, reporting(progress):
        fetched = ops.fetch(lake_context(ctx).loaded, services, progress)
    out.emit({"fetched": fetched}, table=lambda d: "fetched: " + ", ".join(d["fetched"]))
