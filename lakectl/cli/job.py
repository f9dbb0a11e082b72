"""Flink jobs: submit, ensure, list, status, cancel, savepoint. Through a JobManager's REST API, or on a profile
with flink.backend = "kubernetes" through the Flink operator's resources (lakectl.ops.jobs_kubernetes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, key_value_table, list_table, row_table

app = new_group("job", "Submit, list, inspect, savepoint and cancel Flink jobs.")

# job options after --: passed to the job unchanged
WITH_JOB_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
JobFileArg = Annotated[Path, typer.Argument(help="The job file (PyFlink .py or Flink SQL .sql). Job options go "
                                            "after --.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Job name (default: from the path).")]
ParallelismOpt = Annotated[int | None, typer.Option("--parallelism", "-p", min=1)]
JobArg = Annotated[str, typer.Argument(help="Job id or name.")]
StopWithSavepointOpt = Annotated[bool, typer.Option("--savepoint", help="Stop with a savepoint (resume it with "
                                                    "job submit --from-savepoint).")]
WaitOpt = Annotated[bool, typer.Option("--wait/--no-wait", help="Kubernetes backend: wait until the operator "
                                       "reports the result (--no-wait: return once the resource is applied).")]


def _on_kubernetes(ctx: typer.Context) -> bool:
    """A profile with flink.backend = "kubernetes" drives the Flink operator's resources, not a JobManager."""
    return lake_context(ctx).settings.flink.backend == "kubernetes"


@app.command("submit", context_settings=WITH_JOB_ARGS)
def submit(
    ctx: typer.Context,
    path: JobFileArg,
    name: NameOpt = None,
    parallelism: ParallelismOpt = None,
    from_savepoint: Annotated[str | None, typer.Option("--from-savepoint", help="Start from this savepoint "
                                                        "(or retained checkpoint) path.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Stop a running job of the same name with a "
                                          "savepoint and start this one from it.")] = False,
    wait: WaitOpt = True,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Submit a job and wait until it runs."""
    out = Output(output)
    with out.spinner(f"submitting {path}"):
        if _on_kubernetes(ctx):
            from lakectl.ops import jobs_kubernetes

            result = jobs_kubernetes.submit(lake_context(ctx).kubernetes_jobs(), path, name=name,
                                            parallelism=parallelism, savepoint=from_savepoint, replace=replace,
                                            job_args=list(ctx.args), wait=wait)
        else:
            from lakectl.ops import jobs

            result = jobs.submit(lake_context(ctx).job_cluster(), path, name=name, parallelism=parallelism,
                                 savepoint=from_savepoint, replace=replace, job_args=list(ctx.args))
    out.emit(result.to_dict(), table=row_table("job_id", "name", "state", "replaced"))


@app.command("ensure", context_settings=WITH_JOB_ARGS)
def ensure(ctx: typer.Context, path: JobFileArg, name: NameOpt = None, parallelism: ParallelismOpt = None,
           wait: WaitOpt = True, output: OutputOpt = OutputFormat.table) -> None:
    """Make sure a job of this name runs: nothing to do when one does; otherwise submit it from the
    newest savepoint or retained checkpoint of that name (fresh when there is none)."""
    out = Output(output)
    with out.spinner(f"ensuring {name or path}"):
        if _on_kubernetes(ctx):
            from lakectl.ops import jobs_kubernetes

            result = jobs_kubernetes.ensure(lake_context(ctx).kubernetes_jobs(), path, name=name,
                                            parallelism=parallelism, job_args=list(ctx.args), wait=wait)
        else:
            from lakectl.ops import jobs

            result = jobs.ensure(lake_context(ctx).job_cluster(), path, name=name, parallelism=parallelism,
                                 job_args=list(ctx.args))
    out.emit(result.to_dict(), table=row_table("job_id", "name", "state", "action", "from_savepoint"))


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    all_jobs: Annotated[bool, typer.Option("--all", "-a", help="Also finished, failed, cancelled jobs.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """List jobs (active ones unless --all)."""
    if _on_kubernetes(ctx):
        from lakectl.ops import jobs_kubernetes

        found = jobs_kubernetes.list_jobs(lake_context(ctx).flink_operator(), include_finished=all_jobs)
    else:
        from lakectl.ops import jobs

        found = jobs.list_jobs(lake_context(ctx).flink(), include_finished=all_jobs)
    Output(output).emit({"jobs": [j.to_dict() for j in found]},
                        table=list_table("jobs", "job_id", "name", "state", "duration_s"))


@app.command("status")
def status(ctx: typer.Context, job: JobArg, output: OutputOpt = OutputFormat.table) -> None:
    """A job's state, its tasks and its checkpoints. Exit 1 if it failed."""
    if _on_kubernetes(ctx):
        from lakectl.ops import jobs_kubernetes

        found = jobs_kubernetes.status(lake_context(ctx).flink_operator(), job)
        Output(output).emit(found.to_dict(), table=lambda d: key_value_table(list(d.items())))
        jobs_kubernetes.check_status(found)
        return
    from lakectl.ops import jobs

    result = jobs.status(lake_context(ctx).flink(), job)

    def table(d: dict) -> object:
        rows = [(k, d[k]) for k in ("job_id", "name", "state", "duration_s")]
        rows += [(f"checkpoints.{k}", v) for k, v in d["checkpoints"].items()]
        rows += [(f"task {v['name'][:60]}", v["status"]) for v in d["vertices"]]
        if "root_exception" in d:
            rows.append(("root exception", d["root_exception"]))
        return key_value_table(rows)

    Output(output).emit(result.to_dict(), table=table)
    jobs.check_status(result)


@app.command("cancel")
def cancel(ctx: typer.Context, job: JobArg, savepoint: StopWithSavepointOpt = False, wait: WaitOpt = True,
           output: OutputOpt = OutputFormat.table) -> None:
    """Cancel a job, or stop it with a savepoint. Exit 3 if it has not stopped within a minute."""
    out = Output(output)
    with out.spinner(f"stopping {job}"):
        if _on_kubernetes(ctx):
            from lakectl.ops import jobs_kubernetes

            result = jobs_kubernetes.stop(lake_context(ctx).flink_operator(), job, savepoint=savepoint, wait=wait)
        else:
            from lakectl.ops import jobs

            result = jobs.stop(lake_context(ctx).flink(), job, savepoint=savepoint)
    out.emit(result.to_dict(), table=row_table("job_id", "name", "state", "savepoint"))


@app.command("savepoint")
def savepoint(
    ctx: typer.Context,
    job: JobArg,
    target: Annotated[str | None, typer.Option("--target", help="Directory (default: the cluster's).")] = None,
    wait: WaitOpt = True,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Take a savepoint of a running job; prints its location."""
    out = Output(output)
    with out.spinner(f"savepoint of {job}"):
        if _on_kubernetes(ctx):
            from lakectl.ops import jobs_kubernetes

            result = jobs_kubernetes.take_savepoint(lake_context(ctx).flink_operator(), job, target, wait=wait)
        else:
            from lakectl.ops import jobs

            result = jobs.take_savepoint(lake_context(ctx).flink(), job, target)
    out.emit(result.to_dict(), table=row_table("job_id", "name", "savepoint"))
