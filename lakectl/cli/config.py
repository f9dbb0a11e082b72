"""Settings: what lakectl will use, and (with --sources) where each value came from."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, app_context, new_group
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("config", "Show the effective settings.")


@app.command("show")
def show(
    ctx: typer.Context,
    sources: Annotated[bool, typer.Option("--sources", help="Say where each value came from.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print the effective settings of the active profile (secrets masked)."""
    from lakectl.settings import describe

    loaded = app_context(ctx).loaded
    rows = describe(loaded)
    if not sources:
        rows = [{k: v for k, v in row.items() if k != "source"} for row in rows]
    data = {"profile": loaded.profile, "config_file": str(loaded.config_file) if loaded.config_file else None,
            "settings": rows}
    columns = ["key", "value", "source"] if sources else ["key", "value"]
    Output(output).emit(data, table=lambda d: simple_table(
        d["settings"], columns, title=f"profile {d['profile']} ({d['config_file'] or 'no lakectl.toml'})"))
