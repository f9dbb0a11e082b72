"""Deploy the stack and its pipelines to Kubernetes: render the manifests, apply them (server-side apply), and
show what would change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, simple_table

app = new_group("deploy", "Deploy the stack and its pipelines to Kubernetes: render, apply, diff.")

ContextOpt = Annotated[str | None, typer.Option("--context", help="kubeconfig context (default: [kubernetes] "
                                                "context, else the kubeconfig's current context).")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace of objects that name none "
                                                  "(default: [kubernetes] namespace).")]
PipelineOpt = Annotated[list[str] | None, typer.Option("--pipeline", help="Only this pipeline's objects besides "
                                                       "the stack's (repeatable; default: every pipeline).")]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="Take the objects from this YAML file or "
                                              "directory (what `deploy render` wrote) instead of rendering them.")]


def _objects(ctx: typer.Context, file: Path | None, pipelines: list[str] | None) -> list[dict]:
    from lakectl.ops import deploy

    if file is not None:
        return deploy.objects_from_file(file)
    return deploy.rendered_objects(lake_context(ctx).loaded, pipelines)


def _namespace(ctx: typer.Context, namespace: str | None) -> str:
    return namespace or lake_context(ctx).settings.kubernetes.namespace


@app.command()
def render(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Directory the manifests are written to.")],
    target: Annotated[str, typer.Option("--target", help="Where the stack runs: kubernetes.")] = "kubernetes",
    pipeline: Annotated[list[str] | None, typer.Option("--pipeline", help="Only this pipeline (repeatable; "
                                                       "default: every declared one).")] = None,
    connector: Annotated[list[Path] | None, typer.Option("--connector", help="A KafkaConnector from this connector "
                                                         "file (deploy/connect/*.json; repeatable).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="A connector placeholder's value: key=value.")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Write the manifests of the stack and its pipelines (one YAML file per component, a kustomization.yaml,
    and a README.md with the operators to install and the Secrets to create), and a KafkaConnector per
    --connector file. Secrets are referenced, never written."""
    from lakectl.ops.deploy import cluster_connectors, render_to

    loaded = lake_context(ctx).loaded
    connectors = cluster_connectors(loaded, connector or [], set_ or [])
    result = render_to(loaded, out, pipeline or None, target=target, connectors=connectors)

    def table(data: dict) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in data["kinds"].items())
        return f"wrote {len(data['files'])} files to {data['out_dir']}: {kinds}"

    Output(output).emit(result.to_dict(), table=table)


@app.command("apply")
def apply(
    ctx: typer.Context,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Server-side dry-run: the server checks everything "
                                          "(admission, schemas, CEL rules) and stores nothing.")] = False,
    pipeline: PipelineOpt = None,
    file: FileOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Server-side apply of every object (field manager lakectl)."""
    from lakectl.ops import deploy

    objects = _objects(ctx, file, pipeline)
    with lake_context(ctx).kubernetes(context) as client:
        result = deploy.apply(client, objects, _namespace(ctx, namespace), dry_run=dry_run)
    title = (f"{len(result.objects)} objects {'checked (dry run)' if dry_run else 'applied'} "
             f"on {result.server} (context {result.context})")
    Output(output).emit(result.to_dict(), table=lambda d: simple_table(
        d["objects"], ["kind", "name", "namespace", "api_version"], title=title))


@app.command("diff")
def diff(
    ctx: typer.Context,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    pipeline: PipelineOpt = None,
    file: FileOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """What apply would change (exit 0: nothing, 1: something, as kubectl diff)."""
    from lakectl.ops import deploy

    objects = _objects(ctx, file, pipeline)
    with lake_context(ctx).kubernetes(context) as client:
        result = deploy.diff(client, objects, _namespace(ctx, namespace))

    def table(data: dict) -> str:
        lines = []
        for obj in data["objects"]:
            if obj["action"] == "unchanged":
                continue
            ref = f"{obj['kind']}/{obj['name']}" + (f" -n {obj['namespace']}" if obj["namespace"] else "")
            lines.append(f"{obj['action']} {ref}")
            lines += [f"    {change}" for change in obj["changes"]]
        return "\n".join(lines) if lines else f"no differences ({len(data['objects'])} objects)"

    Output(output).emit(result.to_dict(), table=table)
    if result.changed:
        raise typer.Exit(1)
