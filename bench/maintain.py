"""Table maintenance on this machine (issue 15): a Bronze scan after 1,000 commits, before and after
`lakectl maintain`, and files per table; plus the Delta compaction engines side by side.

Build      the Bronze job itself (flink_jobs/bronze/job.py, partitioned by day, the stack's parallelism) with a
           0.2 s checkpoint interval while trades are produced, until Iceberg and Delta both hold >= 1,000
           commits. The real writer's layout (a file per writer and partition per commit, Delta checkpoints
           every 10 versions, Iceberg's own manifest merging), not a simulation of it: appends through pyiceberg
           or delta-rs would be faster to build but write one file per commit and checkpoint differently.
Scan       through Trino, count(*), count(DISTINCT symbol), sum(price * size), min/max(event_time) over the
           whole table in each catalog; the median of 3 after a warm-up run. Ratio: before / after.
Files      data files of the current snapshot / version (lakectl tables) and every object under the table's
           location (data, manifests, metadata, log), before and after.
Maintain   `lakectl maintain --pipeline <it> --snapshot-retention 1m` while the job keeps writing (trades at
           1,000/s): the 1,000 commits stand for a day of commits past a 1d retention. Its seconds per action;
           the job's restarts and failed checkpoints across it; rows exact afterwards.
Compaction Delta only (Iceberg's is Trino's alone: pyiceberg 0.12 has none): the table as it was after the
           build, copied twice; Trino's `ALTER TABLE ... EXECUTE optimize` on one copy and delta-rs's
           `optimize.compact()` on the other (seconds, files after). Then both on the live table, alternating,
           while the job commits every 0.2 s: seconds, files in and out, and whether any stream commit failed.

Usage: python bench/maintain.py [--commits 1000] [--rate 2000]   (`lakectl up` first: kafka, flink, trino)
The pipeline is named bench_maint_* and removed (--purge) at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time

from common import JOB, REPO, lakectl, save_result

SCAN = ("SELECT count(*), count(DISTINCT symbol), sum(price * size), min(event_time), max(event_time) "
        "FROM {catalog}.bronze.{table}")


def spec_text(name: str) -> str:
    return (f'schema = "trade.avsc"\ntopic = "{name}"\nkey = "trade_id"\nevent_time = "event_time"\n'
            'partition_by = "day"\ncheckpoint_interval_s = 1\n')


def producer(name: str, rate: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lakectl", "produce", name, "--count", str(rate * 3600),
                             "--rate", str(rate), "-o", "json"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    return json.loads(out)["sent"]


def tables(name: str) -> dict[str, dict]:
    return {t["format"]: t for t in lakectl("tables", "--layer", "bronze")["tables"] if t["name"] == name}


def wait_rows(name: str, expected: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {f: t["rows"] for f, t in tables(name).items()}
        if found.get("iceberg") == expected and found.get("delta") == expected:
            return
        time.sleep(2)
    sys.exit(f"{name}: not exactly {expected} rows after {timeout}s: {tables(name)}")


def job(name: str) -> dict:
    status = lakectl("job", "status", f"bronze_{name}")
    return {"restarts": status["restarts"], "failed_checkpoints": status["checkpoints"]["failed"],
            "completed_checkpoints": status["checkpoints"]["completed"]}


def running(name: str) -> None:
    while True:
        status = lakectl("job", "status", f"bronze_{name}", check=False)
        if status and status["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in status["vertices"]):
            return
        time.sleep(0.5)


def files(app, name: str) -> dict:
    lake = app.lakehouse()
    found = tables(name)
    iceberg_location = lake.iceberg_table(f"bronze.{name}").location()
    return {fmt: {"data_files": t["data_files"], "data_mb": round(t["data_bytes"] / 2**20, 1),
                  "snapshots_or_versions": t["snapshots"],
                  "objects": len(app.s3().objects(iceberg_location if fmt == "iceberg"
                                                  else lake.delta_uri("bronze", name)))}
            for fmt, t in found.items()}


def scans(app, name: str, runs: int = 3) -> dict:
    from lakectl.components.trino import register_delta_tables

    client = app.trino()
    register_delta_tables(client, app.s3(), ["bronze"])
    timings = {}
    for catalog in ("iceberg", "delta"):
        sql = SCAN.format(catalog=catalog, table=name)
        client.execute(sql)  # warm-up: plans, metadata caches, JIT
        seconds = [client.execute(sql).elapsed_s for _ in range(runs)]
        timings[catalog] = {"median_s": round(statistics.median(seconds), 3), "runs_s": [round(s, 3) for s in seconds]}
    client.close()
    return timings


def copy_table(app, name: str, layer: str, copy: str) -> None:
    s3 = app.s3()
    filesystem = s3.filesystem()
    source = s3.uri("delta", "bronze", name).removeprefix("s3://")
    target = s3.uri("delta", layer, copy).removeprefix("s3://")
    for path in s3.objects("s3://" + source):
        filesystem.copy_file(path, target + path[len(source):])


def delta_engines_on_copies(app, name: str) -> dict:
    """The same table twice: Trino's optimize on one copy, delta-rs's compact on the other."""
    from lakectl.components.trino import register_delta_tables

    layer, stamp = "bench_copies", int(time.time())
    copies = {"trino": f"{name}_trino_{stamp}", "delta_rs": f"{name}_deltars_{stamp}"}
    for copy in copies.values():
        copy_table(app, name, layer, copy)
    lake = app.lakehouse()
    client = app.trino()
    register_delta_tables(client, app.s3(), [layer])
    result = {}
    before = lake.delta_files(layer, copies["trino"])[0]
    started = time.perf_counter()
    client.execute(f"ALTER TABLE delta.{layer}.{copies['trino']} EXECUTE optimize(file_size_threshold => '128MB')")
    result["trino_optimize"] = {"seconds": round(time.perf_counter() - started, 2), "files_before": before,
                                "files_after": lake.delta_files(layer, copies["trino"])[0]}
    started = time.perf_counter()
    lake.delta_compact(layer, copies["delta_rs"], 128)
    result["delta_rs_compact"] = {"seconds": round(time.perf_counter() - started, 2), "files_before": before,
                                  "files_after": lake.delta_files(layer, copies["delta_rs"])[0]}
    for copy in copies.values():
        client.execute(f"DROP TABLE IF EXISTS delta.{layer}.{copy}")
        app.s3().filesystem().delete_dir(app.s3().uri("delta", layer, copy).removeprefix("s3://"))
    client.close()
    return result


def delta_engines_while_streaming(app, name: str, rounds: int = 2, pause_s: float = 20) -> list[dict]:
    """Trino's optimize and delta-rs's compact, alternating on the live table while the job commits."""
    lake = app.lakehouse()
    client = app.trino()
    out = []
    for _ in range(rounds):
        for engine in ("trino_optimize", "delta_rs_compact"):
            time.sleep(pause_s)  # commits pile up again
            before = lake.delta_files("bronze", name)[0]
            versions = lake.delta_log_versions("bronze", name)[-1]
            started = time.perf_counter()
            if engine == "trino_optimize":
                client.execute(f"ALTER TABLE delta.bronze.{name} EXECUTE optimize(file_size_threshold => '128MB')")
            else:
                lake.delta_compact("bronze", name, 128)
            seconds = time.perf_counter() - started
            out.append({"engine": engine, "seconds": round(seconds, 2), "files_before": before,
                        "files_after": lake.delta_files("bronze", name)[0],
                        "stream_commits_meanwhile": lake.delta_log_versions("bronze", name)[-1] - versions - 1})
    client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=2000, help="trades/s while building")
    args = parser.parse_args()
    from lakectl.context import LakeContext

    app = LakeContext()
    name = f"bench_maint_{int(time.time()) % 100_000}"
    spec = REPO / "schemas" / f"{name}.pipeline.toml"
    spec.write_text(spec_text(name))
    result: dict = {"table": f"bronze.{name}", "checkpoint_interval_s": 0.2}
    try:
        lakectl("schema", "register", str(REPO / "schemas" / "trade.avsc"), "--subject", f"{name}-value")
        lakectl("topic", "create", name, "--partitions", "3", "--if-not-exists")
        lakectl("job", "submit", JOB, "--name", f"bronze_{name}", "--", "--topic", name, "--partition-by", "day",
                "--event-time", "event_time", "--checkpoint-interval", "0.2")
        running(name)
        started = time.monotonic()
        feed = producer(name, args.rate)
        while True:
            found = tables(name)
            if len(found) == 2 and all(t["snapshots"] >= args.commits for t in found.values()):
                break
            time.sleep(5)
        sent = stop(feed)
        wait_rows(name, sent)
        result["build"] = {"seconds": round(time.monotonic() - started), "rows": sent,
                           "commits": {f: t["snapshots"] for f, t in tables(name).items()}}
        result["before"] = {"files": files(app, name), "scan": scans(app, name)}
        result["delta_compaction_on_copies"] = delta_engines_on_copies(app, name)

        feed = producer(name, 1000)
        time.sleep(5)
        stream_before = job(name)
        started = time.monotonic()
        report = lakectl("maintain", "--pipeline", name, "--snapshot-retention", "1m", check=False, timeout=3600)
        wall = time.monotonic() - started
        time.sleep(5)
        stream_after = job(name)
        sent += stop(feed)
        wait_rows(name, sent)
        result["maintain"] = {"wall_s": round(wall, 1), "ok": report.get("ok"),
                              "actions": [{k: a[k] for k in ("format", "action", "status", "seconds", "before",
                                                             "after", "removed", "detail")}
                                          for a in report.get("actions", [])],
                              "stream_during": {"before": stream_before, "after": stream_after}}
        result["after"] = {"files": files(app, name), "scan": scans(app, name)}
        result["scan_ratio_before_over_after"] = {
            c: round(result["before"]["scan"][c]["median_s"] / result["after"]["scan"][c]["median_s"], 2)
            for c in ("iceberg", "delta")}

        feed = producer(name, 1000)
        stream_before = job(name)
        result["delta_compaction_while_streaming"] = {"rounds": delta_engines_while_streaming(app, name)}
        stream_after = job(name)
        sent += stop(feed)
        wait_rows(name, sent)
        result["delta_compaction_while_streaming"]["stream"] = {"before": stream_before, "after": stream_after}
        result["rows_exact_after_all"] = sent
    finally:
        status = lakectl("job", "status", f"bronze_{name}", check=False)
        if status.get("job_id"):
            lakectl("job", "cancel", status["job_id"], check=False)
        lakectl("pipeline", "remove", name, "--purge", check=False)
        spec.unlink(missing_ok=True)
    save_result("maintain", result)


if __name__ == "__main__":
    main()
