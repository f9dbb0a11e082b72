"""`lakectl metrics`: a PromQL query, or the pipeline's summary (Prometheus' curated queries and
Bronze freshness read from the tables)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakectl.ops.freshness import bronze_freshness

if TYPE_CHECKING:
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.components.prometheus import MetricRow, Prometheus


@dataclass
class Summary:
    prometheus: str  # its URL
    metrics: list[MetricRow]

    def to_dict(self) -> dict[str, Any]:
        return {"prometheus": self.prometheus, "metrics": self.metrics}


def query(prometheus: Prometheus, promql: str) -> dict[str, Any]:
    """One instant query: ``{"query", "result_type", "result"}``."""
    try:
        return {"query": promql, **prometheus.query(promql)}
    finally:
        prometheus.close()


def summary(prometheus: Prometheus, lakehouse: Callable[[], Lakehouse], *, url: str) -> Summary:
    """``url``: Prometheus' address as configured (the summary names it)."""
    from lakectl.components.prometheus import CURATED, curated_rows

    rows: list[MetricRow] = []
    try:
        for curated in CURATED:
            rows += curated_rows(curated, prometheus.query(curated.promql))
    finally:
        prometheus.close()
    return Summary(url, rows + bronze_freshness(lakehouse))
