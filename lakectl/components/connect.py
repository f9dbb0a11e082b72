"""Kafka Connect client: the REST API of a distributed Connect worker (Kafka 4.x). Pass an
``httpx.Client`` in for tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from lakectl.components.http import HttpError, RestService


class ConnectError(HttpError):
    """A worker's refusal; its JSON body is ``{"error_code": ..., "message": ...}``."""


class Plugin(BaseModel):
    class_: str = Field(alias="class")
    type: str
    version: str | None = None

    model_config = {"populate_by_name": True}


class TaskState(BaseModel):
    id: int
    state: str
    worker_id: str | None = None
    trace: str | None = None


class ConnectorState(BaseModel):
    state: str
    worker_id: str | None = None
    trace: str | None = None


class ConnectorStatus(BaseModel):
    name: str
    connector: ConnectorState
    tasks: list[TaskState] = []
    type: str | None = None

    @property
    def failed(self) -> bool:
        return self.connector.state == "FAILED" or any(t.state == "FAILED" for t in self.tasks)


class Validation(BaseModel):
    """The worker's answer to ``PUT /connector-plugins/CLASS/config/validate``."""

    name: str
    error_count: int
    configs: list[dict[str, Any]] = []

    def messages(self) -> list[str]:
        """``key: message`` for every refused setting (the worker's own words)."""
        out = []
        for item in self.configs:
            value = item.get("value") or {}
            for error in value.get("errors") or []:
                out.append(f"{value.get('name')}: {error}")
        return out


class ConnectWorker(RestService):
    service = "kafka connect"
    up_hint = "lakectl up connect"
    error_type = ConnectError

    @classmethod
    def connect(cls, url: str, *, timeout: float = 10.0) -> ConnectWorker:
        client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                              headers={"Accept": "application/json", "Content-Type": "application/json"},
                              transport=httpx.HTTPTransport(retries=2))  # connect errors only
        return cls(client)

    def error_message(self, response: httpx.Response, body: Any) -> str:
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
        return response.text.strip()[:300] or response.reason_phrase

    # plugins
    def plugins(self) -> list[Plugin]:
        return [Plugin.model_validate(p) for p in self._request("GET", "/connector-plugins",
                                                                 params={"connectorsOnly": "true"})]

    def validate(self, connector_class: str, config: dict[str, str]) -> Validation:
        # the path takes the class's simple or full name; the body must hold connector.class too
        path = f"/connector-plugins/{quote(connector_class, safe='')}/config/validate"
        return Validation.model_validate(self._request("PUT", path, json=config))

    # connectors
    def connectors(self) -> dict[str, ConnectorStatus]:
        data = self._request("GET", "/connectors", params={"expand": "status"}) or {}
        return {name: ConnectorStatus.model_validate(item["status"]) for name, item in data.items()}

    def config(self, name: str) -> dict[str, str] | None:
        """A connector's stored config; None when there is no such connector."""
        try:
            return self._request("GET", f"/connectors/{quote(name, safe='')}/config")
        except ConnectError as exc:
            if exc.status == 404:
                return None
            raise

    def put_config(self, name: str, config: dict[str, str]) -> None:
        self._request("PUT", f"/connectors/{quote(name, safe='')}/config", json=config)

    def status(self, name: str) -> ConnectorStatus:
        return ConnectorStatus.model_validate(self._request("GET", f"/connectors/{quote(name, safe='')}/status"))

    def restart(self, name: str) -> None:
        self._request("POST", f"/connectors/{quote(name, safe='')}/restart",
                      params={"includeTasks": "true", "onlyFailed": "false"})

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{quote(name, safe='')}")

    def stop(self, name: str) -> None:
        """Stop the connector and its tasks (state STOPPED), keeping its config and offsets."""
        self._request("PUT", f"/connectors/{quote(name, safe='')}/stop")

    def reset_offsets(self, name: str) -> None:
        """Forget a stopped source connector's offsets (a connector of that name made again starts over)."""
        self._request("DELETE", f"/connectors/{quote(name, safe='')}/offsets")
