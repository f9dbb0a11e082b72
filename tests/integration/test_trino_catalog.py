"""Trino's Iceberg catalog lives in PostgreSQL: a query right after PostgreSQL restarted must work.

Trino keeps a small pool of catalog connections; a restart leaves them dead, and the first query that
takes one used to fail with GENERIC_INTERNAL_ERROR "Cannot check and eventually update SQL schema". The
catalog now counts PostgreSQL's 57P01/57P03 as retryable: a plain DB-API client, as dbt and Superset are,
with no retry of its own, must see no failure either."""

import pytest
import trino

from lakectl.polling import Observation, poll_until
from tests.conftest import TEST_PORTS

pytestmark = pytest.mark.integration

TABLE = "iceberg.catalog_restart.t"


def test_a_query_right_after_a_postgres_restart_succeeds(stack):
    stack.ok("query", "CREATE SCHEMA IF NOT EXISTS iceberg.catalog_restart")
    stack.ok("query", f"CREATE TABLE IF NOT EXISTS {TABLE} AS SELECT 1 AS a")
    # every pooled connection has been used once, so that each one is dead after the restart
    for _ in range(3):
        assert stack.ok("query", f"SELECT count(*) AS n FROM {TABLE}", "-o", "json").json()["rows"] == [[1]]

    stack.ok("down", "postgres")
    stack.ok("up", "postgres")

    # first as dbt and Superset query: the trino DB-API client, no retry (lakectl's client retries this error)
    raw = trino.dbapi.connect(host="127.0.0.1", port=TEST_PORTS["trino"], user="no-retry", catalog="iceberg")
    for _ in range(3):  # each query may meet another dead pooled connection
        cursor = raw.cursor()
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        assert cursor.fetchall() == [[1]]
    for _ in range(3):  # at once, and again: each query may meet another dead connection
        assert stack.ok("query", f"SELECT count(*) AS n FROM {TABLE}", "-o", "json").json()["rows"] == [[1]]
    stack.ok("query", f"INSERT INTO {TABLE} VALUES 2")  # writes too: the catalog commit goes through
    assert stack.ok("query", f"SELECT sum(a) FROM {TABLE}", "-o", "json").json()["rows"] == [[3]]
    stack.ok("query", f"DROP TABLE {TABLE}")
    stack.ok("query", "DROP SCHEMA iceberg.catalog_restart")

    # Airflow's scheduler and dag-processor end when their database goes away; the native supervisor
    # starts them again, so the whole stack is healthy again without anyone running `lakectl up`
    def healthy() -> Observation[bool]:
        result = stack.lakectl("status", "-o", "json")
        return Observation(result.code == 0, True, result.err.strip())

    poll_until(healthy, timeout=180, what="every service healthy after the PostgreSQL restart", interval=5)
