"""A seeded fault soak: trades flow into a Bronze job while a schedule drawn from the seed breaks the stack.

Faults (each kind at least once, in an order and with outage lengths drawn from the seed; more rounds
while time is left):
  taskmanager-kill   SIGKILL the TaskManager, start a new one (the job fails over on its own)
  jobmanager-kill    SIGKILL the JobManager, start a new one; the session cluster has no HA, so the job
                     is gone and comes back through `lakectl job ensure` from its newest checkpoint
  kafka-restart      stop and start the broker
  object-store-down  the object store stopped for a few seconds (checkpoints and commits fail meanwhile)
  postgres-down      PostgreSQL (the Iceberg catalog) stopped for a few seconds
  registry-restart   stop and start the schema registry
  trino-restart      stop and start Trino; recovered when a Bronze query answers
  maintain           `lakectl maintain` on the Bronze table while the stream writes
After each fault the soak waits until it has recovered (the job RUNNING with a checkpoint completed
after the fault; for Trino a query answering; for maintain its exit) and records how long that took.
At the end the producer is stopped, Bronze must hold exactly what it delivered, and `lakectl verify`
must find Kafka, Iceberg and Delta identical (rows, distinct keys, key digest): no loss, no duplicate.

Native runtime only (faults are process signals and `lakectl down/up SERVICE`).

Usage: python bench/soak.py [--minutes M] [--rate R] [--seed S]
Runs on the stack of the current lakectl settings (`lakectl up` first); exits 1 when a check fails.
The e2e suite runs one round of every fault kind, with short pauses (tests/e2e/test_soak.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOB = str(REPO / "flink_jobs" / "bronze" / "job.py")
SCHEMA = str(REPO / "schemas" / "trade.avsc")
KINDS = ("taskmanager-kill", "jobmanager-kill", "kafka-restart", "object-store-down", "postgres-down",
         "registry-restart", "trino-restart", "maintain")
RECOVERY_TIMEOUT_S = 300


class SoakFailed(Exception):
    pass


@dataclass
class Fault:
    kind: str
    at_s: float  # since the producer started
    outage_s: float = 0.0  # how long the service was kept down (outages)
    recovered_after_s: float | None = None  # from the fault to recovered
    detail: str = ""


@dataclass
class Lakectl:
    """lakectl as a script calls it, against one stack (its env and project directory)."""

    cwd: Path = REPO
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lakectl", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def json(self, *args: str, timeout: float = 900) -> dict:
        head, tail = list(args), []
        if "--" in head:
            at = head.index("--")
            head, tail = head[:at], head[at:]
        done = self.run(*head, "-o", "json", *tail, timeout=timeout)
        if done.returncode != 0:
            raise SoakFailed(f"lakectl {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "lakectl", *args], cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def schedule(seed: int, minutes: float, kinds: tuple[str, ...] = KINDS) -> tuple[list[str], random.Random]:
    """The faults in order: every kind once (shuffled), then more shuffled rounds as time allows (the
    soak stops injecting when its time is up, except that the first round always completes)."""
    rng = random.Random(seed)
    rounds = max(1, int(minutes * 60 // 300))  # about one round per 5 minutes
    order: list[str] = []
    for _ in range(rounds + 2):
        shuffled = list(kinds)
        rng.shuffle(shuffled)
        order += shuffled
    return order, rng


class Soak:
    def __init__(self, cli: Lakectl, *, minutes: float, rate: int, seed: int, kinds: tuple[str, ...] = KINDS,
                 pause_s: tuple[float, float] = (3, 10),
                 log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> None:
        self.cli = cli
        self.pause_s = pause_s  # undisturbed streaming before each fault: drawn from this range
        self.minutes = minutes
        self.rate = rate
        self.seed = seed
        self.kinds = kinds
        self.log = log
        self.topic = f"soak_{seed}_{int(time.time())}"
        self.job_name = f"bronze_{self.topic}"
        self.faults: list[Fault] = []
        self.started = 0.0

    # -- the stack ---------------------------------------------------------------------------------
    def pid(self, service: str) -> int:
        # `status` exits 3 while any service is unhealthy (e.g. Airflow after the PostgreSQL outage) and still
        # prints every service: only the one to kill matters here
        done = self.cli.run("status", "-o", "json", timeout=120)
        if not done.stdout.strip():
            raise SoakFailed(f"lakectl status exited {done.returncode}: {done.stderr.strip()}")
        services = {s["name"]: s for s in json.loads(done.stdout)["services"]}
        pid = services.get(service, {}).get("pid")
        if not pid:
            raise SoakFailed(f"{service}: no running process to kill")
        return pid

    def job(self) -> dict | None:
        done = self.cli.run("job", "status", self.job_name, "-o", "json", timeout=60)
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    def ensure(self) -> dict:
        return self.cli.json("job", "ensure", JOB, "--name", self.job_name, "--", "--topic", self.topic)

    def checkpoint_mark(self) -> tuple[str | None, int | None]:
        job = self.job()
        if not job:
            return None, None
        return job["job_id"], job["checkpoints"].get("latest_id")

    def wait_recovered(self, before: tuple[str | None, int | None], *, ensure: bool = False) -> None:
        """Until the job runs every task and has completed a checkpoint after ``before``."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if ensure:
                done = self.cli.run("job", "ensure", JOB, "--name", self.job_name, "-o", "json", "--",
                                    "--topic", self.topic, timeout=600)
                if done.returncode == 0:
                    ensure = False
                    self.log(f"  job ensure: {json.loads(done.stdout).get('action')}")
                else:
                    last = done.stderr.strip()
                    time.sleep(2)
                    continue
            job = self.job()
            last = job
            if job and job["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in job["vertices"]):
                job_id = job["job_id"]
                latest = job["checkpoints"].get("latest_id")
                if latest is not None and (job_id != before[0] or before[1] is None or latest > before[1]):
                    return
            time.sleep(1)
        raise SoakFailed(f"{self.job_name} did not recover within {RECOVERY_TIMEOUT_S}s; last: {last}")

    def restart(self, service: str, down_s: float = 0.0) -> None:
        self.cli.json("down", service)
        time.sleep(down_s)
        self.cli.json("up", service, timeout=600)

    def kill(self, service: str) -> None:
        os.kill(self.pid(service), signal.SIGKILL)
        time.sleep(1)
        self.cli.json("up", service, timeout=600)

    def query_until_answered(self) -> None:
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            done = self.cli.run("query", f'SELECT count(*) FROM iceberg.bronze."{self.topic}"', "-o", "json",
                                timeout=120)
            if done.returncode == 0:
                return
            time.sleep(1)
        raise SoakFailed(f"trino did not answer within {RECOVERY_TIMEOUT_S}s: {done.stderr.strip()}")

    # -- one fault ---------------------------------------------------------------------------------
    def inject(self, kind: str, rng: random.Random) -> Fault:
        fault = Fault(kind, round(time.monotonic() - self.started, 1))
        self.log(f"[{fault.at_s:7.1f}s] {kind}")
        start = time.monotonic()
        before = self.checkpoint_mark()
        if kind == "taskmanager-kill":
            self.kill("flink-taskmanager")
            self.wait_recovered(before)
        elif kind == "jobmanager-kill":
            self.kill("flink-jobmanager")
            self.wait_recovered(before, ensure=True)
        elif kind == "kafka-restart":
            self.restart("kafka")
            self.wait_recovered(before)
        elif kind in ("object-store-down", "postgres-down"):
            fault.outage_s = round(rng.uniform(5, 15), 1)
            self.restart("object-store" if kind == "object-store-down" else "postgres", fault.outage_s)
            self.wait_recovered(before)
        elif kind == "registry-restart":
            self.restart("schema-registry")
            self.cli.json("schema", "get", f"{self.topic}-value")  # answers again
            self.wait_recovered(before)
        elif kind == "trino-restart":
            self.restart("trino")
            self.query_until_answered()
        elif kind == "maintain":
            # concurrently with the stream: the job must keep committing while maintain rewrites files
            result = self.cli.json("maintain", "--table", f"bronze.{self.topic}", timeout=900)
            fault.detail = json.dumps(result)[:500]
            self.wait_recovered(before)
        else:
            raise ValueError(kind)
        fault.recovered_after_s = round(time.monotonic() - start, 1)
        self.log(f"           recovered after {fault.recovered_after_s}s")
        return fault

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> dict:
        order, rng = schedule(self.seed, self.minutes, self.kinds)
        self.cli.json("schema", "register", SCHEMA, "--subject", f"{self.topic}-value")
        self.cli.json("topic", "create", self.topic, "--partitions", "3", "--if-not-exists")
        self.ensure()
        self.wait_recovered((None, None))
        producer = self.cli.popen("produce", self.topic, "--count", str(self.rate * 3600 * 24), "--rate",
                                  str(self.rate), "-o", "json")
        stderr: list[str] = []
        reader = threading.Thread(target=lambda: stderr.extend(producer.stderr), daemon=True)
        reader.start()
        self.started = time.monotonic()
        end = self.started + self.minutes * 60
        try:
            for index, kind in enumerate(order):
                if index >= len(self.kinds) and time.monotonic() + 30 > end:
                    break  # the first round always completes; later ones only while time is left
                time.sleep(rng.uniform(*self.pause_s))  # the stream runs undisturbed for a while
                self.faults.append(self.inject(kind, rng))
                if producer.poll() is not None:
                    raise SoakFailed(f"the producer ended during the soak (exit {producer.returncode}): "
                                     f"{''.join(stderr)[-2000:]}")
            time.sleep(max(0.0, end - time.monotonic()))
            producer.send_signal(signal.SIGTERM)  # stops, delivers what it accepted, exit 130
            out = producer.stdout.read()
            producer.wait(timeout=300)
        finally:
            if producer.poll() is None:
                producer.kill()
        if producer.returncode != 130:
            raise SoakFailed(f"the producer exited {producer.returncode}: {''.join(stderr)[-2000:]}")
        produced = json.loads(out)
        if produced.get("failed") or produced.get("rejected"):
            raise SoakFailed(f"the producer lost records: {produced}")
        sent = produced["sent"]
        self.log(f"produced {sent} trades; waiting for Bronze to hold them all")
        tables = self.cli.json("tables", "--layer", "bronze", "--wait-for-topic", self.topic, "--timeout", "600",
                               timeout=900)
        counts = {t["format"]: t["rows"] for t in tables["tables"] if t["name"] == self.topic}
        # verify reads the whole topic back: a 30-minute run at 10,000/s is 22M records, which took more than
        # 300 s on a loaded 2-core machine; allow a floor of 20,000 records/s
        read_s = max(300, sent / 20_000)
        verify = self.cli.run("verify", "--topic", self.topic, "--table", f"bronze.{self.topic}", "--key",
                              "trade_id", "--timeout", f"{read_s:.0f}", "-o", "json", timeout=read_s + 600)
        report = json.loads(verify.stdout) if verify.stdout.strip() else {"error": verify.stderr.strip()}
        self.cli.run("job", "cancel", self.job_name, timeout=300)
        recoveries = [f.recovered_after_s for f in self.faults if f.recovered_after_s is not None]
        by_kind: dict[str, dict] = {}
        for f in self.faults:
            entry = by_kind.setdefault(f.kind, {"count": 0, "recovery_s": []})
            entry["count"] += 1
            entry["recovery_s"].append(f.recovered_after_s)
        sources = {s["source"]: s for s in report.get("sources", [])}
        result = {
            "seed": self.seed, "minutes": self.minutes, "rate": self.rate, "topic": self.topic,
            "events_sent": sent, "final_rows": {"kafka": sources.get("kafka", {}).get("rows"), **counts},
            "duplicates": {name: s["rows"] - s["distinct_keys"] for name, s in sources.items()},
            "missing": {fmt: sent - rows for fmt, rows in counts.items()},
            "verify_ok": verify.returncode == 0 and report.get("ok") is True,
            "verify": report,
            "faults": [asdict(f) for f in self.faults],
            "faults_by_kind": by_kind,
            "recovery_p50_s": round(statistics.median(recoveries), 1) if recoveries else None,
            "recovery_max_s": max(recoveries) if recoveries else None,
        }
        problems = []
        if not result["verify_ok"]:
            problems.append(f"verify: {report}")
        if any(result["duplicates"].values()) or any(result["missing"].values()):
            problems.append(f"duplicates {result['duplicates']}, missing {result['missing']}")
        if sources.get("kafka", {}).get("rows") != sent:
            kafka_rows = sources.get("kafka", {}).get("rows")
            problems.append(f"kafka holds {kafka_rows} records, the producer delivered {sent}")
        missing_kinds = set(self.kinds) - set(by_kind)
        if missing_kinds:
            problems.append(f"faults never injected: {sorted(missing_kinds)}")
        result["problems"] = problems
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--rate", type=int, default=2000, help="trades per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", default=",".join(KINDS), help="the fault kinds to draw from (default: all)")
    args = parser.parse_args()
    kinds = tuple(k for k in args.faults.split(",") if k)
    if unknown := set(kinds) - set(KINDS):
        sys.exit(f"soak: unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    sys.path.insert(0, str(Path(__file__).parent))
    from common import save_result

    try:
        result = Soak(Lakectl(), minutes=args.minutes, rate=args.rate, seed=args.seed, kinds=kinds).run()
    except SoakFailed as exc:
        sys.exit(f"soak: {exc}")
    save_result("soak", result)
    if result["problems"]:
        sys.exit("soak: " + "; ".join(result["problems"]))


if __name__ == "__main__":
    main()
