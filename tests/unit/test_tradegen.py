"""The Rust trade generator (lakectl_tradegen): fastavro's bytes, unique ids, clear refusals, both produce paths."""

import io
import json
import multiprocessing
import pickle
import time
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import fastavro
import pytest

from lakectl.avro import WireCodec, load_schema_file, split_header
from lakectl.ops.produce.trades import EXCHANGES, SIDES, SYMBOLS, generate

tradegen = pytest.importorskip(
    "lakectl_tradegen", reason="lakectl_tradegen is not installed: `make install` builds it (needs cargo)"
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
PREFIX = "0123456789ab"


def schema(name: str, extra_fields: list[dict] | None = None) -> str:
    document = json.loads(load_schema_file(SCHEMAS / name))
    document["fields"].extend(extra_fields or [])
    return json.dumps(document)


def decode(codec: WireCodec, value: bytes) -> dict:
    schema_id, body = split_header(value)
    assert schema_id == codec.schema_id
    return fastavro.schemaless_reader(io.BytesIO(body), codec.parsed, None)


@pytest.mark.parametrize("name", ["trade.avsc", "trade_v2.avsc"])
def test_bytes_equal_fastavro_for_the_same_records(name):
    text = schema(name)
    codec = WireCodec(text, 42)
    pairs = tradegen.TradeGenerator(text, 42, PREFIX, 0, 1, 7).pairs(10_000)
    assert len(pairs) == 10_000
    for key, value in pairs:
        record = decode(codec, value)
        assert codec.encode(record) == value  # fastavro writes exactly these bytes for this record
        assert key == record["symbol"].encode()  # keyed by symbol, as the Python generator does


@pytest.mark.parametrize("name", ["trade.avsc", "trade_v2.avsc"])
def test_values_look_like_the_python_generators(name):
    text = schema(name)
    codec = WireCodec(text, 1)
    before = int(time.time() * 1000)
    records = [decode(codec, v) for _, v in tradegen.TradeGenerator(text, 1, PREFIX, 0, 1, 3).pairs(10_000)]
    after = int(time.time() * 1000)
    _, python_trade = next(generate(1, prefix=PREFIX))
    expected_fields = set(python_trade) | ({"conditions"} if name == "trade_v2.avsc" else set())
    round_lots = 0
    for n, record in enumerate(records):
        assert set(record) == expected_fields
        assert record["trade_id"] == f"{PREFIX}-{n}"
        assert record["side"] == SIDES[n & 1] and record["exchange"] == EXCHANGES[n % 5]
        price = record["price"]
        assert isinstance(price, Decimal) and price.as_tuple().exponent == -6
        assert price == price.quantize(Decimal("0.0001"))  # ticks of 0.0001
        assert abs(price - Decimal(str(SYMBOLS[record["symbol"]]))) < 5  # a random walk from the list price
        size = record["size"]
        assert 1 <= size <= 99 or (size % 100 == 0 and 100 <= size <= 5000)
        round_lots += size >= 100 and size % 100 == 0
        assert before <= int(record["event_time"].timestamp() * 1000) <= after
        assert record.get("conditions") is None
    assert {r["symbol"] for r in records} == set(SYMBOLS)
    assert 0.75 < round_lots / len(records) < 0.86


def test_two_generators_with_different_start_and_step_make_disjoint_ids():
    text = schema("trade.avsc")
    codec = WireCodec(text, 1)
    ids = []
    for start in (0, 1):
        generator = tradegen.TradeGenerator(text, 1, PREFIX, start, 2)
        ids += [decode(codec, v)["trade_id"] for chunk in (700, 4300) for _, v in generator.pairs(chunk)]
        assert generator.next_n == start + 2 * 5000
    assert len(ids) == len(set(ids)) == 10_000
    assert set(ids) == {f"{PREFIX}-{n}" for n in range(10_000)}


def test_an_extra_required_field_is_unsupported():
    text = schema("trade.avsc", [{"name": "venue_id", "type": "int"}])
    with pytest.raises(tradegen.UnsupportedSchema, match="venue_id"):
        tradegen.TradeGenerator(text, 1, PREFIX, 0, 1)


def test_a_trade_field_of_another_type_is_unsupported():
    document = json.loads(schema("trade.avsc"))
    document["fields"][2]["type"] = "double"  # price
    with pytest.raises(tradegen.UnsupportedSchema, match="price"):
        tradegen.TradeGenerator(json.dumps(document), 1, PREFIX, 0, 1)


def test_extra_fields_with_defaults_are_written_like_fastavro_writes_them():
    extra = [
        {"name": "venue_id", "type": "int", "default": 7},
        {"name": "note", "type": "string", "default": "none"},
        {"name": "flags", "type": {"type": "array", "items": "string"}, "default": ["a", "b"]},
        {"name": "tag", "type": ["string", "null"], "default": "x"},
    ]
    text = schema("trade_v2.avsc", extra)
    codec = WireCodec(text, 3)
    for _, value in tradegen.TradeGenerator(text, 3, PREFIX, 0, 1).pairs(100):
        record = decode(codec, value)
        assert (record["venue_id"], record["note"], record["flags"], record["tag"]) == (7, "none", ["a", "b"], "x")
        missing = {k: v for k, v in record.items() if k not in {f["name"] for f in extra} | {"conditions"}}
        assert codec.encode(missing) == value  # fastavro fills the same defaults


def test_unions_ints_and_fixed_decimals_are_written_like_fastavro_writes_them():
    document = json.loads(schema("trade.avsc"))
    types = {
        "price": {"type": "fixed", "name": "Price", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 6},
        "size": "int",
        "exchange": ["null", "string"],
        "event_time": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
    }
    for field in document["fields"]:
        field["type"] = types.get(field["name"], field["type"])
    text = json.dumps(document)
    codec = WireCodec(text, 9)
    for _, value in tradegen.TradeGenerator(text, 9, PREFIX, 0, 1).pairs(1_000):
        record = decode(codec, value)
        assert record["exchange"] in EXCHANGES and record["event_time"] is not None
        assert codec.encode(record) == value


def _construct(text: str) -> None:
    tradegen.TradeGenerator(text, 1, PREFIX, 0, 1)


def test_unsupported_schema_pickles_across_processes():
    error = tradegen.UnsupportedSchema("field 'x' is required")
    assert tradegen.UnsupportedSchema.__module__ == "lakectl_tradegen"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is tradegen.UnsupportedSchema and back.args == error.args
    assert isinstance(back, ValueError)
    text = schema("trade.avsc", [{"name": "venue_id", "type": "int"}])
    with multiprocessing.get_context("fork").Pool(1) as pool, pytest.raises(tradegen.UnsupportedSchema):
        pool.apply(_construct, (text,))


class FakeProducer:
    """Stands in for confluent_kafka.Producer: keeps what was produced."""

    sent: ClassVar[list] = []

    def __init__(self, config: dict) -> None:
        self.config = config

    def produce(self, topic, value=None, key=None, headers=None) -> None:
        FakeProducer.sent.append((topic, key, value))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


@pytest.mark.parametrize("generator", ["rust", "python"])
def test_synthetic_worker_sends_its_share_with_either_generator(generator, monkeypatch):
    import confluent_kafka

    from lakectl.ops.produce.loop import Share, run_share
    from lakectl.ops.produce.sources import SyntheticTrades

    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    FakeProducer.sent = []
    text = schema("trade.avsc")
    share = Share(client_config={}, topic="t", subject="t-value", schema=text, schema_id=5, count=2_500,
                  rate=None, duration=None, flush_timeout=1,
                  source=SyntheticTrades(generator, text, 5, PREFIX, index=1, step=2))
    outcome = run_share(share)
    assert (outcome.sent, outcome.rejected, outcome.failed, outcome.pending) == (2_500, 0, 0, 0)
    codec = WireCodec(text, 5)
    records = [(key, decode(codec, value)) for topic, key, value in FakeProducer.sent if topic == "t"]
    assert len(records) == 2_500
    assert [r["trade_id"] for _, r in records] == [f"{PREFIX}-{1 + 2 * k}" for k in range(2_500)]
    assert all(key == r["symbol"].encode() for key, r in records)


def test_pick_generator():
    from lakectl.ops.produce.sources import pick_generator

    assert pick_generator(schema("trade.avsc"), 1) == "rust"
    assert pick_generator(schema("trade_v2.avsc"), 2) == "rust"
    assert pick_generator(schema("trade.avsc", [{"name": "venue_id", "type": "int"}]), 3) == "python"
