"""Flink 1.20's JobManager REST API (v1): jars, jobs, checkpoints, savepoints.

Works against the local session cluster and against a remote one (HTTPS, bearer token) alike.
Pass an ``httpx.Client`` in for tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import BaseModel, Field

from lakectl.components.http import HttpError, RestService, base_url, bearer, segment
from lakectl.errors import ComponentError
from lakectl.polling import Observation, poll_until

PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
TERMINAL_STATES = {"FINISHED", "FAILED", "CANCELED"}
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobSummary(BaseModel):
    job_id: str = Field(alias="jid")
    name: str
    state: str
    start_time: int = Field(0, alias="start-time")
    duration_ms: int = Field(0, alias="duration")

    model_config = {"populate_by_name": True}

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "name": self.name, "state": self.state,
                "start_time": self.start_time, "duration_s": round(self.duration_ms / 1000, 1)}


class FlinkError(HttpError):
    pass


def root_cause(text: str) -> str:
    """The line a person needs out of a Java stack trace (or a Python one inside it)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    python = [ln for ln in lines if re.match(r"^(\w+\.)*\w*(Error|Exception): ", ln) and "java." not in ln
              and "org.apache" not in ln]
    if python:
        return python[-1]
    caused = [ln for ln in lines if ln.startswith("Caused by:")]
    if caused:
        return caused[-1].removeprefix("Caused by:").strip()
    return lines[0] if lines else "(no message)"


class FlinkRest(RestService):
    """What Flink's REST endpoints share (the JobManager's and the SQL Gateway's): a bearer token,
    and errors as ``{"errors": [...]}`` holding Java stack traces."""

    @classmethod
    def connect(cls, url: str, *, token: str | None = None, verify: bool = True, timeout: float = 10.0) -> Self:
        headers = bearer(token, "the flink token") if token else {}
        client = httpx.Client(base_url=base_url(url, cls.service), headers=headers, verify=verify, timeout=timeout,
                              transport=httpx.HTTPTransport(retries=2, verify=verify))  # connect errors only
        return cls(client)

    def error_message(self, response: httpx.Response, body: Any) -> str:
        if isinstance(body, dict) and body.get("errors"):
            return root_cause("\n".join(str(e) for e in body["errors"]))
        return super().error_message(response, body)


