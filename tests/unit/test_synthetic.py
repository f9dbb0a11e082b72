"""Synthetic records for any Avro schema (lakectl produce TOPIC --synthetic N): valid for every type and
logical type, deterministic per (schema, seed, index, anchor), unique keys across workers, recursion
that ends, clear refusals; the produce use case and the CLI options around it. No broker."""

import io
import json
import pickle
import re
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import confluent_kafka
import fastavro
import pytest
from fastavro.validation import validate

from lakectl.avro import WireCodec, split_header
from lakectl.errors import UsageError
from lakectl.ops.produce import produce
from lakectl.ops.produce.encoder import Encoder
from lakectl.ops.produce.synthetic import MAX_DEPTH, MAX_ITEMS, RecordGenerator, SyntheticRecords
from tests.unit.test_produce_loop import FakeKafka, FakeProducer

ANCHOR = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)


def decimal(kind: str, precision: int, scale: int, **extra) -> dict:
    return {"type": kind, "logicalType": "decimal", "precision": precision, "scale": scale, **extra}


def logical(kind: str, name: str) -> dict:
    return {"type": kind, "logicalType": name}


EVERY_TYPE = {
    "type": "record", "name": "Everything", "namespace": "test.synthetic",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "nothing", "type": "null"},
        {"name": "flag", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "s", "type": "string"},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
        {"name": "color_again", "type": "Color"},  # a named-type reference
        {"name": "md5", "type": {"type": "fixed", "name": "Md5", "size": 16}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "scores", "type": {"type": "map", "values": "double"}},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "street", "type": "string"}, {"name": "zip", "type": ["null", "int"]}]}},
        {"name": "addresses", "type": {"type": "array", "items": "Address"}},
        {"name": "by_name", "type": {"type": "map", "values": "Address"}},
        {"name": "maybe", "type": ["null", "string"]},
        {"name": "maybe_last", "type": ["long", "null"]},
        {"name": "anything", "type": ["null", "int", "string", "Color", {"type": "array", "items": "long"}]},
        {"name": "price", "type": decimal("bytes", 18, 6)},
        {"name": "tiny", "type": decimal("bytes", 1, 0)},
        {"name": "wide", "type": decimal("bytes", 38, 10)},  # more digits than decimal's default context
        {"name": "amount", "type": decimal("fixed", 9, 2, name="Amount", size=4)},
        {"name": "squeezed", "type": decimal("fixed", 4, 3, name="Squeezed", size=2)},  # every digit the size allows
        {"name": "maybe_price", "type": ["null", decimal("bytes", 10, 4)]},
        {"name": "day", "type": logical("int", "date")},
        {"name": "t_ms", "type": logical("int", "time-millis")},
        {"name": "t_us", "type": logical("long", "time-micros")},
        {"name": "ts_ms", "type": logical("long", "timestamp-millis")},
        {"name": "ts_us", "type": logical("long", "timestamp-micros")},
        {"name": "lts_ms", "type": logical("long", "local-timestamp-millis")},
        {"name": "lts_us", "type": logical("long", "local-timestamp-micros")},
        {"name": "uid", "type": logical("string", "uuid")},
        {"name": "maybe_ts", "type": ["null", logical("long", "timestamp-millis")]},
    ],
}

