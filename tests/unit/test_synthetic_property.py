"""Property: for random Avro schemas (nested records, arrays and maps of records, nullable unions at any
depth, wide unions, enums, fixed, decimals of any precision and scale, every logical type, references to
named types and to enclosing records), synthetic records are always made and always valid."""

import io
import itertools
import json
from datetime import UTC, datetime

import fastavro
from fastavro.validation import validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakectl.ops.produce.synthetic import RecordGenerator

ANCHOR = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
LOGICAL = [{"type": "int", "logicalType": "date"}, {"type": "int", "logicalType": "time-millis"},
           {"type": "long", "logicalType": "time-micros"}, {"type": "long", "logicalType": "timestamp-millis"},
           {"type": "long", "logicalType": "timestamp-micros"},
           {"type": "long", "logicalType": "local-timestamp-millis"},
           {"type": "long", "logicalType": "local-timestamp-micros"}, {"type": "string", "logicalType": "uuid"}]
MAX_DIGITS = {size: len(str(2 ** (8 * size - 1) - 1)) - 1 for size in range(1, 17)}  # what fastavro accepts

bytes_decimals = st.integers(1, 40).flatmap(
    lambda p: st.integers(0, p).map(lambda s: {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}))
fixed_decimals = st.integers(1, 16).flatmap(lambda size: st.integers(1, MAX_DIGITS[size]).flatmap(
    lambda p: st.integers(0, p).map(lambda s: {"type": "fixed", "name": "?", "size": size, "logicalType": "decimal",
                                               "precision": p, "scale": s})))
enums = st.lists(st.from_regex(r"[A-Z][A-Z0-9_]{0,4}", fullmatch=True), min_size=1, max_size=4, unique=True).map(
    lambda symbols: {"type": "enum", "name": "?", "symbols": symbols})
fixeds = st.integers(0, 20).map(lambda size: {"type": "fixed", "name": "?", "size": size})
# "REF": a named type defined earlier; "SELF": a nullable reference to an enclosing record (recursion)
leaves = st.one_of(st.sampled_from(PRIMITIVES), st.sampled_from(LOGICAL), bytes_decimals, fixed_decimals, enums,
                   fixeds, st.sampled_from(["REF", "SELF", "SELF"]))
COMPOSITES = ["record", "record", "array", "map", "nullable", "union"]


@st.composite
def types(draw, depth: int):
    """A type tree, more often a leaf the deeper it is (nothing composite below depth 5)."""
    if depth >= 5 or draw(st.integers(0, 9)) < 2 + 2 * depth:
        return draw(leaves)
    kind = draw(st.sampled_from(COMPOSITES))
    if kind == "record":
        return {"type": "record", "name": "?", "fields": [
            {"name": f"f{i}", "type": t} for i, t in enumerate(draw(st.lists(types(depth + 1), max_size=4)))]}
    if kind == "array":
        return {"type": "array", "items": draw(types(depth + 1))}
    if kind == "map":
        return {"type": "map", "values": draw(types(depth + 1))}
    if kind == "nullable":
        t = draw(types(depth + 1))
        return draw(st.sampled_from([["null", t], [t, "null"]]))
    return draw(st.lists(types(depth + 1), min_size=2, max_size=4))


class Namer:
    """Turns a drawn tree into a legal schema: unique names, resolved REF/SELF, flat unions without duplicates."""

    def __init__(self) -> None:
        self.numbers = itertools.count()
        self.defined: list[str] = []  # named types whose definition is complete
        self.enclosing: list[str] = []  # records being defined around the current spot

    def __call__(self, schema):
        n = next(self.numbers)
        if schema == "REF":
            return self.defined[n % len(self.defined)] if self.defined else "int"
        if schema == "SELF":
            return ["null", self.enclosing[n % len(self.enclosing)]] if self.enclosing else "string"
        if isinstance(schema, str):
            return schema
        if isinstance(schema, list):
            return self.union([self(branch) for branch in schema])
        schema = dict(schema)
        kind = schema["type"]
        if kind == "record":
            schema["name"] = f"R{n}"
            self.enclosing.append(schema["name"])
            schema["fields"] = [{**f, "type": self(f["type"])} for f in schema["fields"]]
            self.enclosing.pop()
        elif kind in ("enum", "fixed"):
            schema["name"] = f"{kind[0].upper()}{n}"
        elif kind == "array":
            schema["items"] = self(schema["items"])
        elif kind == "map":
            schema["values"] = self(schema["values"])
        if "name" in schema:
            self.defined.append(schema["name"])
        return schema

    @staticmethod
    def union(branches: list) -> list:
        """Avro: no union directly in a union, at most one branch of each unnamed type."""
        flat, seen = [], set()
        for branch in itertools.chain.from_iterable(b if isinstance(b, list) else [b] for b in branches):
            kind = branch if isinstance(branch, str) else branch.get("name") or branch["type"]
            if kind not in seen:
                seen.add(kind)
                flat.append(branch)
        return flat


@st.composite
def schemas(draw):
    fields = draw(st.lists(types(1), max_size=4))
    top = {"type": "record", "name": "Top", "namespace": "prop", "fields": [{"name": "key", "type": "string"}] + [
        {"name": f"x{i}", "type": t} for i, t in enumerate(fields)]}
    return Namer()(top)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas(), seed=st.integers(0, 2**64))
def test_records_of_random_schemas_are_always_valid(schema, seed):
    generator = RecordGenerator(json.dumps(schema), seed=seed, anchor=ANCHOR, key_field="key")
    again = RecordGenerator(schema, seed=seed, anchor=ANCHOR, key_field="key")
    for index in range(8):
        key, record = generator.pair(index)
        assert validate(record, generator.parsed, raise_errors=True)
        assert key == f"{seed:x}-{index}".encode() == record["key"].encode()
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, generator.parsed, record)
        buffer.seek(0)
        assert fastavro.schemaless_reader(buffer, generator.parsed, None)["key"] == record["key"]
        assert again.record(index) == record  # deterministic
