"""Avro -> Bronze column types (lakectl/avro_sql.py): every Avro type, the refusals, and a property test."""

from __future__ import annotations

import json

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakectl.avro_sql import UnsupportedSchema, columns


def one(field_type, **extra) -> tuple[str, bool]:
    schema = {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type, **extra}]}
    fastavro.parse_schema(json.loads(json.dumps(schema)))  # a valid Avro schema to begin with
    column = columns(schema)[0]
    return column.flink, column.nullable


@pytest.mark.parametrize(("avro", "flink"), [
    ("boolean", "BOOLEAN"), ("int", "INT"), ("long", "BIGINT"), ("float", "FLOAT"), ("double", "DOUBLE"),
    ("string", "STRING"), ("bytes", "BYTES"),
    ({"type": "fixed", "name": "F", "size": 16}, "VARBINARY(16)"),
    ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, "STRING"),
    ({"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 6}, "DECIMAL(18, 6)"),
    ({"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 10, "scale": 2},
     "DECIMAL(10, 2)"),
    ({"type": "bytes", "logicalType": "decimal", "precision": 5}, "DECIMAL(5, 0)"),
    ({"type": "int", "logicalType": "date"}, "DATE"),
    ({"type": "int", "logicalType": "time-millis"}, "INT"),
    ({"type": "long", "logicalType": "time-micros"}, "BIGINT"),
    ({"type": "long", "logicalType": "timestamp-millis"}, "TIMESTAMP(3)"),
    ({"type": "long", "logicalType": "timestamp-micros"}, "BIGINT"),
    ({"type": "long", "logicalType": "local-timestamp-millis"}, "TIMESTAMP(3)"),
    ({"type": "long", "logicalType": "local-timestamp-micros"}, "BIGINT"),
    ({"type": "string", "logicalType": "uuid"}, "STRING"),
    ({"type": "array", "items": "long"}, "ARRAY<BIGINT NOT NULL>"),
    ({"type": "array", "items": ["null", "long"]}, "ARRAY<BIGINT>"),
    ({"type": "map", "values": "double"}, "MAP<STRING NOT NULL, DOUBLE NOT NULL>"),
    ({"type": "record", "name": "N", "fields": [{"name": "a", "type": "int"},
                                                {"name": "b", "type": ["null", "string"]}]},
     "ROW<`a` INT NOT NULL, `b` STRING>"),
    ({"type": "array", "items": {"type": "record", "name": "I", "fields": [{"name": "x", "type": "int"}]}},
     "ARRAY<ROW<`x` INT NOT NULL> NOT NULL>"),
    ({"type": "map", "values": ["null", {"type": "record", "name": "V", "fields": [{"name": "y", "type": "long"}]}]},
     "MAP<STRING NOT NULL, ROW<`y` BIGINT NOT NULL>>"),
])
def test_every_avro_type_has_its_column_type(avro, flink):
    assert one(avro) == (flink, False)


@pytest.mark.parametrize("union", [["null", "long"], ["long", "null"]])
def test_a_nullable_union_in_either_order_is_a_nullable_column(union):
    assert one(union, default=None if union[0] == "null" else 0) == ("BIGINT", True)


def test_nullable_unions_at_any_depth():
    inner = {"type": "record", "name": "In", "fields": [{"name": "v", "type": ["null", {"type": "int",
                                                                                   "logicalType": "date"}]}]}
    assert one(["null", {"type": "array", "items": ["null", inner]}]) == ("ARRAY<ROW<`v` DATE>>", True)


def test_named_types_are_found_by_full_and_short_name():
    schema = {"type": "record", "name": "R", "namespace": "a.b", "fields": [
        {"name": "first", "type": {"type": "enum", "name": "Side", "symbols": ["X"]}},
        {"name": "second", "type": "Side"},
        {"name": "third", "type": "a.b.Side"},
        {"name": "wrapped", "type": {"type": "Side"}},
    ]}
    assert [c.flink for c in columns(schema)] == ["STRING"] * 4


def test_docs_and_logical_types_reach_the_columns():
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}, "doc": "When."}]}
    column = columns(schema)[0]
    assert (column.doc, column.logical, column.avro) == ("When.", "timestamp-micros", "timestamp-micros")


def test_a_union_of_several_types_names_the_field_path():
    nested = {"type": "record", "name": "In", "fields": [{"name": "v", "type": ["null", "int", "string"]}]}
    with pytest.raises(UnsupportedSchema, match=r"^outer\.v: union of several types \[null, int, string\]"):
        columns({"type": "record", "name": "R", "fields": [{"name": "outer", "type": nested}]})


def test_a_union_inside_an_array_names_the_element():
    with pytest.raises(UnsupportedSchema, match=r"^f\[\]: union of several types"):
        one({"type": "array", "items": ["int", "string"]})


def test_a_recursive_record_names_the_field_path():
    schema = {"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"},
        {"name": "children", "type": {"type": "array", "items": "Node"}}]}
    with pytest.raises(UnsupportedSchema, match=r"^children\[\]: recursive record Node"):
        columns(schema)


