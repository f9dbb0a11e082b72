"""Table maintenance while a Bronze job writes: `lakectl maintain` twice during the stream, on a pipeline that
checkpoints every second (a commit per second in each format), then exact counts in both formats, no failed
checkpoint and no restart, fewer data files, old snapshots and versions expired, and a planted orphan gone.

The orphan: a file no commit references, put in each table's location and made two hours old on S3Proxy's
disk (its mtime is the object's Last-Modified), as a job that crashed long ago would have left it. The orphan
retention stays at its floor, one hour: the stream's own files, written before the checkpoint that commits
them, are seconds old and must survive (the exact counts say they did). The snapshot retention is 0s: every
snapshot but the current one and the stream's restore point may go, which expiry of this table allows at any
time (expiry never touches a file that is not committed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.compute as pc
import pytest

from lakectl.ops.maintain import RESTORE_POINT_MARGIN_S
from tests.e2e.bronze_helpers import REPO, delta_rows, iceberg_rows, wait_for_rows
from tests.e2e.conftest import report_artifact

pytestmark = pytest.mark.e2e

PIPELINE = "e2e_maint"
JOB = f"bronze_{PIPELINE}"
RATE = 500
MAX_COUNT = RATE * 900  # stopped (SIGTERM) once maintain has run twice
SPEC = f"""schema = "trade.avsc"
topic = "{PIPELINE}"
key = "trade_id"
event_time = "event_time"
partition_by = "day"
checkpoint_interval_s = 1
parallelism = 1
"""


@pytest.fixture(scope="module")
def pipeline(stack):
    path = REPO / "schemas" / f"{PIPELINE}.pipeline.toml"
    path.write_text(SPEC)
    try:
        stack.ok("pipeline", "apply", PIPELINE, "--no-models", "-o", "json", timeout=900)
        yield PIPELINE
    finally:
        for job in stack.lakectl("job", "list", "-o", "json").json().get("jobs", []):
            if job["name"] == JOB:
                stack.lakectl("job", "cancel", job["job_id"], "-o", "json")
        if path.exists():
            stack.lakectl("pipeline", "remove", PIPELINE, "--purge", "-o", "json")
        path.unlink(missing_ok=True)


def job_status(stack) -> dict:
    return stack.ok("job", "status", JOB, "-o", "json").json()


def running(stack, timeout: float = 180) -> dict:
    """The job's status once every task runs (checkpoints triggered before that fail and do not count)."""
    deadline = time.monotonic() + timeout
    while True:
        status = job_status(stack)
        if status["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in status["vertices"]):
            return status
        assert time.monotonic() < deadline, f"{JOB} not running after {timeout}s: {status}"
        time.sleep(1)


def plant_orphans(stack, lakehouse) -> list[str]:
    """A file in each table's location that no commit references, two hours old."""
    s3 = lakehouse.s3
    keys = [lakehouse.iceberg_table(f"bronze.{PIPELINE}").location() + "/data/e2e-orphan.parquet",
            lakehouse.delta_uri("bronze", PIPELINE) + "/e2e-orphan.parquet"]
    keys = [k.removeprefix("s3://") for k in keys]
    filesystem = s3.filesystem()
    two_hours_ago = time.time() - 2 * 3600
    for key in keys:
        with filesystem.open_output_stream(key) as out:
            out.write(b"written by a job that never committed it")
        os.utime(stack.state_dir / "native" / "object-store" / "data" / key, (two_hours_ago, two_hours_ago))
    return keys


def maintain(stack, config) -> dict:
    result = stack.lakectl("maintain", "--pipeline", PIPELINE, "--snapshot-retention", "0s", "--orphan-retention",
                           "1h", "-o", "json", timeout=600)
    assert result.code == 0, f"{result.err}\n{result.out[-3000:]}"
    report = result.json()
    assert report["ok"] and {a["format"] for a in report["actions"]} == {"iceberg", "delta"}, report
    report_artifact(config, f"maintain while streaming: {report['seconds']} s; " + ", ".join(
        f"{a['format']} {a['action']} {a['seconds']} s" for a in report["actions"]))
    return {(a["format"], a["action"]): a for a in report["actions"]}


def test_maintain_twice_while_the_stream_writes(stack, pipeline, pytestconfig):
    before = running(stack)
    lakehouse = stack.lakehouse()
    producer = subprocess.Popen(
        [sys.executable, "-m", "lakectl", "produce", PIPELINE, "--count", str(MAX_COUNT), "--rate", str(RATE),
         "-o", "json"], cwd=stack.project, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    try:
        time.sleep(10)  # a few dozen commits in each format
        orphans = plant_orphans(stack, lakehouse)
        first = maintain(stack, pytestconfig)
        assert producer.poll() is None, "the first maintain must run while trades are produced"
        # expiry keeps what is younger than the stream's restore point plus a margin: the second run must
        # find commits older than that, however fast the first one was
        time.sleep(max(0.0, started + RESTORE_POINT_MARGIN_S + 15 - time.monotonic()))
        second = maintain(stack, pytestconfig)
        assert producer.poll() is None, "the second maintain must run while trades are produced"
        time.sleep(3)
        producer.send_signal(signal.SIGTERM)  # stops early, delivers what it accepted, exit 130
        out, err = producer.communicate(timeout=300)
    finally:
        if producer.poll() is None:
            producer.kill()
    assert producer.returncode == 130, err
    sent = json.loads(out)["sent"]

    # nothing lost, nothing twice, in both formats
    assert wait_for_rows(stack, PIPELINE, sent, timeout=240) == {"iceberg": sent, "delta": sent}
    for rows in (iceberg_rows(lakehouse, PIPELINE), delta_rows(lakehouse, PIPELINE)):
        assert rows.num_rows == sent and len(pc.unique(rows.column("trade_id"))) == sent
    # the stream never noticed: no failed checkpoint, no restart, still committing
    after = job_status(stack)
    assert after["state"] == "RUNNING" and after["restarts"] == before["restarts"], after
    assert after["checkpoints"]["failed"] == before["checkpoints"]["failed"], (before["checkpoints"],
                                                                               after["checkpoints"])
    assert after["checkpoints"]["completed"] > before["checkpoints"]["completed"] + 30

    for run in (first, second):
        for fmt in ("iceberg", "delta"):
            compact = run[(fmt, "compact")]
            assert compact["after"] < compact["before"], compact  # the stream adds a file or two meanwhile
    # old snapshots and versions expired: Iceberg snapshots older than the restore point's margin, and the
    # Delta files the first compaction replaced
    expired = first[("iceberg", "expire_snapshots")]["removed"] + second[("iceberg", "expire_snapshots")]["removed"]
    assert expired > 0, (first[("iceberg", "expire_snapshots")], second[("iceberg", "expire_snapshots")])
    assert first[("delta", "expire_versions")]["removed"] >= first[("delta", "compact")]["removed"] > 0
    assert first[("delta", "checkpoint")]["after"] >= 1
    # the planted orphans went in the first run, and nothing else the stream wrote was taken for one
    assert first[("iceberg", "remove_orphan_files")]["removed"] == 1
    assert first[("delta", "remove_orphan_files")]["removed"] == 1
    present = set(lakehouse.s3.objects(f"s3://{lakehouse.s3.bucket}/iceberg/bronze/{PIPELINE}")) | set(
        lakehouse.s3.objects(lakehouse.delta_uri("bronze", PIPELINE)))
    assert not present & set(orphans)

    # lakectl tables says how many files, bytes and snapshots / versions each format keeps
    tables = {t["format"]: t for t in stack.ok("tables", "--layer", "bronze", "-o", "json").json()["tables"]
              if t["name"] == PIPELINE}
    assert set(tables) == {"iceberg", "delta"}
    for table in tables.values():
        assert table["rows"] == sent and table["data_files"] >= 1 and table["data_bytes"] > 0
        assert table["snapshots"] >= 1
