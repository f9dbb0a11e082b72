"""What the benchmarks share: where the repo is, and lakectl as a script calls it (-o json)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
JOB = str(REPO / "flink_jobs" / "bronze" / "job.py")


def save_result(name: str, result: dict) -> Path:
    """Write a benchmark's result to bench/results/<name>_<UTC time>.json and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}_{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return out


def lakectl(*args: str, check: bool = True, timeout: float = 1800) -> dict:
    """Run lakectl with ``-o json`` (placed before a ``--``: what follows belongs to the job); exit on failure."""
    head, tail = list(args), []
    if "--" in head:
        at = head.index("--")
        head, tail = head[:at], head[at:]
    done = subprocess.run([sys.executable, "-m", "lakectl", *head, "-o", "json", *tail], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)
    if check and done.returncode != 0:
        sys.exit(f"lakectl {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


READY = re.compile(r"^(\S+) ready$")


def run_up(argv: list[str], cwd: Path | str, env: dict[str, str]) -> tuple[float, dict[str, float], str]:
    """`lakectl up -o json` as ``argv`` (up to "up"): wall seconds, when each service said it was ready (off a
    terminal `up` reports each step on stderr as it happens) and its JSON; exits when it fails."""
    started = time.perf_counter()
    proc = subprocess.Popen([*argv, "up", "-o", "json"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ready: dict[str, float] = {}
    lines: list[str] = []

    def read_progress() -> None:
        for line in proc.stderr:
            lines.append(line)
            match = READY.match(line.strip())
            if match:
                ready[match.group(1)] = round(time.perf_counter() - started, 1)

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join(timeout=5)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"lakectl up ({cwd}) exited {proc.returncode}: {''.join(lines)[-3000:]}")
    return wall, dict(sorted(ready.items(), key=lambda kv: kv[1])), out
