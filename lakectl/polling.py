"""Waiting on something outside lakectl: one deadline type and one ``poll_until``.

Every wait in lakectl (a job reaching a state, a savepoint completing, a DAG run finishing, a table
holding N rows, a service answering its probe) goes through ``poll_until``: it calls ``check`` until
it says done or the deadline passes, and a timeout raises ``ServiceUnavailable`` naming what was
waited for and the last thing ``check`` observed, never returning quietly. Readiness of services
(runtime/readiness.py) builds on the same ``Deadline``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from lakectl.errors import ServiceUnavailable

T = TypeVar("T")


class Deadline:
    """A point in time some seconds ahead, shared by every step of one wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


@dataclass(frozen=True)
class Observation(Generic[T]):
    """What one poll saw: ``done`` ends the wait with ``value``; ``detail`` is what a timeout reports."""

    done: bool
    value: T | None = None
    detail: str = ""


def poll_until(
    check: Callable[[], Observation[T]],
    *,
    timeout: float | Deadline,
    what: str,
    interval: float = 0.5,
    hint: str | None = None,
) -> T | None:
    """Call ``check`` every ``interval`` seconds until it is done; return its value.

    ``timeout`` is seconds or a ``Deadline`` shared with other waits. On timeout: ServiceUnavailable
    "<what> not done after Ns (last: <detail>)". ``check`` may raise to end the wait early (a job that
    failed does not become RUNNING by waiting).
    """
    deadline = timeout if isinstance(timeout, Deadline) else Deadline(timeout)
    last = "nothing observed yet"
    while True:
        seen = check()
        if seen.done:
            return seen.value
        last = seen.detail or last
        if deadline.expired:
            raise ServiceUnavailable(f"{what} not done after {deadline.seconds:g}s (last: {last})", hint=hint)
        time.sleep(min(interval, max(0.01, deadline.remaining())))  # the poll interval, bounded by the deadline
