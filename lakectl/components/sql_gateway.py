"""Flink 1.20's SQL Gateway REST API (v1): sessions and statements, for ``.sql`` jobs.

Pass an ``httpx.Client`` in for tests."""

from __future__ import annotations

import contextlib
from typing import Any

from lakectl.components.flink import FlinkRest
from lakectl.components.http import HttpError
from lakectl.errors import ComponentError, ServiceUnavailable
from lakectl.polling import Observation, poll_until


class SqlGatewayError(HttpError):
    pass


class SqlGateway(FlinkRest):
    service = "flink sql gateway"
    up_hint = "lakectl up flink-sql-gateway"
    error_type = SqlGatewayError
    error_prefix = "flink sql"

    def open_session(self, properties: dict[str, str], name: str) -> str:
        data = self._request("POST", "/v1/sessions", json={"sessionName": name, "properties": properties})
        return data["sessionHandle"]

    def close_session(self, session: str) -> None:
        with contextlib.suppress(ComponentError, ServiceUnavailable):  # idle sessions expire anyway
            self._request("DELETE", f"/v1/sessions/{session}")

    def execute(self, session: str, statement: str, *, timeout: float = 300) -> dict[str, Any]:
        """Run one statement and wait for its first result; returns {"job_id", "rows"}."""
        operation = self._request("POST", f"/v1/sessions/{session}/statements",
                                  json={"statement": statement})["operationHandle"]
        path = f"/v1/sessions/{session}/operations/{operation}/result/0"

        def check() -> Observation[dict[str, Any]]:
            data = self._request("GET", path, params={"rowFormat": "JSON"})
            if data.get("resultType") == "NOT_READY":
                return Observation(False, detail="result not ready")
            rows = [r.get("fields") for r in (data.get("results") or {}).get("data", [])]
            return Observation(True, {"job_id": data.get("jobID"), "rows": rows})

        return poll_until(check, timeout=timeout, interval=0.2, what=f"flink sql: statement {statement[:80]!r}")
