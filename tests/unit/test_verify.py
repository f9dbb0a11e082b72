"""lakectl verify's op: Kafka's key digest against each table's, and the report's JSON shape."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from lakectl.avro import WireCodec, load_schema_file
from lakectl.components import trino as trino_module
from lakectl.components.trino import QueryFailed
from lakectl.errors import ServiceUnavailable, UsageError
from lakectl.ops.produce.trades import generate
from lakectl.ops.verify import BY_POSITION, summarise_keys, table_summary, verify

SCHEMA = load_schema_file(Path(__file__).resolve().parents[2] / "schemas" / "trade.avsc")
TRADES = [trade for _, trade in generate(5, prefix="v")]


class Message:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset, self._value = offset, value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


class FakeKafka:
    def __init__(self, batches) -> None:
        self.batches = batches
        self.started_at = None

    def partitions(self, topic):
        return [0]

    def partition_offsets(self, topic, partitions):
        return {0: (2, 2 + len(TRADES))}

    def read(self, topic, start, *, group):
        self.started_at = start
        yield from self.batches
        while True:
            yield []


class FakeTrino:
    def __init__(self, tables: dict) -> None:
        self.tables = tables

    def execute(self, sql: str):
        catalog = sql.split(" FROM ")[1].split(".")[0]
        if catalog not in self.tables:
            raise QueryFailed("no table", error_name="TABLE_NOT_FOUND")
        return SimpleNamespace(rows=[self.tables[catalog]])


@pytest.fixture(autouse=True)
def no_delta_registration(monkeypatch):
    monkeypatch.setattr(trino_module, "register_delta_tables", lambda client, s3, layers: [])


def messages() -> list[Message]:
    codec = WireCodec(SCHEMA, 1)
    return [Message(2 + i, codec.encode(t)) for i, t in enumerate(TRADES)]


def test_same_keys_everywhere_is_ok_and_the_json_keeps_its_shape():
    expected = summarise_keys("kafka", [t["trade_id"] for t in TRADES])
    same = (expected.rows, expected.distinct_keys, expected.digest)
    kafka = FakeKafka([messages()])
    registry = SimpleNamespace(schema_by_id=lambda _id: SCHEMA)
    report = verify(kafka, registry, FakeTrino({"iceberg": same, "delta": same}), None, "trades", "bronze.trades",
                    "trade_id")
    assert kafka.started_at == {0: 2}
    assert report.ok
    data = report.to_dict()
    assert list(data) == ["topic", "table", "key", "ok", "sources", "differences"]
    assert data["sources"][0] == {"source": "kafka", "rows": 5, "distinct_keys": 5, "digest": expected.digest}
    assert [s["source"] for s in data["sources"]] == ["kafka", "iceberg", "delta"]


def test_a_missing_table_and_a_duplicate_are_differences():
    expected = summarise_keys("kafka", [t["trade_id"] for t in TRADES])
    duplicate = (expected.rows + 1, expected.distinct_keys, expected.digest)
    registry = SimpleNamespace(schema_by_id=lambda _id: SCHEMA)
    report = verify(FakeKafka([messages()]), registry, FakeTrino({"iceberg": duplicate}), None, "trades",
                    "bronze.trades", "trade_id")
    assert not report.ok
    assert report.differences[0] == "iceberg: rows 6 != kafka's 5"
    assert "delta: rows 0 != kafka's 5" in report.differences


class SqlTrino(FakeTrino):
    """FakeTrino that also keeps the SQL it was asked."""

    def __init__(self, tables: dict) -> None:
        super().__init__(tables)
        self.sql: list[str] = []

    def execute(self, sql: str):
        self.sql.append(sql)
        return super().execute(sql)


def test_by_position_each_kafka_record_is_its_partition_and_offset_and_nothing_is_decoded():
    expected = summarise_keys("kafka", [f"0:{2 + i}" for i in range(len(TRADES))])
    same = (expected.rows, expected.distinct_keys, expected.digest)
    trino = SqlTrino({"iceberg": same, "delta": same})
    undecodable = [Message(2 + i, b"{not avro}") for i in range(len(TRADES))]
    report = verify(FakeKafka([undecodable]), None, trino, None, "cdc", "bronze.cdc", BY_POSITION)
    assert report.ok, report.differences
    assert report.sources[0].digest == expected.digest
    assert "count(DISTINCT format('%d:%d', kafka_partition, kafka_offset))" in trino.sql[-1]


def test_reading_kafka_is_bounded_by_the_timeout():
    registry = SimpleNamespace(schema_by_id=lambda _id: SCHEMA)
    with pytest.raises(ServiceUnavailable, match="could not read trades to its end within 0s"):
        verify(FakeKafka([]), registry, FakeTrino({}), None, "trades", "bronze.trades", "trade_id", timeout=0)


def test_table_must_be_schema_dot_table():
    with pytest.raises(UsageError, match="--table wants"):
        verify(FakeKafka([]), None, FakeTrino({}), None, "trades", "trades", "trade_id")


class PassesTrino:
    """Answers a big table's row count, then one (rows, distinct, digest) per pass: the passes' SQL is kept."""

    def __init__(self, total: int, per_pass: list[tuple[int, int, int]]) -> None:
        self.total, self.per_pass, self.sql = total, list(per_pass), []

    def execute(self, sql: str):
        self.sql.append(sql)
        if sql.startswith("SELECT count(*) FROM"):
            return SimpleNamespace(rows=[(self.total,)])
        return SimpleNamespace(rows=[self.per_pass.pop(0)])


def test_a_big_table_is_summarised_in_passes_over_disjoint_keys_that_add_up(monkeypatch):
    from lakectl.ops import verify as verify_module

    monkeypatch.setattr(verify_module, "ROWS_PER_PASS", 10)
    trino = PassesTrino(25, [(9, 9, 0b0011), (8, 7, 0b0101), (8, 8, 0b1000)])
    summary = verify_module.table_summary(trino, "iceberg", "bronze.trades", "trade_id")
    assert (summary.rows, summary.distinct_keys, summary.digest) == (25, 24, 0b0011 ^ 0b0101 ^ 0b1000)
    passes = trino.sql[1:]
    assert len(passes) == 3 and not trino.per_pass
    assert [p.rsplit(" = ", 1)[1] for p in passes] == ["0", "1", "2"]
    assert all("xxhash64(to_utf8(CAST(trade_id AS varchar)))" in p and "9223372036854775807), 3)" in p for p in passes)


def test_a_small_table_is_one_query():
    trino = PassesTrino(3, [(3, 3, 7)])
    summary = table_summary(trino, "delta", "bronze.trades", "trade_id")
    assert (summary.rows, summary.distinct_keys, summary.digest, len(trino.sql)) == (3, 3, 7, 2)
