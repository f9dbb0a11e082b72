"""``lakectl query``: SQL through Trino, for people (a table) and for scripts (JSON, CSV)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from lakectl.cli.common import lake_context, new_commands

app = new_commands()


class QueryFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def parse_param(text: str) -> Any:
    """``--param`` values: integers, decimals, true/false/null, anything else a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_sql(sql: str | None, file: Path | None) -> str:
    from lakectl.errors import UsageError

    if sql is not None and file is not None:
        raise UsageError("give the SQL as an argument or with --file, not both")
    if file is not None:
        from lakectl.paths import read_text

        text = read_text(file, "--file")
    elif sql == "-":
        try:
            text = sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise UsageError(f"the SQL on stdin is not UTF-8 text (byte {exc.start})") from None
    elif sql is not None:
        text = sql
    else:
        raise UsageError("no SQL: pass it as an argument, '-' for stdin, or --file")
    text = text.strip().rstrip(";").strip()
    if not text:
        raise UsageError("the SQL is empty")
    return text


@app.command()
def query(
    ctx: typer.Context,
    sql: Annotated[str | None, typer.Argument(help="The SQL; '-' reads it from stdin.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the SQL from this file.")] = None,
    catalog: Annotated[str | None, typer.Option("--catalog", help="Default catalog (iceberg).")] = None,
    schema: Annotated[str | None, typer.Option("--schema", help="Default schema (bronze).")] = None,
    params: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="A value for the next '?' (repeatable); bound by Trino, never pasted.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Read every table as of this timestamp (ISO; UTC unless a zone is given).")] = None,
    version: Annotated[int | None, typer.Option(
        "--version", help="Read every table at this Iceberg snapshot id / Delta version.")] = None,
    output: Annotated[QueryFormat, typer.Option("--output", "-o", case_sensitive=False,
                                                help="table for people, json or csv for scripts.")]
    = QueryFormat.table,
) -> None:
    """Run SQL on Trino (Iceberg, Delta, Silver, Gold). Exit 1 on a SQL error, 3 if Trino is down."""
    from lakectl.ops import query as ops

    text = read_sql(sql, file)
    values = [parse_param(p) for p in params or []]
    lake = lake_context(ctx)
    result = ops.run(lake.trino(catalog=catalog, schema=schema), text, values,
                     catalog=catalog or lake.settings.trino.catalog, s3=lake.s3, as_of=as_of, version=version)
    _print(result, output)


def _print(result, output: QueryFormat) -> None:
    from lakectl.output import Output, OutputFormat

    if output is QueryFormat.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if v is None else _plain(v) for v in row] for row in result.rows])
        return
    out = Output(OutputFormat(output.value))
    if out.is_json:
        out.emit(result.to_dict())
        return

    def table(data):
        from rich.table import Table

        grid = Table(show_edge=False, pad_edge=False)
        for name, kind in zip(result.columns, result.types, strict=True):
            numeric = kind.split("(")[0] in ("tinyint", "smallint", "integer", "bigint", "real", "double", "decimal")
            grid.add_column(name, justify="right" if numeric else "left")
        for row in result.rows:
            grid.add_row(*("NULL" if v is None else _plain(v) for v in row))
        return grid

    out.emit(result, table=table)
    rows = len(result.rows)
    out.info(f"({rows} row{'s' if rows != 1 else ''}, {result.elapsed_s:.2f} s)")


def _plain(value: Any) -> str:
    from datetime import date, datetime

    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
