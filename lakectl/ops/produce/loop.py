"""Produce: the one run loop. Pacing, the deadline (--duration), stopping on a signal, and the worker
processes that share a run, for every kind of source.

SIGINT (Ctrl-C) or SIGTERM stops making records, delivers every record already handed to the
producer and reports what was sent, flagged ``interrupted``: a stopped run loses nothing it
accepted. A second signal interrupts at once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from lakectl.avro import WireCodec
from lakectl.ops.produce.encoder import Encoder
from lakectl.ops.produce.sender import DeadLetters, Sender
from lakectl.ops.produce.sources import Chunk, Read, Source
from lakectl.polling import Deadline

# set by SIGINT/SIGTERM; the loop checks it after every chunk (forked workers get their own copy, set by
# the same handler when the signal reaches them)
STOP = threading.Event()
CHUNK = 1_000  # records per chunk: how often the loop paces, polls and checks the deadline and STOP

_HANDLER_OWNER: list[int] = []  # pid of the process that installed the handlers (not its forked workers)


def _request_stop(signum, frame) -> None:
    STOP.set()
    if os.getpid() not in _HANDLER_OWNER:
        # a worker: it finishes its loop and delivers. Ctrl-C reaches it twice (from the terminal and
        # forwarded by the parent), so SIGINT stays handled; a second SIGTERM (the pool terminating
        # on an error) ends it
        if signum == signal.SIGTERM:
            signal.signal(signum, signal.SIG_DFL)
        return
    signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)
    for child in multiprocessing.active_children():  # a signal sent to the parent alone reaches the workers
        with suppress(ProcessLookupError):
            os.kill(child.pid, signum)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set STOP instead of killing the run (main thread only; restored after)."""
    if threading.current_thread() is not threading.main_thread():
        yield STOP
        return
    STOP.clear()
    _HANDLER_OWNER[:] = [os.getpid()]
    saved = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield STOP
    finally:
        _HANDLER_OWNER.clear()
        for sig, handler in saved.items():
            signal.signal(sig, handler)


class Pacer:
    """Holds a producer to ``rate`` records/s (None = as fast as possible)."""

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.start = clock()

    @property
    def chunk(self) -> int:
        """Records per chunk: paced runs take smaller ones so that a low rate is not sent as one burst."""
        return max(1, min(CHUNK, int(self.rate / 20))) if self.rate else CHUNK

    def pace(self, done: int) -> None:
        if self.rate:
            ahead = done / self.rate - (self.clock() - self.start)
            if ahead > 0:
                self.sleep(ahead)  # rate limiting, not waiting on a service


def pump(read: Read, send: Callable[[Chunk], None], *, count: int | None, pacer: Pacer,
         deadline: Deadline | None, stop: threading.Event, sent: Callable[[int], None] = lambda _n: None) -> bool:
    """Move chunks from ``read`` to ``send`` until the source or ``count`` is done (True), or the
    deadline passes or ``stop`` is set (False). ``read(n)`` returns a chunk whose ``seen`` is at most n,
    and less only when the source has no more. ``sent`` hears the running total after each chunk."""
    seen = 0
    while True:
        want = pacer.chunk if count is None else min(pacer.chunk, count - seen)
        chunk = read(want)
        send(chunk)
        seen += chunk.seen
        sent(seen)
        if chunk.seen < want or (count is not None and seen >= count):
            return True
        pacer.pace(seen)
        if (deadline is not None and deadline.expired) or stop.is_set():
            return False


@dataclass(frozen=True)
class Share:
    """One worker's part of a run: picklable, so that a forked worker receives it."""

    client_config: dict[str, Any]
    topic: str
    subject: str
    schema: str
    schema_id: int
    source: Source
    count: int | None
    rate: float | None
    duration: float | None
    flush_timeout: float
    slot: int = 0  # this worker's place in the run's progress counters


