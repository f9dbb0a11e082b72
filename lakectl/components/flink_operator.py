"""The Apache Flink Kubernetes Operator's resources, as lakectl's job commands see them.

On a ``flink.backend = "kubernetes"`` profile a job is a ``FlinkDeployment`` (application mode: one Flink
cluster per job, run by the operator) and a savepoint is a ``FlinkStateSnapshot``. This client reads and
writes those resources through any Kubernetes API client with ``get``/``list``/``apply``/``patch``/``delete``
(lakectl.components.kubernetes); it never talks to a JobManager: the operator does.

Status fields read (operator 1.10+): ``status.lifecycleState`` (CREATED, DEPLOYED, STABLE, SUSPENDED, FAILED,
UPGRADING, ROLLING_BACK, ROLLED_BACK), ``status.jobStatus.{state,jobId,startTime}``, ``status.error``;
snapshots: ``status.{state,path,error}`` with state TRIGGER_PENDING, IN_PROGRESS, COMPLETED, FAILED, ABANDONED.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from lakectl.errors import ComponentError, UsageError
from lakectl.polling import Observation, poll_until

API_VERSION = "flink.apache.org/v1beta1"
DEPLOYMENT = "FlinkDeployment"
SNAPSHOT = "FlinkStateSnapshot"
# the lakectl job name a FlinkDeployment runs (its resource name is render.common.k8s_name of it: bronze-trades)
JOB_LABEL = "lakectl.io/job"
SNAPSHOT_DONE = {"COMPLETED"}
SNAPSHOT_FAILED = {"FAILED", "ABANDONED"}


class KubeApi(Protocol):
    """What this client needs of a Kubernetes API client (lakectl.components.kubernetes.KubernetesClient)."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None: ...

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict]: ...

    def apply(self, objects: list[dict], *, namespace: str | None = None, dry_run: bool = False) -> list[dict]: ...

    def patch(self, api_version: str, kind: str, name: str, patch: dict, namespace: str | None = None) -> dict: ...

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool: ...


@dataclass(frozen=True)
class OperatorJob:
    """One FlinkDeployment as lakectl's job commands report it."""

    name: str  # the lakectl job name (label), else the resource name
    resource: str
    job_id: str
    state: str  # the job's state as Flink reports it through the operator, else the lifecycle state
    lifecycle: str
    desired: str  # spec.job.state: running | suspended
    start_time: int
    error: str | None
    savepoint: str | None  # the last savepoint the operator recorded

    @classmethod
    def of(cls, obj: dict[str, Any]) -> OperatorJob:
        meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
        job_status = status.get("jobStatus") or {}
        lifecycle = status.get("lifecycleState") or "PENDING"  # no status yet: the operator has not seen it
        info = job_status.get("savepointInfo") or {}
        last = (info.get("lastSavepoint") or {}).get("location")
        start = job_status.get("startTime")
        return cls(
            name=(meta.get("labels") or {}).get(JOB_LABEL) or meta.get("name", ""),
            resource=meta.get("name", ""),
            job_id=job_status.get("jobId") or "",
            state=job_status.get("state") or lifecycle,
            lifecycle=lifecycle,
            desired=(spec.get("job") or {}).get("state", "running"),
            start_time=int(start) if str(start or "").isdigit() else 0,
            error=_error_text(status.get("error")),
            savepoint=last,
        )

    def to_dict(self) -> dict[str, Any]:
        duration = round(time.time() - self.start_time / 1000, 1) if self.start_time else 0.0
        return {"job_id": self.job_id, "name": self.name, "state": self.state, "start_time": self.start_time,
                "duration_s": duration, "resource": f"{DEPLOYMENT}/{self.resource}", "lifecycle": self.lifecycle,
                "desired_state": self.desired, "error": self.error, "last_savepoint": self.savepoint}


def _error_text(error: Any) -> str | None:
    """The operator stores errors as a JSON string ({"type": ..., "message": ...}) or plain text."""
    if not error:
        return None
    if isinstance(error, str):
        try:
            parsed = json.loads(error)
        except ValueError:
            return error.strip().splitlines()[0]
        error = parsed
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error).strip().splitlines()[0]
    return str(error)


