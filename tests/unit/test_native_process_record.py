"""A process lakectl started is still recognised after the wall clock steps (NTP): psutil's create_time is
boot time (derived from the wall clock) plus the start offset, so a step moves it for every process."""

from __future__ import annotations

import subprocess

import psutil

from lakectl.runtime.native.process import ProcessRecord


def test_a_clock_step_does_not_make_a_running_process_look_exited(monkeypatch):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        created = psutil.Process(proc.pid).create_time()
        record = ProcessRecord("x", proc.pid, created, ["sleep"], "log", 0.0, since_boot=created - psutil.boot_time())
        assert record.process() is not None
        real_create, real_boot = psutil.Process.create_time, psutil.boot_time
        monkeypatch.setattr(psutil.Process, "create_time", lambda self: real_create(self) + 46.0)
        monkeypatch.setattr(psutil, "boot_time", lambda: real_boot() + 46.0)
        assert record.process() is not None
        # a record without the offset (written by an older lakectl) falls back to create_time
        old = ProcessRecord("x", proc.pid, created, ["sleep"], "log", 0.0)
        assert old.process() is None
        monkeypatch.setattr(psutil.Process, "create_time", real_create)
        assert old.process() is not None
    finally:
        proc.kill()
        proc.wait()
    assert record.process() is None
