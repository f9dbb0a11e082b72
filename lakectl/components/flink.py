"""Flink client: the JobManager REST API (v1) of Flink 1.20 session clusters: jars, jobs,
savepoints. Pass an ``httpx.Client`` in for tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from lakectl.errors import ComponentError, ServiceUnavailable, UsageError

PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
ACTIVE_STATES = {"CREATED", "RUNNING", "RESTARTING", "INITIALIZING", "RECONCILING", "FAILING", "CANCELLING"}


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


class FlinkClient:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @classmethod
    def connect(cls, url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0,
                verify: bool | str = True) -> FlinkClient:
        return cls(httpx.Client(base_url=url.rstrip("/"), headers=headers or {}, timeout=timeout, verify=verify,
                                transport=httpx.HTTPTransport(retries=2, verify=verify)))

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise ServiceUnavailable(f"Flink JobManager at {self.client.base_url} is unreachable",
                                     hint="lakectl up flink-taskmanager") from None
        except httpx.TimeoutException:
            raise ServiceUnavailable(f"Flink JobManager at {self.client.base_url} timed out") from None
        if response.is_success:
            return response.json() if response.content else None
        try:
            errors = response.json().get("errors") or [response.text]
        except ValueError:
            errors = [response.text]
        # Flink puts a Java stack trace in errors[]; its first line is the message
        message = _first_meaningful_line(errors)
        if response.status_code == 404:
            raise UsageError(f"flink: not found: {message}")
        if response.status_code in (401, 403):
            raise UsageError(f"flink refused the credentials ({response.status_code})")
        raise ComponentError(f"flink: {message}")

    # -- cluster ---------------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return self._request("GET", "/overview")

    # -- jobs -----------------------------------------------------------------------------
    def jobs(self) -> list[JobSummary]:
        data = self._request("GET", "/jobs/overview")
        return sorted((JobSummary.model_validate(j) for j in data.get("jobs", [])),
                      key=lambda j: j.start_time, reverse=True)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/jobs/{job_id}")

    def active_jobs_named(self, name: str) -> list[JobSummary]:
        return [j for j in self.jobs() if j.name == name and j.state in ACTIVE_STATES]

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/jobs/{job_id}/checkpoints")

    def exceptions(self, job_id: str) -> str | None:
        data = self._request("GET", f"/jobs/{job_id}/exceptions")
        root = data.get("root-exception") or ""
        history = data.get("exceptionHistory", {}).get("entries") or []
        if not root and history:
            root = history[0].get("stacktrace", "")
        return _first_meaningful_line([root]) if root else None

    def cancel(self, job_id: str) -> None:
        self._request("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    # -- jars -----------------------------------------------------------------------------
    def upload_jar(self, jar: Path) -> str:
        """Upload a jar (Flink keeps it in its web upload dir); returns the jar id."""
        with jar.open("rb") as handle:
            data = self._request("POST", "/jars/upload",
                                 files={"jarfile": (jar.name, handle, "application/x-java-archive")})
        return Path(data["filename"]).name

    def jars(self) -> list[dict[str, Any]]:
        return self._request("GET", "/jars").get("files", [])

    def find_jar(self, name: str) -> str | None:
        for jar in self.jars():
            if jar.get("name") == name:
                return jar["id"]
        return None

    def run_jar(self, jar_id: str, *, entry_class: str, args: list[str], parallelism: int | None = None,
                savepoint: str | None = None, configuration: dict[str, str] | None = None) -> str:
        body: dict[str, Any] = {"entryClass": entry_class, "programArgsList": args}
        if parallelism:
            body["parallelism"] = parallelism
        if savepoint:
            body["savepointPath"] = savepoint
            body["allowNonRestoredState"] = False
        if configuration:
            body["flinkConfiguration"] = configuration
        return self._request("POST", f"/jars/{jar_id}/run", json=body)["jobid"]

    # -- savepoints -----------------------------------------------------------------------
    def savepoint(self, job_id: str, target: str | None, *, cancel: bool = False, timeout: float = 300) -> str:
        """Trigger a savepoint (``cancel``: stop the job with it); returns its location."""
        if cancel:
            trigger = self._request("POST", f"/jobs/{job_id}/stop",
                                    json={"targetDirectory": target, "drain": False})
        else:
            trigger = self._request("POST", f"/jobs/{job_id}/savepoints",
                                    json={"target-directory": target, "cancel-job": False})
        request_id = trigger["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._request("GET", f"/jobs/{job_id}/savepoints/{request_id}")
            if status["status"]["id"] == "COMPLETED":
                operation = status.get("operation") or {}
                if "failure-cause" in operation:
                    cause = operation["failure-cause"].get("stack-trace", "savepoint failed")
                    raise ComponentError(f"flink: savepoint of {job_id} failed: {_first_meaningful_line([cause])}")
                return operation["location"]
            time.sleep(0.5)  # polling an asynchronous operation Flink reports on, bounded by the timeout
        raise ServiceUnavailable(f"flink: savepoint of {job_id} not completed after {timeout:g}s")

    def wait_for_state(self, job_id: str, states: set[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        state = "UNKNOWN"
        while time.monotonic() < deadline:
            state = self.job(job_id)["state"]
            if state in states:
                return state
            if state in ("FAILED", "CANCELED", "FINISHED") and state not in states:
                reason = self.exceptions(job_id)
                raise ComponentError(f"flink job {job_id} is {state}" + (f": {reason}" if reason else ""))
            time.sleep(0.5)  # polling the job's state transitions, bounded by the timeout
        raise ServiceUnavailable(f"flink job {job_id} still {state} after {timeout:g}s")


def _first_meaningful_line(errors: list[str]) -> str:
    for error in errors:
        for line in str(error).splitlines():
            line = line.strip()
            if line and not line.startswith("at ") and line not in ("<Exception on server side:", ">"):
                return line[:500]
    return "unknown error"
