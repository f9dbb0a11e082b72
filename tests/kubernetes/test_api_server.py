"""Server-side checks on a real kube-apiserver: what kubeconform's schemas cannot see is refused here with
the server's own message, and `lakectl deploy apply` / `deploy diff` work against it."""

from __future__ import annotations

import json
import time

import pytest

from lakectl.components.kubernetes import KubernetesClient, KubernetesError
from lakectl.runtime.kubernetes import crds
from lakectl.runtime.kubernetes.control_plane import free_ports
from lakectl.runtime.kubernetes.validate import validate
from tests import kube_objects as k

pytestmark = pytest.mark.kubernetes

WANTED_CRDS = {"kafkas.kafka.strimzi.io", "kafkanodepools.kafka.strimzi.io", "kafkatopics.kafka.strimzi.io",
               "kafkausers.kafka.strimzi.io", "kafkaconnects.kafka.strimzi.io", "kafkaconnectors.kafka.strimzi.io",
               "flinkdeployments.flink.apache.org", "flinksessionjobs.flink.apache.org",
               "flinkstatesnapshots.flink.apache.org", "podmonitors.monitoring.coreos.com",
               "servicemonitors.monitoring.coreos.com"}


def test_the_operators_crds_are_established(client):
    installed = {crd["metadata"]["name"]: crd for crd in client.list("apiextensions.k8s.io/v1",
                                                                     "CustomResourceDefinition")}
    assert set(installed) >= WANTED_CRDS
    for name in WANTED_CRDS:
        conditions = {c["type"]: c["status"] for c in installed[name]["status"]["conditions"]}
        assert conditions["Established"] == "True", name
    # Strimzi 1.x serves kafka.strimzi.io/v1 only
    assert [v["name"] for v in installed["kafkas.kafka.strimzi.io"]["spec"]["versions"] if v["served"]] == ["v1"]


def test_valid_objects_pass_a_server_side_dry_run(client):
    applied = client.apply(k.good_objects(), dry_run=True)
    assert [o["kind"] for o in applied] == [o["kind"] for o in k.good_objects()]
    assert client.get("apps/v1", "Deployment", "registry", k.NAMESPACE) is None  # a dry run stores nothing


def test_fifty_objects_dry_run(client):
    objects = []
    for i in range(10):
        objects += [k.deployment(f"svc-{i}"), k.service(f"svc-{i}"), k.kafka_topic(f"feed-{i}"),
                    k.flink_deployment(f"bronze-{i}"), k.pod_monitor(f"mon-{i}")]
    started = time.monotonic()
    client.apply(objects, dry_run=True)
    print(f"\nserver-side dry-run of {len(objects)} objects: {time.monotonic() - started:.2f}s")


def refusal(client: KubernetesClient, obj: dict) -> str:
    assert validate([obj], k.cache_dir()) == [], "kubeconform accepts it: only the server can refuse it"
    with pytest.raises(KubernetesError) as refused:
        client.apply([obj], dry_run=True)
    assert refused.value.exit_code == 1 and "\n" not in refused.value.one_line()
    return refused.value.one_line()


def test_a_selector_that_misses_the_labels_is_refused(client):
    obj = k.planted(k.deployment(), "spec.selector", {"matchLabels": {"app": "other"}})
    message = refusal(client, obj)
    assert message.startswith("Deployment/registry:")
    assert "selector" in message and "does not match template" in message


def test_a_strimzi_cel_rule_is_refused_with_its_message(client):
    obj = k.planted(k.kafka_user(), "spec.authentication", {"type": "scram-sha-512", "validityDays": 30})
    message = refusal(client, obj)
    assert "'validityDays' and 'renewalDays' can be configured only with 'type: tls'" in message


def test_a_wrong_flink_version_is_refused(client):
    obj = k.planted(k.flink_deployment(), "spec.flinkVersion", "v2_0")
    with pytest.raises(KubernetesError) as refused:
        client.apply([obj], dry_run=True)
    assert "spec.flinkVersion" in refused.value.message and "v1_20" in refused.value.message


