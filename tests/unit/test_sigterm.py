"""SIGTERM ends a lakectl command as Ctrl-C does: exit 130, never death by the signal (-15)."""

from __future__ import annotations

import subprocess
import sys


def test_sigterm_during_a_command_is_exit_130_with_one_line():
    # a command that blocks (a sleep standing in for a wait on a service), stopped by SIGTERM mid-way
    script = (
        "import os, signal, threading, time\n"
        "import lakectl.cli.main as m\n"
        "@m.app.command('nap', hidden=True)\n"
        "def nap():\n"
        "    time.sleep(30)\n"
        "threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
        "m.main(['nap'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, (done.returncode, done.stderr)  # as Ctrl-C: Typer's exit 130
    assert "Traceback" not in done.stderr


def test_the_handler_is_in_place_before_typer_is_imported():
    script = ("import signal, sys\nimport lakectl.cli\n"
              "assert 'typer' not in sys.modules\n"
              "assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
