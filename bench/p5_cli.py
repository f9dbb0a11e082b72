"""P5: how fast lakectl answers: `lakectl --help` (target <= 0.25 s) and `lakectl status` (<= 1 s).

Each command runs as a fresh process (as a person or a script runs it) ``--runs`` times; the median
and the slowest are reported, as ratios to the targets. ``--repo DIR`` (repeatable) times other
checkouts with the same interpreter (their code first on PYTHONPATH), so a change can be compared with
its baseline in one run: ``python bench/p5_cli.py --repo /path/to/baseline``. `status` runs in an empty
project (nothing started: it reads the state dir and probes nothing), and also against a running stack
when ``--config`` names its lakectl.toml.

Usage: python bench/p5_cli.py [--runs N] [--repo DIR ...] [--config lakectl.toml]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

from common import REPO, save_result

TARGETS = {"help": 0.25, "status": 1.0}


def timed(argv: list[str], env: dict[str, str], cwd: str, runs: int) -> dict:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
        seconds.append(time.perf_counter() - started)
        if done.returncode not in (0, 3):  # status exits 3 when a started service is unhealthy
            sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3), "runs": runs}


def measure(repo: str, runs: int, config: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": repo, "NO_COLOR": "1"}
    lakectl = [sys.executable, "-m", "lakectl"]
    with tempfile.TemporaryDirectory(prefix="lakectl-p5-") as project:
        config_file = os.path.join(project, "lakectl.toml")
        with open(config_file, "w") as handle:
            handle.write('[profiles.local]\nruntime = "native"\n')
        empty = {**env, "LAKECTL_CONFIG": config_file}
        result = {"help": timed([*lakectl, "--help"], empty, project, runs),
                  "status": timed([*lakectl, "status", "-o", "json"], empty, project, runs)}
        if config:
            result["status_running_stack"] = timed([*lakectl, "status", "-o", "json"],
                                                   {**env, "LAKECTL_CONFIG": config}, os.path.dirname(config), runs)
    for name, target in TARGETS.items():
        result[name]["ratio_to_target"] = round(result[name]["median_s"] / target, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repo", action="append", default=[], help="another checkout to time the same way")
    parser.add_argument("--config", help="the lakectl.toml of a running stack, to time status against it too")
    args = parser.parse_args()
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "targets_s": TARGETS,
               "this": measure(str(REPO), args.runs, args.config)}
    for repo in args.repo:
        other = measure(os.path.abspath(repo), args.runs, args.config)
        results[repo] = other
        results[f"this_vs_{repo}"] = {k: round(results["this"][k]["median_s"] / other[k]["median_s"], 2)
                                      for k in other if k in results["this"]}
    save_result("p5", results)


if __name__ == "__main__":
    main()
