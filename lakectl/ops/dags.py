"""`lakectl dag`: Airflow DAGs and their runs (list, trigger and follow, pause, runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakectl.errors import CheckFailed

if TYPE_CHECKING:
    from lakectl.components.airflow import AirflowClient

RUN_COLUMNS = ("dag_run_id", "state", "run_type", "start_date", "end_date")
TRIGGERED_FIELDS = ("dag_id", "dag_run_id", "state", "logical_date", "start_date", "end_date")
SUCCEEDED_TASK_STATES = ("success", "skipped")


@dataclass
class TriggeredRun:
    """A run started by ``trigger``; with ``wait``, finished, with its task instances."""

    run: dict[str, Any]  # the fields of TRIGGERED_FIELDS
    tasks: list[dict[str, Any]] | None = None  # None: not waited for
    waited: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.run, "tasks": self.tasks} if self.waited else dict(self.run)

    def raise_for_status(self) -> None:
        """CheckFailed when a waited-for run did not succeed (naming the tasks that did not)."""
        if not self.waited or self.run.get("state") == "success":
            return
        failed = [t["task_id"] for t in self.tasks or [] if t["state"] not in SUCCEEDED_TASK_STATES]
        raise CheckFailed(f"{self.run.get('dag_id')}: run {self.run.get('dag_run_id')} {self.run.get('state')}"
                          + (f" (tasks not successful: {', '.join(failed)})" if failed else ""))


@dataclass
class DagList:
    dags: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dags": self.dags}


def list_dags(client: AirflowClient) -> DagList:
    """Every DAG Airflow parsed: paused or not, schedule, tags, next run."""
    return DagList([{"dag_id": d["dag_id"], "is_paused": d.get("is_paused"), "schedule": d.get("timetable_summary"),
                     "tags": [t["name"] for t in d.get("tags") or []], "next_run": d.get("next_dagrun_run_after")}
                    for d in client.dags()])


def trigger(client: AirflowClient, dag_id: str, conf: dict[str, Any], *, wait: bool, timeout: float) -> TriggeredRun:
    """Start a run now (a paused DAG is unpaused first); with ``wait``, until it finished
    (ServiceUnavailable after ``timeout``)."""
    run = client.trigger(dag_id, conf)
    run_id = run["dag_run_id"]
    if not wait:
        return TriggeredRun({k: run.get(k) for k in TRIGGERED_FIELDS})
    run = client.wait(dag_id, run_id, timeout)
    tasks = [{"task_id": t["task_id"], "state": t.get("state"), "try_number": t.get("try_number"),
              "duration_s": t.get("duration")} for t in client.task_instances(dag_id, run_id)]
    return TriggeredRun({k: run.get(k) for k in TRIGGERED_FIELDS}, tasks, waited=True)


def set_paused(client: AirflowClient, dag_id: str, paused: bool) -> dict[str, Any]:
    dag = client.set_paused(dag_id, paused)
    return {"dag_id": dag_id, "is_paused": dag.get("is_paused", paused)}


def runs(client: AirflowClient, dag_id: str, limit: int) -> dict[str, Any]:
    """A DAG's most recent runs, newest first."""
    return {"dag_id": dag_id, "runs": [{k: r.get(k) for k in RUN_COLUMNS} for r in client.runs(dag_id, limit)]}
