"""The use cases that are pure logic, or whose clients are easily faked: Bronze freshness, query's
Delta retry, the job cancel/status flow, DAG runs, schemas."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from lakectl.components.flink import FlinkClient, JobSummary
from lakectl.components.lakehouse import TableInfo
from lakectl.components.trino import QueryFailed, QueryResult
from lakectl.errors import CheckFailed, ServiceUnavailable, UsageError
from lakectl.ops import dags, freshness, jobs, query, schemas

JOB_ID = "0e8d2c4c1f6b4a0bb8a7e3b0b9f2d5a1"


# -- Bronze freshness ------------------------------------------------------------------------------
def table(name: str, fmt: str, updated_at: str | None) -> TableInfo:
    return TableInfo(fmt, "bronze", name, f"s3://lake/{fmt}/bronze/{name}", 10, "1", updated_at)


def test_freshness_rows_are_seconds_since_the_newest_commit_sorted_by_table_and_format():
    now = 1_800_000_100.0  # 2027-01-15T08:01:40Z
    rows = freshness.freshness_rows([table("trades", "iceberg", "2027-01-15T08:00:00+00:00"),
                                     table("quotes", "delta", None),
                                     table("trades", "delta", "2027-01-15T08:01:30+00:00")], now)
    assert rows == [
        {"metric": "bronze_freshness_s", "labels": {"table": "bronze.quotes", "format": "delta"}, "value": None,
         "unit": "s"},
        {"metric": "bronze_freshness_s", "labels": {"table": "bronze.trades", "format": "delta"}, "value": 10.0,
         "unit": "s"},
        {"metric": "bronze_freshness_s", "labels": {"table": "bronze.trades", "format": "iceberg"}, "value": 100.0,
         "unit": "s"}]


def test_freshness_says_why_there_is_no_value():
    assert freshness.freshness_rows([], 0.0) == [{"metric": "bronze_freshness_s", "labels": {}, "value": None,
                                                  "unit": "s", "note": "no Bronze table yet"}]

    def unreachable():
        raise ServiceUnavailable("iceberg catalog database: connection refused", hint="lakectl up")

    assert freshness.bronze_freshness(unreachable, now=0.0) == [
        {"metric": "bronze_freshness_s", "labels": {}, "value": None, "unit": "s",
         "note": "unavailable: iceberg catalog database: connection refused (lakectl up)"}]


def test_freshness_reads_both_formats_of_bronze():
    house = SimpleNamespace(iceberg_tables=lambda layer: [table("trades", "iceberg", None)],
                            delta_tables=lambda layer: [table("trades", "delta", None)])
    rows = freshness.bronze_freshness(lambda: house, now=0.0)
    assert [r["labels"]["format"] for r in rows] == ["delta", "iceberg"]


def test_freshness_of_one_table_keeps_its_rows_and_names_each_missing_format():
    tables = [table("trades", "iceberg", "2027-01-15T08:00:00+00:00"), table("orders", "delta", None),
              table("orders", "iceberg", None)]
    rows = freshness.freshness_rows(tables, 1_800_000_100.0, table="trades", formats=("iceberg", "delta"))
    assert rows == [
        {"metric": "bronze_freshness_s", "labels": {"table": "bronze.trades", "format": "delta"}, "value": None,
         "unit": "s", "note": "no delta table yet"},
        {"metric": "bronze_freshness_s", "labels": {"table": "bronze.trades", "format": "iceberg"}, "value": 100.0,
         "unit": "s"}]
    assert freshness.freshness_rows(tables, 0.0, table="quotes") == [
        {"metric": "bronze_freshness_s", "labels": {"table": "bronze.quotes"}, "value": None, "unit": "s",
         "note": "no Bronze table yet"}]


def test_freshness_of_one_table_reads_only_its_formats():
    def unreadable(layer):
        raise AssertionError("the pipeline writes no Delta table: Delta's log is not read")

    house = SimpleNamespace(iceberg_tables=lambda layer: [table("orders", "iceberg", None)], delta_tables=unreadable)
    rows = freshness.bronze_freshness(lambda: house, now=0.0, table="orders", formats=("iceberg",))
    assert [r["labels"] for r in rows] == [{"table": "bronze.orders", "format": "iceberg"}]

    def unreachable():
        raise ServiceUnavailable("iceberg catalog database: connection refused")

    [row] = freshness.bronze_freshness(unreachable, now=0.0, table="orders", formats=("iceberg",))
    assert row["labels"] == {"table": "bronze.orders"} and row["note"].startswith("unavailable: ")


# -- query: the Delta retry --------------------------------------------------------------------------
def missing(kind: str = "TABLE_NOT_FOUND") -> QueryFailed:
    return QueryFailed("line 1:15: Table 'delta.bronze.trades' does not exist", error_name=kind)


@pytest.mark.parametrize(("error", "sql", "catalog", "retry"), [
    ("TABLE_NOT_FOUND", "SELECT * FROM delta.bronze.trades", "iceberg", True),
    ("SCHEMA_NOT_FOUND", "select * from DELTA.bronze.trades", "iceberg", True),
    ("TABLE_NOT_FOUND", "SELECT * FROM bronze.trades", "delta", True),  # the session's catalog is delta
    ("TABLE_NOT_FOUND", "SELECT * FROM iceberg.bronze.trades", "iceberg", False),
    ("SYNTAX_ERROR", "SELECT * FROM delta.bronze.trades", "iceberg", False),
])
def test_which_failures_registering_delta_may_fix(error, sql, catalog, retry):
    assert query.may_be_unregistered_delta(missing(error), sql, catalog) is retry


class FakeTrino:
    def __init__(self, answers: list) -> None:
        self.answers = answers
        self.sql: list[str] = []
        self.closed = False

    def execute(self, sql, params=None):
        self.sql.append(sql)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self):
        self.closed = True


def result(*rows) -> QueryResult:
    return QueryResult(["n"], ["bigint"], [list(r) for r in rows], 0.01)


def test_a_missing_delta_table_is_registered_and_the_query_retried_once(monkeypatch):
    registered = []
    monkeypatch.setattr(query, "register_delta_tables", lambda client, s3: registered.append(s3) or ["d.b.t"])
    client = FakeTrino([missing(), result((3,))])
    found = query.run(client, "SELECT count(*) FROM delta.bronze.trades", [], catalog="iceberg", s3=lambda: "s3")
    assert found.rows == [[3]] and registered == ["s3"] and len(client.sql) == 2 and client.closed


def test_no_retry_when_nothing_was_registered(monkeypatch):
    monkeypatch.setattr(query, "register_delta_tables", lambda client, s3: [])
    client = FakeTrino([missing()])
    with pytest.raises(QueryFailed, match="does not exist"):
        query.run(client, "SELECT * FROM delta.bronze.trades", [], catalog="iceberg", s3=lambda: "s3")
    assert client.closed


def test_other_failures_are_not_retried_and_need_no_object_store(monkeypatch):
    def no_s3():
        raise AssertionError("the object store is not needed")

    client = FakeTrino([missing()])
    with pytest.raises(QueryFailed):
        query.run(client, "SELECT * FROM iceberg.bronze.trades", [], catalog="iceberg", s3=no_s3)
    assert len(client.sql) == 1 and client.closed


# -- jobs: cancel, savepoint, status --------------------------------------------------------------
def flink(states: list[str], *, name: str = "bronze_trades") -> tuple[FlinkClient, list[httpx.Request]]:
    """A JobManager with one job; GET /jobs/<id> answers ``states`` in turn (the last one from then on)."""
    seen: list[httpx.Request] = []
    remaining = list(states)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        route = (request.method, request.url.path)
        if route == ("GET", "/jobs/overview"):
            return httpx.Response(200, json={"jobs": [{"jid": JOB_ID, "name": name, "state": "RUNNING",
                                                       "start-time": 1, "duration": 5000}]})
        if route == ("GET", f"/jobs/{JOB_ID}"):
            state = remaining.pop(0) if len(remaining) > 1 else remaining[0]
            return httpx.Response(200, json={"jid": JOB_ID, "name": name, "state": state, "vertices": []})
        if route == ("PATCH", f"/jobs/{JOB_ID}"):
            return httpx.Response(202, json={})
        if route == ("POST", f"/jobs/{JOB_ID}/stop"):
            return httpx.Response(202, json={"request-id": "trigger-1"})
        if route == ("GET", f"/jobs/{JOB_ID}/savepoints/trigger-1"):
            return httpx.Response(200, json={"status": {"id": "COMPLETED"},
                                             "operation": {"location": "s3://lake/flink/savepoints/savepoint-0e8d2c-1"}})
        return httpx.Response(404, json={"errors": ["Not found: " + request.url.path]})

    client = httpx.Client(base_url="http://flink", transport=httpx.MockTransport(handler))
    return FlinkClient(client, retries=0), seen


def test_cancel_waits_until_the_job_is_canceled():
    client, seen = flink(["RUNNING", "CANCELLING", "CANCELED"])
    stopped = jobs.stop(client, "bronze_trades", savepoint=False, timeout=10)
    assert stopped.to_dict() == {"job_id": JOB_ID, "name": "bronze_trades", "state": "CANCELED", "savepoint": None}
    assert ("PATCH", f"/jobs/{JOB_ID}") in [(r.method, r.url.path) for r in seen]


def test_cancel_that_does_not_take_is_unavailable_naming_the_job_and_its_state():
    client, _ = flink(["RUNNING"])
    with pytest.raises(ServiceUnavailable) as caught:
        jobs.stop(client, JOB_ID, savepoint=False, timeout=0.3)
    assert caught.value.exit_code == 3
    assert f"flink: job bronze_trades ({JOB_ID}) reaching CANCELED or FINISHED not done" in caught.value.message
    assert "(last: state RUNNING)" in caught.value.message


def test_stop_with_a_savepoint_returns_its_location():
    client, seen = flink(["FINISHED"])
    stopped = jobs.stop(client, "bronze_trades", savepoint=True, timeout=10)
    assert (stopped.state, stopped.savepoint) == ("FINISHED", "s3://lake/flink/savepoints/savepoint-0e8d2c-1")
    assert json.loads(next(r for r in seen if r.url.path.endswith("/stop")).content) == {"drain": False}


def test_a_failed_job_status_is_printed_then_fails():
    summary = JobSummary.model_validate({"jid": JOB_ID, "name": "bronze_trades", "state": "FAILED", "duration": 1500})
    status = jobs.JobStatus(summary, "FAILED", [], 3, {"completed": 1}, "ValueError: bad topic name")
    data = status.to_dict()
    assert data["state"] == "FAILED" and data["restarts"] == 3 and data["duration_s"] == 1.5
    assert data["root_exception"] == "ValueError: bad topic name"
    with pytest.raises(CheckFailed, match=r"bronze_trades .* is FAILED: ValueError: bad topic name"):
        jobs.check_status(status)
    running = jobs.JobStatus(summary, "RUNNING", [], 0, {})
    assert "root_exception" not in running.to_dict()
    jobs.check_status(running)


def test_ensure_result_keys_match_what_it_did():
    kept = jobs.EnsureResult("none", JOB_ID, "bronze_trades", "RUNNING")
    assert kept.to_dict() == {"job_id": JOB_ID, "name": "bronze_trades", "state": "RUNNING",
                              "from_savepoint": None, "action": "none"}
    restored = jobs.EnsureResult("restored from checkpoint", JOB_ID, "bronze_trades", "RUNNING",
                                 from_savepoint="s3://lake/flink/checkpoints/x/chk-3")
    assert restored.to_dict()["replaced"] is None and restored.to_dict()["from_savepoint"].endswith("chk-3")


def test_job_connections_are_what_a_job_context_file_holds():
    from lakectl.components.object_store import S3Location

    s3 = S3Location("http://127.0.0.1:9000", "lake", "AK", "SK")
    connections = jobs.JobConnections("127.0.0.1:9092", "http://127.0.0.1:8085/apis/ccompat/v7", 10.0,
                                      {"jdbc_url": "jdbc:postgresql://127.0.0.1:5432/iceberg", "user": "u",
                                       "password": "p", "warehouse": "s3://lake/iceberg", "name": "lakehouse"}, s3)
    data = connections.to_dict()
    assert data["iceberg"]["io"]["s3.access-key-id"] == "AK" and data["iceberg"]["jdbc_url"].startswith("jdbc:")
    assert data["delta"] == {"root": "s3a://lake/delta", "hadoop": s3.hadoop_s3a_options()}
    assert data["bootstrap_servers"] == "127.0.0.1:9092" and data["checkpoint_interval_s"] == 10.0


def test_a_job_file_that_does_not_exist_is_a_usage_error(tmp_path):
    cluster = SimpleNamespace()  # never reached
    with pytest.raises(UsageError, match=r"job file .*nope\.py does not exist"):
        jobs.submit(cluster, tmp_path / "nope.py", name=None, parallelism=None, savepoint=None, replace=False,
                    job_args=[])
    with pytest.raises(UsageError, match="does not exist"):
        jobs.ensure(cluster, Path("nope.py"), name=None, parallelism=None, job_args=[])


@pytest.mark.parametrize(("name", "content", "message"), [
    ("job.py", b"x = '\xff'\n", "not UTF-8 text"),
    ("job.py", b"x = 1\x00\n", "null bytes"),
    ("job.sql", b"INSERT INTO t SELECT '\xff'\n", "not UTF-8 text"),
])
def test_a_job_file_that_is_not_text_is_a_usage_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    cluster = SimpleNamespace(connections=SimpleNamespace(to_dict=lambda: {}))  # nothing else is reached
    with pytest.raises(UsageError, match=message):
        jobs.submit(cluster, path, name=None, parallelism=None, savepoint=None, replace=False, job_args=[])


# -- DAG runs -------------------------------------------------------------------------------------
class FakeAirflow:
    def __init__(self, final_state: str) -> None:
        self.final_state = final_state

    def trigger(self, dag_id, conf):
        return {"dag_id": dag_id, "dag_run_id": "manual__1", "state": "queued", "conf": conf}

    def wait(self, dag_id, run_id, timeout):
        return {"dag_id": dag_id, "dag_run_id": run_id, "state": self.final_state, "start_date": "s",
                "end_date": "e", "logical_date": None}

    def task_instances(self, dag_id, run_id):
        return [{"task_id": "produce", "state": "success", "try_number": 1, "duration": 2.0},
                {"task_id": "verify", "state": "failed", "try_number": 2, "duration": 1.0},
                {"task_id": "notify", "state": "skipped", "try_number": 0, "duration": None}]


def test_a_triggered_run_without_wait_has_no_tasks():
    found = dags.trigger(FakeAirflow("success"), "stock", {}, wait=False, timeout=1)
    assert found.to_dict() == {"dag_id": "stock", "dag_run_id": "manual__1", "state": "queued", "logical_date": None,
                               "start_date": None, "end_date": None}
    found.raise_for_status()  # not waited for: nothing to judge


def test_a_failed_run_names_the_tasks_that_did_not_succeed():
    found = dags.trigger(FakeAirflow("failed"), "stock", {"topic": "trades"}, wait=True, timeout=1)
    data = found.to_dict()
    assert data["state"] == "failed" and [t["task_id"] for t in data["tasks"]] == ["produce", "verify", "notify"]
    assert data["tasks"][0] == {"task_id": "produce", "state": "success", "try_number": 1, "duration_s": 2.0}
    with pytest.raises(CheckFailed, match=r"^stock: run manual__1 failed \(tasks not successful: verify\)$"):
        found.raise_for_status()
    dags.trigger(FakeAirflow("success"), "stock", {}, wait=True, timeout=1).raise_for_status()


# -- schemas --------------------------------------------------------------------------------------
class FakeRegistry:
    def __init__(self, compatible: bool) -> None:
        self.compatible = compatible

    def check(self, subject, schema):
        return SimpleNamespace(is_compatible=self.compatible, messages=[] if self.compatible else ["/fields/3/type"])

    def get_compatibility(self, subject):
        return "BACKWARD"

    def register(self, subject, schema):
        return 7

    def get(self, subject, version="latest"):
        return SimpleNamespace(subject=subject, version=2, id=7, schema_='{"type": "string"}', schema_type="AVRO")

    def subjects(self):
        return ["a-value", "b-value"]


def test_schema_check_reports_then_fails_when_incompatible():
    report = schemas.check(FakeRegistry(False), "trades-value", "{}")
    assert report.to_dict() == {"subject": "trades-value", "compatible": False, "level": "BACKWARD",
                                "messages": ["/fields/3/type"]}
    with pytest.raises(CheckFailed, match="trades-value: the schema is incompatible"):
        report.raise_for_status()
    schemas.check(FakeRegistry(True), "trades-value", "{}").raise_for_status()


def test_schema_register_list_and_get():
    registry = FakeRegistry(True)
    assert schemas.register(registry, "a-value", "{}").to_dict() == {"subject": "a-value", "id": 7, "version": 2}
    assert [r.subject for r in schemas.subjects(registry)] == ["a-value", "b-value"]
    assert schemas.get(registry, "a-value", "2").to_dict() == {"subject": "a-value", "version": 2, "id": 7,
                                                               "schema": {"type": "string"}}
