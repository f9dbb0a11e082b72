import json
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest

from lakectl.avro import WireCodec, WireDecoder, load_schema_file, split_header
from lakectl.errors import UsageError
from lakectl.ops.produce.trades import generate

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="module")
def v1() -> str:
    return load_schema_file(SCHEMAS / "trade.avsc")


def test_wire_format_round_trip(v1):
    codec = WireCodec(v1, 42)
    _, trade = next(generate(1, prefix="t"))
    payload = codec.encode(trade)
    assert payload[0] == 0 and int.from_bytes(payload[1:5], "big") == 42
    schema_id, _ = split_header(payload)
    assert schema_id == 42
    decoded = WireDecoder(lambda _id: v1).decode(payload)
    assert decoded["trade_id"] == trade["trade_id"]
    assert decoded["price"] == trade["price"]
    assert int(decoded["event_time"].timestamp() * 1000) == trade["event_time"]


def test_reader_of_v1_data_with_v2_schema_fills_default(v1):
    v2 = load_schema_file(SCHEMAS / "trade_v2.avsc")
    _, trade = next(generate(1, prefix="t"))
    # the v2 writer leaves the optional field out: the default (null) is written
    payload = WireCodec(v2, 2).encode(trade)
    assert WireDecoder(lambda _id: v2).decode(payload)["conditions"] is None


def test_validation_reasons(v1):
    codec = WireCodec(v1, 1)
    _, good = next(generate(1, prefix="t"))
    assert codec.validation_error(good) is None
    assert "side" in codec.validation_error({**good, "side": "HOLD"})
    assert "size" in codec.validation_error({**good, "size": "ten"})
    missing = dict(good)
    del missing["symbol"]
    assert "symbol" in codec.validation_error(missing)


def test_decimal_precision_is_enforced(v1):
    codec = WireCodec(v1, 1)
    _, good = next(generate(1, prefix="t"))
    assert codec.validation_error({**good, "price": Decimal("1.1234567")}) is not None


def test_not_wire_format():
    with pytest.raises(ValueError, match="magic"):
        split_header(b'{"json": 1}')


def test_schema_files_are_valid_and_distinct():
    texts = [json.loads(load_schema_file(SCHEMAS / n)) for n in ("trade.avsc", "trade_v2.avsc",
                                                                  "trade_incompatible.avsc")]
    assert len({json.dumps(t, sort_keys=True) for t in texts}) == 3


def test_missing_schema_file():
    with pytest.raises(UsageError, match="does not exist"):
        load_schema_file(Path("nope.avsc"))


@pytest.mark.parametrize(("content", "message"), [
    (b'{"type": "record", "name": "\xff\xfe", "fields": []}', "is not UTF-8 text"),  # the CLI fuzz test
    (bytes(range(256)), "is not UTF-8 text"),
    (None, "is a directory"),
])
def test_a_schema_file_that_is_not_text_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "x.avsc"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_schema_file(path)


def test_synthetic_ids_interleave_without_collision():
    ids = set()
    for worker in range(3):
        ids.update(t["trade_id"] for _, t in generate(1000, prefix="p", start=worker, step=3))
    assert len(ids) == 3000
    assert ids == {f"p-{n}" for n in range(3000)}


def test_json_lines_map_onto_logical_types(v1):
    from datetime import datetime

    codec = WireCodec(load_schema_file(SCHEMAS / "trade_v2.avsc"), 1)
    line = (b'{"trade_id": "x", "symbol": "AAPL", "price": 189.123456, "size": 5, "side": "SELL", '
            b'"exchange": "XNAS", "event_time": "2026-11-26T10:00:00.250Z", "conditions": "@ F"}')
    record = codec.from_json_line(line)
    assert record["price"] == Decimal("189.123456")  # exact: never through a float
    assert record["event_time"] == datetime(2026, 11, 26, 10, 0, 0, 250000, tzinfo=UTC)
    assert record["conditions"] == "@ F"
    assert codec.validation_error(record) is None
    as_text = codec.from_json_line(line.replace(b"189.123456", b'"189.5"').replace(b'"2026-11-26T10:00:00.250Z"',
                                                                                     b"1764151200250"))
    assert as_text["price"] == Decimal("189.5") and as_text["event_time"] == 1764151200250
    assert codec.validation_error(as_text) is None
    bad = codec.from_json_line(line.replace(b"189.123456", b'"cheap"'))
    assert "price" in codec.validation_error(bad)


def test_json_double_fields_become_floats():
    schema = {"type": "record", "name": "R", "fields": [{"name": "d", "type": "double"},
                                                        {"name": "o", "type": ["null", "double"]}]}
    codec = WireCodec(schema, 1)
    record = codec.from_json_line(b'{"d": 1.5, "o": 2.25}')
    assert record == {"d": 1.5, "o": 2.25} and isinstance(record["d"], float)
    assert codec.validation_error(record) is None
