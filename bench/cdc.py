"""Change data capture from PostgreSQL (issue 16's benchmarks), on this machine, in one run:

throughput   N changes (N/2 inserts, then N/2 updates of those rows) committed to a table of the stack's
             PostgreSQL as fast as it takes them (transactions of 500), while the pipeline runs: changes/s from
             the first commit until Bronze holds every change in both Iceberg and Delta (Debezium, Kafka, the
             Bronze job).
baseline     the same number of records through `lakectl produce --synthetic` into a normal pipeline (the
             clicks example, flat): records/s from the start of produce until Bronze holds them all, so that
             a shared machine's load shows in both figures of the run.
latency      one update every 100 ms for --trickle-s seconds while `dbt build` of the model runs back to back:
             from each update's source commit (Debezium's source.ts_ms) to the first Trino answer holding it,
             in Bronze and in Silver (a table rebuilt per build, so Silver's delay is Bronze's plus up to two
             builds); p50/p99 of each.
rss          the Connect worker's RSS (`lakectl status`), after the run.

Both pipelines checkpoint (and so commit Bronze) every --checkpoint-s seconds (2 by default).
Usage: python bench/cdc.py [--changes N]  (`lakectl up` and `lakectl up connect` first).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from urllib.parse import urlparse

from common import REPO, lakectl, save_result

DATABASE = "bench_shop"


def state() -> Path:
    """The stack's state dir: beside its lakectl.toml (LAKECTL_CONFIG, else the checkout's)."""
    config = os.environ.get("LAKECTL_CONFIG")
    return (Path(config).parent if config else REPO) / ".lakectl"


def connect(database: str = "postgres"):
    """The stack's PostgreSQL through lakectl's own client (autocommit; ``rows`` runs one statement)."""
    from lakectl.components.postgres import PgAccess, Postgres

    url = urlparse(lakectl("open", "postgres")["url"])
    password = json.loads((state() / "secrets.json").read_text())["postgres_password"]
    return Postgres(PgAccess(url.hostname, url.port, url.username, password), database)


def bronze_counts(table: str) -> list[int]:
    """Rows in each format; 0 for a table Trino does not have yet (Delta's exists from the sink's first commit)."""
    return [(lakectl("query", f"SELECT count(*) FROM {catalog}.bronze.{table}", check=False).get("rows") or [[0]])[0][0]
            for catalog in ("iceberg", "delta")]


def wait_for(table: str, expected: int, timeout: float = 1200) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if min(bronze_counts(table)) >= expected:
            return time.monotonic()
        time.sleep(0.5)
    raise SystemExit(f"bronze.{table} did not reach {expected} rows in {timeout} s: {bronze_counts(table)}")


def set_checkpoint(name: str, seconds: float) -> None:
    spec = REPO / "schemas" / f"{name}.pipeline.toml"
    lines = [f"checkpoint_interval_s = {seconds:g}" if line.startswith("checkpoint_interval_s") else line
             for line in spec.read_text().splitlines()]
    spec.write_text("\n".join(lines) + "\n")


def throughput(db, name: str, changes: int) -> dict:
    inserts = changes // 2
    start = time.monotonic()
    for first in range(1, inserts + 1, 500):
        last = min(first + 499, inserts)
        db.rows("INSERT INTO items SELECT i, 'item-' || i, mod(i, 97), (i * 1.25)::numeric(12, 2), clock_timestamp() "
                "FROM generate_series(%s, %s) AS i", (first, last))
    written = time.monotonic()
    for first in range(1, changes - inserts + 1, 500):
        last = min(first + 499, changes - inserts)
        db.rows("UPDATE items SET qty = qty + 1, updated_at = clock_timestamp() WHERE id BETWEEN %s AND %s",
            (first, last))
    committed = time.monotonic()
    done = wait_for(name, changes)
    return {"changes": changes, "postgres_commit_s": round(committed - start, 1),
            "inserts_committed_s": round(written - start, 1), "seconds": round(done - start, 1),
            "changes_per_s": round(changes / (done - start))}


def baseline(name: str, records: int) -> dict:
    start = time.monotonic()
    lakectl("produce", name, "--synthetic", str(records), "--seed", "1")
    produced = time.monotonic()
    done = wait_for(name, records)
    return {"records": records, "produce_s": round(produced - start, 1), "seconds": round(done - start, 1),
            "records_per_s": round(records / (done - start))}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency(db, name: str, seconds: float) -> dict:
    """Updates every 100 ms (a thread of their own) while `dbt build` of the pipeline's models runs back to back
    (another thread), as a schedule that rebuilds Silver as often as it can would. Each update's delay from its
    source commit (Debezium's source.ts_ms) to the first answer of Trino that holds it, in Bronze (Iceberg) and
    in Silver (its row's source_lsn there has reached the update's), polled about every 0.5 s."""
    import threading

    newest = lakectl("query", f"SELECT max(source_lsn) FROM iceberg.bronze.{name}")["rows"][0][0]
    key = "id"  # the items table's primary key, top-level in Bronze
    changes: dict[int, tuple[int, float]] = {}  # lsn -> (row id, source commit in epoch s)
    in_bronze: dict[int, float] = {}  # lsn -> when Trino first returned it from Bronze (epoch s)
    in_silver: dict[int, float] = {}  # lsn -> when Silver first showed its row at that lsn or later
    sent, builds, stop = [0], [], threading.Event()

    def write() -> None:
        end = time.monotonic() + seconds
        next_write = time.monotonic()
        while time.monotonic() < end:
            db.rows("UPDATE items SET qty = qty + 1, updated_at = clock_timestamp() WHERE id = %s",
                (sent[0] % 100 + 1,))
            sent[0] += 1
            next_write += 0.1
            time.sleep(max(0.0, next_write - time.monotonic()))

    def build() -> None:
        while not stop.is_set():
            started = time.monotonic()
            lakectl("dbt", "build", "--select", f"tag:pipeline_{name}", check=False)
            builds.append(time.monotonic() - started)

    writer = threading.Thread(target=write, daemon=True)
    builder = threading.Thread(target=build, daemon=True)
    writer.start()
    builder.start()
    deadline = time.monotonic() + seconds + 240
    try:
        while time.monotonic() < deadline:
            polled = time.monotonic()
            rows = lakectl("query", f"SELECT {key}, source_lsn, source_ts_ms FROM iceberg.bronze.{name} "
                                    f"WHERE source_lsn > {newest}", check=False).get("rows", [])
            at = time.time()
            for row_id, lsn, ts_ms in rows:
                if lsn not in in_bronze:
                    in_bronze[lsn], changes[lsn] = at, (row_id, ts_ms / 1000)
            # Silver is replaced by each build: a query in that moment fails, and is simply polled again
            silver = dict(lakectl("query", f"SELECT {key}, source_lsn FROM iceberg.silver.{name} "
                                           f"WHERE {key} <= 100", check=False).get("rows", []))
            at = time.time()
            for lsn, (row_id, _) in changes.items():
                if lsn not in in_silver and silver.get(row_id, -1) >= lsn:
                    in_silver[lsn] = at
            if not writer.is_alive() and len(in_silver) >= sent[0]:
                break
            time.sleep(max(0.0, 0.5 - (time.monotonic() - polled)))
    finally:
        stop.set()
        builder.join(timeout=600)
    if not in_silver:
        raise SystemExit("latency: no change reached Silver")
    bronze = [in_bronze[lsn] - changes[lsn][1] for lsn in in_bronze]
    silver_delays = [in_silver[lsn] - changes[lsn][1] for lsn in in_silver]
    return {"changes": sent[0], "reached_bronze": len(bronze), "reached_silver": len(silver_delays),
            "bronze_p50_s": round(statistics.median(bronze), 2), "bronze_p99_s": round(percentile(bronze, 0.99), 2),
            "silver_p50_s": round(statistics.median(silver_delays), 2),
            "silver_p99_s": round(percentile(silver_delays, 0.99), 2), "silver_max_s": round(max(silver_delays), 2),
            "dbt_builds": len(builds), "dbt_build_p50_s": round(statistics.median(builds), 1) if builds else None,
            "measured_to": "first Trino answer holding the change: Bronze (Iceberg), Silver (rebuilt back to back)"}


def connect_rss() -> dict:
    services = lakectl("status", check=False).get("services", [])
    for service in services:
        if service.get("name") == "connect" and service.get("rss_mb"):
            return {"rss_mb": service["rss_mb"], "state": service.get("state")}
    # a worker this checkout's service table does not know (connect.url set): its recorded process
    import psutil

    record = state() / "run" / "connect.json"
    if record.exists():
        pid = json.loads(record.read_text())["pid"]
        rss = sum(p.memory_info().rss for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)])
        return {"rss_mb": round(rss / 2**20), "pid": pid}
    return {"rss_mb": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--trickle-s", type=float, default=60)
    parser.add_argument("--checkpoint-s", type=float, default=2)
    args = parser.parse_args()
    stamp = int(time.time()) % 100_000
    cdc, base = f"bench_cdc_{stamp}", f"bench_clicks_{stamp}"
    admin = connect()
    admin.rows(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin.rows(f"CREATE DATABASE {DATABASE}")
    db = connect(DATABASE)
    db.rows("CREATE TABLE items (id bigint PRIMARY KEY, name text, qty integer, price numeric(12, 2), "
            "updated_at timestamp(6))")
    result: dict = {"checkpoint_s": args.checkpoint_s}
    try:
        lakectl("pipeline", "add", cdc, "--source", "postgres-cdc", "--database", DATABASE, "--table", "items",
                "--partitions", "3")
        set_checkpoint(cdc, args.checkpoint_s)
        lakectl("pipeline", "apply", cdc)
        result["throughput"] = throughput(db, cdc, args.changes)
        result["latency"] = latency(db, cdc, args.trickle_s)
        result["connect"] = connect_rss()
        lakectl("job", "cancel", f"bronze_{cdc}")
        lakectl("pipeline", "add", base, "--schema", str(REPO / "schemas" / "examples" / "clicks.avsc"), "--force")
        set_checkpoint(base, args.checkpoint_s)
        lakectl("pipeline", "apply", base, "--no-models")
        result["baseline_produce"] = baseline(base, args.changes)
        result["ratio_cdc_to_baseline"] = round(result["throughput"]["changes_per_s"]
                                                / result["baseline_produce"]["records_per_s"], 2)
    finally:
        for name in (cdc, base):
            lakectl("job", "cancel", f"bronze_{name}", check=False)
            if (REPO / "schemas" / f"{name}.pipeline.toml").exists():
                lakectl("pipeline", "remove", name, "--purge", check=False)
            (REPO / "schemas" / f"{name}.avsc").unlink(missing_ok=True)
        db.close()
        admin.rows(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    save_result("cdc", result)


if __name__ == "__main__":
    main()
