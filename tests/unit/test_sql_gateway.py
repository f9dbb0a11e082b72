"""The Flink SQL Gateway client (REST API v1) on payloads shaped like Flink 1.20's answers
(tests/unit/payloads/sql_gateway/: the shapes of the REST API's documented messages)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lakectl.components.sql_gateway import SqlGateway, SqlGatewayError
from lakectl.errors import ServiceUnavailable

PAYLOADS = Path(__file__).parent / "payloads" / "sql_gateway"
SESSION = "d9befa48-8b52-42f4-93a0-b8b948552452"
OPERATION = "ce3489f5-74a2-41d7-8d83-1caa301d6e5c"
RESULT = f"/v1/sessions/{SESSION}/operations/{OPERATION}/result/0"


def payload(name: str):
    return json.loads((PAYLOADS / name).read_text())


def gateway(results: list[tuple[int, object]]) -> tuple[SqlGateway, list[httpx.Request]]:
    """A gateway whose result endpoint answers ``results`` in turn (the last one from then on)."""
    seen: list[httpx.Request] = []
    answers = iter(results)
    last: list[tuple[int, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        route = (request.method, request.url.path)
        if route == ("POST", "/v1/sessions"):
            return httpx.Response(200, json=payload("open_session.json"))
        if route == ("POST", f"/v1/sessions/{SESSION}/statements"):
            return httpx.Response(200, json=payload("execute_statement.json"))
        if route == ("DELETE", f"/v1/sessions/{SESSION}"):
            return httpx.Response(200, json={"status": "CLOSED"})
        if route == ("GET", RESULT):
            status, body = next(answers, None) or last[0]
            last[:] = [(status, body)]
            return httpx.Response(status, json=body)
        return httpx.Response(404, json={"errors": ["Not found: " + request.url.path]})

    client = httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(handler))
    return SqlGateway(client, retries=0), seen


def test_a_session_carries_the_job_properties():
    api, seen = gateway([])
    assert api.open_session({"pipeline.name": "heartbeat", "parallelism.default": "2"}, "heartbeat") == SESSION
    assert json.loads(seen[0].content) == {"sessionName": "heartbeat",
                                           "properties": {"pipeline.name": "heartbeat", "parallelism.default": "2"}}


def test_an_insert_is_polled_until_its_job_id_is_there():
    api, seen = gateway([(200, payload("result_not_ready.json")), (200, payload("result_insert_job.json"))])
    result = api.execute(SESSION, "INSERT INTO sink SELECT * FROM source", timeout=10)
    assert result == {"job_id": "0e8d2c4c1f6b4a0bb8a7e3b0b9f2d5a1", "rows": [["0e8d2c4c1f6b4a0bb8a7e3b0b9f2d5a1"]]}
    assert json.loads(seen[0].content) == {"statement": "INSERT INTO sink SELECT * FROM source"}
    polls = [r for r in seen if r.url.path == RESULT]
    assert len(polls) == 2 and all(r.url.params["rowFormat"] == "JSON" for r in polls)


def test_a_ddl_statement_has_no_job():
    api, _ = gateway([(200, payload("result_create_table.json"))])
    assert api.execute(SESSION, "CREATE TABLE t (x INT)", timeout=10) == {"job_id": None, "rows": [["OK"]]}


def test_a_statement_that_never_finishes_is_unavailable_naming_it():
    api, _ = gateway([(200, payload("result_not_ready.json"))])
    with pytest.raises(ServiceUnavailable, match=r"statement 'INSERT INTO slow.*not done after 0.3s.*not ready"):
        api.execute(SESSION, "INSERT INTO slow SELECT 1", timeout=0.3)


def test_a_failing_statement_reports_flinks_cause():
    api, _ = gateway([(500, payload("statement_failed.json"))])
    with pytest.raises(SqlGatewayError) as caught:
        api.execute(SESSION, "SELECT * FROM nope", timeout=10)
    assert caught.value.status == 500
    assert caught.value.message == ("flink sql: org.apache.flink.table.api.ValidationException: SQL validation "
                                    "failed. From line 1, column 15 to line 1, column 19: Object 'nope' not found")


def test_closing_a_session_never_fails():
    api, seen = gateway([])
    api.close_session(SESSION)
    api.close_session("gone")  # 404: an expired session is closed already
    assert [r.method for r in seen] == ["DELETE", "DELETE"]


def test_connect_sends_the_token():
    api = SqlGateway.connect("https://gateway.example/", token="tok")
    assert api.client.headers["Authorization"] == "Bearer tok" and str(api.client.base_url) == "https://gateway.example"
