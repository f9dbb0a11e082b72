"""P2, P3 and memory: Kafka -> Flink -> Bronze (Iceberg + Delta) on this machine.

P2  catch-up: N trades already in Kafka, then the bronze job starts; events/s until both tables hold
    all N (the job's maximum rate). Sustained: trades produced at a steady rate R for D seconds while
    the job runs; the consumer group's lag is sampled (it is committed on checkpoints, so it saw-tooths
    up to about R x interval) and must not grow from the first half of the run to the second.
    Target >= 50,000/s: the figures are reported as ratios to it.
P3  freshness: for every row, commit time of the Iceberg snapshot / Delta version that made it
    visible minus its event_time (stamped by the producer); p50/p99. Target p99 <= interval + 3 s.
Memory: RSS of every service of the native stack (lakectl status).

Usage: python bench/p2_p3_bronze.py [--records N] [--rate R] [--duration S]
Runs on the stack of the current lakectl settings (`lakectl up` first); creates topics bench_p2_*.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC

from common import JOB, REPO, lakectl, save_result

TARGET_RATE = 50_000


def counts(table: str) -> dict[str, int]:
    tables = lakectl("tables", "--layer", "bronze")["tables"]
    return {t["format"]: t["rows"] for t in tables if t["name"] == table}


def setup(topic: str) -> None:
    lakectl("schema", "register", str(REPO / "schemas" / "trade.avsc"), "--subject", f"{topic}-value")
    lakectl("topic", "create", topic, "--partitions", "3", "--if-not-exists")


def wait_rows(table: str, expected: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = counts(table)
        if found.get("iceberg", 0) >= expected and found.get("delta", 0) >= expected:
            return time.monotonic()
        time.sleep(0.5)
    sys.exit(f"{table}: not all {expected} rows after {timeout}s: {counts(table)}")


def catch_up(records: int) -> dict:
    topic = f"bench_p2_catchup_{int(time.time())}"
    setup(topic)
    lakectl("produce", topic, "--count", str(records))
    submitted = lakectl("job", "submit", JOB, "--name", topic, "--", "--topic", topic)
    while True:  # the clock starts when every task runs (deploying them is not throughput)
        status = lakectl("job", "status", submitted["job_id"])
        if all(v["status"] == "RUNNING" for v in status["vertices"]):
            break
        time.sleep(0.2)
    start = time.monotonic()
    done = wait_rows(topic, records, 1200)
    lakectl("job", "cancel", submitted["job_id"])
    elapsed = done - start
    return {"records": records, "seconds": round(elapsed, 1), "events_per_s": round(records / elapsed),
            "note": "from all tasks running to both tables complete; includes up to one checkpoint interval "
                    "of waiting for the last commit"}


def sustained(rate: int, duration: int) -> tuple[dict, str]:
    from lakectl.context import LakeContext

    topic = f"bench_p2_steady_{int(time.time())}"
    setup(topic)
    lakectl("job", "submit", JOB, "--name", topic, "--", "--topic", topic)
    count = rate * duration
    producer = subprocess.Popen([sys.executable, "-m", "lakectl", "produce", topic, "--count", str(count),
                                 "--rate", str(rate), "-o", "json"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    kafka = LakeContext().kafka()
    samples = []
    start = time.monotonic()
    while producer.poll() is None:
        samples.append((round(time.monotonic() - start, 1), kafka.group_lag(topic, topic)["lag"]))
        time.sleep(2)
    produced = json.loads(producer.stdout.read())
    wait_rows(topic, count, 600)
    drained = time.monotonic() - start
    half = len(samples) // 2
    first, second = [lag for _, lag in samples[:half]], [lag for _, lag in samples[half:]]
    result = {
        "target_rate": rate, "produced_per_s": round(produced["records_per_s"]), "duration_s": duration,
        "lag_mean_first_half": round(statistics.mean(first)) if first else None,
        "lag_mean_second_half": round(statistics.mean(second)) if second else None,
        "lag_max": max((lag for _, lag in samples), default=None),
        "all_rows_committed_after_s": round(drained, 1),
        "lag_growing": bool(first and second and statistics.mean(second) > 1.5 * statistics.mean(first) + rate),
    }
    return result, topic


def freshness(topic: str, interval_s: float) -> dict:
    """Per row: commit time of the snapshot/version that first held it, minus its event_time."""
    import pyarrow.compute as pc

    from lakectl.components.lakehouse import Lakehouse
    from lakectl.context import LakeContext

    app = LakeContext()
    lakehouse = Lakehouse(app.s3(), app.catalog())
    latencies: dict[str, list[float]] = {"iceberg": [], "delta": []}

    def collect(fmt: str, versions: list[tuple[int, float]], read) -> None:
        seen = None
        for version, committed_ms in versions:
            full = read(version).select(["trade_id", "event_time"])
            new = full if seen is None else full.filter(pc.invert(pc.is_in(full["trade_id"], value_set=seen)))
            seen = full["trade_id"].combine_chunks()  # append-only: a version holds every earlier row
            for event_time in new["event_time"].to_pylist():
                if event_time.tzinfo is None:
                    event_time = event_time.replace(tzinfo=UTC)
                latencies[fmt].append(committed_ms / 1000 - event_time.timestamp())

    iceberg = lakehouse.iceberg_table(f"bronze.{topic}")
    snapshots = sorted(((s.snapshot_id, s.timestamp_ms) for s in iceberg.snapshots()), key=lambda s: s[1])
    collect("iceberg", snapshots, lambda sid: iceberg.scan(snapshot_id=sid).to_arrow())
    delta = lakehouse.delta_table("bronze", topic)
    versions = sorted((h["version"], h["timestamp"]) for h in delta.history() if h.get("operation") != "CREATE TABLE")
    collect("delta", versions, lambda v: lakehouse.delta_table("bronze", topic, version=v).to_pyarrow_table())
    result = {"target_p99_s": interval_s + 3}
    for fmt, values in latencies.items():
        values.sort()
        if values:
            result[fmt] = {"rows": len(values), "p50_s": round(values[len(values) // 2], 2),
                           "p99_s": round(values[int(len(values) * 0.99)], 2), "max_s": round(values[-1], 2)}
    return result


def memory() -> dict:
    services = lakectl("status")["services"]
    per = {s["name"]: s["rss_mb"] for s in services if s.get("rss_mb")}
    return {"per_service_mb": per, "total_mb": round(sum(per.values()))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=TARGET_RATE)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--freshness-rate", type=int, default=2_000)
    args = parser.parse_args()
    from lakectl.context import LakeContext

    interval = LakeContext().settings.flink.checkpoint_interval_s
    report: dict = {"checkpoint_interval_s": interval}
    report["p2_catch_up"] = catch_up(args.records)
    report["p2_catch_up"]["ratio_to_target"] = round(report["p2_catch_up"]["events_per_s"] / TARGET_RATE, 2)
    report["p2_sustained"], _ = sustained(args.rate, args.duration)
    report["memory_during_run"] = memory()
    report["p3_run"], topic = sustained(args.freshness_rate, 60)
    report["p3_freshness"] = freshness(topic, interval)
    for job in lakectl("job", "list")["jobs"]:
        if job["name"].startswith("bench_p2_"):
            lakectl("job", "cancel", job["job_id"], check=False)
    save_result("p2_p3", report)


if __name__ == "__main__":
    main()
