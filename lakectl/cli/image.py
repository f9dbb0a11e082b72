"""The compose runtime's images: build and list (lakectl up --runtime compose builds what is missing)."""

from __future__ import annotations

from typing import Annotated

import typer

from lakectl.cli.common import OutputOpt, lake_context, new_group
from lakectl.output import Output, OutputFormat, list_table

app = new_group("image", "Build and list the compose runtime's images (from a Debian base, one per service family).")

COLUMNS = ("family", "image", "built", "size_mb")


@app.command()
def build(
    ctx: typer.Context,
    families: Annotated[list[str] | None, typer.Argument(
        help="Image families (default: all); flink-job, airflow-project: the images Kubernetes runs the Flink "
             "jobs and Airflow from (each FROM its family's image).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build even when the image exists.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Build the images compose runs, or those derived from them for Kubernetes (each tagged with a hash of what
    it is made from; existing tags are kept)."""
    from lakectl.ops import images

    out = Output(output)
    built = images.build(lake_context(ctx).loaded, families or [], rebuild, out.info)
    out.emit({"images": [image.to_dict() for image in built]},
             table=list_table("images", "family", "image", "built", "seconds", "size_mb"))


@app.command("list")
def list_images(ctx: typer.Context, output: OutputOpt = OutputFormat.table) -> None:
    """Each family's image for this checkout and whether it is built; a derived image once built."""
    from lakectl.ops import images

    Output(output).emit({"images": images.list_images(lake_context(ctx).loaded)}, table=list_table("images", *COLUMNS))
