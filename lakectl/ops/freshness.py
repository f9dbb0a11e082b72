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


def freshness_rows(tables: Sequence[TableInfo], now: float, *, table: str | None = None,
                   formats: Sequence[str] = ()) -> list[MetricRow]:
    """One row per Bronze table (by name, then format); a note when there is none yet.

    With ``table`` (a pipeline's): only that table's rows, and one saying so for each of ``formats``
    it has no table in yet."""
    if table is not None:
        tables = [t for t in tables if t.name == table]
    rows: list[MetricRow] = [
        {"metric": METRIC, "labels": {"table": f"bronze.{t.name}", "format": t.format},
         "value": round(now - datetime.fromisoformat(t.updated_at).timestamp(), 1) if t.updated_at else None,
         "unit": "s"} for t in tables]
    if table is not None:
        found = {r["labels"]["format"] for r in rows}
        rows += [_about(table, f"no {fmt} table yet", fmt) for fmt in formats if fmt not in found]
    rows.sort(key=lambda r: (r["labels"]["table"], r["labels"]["format"]))
    if rows:
        return rows
    return [_about(table, "no Bronze table yet") if table is not None else no_value(METRIC, "s", "no Bronze table yet")]


def _about(table: str, note: str, fmt: str | None = None) -> MetricRow:
    labels = {"table": f"bronze.{table}"} | ({"format": fmt} if fmt else {})
    return {**no_value(METRIC, "s", note), "labels": labels}


def bronze_freshness(lakehouse: Callable[[], Lakehouse], now: float | None = None, *, table: str | None = None,
                     formats: Sequence[str] = ()) -> list[MetricRow]:
    """The freshness rows (with ``table``: that table's, read in ``formats`` only when given); one row
    saying why when the lakehouse cannot be read (never an error: the rest of the summary still stands)."""
    now = time.time() if now is None else now
    try:
        house = lakehouse()
        readers = {"iceberg": house.iceberg_tables, "delta": house.delta_tables}
        tables = [t for fmt in (formats or readers) for t in readers[fmt]("bronze")]
    except LakectlError as exc:
        note = f"unavailable: {exc.one_line()}"
        return [_about(table, note) if table is not None else no_value(METRIC, "s", note)]
    return freshness_rows(tables, now, table=table, formats=formats)
