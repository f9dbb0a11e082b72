"""Native processes are files, not pipes: detached, logging to files, recorded in PID files.

Each service runs in its own session (so its own process group); stopping signals the group.
The record of a running service is a JSON file created exclusively under ``<state>/run``, and
``status`` is rebuilt from those files, so a second ``lakectl`` sees what the first started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from lakectl.errors import ComponentError


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    # run as this user when lakectl runs as root (PostgreSQL refuses to run as root)
    user: str | None = None


@dataclass
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    argv: list[str]
    log: str
    started_at: float
    # seconds from boot to the process's start: psutil's create_time is boot time (read from the wall clock)
    # plus that, so a clock step (NTP) moves create_time for every process while this stays put
    since_boot: float | None = None

    def process(self) -> psutil.Process | None:
        """The live process, or None if it exited (or the PID now belongs to someone else)."""
        try:
            proc = psutil.Process(self.pid)
            if self.since_boot is not None:
                moved = abs(proc.create_time() - psutil.boot_time() - self.since_boot)
            else:
                moved = abs(proc.create_time() - self.create_time)
            if moved > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def group_members(self) -> list[psutil.Process]:
        members = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) == self.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    members.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        return members

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.group_members():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total


class ProcessManager:
    def __init__(self, state_dir: Path) -> None:
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _record_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def record(self, name: str) -> ProcessRecord | None:
        path = self._record_path(name)
        try:
            return ProcessRecord(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            # a half-written record from a crash: treat as not running
            return None

    def running(self, name: str) -> ProcessRecord | None:
        record = self.record(name)
        return record if record and record.process() else None

    def start(self, name: str, launch: Launch) -> ProcessRecord:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        existing = self.running(name)
        if existing:
            return existing
        self._record_path(name).unlink(missing_ok=True)  # stale: its process is gone
        # claim the name first, exclusively: two concurrent `lakectl up` cannot both start it
        try:
            fd = os.open(self._record_path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise ComponentError(f"{name}: another lakectl is starting it right now") from None
        log_path = self.log_path(name)
        with open(log_path, "ab") as log:
            log.write(f"\n--- lakectl: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            log.flush()
            user = launch.user if launch.user and os.geteuid() == 0 else None
            try:
                proc = subprocess.Popen(
                    launch.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=launch.cwd,
                    env=launch.env,
                    start_new_session=True,
                    close_fds=True,
                    user=user,
                )
            except OSError as exc:
                os.close(fd)
                self._record_path(name).unlink(missing_ok=True)
                raise ComponentError(f"{name}: cannot run {launch.argv[0]}: {exc.strerror}") from None
        record = ProcessRecord(
            name=name,
            pid=proc.pid,
            create_time=(created := psutil.Process(proc.pid).create_time()),
            argv=launch.argv,
            log=str(log_path),
            started_at=time.time(),
            since_boot=created - psutil.boot_time(),
        )
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(record), handle)
        return record

    def stop(self, name: str, timeout: float = 30.0) -> bool:
        """SIGTERM the service's process group, SIGKILL what is left after ``timeout``."""
        record = self.record(name)
        if record is None:
            return False
        members = record.group_members() if record.process() else []
        if members:
            self._signal_group(record.pid, signal.SIGTERM)
            _, alive = psutil.wait_procs(members, timeout=timeout)
            if alive:
                self._signal_group(record.pid, signal.SIGKILL)
                psutil.wait_procs(alive, timeout=5)
        self._record_path(name).unlink(missing_ok=True)
        return bool(members)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])
