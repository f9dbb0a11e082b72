"""P1: `lakectl produce` vs Kafka's own ProducerPerformance, same broker, same run, same record size.

Also a naive baseline: one JSON record at a time, each send awaited. All producers use acks=all and
idempotence; lakectl and the Java tool also share linger, batch size and compression. Target:
lakectl >= 0.8x the Java tool. Usage: python bench/p1_produce.py [--records N] [--rounds R]
(the native stack is started with `lakectl up kafka schema-registry` if it is not running).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

from common import REPO, RESULTS, lakectl

LAKECTL = [sys.executable, "-m", "lakectl"]
PERF_LINE = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec .*99th", re.M)
PARTITIONS = 3


def fresh_topic(name: str) -> None:
    lakectl("topic", "delete", name, check=False)
    for _ in range(50):  # deletion is asynchronous in Kafka
        if lakectl("topic", "create", name, "--partitions", str(PARTITIONS), check=False):
            return
        time.sleep(0.2)
    sys.exit(f"could not recreate topic {name}")


def record_size(schema_text: str) -> int:
    from lakectl.avro import WireCodec
    from lakectl.ops.produce.trades import generate

    codec = WireCodec(schema_text, 1)
    sizes = [len(codec.encode(t)) for _, t in generate(10_000, prefix="0123456789ab")]
    return round(statistics.mean(sizes))


def java_tool(bootstrap: str, topic: str, records: int, size: int) -> float:
    from lakectl.components.kafka import producer_config
    from lakectl.context import LakeContext
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.native.java import find_java
    from lakectl.runtime.services.kafka import classpath

    stack = StackContext(LakeContext().loaded, "native")
    shared = producer_config({})
    props = [f"bootstrap.servers={bootstrap}", "acks=all", "enable.idempotence=true",
             f"linger.ms={shared['linger.ms']}", f"batch.size={shared['batch.size']}",
             f"compression.type={shared['compression.type']}", "buffer.memory=268435456"]
    done = subprocess.run(
        [find_java(17), "-Xmx1g", "-cp", classpath(stack), "org.apache.kafka.tools.ProducerPerformance",
         "--topic", topic, "--num-records", str(records), "--record-size", str(size), "--throughput", "-1",
         "--producer-props", *props],
        capture_output=True, text=True,
    )
    match = PERF_LINE.search(done.stdout)
    if not match:
        sys.exit(f"ProducerPerformance printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    return float(match.group(2))


def lakectl_produce(topic: str, records: int) -> tuple[float, str]:
    """Records/s, and which generator made the trades ("rust": lakectl_tradegen, "python": fastavro)."""
    summary = lakectl("produce", topic, "--count", str(records))
    return float(summary["records_per_s"]), summary.get("generator") or "python"


def naive_json(bootstrap: str, topic: str, records: int) -> float:
    """What people write first: json.dumps each trade and wait for its delivery before the next."""
    from confluent_kafka import Producer

    from lakectl.ops.produce.trades import generate

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    started = time.perf_counter()
    for key, trade in generate(records, prefix="naive"):
        producer.produce(topic, json.dumps(trade, default=str).encode(), key)
        producer.flush()
    return records / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--naive-records", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    subprocess.run([*LAKECTL, "up", "kafka", "schema-registry"], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    status = {s["name"]: s for s in lakectl("status")["services"]}
    bootstrap = status["kafka"]["url"]
    subject_file = REPO / "schemas" / "trade.avsc"
    runs: dict[str, list[float]] = {"java": [], "lakectl": [], "naive": []}
    generators: set[str] = set()
    for name in ("bench-java", "bench-lakectl", "bench-naive"):
        lakectl("schema", "register", str(subject_file), "--subject", f"{name}-value")
    schema = lakectl("schema", "get", "bench-lakectl-value")["schema"]
    size = record_size(json.dumps(schema))
    for round_no in range(1, args.rounds + 1):
        # alternate the order so neither side always gets the warmer broker
        order = ("java", "lakectl") if round_no % 2 else ("lakectl", "java")
        for who in order:
            fresh_topic(f"bench-{who}")
            generator = ""
            if who == "java":
                value = java_tool(bootstrap, "bench-java", args.records, size)
            else:
                value, generator = lakectl_produce("bench-lakectl", args.records)
                generators.add(generator)
            runs[who].append(value)
            print(f"round {round_no}: {who:8s} {value:12,.0f} records/s {generator}", file=sys.stderr)
    fresh_topic("bench-naive")
    runs["naive"].append(naive_json(bootstrap, "bench-naive", args.naive_records))
    print(f"naive:            {runs['naive'][0]:12,.0f} records/s", file=sys.stderr)

    java, ours, naive = (statistics.median(runs[k]) for k in ("java", "lakectl", "naive"))
    report = {
        "benchmark": "P1 produce throughput",
        "record_size_bytes": size,
        "records_per_run": args.records,
        "rounds": args.rounds,
        "partitions": PARTITIONS,
        "runs": runs,
        "lakectl_generator": "+".join(sorted(generators)),
        "median_records_per_s": {"java_producer_perf": java, "lakectl": ours, "naive_json": naive},
        "ratio_lakectl_vs_java": round(ours / java, 3),
        "ratio_lakectl_vs_naive": round(ours / naive, 1),
        "target_ratio_vs_java": 0.8,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "p1.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
