"""Produce: synthetic records for any Avro schema (``lakectl produce TOPIC --synthetic N``).

A ``RecordGenerator`` compiles the schema once into a tree of small generating functions, then makes
record ``index`` from a random stream seeded with (seed, index) alone: a record is a pure function of
(schema, seed, index, anchor), whichever worker makes it and in whatever order.

What each type gets:
- null: None; boolean: either; int: 0 .. 2**20-1; long: 0 .. 2**40-1 (small enough for sums downstream);
  float: a value in [0, 1000) exact in 32 bits; double: [0, 1000); bytes: 0-16 random bytes;
  string: 1-12 lowercase letters.
- record: every field; enum: one of its symbols; array: 0-3 items; map: 0-3 entries; fixed: its size.
- union: ``["null", T]`` is null one time in five; other unions take any branch.
- logical types: decimal (bytes or fixed) a Decimal with at most ``precision`` digits, exactly ``scale``
  decimals, that fits the fixed size; uuid: a uuid string; date, time-*, timestamp-* (aware, UTC) and
  local-timestamp-* (naive): within the hour before ``anchor``, at the type's precision.
- recursion: past MAX_DEPTH nested recursive records every choice takes the shortest way out (a null
  branch, an empty array or map), so a record always ends. A schema without finite values is refused.

A key field (a top-level string, uuid, int or long) gets a value unique within the run instead:
``{prefix}-{index}``, a uuid made from (seed, index), or ``index + key_offset``; the Kafka key is its text.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import random
import string
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import fastavro

from lakectl.errors import UsageError
from lakectl.ops.produce.encoder import Encoder
from lakectl.ops.produce.sources import Chunk, Read

MAX_DEPTH = 3  # nested recursive records before generation heads for the leaves
NULL_SHARE = 0.2  # how often ["null", T] is null
MAX_ITEMS = 3  # arrays and maps have 0..MAX_ITEMS entries
SIZES = MAX_ITEMS + 1
ATTEMPTS = 16  # values tried for a union fastavro cannot always write (see _union)
WINDOW_US = 3_600_000_000  # temporal values fall within the hour before the anchor
LETTERS = string.ascii_lowercase
# strings are slices of this fixed pool at random offsets: far cheaper than drawing every letter
POOL = "".join(random.Random(20250601).choices(LETTERS, k=4096 + 16))
INFINITE = math.inf
MASK64 = (1 << 64) - 1
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
KEYABLE = "a string, uuid, int or long field"

Gen = Callable[[int], Any]  # gen(depth) -> a value; depth: recursive records entered on the way here


def default_anchor() -> datetime:
    return datetime.now(UTC)


class RecordGenerator:
    """Records of one schema; ``pair(index)`` -> (Kafka key or None, record)."""

    def __init__(self, schema: str | dict, *, seed: int, anchor: datetime | None = None,
                 key_field: str | None = None, prefix: str | None = None, key_offset: int = 0) -> None:
        document = json.loads(schema) if isinstance(schema, str) else schema
        self.named: dict[str, Any] = {}
        self.parsed = fastavro.parse_schema(document, named_schemas=self.named)
        if seed < 0:
            raise UsageError(f"the seed must be 0 or more, not {seed}")
        self.seed = seed
        self._base = seed << 64  # record i's stream: Random(base | i), distinct for every (seed, i < 2**64)
        anchor = anchor or default_anchor()
        self.anchor = anchor if anchor.tzinfo else anchor.replace(tzinfo=UTC)
        self.prefix = prefix if prefix is not None else f"{seed:x}"
        self.key_offset = key_offset
        self.rng = random.Random(0)
        self.heights = _heights(self.named)
        self.recursive = _recursive_names(self.named)
        self._compiled: dict[str, Gen] = {}
        if _height(self.parsed, self.heights) == INFINITE:
            raise UsageError("the schema has no finite records: a record type contains itself with no way "
                             "out (no null branch, array or map on the way)")
        self.key_field = key_field
        self._key_value: Callable[[int], Any] | None = None
        if key_field is not None:
            self._key_value = self._key_function(key_field)
        self._top = self._compile(self.parsed)

    # making records

    def record(self, index: int) -> Any:
        """Record ``index`` (0, 1, ...): the same for the same schema, seed and anchor."""
        self.rng.seed(self._base | index)
        record = self._top(0)
        if self._key_value is not None:
            record[self.key_field] = self._key_value(index)  # in place: the fields keep their order
        return record

    def pair(self, index: int) -> tuple[bytes | None, Any]:
        record = self.record(index)
        if self.key_field is None:
            return None, record
        return str(record[self.key_field]).encode(), record

    # the key field

    def _key_function(self, name: str) -> Callable[[int], Any]:
        if not (isinstance(self.parsed, dict) and self.parsed.get("type") in ("record", "error")):
            raise UsageError(f"key field {name!r}: the schema is not a record, it has no fields")
        fields = {f["name"]: f["type"] for f in self.parsed["fields"]}
        if name not in fields:
            raise UsageError(f"key field {name!r} is not a top-level field of {self.parsed['name']} "
                             f"(fields: {', '.join(fields)})")
        kind, logical = _kind(fields[name], self.named)
        prefix, offset, high = self.prefix, self.key_offset, (self.seed & MASK64) << 64
        if kind == "string" and logical == "uuid":
            return lambda i: str(uuid.UUID(int=high | ((i + offset) & MASK64), version=4))
        if kind == "string" and logical is None:
            return lambda i: f"{prefix}-{i + offset}"
        if kind in ("int", "long") and logical is None:
            return lambda i: i + offset
        raise UsageError(f"key field {name!r} is {_describe(fields[name], self.named)}: a unique key needs "
                         f"{KEYABLE} (not nullable)")

    def check_key(self, name: str) -> None:
        """UsageError unless ``name`` is a top-level field that can hold a unique key."""
        self._key_function(name)

    def keyable(self, name: str) -> bool:
        try:
            self.check_key(name)
        except UsageError:
            return False
        return True

    # compiling the schema into generating functions

    def _compile(self, schema: Any) -> Gen:
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return self._primitive(schema)
            return self._named(schema)
        if isinstance(schema, list):
            return self._union(schema)
        name = schema.get("name")
        if name and name in self.named and schema.get("type") in ("record", "error", "enum", "fixed"):
            return self._named(name)
        return self._compile_type(schema)

    def _named(self, name: str) -> Gen:
        """Each named type is compiled once; a reference to one still being compiled (recursion) looks
        the generator up when it runs."""
        compiled = self._compiled.get(name)
        if compiled is not None:
            return compiled
        cell: list[Gen] = []
        self._compiled[name] = lambda depth: cell[0](depth)
        cell.append(self._compile_type(self.named[name]))
        self._compiled[name] = cell[0]
        return cell[0]

    def _compile_type(self, schema: dict) -> Gen:
        kind, logical = schema.get("type"), schema.get("logicalType")
        if not isinstance(kind, str) or (kind not in PRIMITIVES and kind not in COMPLEX):
            return self._compile(kind)  # {"type": {...}} or {"type": "Name"}
        if logical is not None:
            made = self._logical(kind, logical, schema)
            if made is not None:
                return made
        if kind in PRIMITIVES:
            return self._primitive(kind)
        rng = self.rng
        if kind in ("record", "error"):
            return self._record(schema)
        if kind == "enum":
            symbols, choice = list(schema["symbols"]), rng.choice
            return lambda depth: choice(symbols)
        if kind == "fixed":
            size, randbytes = schema["size"], rng.randbytes
            return lambda depth: randbytes(size)
        if kind == "array":
            return self._array(schema["items"])
        return self._map(schema["values"])  # kind == "map"

    def _primitive(self, kind: str) -> Gen:
        rng = self.rng
        random_, bits = rng.random, rng.getrandbits
        if kind == "null":
            return lambda depth: None
        if kind == "boolean":
            return lambda depth: random_() < 0.5
        if kind == "int":
            return lambda depth: bits(20)
        if kind == "long":
            return lambda depth: bits(40)
        if kind == "float":
            to32 = struct.Struct("<f")
            return lambda depth: to32.unpack(to32.pack(random_() * 1000))[0]  # exact in 32 bits
        if kind == "double":
            return lambda depth: random_() * 1000
        if kind == "bytes":
            randbytes = rng.randbytes
            return lambda depth: randbytes(int(random_() * 17))
        return lambda depth: _text(bits(12), 1 + int(random_() * 12))  # string

    def _record(self, schema: dict) -> Gen:
        recursive = schema.get("name") in self.recursive
        fields = [(f["name"], self._compile(f["type"])) for f in schema["fields"]]
        if recursive:
            return lambda depth: {name: gen(depth + 1) for name, gen in fields}
        return lambda depth: {name: gen(depth) for name, gen in fields}

    def _array(self, items: Any) -> Gen:
        if _height(items, self.heights) == INFINITE:
            return lambda depth: []
        item, random_ = self._compile(items), self.rng.random
        return lambda depth: [] if depth >= MAX_DEPTH else [item(depth) for _ in range(int(random_() * SIZES))]

    def _map(self, values: Any) -> Gen:
        if _height(values, self.heights) == INFINITE:
            return lambda depth: {}
        value, random_, bits = self._compile(values), self.rng.random, self.rng.getrandbits

        def gen(depth: int) -> dict[str, Any]:
            if depth >= MAX_DEPTH:
                return {}
            return {_text(bits(12), 1 + int(random_() * 8)): value(depth) for _ in range(int(random_() * SIZES))}

        return gen

    def _union(self, branches: list) -> Gen:
        heights = [_height(b, self.heights) for b in branches]
        finite = [(b, h) for b, h in zip(branches, heights, strict=True) if h != INFINITE]
        if not finite:  # unreachable: the height check in __init__ refuses such schemas
            raise UsageError(f"union {branches} has no finite branch")
        random_, choice = self.rng.random, self.rng.choice
        gens = [self._compile(b) for b, _ in finite]
        others = [g for g, (b, _) in zip(gens, finite, strict=True) if b != "null"]
        has_null = len(others) < len(gens)
        if not others:
            return lambda depth: None
        if has_null and len(others) == 1:
            other = others[0]
            return lambda depth: None if depth >= MAX_DEPTH or random_() < NULL_SHARE else other(depth)
        lowest = min(h for _, h in finite)  # past MAX_DEPTH: the branches on a shortest way out (null first)
        shortest = [lambda depth: None] if has_null else [
            g for g, (_, h) in zip(gens, finite, strict=True) if h == lowest]

        def pick(depth: int) -> Any:
            return choice(shortest if depth >= MAX_DEPTH else gens)(depth)

        if not any(_has_logical(b, self.named, set()) for b in branches):
            return pick
        # fastavro picks a union's branch by trying the value on the branches in order (on every record
        # branch, for a dict), and a logical type's converter raises on some values of other branches
        # (a date on any string, a decimal on another scale), or takes them and fails to read them back
        # (an enum symbol in a uuid string): such a union takes only the values that fastavro writes and
        # reads back, found by doing it
        probe, buffer = self._probe(branches), io.BytesIO()
        write, read = fastavro.schemaless_writer, fastavro.schemaless_reader

        def writable(depth: int) -> Any:
            for _ in range(ATTEMPTS):
                value = pick(depth)
                buffer.seek(0)
                buffer.truncate()
                try:
                    write(buffer, probe, {"v": value})
                    buffer.seek(0)
                    read(buffer, probe, None)
                except Exception:  # fastavro raises several types here; all mean "not this value"
                    continue
                return value
            raise UsageError(f"fastavro cannot write the values made for the union {json.dumps(branches)}")

        return writable

    def _probe(self, branches: list) -> dict:
        """A parsed record whose one field ``v`` has this union type, for trying values on fastavro's writer."""
        union = [_referenced(b, self.named) for b in branches]
        probe = {"type": "record", "name": f"lakectl.synthetic.Probe{next(_PROBES)}",
                 "fields": [{"name": "v", "type": union}]}
        return fastavro.parse_schema(probe, named_schemas=dict(self.named))

    def _logical(self, kind: str, logical: str, schema: dict) -> Gen | None:
        """A generator for a logical type fastavro knows on this underlying type, else None (the
        underlying type's values then)."""
        rng, anchor = self.rng, self.anchor
        randrange = rng.randrange
        if logical == "decimal" and kind in ("bytes", "fixed"):
            precision, scale = int(schema.get("precision", 1)), int(schema.get("scale", 0) or 0)
            limit = 10**precision
            if kind == "fixed":
                limit = min(limit, 1 << (8 * schema["size"] - 1))  # two's complement in `size` bytes
            return lambda depth: _decimal(randrange(1 - limit, limit), scale)
        if logical == "uuid" and kind == "string":
            bits = rng.getrandbits
            return lambda depth: str(uuid.UUID(int=bits(128), version=4))
        micros = {"timestamp-millis": 1000, "timestamp-micros": 1, "local-timestamp-millis": 1000,
                  "local-timestamp-micros": 1}
        if logical in micros and kind == "long":
            unit = micros[logical]
            start = anchor if not logical.startswith("local-") else anchor.replace(tzinfo=None)
            start = start.replace(microsecond=start.microsecond // unit * unit)
            return lambda depth: start - timedelta(microseconds=randrange(WINDOW_US // unit) * unit)
        if logical == "date" and kind == "int":
            return lambda depth: (anchor - timedelta(microseconds=randrange(WINDOW_US))).date()
        if (logical, kind) in (("time-millis", "int"), ("time-micros", "long")):
            unit = 1000 if logical == "time-millis" else 1

            def moment(depth: int) -> time:
                t = (anchor - timedelta(microseconds=randrange(WINDOW_US))).time()
                return t.replace(microsecond=t.microsecond // unit * unit)

            return moment
        return None


COMPLEX = {"record", "error", "enum", "array", "map", "fixed"}
_PROBES = itertools.count()


def _has_logical(schema: Any, named: dict[str, Any], seen: set[str]) -> bool:
    """Whether a logical type appears anywhere in ``schema`` (following named types)."""
    if isinstance(schema, str):
        if schema in named and schema not in seen:
            seen.add(schema)
            return _has_logical(named[schema], named, seen)
        return False
    if isinstance(schema, list):
        return any(_has_logical(b, named, seen) for b in schema)
    if "logicalType" in schema:
        return True
    if schema.get("name") in named:
        seen.add(schema["name"])
    kind = schema.get("type")
    if kind in ("record", "error"):
        return any(_has_logical(f["type"], named, seen) for f in schema["fields"])
    if kind == "array":
        return _has_logical(schema["items"], named, seen)
    if kind == "map":
        return _has_logical(schema["values"], named, seen)
    return not (isinstance(kind, str) and (kind in PRIMITIVES or kind in COMPLEX)) and _has_logical(kind, named, seen)


def _referenced(schema: Any, named: dict[str, Any]) -> Any:
    """``schema`` with its named types as references to them (to parse it beside the types it uses)."""
    if isinstance(schema, list):
        return [_referenced(b, named) for b in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("name") in named and schema.get("type") in ("record", "error", "enum", "fixed"):
        return schema["name"]
    kind = schema.get("type")
    if kind == "array":
        return {**schema, "items": _referenced(schema["items"], named)}
    if kind == "map":
        return {**schema, "values": _referenced(schema["values"], named)}
    if isinstance(kind, dict | list):
        return {**schema, "type": _referenced(kind, named)}
    return schema


def _text(offset: int, length: int) -> str:
    return POOL[offset:offset + length]


def _decimal(unscaled: int, scale: int) -> Decimal:
    """unscaled * 10**-scale with exactly ``scale`` decimals (from text: exact, no context rounding)."""
    return Decimal(f"{unscaled}E-{scale}")


def _kind(schema: Any, named: dict[str, Any]) -> tuple[Any, str | None]:
    """(type, logicalType) of a field's type, following named references; unions stay lists."""
    if isinstance(schema, str):
        return (_kind(named[schema], named) if schema in named else (schema, None))
    if isinstance(schema, list):
        return "union", None
    kind = schema.get("type")
    if isinstance(kind, str) and (kind in PRIMITIVES or kind in COMPLEX):
        return kind, schema.get("logicalType")
    return _kind(kind, named)


def _describe(schema: Any, named: dict[str, Any]) -> str:
    kind, logical = _kind(schema, named)
    if kind == "union":
        return f"a union {json.dumps(schema)}" + (" (nullable)" if "null" in schema else "")
    return f"{kind} ({logical})" if logical else str(kind)


def _height(schema: Any, heights: dict[str, float]) -> float:
    """Records nested on the shortest way to a finite value (INFINITE: there is none)."""
    if isinstance(schema, str):
        return heights.get(schema, 0)
    if isinstance(schema, list):
        return min((_height(b, heights) for b in schema), default=INFINITE)
    kind = schema.get("type")
    if kind in ("record", "error"):
        name = schema.get("name")
        if name in heights:
            return heights[name]
        return 1 + max((_height(f["type"], heights) for f in schema["fields"]), default=0)
    if isinstance(kind, str) and (kind in PRIMITIVES or kind in COMPLEX):
        return 0  # enum, fixed, primitives; arrays and maps can be empty
    return _height(kind, heights)


def _heights(named: dict[str, Any]) -> dict[str, float]:
    """Every named record's height, to a fixed point (a record that only contains itself stays INFINITE)."""
    heights = {name: (INFINITE if s.get("type") in ("record", "error") else 0) for name, s in named.items()}
    changed = True
    while changed:
        changed = False
        for name, s in named.items():
            if s.get("type") in ("record", "error"):
                h = 1 + max((_height(f["type"], heights) for f in s["fields"]), default=0)
                if h < heights[name]:
                    heights[name], changed = h, True
    return heights


def _references(schema: Any, named: dict[str, Any], found: set[str]) -> None:
    """Names of the named types ``schema`` refers to, not looking inside them."""
    if isinstance(schema, str):
        if schema in named:
            found.add(schema)
    elif isinstance(schema, list):
        for branch in schema:
            _references(branch, named, found)
    elif isinstance(schema, dict):
        if schema.get("name") in named and schema.get("type") in ("record", "error", "enum", "fixed"):
            found.add(schema["name"])
            return
        kind = schema.get("type")
        if kind == "array":
            _references(schema["items"], named, found)
        elif kind == "map":
            _references(schema["values"], named, found)
        elif not (isinstance(kind, str) and (kind in PRIMITIVES or kind in COMPLEX)):
            _references(kind, named, found)


def _recursive_names(named: dict[str, Any]) -> set[str]:
    """Named records that can contain themselves."""
    direct: dict[str, set[str]] = {}
    for name, s in named.items():
        found: set[str] = set()
        for f in s.get("fields", []) if s.get("type") in ("record", "error") else []:
            _references(f["type"], named, found)
        direct[name] = found
    recursive = set()
    for name in direct:
        seen, todo = set(), list(direct[name])
        while todo:
            current = todo.pop()
            if current == name:
                recursive.add(name)
                break
            if current not in seen:
                seen.add(current)
                todo.extend(direct.get(current, ()))
    return recursive


@dataclass(frozen=True)
class SyntheticRecords:
    """Records of any schema, indices ``index``, ``index + step``, ... (workers interleave, never collide).

    Picklable: ``open`` compiles the schema in the process that sends."""

    schema: str
    seed: int
    anchor: datetime = field(default_factory=default_anchor)
    key_field: str | None = None
    index: int = 0
    step: int = 1

    def generator(self) -> RecordGenerator:
        return RecordGenerator(self.schema, seed=self.seed, anchor=self.anchor, key_field=self.key_field)

    def open(self, encoder: Encoder) -> Read:
        pair, step = self.generator().pair, self.step
        next_index = [self.index]

        def read(n: int) -> Chunk:
            chunk = Chunk()
            add, i = chunk.add, next_index[0]
            for _ in range(n):
                key, record = pair(i)
                add(encoder, key, record, validate=False, origin=f"synthetic:{i}")
                i += step
            next_index[0] = i
            return chunk

        return read
