"""Produce: the encoder. Checks a record against the subject's schema and frames it in the Confluent
wire format (lakectl.avro.WireCodec); a record that does not fit becomes ``Invalid`` with the reason."""

from __future__ import annotations

import io
from typing import Any

from lakectl.avro import WireCodec


class Invalid(Exception):
    """The record breaks the schema; ``reason`` goes into the dead letter's header."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Encoder:
    def __init__(self, codec: WireCodec) -> None:
        self.codec = codec
        self.buffer = io.BytesIO()  # reused: encode() returns a copy of its bytes

    def encode(self, record: Any, *, validate: bool) -> bytes:
        """The record's wire bytes; Invalid if it breaks the schema. ``validate=False`` skips the
        up-front check for records known to fit (synthetic trades); the writer still refuses bad data."""
        reason = self.codec.validation_error(record) if validate else None
        if reason is None:
            try:
                return self.codec.encode(record, self.buffer)
            except Exception as exc:  # fastavro's writer raises various types on bad data
                reason = self.codec.validation_error(record) or f"{type(exc).__name__}: {exc}"
        raise Invalid(reason)
