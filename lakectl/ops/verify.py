"""``lakectl verify``: does Bronze hold exactly what Kafka holds, in both formats?

Each side is summarised by (rows, distinct keys, digest). The digest is the XOR of the first 8
bytes of SHA-256 of every key, read as a signed big-endian 64-bit integer: order-independent, so
Kafka (read here, in Python) and each table (aggregated in Trino, where the data lives, with
``bitwise_xor_agg``) compute the same number without shipping the keys anywhere. A missing or an
extra key changes the digest; a duplicate changes the row count.

A pipeline whose records carry no key of their own (a CDC pipeline's change events: a key changes many times)
is verified by position: each record's ``partition:offset`` in Kafka against Bronze's ``kafka_partition`` and
``kafka_offset``, so every event is in each table exactly once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lakectl.errors import ServiceUnavailable, UsageError
from lakectl.polling import Deadline

if TYPE_CHECKING:
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.object_store import S3Location
    from lakectl.components.registry import SchemaRegistry
    from lakectl.components.trino import TrinoClient

KEY_DIGEST_SQL = "bitwise_xor_agg(from_big_endian_64(substr(sha256(to_utf8(CAST({key} AS varchar))), 1, 8)))"
MEASURES = ("rows", "distinct_keys", "digest")
# which pass of a big table's summary a key belongs to (0..buckets-1): a 64-bit hash of it, sign bit cleared
KEY_BUCKET_SQL = ("mod(bitwise_and(from_big_endian_64(xxhash64(to_utf8(CAST({key} AS varchar)))), "
                  "9223372036854775807), {buckets})")
ROWS_PER_PASS = 4_000_000
# the key of a record verified by its place in Kafka (``--key`` of this name), and its SQL in Bronze
BY_POSITION = "kafka_position"
POSITION_SQL = "format('%d:%d', kafka_partition, kafka_offset)"


@dataclass
class Summary:
    source: str
    rows: int
    distinct_keys: int
    digest: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerifyReport:
    topic: str
    table: str
    key: str
    sources: list[Summary]  # kafka first, then iceberg and delta
    differences: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "table": self.table, "key": self.key, "ok": self.ok,
                "sources": [s.to_dict() for s in self.sources], "differences": self.differences}


def key_hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


def summarise_keys(source: str, keys: Iterable[Any]) -> Summary:
    digest = 0
    rows = 0
    distinct: set[str] = set()
    for key in keys:
        rows += 1
        text = str(key)
        distinct.add(text)
        digest ^= key_hash(text)
    return Summary(source, rows, len(distinct), digest)


def kafka_keys(kafka: KafkaClient, registry: SchemaRegistry, topic: str, key_field: str,
               timeout: float) -> Iterator[Any]:
    """Every record's ``key_field``, from the start of each partition to its end as of now."""
    from lakectl.avro import WireDecoder

    ends = kafka.partition_offsets(topic, kafka.partitions(topic))
    pending = {p: high for p, (low, high) in ends.items() if high > low}
    if not pending:
        return
    by_position = key_field == BY_POSITION
    decoder = None if by_position else WireDecoder(registry.schema_by_id)
    deadline = Deadline(timeout)
    with closing(kafka.read(topic, {p: ends[p][0] for p in pending}, group="lakectl-verify")) as batches:
        for batch in batches:
            if deadline.expired:
                raise ServiceUnavailable(f"kafka: could not read {topic} to its end within {timeout:.0f}s")
            for message in batch:
                partition, offset = message.partition(), message.offset()
                if partition not in pending or offset >= pending[partition]:
                    continue
                if offset + 1 >= pending[partition]:
                    del pending[partition]
                if by_position:
                    yield f"{partition}:{offset}"
                    continue
                record = decoder.decode(message.value() or b"")
                if not isinstance(record, dict) or key_field not in record:
                    raise UsageError(f"{topic}: records have no field {key_field!r}")
                yield record[key_field]
            if not pending:
                return


def table_summary(client: TrinoClient, catalog: str, table: str, key_field: str) -> Summary:
    """One query for a table of up to ROWS_PER_PASS rows; a bigger one is summarised in passes over disjoint
    sets of keys (by a hash of the key), each small enough for Trino's per-node memory: ``count(DISTINCT)``
    holds every key of its pass at once, and 22M trade ids (a 30-minute soak) exceeded the local stack's
    768 MB. Rows and distinct keys add up over the passes, and the digest XORs."""
    _check_identifier(key_field)
    qualified = f"{catalog}.{table}"
    key_sql = POSITION_SQL if key_field == BY_POSITION else key_field
    select = f"SELECT count(*), count(DISTINCT {key_sql}), {KEY_DIGEST_SQL.format(key=key_sql)} FROM {qualified}"
    passes = math.ceil(int(client.execute(f"SELECT count(*) FROM {qualified}").rows[0][0]) / ROWS_PER_PASS)
    if passes <= 1:
        rows, distinct, digest = client.execute(select).rows[0]
        return Summary(catalog, int(rows), int(distinct), int(digest or 0))
    total = Summary(catalog, 0, 0, 0)
    for bucket in range(passes):
        rows, distinct, digest = client.execute(
            f"{select} WHERE {KEY_BUCKET_SQL.format(key=key_sql, buckets=passes)} = {bucket}").rows[0]
        total = Summary(catalog, total.rows + int(rows), total.distinct_keys + int(distinct),
                        total.digest ^ int(digest or 0))
    return total


def _check_identifier(name: str) -> None:
    parts = name.split(".")
    if not all(p.replace("_", "a").isalnum() for p in parts):
        raise UsageError(f"not a plain identifier: {name!r}")


def verify(kafka: KafkaClient, registry: SchemaRegistry, trino: TrinoClient, s3: S3Location, topic: str,
           table: str, key_field: str, timeout: float = 300,
           formats: tuple[str, ...] = ("iceberg", "delta")) -> VerifyReport:
    """Compare Kafka with Bronze in Iceberg and in Delta; ``ok`` is False on any difference."""
    from lakectl.components.trino import QueryFailed, register_delta_tables

    _check_identifier(table)
    if table.count(".") != 1:
        raise UsageError(f"--table wants <schema>.<table>, e.g. bronze.{topic}, not {table!r}")
    in_kafka = summarise_keys("kafka", kafka_keys(kafka, registry, topic, key_field, timeout))
    if "delta" in formats:
        register_delta_tables(trino, s3, layers=(table.split(".")[0],))
    summaries = [in_kafka]
    for catalog in formats:
        try:
            summaries.append(table_summary(trino, catalog, table, key_field))
        except QueryFailed as exc:
            if exc.error_name not in ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND"):
                raise
            summaries.append(Summary(catalog, 0, 0, 0))
    differences = [
        f"{s.source}: {what} {getattr(s, what)} != kafka's {getattr(in_kafka, what)}"
        for s in summaries[1:] for what in MEASURES if getattr(s, what) != getattr(in_kafka, what)
    ]
    return VerifyReport(topic, table, key_field, summaries, differences)
