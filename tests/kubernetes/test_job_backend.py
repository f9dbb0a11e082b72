"""`lakectl job ...` on a profile with flink.backend = "kubernetes": the commands create and patch the Flink
operator's resources on a real API server (tests/kubernetes/conftest.py). No operator runs here, so where a
command waits for the operator's answer the test writes that answer into the resource's status subresource,
as the operator would; everything else is the real server's behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakectl.runtime import versions

pytestmark = pytest.mark.kubernetes

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "jobs-k8s"
API = "flink.apache.org/v1beta1"


@pytest.fixture(scope="module")
def jobs_namespace(client):
    client.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    return NAMESPACE


@pytest.fixture
def run(plane, jobs_namespace, tmp_path):
    """lakectl in the checkout (the job files are under its flink_jobs/), pointed at the control plane."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKECTL_", "KUBECONFIG"))}
    env.update({"LAKECTL_KUBERNETES__KUBECONFIG": str(plane.kubeconfig), "LAKECTL_KUBERNETES__NAMESPACE": NAMESPACE,
                "LAKECTL_KUBERNETES__IMAGE_PREFIX": "registry.example.internal/lakectl",
                "LAKECTL_FLINK__BACKEND": "kubernetes", "LAKECTL_STATE_DIR": str(tmp_path / "state"),
                "LAKECTL_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
                "LAKECTL_CONFIG": str(REPO / "lakectl.toml")})

    def lakectl(*args: str, background: bool = False):
        argv = [sys.executable, "-m", "lakectl", *args]
        if background:
            return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    return lakectl


def set_status(client, kind_plural: str, name: str, status: dict) -> None:
    """What the operator would write: the status subresource."""
    path = f"/apis/{API}/namespaces/{NAMESPACE}/{kind_plural}/{name}/status"
    client.request("PATCH", path, {"status": status}, content_type="application/merge-patch+json")


def deployment(client, name: str) -> dict | None:
    return client.get(API, "FlinkDeployment", name, NAMESPACE)


