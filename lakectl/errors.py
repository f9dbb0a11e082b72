"""The lakectl exception tree and its exit codes.

    LakectlError                      exit 1  (base; anything a component reports)
     +-- ComponentError               exit 1  a system answered, and the answer was a failure
     |    +-- CheckFailed             exit 1  a check ran and said "no" (incompatible schema, rejected records)
     +-- UsageError                   exit 2  bad flags, bad input file, unknown service
     |    +-- ConfigError             exit 2  lakectl.toml / env / secrets file is wrong
     +-- ServiceUnavailable           exit 3  a service did not answer (down, unreachable, not ready in time)

One boundary handler (lakectl.cli.main.main) turns any of these into one line on stderr and
the exit code; ``--debug`` adds the traceback, never with local variables.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNAVAILABLE = 3
    INTERRUPTED = 130


class LakectlError(Exception):
    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        return f"{text} ({self.hint})" if self.hint else text


class ComponentError(LakectlError):
    exit_code = ExitCode.FAILED


class CheckFailed(ComponentError):
    exit_code = ExitCode.FAILED


class UsageError(LakectlError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    exit_code = ExitCode.USAGE


class ServiceUnavailable(LakectlError):
    exit_code = ExitCode.UNAVAILABLE
