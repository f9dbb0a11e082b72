"""Airflow DAGs through the REST API v2: list, trigger (and wait for the outcome), runs."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, app_context, new_group
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("dag", "List and trigger Airflow DAGs, and follow their runs.")

RUN_COLUMNS = ["dag_run_id", "state", "run_type", "start_date", "end_date"]


@app.command("list")
def list_dags(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Every DAG Airflow parsed: paused or not, schedule, tags."""
    out = Output(output)
    dags = [{"dag_id": d["dag_id"], "is_paused": d.get("is_paused"), "schedule": d.get("timetable_summary"),
             "tags": [t["name"] for t in d.get("tags") or []], "next_run": d.get("next_dagrun_run_after")}
            for d in app_context(ctx).airflow().dags()]
    out.emit({"dags": dags}, table=lambda d: simple_table(d["dags"], ["dag_id", "is_paused", "schedule", "tags"]))


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
    dag_id: Annotated[str, typer.Argument(help="The DAG to run.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish; exit 0 on success, "
                                       "1 when it failed.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds --wait waits (exit 3 after).")]
    = 3600,
    conf: Annotated[str | None, typer.Option("--conf", help="Run configuration, a JSON object.")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Start a run of a DAG now (a paused DAG is unpaused first)."""
    from lakectl.errors import CheckFailed

    out = Output(output)
    run_conf = _parse_conf(conf)
    client = app_context(ctx).airflow()
    run = client.trigger(dag_id, run_conf)
    run_id = run["dag_run_id"]
    if wait:
        with out.spinner(f"{dag_id}: run {run_id}"):
            run = client.wait(dag_id, run_id, timeout)
    data = {k: run.get(k) for k in ("dag_id", "dag_run_id", "state", "logical_date", "start_date", "end_date")}
    if wait:
        data["tasks"] = [{"task_id": t["task_id"], "state": t.get("state"), "try_number": t.get("try_number"),
                          "duration_s": t.get("duration")} for t in client.task_instances(dag_id, run_id)]

    def table(d: dict) -> object:
        rows = [{"key": k, "value": d[k]} for k in ("dag_id", "dag_run_id", "state", "start_date", "end_date")]
        rows += [{"key": f"task {t['task_id']}", "value": f"{t['state']} (try {t['try_number']})"}
                 for t in d.get("tasks", [])]
        return simple_table(rows, ["key", "value"])

    out.emit(data, table=table)
    if wait and run.get("state") != "success":
        failed = [t["task_id"] for t in data["tasks"] if t["state"] not in ("success", "skipped")]
        raise CheckFailed(f"{dag_id}: run {run_id} {run.get('state')}"
                          + (f" (tasks not successful: {', '.join(failed)})" if failed else ""))


def _set_paused(ctx: typer.Context, dag_id: str, paused: bool, output: OutputFormat) -> None:
    out = Output(output)
    dag = app_context(ctx).airflow().set_paused(dag_id, paused)
    data = {"dag_id": dag_id, "is_paused": dag.get("is_paused", paused)}
    out.emit(data, table=lambda d: f"{dag_id}: {'paused' if d['is_paused'] else 'unpaused'}")


@app.command("pause")
def pause(ctx: typer.Context, dag_id: Annotated[str, typer.Argument(help="The DAG.")],
          output: OutputOpt = OutputFormat.table) -> None:
    """Pause a DAG: the scheduler starts no new run and leaves its running ones where they are."""
    _set_paused(ctx, dag_id, True, output)


@app.command("unpause")
def unpause(ctx: typer.Context, dag_id: Annotated[str, typer.Argument(help="The DAG.")],
            output: OutputOpt = OutputFormat.table) -> None:
    """Unpause a DAG (``dag trigger`` does this itself)."""
    _set_paused(ctx, dag_id, False, output)


@app.command("runs")
def runs(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="The DAG.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """A DAG's most recent runs, newest first."""
    out = Output(output)
    found = [{k: r.get(k) for k in RUN_COLUMNS} for r in app_context(ctx).airflow().runs(dag_id, limit)]
    out.emit({"dag_id": dag_id, "runs": found}, table=lambda d: simple_table(d["runs"], RUN_COLUMNS))
