"""Produce: the sender. One producer with lakectl's delivery settings, plus the dead-letter path.

Dead-letter contract: a record that breaks the schema (or a line that is not JSON) never reaches the
topic; it goes to ``<topic>.dlq`` as its original bytes, with the reason, its origin, the subject
and the schema id in ``lakectl.*`` headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakectl.components.kafka import new_producer
from lakectl.ops.produce.sources import Chunk, Reject

KEPT = 5  # failures and dead-letter reasons kept as samples for the summary


class DeadLetters:
    """``<topic>.dlq``: created on first use through ``ensure_topic`` (None: it exists already)."""

    def __init__(self, topic: str, subject: str, schema_id: int,
                 ensure_topic: Callable[[str], Any] | None = None) -> None:
        self.name = f"{topic}.dlq"
        self.subject = subject
        self.schema_id = schema_id
        self._ensure_topic = ensure_topic
        self.samples: list[str] = []

    def topic(self) -> str:
        if self._ensure_topic is not None:
            self._ensure_topic(self.name)
            self._ensure_topic = None
        return self.name

    def headers(self, reason: str, origin: str) -> list[tuple[str, bytes]]:
        return [
            ("lakectl.error", reason.encode()),
            ("lakectl.source", origin.encode()),
            ("lakectl.subject", self.subject.encode()),
            ("lakectl.schema_id", str(self.schema_id).encode()),
        ]

    def note(self, reason: str, origin: str) -> None:
        if len(self.samples) < KEPT:
            self.samples.append(f"{origin}: {reason}")


class Sender:
    """Sends chunks; counts what it sent, rejected and failed to deliver (librdkafka reports only
    failed deliveries back, so a good record costs no Python call after ``produce``)."""

    def __init__(self, client_config: dict[str, Any], topic: str, dead_letters: DeadLetters) -> None:
        self.producer = new_producer(client_config, on_delivery=self._on_delivery, error_cb=self._on_client_error)
        self.topic = topic
        self.dead_letters = dead_letters
        self.sent = 0
        self.rejected = 0
        self.failed = 0
        self.failures: list[str] = []  # the first few delivery errors

    def _fail(self, text: str) -> None:
        self.failed += 1
        if len(self.failures) < KEPT:
            self.failures.append(text)

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._fail(f"{msg.topic()}: {err.str()}")

    def _on_client_error(self, err) -> None:
        if err.fatal():
            self._fail(f"fatal producer error: {err.str()}")

    def _produce(self, topic: str, value: bytes, key: bytes | None, headers: list | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.05)  # local queue full: let librdkafka drain it

    def send(self, chunk: Chunk) -> None:
        produce, topic = self.producer.produce, self.topic
        for key, value in chunk.records:  # the hot loop: bytes straight to librdkafka
            try:
                produce(topic, value, key)
            except BufferError:
                self._produce(topic, value, key)  # local queue full: drains it, then sends
        self.sent += len(chunk.records)
        for reject in chunk.rejects:
            self.reject(reject)
        self.producer.poll(0)  # serves delivery errors and client errors

    def reject(self, reject: Reject) -> None:
        letters = self.dead_letters
        self._produce(letters.topic(), reject.raw, reject.key, headers=letters.headers(reject.reason, reject.origin))
        self.rejected += 1
        letters.note(reject.reason, reject.origin)

    def finish(self, timeout: float) -> int:
        """Flush; returns how many records were not delivered in time."""
        return self.producer.flush(timeout)
