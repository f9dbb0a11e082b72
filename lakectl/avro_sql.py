"""Avro schema -> the columns of a Bronze table, as Flink SQL types.

The one place the mapping lives: ``pipeline add`` checks a schema with it (so a schema Bronze cannot
hold is refused before anything is created), the Bronze job declares its Kafka source and its tables
with it, and the generated Silver models read its notes. Standard library only: the Bronze job imports
this module inside Flink's Python, where lakectl's dependencies are not installed.

The mapping follows what Flink's ``avro-confluent`` format decodes (it reads generic records, with
no logical-type conversions), and what both Iceberg and Delta can hold, so the two tables get the same
columns:

=============================================  =======================================================
Avro                                           Flink SQL (Bronze column)
=============================================  =======================================================
boolean, int, long, float, double, string      BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, STRING
bytes / fixed of size n                        BYTES / VARBINARY(n)
enum                                           STRING (the symbol)
record                                         ROW<...> (nested to any depth)
array / map                                    ARRAY<T> / MAP<STRING, T>
["null", T] (either order, any depth)          T, nullable
decimal (bytes or fixed, precision <= 38)      DECIMAL(p, s)
date                                           DATE
timestamp-millis, local-timestamp-millis       TIMESTAMP(3) (UTC wall clock)
timestamp-micros, local-timestamp-micros       BIGINT: microseconds since the epoch *
time-millis / time-micros                      INT / BIGINT: since midnight *
uuid                                           STRING
=============================================  =======================================================

\\* Flink's Avro decoder reads every long timestamp as milliseconds (a timestamp-micros would land a
thousand times too late) and cannot read time-micros at all, and Delta has no TIME type, so these keep
their exact number in Bronze; the generated Silver model turns top-level ones into ``timestamp(6)`` /
``time`` in Trino. Unions of several non-null types and recursive records have no column type: they
are refused with the field's path.

Flink insists that the Kafka table's columns equal its own conversion of the reader schema, so the job
reads with ``reader_schema()``: the subject's schema with those logical types taken off (Avro resolves a
writer's logical long against a plain long) and local-timestamp-millis read as timestamp-millis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PRIMITIVES = {"boolean": "BOOLEAN", "int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
              "string": "STRING", "bytes": "BYTES"}
# logical types stored as their number (see the table above): Silver converts them
KINDS = {*PRIMITIVES, "null", "record", "error", "enum", "array", "map", "fixed"}
KEPT_AS_NUMBER = {"timestamp-micros", "local-timestamp-micros", "time-millis", "time-micros"}
MAX_DECIMAL_PRECISION = 38  # Iceberg's, Delta's and Trino's limit
# columns every Bronze row gets beside the record's own
METADATA_COLUMNS = ("ingested_at", "kafka_partition", "kafka_offset", "event_date")


class UnsupportedSchema(ValueError):
    """A schema (or one field of it) Bronze cannot hold; the message names the field's path."""


@dataclass(frozen=True)
class Column:
    name: str
    flink: str  # Flink SQL type; nested fields carry their own NOT NULL
    nullable: bool
    doc: str | None = None
    logical: str | None = None  # the Avro logical type of a top-level column, if any
    avro: str = ""  # the Avro type's name (record, enum, long, ...), for messages and Silver

    def ddl(self, *, not_null: bool = True) -> str:
        return f"`{self.name}` {self.flink}{' NOT NULL' if not_null and not self.nullable else ''}"

    @property
    def nested(self) -> bool:
        return self.flink.startswith(("ROW<", "ARRAY<", "MAP<"))


def columns(schema: str | dict) -> list[Column]:
    """The Bronze columns of a record schema (the schema's text or parsed JSON), in field order."""
    document = json.loads(schema) if isinstance(schema, str) else schema
    mapper = _Mapper(document)
    root = mapper.resolve(document, "")
    if not isinstance(root, dict) or root.get("type") != "record":
        raise UnsupportedSchema("the schema must be a record")
    mapper.stack.append(_full_name(root, ""))
    result = []
    for field in root.get("fields", []):
        name = field["name"]
        if name.lower() in METADATA_COLUMNS:
            raise UnsupportedSchema(f"{name}: the name is taken by a Bronze metadata column "
                                    f"({', '.join(METADATA_COLUMNS)})")
        sql, nullable = mapper.type_of(field["type"], name, _namespace(root, ""))
        resolved = mapper.resolve(_non_null(field["type"]), _namespace(root, ""))
        logical = resolved.get("logicalType") if isinstance(resolved, dict) else None
        result.append(Column(name, sql, nullable, field.get("doc"), logical, _avro_name(resolved)))
    return result


def reader_schema(schema: str | dict) -> str:
    """The reader schema the Bronze job gives Flink's avro-confluent format (see the module's notes)."""
    document = json.loads(schema) if isinstance(schema, str) else schema

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(branch) for branch in node]
        if not isinstance(node, dict):
            return node
        node = {key: rewrite(value) if key in ("type", "items", "values", "fields") else value
                for key, value in node.items()}
        logical = node.get("logicalType")
        if logical in KEPT_AS_NUMBER or logical == "local-timestamp-micros":
            node = {key: value for key, value in node.items() if key != "logicalType"}
        elif logical == "local-timestamp-millis":
            node["logicalType"] = "timestamp-millis"
        return node

    return json.dumps(rewrite(document), separators=(",", ":"))


def field_type(schema: str | dict, name: str) -> Column | None:
    """The top-level column ``name`` of ``schema``, or None."""
    return next((c for c in columns(schema) if c.name == name), None)


