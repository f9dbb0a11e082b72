"""The compose runtime end to end on a real Docker engine: images built from the Debian base, the stack up,
the demo, verify, the Airflow DAG (its tasks run lakectl inside the Airflow image), a TaskManager container
killed mid-stream with exact counts after, bad input, and ``down --purge`` leaving nothing behind.

The tests run in order and share one stack (module scope): each builds on the one before.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from lakectl.runtime.service_table import for_runtime
from tests.compose.conftest import COMPOSE_PORTS
from tests.e2e.bronze_helpers import trades_flowing, wait_for_rows

pytestmark = pytest.mark.compose

PROJECT = "lakectl"  # compose's project name (lakectl/runtime/compose.py)
DEMO_COUNT = 20_000


def _containers(engine, *extra: str) -> list[str]:
    return engine.lines("ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
                        "--format", "{{.Names}}", *extra)


def test_images_build_from_the_debian_base_and_are_kept(compose_stack, engine):
    built = compose_stack.ok("image", "build", "-o", "json", timeout=3600).json()["images"]
    families = {image["family"] for image in built}
    assert families >= {"postgres", "kafka", "schema-registry", "object-store", "flink", "trino", "prometheus",
                        "airflow", "superset"}
    assert all(image["size_mb"] for image in built)
    # every image is tagged with its content hash: a second build finds them all
    again = compose_stack.ok("image", "build", "-o", "json", timeout=600).json()["images"]
    assert [image["built"] for image in again] == [False] * len(again)
    assert [image["image"] for image in again] == [image["image"] for image in built]
    listed = compose_stack.ok("image", "list", "-o", "json").json()["images"]
    assert all(row["built"] for row in listed)


def test_the_kubernetes_images_build_from_the_family_images(compose_stack, engine):
    """flink-job (FlinkDeployments) and airflow-project (Airflow on Kubernetes): FROM the flink and airflow family
    images just built, with what the rendered manifests expect inside them."""
    from lakectl.runtime import versions
    from lakectl.runtime.images import LAKECTL_BIN, PROJECT_DIR
    from lakectl.runtime.kubernetes.render import airflow

    built = compose_stack.ok("image", "build", "flink-job", "airflow-project", "-o", "json", timeout=1800).json()
    tags = {image["family"]: image["image"] for image in built["images"]}
    assert set(tags) == {"flink-job", "airflow-project"}

    def inside(image: str, script: str):
        return engine.docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", script)

    checks = ["test -x /opt/lakectl/entrypoint.sh", "test -x /opt/flink/bin/kubernetes-jobmanager.sh",
              f"test -f /opt/flink/opt/flink-python-{versions.FLINK}.jar", "test -s /opt/flink/java-opts",
              f"test -x /opt/lakectl/cache/venvs/flink-{versions.FLINK}/bin/python",
              "test -f /opt/lakectl/flink_jobs/bronze/job.py", "test -f /opt/lakectl/lakectl/avro_sql.py"]
    done = inside(tags["flink-job"], " && ".join(checks))
    assert done.returncode == 0, done.stdout + done.stderr
    # the entry point fills the job context's placeholders from the environment into a 0600 file
    script = ("printf '{\"p\": \"${X}\"}' > /tmp/t.json && X=s3cr3t LAKECTL_JOB_CONTEXT_TEMPLATE=/tmp/t.json "
              "LAKECTL_JOB_CONTEXT=/tmp/lakectl/c.json /opt/lakectl/entrypoint.sh sh -c "
              "'cat /tmp/lakectl/c.json; echo; stat -c %a /tmp/lakectl/c.json'")
    done = inside(tags["flink-job"], script)
    assert done.stdout.split() == ['{"p":', '"s3cr3t"}', "600"], done.stdout + done.stderr

    project = inside(tags["airflow-project"], (
        f'test "$LAKECTL_PROJECT_DIR" = {PROJECT_DIR} && cd "$LAKECTL_PROJECT_DIR" && ls lakectl/__init__.py '
        "dags/pipelines.py schemas/trades.pipeline.toml dbt_project/dbt_project.yml flink_jobs/bronze/job.py "
        f"lakectl.toml && {LAKECTL_BIN} version -o json && {airflow.AIRFLOW} version"))
    assert project.returncode == 0, project.stdout + project.stderr
    assert '"lakectl"' in project.stdout
    again = compose_stack.ok("image", "build", "flink-job", "airflow-project", "-o", "json", timeout=600).json()
    assert [image["built"] for image in again["images"]] == [False, False]


def test_up_starts_every_service_in_its_container(compose_stack, engine):
    started = compose_stack.lakectl("up", "-o", "json", timeout=1800)
    assert started.code == 0, started.err[-3000:]
    assert "runtime: compose" in started.err
    services = {s["name"]: s for s in started.json()["services"]}
    # a plain `up` leaves out Grafana (no registry serves its image here) and the optional services (connect)
    left_out = {"grafana", *(spec.name for spec in for_runtime("compose").values() if spec.optional)}
    assert all(services[name]["state"] == "not-started" for name in left_out if name in services)
    running = {name: s for name, s in services.items() if name not in left_out}
    assert all(s["healthy"] for s in running.values()), running
    assert len(_containers(engine, "--filter", "status=running")) == len(running)
    # lakectl on the host reaches every service at its published 127.0.0.1 port, as natively
    status = compose_stack.ok("status", "-o", "json").json()
    assert status["runtime"] == "compose"
    for service in status["services"]:
        if service["name"] not in left_out:
            assert service["healthy"] is True and service.get("container"), service
    # safe to run twice: nothing restarted
    ids = _containers(engine, "--format", "{{.ID}} {{.Status}}")
    compose_stack.ok("up", "-o", "json", timeout=600)
    assert [line.split()[0] for line in _containers(engine, "--format", "{{.ID}}")] == [
        line.split()[0] for line in ids]


def test_demo_and_verify_on_compose(compose_stack):
    result = compose_stack.lakectl("demo", "--count", str(DEMO_COUNT), "--keep", "-o", "json", timeout=1800)
    assert result.code == 0, result.err[-3000:]
    report = result.json()
    assert report["bronze_iceberg_rows"] == DEMO_COUNT and report["bronze_delta_rows"] == DEMO_COUNT
    assert report["silver_rows"] == DEMO_COUNT and report["gold_rows"] > 0
    verified = compose_stack.lakectl("verify", "--pipeline", "trades", "-o", "json", timeout=600)
    assert verified.code == 0, verified.err[-2000:] + verified.out[-2000:]


def test_host_commands_reach_the_containers_as_natively(compose_stack):
    # Prometheus (in its container) scrapes every other container at its 127.0.0.1 port
    up = compose_stack.ok("metrics", "--query", "up", "-o", "json").json()["result"]
    # an optional service a plain `up` leaves out (connect) is a target that is down, as it is natively
    left_out = {spec.name for spec in for_runtime("compose").values() if spec.optional}
    scraped = [sample for sample in up if sample["metric"]["job"] not in left_out]
    assert scraped and all(float(sample["value"]) == 1 for sample in scraped), up
    assert compose_stack.ok("metrics", "-o", "json").json()["metrics"]
    trino = compose_stack.ok("open", "trino", "-o", "json").json()
    assert trino["url"] == f"http://127.0.0.1:{COMPOSE_PORTS['trino']}"
    logs = compose_stack.ok("logs", "kafka", "--tail", "20")
    assert len(logs.out.splitlines()) == 20
    rows = compose_stack.ok("query", "SELECT count(*) AS n FROM iceberg.bronze.trades", "-o", "json").json()
    assert rows["rows"] == [[DEMO_COUNT]]


def test_the_dag_runs_lakectl_inside_the_airflow_image(compose_stack):
    run = compose_stack.lakectl("dag", "trigger", "stock_data_pipeline", "--wait", "--timeout", "900", "-o", "json",
                                timeout=1200)
    assert run.code == 0, run.err[-3000:] + run.out[-3000:]
    assert run.json()["state"] == "success"


def test_a_taskmanager_container_killed_mid_stream_loses_and_duplicates_nothing(compose_stack, engine):
    count = 60_000
    with trades_flowing(compose_stack, "trades_tm_kill", "bronze_tm_kill", count, rate=4000):
        time.sleep(6)
        killed = engine.docker("kill", f"{PROJECT}-flink-taskmanager-1")
        assert killed.returncode == 0, killed.stderr
        # `up` brings the killed container back (the readiness loop sees it is not running)
        compose_stack.ok("up", "flink-taskmanager", "-o", "json", timeout=600)
        time.sleep(20)  # the producer finishes meanwhile
    produced = json.loads(compose_stack.ok("topic", "describe", "trades_tm_kill", "-o", "json").out)
    total = sum(p["high"] - p["low"] for p in produced["partitions"])
    counts = wait_for_rows(compose_stack, "trades_tm_kill", total, timeout=300)
    assert counts == {"iceberg": total, "delta": total}
    verified = compose_stack.lakectl("verify", "--topic", "trades_tm_kill", "--key", "trade_id", "-o", "json",
                                     timeout=600)
    assert verified.code == 0, verified.out[-2000:]


def test_bad_input_gets_one_line_and_the_right_exit_code(compose_stack, engine):
    # an engine that does not answer (the CLI is there, the daemon is not)
    stopped = compose_stack.lakectl("up", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, timeout=120)
    assert stopped.code == 3, stopped.err
    assert stopped.err.strip().splitlines()[-1].startswith("lakectl: error: no Docker engine answers")
    # an image build that fails: a base image that does not exist (and no registry to pull it from)
    failed = compose_stack.lakectl("image", "build", "prometheus",
                                   env={"LAKECTL_IMAGE_BASE": "lakectl/no-such-base:1"}, timeout=600)
    assert failed.code == 1, failed.err
    last = failed.err.strip().splitlines()[-1]
    assert last.startswith("lakectl: error: image lakectl/base:") and "the build failed" in last, failed.err
    assert "Traceback" not in failed.err
    # a port already taken: Prometheus stopped, its port held by someone else
    compose_stack.ok("down", "prometheus", timeout=300)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", COMPOSE_PORTS["prometheus"]))
        holder.listen()
        taken = compose_stack.lakectl("up", "prometheus", timeout=300)
    assert taken.code == 3, taken.err
    assert f"port {COMPOSE_PORTS['prometheus']}" in taken.err.strip().splitlines()[-1], taken.err
    compose_stack.ok("up", "prometheus", timeout=600)


def test_down_purge_leaves_no_container_volume_or_network(compose_stack, engine):
    compose_stack.ok("down", "--purge", "-o", "json", timeout=600)
    assert _containers(engine) == []
    assert engine.lines("volume", "ls", "--filter", f"label=com.docker.compose.project={PROJECT}", "-q") == []
    assert engine.lines("network", "ls", "--filter", f"label=com.docker.compose.project={PROJECT}", "-q") == []
    assert not (compose_stack.state_dir / "compose").exists()
