"""P4: `lakectl up` of the whole native stack on a warm cache (target <= 60 s) and its idle RSS
(target <= 6 GB), with the services that dominate each.

Runs in a fresh project directory (its own state dir and ports, so a running dev stack is not
disturbed): `up` from an empty state (first start: databases created, migrations copied or run),
then `down` and `up` again (a restart of an existing stack), each with the moment every service
reported ready; then the RSS of every service after the stack has been idle for a while. Purges
that state at the end. The download cache is the user's: run `make demo` or `make test` first.

Usage: python bench/p4_up.py [--idle S]
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

from common import run_up, save_result

TARGET_UP_S = 60
TARGET_RSS_MB = 6 * 1024
# private ports (1xxxx: below the ephemeral range, apart from the test suites' 2xxxx)
PORTS = {"kafka": 19392, "kafka.controller": 19393, "kafka.metrics": 19308, "schema-registry": 18385,
         "schema-registry.management": 19385, "postgres": 15732, "object-store": 19300,
         "flink-jobmanager": 18381, "flink-jobmanager.rpc": 16423, "flink-jobmanager.metrics": 19549,
         "flink-taskmanager.metrics": 19550, "flink-sql-gateway": 18383, "trino": 18380, "prometheus": 19390,
         "airflow-api-server": 18388, "superset": 18391}


def timed_up(lakectl: list[str], project: str, env: dict[str, str]) -> dict:
    """`lakectl up` (all services): wall seconds and when each service said it was ready."""
    wall, ready, out = run_up(lakectl, project, env)
    wall = round(wall, 1)
    services = [s["name"] for s in json.loads(out)["services"]]
    cpu = cpu_seconds(project)
    return {"wall_s": wall, "ratio_to_target": round(wall / TARGET_UP_S, 2), "services": len(services),
            "ready_at_s": ready,
            "cpu_s_at_ready": cpu, "cpu_s_total": round(sum(cpu.values()), 1)}


def cpu_seconds(project: str) -> dict[str, float]:
    """CPU seconds (user + system) each service's process group has used so far: right after `up`, what
    starting it cost; on 2 cores, the sum over services bounds how fast `up` can be."""
    import psutil

    from lakectl.runtime.native.process import ProcessManager

    manager = ProcessManager(Path(project) / ".lakectl")
    used: dict[str, float] = {}
    for path in (Path(project) / ".lakectl" / "run").glob("*.json"):
        record = manager.record(path.stem)
        total = 0.0
        for proc in record.group_members() if record else []:
            try:
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                continue
        used[path.stem] = round(total, 1)
    return dict(sorted(used.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60, help="seconds idle before RSS is read")
    args = parser.parse_args()
    lakectl = [sys.executable, "-m", "lakectl"]
    with tempfile.TemporaryDirectory(prefix="lakectl-p4-") as project:
        config = Path(project) / "lakectl.toml"
        ports = "\n".join(f'"{k}" = {v}' for k, v in PORTS.items())
        config.write_text(f'[profiles.local]\nruntime = "native"\n\n[profiles.local.ports]\n{ports}\n')
        env = {**os.environ, "LAKECTL_CONFIG": str(config), "LAKECTL_SECRETS_FILE": str(Path(project) / "none")}
        env = {k: v for k, v in env.items() if k not in ("LAKECTL_STATE_DIR", "LAKECTL_PORTS", "LAKECTL_PROFILE")}
        try:
            first = timed_up(lakectl, project, env)
            subprocess.run([*lakectl, "down"], cwd=project, env=env, capture_output=True, check=True)
            restart = timed_up(lakectl, project, env)
            time.sleep(args.idle)  # idle: JVMs settle after start-up (a measurement pause, not a wait on a service)
            status = subprocess.run([*lakectl, "status", "-o", "json"], cwd=project, env=env, capture_output=True,
                                    text=True, check=True)
        finally:
            subprocess.run([*lakectl, "down", "--purge"], cwd=project, env=env, capture_output=True)
    rss = {s["name"]: round(s.get("rss_mb") or 0) for s in json.loads(status.stdout)["services"]}
    total = sum(rss.values())
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "up_from_empty_state": first, "up_after_down": restart, "target_up_s": TARGET_UP_S,
              "idle_rss_mb": dict(sorted(rss.items(), key=lambda kv: -kv[1])), "idle_rss_total_mb": total,
              "target_rss_mb": TARGET_RSS_MB, "rss_ratio_to_target": round(total / TARGET_RSS_MB, 2)}
    save_result("p4", result)


if __name__ == "__main__":
    main()
