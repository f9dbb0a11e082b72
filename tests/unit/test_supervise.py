"""The native supervisor restarts a service that exits after it started, never one that failed to start,
and stops with its process group. Real processes (a few lines of Python as the service)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.supervise import wrap

# counts its runs in a file, lives for `live` seconds, then exits with code 3
CHILD = """
import sys, time, pathlib
runs = pathlib.Path(sys.argv[1])
runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
time.sleep(float(sys.argv[2]))
sys.exit(3)
"""


def _supervisor(tmp_path: Path, live: float, settle: float) -> tuple[subprocess.Popen, Path]:
    runs = tmp_path / "runs"
    launch = wrap(Launch(argv=[sys.executable, "-c", CHILD, str(runs), str(live)]), "svc")
    argv = [*launch.argv[:launch.argv.index("--")], "--settle", str(settle), "--backoff-max", "1",
            *launch.argv[launch.argv.index("--"):]]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    return proc, runs


def _runs(path: Path) -> int:
    return len(path.read_text()) if path.exists() else 0


def test_wrap_keeps_the_launch_and_runs_the_supervisor_module():
    launch = wrap(Launch(argv=["airflow", "scheduler"], env={"A": "1"}, cwd=Path("/tmp"), user="u"), "airflow-x")
    assert launch.argv[:3] == [sys.executable, "-m", "lakectl.runtime.native.supervise"]
    assert launch.argv[-3:] == ["--", "airflow", "scheduler"]
    assert (launch.env, launch.cwd, launch.user) == ({"A": "1"}, Path("/tmp"), "u")


def test_a_start_up_failure_is_not_restarted_and_keeps_its_exit_code(tmp_path):
    proc, runs = _supervisor(tmp_path, live=0.0, settle=30.0)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert _runs(runs) == 1
    assert "while starting; not restarting it" in out


def test_a_service_that_exits_after_it_started_is_started_again_until_the_group_is_stopped(tmp_path):
    proc, runs = _supervisor(tmp_path, live=0.3, settle=0.1)
    try:
        deadline = time.monotonic() + 30
        while _runs(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _runs(runs) >= 3, "the service was not restarted twice within 30 s"
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # what ProcessManager.stop does
    out, _ = proc.communicate(timeout=15)
    assert "restart 1 in 1 s" in out and "restart 2 in 1 s" in out
    # nothing of the group is left
    time.sleep(0.2)
    assert not [p for p in psutil.process_iter() if _pgid(p.pid) == proc.pid]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