class FlinkClient(FlinkRest):
    service = "flink"
    up_hint = "lakectl up flink"
    error_type = FlinkError

    # -- cluster ---------------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return self._request("GET", "/overview")

    # -- jars ------------------------------------------------------------------------------
    def jars(self) -> list[dict[str, Any]]:
        return self._request("GET", "/jars").get("files", [])

    def upload_jar(self, path: Path) -> str:
        """Upload once: a jar of the same name already on the cluster is reused. Returns its id."""
        for jar in self.jars():
            if jar.get("name") == path.name:
                return jar["id"]
        with path.open("rb") as handle:
            data = self._request("POST", "/jars/upload",
                                 files={"jarfile": (path.name, handle, "application/x-java-archive")},
                                 timeout=120)
        return Path(data["filename"]).name

    def run_jar(self, jar_id: str, *, entry_class: str, args: list[str], parallelism: int | None = None,
                savepoint: str | None = None, allow_non_restored: bool = False) -> str:
        body: dict[str, Any] = {"entryClass": entry_class, "programArgsList": args}
        if parallelism:
            body["parallelism"] = parallelism
        if savepoint:
            body["savepointPath"] = savepoint
            body["allowNonRestoredState"] = allow_non_restored
        # the JobManager runs the program's main (for PyFlink: a Python process) before answering
        return self._request("POST", f"/jars/{segment(jar_id)}/run", json=body, timeout=300)["jobid"]

    # -- jobs ------------------------------------------------------------------------------
    def jobs(self) -> list[JobSummary]:
        data = self._request("GET", "/jobs/overview")
        jobs = [JobSummary.model_validate(j) for j in data.get("jobs", [])]
        return sorted(jobs, key=lambda j: j.start_time, reverse=True)

    def job(self, job_id: str) -> dict[str, Any]:
        try:
            return self._request("GET", f"/jobs/{segment(job_id)}")
        except FlinkError as exc:
            if exc.status == 404:
                raise ComponentError(f"flink: no job {job_id}") from None
            raise

    def resolve(self, id_or_name: str, *, active_only: bool = True) -> JobSummary:
        """A job by id, or by name (the newest active job of that name)."""
        jobs = self.jobs()
        for job in jobs:
            if job.job_id == id_or_name:
                return job
        named = [j for j in jobs if j.name == id_or_name and (not active_only or j.state not in TERMINAL_STATES)]
        if named:
            return named[0]
        what = "job id" if JOB_ID.match(id_or_name) else "running job named"
        raise ComponentError(f"flink: no {what} {id_or_name!r} (see `lakectl job list`)")

    def job_metrics(self, job_id: str, *names: str) -> dict[str, float]:
        data = self._request("GET", f"/jobs/{segment(job_id)}/metrics", params={"get": ",".join(names)})
        return {m["id"]: float(m["value"]) for m in data or [] if "value" in m}

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/jobs/{segment(job_id)}/checkpoints")

    def exceptions(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/jobs/{segment(job_id)}/exceptions")

    def cancel(self, job_id: str) -> None:
        self._request("PATCH", f"/jobs/{segment(job_id)}", params={"mode": "cancel"})

    def savepoint(self, job_id: str, target: str | None, *, timeout: float = 300) -> str:
        """Trigger a savepoint, wait for it, return its location."""
        body = {"cancel-job": False, **({"target-directory": target} if target else {})}
        trigger = self._request("POST", f"/jobs/{segment(job_id)}/savepoints", json=body)["request-id"]
        return self._wait_savepoint(job_id, trigger, timeout)

    def stop_with_savepoint(self, job_id: str, target: str | None, *, timeout: float = 300) -> str:
        """Stop gracefully: savepoint, then the sinks commit and the job finishes. Returns the location."""
        body = {"drain": False, **({"targetDirectory": target} if target else {})}
        trigger = self._request("POST", f"/jobs/{segment(job_id)}/stop", json=body)["request-id"]
        return self._wait_savepoint(job_id, trigger, timeout)

    def _wait_savepoint(self, job_id: str, trigger: str, timeout: float) -> str:
        def check() -> Observation[str]:
            data = self._request("GET", f"/jobs/{segment(job_id)}/savepoints/{segment(trigger)}")
            if data["status"]["id"] != "COMPLETED":
                return Observation(False, detail=data["status"]["id"])
            operation = data.get("operation", {})
            if "failure-cause" in operation:
                cause = operation["failure-cause"].get("stack-trace") or str(operation["failure-cause"])
                raise ComponentError(f"flink: savepoint failed: {root_cause(cause)}")
            return Observation(True, operation["location"])

        return poll_until(check, timeout=timeout, what=f"flink: savepoint of {job_id}")

    def wait_for_state(self, job_id: str, wanted: set[str], timeout: float, *, name: str | None = None) -> str:
        """Wait until the job reaches one of ``wanted`` states (or a terminal one); returns it.

        ServiceUnavailable naming the job and its last state when it does not within ``timeout``."""

        def check() -> Observation[str]:
            state = self.job(job_id)["state"]
            return Observation(state in wanted or state in TERMINAL_STATES, state, f"state {state}")

        label = f"{name} ({job_id})" if name else job_id
        return poll_until(check, timeout=timeout, what=f"flink: job {label} reaching {' or '.join(sorted(wanted))}")

    def first_exception(self, job_id: str) -> str:
        """The line a person needs of the job's root exception."""
        trace = self.exceptions(job_id).get("root-exception") or ""
        return root_cause(trace) if trace else "no exception recorded"
