"""What every command shares: the -o/--output option and access to the one context."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.context import AppContext
from lakectl.output import Output, OutputFormat

OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table for people, json for scripts.", case_sensitive=False),
]


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj


def new_group(name: str, help_text: str) -> typer.Typer:
    return typer.Typer(name=name, help=help_text, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None)


def new_commands() -> typer.Typer:
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


__all__ = ["AppContext", "Output", "OutputFormat", "OutputOpt", "app_context", "new_commands", "new_group"]
