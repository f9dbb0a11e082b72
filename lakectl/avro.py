"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body."""

from __future__ import annotations

import io
import json
import struct
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
from fastavro.validation import validate

from lakectl.errors import UsageError

MAGIC = 0
HEADER = struct.Struct(">bI")


def load_schema_file(path: Path) -> str:
    """Read and check an .avsc file locally; returns its canonical JSON text."""
    from lakectl.paths import read_text

    return parse_schema_text(read_text(path, "schema file"), str(path))


def parse_schema_text(text: str, origin: str) -> str:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{origin}: not JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        fastavro.parse_schema(document)
    except Exception as exc:  # fastavro raises several types for a bad schema; all mean the same here
        raise UsageError(f"{origin}: not a valid Avro schema: {exc}") from None
    return json.dumps(document, separators=(",", ":"))


def from_json(datum: Any, schema: Any, named: dict[str, Any]) -> Any:
    """Map a JSON value onto what the Avro writer expects, driven by the schema.

    JSON has no decimals, timestamps or dates: a decimal may arrive as a number (parsed as Decimal,
    never through a float) or a numeric string, a timestamp as epoch milliseconds or ISO-8601 text.
    Anything that does not fit is passed through unchanged, for validation to name the problem.
    """
    if isinstance(schema, str):
        if schema in named:
            return from_json(datum, named[schema], named)
        if schema in ("double", "float") and isinstance(datum, Decimal):
            return float(datum)
        return datum
    if isinstance(schema, list):  # union: the first branch that takes the value
        if datum is None:
            return None
        for branch in schema:
            if branch == "null":
                continue
            converted = from_json(datum, branch, named)
            try:
                if validate(converted, named.get(branch, branch) if isinstance(branch, str) else branch,
                            raise_errors=False):
                    return converted
            except Exception:  # a branch that cannot judge the value simply does not take it
                continue
        return datum
    kind, logical = schema.get("type"), schema.get("logicalType")
    if logical == "decimal" and isinstance(datum, str | int | float | Decimal) and not isinstance(datum, bool):
        try:
            return Decimal(str(datum))
        except ArithmeticError:
            return datum
    if logical in ("timestamp-millis", "timestamp-micros", "local-timestamp-millis") and isinstance(datum, str):
        try:
            return datetime.fromisoformat(datum.replace("Z", "+00:00"))
        except ValueError:
            return datum
    if logical == "date" and isinstance(datum, str):
        try:
            return date.fromisoformat(datum)
        except ValueError:
            return datum
    if kind == "record" and isinstance(datum, dict):
        fields = {f["name"]: f["type"] for f in schema["fields"]}
        return {k: from_json(v, fields[k], named) if k in fields else v for k, v in datum.items()}
    if kind == "array" and isinstance(datum, list):
        return [from_json(item, schema["items"], named) for item in datum]
    if kind == "map" and isinstance(datum, dict):
        return {k: from_json(v, schema["values"], named) for k, v in datum.items()}
    if kind in ("double", "float") and isinstance(datum, Decimal):
        return float(datum)
    if isinstance(kind, str | list | dict) and kind not in PRIMITIVES_AND_COMPLEX:
        return from_json(datum, kind, named)
    return datum


PRIMITIVES_AND_COMPLEX = {"null", "boolean", "int", "long", "float", "double", "bytes", "string",
                          "record", "enum", "array", "map", "fixed"}


class WireCodec:
    """Encode/decode records of one schema id. ``encode`` validates first: nothing invalid is sent."""

    def __init__(self, schema: str | dict, schema_id: int) -> None:
        document = json.loads(schema) if isinstance(schema, str) else schema
        self.named: dict[str, Any] = {}
        self.parsed = fastavro.parse_schema(document, named_schemas=self.named)
        self.schema_id = schema_id
        self.header = HEADER.pack(MAGIC, schema_id)

    def from_json_line(self, line: bytes) -> Any:
        """Parse one JSON text into a record for this schema (numbers with a fraction stay exact)."""
        return from_json(json.loads(line, parse_float=Decimal), self.parsed, self.named)

    def validation_error(self, record: Any) -> str | None:
        """Why ``record`` breaks the schema, or None if it conforms."""
        try:
            validate(record, self.parsed, raise_errors=True)
        except fastavro.validation.ValidationError as exc:
            return "; ".join(str(e) for e in exc.errors) or str(exc)
        except (TypeError, ValueError, AttributeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def encode(self, record: Any, buffer: io.BytesIO | None = None) -> bytes:
        buffer = buffer or io.BytesIO()
        buffer.seek(0)
        buffer.truncate()
        buffer.write(self.header)
        fastavro.schemaless_writer(buffer, self.parsed, record)
        return buffer.getvalue()


def split_header(payload: bytes) -> tuple[int, bytes]:
    if len(payload) < HEADER.size or payload[0] != MAGIC:
        raise ValueError("not Confluent wire format (no magic byte)")
    _, schema_id = HEADER.unpack_from(payload)
    return schema_id, payload[HEADER.size:]


class WireDecoder:
    """Decode Confluent-framed Avro, fetching writer schemas by id (cached)."""

    def __init__(self, fetch_schema) -> None:
        self.fetch_schema = fetch_schema
        self._schemas: dict[int, Any] = {}

    def decode(self, payload: bytes) -> Any:
        schema_id, body = split_header(payload)
        if schema_id not in self._schemas:
            self._schemas[schema_id] = fastavro.parse_schema(json.loads(self.fetch_schema(schema_id)))
        return fastavro.schemaless_reader(io.BytesIO(body), self._schemas[schema_id], None)
