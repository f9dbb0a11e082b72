"""``lakectl demo``: the whole stock-trade pipeline, from an empty machine to a Gold answer."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import LakeContext, OutputOpt, lake_context, new_commands
from lakectl.output import Output, OutputFormat, simple_table

app = new_commands()


@app.command()
def demo(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Trades to produce.")] = 100_000,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the stack running afterwards.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds Bronze may take to hold every "
                                           "trade.")] = 600,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """up -> schema -> topic -> bronze job -> produce -> Bronze -> dbt build -> Gold, each stage timed."""
    from lakectl.artifacts import reporting
    from lakectl.cli.progress import StackProgress
    from lakectl.ops.demo import run

    out = Output(output)
    # off a terminal only the stage lines (and downloads) are logged: a log, not a stream of updates
    with StackProgress(out, "demo", log=lambda message: message.startswith("["), service_lines=False) as progress, \
            reporting(progress):
        result = run(_stack(lake_context(ctx), out), count=count, keep=keep, timeout=timeout, progress=progress)
    out.emit(result.to_dict(), table=_tables)


def _stack(lake: LakeContext, out: Output):
    """The demo's view of this stack: start and stop it, and each client it needs."""
    from lakectl.ops import stack
    from lakectl.ops.demo import DemoStack

    def stop_all() -> None:  # all services: nothing left running
        stack.down(lake.runtime, None, False, lambda _msg: None)

    def start(services: list[str], progress):
        return stack.up(lake.loaded, services, progress,
                        announce=lambda choice: out.info(f"runtime: {choice.kind} ({choice.reason})")).services

    return DemoStack(start=start, stop_all=stop_all,
                     registry=lake.registry, kafka=lake.kafka, jobs=lake.job_cluster, lakehouse=lake.lakehouse,
                     dbt=lake.dbt_target, trino=lake.trino, s3=lake.s3)


def _tables(result: dict):
    from rich.console import Group
    from rich.table import Table

    gold = result["result"]
    answer = Table(title=f"Gold: {gold['table']} (top movers of the last bars)", title_justify="left",
                   show_edge=False, pad_edge=False)
    for column in gold["columns"]:
        answer.add_column(column)
    for row in gold["rows"]:
        answer.add_row(*("" if v is None else str(v) for v in row))
    counts = [{"layer": "produced", "rows": result["produced"]},
              {"layer": "bronze (iceberg)", "rows": result["bronze_iceberg_rows"]},
              {"layer": "bronze (delta)", "rows": result["bronze_delta_rows"]},
              {"layer": "silver.trades_clean", "rows": result["silver_rows"]},
              *({"layer": f"gold.{name}", "rows": rows} for name, rows in result["gold_tables"].items())]
    stages = [{"stage": name, "seconds": f"{seconds:.1f}"} for name, seconds in result["stage_seconds"].items()]
    stages.append({"stage": "total", "seconds": f"{result['total_seconds']:.1f}"})
    return Group(answer, "", simple_table(counts, ["layer", "rows"], title="Rows"), "",
                 simple_table(stages, ["stage", "seconds"], title="Stages"))