@dataclass
class WorkerResult:
    sent: int = 0
    rejected: int = 0
    failed: int = 0  # delivery errors librdkafka reported
    pending: int = 0  # still unacknowledged when the flush timed out
    failures: list[str] = field(default_factory=list)  # the first delivery errors
    samples: list[str] = field(default_factory=list)  # the first dead-letter reasons
    interrupted: bool = False
    undelivered: Undelivered | None = None


@dataclass(frozen=True)
class Undelivered:
    """Why records were not delivered; ``unacknowledged``: the broker did not confirm them in time."""

    text: str
    unacknowledged: bool


# records each worker of the current run has handed to its producer so far, one slot per worker (each
# writes only its own, so no lock); made before the pool forks, so the workers share it with the parent
_COUNTERS: list[Any] = []
PROGRESS_EVERY_S = 0.5


def _count(slot: int, seen: int) -> None:
    if _COUNTERS:
        _COUNTERS[0][slot] = seen


def run_share(share: Share, ensure_dlq: Callable[[str], Any] | None = None) -> WorkerResult:
    """Produce one share in this process: its source through one sender, then deliver everything.
    ``ensure_dlq`` creates the dead-letter topic on first use; None when it exists already."""
    dead_letters = DeadLetters(share.topic, share.subject, share.schema_id, ensure_dlq)
    sender = Sender(share.client_config, share.topic, dead_letters)
    read = share.source.open(Encoder(WireCodec(share.schema, share.schema_id)))
    finished = pump(read, sender.send, count=share.count, pacer=Pacer(share.rate),
                    deadline=Deadline(share.duration) if share.duration else None, stop=STOP,
                    sent=lambda seen: _count(share.slot, seen))
    pending = sender.finish(share.flush_timeout)
    if sender.failures:
        undelivered = Undelivered(sender.failures[0], unacknowledged=False)
    elif pending:
        undelivered = Undelivered(f"{pending} records not acknowledged within {share.flush_timeout:g}s",
                                  unacknowledged=True)
    else:
        undelivered = None
    return WorkerResult(sent=sender.sent, rejected=sender.rejected, failed=sender.failed, pending=pending,
                        failures=sender.failures, samples=dead_letters.samples,
                        interrupted=STOP.is_set() and not finished, undelivered=undelivered)


def run_shares(shares: list[Share], ensure_dlq: Callable[[str], Any] | None = None,
               progress: Callable[[int], None] | None = None) -> list[WorkerResult]:
    """One share runs here; several run in a fork pool (their dead-letter topic must exist already).
    ``progress`` hears the records handed to the producers so far, about every PROGRESS_EVERY_S."""
    from multiprocessing.sharedctypes import RawArray

    _COUNTERS[:] = [RawArray("q", len(shares))]
    watcher = _Watcher(progress) if progress else None
    try:
        if watcher:
            watcher.start()
        if len(shares) == 1:
            return [run_share(shares[0], ensure_dlq)]
        with multiprocessing.get_context("fork").Pool(len(shares)) as pool:
            results = pool.map(run_share, shares)
            # workers leave on the pool's sentinels: the context's terminate() would signal them,
            # and a worker takes a first SIGTERM as "stop producing", not as "exit"
            pool.close()
            pool.join()
        return results
    finally:
        if watcher:
            watcher.stop()
        _COUNTERS.clear()


class _Watcher(threading.Thread):
    """Reports the sum of the workers' counters every PROGRESS_EVERY_S, from a thread of the parent
    (the producing loop itself never pays for it)."""

    def __init__(self, progress: Callable[[int], None]) -> None:
        super().__init__(daemon=True, name="produce-progress")
        self.progress = progress
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(PROGRESS_EVERY_S):
            if _COUNTERS:
                self.progress(sum(_COUNTERS[0]))

    def stop(self) -> None:
        self.done.set()
        self.join()


def share_of(count: int | None, workers: int, index: int) -> int | None:
    """Worker ``index``'s part of ``count`` records (None: no count)."""
    if count is None:
        return None
    return count // workers + (1 if index < count % workers else 0)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
