"""Schema Registry client: the Confluent Schema Registry REST API (v7), as served by Confluent's
registry and by Apicurio Registry 3's ``/apis/ccompat/v7``. Pass an ``httpx.Client`` in for tests."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, Field

from lakectl.components.http import HttpError, RestService, base_url, segment
from lakectl.errors import CheckFailed, UsageError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE")
APICURIO_CCOMPAT = "/apis/ccompat/v7"


class RegisteredSchema(BaseModel):
    subject: str
    version: int
    id: int
    schema_: str = Field(alias="schema")
    schema_type: str = Field("AVRO", alias="schemaType")

    model_config = {"populate_by_name": True}


class Compatibility(BaseModel):
    is_compatible: bool
    messages: list[str] = []


class RegistryError(HttpError):
    @property
    def error_code(self) -> int | None:
        """The registry's own code, e.g. 40401 (subject not found)."""
        return self.detail("error_code")


class SchemaRegistry(RestService):
    service = "schema registry"
    up_hint = "lakectl up schema-registry"
    error_type = RegistryError

    @classmethod
    def connect(cls, url: str, *, auth: tuple[str, str] | None = None, timeout: float = 10.0) -> SchemaRegistry:
        client = httpx.Client(
            base_url=base_url(url, cls.service),
            auth=auth,
            timeout=timeout,
            headers={"Accept": CONTENT_TYPE, "Content-Type": CONTENT_TYPE},
            transport=httpx.HTTPTransport(retries=2),  # connect errors only
        )
        return cls(client)

    def error_message(self, response: httpx.Response, body: Any) -> str:
        if isinstance(body, dict):
            return body.get("message") or str(body)
        return response.text.strip()[:300] or response.reason_phrase

    # -- verbs -------------------------------------------------------------------------------
    def subjects(self) -> list[str]:
        return sorted(self._request("GET", "/subjects"))

    def versions(self, subject: str) -> list[int]:
        return self._request("GET", f"/subjects/{segment(subject)}/versions")

    def get(self, subject: str, version: int | str = "latest") -> RegisteredSchema:
        data = self._request("GET", f"/subjects/{segment(subject)}/versions/{segment(version)}")
        return RegisteredSchema.model_validate(data)

    def schema_by_id(self, schema_id: int) -> str:
        return self._request("GET", f"/schemas/ids/{segment(schema_id)}")["schema"]

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        try:
            data = self._request(
                "POST", f"/subjects/{segment(subject)}/versions", json={"schema": schema, "schemaType": schema_type}
            )
        except RegistryError as exc:
            if exc.status == 409:
                reasons = self.check(subject, schema, schema_type).messages
                detail = "; ".join(reasons) if reasons else exc.message
                raise CheckFailed(f"{subject}: schema refused as incompatible: {detail}") from None
            raise
        return int(data["id"])

    def delete_subject(self, subject: str) -> None:
        """Delete every version of ``subject``, then for good (a soft delete would keep its ids and block
        registering another schema under the name)."""
        self._request("DELETE", f"/subjects/{segment(subject)}")
        self._request("DELETE", f"/subjects/{segment(subject)}", params={"permanent": "true"})

    def check(self, subject: str, schema: str, schema_type: str = "AVRO", version: str = "latest") -> Compatibility:
        try:
            data = self._request(
                "POST",
                f"/compatibility/subjects/{segment(subject)}/versions/{segment(version)}",
                params={"verbose": "true"},
                json={"schema": schema, "schemaType": schema_type},
            )
        except RegistryError as exc:
            if exc.status == 404:  # no such subject (yet): anything is compatible with nothing
                return Compatibility(is_compatible=True, messages=["subject has no versions yet"])
            raise
        result = Compatibility(is_compatible=bool(data.get("is_compatible")), messages=data.get("messages") or [])
        if not result.is_compatible and not result.messages:
            result.messages = self._apicurio_reasons(subject, schema)
        return result

    def _apicurio_reasons(self, subject: str, schema: str) -> list[str]:
        """Apicurio's Confluent-compatible API says *whether*, not *why*; its own v3 API says why.

        A dry-run of the new version through ``/apis/registry/v3`` returns the rule violations.
        """
        base = str(self.client.base_url).rstrip("/")
        if not base.endswith(APICURIO_CCOMPAT):
            return []
        url = base[: -len(APICURIO_CCOMPAT)] + f"/apis/registry/v3/groups/default/artifacts/{segment(subject)}/versions"
        try:
            response = self.client.post(
                url, params={"dryRun": "true"},
                json={"content": {"content": schema, "contentType": "application/json"}},
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
            causes = response.json().get("causes") or [] if response.status_code == 400 else []
        except (httpx.HTTPError, ValueError):
            return []
        return [f"{c.get('context', '')}: {c.get('description', '')}".strip(": ") for c in causes]

    def get_compatibility(self, subject: str | None = None) -> str:
        if subject:
            try:
                data = self._request("GET", f"/config/{segment(subject)}", params={"defaultToGlobal": "true"})
            except RegistryError as exc:
                if exc.status != 404:
                    raise
                data = self._request("GET", "/config")
        else:
            data = self._request("GET", "/config")
        return data.get("compatibilityLevel") or data.get("compatibility") or "NONE"

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        level = level.upper()
        if level not in LEVELS:
            raise UsageError(f"unknown compatibility level {level!r} (one of {', '.join(LEVELS)})")
        path = f"/config/{segment(subject)}" if subject else "/config"
        data = self._request("PUT", path, json={"compatibility": level})
        return data.get("compatibility") or level
