"""Avro schemas in the registry: register, check, list, get, compat."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, list_table

app = new_group("schema", "Register and check Avro schemas in the Schema Registry.")

SubjectOpt = Annotated[str, typer.Option("--subject", "-s", help="Subject, e.g. trades-value.")]
FileArg = Annotated[Path, typer.Argument(help="An Avro schema file (.avsc).")]


def _schema_text(file: Path) -> str:
    from lakectl.avro import load_schema_file

    return load_schema_file(file)


@app.command("register")
def register(ctx: typer.Context, file: FileArg, subject: SubjectOpt, output: OutputOpt = OutputFormat.table) -> None:
    """Register a schema under a subject (refused with the registry's reason if incompatible)."""
    from lakectl.ops import schemas

    schema = _schema_text(file)
    result = schemas.register(lake_context(ctx).registry(), subject, schema)
    Output(output).emit(result.to_dict(), table=lambda d: f"{subject}: schema id {d['id']}, version {d['version']}")


@app.command("check")
def check(ctx: typer.Context, file: FileArg, subject: SubjectOpt, output: OutputOpt = OutputFormat.table) -> None:
    """Test a schema against the subject's latest version. Exit 0 compatible, 1 incompatible."""
    from lakectl.ops import schemas

    schema = _schema_text(file)
    report = schemas.check(lake_context(ctx).registry(), subject, schema)

    def table(d: dict) -> str:
        verdict = "compatible" if d["compatible"] else "INCOMPATIBLE"
        reasons = "".join(f"\n  - {m}" for m in d["messages"]) if not d["compatible"] else ""
        return f"{subject}: {verdict} ({d['level']}){reasons}"

    Output(output).emit(report.to_dict(), table=table)
    report.raise_for_status()


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """List subjects with their latest version and schema id."""
    from lakectl.ops import schemas

    rows = schemas.subjects(lake_context(ctx).registry())
    Output(output).emit({"subjects": [asdict(r) for r in rows]},
                        table=list_table("subjects", "subject", "latest_version", "id", "type"))


@app.command("get")
def get(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version number or 'latest'.")] = "latest",
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print a registered schema."""
    from lakectl.ops import schemas

    found = schemas.get(lake_context(ctx).registry(), subject, version)
    Output(output).emit(found.to_dict(), table=lambda d: f"{d['subject']} v{d['version']} (id {d['id']})\n"
                        + json.dumps(d["schema"], indent=2))


@app.command("compat")
def compat(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject, or '-' for the registry-wide default.")],
    level: Annotated[str | None, typer.Argument(help="Set this level (BACKWARD, FULL, NONE, ...).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Read or set the compatibility level of a subject."""
    from lakectl.ops import schemas

    current = schemas.compatibility(lake_context(ctx).registry(), None if subject == "-" else subject, level)
    Output(output).emit({"subject": subject, "compatibility": current},
                        table=lambda d: f"{subject}: {d['compatibility']}")
