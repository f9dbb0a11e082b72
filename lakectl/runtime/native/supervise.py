"""Restart a native service that exits on its own, as compose's ``restart: unless-stopped`` does.

Some services exit by design when a dependency goes away: Airflow's scheduler and dag-processor
end their job loop on a lost metadata database and expect a supervisor (systemd, Kubernetes,
compose) to start them again. Natively that supervisor is this small process: lakectl starts it in
the service's session in place of the service, it runs the service as its child and starts it
again after an exit, with a backoff (1 s doubling to 30 s; back to 1 s once a run has lasted a
minute).

A first run that ends within ``--settle`` seconds is not restarted: that is a start-up failure
(bad configuration, a port in use), and the supervisor exits with its code so that ``lakectl up``
reports it with the log's last lines, as for an unsupervised service. Stopping is unchanged:
lakectl signals the whole process group, so the service gets SIGTERM directly and the supervisor,
told to stop by the same signal, waits for it and exits.

Standard library only: it runs for as long as the service does.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from lakectl.runtime.native.process import Launch

SETTLE_S = 20.0
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_RUN_S = 60.0


def wrap(launch: Launch, name: str) -> Launch:
    """``launch`` run under the supervisor (same environment, directory and user)."""
    argv = [sys.executable, "-m", "lakectl.runtime.native.supervise", "--name", name, "--", *launch.argv]
    return Launch(argv=argv, env=launch.env, cwd=launch.cwd, user=launch.user)


def _say(name: str, message: str) -> None:
    # the service's log is this process's stdout: the supervisor's lines sit among the service's own
    print(f"--- lakectl supervise: {name} {message} at {time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)


def supervise(argv: list[str], name: str, settle_s: float = SETTLE_S, backoff_max_s: float = BACKOFF_MAX_S) -> int:
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff, first, restarts = BACKOFF_MIN_S, True, 0
    while True:
        started = time.monotonic()
        try:
            child = subprocess.Popen(argv)
        except OSError as exc:
            _say(name, f"cannot run {argv[0]}: {exc.strerror}")
            return 127
        code = child.wait()  # a signal to stop runs the handler; wait() goes on (PEP 475)
        lived = time.monotonic() - started
        if stopping:
            return code
        if first and lived < settle_s:
            _say(name, f"exited with code {code} after {lived:.1f} s while starting; not restarting it")
            return code
        first = False
        if lived >= HEALTHY_RUN_S:
            backoff = BACKOFF_MIN_S
        restarts += 1
        _say(name, f"exited with code {code} after {lived:.1f} s; restart {restarts} in {backoff:.0f} s")
        deadline = time.monotonic() + backoff
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
        if stopping:
            return code
        backoff = min(backoff * 2, backoff_max_s)


def main() -> None:
    parser = argparse.ArgumentParser(prog="lakectl-supervise")
    parser.add_argument("--name", required=True)
    parser.add_argument("--settle", type=float, default=SETTLE_S)
    parser.add_argument("--backoff-max", type=float, default=BACKOFF_MAX_S)
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        parser.error("no command to supervise")
    sys.exit(supervise(argv, args.name, args.settle, args.backoff_max))


if __name__ == "__main__":
    main()
