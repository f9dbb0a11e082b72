"""Produce: the use case. Pick the source, split the run into worker shares, run them, sum up.

Delivery is idempotent with acks=all; a delivery error fails the run, nothing is dropped silently.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakectl.avro import WireCodec
from lakectl.errors import ComponentError, ServiceUnavailable, UsageError
from lakectl.ops.produce.loop import (
    Share,
    Undelivered,
    WorkerResult,
    default_workers,
    run_shares,
    share_of,
    stop_on_signals,
)
from lakectl.ops.produce.sources import JsonLines, SyntheticTrades, check_trades_fit, open_input, pick_generator
from lakectl.ops.produce.synthetic import RecordGenerator, SyntheticRecords, default_anchor

if TYPE_CHECKING:
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.registry import SchemaRegistry

DEFAULT_COUNT = 1000  # synthetic trades when neither a count nor a duration is given
MANY = 50_000  # from this many records on (or for a timed run) several workers share the work by default


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
    generator: str | None = None  # synthetic trades: "rust" (lakectl_tradegen) or "python"; --synthetic: "schema"
    seed: int | None = None  # --synthetic: the same seed (and schema) makes the same records again
    dlq_topic: str | None = None
    first_failure: str | None = None
    reasons: list[str] = field(default_factory=list)
    interrupted: bool = False  # stopped by SIGINT/SIGTERM before its count; what was sent is delivered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, outcomes: list[WorkerResult], elapsed_s: float) -> Undelivered | None:
        """Sum the workers' results; returns why records were not delivered, if some were not."""
        first: Undelivered | None = None
        for outcome in outcomes:
            self.sent += outcome.sent
            self.rejected += outcome.rejected
            self.failed += outcome.failed + outcome.pending
            self.reasons.extend(outcome.samples)
            self.interrupted |= outcome.interrupted
            first = first or outcome.undelivered
        self.sent -= self.failed
        self.elapsed_s = round(elapsed_s, 3)
        self.records_per_s = round(self.sent / self.elapsed_s, 1) if self.elapsed_s else 0.0
        self.reasons = self.reasons[:5]
        self.first_failure = first.text if first else None
        return first


