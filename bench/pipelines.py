"""Pipelines for any feed, on this machine, in one run (issue 13's benchmarks):

add->Silver  `pipeline add` of a new nested feed (schemas/examples/orders.avsc) to its Silver rows being
             queryable: add, apply (schema, topics, job, dbt), 1,000 synthetic records, Bronze holding them,
             dbt build. Target <= 60 s warm.
catch-up     N records already in Kafka, then the pipeline's Bronze job starts (parallelism 2): events/s from
             all its tasks running until both Iceberg and Delta hold all N. Trades (the P2 feed, flat) and
             the nested orders feed, one after the other; P2's target is 100,000/s.
three        orders, sensor readings and clicks, N each queued, their three jobs (parallelism 1 each: one
             TaskManager slot each) started together: total events/s until all three hold everything.

Every figure is also given as a ratio to the trades catch-up of the same run. Pipelines are named bench_*
and removed (--purge) at the end. Usage: python bench/pipelines.py [--records N]  (`lakectl up` first).
"""

from __future__ import annotations

import argparse
import time

from common import REPO, lakectl, save_result

EXAMPLES = REPO / "schemas" / "examples"
TRADES_TARGET = 100_000


def add(name: str, schema: str, *extra: str) -> None:
    lakectl("pipeline", "add", name, "--schema", schema, "--force", *extra)


def all_running(job: str) -> None:
    while True:  # the clock starts when every task runs (deploying them is not throughput)
        status = lakectl("job", "status", job, check=False)
        if status and status["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in status["vertices"]):
            return
        time.sleep(0.2)


def catch_up(names: list[str], records: int, *, produce: list[str]) -> dict:
    """Queue ``records`` per pipeline, start their jobs, time until every Bronze table holds them all."""
    for name in names:
        lakectl("pipeline", "apply", name, "--no-models")
        lakectl("job", "cancel", f"bronze_{name}")  # created, then stopped: the records queue up first
        lakectl("produce", name, *produce, str(records))
    for name in names:
        lakectl("pipeline", "apply", name, "--no-models")  # back from its checkpoint (none: at the start)
    for name in names:
        all_running(f"bronze_{name}")
    start = time.monotonic()
    for name in names:
        lakectl("pipeline", "status", name, "--wait", "--timeout", "1800", timeout=2000)
    elapsed = time.monotonic() - start
    total = records * len(names)
    return {"pipelines": names, "records": total, "seconds": round(elapsed, 1),
            "events_per_s": round(total / elapsed)}


def add_to_silver(name: str) -> dict:
    started = time.monotonic()
    add(name, str(EXAMPLES / "orders.avsc"))
    lakectl("pipeline", "apply", name)
    lakectl("produce", name, "--synthetic", "1000", "--seed", "1")
    lakectl("pipeline", "status", name, "--wait", "--timeout", "300")
    lakectl("dbt", "build", "--select", f"tag:pipeline_{name}")
    rows = lakectl("query", f"SELECT count(*) FROM iceberg.silver.{name}")["rows"][0][0]
    seconds = time.monotonic() - started
    assert rows == 1000, rows
    lakectl("job", "cancel", f"bronze_{name}")
    return {"seconds": round(seconds, 1), "silver_rows": rows, "target_s": 60}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records per catch-up (default 1M)")
    args = parser.parse_args()
    stamp = int(time.time()) % 100_000
    names = {"trades": f"bench_trades_{stamp}", "orders": f"bench_orders_{stamp}",
             "sensors": f"bench_sensors_{stamp}", "clicks": f"bench_clicks_{stamp}",
             "orders3": f"bench_orders3_{stamp}", "new": f"bench_new_{stamp}"}
    result: dict = {"records": args.records}
    try:
        result["add_to_silver"] = add_to_silver(names["new"])
        add(names["trades"], str(REPO / "schemas" / "trade.avsc"), "--key", "trade_id")
        add(names["orders"], str(EXAMPLES / "orders.avsc"))
        for name in (names["trades"], names["orders"]):  # parallelism 2, as the trades' own pipeline
            spec = REPO / "schemas" / f"{name}.pipeline.toml"
            spec.write_text(spec.read_text().replace("parallelism = 1 ", "parallelism = 2 "))
        result["catch_up_trades"] = catch_up([names["trades"]], args.records, produce=["--count"])
        result["catch_up_nested"] = catch_up([names["orders"]], args.records, produce=["--synthetic"])
        lakectl("job", "cancel", f"bronze_{names['orders']}")
        lakectl("job", "cancel", f"bronze_{names['trades']}")
        add(names["orders3"], str(EXAMPLES / "orders.avsc"))
        add(names["sensors"], str(EXAMPLES / "sensor_readings.avsc"))
        add(names["clicks"], str(EXAMPLES / "clicks.avsc"))
        third = args.records // 3
        result["three_at_once"] = catch_up([names["orders3"], names["sensors"], names["clicks"]], third,
                                           produce=["--synthetic"])
        base = result["catch_up_trades"]["events_per_s"]
        result["ratios_to_trades_catch_up"] = {
            "nested": round(result["catch_up_nested"]["events_per_s"] / base, 2),
            "three_at_once": round(result["three_at_once"]["events_per_s"] / base, 2),
            "trades_vs_p2_target": round(base / TRADES_TARGET, 2)}
    finally:
        for name in names.values():
            lakectl("job", "cancel", f"bronze_{name}", check=False)
            if (REPO / "schemas" / f"{name}.pipeline.toml").exists():
                lakectl("pipeline", "remove", name, "--purge", check=False)
            (REPO / "schemas" / f"{name}.avsc").unlink(missing_ok=True)
    save_result("pipelines", result)


if __name__ == "__main__":
    main()