class _Mapper:
    def __init__(self, document: Any) -> None:
        self.named: dict[str, Any] = {}
        self.stack: list[str] = []  # the records being mapped, outermost first: a repeat is recursion
        self._collect(document, "")

    def _collect(self, node: Any, namespace: str) -> None:
        """Every named type (record, enum, fixed) by its full name, and by its short name."""
        if isinstance(node, list):
            for branch in node:
                self._collect(branch, namespace)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "error", "enum", "fixed") and "name" in node:
                full = _full_name(node, namespace)
                self.named[full] = node
                self.named.setdefault(full.rsplit(".", 1)[-1], node)
                namespace = _namespace(node, namespace)
            for field in node.get("fields", []) if kind in ("record", "error") else []:
                self._collect(field.get("type"), namespace)
            if kind == "array":
                self._collect(node.get("items"), namespace)
            elif kind == "map":
                self._collect(node.get("values"), namespace)
            elif isinstance(kind, dict | list):
                self._collect(kind, namespace)

    def resolve(self, node: Any, namespace: str) -> Any:
        if isinstance(node, str) and node not in PRIMITIVES and node != "null":
            found = self.named.get(node) or self.named.get(f"{namespace}.{node}" if namespace else node)
            if found is None:
                raise UnsupportedSchema(f"unknown type {node!r}")
            return found
        if isinstance(node, dict) and not node.get("logicalType"):
            inner = node.get("type")
            if isinstance(inner, dict | list) or (isinstance(inner, str) and inner not in KINDS):
                return self.resolve(inner, namespace)  # {"type": <a type>} wraps it; a name refers to one
        return node

    def type_of(self, node: Any, path: str, namespace: str) -> tuple[str, bool]:
        """(Flink SQL type, nullable) of the Avro type ``node`` found at ``path``."""
        if isinstance(node, list):
            others = [branch for branch in node if branch != "null"]
            if len(others) != 1:
                names = ", ".join(_avro_name(self.resolve(b, namespace)) for b in node)
                raise UnsupportedSchema(f"{path}: union of several types [{names}]: Bronze needs one type "
                                        'per column (use ["null", T], or a record with one optional field per type)')
            return self.type_of(others[0], path, namespace)[0], len(others) < len(node)
        node = self.resolve(node, namespace)
        if isinstance(node, str):
            if node == "null":
                raise UnsupportedSchema(f"{path}: a field of type null holds nothing")
            return PRIMITIVES[node], False
        if not isinstance(node, dict):
            raise UnsupportedSchema(f"{path}: not an Avro type: {node!r}")
        kind, logical = node.get("type"), node.get("logicalType")
        if logical == "decimal" and kind in ("bytes", "fixed"):
            precision, scale = node.get("precision"), node.get("scale", 0)
            if not isinstance(precision, int) or not 1 <= precision <= MAX_DECIMAL_PRECISION:
                raise UnsupportedSchema(f"{path}: decimal precision {precision} is outside 1..{MAX_DECIMAL_PRECISION}")
            if not isinstance(scale, int) or not 0 <= scale <= precision:
                raise UnsupportedSchema(f"{path}: decimal scale {scale} is outside 0..{precision}")
            return f"DECIMAL({precision}, {scale})", False
        if logical == "date" and kind == "int":
            return "DATE", False
        if logical in ("timestamp-millis", "local-timestamp-millis") and kind == "long":
            return "TIMESTAMP(3)", False
        if kind in ("record", "error"):
            name = _full_name(node, namespace)
            if name in self.stack:
                raise UnsupportedSchema(f"{path}: recursive record {name} (it contains itself): "
                                        "a table column cannot nest without end")
            self.stack.append(name)
            try:
                inner = _namespace(node, namespace)
                fields = []
                for field in node.get("fields", []):
                    sql, nullable = self.type_of(field["type"], f"{path}.{field['name']}", inner)
                    fields.append(f"`{field['name']}` {sql}{'' if nullable else ' NOT NULL'}")
            finally:
                self.stack.pop()
            if not fields:
                raise UnsupportedSchema(f"{path}: a record without fields has no column type")
            return f"ROW<{', '.join(fields)}>", False
        if kind == "enum":
            return "STRING", False
        if kind == "fixed":
            return f"VARBINARY({node.get('size')})", False
        if kind == "array":
            sql, nullable = self.type_of(node.get("items"), f"{path}[]", namespace)
            return f"ARRAY<{sql}{'' if nullable else ' NOT NULL'}>", False
        if kind == "map":
            sql, nullable = self.type_of(node.get("values"), f"{path}{{}}", namespace)
            return f"MAP<STRING NOT NULL, {sql}{'' if nullable else ' NOT NULL'}>", False
        if kind in PRIMITIVES or kind == "null":
            # uuid, the kept-as-number logical types, and logical types Avro readers ignore
            return self.type_of(kind, path, namespace)
        raise UnsupportedSchema(f"{path}: unsupported Avro type {kind!r}")


def _non_null(node: Any) -> Any:
    if isinstance(node, list):
        others = [branch for branch in node if branch != "null"]
        return others[0] if len(others) == 1 else node
    return node


def _namespace(node: dict, enclosing: str) -> str:
    name = node.get("name", "")
    if "." in name:
        return name.rsplit(".", 1)[0]
    return node.get("namespace", enclosing) or ""


def _full_name(node: dict, enclosing: str) -> str:
    name = node.get("name", "")
    if "." in name:
        return name
    namespace = node.get("namespace", enclosing)
    return f"{namespace}.{name}" if namespace else name


def _avro_name(node: Any) -> str:
    if isinstance(node, dict):
        return str(node.get("logicalType") or node.get("type"))
    if isinstance(node, list):
        return "union"
    return str(node)
