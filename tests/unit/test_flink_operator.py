"""How the kubernetes job backend reads the Flink operator's resources (pure logic: status fields).
The resources themselves are created on a real API server in tests/kubernetes/test_job_backend.py."""

from __future__ import annotations

import json

from lakectl.components.flink_operator import OperatorJob, _error_text


def test_a_deployment_the_operator_has_not_seen_is_pending():
    job = OperatorJob.of({"metadata": {"name": "bronze-trades", "labels": {"lakectl.io/job": "bronze_trades"}},
                          "spec": {"job": {"state": "running"}}})
    assert (job.name, job.resource, job.state, job.lifecycle, job.job_id) == (
        "bronze_trades", "bronze-trades", "PENDING", "PENDING", "")


def test_the_operators_status_fields():
    obj = {
        "metadata": {"name": "bronze-trades"},
        "spec": {"job": {"state": "suspended"}},
        "status": {
            "lifecycleState": "SUSPENDED",
            "jobStatus": {"state": "FINISHED", "jobId": "a" * 32, "startTime": "1764720000000",
                          "savepointInfo": {"lastSavepoint": {"location": "s3://warehouse/flink/savepoints/sp-1"}}},
            "error": json.dumps({"type": "org.apache.flink.kubernetes.operator.exception.ReconciliationException",
                                 "message": "Job could not be upgraded\nat ...stack..."}),
        },
    }
    job = OperatorJob.of(obj)
    assert job.name == "bronze-trades"  # no label: the resource's name
    assert (job.state, job.lifecycle, job.desired, job.job_id) == ("FINISHED", "SUSPENDED", "suspended", "a" * 32)
    assert job.savepoint == "s3://warehouse/flink/savepoints/sp-1"
    assert job.error == "Job could not be upgraded"
    data = job.to_dict()
    assert data["resource"] == "FlinkDeployment/bronze-trades" and data["start_time"] == 1764720000000


def test_errors_as_the_operator_writes_them():
    assert _error_text(None) is None
    assert _error_text("plain text\nsecond line") == "plain text"
    assert _error_text('{"type": "T"}') == "T"
