"""SIGTERM and Ctrl-C end a lakectl command with exit 130 and one line: never death by the signal (-15, -2) nor a
traceback, whenever the signal comes (during the imports, during the command, after its result)."""

from __future__ import annotations

import os
import subprocess
import sys

# the program as the console script starts it, with a hidden command that blocks (a sleep standing in for a
# wait on a service) and a signal sent to itself at a chosen moment
PROLOGUE = "import os, signal, threading, time\nimport lakectl.cli as c\nc.exit_on_signals()\n"


def _run(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROLOGUE + body], capture_output=True, text=True, timeout=60)


def _nap(signal_name: str) -> str:
    return ("import lakectl.cli.main as m\n"
            "@m.app.command('nap', hidden=True)\n"
            "def nap():\n"
            "    time.sleep(30)\n"
            f"threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.{signal_name})).start()\n"
            "m.main(['nap'])\n")


def test_sigterm_or_ctrl_c_during_a_command_is_exit_130_and_no_traceback():
    for name in ("SIGTERM", "SIGINT"):
        done = _run(_nap(name))
        assert done.returncode == 130, (name, done.returncode, done.stderr)  # Typer's exit on Ctrl-C
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 1, done.stderr


def test_an_interrupt_inside_an_exec_does_not_kill_the_finished_process(tmp_path):
    # CPython flags a KeyboardInterrupt that ends an exec() of a string and, when the program was started with
    # -m as `python -m lakectl` is, kills the process with SIGINT at exit (-2, no word) even though main()
    # caught it. Dataclasses are made by exec(): a signal landing during an import inside a command does this
    (tmp_path / "probe_exec.py").write_text(
        PROLOGUE + "import lakectl.cli.main as m\n"
        "@m.app.command('exec', hidden=True)\n"
        "def in_exec():\n"
        "    exec('raise KeyboardInterrupt')\n"
        "m.main(['exec'])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run([sys.executable, "-m", "probe_exec"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 130, (done.returncode, done.stderr)


def test_a_signal_during_the_imports_is_exit_130_with_one_line():
    # before: a SIGTERM ~50 ms after start raised KeyboardInterrupt inside Typer's import, a traceback and -2
    for name in ("SIGTERM", "SIGINT"):
        done = _run(f"os.kill(os.getpid(), signal.{name})\nimport lakectl.cli.main\ntime.sleep(30)\n")
        assert done.returncode == 130, (name, done.returncode, done.stderr)
        assert done.stderr == "lakectl: error: interrupted\n", name


def test_a_signal_after_the_result_keeps_the_commands_exit_code():
    # before: a SIGTERM during the interpreter's shutdown ended a finished `produce` with -2 and no word
    done = _run("import lakectl.cli.main as m\n"
                "@m.app.command('quick', hidden=True)\n"
                "def quick():\n"
                "    print('done')\n"
                "import atexit\n"
                "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(30)))\n"
                "m.main(['quick'])\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")


def test_the_handlers_are_in_place_before_typer_is_imported_and_only_for_the_program():
    done = _run("import sys\nimport lakectl.__main__\n"
                "assert 'typer' not in sys.modules\n"
                "assert signal.getsignal(signal.SIGTERM) is c._on_signal\n")
    assert done.returncode == 0, done.stderr
    # importing the package (a test run, a DAG) leaves the importer's own handlers alone
    plain = subprocess.run([sys.executable, "-c", "import signal, lakectl.cli.main\n"
                            "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
                            "assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL\n"],
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr


def test_the_console_script_and_python_m_start_the_same_way():
    done = subprocess.run([sys.executable, "-m", "lakectl", "version", "-o", "json"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and '"lakectl"' in done.stdout, done.stderr
