"""Flink jobs on Kubernetes (``flink.backend = "kubernetes"``): the same use cases as lakectl.ops.jobs, driven
through the Flink operator's resources instead of a JobManager's REST API.

- ``submit``: a FlinkDeployment for the job file (application mode, ``upgradeMode: savepoint``), rendered by the
  same function as ``lakectl deploy render``; ``--replace`` updates the running one, and the operator upgrades
  it through a savepoint. The job file must be in the job image: a path under the checkout's ``flink_jobs/``.
- ``ensure``: nothing when it runs; ``running`` again when suspended (the operator restores the last savepoint);
  created when absent. With Kubernetes HA the operator itself restarts a job from its newest checkpoint.
- ``cancel --savepoint``: ``spec.job.state: suspended`` (the operator stops the job with a savepoint);
  plain ``cancel`` deletes the FlinkDeployment.
- ``savepoint``: a FlinkStateSnapshot, waited for until the operator reports its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakectl.components.flink_operator import FlinkOperator, OperatorJob
from lakectl.errors import CheckFailed, ComponentError, UsageError
from lakectl.ops.jobs import EnsureResult, StopResult, SubmitResult, _check_job_file, _check_python, default_name
from lakectl.settings import LoadedSettings

WAIT_FOR_RUNNING_S = 300  # a new FlinkDeployment schedules two pods and pulls the job image
WAIT_FOR_STOP_S = 120
WAIT_FOR_SAVEPOINT_S = 300
STOPPED = {"SUSPENDED", "CANCELED", "FINISHED"}


@dataclass
class KubernetesJobs:
    operator: FlinkOperator
    loaded: LoadedSettings

    @property
    def parallelism(self) -> int:
        return self.loaded.settings.flink.parallelism

    def deployment(self, path: Path, *, name: str, parallelism: int, job_args: list[str],
                   savepoint: str | None) -> list[dict[str, Any]]:
        """The FlinkDeployment for ``path`` and what every job's pods need in the namespace (their service
        account and the job context template), as ``lakectl deploy render`` makes them."""
        from lakectl.runtime.kubernetes.render import flink

        obj = flink.flink_deployment(self.loaded, name=name, job_py=image_path(self.loaded, path), job_args=job_args,
                                     parallelism=parallelism,
                                     checkpoint_interval_s=self.loaded.settings.flink.checkpoint_interval_s,
                                     initial_savepoint=savepoint)
        return [*flink.rbac(self.loaded), flink.context_config_map(self.loaded), obj]


def image_path(loaded: LoadedSettings, path: Path) -> str:
    """Where the job image holds a job file of the checkout: only files under flink_jobs/ are in it."""
    from lakectl.runtime.kubernetes.render.flink import JOBS_DIR

    jobs_root = (loaded.project_root / "flink_jobs").resolve()
    try:
        relative = path.resolve().relative_to(jobs_root)
    except ValueError:
        raise UsageError(f"{path}: on Kubernetes a job runs from the flink-job image, which holds {jobs_root} only",
                         hint="put the job under flink_jobs/ and rebuild the image: lakectl image build flink-job"
                         ) from None
    return f"{JOBS_DIR}/{relative.as_posix()}"


def _check(path: Path) -> None:
    """The REST backend's checks (the file exists, its syntax), and only PyFlink files."""
    _check_job_file(path)
    if path.suffix != ".py":
        raise UsageError(f"{path}: on Kubernetes a job is a PyFlink file (.py) in the job image; SQL scripts run "
                         "through the SQL Gateway of the local stack only")
    _check_python(path)


def submit(jobs: KubernetesJobs, path: Path, *, name: str | None, parallelism: int | None, savepoint: str | None,
           replace: bool, job_args: list[str], wait: bool = True) -> SubmitResult:
    _check(path)
    name = name or default_name(path)
    existing = jobs.operator.find(name)
    if existing and existing.desired == "running" and not replace:
        raise UsageError(f"a job named {name!r} is already deployed (FlinkDeployment {existing.resource}, "
                         f"{existing.state.lower()})", hint="lakectl job submit --replace, or lakectl job cancel first")
    obj = jobs.deployment(path, name=name, parallelism=parallelism or jobs.parallelism, job_args=job_args,
                          savepoint=savepoint)
    applied = jobs.operator.apply(obj)
    state = applied.state
    if wait:
        state = jobs.operator.wait_for(name, {"RUNNING"}, WAIT_FOR_RUNNING_S, what=f"job {name} running").state
    return SubmitResult(applied.job_id, name, state, replaced=existing.resource if existing else None,
                        savepoint=savepoint)


def ensure(jobs: KubernetesJobs, path: Path, *, name: str | None, parallelism: int | None, job_args: list[str],
           wait: bool = True) -> EnsureResult:
    _check(path)
    name = name or default_name(path)
    existing = jobs.operator.find(name)
    if existing and existing.desired == "running":
        return EnsureResult("none", existing.job_id, name, existing.state)
    if existing:
        job = jobs.operator.set_desired_state(existing, "running")
        action, savepoint = "restored from savepoint", existing.savepoint
    else:
        job = jobs.operator.apply(jobs.deployment(path, name=name, parallelism=parallelism or jobs.parallelism,
                                                  job_args=job_args, savepoint=None))
        action, savepoint = "submitted", None
    state = job.state
    if wait:
        job = jobs.operator.wait_for(name, {"RUNNING"}, WAIT_FOR_RUNNING_S, what=f"job {name} running")
        state = job.state
    return EnsureResult(action, job.job_id, name, state, from_savepoint=savepoint)


def list_jobs(operator: FlinkOperator, *, include_finished: bool) -> list[OperatorJob]:
    return [j for j in operator.jobs() if include_finished or j.desired == "running"]


def status(operator: FlinkOperator, name: str) -> OperatorJob:
    return operator.resolve(name)


def check_status(job: OperatorJob) -> None:
    if job.state == "FAILED" or job.lifecycle == "FAILED":
        raise CheckFailed(f"flink operator: job {job.name} ({job.resource}) is FAILED"
                          + (f": {job.error}" if job.error else ""))


def stop(operator: FlinkOperator, name: str, *, savepoint: bool, wait: bool = True) -> StopResult:
    job = operator.resolve(name)
    if not savepoint:
        operator.delete(job)
        return StopResult(job.job_id, job.name, "CANCELED")
    suspended = operator.set_desired_state(job, "suspended")
    if not wait:
        return StopResult(job.job_id, job.name, suspended.state, None)
    done = operator.wait_for(job.name, STOPPED, WAIT_FOR_STOP_S, what=f"job {job.name} suspended")
    return StopResult(job.job_id, job.name, done.state, done.savepoint)


def take_savepoint(operator: FlinkOperator, name: str, target: str | None, *, wait: bool = True) -> StopResult:
    job = operator.resolve(name)
    if job.desired != "running":
        raise ComponentError(f"flink operator: job {job.name} is {job.desired}: a savepoint needs a running job")
    snapshot = operator.request_savepoint(job, target)
    path = operator.wait_for_snapshot(snapshot, WAIT_FOR_SAVEPOINT_S) if wait else None
    return StopResult(job.job_id, job.name, job.state, path or None)

