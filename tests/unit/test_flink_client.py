"""The Flink REST client and job-file handling, on payloads recorded from a real Flink 1.20.5."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lakectl.components.flink import FlinkClient, FlinkError, root_cause
from lakectl.errors import ComponentError, ServiceUnavailable, UsageError
from lakectl.ops.jobs import default_name, render_sql

PAYLOADS = Path(__file__).parent / "payloads" / "flink"


def payload(name: str):
    return json.loads((PAYLOADS / name).read_text())


def client_for(routes: dict[tuple[str, str], tuple[int, object]]) -> FlinkClient:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = routes.get((request.method, request.url.path), (404, {"errors": ["Not found: /x"]}))
        return httpx.Response(status, json=body)

    return FlinkClient(httpx.Client(base_url="http://flink", transport=httpx.MockTransport(handler)), retries=0)


def test_jobs_are_listed_newest_first():
    jobs = client_for({("GET", "/jobs/overview"): (200, payload("jobs_overview.json"))}).jobs()
    assert jobs and [j.start_time for j in jobs] == sorted((j.start_time for j in jobs), reverse=True)
    assert all(len(j.job_id) == 32 and j.state for j in jobs)


def test_resolve_by_name_prefers_an_active_job():
    overview = payload("jobs_overview.json")
    client = client_for({("GET", "/jobs/overview"): (200, overview)})
    running = next(j for j in overview["jobs"] if j["state"] == "RUNNING")
    assert client.resolve(running["name"]).job_id == running["jid"]
    with pytest.raises(ComponentError, match="no running job named 'nope'"):
        client.resolve("nope")


def test_a_failed_python_program_reports_its_cause_not_the_rest_handler():
    client = client_for({("POST", "/jars/x.jar/run"): (400, payload("jar_run_python_failed.json"))})
    with pytest.raises(FlinkError) as caught:
        client.run_jar("x.jar", entry_class="org.apache.flink.client.python.PythonDriver", args=["-py", "a.py"])
    assert caught.value.message == "flink: java.lang.RuntimeException: Python process exits with code: 1"


def test_unknown_job_is_a_clear_error():
    client = client_for({("GET", "/jobs/00000000000000000000000000000000"): (404, payload("job_not_found.json"))})
    with pytest.raises(ComponentError, match="no job 00000000000000000000000000000000"):
        client.job("00000000000000000000000000000000")


def test_unreachable_jobmanager_is_service_unavailable():
    def refuse(request):
        raise httpx.ConnectError("refused")

    client = FlinkClient(httpx.Client(base_url="http://flink:1", transport=httpx.MockTransport(refuse)))
    with pytest.raises(ServiceUnavailable, match="flink at http://flink:1 is unreachable"):
        client.jobs()


def test_root_cause_of_a_python_traceback_and_of_a_java_trace():
    python = "Traceback (most recent call last):\n  File \"job.py\", line 3\nValueError: bad topic name\n"
    assert root_cause(python) == "ValueError: bad topic name"
    java = payload("exceptions.json")["root-exception"]
    assert root_cause(java) == "java.lang.IllegalArgumentException"


def test_checkpoint_payload_shape_is_what_status_reads():
    data = payload("checkpoints.json")
    assert {"completed", "failed"} <= set(data["counts"]) and "latest" in data


@pytest.mark.parametrize(("path", "name"), [("flink_jobs/bronze_trades/job.py", "bronze_trades"),
                                            ("jobs/enrich.py", "enrich"), ("x/heartbeat/job.sql", "heartbeat")])
def test_default_job_name(path, name):
    assert default_name(Path(path)) == name


def test_sql_placeholders_defaults_and_statement_split():
    script = """-- a comment; with a semicolon
CREATE TABLE s (x INT) WITH ('connector' = 'datagen', 'rows-per-second' = '${rate:-5}');
CREATE CATALOG c WITH ('uri' = '${iceberg.jdbc_url}', 'k' = '${iceberg.io.s3.access-key-id}');
EXECUTE STATEMENT SET BEGIN
INSERT INTO a SELECT * FROM s;
INSERT INTO b SELECT * FROM s;
END;
"""
    values = {"iceberg.jdbc_url": "jdbc:postgresql://h/db", "iceberg.io.s3.access-key-id": "AK"}
    statements = render_sql(script, values, "t.sql")
    assert len(statements) == 3
    assert "'rows-per-second' = '5'" in statements[0] and "'uri' = 'jdbc:postgresql://h/db'" in statements[1]
    assert "'k' = 'AK'" in statements[1] and statements[2].startswith("EXECUTE STATEMENT SET")
    assert "'rows-per-second' = '9'" in render_sql(script, {**values, "rate": "9"}, "t.sql")[0]


def test_sql_unknown_placeholder_and_nothing_to_run():
    with pytest.raises(UsageError, match=r"t.sql: unknown placeholder \$\{nope\}"):
        render_sql("INSERT INTO a SELECT '${nope}'", {}, "t.sql")
    with pytest.raises(UsageError, match="nothing would run"):
        render_sql("CREATE TABLE a (x INT);", {}, "t.sql")


def test_launcher_keeps_the_error_of_a_failing_job(tmp_path):
    import subprocess
    import sys

    from lakectl.ops.jobs import LAUNCHER

    job = tmp_path / "job.py"
    (tmp_path / "helper_mod.py").write_text("VALUE = 41\n")
    job.write_text("import sys\nfrom helper_mod import VALUE\nraise KeyError(f'topic {VALUE + 1} {sys.argv[1:]}')\n")
    error = tmp_path / "job.error"
    done = subprocess.run([sys.executable, str(LAUNCHER), str(error), str(job), "--topic", "t"], capture_output=True)
    assert done.returncode == 1
    assert error.read_text() == "KeyError: \"topic 42 ['--topic', 't']\""
    job.write_text("print('fine')\n")
    assert subprocess.run([sys.executable, str(LAUNCHER), str(error), str(job)]).returncode == 0
    assert not error.exists()


def test_launcher_keeps_argparse_complaints(tmp_path):
    import subprocess
    import sys

    from lakectl.ops.jobs import LAUNCHER

    job = tmp_path / "job.py"
    job.write_text("import argparse\np = argparse.ArgumentParser()\np.add_argument('--topic')\np.parse_args()\n")
    error = tmp_path / "job.error"
    done = subprocess.run([sys.executable, str(LAUNCHER), str(error), str(job), "-o", "json"], capture_output=True)
    assert done.returncode == 2
    assert error.read_text() == "job.py: error: unrecognized arguments: -o json"
