"""``lakectl consume``: read a topic back, decoding Confluent-framed Avro through the registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

from lakectl.avro import WireDecoder
from lakectl.polling import Deadline

if TYPE_CHECKING:
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.registry import SchemaRegistry


def consume(
    kafka: KafkaClient, registry: SchemaRegistry, topic: str, *, count: int | None = None,
    from_beginning: bool = False, timeout: float = 10.0, with_meta: bool = False,
) -> Iterator[Any]:
    """Yield decoded records until ``count`` is reached or no record arrives for ``timeout`` seconds."""
    decoder = WireDecoder(registry.schema_by_id)
    seen = 0
    idle = Deadline(timeout)
    start = "beginning" if from_beginning else "end"
    with closing(kafka.read(topic, start, group=f"lakectl-consume-{uuid.uuid4().hex[:8]}")) as batches:
        for batch in batches:
            if not batch:
                if idle.expired:
                    return
                continue
            idle = Deadline(timeout)
            for message in batch:
                yield _record(message, decoder, with_meta)
                seen += 1
                if count is not None and seen >= count:
                    return


def _record(message: Any, decoder: WireDecoder, with_meta: bool) -> Any:
    raw = message.value() or b""
    try:
        value: Any = decoder.decode(raw)
    except ValueError:
        # not Confluent-framed Avro (e.g. a dead-letter topic): show the bytes as text
        value = raw.decode("utf-8", "replace")
    if not with_meta:
        return value
    return {"partition": message.partition(), "offset": message.offset(),
            "key": message.key().decode("utf-8", "replace") if message.key() else None,
            "headers": {k: v.decode("utf-8", "replace") for k, v in (message.headers() or [])},
            "value": value}