def test_apply_then_diff_shows_nothing_then_a_change(client, lakectl, tmp_path):
    manifests = tmp_path / "objects.yaml"
    objects = [k.deployment("diffed"), k.service("diffed"), k.kafka_topic("diffed")]
    manifests.write_text("".join(f"---\n{json.dumps(o)}\n" for o in objects))

    first = lakectl("deploy", "diff", "-f", str(manifests))
    assert first.code == 1 and "create Deployment/diffed" in first.out, first.err

    applied = lakectl("deploy", "apply", "-f", str(manifests), "-o", "json")
    assert applied.code == 0, applied.err
    assert [o["kind"] for o in json.loads(applied.out)["objects"]] == ["Deployment", "Service", "KafkaTopic"]
    assert client.get("kafka.strimzi.io/v1", "KafkaTopic", "diffed", k.NAMESPACE)["spec"]["partitions"] == 3

    same = lakectl("deploy", "diff", "-f", str(manifests))
    assert same.code == 0, same.out + same.err
    assert "no differences" in same.out

    objects[2] = k.kafka_topic("diffed", partitions=6)
    manifests.write_text("".join(f"---\n{json.dumps(o)}\n" for o in objects))
    changed = lakectl("deploy", "diff", "-f", str(manifests), "-o", "json")
    assert changed.code == 1, changed.err
    report = json.loads(changed.out)
    assert report["changed"] == 1
    [topic] = [o for o in report["objects"] if o["action"] != "unchanged"]
    assert topic["kind"] == "KafkaTopic" and topic["changes"] == ["spec.partitions: 3 -> 6"]


def test_apply_dry_run_through_the_cli_stores_nothing(client, lakectl, tmp_path):
    manifests = tmp_path / "objects.yaml"
    manifests.write_text(json.dumps(k.deployment("dry")))
    done = lakectl("deploy", "apply", "--dry-run", "-f", str(manifests))
    assert done.code == 0, done.err
    assert "checked (dry run)" in done.out
    assert client.get("apps/v1", "Deployment", "dry", k.NAMESPACE) is None


def test_a_refusal_through_the_cli_is_one_line_exit_1(lakectl, tmp_path):
    manifests = tmp_path / "objects.yaml"
    manifests.write_text(json.dumps(k.planted(k.deployment("bad"), "spec.selector", {"matchLabels": {"x": "y"}})))
    done = lakectl("deploy", "apply", "-f", str(manifests))
    assert done.code == 1
    assert done.err.count("\n") == 1 and "Deployment/bad" in done.err and "Traceback" not in done.err


def test_an_unknown_context_is_a_config_error_naming_the_contexts(lakectl, tmp_path):
    manifests = tmp_path / "objects.yaml"
    manifests.write_text(json.dumps(k.service()))
    done = lakectl("deploy", "diff", "--context", "prod", "-f", str(manifests))
    assert done.code == 2
    assert done.err.count("\n") == 1 and "'prod'" in done.err and "lakectl-check" in done.err


def test_an_unreachable_api_server_is_unavailable(lakectl, plane, tmp_path):
    [port] = free_ports(1)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(plane.kubeconfig.read_text().replace(plane.server, f"https://127.0.0.1:{port}"))
    manifests = tmp_path / "objects.yaml"
    manifests.write_text(json.dumps(k.service()))
    done = lakectl("deploy", "apply", "-f", str(manifests),
                   extra_env={"LAKECTL_KUBERNETES__KUBECONFIG": str(kubeconfig)})
    assert done.code == 3, done.err
    assert done.err.count("\n") == 1 and f"127.0.0.1:{port}" in done.err and "Traceback" not in done.err


def test_a_bad_manifest_file_is_a_usage_error(lakectl, tmp_path):
    manifests = tmp_path / "objects.yaml"
    manifests.write_text("kind: [unclosed\n")
    done = lakectl("deploy", "apply", "-f", str(manifests))
    assert done.code == 2 and done.err.count("\n") == 1


def test_client_verbs_on_a_flink_deployment(client):
    obj = k.flink_deployment("verbs")
    created = client.create(obj)
    assert created["metadata"]["uid"]
    listed = client.list("flink.apache.org/v1beta1", "FlinkDeployment", k.NAMESPACE)
    assert "verbs" in [o["metadata"]["name"] for o in listed]
    patched = client.patch("flink.apache.org/v1beta1", "FlinkDeployment", "verbs",
                           {"spec": {"job": {"state": "suspended"}}}, k.NAMESPACE)
    assert patched["spec"]["job"]["state"] == "suspended"
    assert client.delete("flink.apache.org/v1beta1", "FlinkDeployment", "verbs", k.NAMESPACE) is True
    assert client.delete("flink.apache.org/v1beta1", "FlinkDeployment", "verbs", k.NAMESPACE) is False


def test_crd_files_are_the_ones_installed():
    names = {path.name for path in crds.crd_files(k.cache_dir())}
    assert "040-Crd-kafka.yaml" in names and "monitoring.coreos.com_podmonitors.yaml" in names