NESTED = {  # the benchmark's shape: nested record, array of records, map, enum, nullable union, decimal, timestamp
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
            {"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}},
        {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
            {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
        {"name": "attributes", "type": {"type": "map", "values": "string"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
        {"name": "coupon", "type": ["null", "string"]},
        {"name": "total", "type": decimal("bytes", 12, 2)},
        {"name": "placed_at", "type": logical("long", "timestamp-millis")},
    ],
}


def plain(value):
    """What fastavro's reader gives back for what the generator made: uuid strings come back as UUIDs."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def round_trip(generator: RecordGenerator, record):
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, generator.parsed, record)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, generator.parsed, None)


def test_every_type_and_logical_type_is_valid_and_round_trips():
    generator = RecordGenerator(EVERY_TYPE, seed=7, anchor=ANCHOR)
    records = [generator.record(i) for i in range(500)]
    for record in records:
        assert validate(record, generator.parsed, raise_errors=True)
        assert plain(round_trip(generator, record)) == record
        assert set(record) == {f["name"] for f in EVERY_TYPE["fields"]}  # every field, defaults or not
    for record in records:
        assert record["nothing"] is None and isinstance(record["flag"], bool)
        assert record["color"] in ("RED", "GREEN", "BLUE") and len(record["md5"]) == 16
        assert len(record["tags"]) <= MAX_ITEMS and len(record["scores"]) <= MAX_ITEMS
        for name, (precision, scale) in {"price": (18, 6), "tiny": (1, 0), "wide": (38, 10), "amount": (9, 2),
                                         "squeezed": (4, 3)}.items():
            _, digits, exponent = record[name].as_tuple()
            assert exponent == -scale and len(digits) <= precision, (name, record[name])
        assert abs(record["squeezed"].scaleb(3)) < 2**15  # two bytes, two's complement
        assert uuid.UUID(record["uid"]).version == 4
        hour_before = ANCHOR - timedelta(hours=1)
        for name, unit in (("ts_ms", 1000), ("ts_us", 1)):
            assert record[name].tzinfo is not None and hour_before <= record[name] <= ANCHOR
            assert record[name].microsecond % unit == 0
        for name, unit in (("lts_ms", 1000), ("lts_us", 1)):
            naive = record[name]
            assert naive.tzinfo is None and hour_before.replace(tzinfo=None) <= naive <= ANCHOR.replace(tzinfo=None)
            assert naive.microsecond % unit == 0
        assert isinstance(record["day"], date) and record["day"] in (ANCHOR.date(), hour_before.date())
        assert isinstance(record["t_ms"], time) and record["t_ms"].microsecond % 1000 == 0
    nulls = sum(r["maybe"] is None for r in records) / len(records)
    assert 0.12 < nulls < 0.28  # about one in five
    assert {type(r["anything"]) for r in records} == {type(None), int, str, list}  # every branch of a wide union
    assert {r["color"] for r in records} == {"RED", "GREEN", "BLUE"}
    assert {len(r["addresses"]) for r in records} == set(range(MAX_ITEMS + 1))


def test_the_same_seed_makes_the_same_records_in_any_order():
    first = RecordGenerator(EVERY_TYPE, seed=42, anchor=ANCHOR)
    second = RecordGenerator(json.dumps(EVERY_TYPE), seed=42, anchor=ANCHOR)
    forwards = [first.record(i) for i in range(50)]
    backwards = [second.record(i) for i in reversed(range(50))][::-1]
    assert forwards == backwards
    other = RecordGenerator(EVERY_TYPE, seed=43, anchor=ANCHOR)
    assert all(other.record(i) != forwards[i] for i in range(50))
    assert len({json.dumps(r, default=str) for r in forwards}) == 50  # and records differ from each other


def test_records_do_not_depend_on_the_process_hash_seed():
    script = ("import json, sys; from datetime import datetime, UTC\n"
              "from lakectl.ops.produce.synthetic import RecordGenerator\n"
              "g = RecordGenerator(json.loads(sys.argv[1]), seed=5, anchor=datetime(2025, 1, 1, tzinfo=UTC))\n"
              "print(json.dumps([g.record(i) for i in range(20)], default=str))")
    outputs = {
        subprocess.run([sys.executable, "-c", script, json.dumps(NESTED)], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"}, cwd=_repo()).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert len(outputs) == 1 and outputs.pop().startswith("[{")


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def shares(schema: dict, workers: int, count: int, key_field: str | None, seed: int = 9) -> list[tuple]:
    """Run ``workers`` interleaved sources as the workers would (pickled): the (key, record) pairs they send."""
    codec = WireCodec(json.dumps(schema), 3)
    sent = []
    for i in range(workers):
        source = pickle.loads(pickle.dumps(SyntheticRecords(json.dumps(schema), seed, ANCHOR, key_field, i, workers)))
        chunk = source.open(Encoder(codec))(count // workers)
        assert not chunk.rejects
        for key, value in chunk.records:
            schema_id, body = split_header(value)
            assert schema_id == 3
            sent.append((key, fastavro.schemaless_reader(io.BytesIO(body), codec.parsed, None)))
    return sent


def test_keys_are_unique_across_interleaved_workers_and_match_the_key_field():
    sent = shares(NESTED, workers=3, count=3_000, key_field="order_id")
    keys = [key for key, _ in sent]
    assert len(set(keys)) == len(keys) == 3_000
    assert all(key == record["order_id"].encode() for key, record in sent)
    assert {key.decode() for key in keys} == {f"9-{n}" for n in range(3_000)}  # prefix: the seed in hex
    one_worker = shares(NESTED, workers=1, count=3_000, key_field="order_id")
    by_key = dict(one_worker)
    assert all(by_key[key] == record for key, record in sent)  # record n is the same whichever worker makes it


@pytest.mark.parametrize(("kind", "expected"), [
    ("int", lambda n: n), ("long", lambda n: n),
    (logical("string", "uuid"), None),
])
def test_int_long_and_uuid_keys(kind, expected):
    schema = {"type": "record", "name": "K", "fields": [{"name": "k", "type": kind}, {"name": "v", "type": "int"}]}
    sent = shares(schema, workers=2, count=1_000, key_field="k")
    values = [record["k"] for _, record in sent]
    assert len(set(values)) == 1_000
    assert all(key == str(plain(record["k"])).encode() for key, record in sent)
    if expected:
        assert sorted(values) == list(range(1_000))
    else:
        assert all(v.version == 4 for v in values)
        assert shares(schema, 1, 10, "k", seed=10)[0][0] != shares(schema, 1, 10, "k", seed=9)[0][0]


def test_no_key_field_no_key():
    assert all(key is None for key, _ in shares(NESTED, workers=2, count=10, key_field=None))


@pytest.mark.parametrize(("field_type", "said"), [
    (["null", "string"], "union"),
    ({"type": "enum", "name": "E", "symbols": ["A"]}, "enum"),
    ("double", "double"),
    (decimal("bytes", 10, 2), "bytes (decimal)"),
    (logical("long", "timestamp-millis"), "long (timestamp-millis)"),
    ({"type": "fixed", "name": "F", "size": 4}, "fixed"),
])
def test_key_fields_that_cannot_hold_a_unique_key_are_refused(field_type, said):
    schema = {"type": "record", "name": "R", "fields": [{"name": "key", "type": field_type}]}
    with pytest.raises(UsageError, match=rf"key field 'key' is .*{re.escape(said)}.*a unique key needs") as caught:
        RecordGenerator(schema, seed=1, key_field="key")
    assert "\n" not in str(caught.value)


def test_a_missing_key_field_or_a_schema_without_fields_is_refused():
    with pytest.raises(UsageError, match=r"key field 'nope' is not a top-level field of shop.Order \(fields: order_id"):
        RecordGenerator(NESTED, seed=1, key_field="nope")
    with pytest.raises(UsageError, match="not a record"):
        RecordGenerator('"string"', seed=1, key_field="k")
    assert RecordGenerator('"string"', seed=1).record(0)  # a bare type is a schema too


RECURSIVE = {
    "linked list": {"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]},
    "tree": {"type": "record", "name": "Tree", "fields": [
        {"name": "label", "type": "string"},
        {"name": "children", "type": {"type": "array", "items": "Tree"}},
        {"name": "by_name", "type": {"type": "map", "values": "Tree"}}]},
    "mutual, through a union without null": {"type": "record", "name": "A", "fields": [
        {"name": "b", "type": [{"type": "record", "name": "B", "fields": [{"name": "a", "type": "A"}]}, "int"]}]},
    "null last": {"type": "record", "name": "L", "fields": [{"name": "next", "type": ["L", "null"]}]},
}


def nesting(value) -> int:
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((nesting(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("name", list(RECURSIVE))
def test_recursive_schemas_end(name):
    generator = RecordGenerator(RECURSIVE[name], seed=3, anchor=ANCHOR)
    depths = set()
    for i in range(300):
        record = generator.record(i)
        assert validate(record, generator.parsed, raise_errors=True)
        assert round_trip(generator, record) == record
        depths.add(nesting(record))
    assert max(depths) <= 2 * MAX_DEPTH + 1 and len(depths) > 1  # bounded, and not always the shortest


def test_a_schema_without_finite_records_is_refused():
    forever = {"type": "record", "name": "Forever", "fields": [{"name": "again", "type": "Forever"}]}
    with pytest.raises(UsageError, match="no finite records"):
        RecordGenerator(forever, seed=1)


# the produce use case, with the fakes of test_produce_loop


class Registry:
    def __init__(self, schema: dict) -> None:
        self.schema = json.dumps(schema)

    def get(self, subject):
        return SimpleNamespace(schema_=self.schema, id=11)


@pytest.fixture
def producer(monkeypatch):
    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    FakeProducer.sent, FakeProducer.unacked, FakeProducer.fail = [], 0, False
    return FakeProducer


def sent_records(producer) -> list[tuple]:
    codec = WireCodec(json.dumps(EVERY_TYPE), 11)
    return [(key, fastavro.schemaless_reader(io.BytesIO(split_header(value)[1]), codec.parsed, None))
            for topic, key, value, _ in producer.sent if topic == "t"]


@pytest.mark.parametrize("workers", [1, 2])
def test_produce_synthetic_records_of_any_schema(producer, workers):
    kafka = FakeKafka()
    result = produce(kafka, Registry(EVERY_TYPE), "t", synthetic=2_001, seed=12, key_field="id", workers=workers)
    assert (result.sent, result.rejected, result.failed) == (2_001, 0, 0)
    assert (result.generator, result.seed, result.workers) == ("schema", 12, workers)
    assert result.to_dict()["seed"] == 12 and kafka.ensured == ["t.dlq"]
    if workers == 1:  # forked workers send through their own copy of the fake
        sent = sent_records(producer)
        assert sorted(key for key, _ in sent) == sorted(f"c-{n}".encode() for n in range(2_001))


def test_produce_picks_a_random_seed_and_reports_it(producer):
    seeds = {produce(FakeKafka(), Registry(NESTED), "t", synthetic=5).seed for _ in range(3)}
    assert len(seeds) == 3 and all(isinstance(s, int) and s >= 0 for s in seeds)


def test_produce_same_seed_same_records(producer, monkeypatch):
    from lakectl.ops.produce import run

    monkeypatch.setattr(run, "default_anchor", lambda: ANCHOR)
    runs = []
    for _ in range(2):
        FakeProducer.sent = []
        produce(FakeKafka(), Registry(EVERY_TYPE), "t", synthetic=50, seed=4)
        runs.append(sent_records(producer))
    assert runs[0] == runs[1] and len(runs[0]) == 50
    assert all(key is None for key, _ in runs[0])  # auto: no field named symbol, so no key


def test_auto_keys_on_symbol_only_when_it_can_hold_a_unique_key(producer):
    keyed = {"type": "record", "name": "Q", "fields": [{"name": "symbol", "type": "string"}]}
    produce(FakeKafka(), Registry(keyed), "t", synthetic=3, seed=255)
    assert [key for _, key, _, _ in producer.sent] == [b"ff-0", b"ff-1", b"ff-2"]
    FakeProducer.sent = []
    enum = {"type": "record", "name": "Q", "fields": [
        {"name": "symbol", "type": {"type": "enum", "name": "S", "symbols": ["A", "B"]}}]}
    produce(FakeKafka(), Registry(enum), "t", synthetic=3, seed=1)
    assert [key for _, key, _, _ in producer.sent] == [None] * 3
    with pytest.raises(UsageError, match="key field 'symbol' is enum"):
        produce(FakeKafka(), Registry(enum), "t", synthetic=3, key_field="symbol")


def test_synthetic_excludes_count_and_from_file_before_any_service(producer, tmp_path):
    with pytest.raises(UsageError, match="exclude count"):
        produce(FakeKafka(topics=()), None, "t", synthetic=3, count=3)
    with pytest.raises(UsageError, match="exclude from_file"):
        produce(FakeKafka(topics=()), None, "t", synthetic=3, from_file=tmp_path / "x.jsonl")


# the CLI: one clear line, exit 2, before any service (these point nowhere: exit 3 if they were asked)


@pytest.fixture
def nowhere(monkeypatch):
    monkeypatch.setenv("LAKECTL_REGISTRY__URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LAKECTL_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")


@pytest.mark.parametrize(("args", "said"), [
    (["--synthetic", "5", "--from-file", "in.jsonl"], "excludes --from-file"),
    (["--synthetic", "5", "--count", "3"], "excludes --count"),
    (["--synthetic", "5", "-n", "3"], "excludes --count"),
    (["--seed", "3"], "--seed applies to --synthetic"),
    (["--synthetic", "0"], "--synthetic"),
    (["--synthetic", "5", "--seed", "-1"], "--seed"),
])
def test_cli_option_conflicts(run, nowhere, args, said):
    from tests.unit.test_cli_errors import assert_one_line

    assert_one_line(run("produce", "t", *args), 2, said)
