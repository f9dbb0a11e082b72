"""Bronze freshness: seconds since the newest commit of each Bronze table, read from the tables.

Not from Prometheus: the catalog's newest snapshot (and the Delta log's last commit) is exactly
what Trino and dbt can read, whichever writer made it; and it keeps growing while the job is
down, when the Iceberg committer's own gauge (elapsedSecondsSinceLastSuccessfulCommit) is gone
with the job. Delta's sink has no such gauge at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from lakectl.components.prometheus import MetricRow, no_value
from lakectl.errors import LakectlError

if TYPE_CHECKING:
    from lakectl.components.lakehouse import Lakehouse, TableInfo

METRIC = "bronze_freshness_s"


def freshness_rows(tables: Sequence[TableInfo], now: float) -> list[MetricRow]:
    """One row per Bronze table (by name, then format); a note when there is none yet."""
    rows: list[MetricRow] = [
        {"metric": METRIC, "labels": {"table": f"bronze.{t.name}", "format": t.format},
         "value": round(now - datetime.fromisoformat(t.updated_at).timestamp(), 1) if t.updated_at else None,
         "unit": "s"} for t in tables]
    rows.sort(key=lambda r: (r["labels"]["table"], r["labels"]["format"]))
    return rows or [no_value(METRIC, "s", "no Bronze table yet")]


def bronze_freshness(lakehouse: Callable[[], Lakehouse], now: float | None = None) -> list[MetricRow]:
    """The freshness rows; one row saying why when the lakehouse cannot be read (never an error:
    the rest of the summary still stands)."""
    now = time.time() if now is None else now
    try:
        house = lakehouse()
        tables = [*house.iceberg_tables("bronze"), *house.delta_tables("bronze")]
    except LakectlError as exc:
        return [no_value(METRIC, "s", f"unavailable: {exc.one_line()}")]
    return freshness_rows(tables, now)
