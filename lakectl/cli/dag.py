"""Airflow DAGs through the REST API v2: list, trigger (and wait for the outcome), runs."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, key_value_table, list_table

app = new_group("dag", "List and trigger Airflow DAGs, and follow their runs.")

DagArg = Annotated[str, typer.Argument(help="The DAG.")]


@app.command("list")
def list_dags(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Every DAG Airflow parsed: paused or not, schedule, tags."""
    from lakectl.ops import dags

    found = dags.list_dags(lake_context(ctx).airflow())
    Output(output).emit(found.to_dict(), table=list_table("dags", "dag_id", "is_paused", "schedule", "tags"))


def _parse_conf(text: str | None) -> dict:
    import json

    from lakectl.errors import UsageError

    if text is None:
        return {}
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise UsageError(f"--conf must be a JSON object, got {type(conf).__name__}")
    return conf


@app.command("trigger")
def trigger(
    ctx: typer.Context,
    dag_id: DagArg,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish; exit 0 on success, "
                                       "1 when it failed.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds --wait waits (exit 3 after).")]
    = 3600,
    conf: Annotated[str | None, typer.Option("--conf", help="Run configuration, a JSON object.")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Start a run of a DAG now (a paused DAG is unpaused first)."""
    from lakectl.ops import dags

    out = Output(output)
    run_conf = _parse_conf(conf)
    with out.spinner(f"{dag_id}: {'running' if wait else 'triggering'}"):
        result = dags.trigger(lake_context(ctx).airflow(), dag_id, run_conf, wait=wait, timeout=timeout)

    def table(d: dict) -> object:
        rows = [(k, d[k]) for k in ("dag_id", "dag_run_id", "state", "start_date", "end_date")]
        rows += [(f"task {t['task_id']}", f"{t['state']} (try {t['try_number']})") for t in d.get("tasks") or []]
        return key_value_table(rows)

    out.emit(result.to_dict(), table=table)
    result.raise_for_status()


def _set_paused(ctx: typer.Context, dag_id: str, paused: bool, output: OutputFormat) -> None:
    from lakectl.ops import dags

    data = dags.set_paused(lake_context(ctx).airflow(), dag_id, paused)
    Output(output).emit(data, table=lambda d: f"{dag_id}: {'paused' if d['is_paused'] else 'unpaused'}")


@app.command("pause")
def pause(ctx: typer.Context, dag_id: DagArg, output: OutputOpt = OutputFormat.table) -> None:
    """Pause a DAG: the scheduler starts no new run and leaves its running ones where they are."""
    _set_paused(ctx, dag_id, True, output)


@app.command("unpause")
def unpause(ctx: typer.Context, dag_id: DagArg, output: OutputOpt = OutputFormat.table) -> None:
    """Unpause a DAG (``dag trigger`` does this itself)."""
    _set_paused(ctx, dag_id, False, output)


@app.command("runs")
def runs(
    ctx: typer.Context,
    dag_id: DagArg,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """A DAG's most recent runs, newest first."""
    from lakectl.ops import dags

    found = dags.runs(lake_context(ctx).airflow(), dag_id, limit)
    Output(output).emit(found, table=list_table("runs", *dags.RUN_COLUMNS))
