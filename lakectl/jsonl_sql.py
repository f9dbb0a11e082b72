"""JSON lines -> the typed columns of an Avro schema, in Flink SQL: how a ``source = "file"`` pipeline's Bronze
job checks and converts each line (flink_jobs/bronze/job.py). Standard library only, like avro_sql.py (the job
imports it inside Flink's Python).

A line arrives as text (Kafka Connect's FileStreamSource with the StringConverter); the job reads it with Flink's
``raw`` format and one SQL projection decides, per line, either the Bronze row or the reason it is refused. The
shapes accepted are those of ``lakectl produce --from-file`` (lakectl/avro.py ``from_json`` + fastavro's
validation):

==========================================  ===================================================================
field (top level)                           accepted JSON
==========================================  ===================================================================
string, uuid                                a string
enum                                        a string among the symbols
boolean                                     true or false
int, long (and time-*, timestamp-micros)    an integral number within the type's range
float, double                               a number
decimal(p, s)                               a number or a numeric string (rounded to s digits; too many
                                            integer digits is refused)
date                                        "YYYY-MM-DD", or days since 1970-01-01 as an integer
timestamp-millis, local-timestamp-millis    milliseconds since the epoch (integer), or ISO-8601 text
                                            "YYYY-MM-DD[T ]hh:mm[:ss[.fff...]][Z|+hh:mm|-hh:mm]" (no offset:
                                            UTC; an offset: converted to UTC)
["null", T]                                 as T, or null, or the field left out
==========================================  ===================================================================

Anything else in a field is refused with the field's name; a line that is not a JSON object is refused; fields
the schema does not have are ignored; blank lines are skipped (as ``produce --from-file`` does). Nested fields
(records, arrays, maps) and bytes/fixed have no check here: ``file_source_problem`` refuses such a schema when
the spec is read.

Decimals written as JSON numbers pass through Flink's JSON functions as doubles (exact to 15-16 significant
digits); a decimal written as a string keeps every digit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lakectl.avro_sql import Column, _Mapper, _namespace, _non_null, columns

INTEGRAL = {"INT": "INT", "BIGINT": "BIGINT"}
# what Flink's DATE and TIMESTAMP hold (years 1..9999), as days and milliseconds since 1970-01-01: a number
# outside makes its date arithmetic lose the row without an error, so such a value is refused first
MIN_DAY, MAX_DAY = -719162, 2932896
MIN_MS, MAX_MS = -62135596800000, 253402300799999
DECIMAL_FIELD = "DECIMAL("


@dataclass(frozen=True)
class Checked:
    """One column's SQL: its value (NULL when absent or refused) and when the line is refused because of it."""

    column: Column
    value: str
    refused: str  # a boolean SQL expression
    reason: str


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def file_source_problem(schema_text: str) -> str | None:
    """Why a schema cannot be a file pipeline's (one line), or None."""
    for column in columns(schema_text):
        if column.nested or column.flink.startswith(("BYTES", "VARBINARY")):
            return (f"field {column.name!r} is {column.avro}: a file pipeline's fields must be scalars (string, enum, "
                    "boolean, int, long, float, double, decimal, date, timestamps)")
    return None


def checked_columns(schema_text: str, line: str = "line") -> list[Checked]:
    document = json.loads(schema_text)
    mapper = _Mapper(document)
    namespace = _namespace(document, "")
    fields = {f["name"]: f for f in document.get("fields", [])}
    out = []
    for column in columns(schema_text):
        resolved = mapper.resolve(_non_null(fields[column.name]["type"]), namespace)
        symbols = resolved.get("symbols") if isinstance(resolved, dict) and resolved.get("type") == "enum" else None
        out.append(_checked(column, line, symbols))
    return out


def _checked(column: Column, line: str, symbols: list[str] | None) -> Checked:
    path = sql_string(f"$.{column.name}")  # Avro names are [A-Za-z_][A-Za-z0-9_]*: no quoting needed
    # the value's JSON text inside [...]: tells a string from a number, null from absent ([] or NULL)
    wrapped = f"JSON_QUERY({line}, {path} WITH UNCONDITIONAL ARRAY WRAPPER NULL ON EMPTY NULL ON ERROR)"
    text = f"JSON_VALUE({line}, {path} RETURNING STRING NULL ON EMPTY NULL ON ERROR)"
    absent = f"({wrapped} IS NULL OR {wrapped} IN ('[]', '[null]'))"
    is_string = f"{wrapped} LIKE '[\"%'"
    is_number = f"REGEXP({wrapped}, '^\\[-?[0-9]')"
    is_integral = f"({is_number} AND REGEXP({text}, '^-?[0-9]+$'))"
    flink = column.flink
    expected = column.avro
    if flink in INTEGRAL:
        value = f"CASE WHEN {is_integral} THEN TRY_CAST({text} AS {flink}) END"
    elif flink in ("FLOAT", "DOUBLE"):
        value = f"CASE WHEN {is_number} THEN TRY_CAST({text} AS {flink}) END"
    elif flink == "BOOLEAN":
        value = f"CASE {wrapped} WHEN '[true]' THEN TRUE WHEN '[false]' THEN FALSE END"
    elif flink.startswith(DECIMAL_FIELD):
        value = f"CASE WHEN {is_number} OR {is_string} THEN TRY_CAST(TRIM({text}) AS {flink}) END"
        expected = f"decimal {flink[len('DECIMAL'):].replace(' ', '')}"
    elif flink == "DATE":
        value = (f"CASE WHEN {is_string} AND REGEXP({text}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$') "
                 f"AND CAST(TRY_CAST({text} AS DATE) AS STRING) = {text} THEN TRY_CAST({text} AS DATE) "
                 f"WHEN {is_integral} AND TRY_CAST({text} AS INT) BETWEEN {MIN_DAY} AND {MAX_DAY} "
                 f"THEN CAST(TIMESTAMPADD(DAY, TRY_CAST({text} AS INT), DATE '1970-01-01') AS DATE) END")
        expected = "date (YYYY-MM-DD or days since 1970-01-01)"
    elif flink == "TIMESTAMP(3)":
        value = _timestamp(text, is_string, is_integral)
        expected = f"{column.avro} (epoch milliseconds or ISO-8601 text)"
    elif flink == "STRING" and symbols is not None:
        value = f"CASE WHEN {is_string} AND {text} IN ({', '.join(sql_string(s) for s in symbols)}) THEN {text} END"
        expected = f"one of {', '.join(symbols)}"
    elif flink == "STRING":
        value = f"CASE WHEN {is_string} THEN {text} END"
    else:  # file_source_problem refused these when the spec was read
        raise ValueError(f"{column.name}: {flink} has no JSON check")
    value = f"CAST({value} AS {flink})"
    if column.nullable:
        refused = f"(NOT {absent} AND {value} IS NULL)"
        reason = f"field {column.name}: expected {expected}"
    else:
        refused = f"({absent} OR {value} IS NULL)"
        reason = f"field {column.name}: missing, null or not {expected}"
    return Checked(column, value, refused, reason)


