"""``lakectl dbt``: Silver and Gold with dbt on Trino (the repo's dbt_project/)."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("dbt", "Build Silver and Gold with dbt on Trino: run, test, build, seed, docs, freshness. "
                "dbt's own flags go after --.")

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
SelectOpt = Annotated[list[str] | None, typer.Option(
    "--select", "-s", metavar="SELECTOR", help="dbt node selection (repeatable).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option(
    "--exclude", metavar="SELECTOR", help="Nodes to leave out (repeatable).")]
VarsOpt = Annotated[str | None, typer.Option(
    "--vars", metavar="YAML", help="dbt vars, YAML: '{bronze_table: trades}'.")]
FullRefreshOpt = Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")]


def _dbt(ctx: typer.Context, command: str, output: OutputFormat, **options) -> None:
    from lakectl.components.dbt import dbt_args
    from lakectl.ops import dbt as dbt_ops

    out = Output(output)
    args = dbt_args(command, extra=list(ctx.args), **options)
    result = dbt_ops.run(lake_context(ctx).dbt_target(), command, args, quiet=out.is_json)
    if result.nodes or result.exit_code == 0:
        out.emit(result.to_dict(), table=lambda d: simple_table(
            d["nodes"], ["unique_id", "resource_type", "status", "execution_time", "message"],
            title=f"dbt {command}: " + ", ".join(f"{n} {s}" for s, n in sorted(d["counts"].items()))))
    if command == "docs" and result.exit_code == 0:
        out.info(f"docs: {result.target_dir}/index.html")
    result.raise_for_status()


@app.command("run", context_settings=EXTRA)
def run(ctx: typer.Context, select: SelectOpt = None, exclude: ExcludeOpt = None, full_refresh: FullRefreshOpt = False,
        dbt_vars: VarsOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Build the models (Silver, then Gold)."""
    _dbt(ctx, "run", output, select=select, exclude=exclude, full_refresh=full_refresh, dbt_vars=dbt_vars)


@app.command("test", context_settings=EXTRA)
def test(ctx: typer.Context, select: SelectOpt = None, exclude: ExcludeOpt = None, dbt_vars: VarsOpt = None,
         output: OutputOpt = OutputFormat.table) -> None:
    """Run the data tests. Exit 1 when one fails."""
    _dbt(ctx, "test", output, select=select, exclude=exclude, dbt_vars=dbt_vars)


@app.command("build", context_settings=EXTRA)
def build(ctx: typer.Context, select: SelectOpt = None, exclude: ExcludeOpt = None,
          full_refresh: FullRefreshOpt = False, dbt_vars: VarsOpt = None,
          output: OutputOpt = OutputFormat.table) -> None:
    """Seeds, models and tests in dependency order; a failing test stops what depends on it."""
    _dbt(ctx, "build", output, select=select, exclude=exclude, full_refresh=full_refresh, dbt_vars=dbt_vars)


@app.command("seed", context_settings=EXTRA)
def seed(ctx: typer.Context, select: SelectOpt = None, full_refresh: FullRefreshOpt = False,
         dbt_vars: VarsOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Load the CSV seeds (reference data) into Iceberg."""
    _dbt(ctx, "seed", output, select=select, full_refresh=full_refresh, dbt_vars=dbt_vars)


@app.command("freshness", context_settings=EXTRA)
def freshness(ctx: typer.Context, select: SelectOpt = None, dbt_vars: VarsOpt = None,
              output: OutputOpt = OutputFormat.table) -> None:
    """Is Bronze fresh? (ingested_at: warn after 10 minutes, error after an hour.)"""
    _dbt(ctx, "freshness", output, select=select, dbt_vars=dbt_vars)


@app.command("docs", context_settings=EXTRA)
def docs(ctx: typer.Context, dbt_vars: VarsOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Generate the documentation site (index.html and catalog.json in the state dir's dbt/target)."""
    _dbt(ctx, "docs", output, dbt_vars=dbt_vars)
