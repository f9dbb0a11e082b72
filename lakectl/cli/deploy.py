"""Deploy the stack to a cluster: render its manifests (Kubernetes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat

app = new_group("deploy", "Deploy the stack and its pipelines to a cluster (Kubernetes manifests).")


@app.command()
def render(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Directory the manifests are written to.")],
    target: Annotated[str, typer.Option("--target", help="Where the stack runs: kubernetes.")] = "kubernetes",
    pipeline: Annotated[list[str] | None, typer.Option("--pipeline", help="Only this pipeline (repeatable; "
                                                       "default: every declared one).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Write the manifests of the stack and its pipelines (one YAML file per component, a kustomization.yaml,
    and a README.md with the operators to install and the Secrets to create). Secrets are referenced, never
    written."""
    from lakectl.ops.deploy import render_to

    result = render_to(lake_context(ctx).loaded, out, pipeline or None, target=target)

    def table(data: dict) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in data["kinds"].items())
        return f"wrote {len(data['files'])} files to {data['out_dir']}: {kinds}"

    Output(output).emit(result.to_dict(), table=table)