def produce(
    kafka: KafkaClient,
    registry: SchemaRegistry,
    topic: str,
    *,
    count: int | None = None,
    rate: float | None = None,
    duration: float | None = None,
    from_file: Path | None = None,
    synthetic: int | None = None,
    seed: int | None = None,
    key_field: str | None = "auto",
    workers: int | None = None,
    flush_timeout: float = 120.0,
    interruptible: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> ProduceResult:
    """Send ``from_file``'s records (JSON Lines), ``synthetic`` records made for the schema (see
    synthetic.py; ``seed``: None = a random one, reported) or synthetic trades to ``topic``, as the latest
    schema of ``<topic>-value``. ``key_field``: "auto" = the key of the pipeline declaring the topic (for a
    file: symbol first), else symbol if the schema has it; None = no key; with
    ``synthetic`` the key field gets a value unique within the run.
    ``workers``: processes for synthetic records (None: up to default_workers() for big or timed runs).
    ``interruptible``: SIGINT/SIGTERM stop the run early (see loop.py) instead of killing it.
    ``progress(so_far, target)``: the records handed to the producer so far, about twice a second."""
    if synthetic is not None and (from_file is not None or count is not None):
        raise UsageError("synthetic records exclude " + ("from_file" if from_file is not None else "count"))
    if from_file is not None:
        open_input(from_file).close()  # a missing file is the first thing to say, before any service
    subject = f"{topic}-value"
    latest = _latest_schema(registry, subject)
    kafka.topic(topic)  # exists (also proves the broker answers, within the timeout)
    codec = WireCodec(latest.schema_, latest.id)
    auto = key_field == "auto"
    if auto:
        from lakectl.pipeline_spec import key_for_topic

        fields = {f["name"] for f in json.loads(latest.schema_).get("fields", [])}
        declared = key_for_topic(topic)  # a pipeline's topic: its key
        # synthetic records make the pipeline's key unique; files keep keying on symbol, as they always have
        order = (declared, "symbol") if synthetic is not None else ("symbol", declared)
        key_field = next((f for f in order if f is not None and f in fields), None)
    result = ProduceResult(topic=topic, subject=subject, schema_id=latest.id, dlq_topic=f"{topic}.dlq")
    base = {"client_config": kafka.config, "topic": topic, "subject": subject, "schema": latest.schema_,
            "schema_id": latest.id, "duration": duration, "flush_timeout": flush_timeout}
    started = time.perf_counter()
    with stop_on_signals() if interruptible else nullcontext():
        if from_file is not None:
            share = Share(**base, source=JsonLines(from_file, key_field), count=count, rate=rate)
            outcomes = run_shares([share], ensure_dlq=kafka.ensure_topic,  # the DLQ appears with a first reject
                                  progress=progress and (lambda n: progress(n, count)))
        elif synthetic is not None:
            count = synthetic
            seed = secrets.randbits(48) if seed is None else seed
            anchor = default_anchor()  # one for the run: every worker's timestamps lie in the same hour
            probe = RecordGenerator(latest.schema_, seed=seed, anchor=anchor)  # a bad schema is refused here
            if auto and key_field is not None and not probe.keyable(key_field):
                key_field = None  # "auto" keys on a field only if it can hold a unique key
            if key_field is not None:
                probe.check_key(key_field)  # before forking: a UsageError naming the field and its type
            workers = _workers(workers, count, duration)
            kafka.ensure_topic(result.dlq_topic)
            result.generator, result.seed, result.workers = "schema", seed, workers
            shares = [
                Share(**base, source=SyntheticRecords(latest.schema_, seed, anchor, key_field, i, workers),
                      count=share_of(count, workers, i), rate=rate / workers if rate else None, slot=i)
                for i in range(workers)
            ]
            outcomes = run_shares(shares, progress=progress and (lambda n: progress(n, count)))
        else:
            check_trades_fit(codec, subject)
            from lakectl.ops.produce.trades import run_prefix

            if count is None and duration is None:
                count = DEFAULT_COUNT
            workers = _workers(workers, count, duration)
            kafka.ensure_topic(result.dlq_topic)  # before forking: the workers only write to it
            result.generator = pick_generator(latest.schema_, latest.id)
            result.workers = workers
            prefix = run_prefix()  # one per run: the workers interleave their sequence numbers
            shares = [
                Share(**base, source=SyntheticTrades(result.generator, latest.schema_, latest.id, prefix, i, workers),
                      count=share_of(count, workers, i), rate=rate / workers if rate else None, slot=i)
                for i in range(workers)
            ]
            outcomes = run_shares(shares, progress=progress and (lambda n: progress(n, count)))
    undelivered = result.add(outcomes, time.perf_counter() - started)
    if undelivered is not None:
        error = ServiceUnavailable if undelivered.unacknowledged else ComponentError
        raise error(f"{result.failed} records were not delivered to {topic} (first: {undelivered.text}); "
                    f"{result.sent} were")
    return result


def _workers(workers: int | None, count: int | None, duration: float | None) -> int:
    """Worker processes for a synthetic run: several for a big or timed one unless told, never more than records."""
    if workers is None:
        workers = default_workers() if (count or 0) >= MANY or duration else 1
    return max(1, min(workers, count or workers))


def _latest_schema(registry: SchemaRegistry, subject: str):
    from lakectl.components.registry import RegistryError

    try:
        return registry.get(subject)
    except RegistryError as exc:
        if exc.status == 404:
            raise UsageError(f"no schema registered for subject {subject}",
                             hint=f"lakectl schema register FILE --subject {subject}") from None
        raise
