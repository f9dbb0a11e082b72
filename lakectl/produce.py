"""Schema-checked Avro producing: validate, encode (Confluent wire format), send; rejects to a DLQ.

Contract: a record that breaks the schema (or a line that is not JSON) never reaches the topic;
it goes to ``<topic>.dlq`` with the reason in a header, and the good records are still sent.
Delivery is idempotent with acks=all; a delivery error fails the run, nothing is dropped silently.
Synthetic trades come from the Rust generator (``lakectl_tradegen``, built by ``make install``) when
it is installed and fills the schema: it builds and encodes a trade in well under a microsecond, so
the loop only hands bytes to librdkafka. Otherwise fastavro encodes them (about 200k trades/s per
core, so one Python process cannot keep up with the broker); either way, several worker processes
can share the work when asked.

SIGINT (Ctrl-C) or SIGTERM stops making records, delivers every record already handed to the
producer and reports what was sent, flagged ``interrupted`` (exit 130): a stopped run loses nothing
it accepted. A second signal interrupts at once.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lakectl.avro import WireCodec
from lakectl.errors import ComponentError, ServiceUnavailable, UsageError

POLL_EVERY = 5_000
# set by SIGINT/SIGTERM; every loop that makes records checks it (forked workers get their own copy,
# set by the same handler when the signal reaches them)
STOP = threading.Event()
CHUNK = 1_000  # synthetic trades per call into the Rust generator; also how often pacing is checked


def producer_config(client_config: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Throughput-tuned, loss-free settings; the P1 benchmark gives Kafka's Java tool the same."""
    return {
        **client_config,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_097_151,
        "message.timeout.ms": 120_000,
        # only failed deliveries call back into Python: per-record callbacks would halve throughput
        "delivery.report.only.error": True,
        **overrides,
    }


@dataclass
class ProduceResult:
    topic: str
    subject: str
    schema_id: int
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    records_per_s: float = 0.0
    workers: int = 1
    generator: str | None = None  # synthetic trades: "rust" (lakectl_tradegen) or "python" (fastavro)
    dlq_topic: str | None = None
    first_failure: str | None = None
    reasons: list[str] = field(default_factory=list)
    interrupted: bool = False  # stopped by SIGINT/SIGTERM before its count; what was sent is delivered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


class _Sender:
    """One producer plus the DLQ path; counts what it sent, rejected and failed to deliver."""

    def __init__(self, config: dict[str, Any], topic: str, codec: WireCodec, dlq: DeadLetters) -> None:
        from confluent_kafka import Producer

        self.failures: list[str] = []
        self.producer = Producer({**config, "on_delivery": self._on_error, "error_cb": self._on_client_error})
        self.topic = topic
        self.codec = codec
        self.dlq = dlq
        self.sent = 0
        self.rejected = 0
        self.buffer = io.BytesIO()

    def _on_error(self, err, msg) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}: {err.str()}")

    def _on_client_error(self, err) -> None:
        if err.fatal():
            self.failures.append(f"fatal producer error: {err.str()}")

    def _produce(self, topic: str, value: bytes, key: bytes | None, headers: list | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.05)  # local queue full: let librdkafka drain it

    def send(self, key: bytes | None, record: dict, *, validate: bool, origin: str, raw: bytes | None) -> None:
        reason = self.codec.validation_error(record) if validate else None
        if reason is None:
            try:
                value = self.codec.encode(record, self.buffer)
            except Exception as exc:  # fastavro's writer raises various types on bad data
                reason = self.codec.validation_error(record) or f"{type(exc).__name__}: {exc}"
            else:
                self._produce(self.topic, value, key)
                self.sent += 1
                if self.sent % POLL_EVERY == 0:
                    self.producer.poll(0)
                return
        self.reject(key, raw if raw is not None else json.dumps(record, default=str).encode(), reason, origin)

    def reject(self, key: bytes | None, raw: bytes, reason: str, origin: str) -> None:
        self._produce(self.dlq.topic(), raw, key, headers=self.dlq.headers(reason, origin))
        self.rejected += 1
        self.dlq.note(reason, origin)

    def finish(self, timeout: float) -> int:
        """Flush; returns how many records were not delivered in time."""
        return self.producer.flush(timeout)