class FlinkOperator:
    """Jobs as FlinkDeployments and savepoints as FlinkStateSnapshots in one namespace."""

    service = "flink operator"

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    # -- jobs ----------------------------------------------------------------------------------
    def jobs(self) -> list[OperatorJob]:
        return [OperatorJob.of(o) for o in self.api.list(API_VERSION, DEPLOYMENT, self.namespace)]

    def find(self, name_or_resource: str) -> OperatorJob | None:
        for job in self.jobs():
            if name_or_resource in (job.name, job.resource, job.job_id):
                return job
        return None

    def resolve(self, name_or_resource: str) -> OperatorJob:
        job = self.find(name_or_resource)
        if job is None:
            known = ", ".join(sorted(j.name for j in self.jobs())) or "none"
            raise UsageError(f"no FlinkDeployment for job {name_or_resource!r} in namespace {self.namespace} "
                             f"(jobs: {known})")
        return job

    def apply(self, objects: list[dict[str, Any]]) -> OperatorJob:
        """Create or update a FlinkDeployment (server-side apply, with what its pods need: ``objects`` ends with
        the FlinkDeployment). With ``upgradeMode: savepoint`` the operator upgrades a running job by stopping it
        with a savepoint and starting the new spec from it."""
        applied = self.api.apply(objects, namespace=self.namespace)
        return OperatorJob.of(applied[-1] if applied else objects[-1])

    def set_desired_state(self, job: OperatorJob, state: str) -> OperatorJob:
        """spec.job.state: "suspended" stops the job (with a savepoint under upgradeMode savepoint);
        "running" starts it again from the last one."""
        patched = self.api.patch(API_VERSION, DEPLOYMENT, job.resource, {"spec": {"job": {"state": state}}},
                                 self.namespace)
        return OperatorJob.of(patched)

    def delete(self, job: OperatorJob) -> None:
        """Cancel without a savepoint: the operator tears the job's cluster down with the resource."""
        self.api.delete(API_VERSION, DEPLOYMENT, job.resource, self.namespace)

    def wait_for(self, name: str, states: set[str], timeout: float, *, what: str) -> OperatorJob:
        """Poll until the job's state (or lifecycle state) is one of ``states``; a FAILED lifecycle or a
        recorded error ends the wait with that error."""

        def check() -> Observation[OperatorJob]:
            job = self.find(name)
            if job is None:
                return Observation(False, detail="no FlinkDeployment yet")
            if job.state in states or job.lifecycle in states:
                return Observation(True, job)
            if job.lifecycle == "FAILED" or job.state == "FAILED":
                raise ComponentError(f"flink operator: job {job.name} failed: {job.error or 'no error recorded'}")
            detail = f"state {job.state}, lifecycle {job.lifecycle}" + (f", error: {job.error}" if job.error else "")
            return Observation(False, detail=detail)

        hint = (f"is the Flink operator installed and watching namespace {self.namespace}? "
                f"kubectl -n {self.namespace} describe flinkdeployment -l {JOB_LABEL}={name}")
        found = poll_until(check, timeout=timeout, what=what, interval=1.0, hint=hint)
        assert found is not None
        return found

    # -- savepoints ----------------------------------------------------------------------------
    def request_savepoint(self, job: OperatorJob, target: str | None) -> str:
        """A FlinkStateSnapshot of the job (the operator triggers it); returns the snapshot's name."""
        name = f"{job.resource}-savepoint-{int(time.time() * 1000)}"
        savepoint: dict[str, Any] = {"alreadyExists": False, "disposeOnDelete": False, "formatType": "CANONICAL"}
        if target:
            savepoint["path"] = target
        snapshot = {
            "apiVersion": API_VERSION,
            "kind": SNAPSHOT,
            "metadata": {"name": name, "namespace": self.namespace,
                         "labels": {JOB_LABEL: job.name, "app.kubernetes.io/managed-by": "lakectl"}},
            "spec": {"backoffLimit": 1, "jobReference": {"kind": DEPLOYMENT, "name": job.resource},
                     "savepoint": savepoint},
        }
        self.api.apply([snapshot], namespace=self.namespace)
        return name

    def wait_for_snapshot(self, name: str, timeout: float) -> str:
        """The savepoint's path once the operator reports the snapshot COMPLETED."""

        def check() -> Observation[str]:
            obj = self.api.get(API_VERSION, SNAPSHOT, name, self.namespace)
            status = (obj or {}).get("status") or {}
            state = status.get("state") or "not picked up by the operator yet"
            if state in SNAPSHOT_DONE:
                return Observation(True, status.get("path") or "")
            if state in SNAPSHOT_FAILED:
                raise ComponentError(f"flink operator: savepoint {name} {state.lower()}: "
                                     f"{_error_text(status.get('error')) or 'no error recorded'}")
            return Observation(False, detail=f"{SNAPSHOT} {name}: {state}")

        path = poll_until(check, timeout=timeout, what=f"savepoint {name}", interval=1.0,
                          hint=f"kubectl -n {self.namespace} describe flinkstatesnapshot {name}")
        return path or ""
