"""Kafka topics: create, list, describe, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.errors import UsageError
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("topic", "Create, list, describe and delete Kafka topics.")
TopicName = Annotated[str, typer.Argument(help="Topic name.")]


def parse_configs(pairs: list[str] | None) -> dict[str, str]:
    configs = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--config expects key=value, got {pair!r}")
        configs[key.strip()] = value.strip()
    return configs


@app.command("create")
def create(
    ctx: typer.Context,
    name: TopicName,
    partitions: Annotated[int, typer.Option("--partitions", min=1, help="Number of partitions.")] = 1,
    replication: Annotated[int, typer.Option("--replication", min=1, help="Replication factor.")] = 1,
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="Topic config key=value.")] = None,
    if_not_exists: Annotated[bool, typer.Option("--if-not-exists", help="Succeed if it exists.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Create a topic."""
    from lakectl.ops import topics

    configs = parse_configs(config)
    created = topics.create(lake_context(ctx).kafka(), name, partitions, replication, configs,
                            if_not_exists=if_not_exists)
    Output(output).emit(created.to_dict(), table=lambda d: f"topic {d['name']} "
                        + ("created" if d["created"] else "exists"))


@app.command("list")
def list_(
    ctx: typer.Context,
    internal: Annotated[bool, typer.Option("--internal", help="Include __internal topics.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """List topics."""
    from lakectl.ops import topics

    found = topics.list_topics(lake_context(ctx).kafka(), include_internal=internal)
    Output(output).emit({"topics": [asdict(t) for t in found]},
                        table=lambda d: simple_table(d["topics"], ["name", "partitions", "replication"]))


@app.command("describe")
def describe(ctx: typer.Context, name: TopicName, output: OutputOpt = OutputFormat.table) -> None:
    """Partitions, leaders, offsets and non-default configs of a topic."""
    from lakectl.ops import topics

    data = topics.describe(lake_context(ctx).kafka(), name).to_dict()

    def table(d: dict):
        return simple_table(d["partitions"], ["partition", "leader", "replicas", "isr", "low", "high"],
                            title=f"{d['name']}: {d['messages']} messages; config {d['config'] or '{}'}")

    Output(output).emit(data, table=table)


@app.command("delete")
def delete(ctx: typer.Context, name: TopicName, output: OutputOpt = OutputFormat.table) -> None:
    """Delete a topic (and its data)."""
    from lakectl.ops import topics

    deleted = topics.delete(lake_context(ctx).kafka(), name)
    Output(output).emit({"name": deleted, "deleted": True}, table=lambda d: f"topic {d['name']} deleted")
