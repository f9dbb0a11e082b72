"""Airflow 3's REST API v2: DAGs, DAG runs, task instances.

Authenticates with a username and password: ``POST /auth/token`` returns a JWT, sent as a bearer
token on every call (a new one is fetched once when the server says it expired). Works against the
local stack's api-server and a remote one alike. Pass an ``httpx.Client`` in for tests.
"""

from __future__ import annotations

from typing import Any

import httpx

from lakectl.components.http import HttpError, RestService, base_url, segment, shown
from lakectl.errors import UsageError
from lakectl.polling import Observation, poll_until

FINISHED = {"success", "failed"}


class AirflowError(HttpError):
    pass


class AirflowClient(RestService):
    service = "airflow"
    up_hint = "lakectl up airflow"
    error_type = AirflowError

    def __init__(self, client: httpx.Client, *, username: str, password: str, retries: int = 3) -> None:
        super().__init__(client, retries=retries)
        self.username = username
        self.password = password
        self._token: str | None = None

    @classmethod
    def connect(cls, url: str, *, username: str, password: str, verify: bool = True,
                timeout: float = 30.0) -> AirflowClient:
        client = httpx.Client(base_url=base_url(url, cls.service), verify=verify, timeout=timeout,
                              transport=httpx.HTTPTransport(retries=2, verify=verify))
        return cls(client, username=username, password=password)

    def error_message(self, response: httpx.Response, body: Any) -> str:
        if isinstance(body, dict) and "detail" in body:
            detail = body["detail"]
            if isinstance(detail, list):  # FastAPI validation errors
                return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail)
            return str(detail)
        return super().error_message(response, body)

    @staticmethod
    def error_message_of(exc: AirflowError) -> str:
        return exc.message.removeprefix("airflow: ")

    # -- auth --------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            try:
                data = self._request("POST", "/auth/token", json={"username": self.username,
                                                                   "password": self.password})
            except AirflowError as exc:
                if exc.status == 404:  # not an Airflow 3 api-server
                    raise UsageError(f"airflow at {shown(str(self.client.base_url))} has no /auth/token "
                                     "(lakectl speaks Airflow 3's REST API v2)") from None
                raise
            self._token = data["access_token"]
        return self._token

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        try:
            return self._request(method, f"/api/v2{path}", headers=headers, **kwargs)
        except UsageError:
            if self._token is None:
                raise
            self._token = None  # expired: one fresh token, then the server's answer stands
            return self._request(method, f"/api/v2{path}", headers={"Authorization": f"Bearer {self.token()}"},
                                 **kwargs)

    # -- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._request("GET", "/api/v2/monitor/health")

    # -- DAGs --------------------------------------------------------------------------------
    def dags(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self._api("GET", "/dags", params={"limit": 100, "offset": len(found), "order_by": "dag_id"})
            found += page.get("dags", [])
            if not page.get("dags") or len(found) >= page.get("total_entries", 0):
                return found

    def dag(self, dag_id: str) -> dict[str, Any]:
        try:
            return self._api("GET", f"/dags/{segment(dag_id)}")
        except AirflowError as exc:
            if exc.status == 404:
                known = ", ".join(d["dag_id"] for d in self.dags()) or "none yet"
                raise UsageError(f"airflow: no DAG {dag_id!r} (known: {known})") from None
            raise

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        """Pause or unpause; the scheduler neither creates nor advances a paused DAG's runs."""
        self.dag(dag_id)  # an unknown DAG is a usage error with the known ones named
        return self._api("PATCH", f"/dags/{segment(dag_id)}", json={"is_paused": paused})

    def unpause(self, dag_id: str) -> None:
        self._api("PATCH", f"/dags/{segment(dag_id)}", json={"is_paused": False})

    # -- runs --------------------------------------------------------------------------------
    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, note: str | None = None) -> dict[str, Any]:
        """Start a run now (a paused DAG is unpaused first: a paused DAG's runs never start)."""
        if self.dag(dag_id).get("is_paused"):
            self.unpause(dag_id)
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        try:
            return self._api("POST", f"/dags/{segment(dag_id)}/dagRuns", json=body)
        except AirflowError as exc:
            if exc.status in (400, 422):  # e.g. conf that breaks the DAG's params
                raise UsageError(f"airflow refused the run of {dag_id}: {self.error_message_of(exc)}") from None
            raise

    def runs(self, dag_id: str, limit: int = 20) -> list[dict[str, Any]]:
        self.dag(dag_id)  # an unknown DAG is the user's input: say so instead of an empty list
        data = self._api("GET", f"/dags/{segment(dag_id)}/dagRuns", params={"limit": limit, "order_by": "-run_after"})
        return data.get("dag_runs", [])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._api("GET", f"/dags/{segment(dag_id)}/dagRuns/{segment(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{segment(dag_id)}/dagRuns/{segment(run_id)}/taskInstances"
        return self._api("GET", path).get("task_instances", [])

    def wait(self, dag_id: str, run_id: str, timeout: float, poll: float = 2.0) -> dict[str, Any]:
        """Poll a run until it finished; ServiceUnavailable (exit 3) if it did not within ``timeout``."""

        def check() -> Observation[dict[str, Any]]:
            run = self.run(dag_id, run_id)
            return Observation(run.get("state") in FINISHED, run, f"still {run.get('state')}")

        return poll_until(check, timeout=timeout, interval=poll, what=f"airflow: run {run_id} of {dag_id}")
