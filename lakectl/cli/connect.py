"""Kafka Connect: plugins, connectors deployed from files (deploy/connect/*.json), their status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("connect", "Kafka Connect: plugins and connectors (deploy/connect/*.json).")
ConnectorName = Annotated[str, typer.Argument(help="Connector name.")]


def _tasks(tasks: list[dict]) -> str:
    return ", ".join(f"{t['id']}:{t['state']}" for t in tasks) or "-"


@app.command("plugins")
def plugins(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Connector plugins installed on the worker."""
    from lakectl.ops import connect

    found = connect.plugins(lake_context(ctx).connect_worker())
    Output(output).emit({"plugins": found},
                        table=lambda d: simple_table(d["plugins"], ["class", "type", "version"]))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Connectors and the states of their tasks."""
    from lakectl.ops import connect

    rows = connect.list_connectors(lake_context(ctx).connect_worker())

    def table(d: dict):
        return simple_table([{**r, "tasks": _tasks(r["tasks"])} for r in d["connectors"]],
                            ["name", "type", "state", "tasks"])

    Output(output).emit({"connectors": rows}, table=table)


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Connector file: {\"name\": ..., \"config\": {...}} with ${...}.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="A placeholder's value: key=value.")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Create or update a connector from a file (idempotent); the worker validates it first."""
    from lakectl.ops import connect

    lake = lake_context(ctx)
    connector = connect.load(file, connect.with_args(lake.connect_placeholders(), set_ or []))
    result = connect.deploy(lake.connect_worker(), connector)
    Output(output).emit(result.to_dict(), table=lambda d: f"connector {d['name']} {d['action']}")


@app.command("status")
def status(ctx: typer.Context, name: ConnectorName, output: OutputOpt = OutputFormat.table) -> None:
    """A connector's state and its tasks'; exits 1 when it or a task FAILED."""
    from lakectl.ops import connect

    data = connect.status(lake_context(ctx).connect_worker(), name)

    def table(d: dict) -> str:
        lines = [f"connector {d['name']} {d['state']}" + (f": {d['reason']}" if d.get("reason") else "")]
        lines += [f"  task {t['id']} {t['state']}" + (f": {t['reason']}" if t.get("reason") else "")
                  for t in d["tasks"]]
        return "\n".join(lines)

    Output(output).emit(data, table=table)
    if data["state"] == "FAILED" or any(t["state"] == "FAILED" for t in data["tasks"]):
        raise typer.Exit(1)


@app.command("restart")
def restart(ctx: typer.Context, name: ConnectorName, output: OutputOpt = OutputFormat.table) -> None:
    """Restart a connector and its tasks."""
    from lakectl.ops import connect

    data = connect.restart(lake_context(ctx).connect_worker(), name)
    Output(output).emit(data, table=lambda d: f"connector {d['name']} restarted")


@app.command("delete")
def delete(ctx: typer.Context, name: ConnectorName, output: OutputOpt = OutputFormat.table) -> None:
    """Delete a connector (its committed offsets stay in the worker's offsets topic)."""
    from lakectl.ops import connect

    data = connect.delete(lake_context(ctx).connect_worker(), name)
    Output(output).emit(data, table=lambda d: f"connector {d['name']} deleted")
