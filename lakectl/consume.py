"""Read a topic back, decoding Confluent-framed Avro through the registry."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from lakectl.avro import WireDecoder
from lakectl.errors import UsageError


def consume(
    *, client_config: dict[str, Any], kafka, registry, topic: str, count: int | None, from_beginning: bool,
    timeout: float, with_meta: bool,
) -> Iterator[dict[str, Any]]:
    """Yield decoded records until ``count`` is reached or no record arrives for ``timeout`` seconds."""
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

    metadata = kafka.metadata(topic).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise UsageError(f"topic {topic!r} does not exist")
    consumer = Consumer({
        **client_config,
        "group.id": f"lakectl-consume-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "fetch.max.bytes": 52_428_800,
    })
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    consumer.assign([TopicPartition(topic, p, start) for p in metadata.partitions])
    decoder = WireDecoder(registry.schema_by_id)
    seen = 0
    idle_since = time.monotonic()
    try:
        while count is None or seen < count:
            batch = consumer.consume(num_messages=min(10_000, (count - seen) if count else 10_000), timeout=0.5)
            if not batch:
                if time.monotonic() - idle_since >= timeout:
                    return
                continue
            idle_since = time.monotonic()
            for message in batch:
                if message.error():
                    continue  # partition EOF and transient fetch errors are not records
                raw = message.value() or b""
                try:
                    value: Any = decoder.decode(raw)
                except ValueError:
                    # not Confluent-framed Avro (e.g. a dead-letter topic): show the bytes as text
                    value = raw.decode("utf-8", "replace")
                if with_meta:
                    value = {"partition": message.partition(), "offset": message.offset(),
                             "key": message.key().decode("utf-8", "replace") if message.key() else None,
                             "headers": {k: v.decode("utf-8", "replace") for k, v in (message.headers() or [])},
                             "value": value}
                yield value
                seen += 1
                if count is not None and seen >= count:
                    return
    finally:
        consumer.close()