def test_submit_list_savepoint_suspend_ensure_cancel(client, run):
    job = "flink_jobs/bronze/job.py"
    done = run("job", "submit", job, "--name", "bronze_k8s", "--no-wait", "-o", "json", "--", "--topic", "trades")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "bronze_k8s"
    obj = deployment(client, "bronze-k8s")
    assert obj is not None
    spec = obj["spec"]
    assert spec["flinkVersion"] == versions.FLINK_OPERATOR_FLINK_VERSION
    assert spec["job"]["upgradeMode"] == "savepoint" and spec["job"]["state"] == "running"
    assert spec["job"]["args"][:2] == ["-py", "/opt/lakectl/flink_jobs/bronze/job.py"]
    assert spec["job"]["args"][-2:] == ["--topic", "trades"]
    assert spec["image"].startswith("registry.example.internal/lakectl/flink-job:")
    assert obj["metadata"]["labels"]["lakectl.io/job"] == "bronze_k8s"
    # what the job's pods need came with it
    assert client.get("v1", "ServiceAccount", "flink-jobs", NAMESPACE) is not None
    assert client.get("v1", "ConfigMap", "flink-job-context", NAMESPACE) is not None

    again = run("job", "submit", job, "--name", "bronze_k8s", "--no-wait", "--", "--topic", "trades")
    assert again.returncode == 2 and "already deployed" in again.stderr and len(again.stderr.splitlines()) == 1

    set_status(client, "flinkdeployments", "bronze-k8s", {
        "lifecycleState": "STABLE", "jobStatus": {"state": "RUNNING", "jobId": "f" * 32,
                                                  "startTime": str(int(time.time() * 1000))}})
    listed = json.loads(run("job", "list", "-o", "json").stdout)["jobs"]
    assert [(j["name"], j["state"], j["job_id"]) for j in listed] == [("bronze_k8s", "RUNNING", "f" * 32)]
    status = run("job", "status", "bronze_k8s", "-o", "json")
    assert status.returncode == 0 and json.loads(status.stdout)["lifecycle"] == "STABLE"

    # a savepoint: a FlinkStateSnapshot the command waits on until the operator reports its path
    waiting = run("job", "savepoint", "bronze_k8s", "--target", "s3://warehouse/flink/savepoints", "-o", "json",
                  background=True)
    try:
        snapshot = None
        for _ in range(100):
            found = client.list(API, "FlinkStateSnapshot", NAMESPACE)
            if found:
                snapshot = found[0]
                break
            time.sleep(0.2)
        assert snapshot is not None, "no FlinkStateSnapshot was created"
        assert snapshot["spec"]["jobReference"] == {"kind": "FlinkDeployment", "name": "bronze-k8s"}
        assert snapshot["spec"]["savepoint"]["path"] == "s3://warehouse/flink/savepoints"
        set_status(client, "flinkstatesnapshots", snapshot["metadata"]["name"],
                   {"state": "COMPLETED", "path": "s3://warehouse/flink/savepoints/savepoint-ffffff-1"})
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert json.loads(out)["savepoint"] == "s3://warehouse/flink/savepoints/savepoint-ffffff-1"

    # an upgrade: the same resource, a new spec (the operator takes it through a savepoint)
    replaced = run("job", "submit", job, "--name", "bronze_k8s", "--replace", "--no-wait", "-o", "json", "--",
                   "--topic", "trades", "--formats", "iceberg")
    assert replaced.returncode == 0, replaced.stderr
    assert deployment(client, "bronze-k8s")["spec"]["job"]["args"][-2:] == ["--formats", "iceberg"]

    stopped = run("job", "cancel", "bronze_k8s", "--savepoint", "--no-wait", "-o", "json")
    assert stopped.returncode == 0, stopped.stderr
    assert deployment(client, "bronze-k8s")["spec"]["job"]["state"] == "suspended"
    assert json.loads(run("job", "list", "-o", "json").stdout)["jobs"] == []  # not active
    set_status(client, "flinkdeployments", "bronze-k8s", {
        "lifecycleState": "SUSPENDED", "jobStatus": {"state": "FINISHED", "savepointInfo": {
            "lastSavepoint": {"location": "s3://warehouse/flink/savepoints/savepoint-ffffff-2"}}}})

    ensured = run("job", "ensure", job, "--name", "bronze_k8s", "--no-wait", "-o", "json", "--", "--topic", "trades")
    assert ensured.returncode == 0, ensured.stderr
    result = json.loads(ensured.stdout)
    assert result["action"] == "restored from savepoint"
    assert result["from_savepoint"] == "s3://warehouse/flink/savepoints/savepoint-ffffff-2"
    assert deployment(client, "bronze-k8s")["spec"]["job"]["state"] == "running"

    cancelled = run("job", "cancel", "bronze_k8s", "-o", "json")
    assert cancelled.returncode == 0, cancelled.stderr
    for _ in range(50):  # no finalizer here: the server deletes it at once, or nearly
        if deployment(client, "bronze-k8s") is None:
            break
        time.sleep(0.1)
    assert deployment(client, "bronze-k8s") is None


def test_bad_input_is_one_line(run, tmp_path):
    unknown = run("job", "status", "nope")
    assert unknown.returncode == 2 and "no FlinkDeployment for job 'nope'" in unknown.stderr
    sql = tmp_path / "job.sql"
    sql.write_text("INSERT INTO x SELECT 1;")
    refused = run("job", "submit", str(sql), "--no-wait")
    assert refused.returncode == 2 and "PyFlink file" in refused.stderr
    outside = tmp_path / "job.py"
    outside.write_text("print('hi')\n")
    refused = run("job", "submit", str(outside), "--no-wait")
    assert refused.returncode == 2 and "flink-job image" in refused.stderr
    for done in (unknown, refused):
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_inside_a_pod_the_client_uses_the_service_account(plane, tmp_path, monkeypatch):
    """An Airflow task on Kubernetes has no kubeconfig: its pod's token and CA (here the control plane's, in the
    files a pod has them in) and KUBERNETES_SERVICE_HOST/_PORT."""
    from urllib.parse import urlparse

    from lakectl.components.kubernetes import KubernetesClient
    from lakectl.errors import ConfigError

    server = urlparse(plane.server)
    (tmp_path / "token").write_text(plane.token)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", server.hostname)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    with KubernetesClient.in_cluster(token_file=tmp_path / "token", ca_file=plane.ca_file) as kube:
        assert kube.context == "in-cluster" and kube.version()["major"] == "1"
        assert kube.get("v1", "Namespace", "default") is not None
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ConfigError, match="in-cluster"):
        KubernetesClient.in_cluster(token_file=tmp_path / "token", ca_file=plane.ca_file)