# ISO-8601 as Python's datetime.fromisoformat takes it (what `produce --from-file` accepts), offsets included
ISO = ("^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
       "(Z|[+-][0-9]{2}:?[0-9]{2})?$")


def _timestamp(text: str, is_string: str, is_integral: str) -> str:
    """TIMESTAMP(3), the UTC wall clock (the job's session time zone is UTC)."""
    date_part = f"SUBSTRING({text} FROM 1 FOR 10)"
    clock = f"SUBSTRING({text} FROM 12 FOR 5)"
    seconds = f"COALESCE(REGEXP_EXTRACT({text}, '^.{{16}}(:[0-9]{{2}})', 1), ':00')"
    fraction = f"COALESCE(REPLACE(REGEXP_EXTRACT({text}, '^.{{19}}([.,][0-9]{{1,9}})', 1), ',', '.'), '')"
    parsed = f"TRY_CAST(CONCAT({date_part}, ' ', {clock}, {seconds}, {fraction}) AS TIMESTAMP(3))"
    # a day or hour that does not exist (02-30, 25:00) is moved by the cast, not refused: refused here
    wall = (f"CASE WHEN SUBSTRING(CAST({parsed} AS STRING) FROM 1 FOR 16) = CONCAT({date_part}, ' ', {clock}) "
            f"THEN {parsed} END")
    sign = f"REGEXP_EXTRACT({text}, '([+-])([0-9]{{2}}):?([0-9]{{2}})$', 1)"
    hours = f"CAST(REGEXP_EXTRACT({text}, '([+-])([0-9]{{2}}):?([0-9]{{2}})$', 2) AS INT)"
    minutes = f"CAST(REGEXP_EXTRACT({text}, '([+-])([0-9]{{2}}):?([0-9]{{2}})$', 3) AS INT)"
    offset = f"CASE WHEN {sign} = '-' THEN 1 ELSE -1 END * ({hours} * 60 + {minutes})"
    # out of Flink's range (years 1..9999) date arithmetic does not fail, it loses the row: kept inside it
    inside = f"{wall} BETWEEN TIMESTAMP '0001-01-02 00:00:00' AND TIMESTAMP '9999-12-30 23:59:59.999'"
    return (f"CASE WHEN {is_string} AND REGEXP({text}, {sql_string(ISO)}) THEN "
            f"CASE WHEN {sign} IS NULL OR {sign} = '' THEN {wall} "
            f"WHEN {inside} THEN TIMESTAMPADD(MINUTE, {offset}, {wall}) END "
            f"WHEN {is_integral} AND TRY_CAST({text} AS BIGINT) BETWEEN {MIN_MS} AND {MAX_MS} "
            f"THEN CAST(TO_TIMESTAMP_LTZ(TRY_CAST({text} AS BIGINT), 3) AS TIMESTAMP(3)) END")


def checking_query(schema_text: str, source: str, *, line: str = "line",
                   extra: tuple[str, ...] = ("kafka_partition", "kafka_offset")) -> str:
    """SELECT over ``source`` (a column ``line``): every schema column (NULL where refused), ``reason`` (NULL for a
    good line: the first problem otherwise), the line itself and ``extra``. Blank lines are left out."""
    checked = checked_columns(schema_text, line)
    reasons = " ".join(f"WHEN {c.refused} THEN {sql_string(c.reason)}" for c in checked)
    reason = f"CASE WHEN NOT ({line} IS JSON OBJECT) THEN 'not a JSON object' {reasons} END"
    select = [f"{c.value} AS `{c.column.name}`" for c in checked]
    select += [f"{reason} AS reason", line, *extra]
    return f"SELECT {', '.join(select)} FROM {source} WHERE TRIM({line}) <> ''"
