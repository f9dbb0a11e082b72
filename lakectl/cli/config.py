"""Settings: what lakectl will use, and (with --sources) where each value came from."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, list_table

app = new_group("config", "Show the effective settings.")


@app.command("show")
def show(
    ctx: typer.Context,
    sources: Annotated[bool, typer.Option("--sources", help="Say where each value came from.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print the effective settings of the active profile (secrets masked)."""
    from lakectl.settings import report

    data = report(lake_context(ctx).loaded, sources=sources)
    columns = ("key", "value", "source") if sources else ("key", "value")
    title = f"profile {data['profile']} ({data['config_file'] or 'no lakectl.toml'})"
    Output(output).emit(data, table=list_table("settings", *columns, title=title))
