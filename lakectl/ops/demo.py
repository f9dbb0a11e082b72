"""``lakectl demo``: the stock-trade pipeline end to end, each stage timed.

up -> schema -> topic -> bronze job -> produce N trades -> Bronze holds them (Iceberg and Delta)
-> dbt build (Silver, Gold) -> query Gold through Trino. Every stage is the same code the
individual commands run; a stage that fails stops the demo with that command's error and exit code.
Running it again adds N more trades (the bronze job keeps running and is reused).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.components.object_store import S3Location
    from lakectl.components.registry import SchemaRegistry
    from lakectl.components.trino import TrinoClient
    from lakectl.ops.dbt import DbtTarget
    from lakectl.ops.jobs import JobCluster
    from lakectl.pipeline_spec import PipelineSpec

PIPELINE = "trades"  # schemas/trades.pipeline.toml: topic, schema, partitions, Bronze job
# what the pipeline needs (dependencies such as postgres follow); orchestration and dashboards are not
SERVICES = ["kafka", "schema-registry", "object-store", "flink", "trino"]
GOLD_RESULT_SQL = ("SELECT rank, symbol, first_price, last_price, change_pct, direction, volume, trade_count "
                   "FROM iceberg.gold.top_movers ORDER BY rank LIMIT 10")


@dataclass(frozen=True)
class DemoStack:
    """What the demo drives. Each client is made when its stage comes (the stack is up by then)."""

    start: Callable[[list[str], Callable[[str], None]], None]  # services, progress
    stop_all: Callable[[], None]
    registry: Callable[[], SchemaRegistry]
    kafka: Callable[[], KafkaClient]
    jobs: Callable[[], JobCluster]
    lakehouse: Callable[[], Lakehouse]
    dbt: Callable[[], DbtTarget]
    trino: Callable[[], TrinoClient]
    s3: Callable[[], S3Location]


@dataclass
class DemoResult:
    """What the demo did: the trades produced and where they arrived, Gold's answer, each stage's seconds."""

    topic: str
    requested: int
    schema_id: int | None = None
    job: dict[str, Any] = field(default_factory=dict)  # the bronze job (`job ensure`'s answer, + reused)
    produced: int = 0
    dbt: dict[str, int] = field(default_factory=dict)  # dbt build's node counts by status
    counts: dict[str, Any] = field(default_factory=dict)  # rows per layer and Gold's answer (_counts_and_result)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "requested": self.requested, "schema_id": self.schema_id, "job": self.job,
                "produced": self.produced, "dbt": self.dbt, **self.counts, "stage_seconds": self.stage_seconds,
                "total_seconds": self.total_seconds}


class Stages:
    """Times each stage; reports its start through ``progress``."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        self.progress(f"[{len(self.seconds) + 1}] {name}: {what}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 2)


def run(stack: DemoStack, *, count: int, keep: bool, timeout: float,
        progress: Callable[[str], None]) -> DemoResult:
    from lakectl import pipeline_spec

    spec = pipeline_spec.load(PIPELINE)
    stages = Stages(progress)
    started = time.perf_counter()
    result = DemoResult(spec.topic, count)
    with stages.stage("up", "starting the stack"):
        stack.start(SERVICES, progress)
    registry = stack.registry()
    with stages.stage("schema", f"registering schemas/{spec.schema.name} as {spec.subject}"):
        result.schema_id = registry.register(spec.subject, spec.schema_text)
    kafka = stack.kafka()
    with stages.stage("topic", f"topic {spec.topic} ({spec.partitions} partitions)"):
        kafka.ensure_topic(spec.topic, spec.partitions)
    with stages.stage("bronze_job", "the Flink bronze job (Kafka -> Iceberg + Delta)"):
        result.job = _ensure_bronze_job(stack.jobs(), spec)
    with stages.stage("produce", f"{count:,} synthetic trades"):
        result.produced = _produce(kafka, registry, spec.topic, count)
    with stages.stage("bronze", "until Bronze holds every trade of the topic, in both formats"):
        stack.lakehouse().wait_for_topic(kafka, spec.topic, timeout, progress, table=spec.table,
                                         formats=spec.formats)
    with stages.stage("dbt", "dbt build: Silver and Gold"):
        from lakectl.components.dbt import dbt_args
        from lakectl.ops import dbt

        outcome = dbt.run(stack.dbt(), "build", dbt_args("build"), quiet=True)
        outcome.raise_for_status()
        result.dbt = outcome.counts()
    with stages.stage("gold", "querying Bronze, Silver and Gold through Trino"):
        result.counts = _counts_and_result(stack.trino(), stack.s3(), spec)
    if not keep:
        with stages.stage("down", "stopping the stack (--keep leaves it up)"):
            stack.stop_all()
    result.stage_seconds = stages.seconds
    result.total_seconds = round(time.perf_counter() - started, 2)
    return result


def _ensure_bronze_job(cluster: JobCluster, spec: PipelineSpec) -> dict[str, Any]:
    """The bronze job runs afterwards: a running one is reused, a stopped one comes back from its
    newest savepoint or checkpoint (what `lakectl job ensure` does), else it starts fresh."""
    from lakectl.ops.jobs import ensure
    from lakectl.ops.pipelines import BRONZE_JOB, job_args

    result = ensure(cluster, BRONZE_JOB, name=spec.job_name, parallelism=spec.parallelism,
                    job_args=job_args(spec))
    return {**result.to_dict(), "reused": result.action == "none"}


def _produce(kafka, registry, topic: str, count: int) -> int:
    from lakectl.errors import CheckFailed
    from lakectl.ops.produce import default_workers, produce

    outcome = produce(kafka, registry, topic, count=count, workers=default_workers())
    if outcome.rejected:
        raise CheckFailed(f"produce: {outcome.rejected} synthetic trades were rejected")
    return outcome.sent


def _counts_and_result(client: TrinoClient, s3: S3Location, spec: PipelineSpec) -> dict[str, Any]:
    from lakectl.components.trino import register_delta_tables

    try:
        register_delta_tables(client, s3, layers=("bronze",))
        counts = {
            "bronze_iceberg_rows": client.scalar(f"SELECT count(*) FROM iceberg.bronze.{spec.table}"),
            "bronze_delta_rows": client.scalar(f"SELECT count(*) FROM delta.bronze.{spec.table}"),
            "silver_rows": client.scalar(f"SELECT count(*) FROM iceberg.silver.{spec.silver_table}"),
        }
        gold = {}
        for (table,) in client.execute("SELECT table_name FROM iceberg.information_schema.tables "
                                       "WHERE table_schema = 'gold' ORDER BY table_name").rows:
            gold[table] = client.scalar(f'SELECT count(*) FROM iceberg.gold."{table}"')
        result = client.execute(GOLD_RESULT_SQL)
    finally:
        client.close()
    return {**counts, "gold_rows": sum(gold.values()), "gold_tables": gold,
            "result": {"table": "gold.top_movers", "columns": result.columns, "rows": result.rows}}
