"""`lakectl deploy` without a cluster: manifests from a file, the diff of two objects, kubeconfig contexts,
and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from lakectl.components.kubernetes import KubernetesClient, changed_paths, comparable, read_contexts
from lakectl.errors import ConfigError, UsageError
from lakectl.ops.deploy import in_order, objects_from_file

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: dev
clusters: [{name: c, cluster: {server: "https://127.0.0.1:16443"}}]
users: [{name: u, user: {token: t}}]
contexts:
- {name: dev, context: {cluster: c, user: u}}
- {name: staging, context: {cluster: c, user: u}}
"""


def test_objects_from_a_file_unpack_lists_and_skip_empty_documents(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n---\n"
                    + json.dumps({"apiVersion": "v1", "kind": "List", "items": [
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}]}))
    objects = objects_from_file(path)
    assert [o["kind"] for o in objects] == ["Service", "Namespace"]
    assert [o["kind"] for o in in_order(objects)] == ["Namespace", "Service"]


@pytest.mark.parametrize("text", [
    "kind: [unclosed", "- just\n- a list\n", "apiVersion: v1\nkind: Service\n",
    # shapes the CLI fuzz test (issue 15) made: each was an AttributeError or TypeError, not one line
    "apiVersion: v1\nkind: 5\nmetadata: {name: x}\n", "apiVersion: v1\nkind: List\nitems: 5\n",
    "apiVersion: v1\nkind: List\nitems: [5]\n", "apiVersion: v1\nkind: Service\nmetadata: [x]\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: 7}\n",
])
def test_bad_manifests_are_usage_errors(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(UsageError):
        objects_from_file(path)


@pytest.mark.parametrize("content", [bytes(range(256)), b"apiVersion: v1\nkind: \xff\xfe\n"])
def test_a_manifest_that_is_not_utf8_is_a_usage_error(tmp_path, content):
    path = tmp_path / "m.yaml"
    path.write_bytes(content)
    with pytest.raises(UsageError, match="not UTF-8"):
        objects_from_file(path)


def test_changed_paths_name_each_difference():
    before = {"spec": {"replicas": 1, "ports": [{"port": 80}], "gone": True}}
    after = {"spec": {"replicas": 2, "ports": [{"port": 8080}], "new": "x"}}
    assert changed_paths(before, after) == ["spec.gone: removed", "spec.new: added \"x\"",
                                            "spec.ports[0].port: 80 -> 8080", "spec.replicas: 1 -> 2"]


def test_comparable_drops_the_servers_bookkeeping():
    live = {"kind": "Service", "status": {"x": 1},
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "9", "managedFields": [], "labels": {"a": "b"}}}
    assert comparable(live) == {"kind": "Service", "metadata": {"name": "a", "labels": {"a": "b"}}}


def test_contexts_of_a_kubeconfig(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    assert read_contexts(path) == (["dev", "staging"], "dev")


def test_an_unknown_context_names_those_there_are(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    with pytest.raises(ConfigError, match=r"no context 'prod'; its contexts: dev, staging"):
        KubernetesClient.from_kubeconfig(path, "prod")
    assert KubernetesClient.from_kubeconfig(path).context == "dev"


def test_a_missing_kubeconfig_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        KubernetesClient.from_kubeconfig(tmp_path / "nope")


@pytest.mark.parametrize(("content", "fragment"), [(b"current-context: \xc3\x28\n", "not UTF-8 text"),
                                                   (b"[unclosed", "cannot be read")])
def test_a_kubeconfig_that_is_not_yaml_text_is_a_config_error(tmp_path, content, fragment):
    (tmp_path / "config").write_bytes(content)  # the CLI fuzz test: 'unexpected UnicodeDecodeError' in deploy diff
    with pytest.raises(ConfigError, match=fragment):
        KubernetesClient.from_kubeconfig(tmp_path / "config")


def test_cli_unknown_context_is_one_line_exit_2(run, tmp_path, monkeypatch):
    (tmp_path / "config").write_text(KUBECONFIG)
    (tmp_path / "m.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n")
    monkeypatch.setenv("LAKECTL_KUBERNETES__KUBECONFIG", str(tmp_path / "config"))
    result = run("deploy", "apply", "--context", "prod", "-f", str(tmp_path / "m.yaml"))
    assert result.code == 2
    assert result.err.strip().count("\n") == 0 and "dev, staging" in result.err
