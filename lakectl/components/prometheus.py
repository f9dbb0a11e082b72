"""Prometheus 2.x HTTP API (v1): instant queries (``/api/v1/query``), the scrape targets, and the
curated summary ``lakectl metrics`` prints (the PromQL and how its answers become typed rows).

Errors: unreachable -> ServiceUnavailable (exit 3); a query Prometheus refuses (a PromQL syntax
error, a type error, a timeout of the query) -> PrometheusError (exit 1) with Prometheus' message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import httpx

from lakectl.components.http import HttpError, RestService, base_url

FLINK_TM = "flink_taskmanager_job_task_operator_"
JOB_LABEL = "job_name"  # the Flink job's name on its metrics (a pipeline's job is bronze_<pipeline>)


class PrometheusError(HttpError):
    @property
    def kind(self) -> str | None:
        """Prometheus' errorType: bad_data, execution, timeout, ..."""
        return self.detail("errorType")


class MetricRow(TypedDict):
    """One line of the summary, as ``lakectl metrics -o json`` prints it."""

    metric: str
    labels: dict[str, str]
    value: float | None
    unit: str
    note: NotRequired[str]  # why there is no value


def no_value(metric: str, unit: str, note: str) -> MetricRow:
    return {"metric": metric, "labels": {}, "value": None, "unit": unit, "note": note}


@dataclass(frozen=True)
class Curated:
    """One line of the summary: a PromQL query and which of its labels name the subject."""

    metric: str
    unit: str
    promql: str
    labels: dict[str, str]  # summary label -> Prometheus label
    help: str

    @property
    def per_job(self) -> bool:
        """Whether its series are Flink jobs' (labelled ``job_name``): a pipeline's summary keeps those."""
        return JOB_LABEL in self.labels.values()


# Names checked against the live reporters (Flink 1.20 with the Kafka source, Iceberg and Delta
# sinks; Prometheus 2.42). Rates are Flink's own meters (per second over its last minute), so one
# scrape is enough for a value.
CURATED: tuple[Curated, ...] = (
    Curated("up", "", "up", {"target": "job", "instance": "instance"},
            "1 when Prometheus' last scrape of the target succeeded"),
    Curated("records_in_per_s", "records/s",
            f'sum by (job_name) ({FLINK_TM}numRecordsOutPerSecond{{operator_name=~"Source:.*"}})',
            {"job": "job_name"}, "records the job's sources read, per second"),
    Curated("records_out_per_s", "records/s",
            # every sink writer that has received records (a sink's post-commit writer never does)
            f'sum by (job_name, operator_name) ({FLINK_TM}numRecordsInPerSecond{{operator_name=~".*Writer.*"}}) '
            f'and on (job_name, operator_name) (sum by (job_name, operator_name) ({FLINK_TM}numRecordsIn) > 0)',
            {"job": "job_name", "sink": "operator_name"}, "records each sink writer takes in, per second"),
    Curated("kafka_lag_records", "records",
            f"sum by (job_name) ({FLINK_TM}pendingRecords)",
            {"job": "job_name"}, "records in Kafka the job's source has not read yet (all partitions)"),
    Curated("checkpoint_age_s", "s",
            # Flink exports no completion time: the last moment the completed-checkpoint id changed
            "time() - max by (job_name) (max_over_time(timestamp("
            "changes(flink_jobmanager_job_lastCompletedCheckpointId[20s]) > 0)[1h:5s]))",
            {"job": "job_name"}, "seconds since the last completed checkpoint (within the last hour)"),
    Curated("checkpoint_duration_ms", "ms", "max by (job_name) (flink_jobmanager_job_lastCheckpointDuration)",
            {"job": "job_name"}, "how long the last completed checkpoint took"),
)


class Prometheus(RestService):
    service = "prometheus"
    up_hint = "lakectl up prometheus"
    error_type = PrometheusError

    @classmethod
    def connect(cls, url: str, *, verify: bool = True, timeout: float = 10.0) -> Prometheus:
        client = httpx.Client(base_url=base_url(url, cls.service), timeout=timeout, verify=verify,
                              headers={"Accept": "application/json"},
                              transport=httpx.HTTPTransport(retries=2, verify=verify))
        return cls(client)

    def error_message(self, response: httpx.Response, body: Any) -> str:
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])
        return response.text.strip()[:300] or response.reason_phrase

    def query(self, promql: str) -> dict[str, Any]:
        """An instant query: ``{"result_type", "result": [{"metric", "value", "timestamp"} | ...]}``."""
        data = self._request("GET", "/api/v1/query", params={"query": promql})
        return parse_query_result((data or {}).get("data") or {})

    def targets(self) -> list[dict[str, Any]]:
        data = self._request("GET", "/api/v1/targets", params={"state": "active"})
        return [{"job": t["labels"].get("job"), "instance": t["labels"].get("instance"), "health": t["health"],
                 "scrape_url": t.get("scrapeUrl"), "last_error": t.get("lastError") or ""}
                for t in data["data"]["activeTargets"]]

    def ready(self) -> bool:
        try:
            return self.client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) else value


def parse_query_result(data: dict[str, Any]) -> dict[str, Any]:
    """Prometheus' ``data`` of a query answer as plain rows: each series' labels and its value."""
    kind = data.get("resultType")
    raw = data.get("result")
    if kind in ("scalar", "string"):
        timestamp, value = raw
        return {"result_type": kind, "result": [{"metric": {}, "timestamp": timestamp,
                                                 "value": _number(value) if kind == "scalar" else value}]}
    rows = []
    for series in raw or []:
        if kind == "matrix":  # a range selector queried at one instant: every sample of the range
            values = [[t, _number(v)] for t, v in series["values"]]
            rows.append({"metric": series["metric"], "values": values,
                         "value": values[-1][1] if values else None, "timestamp": values[-1][0] if values else None})
        else:
            timestamp, value = series["value"]
            rows.append({"metric": series["metric"], "timestamp": timestamp, "value": _number(value)})
    return {"result_type": kind, "result": rows}


def curated_rows(curated: Curated, answer: dict[str, Any], *, job: str | None = None) -> list[MetricRow]:
    """The summary rows of one curated query's answer (``parse_query_result`` shape); with ``job``, only
    that Flink job's series (their ``job_name`` label)."""
    found = answer["result"]
    if job is not None:
        found = [series for series in found if series["metric"].get(JOB_LABEL) == job]
    rows: list[MetricRow] = [
        {"metric": curated.metric, "labels": {k: series["metric"].get(p, "") for k, p in curated.labels.items()},
         "value": series["value"], "unit": curated.unit} for series in found]
    rows.sort(key=lambda r: tuple(r["labels"].values()))
    if rows:
        return rows
    # no series: say so rather than leave the line out
    if job is None:
        return [no_value(curated.metric, curated.unit, "no data (no running job reports it yet)")]
    subject = next((k for k, p in curated.labels.items() if p == JOB_LABEL), "job")
    return [{**no_value(curated.metric, curated.unit, f"no data ({job} is not running or reports none yet)"),
             "labels": {subject: job}}]
