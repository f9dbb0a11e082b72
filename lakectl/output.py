"""Rendering: data on stdout (a rich table for people, JSON for scripts), progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cached_property
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(data, default=_json_default, indent=indent)


class Output:
    """One renderer per invocation; the format is checked once, by the option's type."""

    def __init__(self, fmt: OutputFormat = OutputFormat.table) -> None:
        self.format = fmt

    # rich turns colour off on its own when NO_COLOR is set or the stream is not a TTY; it is
    # imported on first use so that `--help` stays fast
    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        # not a terminal (a pipe, a CI log): rich would assume 80 columns and cut table cells short
        width = None if sys.stdout.isatty() else 200
        return Console(file=sys.stdout, soft_wrap=True, width=width)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(file=sys.stderr, soft_wrap=True)

    @property
    def is_json(self) -> bool:
        return self.format is OutputFormat.json

    def emit(
        self,
        data: Any,
        *,
        table: Callable[[Any], Table | str | None] | None = None,
    ) -> None:
        """Print ``data``: as JSON, or through ``table`` (a function building a rich renderable)."""
        if self.is_json:
            sys.stdout.write(to_json(data) + "\n")
            sys.stdout.flush()
            return
        renderable = table(data) if table else to_json(data)
        if renderable is not None:
            self.out.print(renderable)

    def json_line(self, data: Any) -> None:
        """One compact JSON document per line, for streams (consume, logs)."""
        sys.stdout.write(to_json(data, indent=None) + "\n")

    def info(self, message: str) -> None:
        """Progress for people: stderr, so stdout stays parseable. Plain text: a message may hold brackets
        (``lakectl.toml [profiles.local]``) that rich would take for markup."""
        self.err.print(message, highlight=False, markup=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    @contextmanager
    def spinner(self, message: str) -> Iterator[Callable[[str], None]]:
        """A spinner on a TTY; silence elsewhere. Yields a function to update the message."""
        if not self.err.is_terminal:
            yield lambda _msg: None
            return
        with self.err.status(message) as status:
            yield lambda msg: status.update(msg)


def simple_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None
) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


def row_table(*columns: str, title: str | None = None) -> Callable[[dict[str, Any]], Table]:
    """``emit``'s table for a one-object answer: one row of these columns."""
    return lambda data: simple_table([data], columns, title=title)


def list_table(key: str, *columns: str, title: str | None = None) -> Callable[[dict[str, Any]], Table]:
    """``emit``'s table for an answer holding a list under ``key``: one row per item."""
    return lambda data: simple_table(data[key], columns, title=title)


def key_value_table(pairs: Iterable[tuple[str, Any]]) -> Table:
    """A two-column table (key, value): one object's fields, for people."""
    return simple_table([{"key": k, "value": v} for k, v in pairs], ["key", "value"])