def test_a_decimal_beyond_38_digits_is_refused():
    with pytest.raises(UnsupportedSchema, match="precision 40"):
        one({"type": "bytes", "logicalType": "decimal", "precision": 40, "scale": 2})


def test_a_field_named_like_a_metadata_column_is_refused():
    with pytest.raises(UnsupportedSchema, match="ingested_at: the name is taken"):
        columns({"type": "record", "name": "R", "fields": [{"name": "ingested_at", "type": "long"}]})


def test_not_a_record_is_refused():
    with pytest.raises(UnsupportedSchema, match="must be a record"):
        columns('"string"')


def test_the_trade_schema_maps_as_the_bronze_job_always_had_it(tmp_path):
    from lakectl.paths import schemas_dir

    cols = columns((schemas_dir() / "trade.avsc").read_text())
    assert [(c.name, c.flink) for c in cols] == [
        ("trade_id", "STRING"), ("symbol", "STRING"), ("price", "DECIMAL(18, 6)"), ("size", "BIGINT"),
        ("side", "STRING"), ("exchange", "STRING"), ("event_time", "TIMESTAMP(3)")]


# -- property: any schema built from the supported types maps --------------------------------------
names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in ("ingested_at", "kafka_partition", "kafka_offset", "event_date"))
counter = iter(range(10**9))


def _named(kind: str) -> str:
    return f"{kind}{next(counter)}"


primitives = st.sampled_from(["boolean", "int", "long", "float", "double", "string", "bytes"])
logicals = st.one_of(
    st.sampled_from([{"type": "int", "logicalType": "date"}, {"type": "int", "logicalType": "time-millis"},
                     {"type": "long", "logicalType": "time-micros"},
                     {"type": "long", "logicalType": "timestamp-millis"},
                     {"type": "long", "logicalType": "timestamp-micros"},
                     {"type": "long", "logicalType": "local-timestamp-millis"},
                     {"type": "long", "logicalType": "local-timestamp-micros"},
                     {"type": "string", "logicalType": "uuid"}]),
    st.integers(1, 38).flatmap(lambda p: st.integers(0, p).map(
        lambda s: {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})),
    st.integers(1, 18).map(lambda p: {"type": "fixed", "name": _named("Dec"), "size": 8, "logicalType": "decimal",
                                      "precision": p, "scale": 0}),
    st.builds(lambda n: {"type": "fixed", "name": _named("Fix"), "size": n}, st.integers(1, 32)),
    st.builds(lambda symbols: {"type": "enum", "name": _named("Enum"), "symbols": symbols},
              st.lists(st.from_regex(r"[A-Z][A-Z0-9_]{0,4}", fullmatch=True), min_size=1, max_size=4, unique=True)),
)


def _records(children):
    return st.lists(st.tuples(names, children), min_size=1, max_size=4, unique_by=lambda f: f[0]).map(
        lambda fields: {"type": "record", "name": _named("Rec"),
                        "fields": [{"name": n, "type": t} for n, t in fields]})


types = st.recursive(
    st.one_of(primitives, logicals),
    lambda children: st.one_of(
        _records(children),
        children.map(lambda t: {"type": "array", "items": t}),
        children.map(lambda t: {"type": "map", "values": t}),
        children.filter(lambda t: not isinstance(t, list)).map(lambda t: ["null", t]),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, types), min_size=1, max_size=6, unique_by=lambda f: f[0]))
def test_any_supported_schema_maps(fields):
    schema = {"type": "record", "name": "Root", "fields": [{"name": n, "type": t} for n, t in fields]}
    fastavro.parse_schema(json.loads(json.dumps(schema)))  # the generator only makes valid Avro
    cols = columns(json.dumps(schema))
    assert [c.name for c in cols] == [n for n, _ in fields]
    for column, (_, avro) in zip(cols, fields, strict=True):
        assert column.nullable == isinstance(avro, list)
        assert column.flink.count("<") == column.flink.count(">")  # nested types are closed


def test_the_reader_schema_takes_off_what_flink_cannot_decode():
    from lakectl.avro_sql import reader_schema

    schema = {"type": "record", "name": "R", "fields": [
        {"name": "a", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "b", "type": ["null", {"type": "long", "logicalType": "local-timestamp-millis"}]},
        {"name": "c", "type": {"type": "array", "items": {"type": "int", "logicalType": "time-millis"}}},
        {"name": "d", "type": {"type": "map", "values": {"type": "long", "logicalType": "time-micros"}}},
        {"name": "e", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "f", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 1}}]}
    fields = {f["name"]: f["type"] for f in json.loads(reader_schema(schema))["fields"]}
    assert fields == {"a": {"type": "long"}, "b": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
                      "c": {"type": "array", "items": {"type": "int"}},
                      "d": {"type": "map", "values": {"type": "long"}},
                      "e": {"type": "long", "logicalType": "timestamp-millis"},
                      "f": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 1}}
    # what a writer wrote with the logical types still reads (Avro resolves on the underlying types)
    fastavro.parse_schema(json.loads(reader_schema(schema)))
