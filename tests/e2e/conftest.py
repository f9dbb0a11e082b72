"""End-to-end tests share one native stack (tests/conftest.py); each module leaves the cluster as it
found it, so that one module's long-running jobs never hold the TaskManager slots another needs."""

from __future__ import annotations

import pytest

_ARTIFACTS = pytest.StashKey[list]()


def report_artifact(config: pytest.Config, line: str) -> None:
    """A line for the end of pytest's output (kept with -q and without -s): artifacts, measurements."""
    config.stash.setdefault(_ARTIFACTS, []).append(line)


def pytest_terminal_summary(terminalreporter, config) -> None:
    lines = config.stash.get(_ARTIFACTS, [])
    if lines:
        terminalreporter.section("e2e artifacts")
        for line in lines:
            terminalreporter.write_line(line)


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
