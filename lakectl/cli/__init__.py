"""The command line (one Typer app per command group). Importing it makes SIGTERM end a command as Ctrl-C does.

The handler is installed here, before lakectl.cli.main imports Typer and the command modules: a command stopped
by SIGTERM, even while it is still starting, exits 130 as on Ctrl-C, instead
of dying of the signal with no word (a background ``lakectl produce`` stopped by its caller right after it
started exited -15). Commands that must finish something on a signal install their own handler while they run
(lakectl.ops.produce.loop.stop_on_signals); ``lakectl service run`` execs the service, which resets it.
"""

import signal
import threading


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _interrupt)
