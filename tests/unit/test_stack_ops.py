"""doctor and status: the Java checks come from the ServiceSpecs (one per range, naming who needs it); a
failed required check exits 1 (CheckFailed), an unhealthy service 3, each after the report is printed."""

from __future__ import annotations

import json

from lakectl.errors import ComponentError
from lakectl.ops import doctor
from lakectl.runtime.service_table import for_runtime


def test_java_checks_are_read_from_the_specs(monkeypatch):
    import lakectl.runtime.native.java as java

    def find_java(minimum, maximum=None):
        if minimum >= 24:
            raise ComponentError(f"no Java {minimum}+ found")
        return f"/jdk-{minimum}/bin/java"

    monkeypatch.setattr(java, "find_java", find_java)
    checks = {c.check: c for c in doctor.java_checks(for_runtime("native").values())}
    assert list(checks) == ["java 11-17 (flink)", "java 17+ (kafka, object-store)", "java 21+ (schema-registry)",
                            "java 24+ (trino)"]
    assert checks["java 21+ (schema-registry)"].ok and checks["java 21+ (schema-registry)"].detail == "/jdk-21/bin/java"
    assert not checks["java 24+ (trino)"].ok and checks["java 24+ (trino)"].failed
    assert "no Java 24+ found" in checks["java 24+ (trino)"].detail


def test_a_failed_required_check_prints_the_report_then_exits_1(run, monkeypatch):
    report = doctor.DoctorReport([doctor.Check("maven", False, "mvn not on PATH"),
                                  doctor.Check("docker engine", False, "no engine", required=False)])
    monkeypatch.setattr(doctor, "run_checks", lambda loaded: report)
    result = run("doctor", "-o", "json")
    assert result.code == 1
    assert json.loads(result.out) == {"ok": False, "checks": [
        {"check": "maven", "ok": False, "required": True, "detail": "mvn not on PATH"},
        {"check": "docker engine", "ok": False, "required": False, "detail": "no engine"}]}
    assert result.err.strip() == "lakectl: error: doctor: 1 required check(s) failed: maven"


def test_status_prints_every_service_then_exits_3_when_a_started_one_is_unhealthy(run, monkeypatch):
    from lakectl.ops import stack
    from lakectl.runtime.base import ServiceStatus

    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    services = [ServiceStatus("kafka", "running", False, "127.0.0.1:9092", "native"),
                ServiceStatus("trino", "not-started", None, "http://127.0.0.1:8080", "native")]
    monkeypatch.setattr(stack, "status", lambda rt: stack.StackStatus("native", services))
    result = run("status", "-o", "json")
    assert result.code == 3
    assert [s["name"] for s in json.loads(result.out)["services"]] == ["kafka", "trino"]
    assert result.err.strip() == "lakectl: error: not healthy: kafka"
