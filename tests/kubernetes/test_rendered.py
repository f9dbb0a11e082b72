"""What `lakectl deploy render` writes, on a real kube-apiserver with the operators' CRDs: every object of the demo
and of a nested pipeline passes a server-side dry-run (admission, schemas, CEL rules), `deploy apply` then
`deploy diff` shows nothing, and a changed setting shows up in the diff."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakectl.paths import schemas_dir
from lakectl.runtime.kubernetes import render as kube
from lakectl.settings import load_settings

pytestmark = pytest.mark.kubernetes

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "rendered"


@pytest.fixture
def run(plane, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKECTL_", "KUBECONFIG"))}
    env.update({"LAKECTL_KUBERNETES__KUBECONFIG": str(plane.kubeconfig), "LAKECTL_KUBERNETES__NAMESPACE": NAMESPACE,
                "LAKECTL_OBJECT_STORE__ENDPOINT": "http://minio.storage.svc:9000",
                "LAKECTL_SECRETS_FILE": str(tmp_path / "no-secrets.toml"), "PYTHONPATH": str(REPO)})
    if "LAKECTL_CACHE_DIR" in os.environ:
        env["LAKECTL_CACHE_DIR"] = os.environ["LAKECTL_CACHE_DIR"]

    def lakectl(*args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lakectl", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=180, env={**env, **(extra or {})})

    return lakectl


def test_render_apply_then_diff_shows_nothing(client, run, tmp_path):
    out = tmp_path / "manifests"
    rendered = run("deploy", "render", "--out", str(out), "-o", "json")
    assert rendered.returncode == 0, rendered.stderr
    count = json.loads(rendered.stdout)["objects"]
    # a dry run needs the namespace to exist: it is the first object, applied for real first
    client.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    checked = run("deploy", "apply", "--dry-run", "-f", str(out), "-o", "json")
    assert checked.returncode == 0, checked.stderr
    assert len(json.loads(checked.stdout)["objects"]) == count
    assert client.get("kafka.strimzi.io/v1", "Kafka", "lakehouse", NAMESPACE) is None  # nothing stored

    applied = run("deploy", "apply", "-f", str(out), "-o", "json")
    assert applied.returncode == 0, applied.stderr
    kafka = client.list("kafka.strimzi.io/v1", "KafkaTopic", NAMESPACE)
    assert {"trades", "trades.dlq"} <= {t["spec"].get("topicName", t["metadata"]["name"]) for t in kafka}
    assert client.list("flink.apache.org/v1beta1", "FlinkDeployment", NAMESPACE)

    same = run("deploy", "diff", "-o", "json")  # a fresh render, compared with what is live
    assert same.returncode == 0, same.stdout + same.stderr
    assert json.loads(same.stdout)["changed"] == 0

    changed = run("deploy", "diff", extra={"LAKECTL_KUBERNETES__IMAGE_PREFIX": "registry.example.internal/other"})
    assert changed.returncode == 1, changed.stderr
    assert "FlinkDeployment" in changed.stdout and "registry.example.internal/other" in changed.stdout


def test_a_nested_pipeline_passes_a_server_side_dry_run(client, tmp_path, monkeypatch):
    directory = tmp_path / "schemas"
    directory.mkdir()
    shutil.copy(schemas_dir() / "examples" / "orders.avsc", directory / "orders.avsc")
    (directory / "orders.pipeline.toml").write_text(
        'schema = "orders.avsc"\ntopic = "shop.orders"\nkey = "order_id"\nevent_time = "placed_at"\n'
        "partitions = 6\nparallelism = 3\n")
    monkeypatch.setenv("LAKECTL_KUBERNETES__NAMESPACE", "nested")
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    objects = kube.render(load_settings(cwd=tmp_path), directory=directory)
    client.apply([o for o in objects if o["kind"] == "Namespace"])
    accepted = client.apply(objects, dry_run=True)
    assert [o["kind"] for o in accepted] == [o["kind"] for o in objects]
    flink = [o for o in accepted if o["kind"] == "FlinkDeployment"]
    assert [f["spec"]["job"]["parallelism"] for f in flink] == [3]


def test_an_external_kafka_listener_passes_a_server_side_dry_run(client, tmp_path, monkeypatch):
    """[kubernetes] kafka_external: Strimzi's CRD (and its CEL rules) accept the extra listener of either type."""
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("LAKECTL_KUBERNETES__NAMESPACE", NAMESPACE)
    client.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    for kind in ("loadbalancer", "nodeport"):
        monkeypatch.setenv("LAKECTL_KUBERNETES__KAFKA_EXTERNAL", kind)
        objects = [o for o in kube.render(load_settings(cwd=tmp_path)) if o["kind"] == "Kafka"]
        accepted = client.apply(objects, dry_run=True)
        listeners = {item["name"]: item["type"] for item in accepted[0]["spec"]["kafka"]["listeners"]}
        assert listeners == {"scram": "internal", "tls": "internal", "external": kind}


def test_kafka_connect_and_a_connector_file_pass_a_server_side_dry_run(client, run, tmp_path):
    """The KafkaConnect (its plugin build, SCRAM login, metrics) and a KafkaConnector rendered from a connector file
    (deploy/connect/file-source.json, placeholders from --set) against Strimzi's CRDs."""
    out = tmp_path / "with-connector"
    rendered = run("deploy", "render", "--out", str(out), "--connector", str(REPO / "deploy" / "connect" /
                   "file-source.json"), "--set", "file=/data/lines.txt", "--set", "topic=trades", "-o", "json")
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout)["kinds"]["KafkaConnector"] == 1
    assert json.loads(rendered.stdout)["kinds"]["KafkaConnect"] == 1
    client.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    checked = run("deploy", "apply", "--dry-run", "-f", str(out), "-o", "json")
    assert checked.returncode == 0, checked.stderr
    kinds = [o["kind"] for o in json.loads(checked.stdout)["objects"]]
    assert "KafkaConnect" in kinds and "KafkaConnector" in kinds
    assert client.get("kafka.strimzi.io/v1", "KafkaConnector", "file-source", NAMESPACE) is None
    unfilled = run("deploy", "render", "--out", str(tmp_path / "u"), "--connector",
                   str(REPO / "deploy" / "connect" / "file-source.json"))
    assert unfilled.returncode == 2 and "${file}" in unfilled.stderr
    assert len(unfilled.stderr.strip().splitlines()) == 1


def test_bad_input_is_one_line(run, tmp_path):
    missing = run("deploy", "render", "--out", str(tmp_path / "m"), "--pipeline", "nope")
    assert missing.returncode == 2 and "nope" in missing.stderr
    unknown = run("deploy", "diff", "--context", "nope")
    assert unknown.returncode == 2 and "no context 'nope'" in unknown.stderr
    for done in (missing, unknown):
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
