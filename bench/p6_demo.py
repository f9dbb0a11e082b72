"""P6: the demo on a warm cache, from an empty state: total and per-stage seconds (target <= 180 s).

Runs `lakectl demo --count N` in a fresh project directory (its own state dir and ports, so a
running dev stack is not disturbed), then purges that state. The download cache is the user's
(~/.cache/lakectl, or LAKECTL_CACHE_DIR): run `make demo` once before, so that it is warm.
`make demo` adds the install step (an up-to-date venv: a few seconds) to these figures.

Usage: python bench/p6_demo.py [--count N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import save_result

TARGET_S = 180
# below the ephemeral range (32768+), where any outgoing connection may hold a port for a while
PORTS = {"kafka": 17092, "kafka.controller": 17093, "schema-registry": 17085, "schema-registry.management": 17086,
         "postgres": 17433, "object-store": 17000, "flink-jobmanager": 17081, "flink-jobmanager.rpc": 17124,
         "flink-jobmanager.metrics": 17249, "flink-taskmanager.metrics": 17250, "flink-sql-gateway": 17083,
         "trino": 17080}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakectl-p6-") as project:
        config = Path(project) / "lakectl.toml"
        ports = "\n".join(f'"{k}" = {v}' for k, v in PORTS.items())
        config.write_text(f'[profiles.local]\nruntime = "native"\n\n[profiles.local.ports]\n{ports}\n')
        env = {**os.environ, "LAKECTL_CONFIG": str(config)}
        lakectl = [sys.executable, "-m", "lakectl"]
        started = time.perf_counter()
        done = subprocess.run([*lakectl, "demo", "--count", str(args.count), "-o", "json"], cwd=project, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        subprocess.run([*lakectl, "down", "--purge"], cwd=project, env=env, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"demo failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout)
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "count": args.count,
              "wall_s": round(wall, 1), "target_s": TARGET_S, "ratio_to_target": round(wall / TARGET_S, 2),
              "stage_seconds": report["stage_seconds"], "produced": report["produced"],
              "silver_rows": report["silver_rows"], "gold_rows": report["gold_rows"]}
    save_result("p6", result)


if __name__ == "__main__":
    main()
