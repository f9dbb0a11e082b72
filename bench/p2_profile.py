"""P2 profile: where the Bronze job's time goes while it catches up on queued trades.

The job runs with operator chaining off (`--no-chaining`), so Flink reports each operator's busy time
(busyTimeMsPerSecond, averaged over its subtasks) instead of one figure for the whole chain: Kafka source
with Avro decoding, the Table -> DataStream hand-over, the Iceberg writer (Parquet encoding) and committer,
the Delta writer (Parquet encoding) and committer. Unchained, records are serialized between operators,
so the job is slower than the real one: the shares say where CPU goes, not the real job's rate.

Usage: python bench/p2_profile.py [--records N]   (`lakectl up` first)
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from common import JOB, REPO, lakectl, save_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    args = parser.parse_args()
    from lakectl.context import LakeContext

    topic = f"bench_p2_profile_{int(time.time())}"
    lakectl("schema", "register", str(REPO / "schemas" / "trade.avsc"), "--subject", f"{topic}-value")
    lakectl("topic", "create", topic, "--partitions", "3", "--if-not-exists")
    lakectl("produce", topic, "--count", str(args.records))
    job = lakectl("job", "submit", JOB, "--name", topic, "--", "--topic", topic, "--no-chaining")
    flink = LakeContext().flink()
    vertices = {v["id"]: v["name"] for v in flink.job(job["job_id"])["vertices"]}
    samples: dict[str, list[float]] = {name: [] for name in vertices.values()}
    started = time.monotonic()
    try:
        while True:
            tables = lakectl("tables", "--layer", "bronze")["tables"]
            rows = {t["format"]: t["rows"] for t in tables if t["name"] == topic}
            if min(rows.get("iceberg", 0), rows.get("delta", 0)) >= args.records:
                break
            for vid, name in vertices.items():
                metric = flink._request("GET", f"/jobs/{job['job_id']}/vertices/{vid}/subtasks/metrics",
                                        params={"get": "busyTimeMsPerSecond", "agg": "avg"})
                value = float(metric[0]["avg"]) if metric and metric[0].get("avg") is not None else math.nan
                if not math.isnan(value):  # NaN until a task has been measured
                    samples[name].append(value)
            time.sleep(2)
    finally:
        lakectl("job", "cancel", job["job_id"], check=False)
    elapsed = time.monotonic() - started
    busy = {name: round(statistics.mean(values)) for name, values in samples.items() if values}
    total = sum(busy.values()) or 1
    result = {"records": args.records, "seconds_unchained": round(elapsed, 1),
              "events_per_s_unchained": round(args.records / elapsed),
              "busy_ms_per_s": dict(sorted(busy.items(), key=lambda kv: -kv[1])),
              "share": {name: round(ms / total, 2) for name, ms in sorted(busy.items(), key=lambda kv: -kv[1])}}
    save_result("p2_profile", result)


if __name__ == "__main__":
    main()
