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
from typing import Any

TOPIC = "trades"
SUBJECT = f"{TOPIC}-value"
JOB_NAME = "bronze_trades"
PARTITIONS = 3
# what the pipeline needs (dependencies such as postgres follow); orchestration and dashboards are not
SERVICES = ["kafka", "schema-registry", "object-store", "flink", "trino"]
GOLD_RESULT_SQL = ("SELECT rank, symbol, first_price, last_price, change_pct, direction, volume, trade_count "
                   "FROM iceberg.gold.top_movers ORDER BY rank LIMIT 10")


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


def run(app, *, count: int, keep: bool, timeout: float, progress: Callable[[str], None]) -> dict[str, Any]:
    from lakectl.avro import load_schema_file
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.paths import schemas_dir
    from lakectl.runtime.select import start

    stages = Stages(progress)
    started = time.perf_counter()
    result: dict[str, Any] = {"topic": TOPIC, "requested": count}
    with stages.stage("up", "starting the stack"):
        start(app.loaded, SERVICES, progress)
    with stages.stage("schema", f"registering schemas/trade.avsc as {SUBJECT}"):
        result["schema_id"] = app.registry().register(SUBJECT, load_schema_file(schemas_dir() / "trade.avsc"))
    kafka = app.kafka()
    with stages.stage("topic", f"topic {TOPIC} ({PARTITIONS} partitions)"):
        kafka.ensure_topic(TOPIC, PARTITIONS)
    with stages.stage("bronze_job", "the Flink bronze job (Kafka -> Iceberg + Delta)"):
        result["job"] = _ensure_bronze_job(app)
    with stages.stage("produce", f"{count:,} synthetic trades"):
        sent = _produce(app, kafka, count)
        result["produced"] = sent
    with stages.stage("bronze", "until Bronze holds every trade of the topic, in both formats"):
        Lakehouse(app.s3(), app.catalog()).wait_for_topic(kafka, TOPIC, timeout, progress)
    with stages.stage("dbt", "dbt build: Silver and Gold"):
        from lakectl.components import dbt

        outcome = dbt.run(app, "build", dbt.dbt_args("build"), quiet=True)
        outcome.raise_for_status()
        result["dbt"] = outcome.counts()
    with stages.stage("gold", "querying Bronze, Silver and Gold through Trino"):
        result.update(_counts_and_result(app))
    if not keep:
        with stages.stage("down", "stopping the stack (--keep leaves it up)"):
            app.runtime.down(list(app.runtime.catalog.values()), False, lambda _msg: None)  # all: nothing left
    result["stage_seconds"] = stages.seconds
    result["total_seconds"] = round(time.perf_counter() - started, 2)
    return result


def _ensure_bronze_job(app) -> dict[str, Any]:
    """The bronze job runs afterwards: a running one is reused, a stopped one comes back from its
    newest savepoint or checkpoint (what `lakectl job ensure` does), else it starts fresh."""
    from lakectl.jobs import ensure
    from lakectl.paths import flink_jobs_dir

    result = ensure(app, app.flink(), flink_jobs_dir() / "bronze_trades" / "job.py", name=JOB_NAME,
                    parallelism=None, job_args=["--topic", TOPIC])
    return {**result, "reused": result["action"] == "none"}


def _produce(app, kafka, count: int) -> int:
    from lakectl.errors import CheckFailed
    from lakectl.ops.produce import default_workers, produce

    outcome = produce(kafka, app.registry(), TOPIC, count=count, workers=default_workers())
    if outcome.rejected:
        raise CheckFailed(f"produce: {outcome.rejected} synthetic trades were rejected")
    return outcome.sent


def _counts_and_result(app) -> dict[str, Any]:
    from lakectl.components.trino import register_delta_tables

    client = app.trino()
    try:
        register_delta_tables(client, app.s3(), layers=("bronze",))
        counts = {
            "bronze_iceberg_rows": client.scalar(f"SELECT count(*) FROM iceberg.bronze.{TOPIC}"),
            "bronze_delta_rows": client.scalar(f"SELECT count(*) FROM delta.bronze.{TOPIC}"),
            "silver_rows": client.scalar("SELECT count(*) FROM iceberg.silver.trades_clean"),
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