class DeadLetters:
    def __init__(self, topic: str, subject: str, schema_id: int, ensure_topic) -> None:
        self.name = f"{topic}.dlq"
        self.subject = subject
        self.schema_id = schema_id
        self._ensure_topic = ensure_topic
        self._ready = False
        self.samples: list[str] = []

    def topic(self) -> str:
        if not self._ready:
            self._ensure_topic(self.name)
            self._ready = True
        return self.name

    def headers(self, reason: str, origin: str) -> list[tuple[str, bytes]]:
        return [
            ("lakectl.error", reason.encode()),
            ("lakectl.source", origin.encode()),
            ("lakectl.subject", self.subject.encode()),
            ("lakectl.schema_id", str(self.schema_id).encode()),
        ]

    def note(self, reason: str, origin: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(f"{origin}: {reason}")


class Pacer:
    """Holds a producer to ``rate`` records/s (None = as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.start = time.monotonic()

    def pace(self, done: int) -> None:
        if self.rate:
            ahead = done / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)  # rate limiting, not waiting on a service


def read_jsonl(
    path: Path, key_field: str | None, parse: Callable[[bytes], Any] = json.loads
) -> Iterator[tuple[bytes | None, dict | None, bytes, str, str | None]]:
    """Yield (key, record or None, raw line, origin, parse error) for each non-blank line."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"input file {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            origin = f"{path.name}:{number}"
            try:
                record = parse(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield None, None, line, origin, f"not JSON: {exc}"
                continue
            if not isinstance(record, dict):
                yield None, None, line, origin, f"not a JSON object but {type(record).__name__}"
                continue
            key = record.get(key_field) if key_field else None
            yield (str(key).encode() if key is not None else None), record, line, origin, None


def _synthetic_worker(args: dict[str, Any]) -> dict[str, Any]:
    """One process producing its share of synthetic trades (ids interleave across workers)."""
    from lakectl.trades import generate

    codec = WireCodec(args["schema"], args["schema_id"])
    dlq = DeadLetters(args["topic"], args["subject"], args["schema_id"], lambda name: None)
    dlq._ready = True  # the parent created it before forking workers
    sender = _Sender(args["config"], args["topic"], codec, dlq)
    pacer = Pacer(args["rate"])
    deadline = time.monotonic() + args["duration"] if args["duration"] else None
    if args.get("generator") == "rust":
        _send_rust_trades(sender, args, pacer, deadline)
    else:
        for n, (key, trade) in enumerate(
            generate(args["count"], prefix=args["prefix"], start=args["index"], step=args["workers"]), start=1
        ):
            sender.send(key, trade, validate=False, origin="synthetic", raw=None)
            if n % 1000 == 0:
                pacer.pace(n)
                if (deadline and time.monotonic() >= deadline) or STOP.is_set():
                    break
    pending = sender.finish(args["flush_timeout"])
    return {"sent": sender.sent, "rejected": sender.rejected, "pending": pending, "failures": sender.failures[:5],
            "failed": len(sender.failures), "samples": dlq.samples,
            "interrupted": STOP.is_set() and (args["count"] is None or sender.sent < args["count"])}


def _send_rust_trades(sender: _Sender, args: dict[str, Any], pacer: Pacer, deadline: float | None) -> None:
    """The fast path: trades arrive encoded from Rust; nothing to validate (the generator fits the schema)."""
    from lakectl_tradegen import TradeGenerator

    generator = TradeGenerator(args["schema"], args["schema_id"], args["prefix"], args["index"], args["workers"])
    produce, poll, topic = sender.producer.produce, sender.producer.poll, sender.topic
    remaining = args["count"]
    # paced runs take smaller chunks so that a low rate is not sent as one burst
    chunk = max(1, min(CHUNK, int(pacer.rate / 20))) if pacer.rate else CHUNK
    while remaining is None or remaining > 0:
        size = chunk if remaining is None else min(chunk, remaining)
        for key, value in generator.pairs(size):
            try:
                produce(topic, value, key)
            except BufferError:
                sender._produce(topic, value, key)  # local queue full: drains it, then sends
        sender.sent += size
        if remaining is not None:
            remaining -= size
        poll(0)  # serves delivery errors and client errors
        pacer.pace(sender.sent)
        if (deadline and time.monotonic() >= deadline) or STOP.is_set():
            break


def pick_generator(schema: str, schema_id: int) -> str:
    """Which generator makes synthetic trades: "rust" when lakectl_tradegen is installed and fills every
    field of ``schema``, else "python" (fastavro)."""
    try:
        from lakectl_tradegen import TradeGenerator, UnsupportedSchema
    except ImportError:
        return "python"
    try:
        TradeGenerator(schema, schema_id, "check", 0, 1)
    except UnsupportedSchema:
        return "python"
    return "rust"


def produce(
    *,
    client_config: dict[str, Any],
    kafka,
    registry,
    topic: str,
    count: int | None,
    rate: float | None,
    duration: float | None,
    from_file: Path | None,
    key_field: str | None,
    workers: int,
    flush_timeout: float = 120.0,
) -> ProduceResult:
    subject = f"{topic}-value"
    from lakectl.components.registry import RegistryError

    try:
        latest = registry.get(subject)
    except RegistryError as exc:
        if exc.status == 404:
            raise UsageError(f"no schema registered for subject {subject}",
                             hint=f"lakectl schema register FILE --subject {subject}") from None
        raise
    if not kafka.topic_exists(topic):  # also proves the broker answers, within the timeout
        raise UsageError(f"topic {topic!r} does not exist", hint=f"lakectl topic create {topic}")
    codec = WireCodec(latest.schema_, latest.id)
    fields = {f["name"] for f in json.loads(latest.schema_).get("fields", [])}
    if key_field == "auto":
        key_field = "symbol" if "symbol" in fields else None
    config = producer_config(client_config)
    dlq = DeadLetters(topic, subject, latest.id, kafka.ensure_topic)
    result = ProduceResult(topic=topic, subject=subject, schema_id=latest.id, dlq_topic=dlq.name)
    started = time.perf_counter()

    if from_file is not None:
        sender = _Sender(config, topic, codec, dlq)
        pacer = Pacer(rate)
        seen, stopped = 0, False
        for key, record, raw, origin, parse_error in read_jsonl(from_file, key_field, codec.from_json_line):
            if parse_error is not None:
                sender.reject(key, raw, parse_error, origin)
            else:
                sender.send(key, record, validate=True, origin=origin, raw=raw)
            seen += 1
            if count is not None and seen >= count:
                break
            if STOP.is_set():
                stopped = True
                break
            if seen % 1000 == 0:
                pacer.pace(seen)
        pending = sender.finish(flush_timeout)
        outcomes = [{"sent": sender.sent, "rejected": sender.rejected, "pending": pending,
                     "failures": sender.failures[:5], "failed": len(sender.failures), "samples": dlq.samples,
                     "interrupted": stopped}]
    else:
        _check_generator_fits(codec, subject)
        if count is None and duration is None:
            count = 1000
        from lakectl.trades import run_prefix

        workers = max(1, min(workers, count or workers))
        dlq.topic()
        generator = pick_generator(latest.schema_, latest.id)
        shares = [_share(count, workers, i) for i in range(workers)]
        jobs = [
            {"config": config, "topic": topic, "subject": subject, "schema": latest.schema_,
             "schema_id": latest.id, "count": shares[i], "rate": rate / workers if rate else None,
             "duration": duration, "prefix": run_prefix(), "index": i, "workers": workers,
             "flush_timeout": flush_timeout, "generator": generator}
            for i in range(workers)
        ]
        # one prefix per run: every worker uses the same one with interleaved sequence numbers
        for job in jobs:
            job["prefix"] = jobs[0]["prefix"]
        if workers == 1:
            outcomes = [_synthetic_worker(jobs[0])]
        else:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                outcomes = pool.map(_synthetic_worker, jobs)
                # workers leave on the pool's sentinels: the context's terminate() would signal them,
                # and a worker takes a first SIGTERM as "stop producing", not as "exit"
                pool.close()
                pool.join()
        result.workers = workers
        result.generator = generator

    result.elapsed_s = round(time.perf_counter() - started, 3)
    for outcome in outcomes:
        result.sent += outcome["sent"]
        result.rejected += outcome["rejected"]
        result.failed += outcome["failed"] + outcome["pending"]
        result.reasons.extend(outcome["samples"])
        result.interrupted |= outcome.get("interrupted", False)
        if outcome["failures"] and not result.first_failure:
            result.first_failure = outcome["failures"][0]
        if outcome["pending"] and not result.first_failure:
            result.first_failure = f"{outcome['pending']} records not acknowledged within {flush_timeout:g}s"
    result.sent -= result.failed
    result.records_per_s = round(result.sent / result.elapsed_s, 1) if result.elapsed_s else 0.0
    result.reasons = result.reasons[:5]
    if result.failed:
        error = ServiceUnavailable if "not acknowledged" in (result.first_failure or "") else ComponentError
        raise error(f"{result.failed} records were not delivered to {topic} (first: {result.first_failure}); "
                    f"{result.sent} were")
    return result


def _share(count: int | None, workers: int, index: int) -> int | None:
    if count is None:
        return None
    return count // workers + (1 if index < count % workers else 0)


def _check_generator_fits(codec: WireCodec, subject: str) -> None:
    from lakectl.trades import generate

    _, sample = next(generate(1, prefix="check"))
    reason = codec.validation_error(sample)
    if reason:
        raise UsageError(f"synthetic trades do not fit the latest schema of {subject}: {reason}",
                         hint="use --from-file for other schemas")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
