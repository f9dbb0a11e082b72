"""What every command module shares: the -o/--output option, the one context, and the Typer apps."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.context import LakeContext
from lakectl.output import Output, OutputFormat

OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table for people, json for scripts.", case_sensitive=False),
]


def lake_context(ctx: typer.Context) -> LakeContext:
    """The context the root callback built (a fresh one when a command runs without the root)."""
    root = ctx.find_root()
    if not isinstance(root.obj, LakeContext):
        root.obj = LakeContext()
    return root.obj


def new_group(name: str, help_text: str) -> typer.Typer:
    """A named command group: ``lakectl <name> <command>``."""
    return typer.Typer(name=name, help=help_text, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None)


def new_commands() -> typer.Typer:
    """Top-level commands (``lakectl up``, ``lakectl query``): an unnamed app merged into the root."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


__all__ = ["LakeContext", "Output", "OutputFormat", "OutputOpt", "lake_context", "new_commands", "new_group"]
