"""P3 through Trino, and the overhead of `lakectl query`.

P3  produce -> visible to a Trino query of Bronze. Trades are produced at a steady rate while two
    pollers (one per format, each with its own Trino session) run
    ``SELECT max(event_time) FROM <catalog>.bronze.<topic>`` back to back. A trade counts as visible
    at the start of the first poll whose answer reaches its event_time (an upper bound: the poll
    period, ~0.1-0.3 s, is included). p50/p99 of visible - event_time, per format.
    Target p99 <= checkpoint interval + 3 s.
Q   `lakectl query` vs the trino client directly, on the same query: as a fresh process each
    (what a script pays: interpreter start, imports, settings, connection) and in process (what
    lakectl adds around the client's cursor). Medians of N runs, reported as ratios.

Usage: python bench/serve.py [--rate R] [--duration S] [--runs N]
Runs on the stack of the current lakectl settings (`lakectl up` first); creates topics bench_p3t_*.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from common import JOB, REPO, lakectl, save_result

QUERY = "SELECT count(*), sum(totalprice) FROM tpch.tiny.orders"


def lake_context():
    from lakectl.context import LakeContext

    return LakeContext()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def p3_trino(rate: int, duration: int) -> dict:
    topic = f"bench_p3t_{int(time.time())}"
    lakectl("schema", "register", str(REPO / "schemas" / "trade.avsc"), "--subject", f"{topic}-value")
    lakectl("topic", "create", topic, "--partitions", "3", "--if-not-exists")
    job = lakectl("job", "submit", JOB, "--name", topic, "--", "--topic", topic)
    app = lake_context()
    polls: dict[str, list[tuple[float, datetime | None]]] = {"iceberg": [], "delta": []}
    stop = threading.Event()

    def poll(catalog: str) -> None:
        from lakectl.components.trino import QueryFailed, register_delta_tables

        client = app.trino(catalog=catalog, schema="bronze")
        while not stop.is_set():
            started = time.time()
            try:
                latest = client.scalar(f'SELECT max(event_time) FROM "{topic}"')
            except QueryFailed:  # the table has no commit yet (Delta: not registered yet)
                if catalog == "delta":
                    register_delta_tables(client, app.s3(), layers=("bronze",))
                latest = None
            polls[catalog].append((started, latest))

    pollers = [threading.Thread(target=poll, args=(c,), daemon=True) for c in polls]
    for thread in pollers:
        thread.start()
    lakectl("produce", topic, "--rate", str(rate), "--duration", str(duration))
    time.sleep(15)  # the last checkpoint's commit (interval 10 s) becomes visible
    stop.set()
    for thread in pollers:
        thread.join()
    lakectl("job", "cancel", job["job_id"])

    from lakectl.components.lakehouse import Lakehouse

    lakehouse = Lakehouse(app.s3(), app.catalog())
    events = lakehouse.iceberg_table(f"bronze.{topic}").scan(selected_fields=("event_time",)).to_arrow()
    event_times = sorted(t.replace(tzinfo=UTC).timestamp() for t in events.column("event_time").to_pylist())
    result = {"topic": topic, "rate": rate, "duration_s": duration, "records": len(event_times)}
    for catalog, seen in polls.items():
        answers = [(at, latest.replace(tzinfo=UTC).timestamp() if latest.tzinfo is None else latest.timestamp())
                   for at, latest in seen if latest is not None]
        latencies, index = [], 0
        for event_time in event_times:  # both sorted: walk the polls forward
            while index < len(answers) and answers[index][1] < event_time:
                index += 1
            if index == len(answers):
                break
            latencies.append(answers[index][0] - event_time)
        if not latencies:
            sys.exit(f"P3: no poll of {catalog} ever saw the trades")
        periods = [b[0] - a[0] for a, b in itertools.pairwise(seen)]
        result[catalog] = {"visible": len(latencies), "p50_s": round(percentile(latencies, 0.5), 2),
                           "p99_s": round(percentile(latencies, 0.99), 2),
                           "poll_period_median_s": round(statistics.median(periods), 3)}
    return result


def query_overhead(runs: int) -> dict:
    url = lakectl("status")["services"]
    trino_url = next(s["url"] for s in url if s["name"] == "trino")
    direct = ("import sys, trino\nfrom urllib.parse import urlsplit\nu = urlsplit(sys.argv[1])\n"
              "c = trino.dbapi.connect(host=u.hostname, port=u.port, user='bench').cursor()\n"
              f"c.execute({QUERY!r}); print(c.fetchall())\n")

    def timed(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        return time.perf_counter() - started

    process = {"lakectl": [], "trino_client": []}
    for _ in range(runs):  # interleaved: both see the same machine load
        process["lakectl"].append(timed([sys.executable, "-m", "lakectl", "query", QUERY, "-o", "json"]))
        process["trino_client"].append(timed([sys.executable, "-c", direct, trino_url]))

    import trino

    from lakectl.components.trino import TrinoClient

    client = TrinoClient.connect(trino_url)
    from urllib.parse import urlsplit

    parts = urlsplit(trino_url)
    cursor = trino.dbapi.connect(host=parts.hostname, port=parts.port, user="bench").cursor()
    in_process = {"lakectl": [], "trino_client": []}
    for _ in range(runs):
        started = time.perf_counter()
        client.execute(QUERY)
        in_process["lakectl"].append(time.perf_counter() - started)
        started = time.perf_counter()
        cursor.execute(QUERY)
        cursor.fetchall()
        in_process["trino_client"].append(time.perf_counter() - started)
    medians = {kind: {k: round(statistics.median(v), 4) for k, v in values.items()}
               for kind, values in (("process", process), ("in_process", in_process))}
    return {"query": QUERY, "runs": runs, "median_s": medians,
            "ratio_process": round(medians["process"]["lakectl"] / medians["process"]["trino_client"], 2),
            "ratio_in_process": round(medians["in_process"]["lakectl"] / medians["in_process"]["trino_client"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
               "query_overhead": query_overhead(args.runs), "p3_trino": p3_trino(args.rate, args.duration)}
    save_result("serve", results)


if __name__ == "__main__":
    main()
