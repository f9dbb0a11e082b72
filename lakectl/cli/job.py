"""Flink jobs through the JobManager's REST API: submit, list, status, cancel, savepoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, app_context, new_group
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("job", "Submit, list, inspect, savepoint and cancel Flink jobs.")


@app.command("submit", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def submit(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The job file (PyFlink .py). Job options go after --.")],
    name: Annotated[str | None, typer.Option("--name", help="Job name (default: from the path).")] = None,
    parallelism: Annotated[int | None, typer.Option("--parallelism", "-p", min=1)] = None,
    from_savepoint: Annotated[str | None, typer.Option("--from-savepoint", help="Start from this savepoint "
                                                        "(or retained checkpoint) path.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Stop a running job of the same name with a "
                                          "savepoint and start this one from it.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Submit a job and wait until it runs."""
    from lakectl.jobs import submit as submit_job

    out = Output(output)
    app_ctx = app_context(ctx)
    client = app_ctx.flink()
    with out.spinner(f"submitting {path}"):
        result = submit_job(app_ctx, client, path, name=name, parallelism=parallelism, savepoint=from_savepoint,
                            replace=replace, job_args=list(ctx.args))
    out.emit(result.to_dict(), table=lambda d: simple_table([d], ["job_id", "name", "state", "replaced"]))


@app.command("ensure", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ensure(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The job file. Job options go after --.")],
    name: Annotated[str | None, typer.Option("--name", help="Job name (default: from the path).")] = None,
    parallelism: Annotated[int | None, typer.Option("--parallelism", "-p", min=1)] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Make sure a job of this name runs: nothing to do when one does; otherwise submit it from the
    newest savepoint or retained checkpoint of that name (fresh when there is none)."""
    from lakectl.jobs import ensure as ensure_job

    out = Output(output)
    app_ctx = app_context(ctx)
    with out.spinner(f"ensuring {name or path}"):
        result = ensure_job(app_ctx, app_ctx.flink(), path, name=name, parallelism=parallelism,
                            job_args=list(ctx.args))
    out.emit(result, table=lambda d: simple_table([d], ["job_id", "name", "state", "action", "from_savepoint"]))


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    all_jobs: Annotated[bool, typer.Option("--all", "-a", help="Also finished, failed, cancelled jobs.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """List jobs (active ones unless --all)."""
    from lakectl.components.flink import TERMINAL_STATES

    out = Output(output)
    jobs = [j.to_dict() for j in app_context(ctx).flink().jobs() if all_jobs or j.state not in TERMINAL_STATES]
    out.emit({"jobs": jobs}, table=lambda d: simple_table(d["jobs"], ["job_id", "name", "state", "duration_s"]))


@app.command("status")
def status(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="Job id or name.")],
    output: OutputOpt = OutputFormat.table,
) -> None:
    """A job's state, its tasks and its checkpoints. Exit 1 if it failed."""
    from lakectl.errors import ExitCode
    from lakectl.jobs import status as job_status

    out = Output(output)
    data = job_status(app_context(ctx).flink(), job)

    def table(d: dict) -> object:
        cp = d["checkpoints"]
        rows = [{"key": k, "value": d[k]} for k in ("job_id", "name", "state", "duration_s")]
        rows += [{"key": f"checkpoints.{k}", "value": v} for k, v in cp.items()]
        rows += [{"key": f"task {v['name'][:60]}", "value": v["status"]} for v in d["vertices"]]
        if "root_exception" in d:
            rows.append({"key": "root exception", "value": d["root_exception"]})
        return simple_table(rows, ["key", "value"])

    out.emit(data, table=table)
    if data["state"] in ("FAILED", "FAILING"):
        raise typer.Exit(ExitCode.FAILED)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="Job id or name.")],
    savepoint: Annotated[bool, typer.Option("--savepoint", help="Stop with a savepoint (resume it with "
                                            "job submit --from-savepoint).")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Cancel a job, or stop it with a savepoint."""
    out = Output(output)
    client = app_context(ctx).flink()
    target = client.resolve(job)
    location = None
    with out.spinner(f"stopping {target.name}"):
        if savepoint:
            location = client.stop_with_savepoint(target.job_id, None)
        else:
            client.cancel(target.job_id)
        state = client.wait_for_state(target.job_id, {"CANCELED", "FINISHED"}, 60)
    out.emit({"job_id": target.job_id, "name": target.name, "state": state, "savepoint": location},
             table=lambda d: simple_table([d], ["job_id", "name", "state", "savepoint"]))


@app.command("savepoint")
def savepoint(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="Job id or name.")],
    target: Annotated[str | None, typer.Option("--target", help="Directory (default: the cluster's).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Take a savepoint of a running job; prints its location."""
    out = Output(output)
    client = app_context(ctx).flink()
    found = client.resolve(job)
    with out.spinner(f"savepoint of {found.name}"):
        location = client.savepoint(found.job_id, target)
    out.emit({"job_id": found.job_id, "name": found.name, "state": found.state, "savepoint": location},
             table=lambda d: simple_table([d], ["job_id", "name", "savepoint"]))
