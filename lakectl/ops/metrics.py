"""`lakectl metrics`: a PromQL query, or the summary (Prometheus' curated queries and Bronze freshness
read from the tables) of every pipeline or of one (its Bronze job's series and its Bronze table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakectl.ops.freshness import bronze_freshness

if TYPE_CHECKING:
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.components.prometheus import MetricRow, Prometheus
    from lakectl.pipeline_spec import PipelineSpec


@dataclass
class Summary:
    prometheus: str  # its URL
    metrics: list[MetricRow]
    pipeline: str | None = None  # the summary of this pipeline only

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"prometheus": self.prometheus, "metrics": self.metrics}
        if self.pipeline is not None:
            found["pipeline"] = self.pipeline
        return found


def query(prometheus: Prometheus, promql: str) -> dict[str, Any]:
    """One instant query: ``{"query", "result_type", "result"}``."""
    try:
        return {"query": promql, **prometheus.query(promql)}
    finally:
        prometheus.close()


def summary(prometheus: Prometheus, lakehouse: Callable[[], Lakehouse], *, url: str,
            pipeline: PipelineSpec | None = None) -> Summary:
    """``url``: Prometheus' address as configured (the summary names it). With ``pipeline``: only its
    Bronze job's curated rows (not the stack-wide ones, such as targets up) and its Bronze table's freshness."""
    from lakectl.components.prometheus import CURATED, curated_rows

    job = pipeline.job_name if pipeline else None
    rows: list[MetricRow] = []
    try:
        for curated in CURATED:
            if job is None or curated.per_job:
                rows += curated_rows(curated, prometheus.query(curated.promql), job=job)
    finally:
        prometheus.close()
    if pipeline is None:
        return Summary(url, rows + bronze_freshness(lakehouse))
    fresh = bronze_freshness(lakehouse, table=pipeline.table, formats=pipeline.formats)
    return Summary(url, rows + fresh, pipeline.name)
