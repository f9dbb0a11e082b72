"""The command line (one Typer app per command group).

``lakectl`` and ``python -m lakectl`` start in ``lakectl.__main__``, which installs ``exit_on_signals`` before it
imports Typer and the command modules: a command stopped by SIGTERM or Ctrl-C exits 130 with one line, never dying
of the signal with no word (a background ``lakectl produce`` stopped by its caller right after it started exited
-15) nor with a traceback.

Only while ``main()`` runs a command does a signal become a KeyboardInterrupt, which main() turns into its one
line. Outside that window nothing could catch it: during the imports (a SIGTERM 50 ms after start printed a
traceback from inside Typer and died of SIGINT, -2) and after the result is out (during the interpreter's
shutdown, where it ended a finished ``produce`` with -2 and no word). There the process leaves at once: nothing
has started yet, or everything is done. Commands that must finish something on a signal install their own
handler while they run (lakectl.ops.produce.loop.stop_on_signals); ``lakectl service run`` execs the service,
which resets it. Importing this package installs nothing: a test run that imports lakectl keeps its own Ctrl-C.
"""

import os
import signal
import sys
import threading

INTERRUPTED = 130  # as Ctrl-C (ExitCode.INTERRUPTED; not imported: this module must stay light)

_running = False  # main() is running a command: a signal is a KeyboardInterrupt it catches
_result: list[int] = []  # the command's exit code once main() has it


def _on_signal(signum, frame) -> None:
    if _running:
        raise KeyboardInterrupt
    if _result:  # finished: the command's own result stands
        os._exit(_result[0])
    sys.stderr.write("lakectl: error: interrupted\n")
    sys.stderr.flush()
    os._exit(INTERRUPTED)


def exit_on_signals() -> None:
    """SIGTERM and SIGINT end the process as described above (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _on_signal)


def command_started() -> None:
    global _running
    _running = True


def command_ended(code: int) -> None:
    """From here on a signal ends the process with ``code`` at once."""
    global _running
    _result[:] = [code]
    _running = False
    # CPython (3.11) remembers a KeyboardInterrupt that ended any exec() of a string (dataclasses and namedtuples
    # are made that way, so a signal during an import inside a command can land there) and, at exit, kills the
    # process with SIGINT even though main() caught it: a background `lakectl produce` stopped early died -2
    # with no word, one time in ten. A clean exec() clears that flag.
    exec("")
