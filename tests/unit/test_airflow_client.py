"""The Airflow REST API v2 client (httpx.MockTransport) and `lakectl dag` input checks."""

import json

import httpx
import pytest

from lakectl.components.airflow import AirflowClient
from lakectl.errors import ServiceUnavailable, UsageError


def client(routes: dict) -> tuple[AirflowClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/token":
            body = json.loads(request.content)
            if body != {"username": "admin", "password": "pw"}:
                return httpx.Response(401, json={"detail": "Invalid credentials"})
            return httpx.Response(201, json={"access_token": "jwt-1"})
        assert request.headers["Authorization"] == "Bearer jwt-1"
        status, body = routes.get((request.method, request.url.path), (404, {"detail": "Not Found"}))
        return httpx.Response(status, json=body)

    http = httpx.Client(base_url="http://airflow.test", transport=httpx.MockTransport(handler))
    return AirflowClient(http, username="admin", password="pw"), seen


def test_trigger_unpauses_a_paused_dag_and_sends_conf():
    routes = {("GET", "/api/v2/dags/d"): (200, {"dag_id": "d", "is_paused": True}),
              ("PATCH", "/api/v2/dags/d"): (200, {"dag_id": "d", "is_paused": False}),
              ("POST", "/api/v2/dags/d/dagRuns"): (200, {"dag_run_id": "manual__1", "state": "queued"})}
    api, seen = client(routes)
    assert api.trigger("d", {"topic": "t"})["dag_run_id"] == "manual__1"
    posted = next(r for r in seen if r.method == "POST" and r.url.path.endswith("dagRuns"))
    assert json.loads(posted.content) == {"logical_date": None, "conf": {"topic": "t"}}
    assert any(r.method == "PATCH" and json.loads(r.content) == {"is_paused": False} for r in seen)


def test_pause_patches_is_paused():
    routes = {("GET", "/api/v2/dags/d"): (200, {"dag_id": "d", "is_paused": False}),
              ("PATCH", "/api/v2/dags/d"): (200, {"dag_id": "d", "is_paused": True})}
    api, seen = client(routes)
    assert api.set_paused("d", True)["is_paused"] is True
    assert [json.loads(r.content) for r in seen if r.method == "PATCH"] == [{"is_paused": True}]


def test_unknown_dag_is_a_usage_error_naming_the_known_ones():
    routes = {("GET", "/api/v2/dags"): (200, {"dags": [{"dag_id": "a"}, {"dag_id": "b"}], "total_entries": 2})}
    api, _ = client(routes)
    with pytest.raises(UsageError, match=r"no DAG 'x' \(known: a, b\)"):
        api.runs("x")


def test_refused_conf_is_a_usage_error():
    routes = {("GET", "/api/v2/dags/d"): (200, {"dag_id": "d", "is_paused": False}),
              ("POST", "/api/v2/dags/d/dagRuns"): (400, {"detail": "Invalid input for param topic"})}
    api, _ = client(routes)
    with pytest.raises(UsageError, match="Invalid input for param topic"):
        api.trigger("d", {"topic": "no spaces"})


def test_wrong_password_is_a_usage_error():
    api, _ = client({})
    api.password = "wrong"
    with pytest.raises(UsageError, match="refused the credentials"):
        api.dags()


def test_wait_returns_the_finished_run_and_times_out_as_unavailable():
    states = iter(["queued", "running", "success"])
    api, _ = client({})
    api.run = lambda dag_id, run_id: {"dag_run_id": run_id, "state": next(states)}
    assert api.wait("d", "r", timeout=10, poll=0)["state"] == "success"
    api.run = lambda dag_id, run_id: {"dag_run_id": run_id, "state": "running"}
    with pytest.raises(ServiceUnavailable, match="still running"):
        api.wait("d", "r", timeout=0, poll=0)


@pytest.fixture
def remote(monkeypatch):
    monkeypatch.setenv("LAKECTL_AIRFLOW__URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LAKECTL_AIRFLOW__PASSWORD", "x")


def test_unreachable_airflow_exits_3(run, remote):
    result = run("dag", "list")
    assert result.code == 3 and "airflow at http://127.0.0.1:9 is unreachable" in result.err


@pytest.mark.parametrize("conf", ["{not json", "[1]", "3"])
def test_malformed_conf_exits_2_before_any_call(run, remote, conf):
    result = run("dag", "trigger", "d", "--conf", conf)
    assert result.code == 2 and "--conf" in result.err and "Traceback" not in result.err
