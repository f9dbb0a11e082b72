"""Avro schemas in the registry: register, check, list, get, compat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, app_context, new_group
from lakectl.errors import ExitCode
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("schema", "Register and check Avro schemas in the Schema Registry.")

SubjectOpt = Annotated[str, typer.Option("--subject", "-s", help="Subject, e.g. trades-value.")]
FileArg = Annotated[Path, typer.Argument(help="An Avro schema file (.avsc).")]


@app.command("register")
def register(ctx: typer.Context, file: FileArg, subject: SubjectOpt, output: OutputOpt = OutputFormat.table) -> None:
    """Register a schema under a subject (refused with the registry's reason if incompatible)."""
    from lakectl.avro import load_schema_file

    schema = load_schema_file(file)
    registry = app_context(ctx).registry()
    schema_id = registry.register(subject, schema)
    latest = registry.get(subject)
    data = {"subject": subject, "id": schema_id, "version": latest.version if latest.id == schema_id else None}
    Output(output).emit(data, table=lambda d: f"{subject}: schema id {d['id']}, version {d['version']}")


@app.command("check")
def check(ctx: typer.Context, file: FileArg, subject: SubjectOpt, output: OutputOpt = OutputFormat.table) -> None:
    """Test a schema against the subject's latest version. Exit 0 compatible, 1 incompatible."""
    from lakectl.avro import load_schema_file

    schema = load_schema_file(file)
    registry = app_context(ctx).registry()
    result = registry.check(subject, schema)
    level = registry.get_compatibility(subject)
    data = {"subject": subject, "compatible": result.is_compatible, "level": level, "messages": result.messages}
    out = Output(output)

    def table(d: dict) -> str:
        verdict = "compatible" if d["compatible"] else "INCOMPATIBLE"
        reasons = "".join(f"\n  - {m}" for m in d["messages"]) if not d["compatible"] else ""
        return f"{subject}: {verdict} ({level}){reasons}"

    out.emit(data, table=table)
    if not result.is_compatible:
        raise typer.Exit(ExitCode.FAILED)


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """List subjects with their latest version and schema id."""
    registry = app_context(ctx).registry()
    rows = []
    for subject in registry.subjects():
        latest = registry.get(subject)
        rows.append({"subject": subject, "latest_version": latest.version, "id": latest.id,
                     "type": latest.schema_type})
    Output(output).emit({"subjects": rows},
                        table=lambda d: simple_table(d["subjects"], ["subject", "latest_version", "id", "type"]))


@app.command("get")
def get(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version number or 'latest'.")] = "latest",
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print a registered schema."""
    schema = app_context(ctx).registry().get(subject, version)
    data = {"subject": schema.subject, "version": schema.version, "id": schema.id,
            "schema": json.loads(schema.schema_)}
    Output(output).emit(data, table=lambda d: f"{d['subject']} v{d['version']} (id {d['id']})\n"
                        + json.dumps(d["schema"], indent=2))


@app.command("compat")
def compat(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject, or '-' for the registry-wide default.")],
    level: Annotated[str | None, typer.Argument(help="Set this level (BACKWARD, FULL, NONE, ...).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Read or set the compatibility level of a subject."""
    registry = app_context(ctx).registry()
    target = None if subject == "-" else subject
    current = registry.set_compatibility(level, target) if level else registry.get_compatibility(target)
    Output(output).emit({"subject": subject, "compatibility": current},
                        table=lambda d: f"{subject}: {d['compatibility']}")
