"""`lakectl query`: one SQL statement through Trino.

A Delta table written since `up` is unknown to Trino until registered in its metastore: when a
query that reads the Delta catalog fails on a missing table or schema, the Delta tables on the
object store are registered and the query runs once more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lakectl.components.trino import DELTA_CATALOG, QueryFailed, QueryResult, register_delta_tables

if TYPE_CHECKING:
    from lakectl.components.object_store import S3Location
    from lakectl.components.trino import TrinoClient

MISSING = ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND")


def may_be_unregistered_delta(error: QueryFailed, sql: str, catalog: str) -> bool:
    """Could registering Delta tables fix this failure? (``catalog``: the session's default one)."""
    reads_delta = DELTA_CATALOG in sql.lower() or catalog == DELTA_CATALOG
    return error.error_name in MISSING and reads_delta


def run(client: TrinoClient, sql: str, params: Sequence[Any], *, catalog: str,
        s3: Callable[[], S3Location], as_of: str | None = None, version: int | None = None) -> QueryResult:
    """Run ``sql`` (``?`` bound to ``params``; every table read ``as_of`` a time or at a ``version`` when
    given) and close the client; one retry after registering Delta tables when that may be why a table
    was missing."""
    from lakectl.components.trino import apply_time_travel, time_travel_clause

    try:
        clause = time_travel_clause(as_of=as_of, version=version)  # a bad --as-of: UsageError, nothing sent
        if clause:
            sql = apply_time_travel(sql, clause)
        try:
            return client.execute(sql, params)
        except QueryFailed as exc:
            if not may_be_unregistered_delta(exc, sql, catalog) or not register_delta_tables(client, s3()):
                raise
        return client.execute(sql, params)
    finally:
        client.close()
