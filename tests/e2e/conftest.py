"""End-to-end tests share one native stack (tests/conftest.py); each module leaves the cluster as it
found it, so that one module's long-running jobs never hold the TaskManager slots another needs."""

from __future__ import annotations

import pytest


def cancel_active_jobs(stack) -> None:
    listed = stack.lakectl("job", "list", "-o", "json")
    if listed.code != 0:
        return  # no JobManager (a test stopped it): nothing holds slots
    for job in listed.json()["jobs"]:
        stack.lakectl("job", "cancel", job["job_id"], "-o", "json")


@pytest.fixture(autouse=True, scope="module")
def _cluster_cleared_after_module(stack):
    yield
    cancel_active_jobs(stack)
