"""Every Grafana panel query returns data while trades flow.

Grafana itself has no native runtime (no registry serves it), so its dashboards are checked where
their data comes from: each panel target's PromQL, with Grafana's built-in variables substituted
(tests/grafana_dashboards.py), runs as a range query over the last minutes against the native
stack's live Prometheus while the bronze job reads a steady stream of trades. A query that
Prometheus refuses, or that returns no sample that is a number, fails the test with its panel.
"""

from __future__ import annotations

import math
import time

import httpx
import pytest

from tests.conftest import TEST_PORTS
from tests.e2e.bronze_helpers import trades_flowing
from tests.grafana_dashboards import dashboard_files, load, queries

pytestmark = pytest.mark.e2e

TOPIC = "trades_grafana"
JOB_NAME = "bronze_grafana"
PROMETHEUS = f"http://127.0.0.1:{TEST_PORTS['prometheus']}"
WINDOW_S = 180  # the range each query covers (Prometheus scrapes every 10 s)
DEADLINE_S = 150  # how long a panel may stay empty once the job runs (first checkpoints, first rates)


@pytest.fixture(scope="module")
def flowing(stack):
    """The bronze job on its own topic, trades arriving at a steady rate, and a few Trino queries."""
    # enough trades to still be flowing when the fixture stops the producer (60,000 at 300/s ran out at about
    # the time the test ended: a SIGTERM in the producer's last milliseconds killed it, exit -15)
    with trades_flowing(stack, TOPIC, JOB_NAME, count=600_000, rate=300) as job:
        yield job
    stack.lakectl("job", "cancel", JOB_NAME)


def _range_query(client: httpx.Client, promql: str) -> tuple[str | None, int]:
    """(Prometheus' error or None, how many samples of the last WINDOW_S are numbers)."""
    end = time.time()
    response = client.get("/api/v1/query_range", params={"query": promql, "start": end - WINDOW_S, "end": end,
                                                          "step": "15s"})
    body = response.json()
    if body.get("status") != "success":
        return f"{body.get('errorType')}: {body.get('error')}", 0
    values = [float(v) for series in body["data"]["result"] for _, v in series["values"]]
    return None, sum(1 for v in values if not math.isnan(v))


def test_every_panel_query_returns_data_while_trades_flow(stack, flowing):
    panel_queries = [q for path in dashboard_files() for q in queries(load(path))]
    assert len(panel_queries) >= 30, "the three dashboards lost their panels"
    pending = {q.name: q for q in panel_queries}
    last: dict[str, str] = {}
    deadline = time.monotonic() + DEADLINE_S
    with httpx.Client(base_url=PROMETHEUS, timeout=20) as client:
        while pending:
            # Trino's query panels (execution time, input rows) need queries to have run recently
            stack.ok("query", f"SELECT count(*) FROM iceberg.bronze.{TOPIC}", "-o", "json")
            for name, query in list(pending.items()):
                error, samples = _range_query(client, query.promql())
                if error:  # a malformed or refused query never heals: fail at once
                    pytest.fail(f"{name}: Prometheus refused {query.promql()!r}: {error}")
                if samples:
                    del pending[name]
                else:
                    last[name] = query.promql()
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(10)  # one scrape interval
    assert not pending, "panels without data after {}s while trades flow:\n{}".format(
        DEADLINE_S, "\n".join(f"  {name}: {last[name]}" for name in pending))
