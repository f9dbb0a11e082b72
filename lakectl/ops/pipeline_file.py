"""File pipelines (``source = "file"``): Kafka Connect's FileStreamSource tails a JSON-lines file into the pipeline's
topic, line by line as text (StringConverter); the Bronze job checks each line against the pipeline's Avro schema in
SQL and writes it to Bronze, or to ``<topic>.dlq`` when it does not fit (lakectl/jsonl_sql.py).

Why not Avro on the topic, as for a ``kafka`` pipeline: no stock converter or transform turns a text line into an
Avro record of a given schema (the JsonConverter needs each line wrapped in its own schema envelope, the registry's
converters take Connect records that already have a schema). See docs/design.md, "File pipelines".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl.errors import UsageError
from lakectl.paths import deploy_dir

if TYPE_CHECKING:
    from lakectl.ops.pipeline_cdc import CdcStack
    from lakectl.pipeline_spec import PipelineSpec

CONNECTOR_FILE = deploy_dir() / "connect" / "file-pipeline.json"


def connector_values(spec: PipelineSpec) -> dict[str, str]:
    """The ``${file.*}`` placeholders of the connector file, escaped for its JSON strings."""
    assert spec.file is not None

    def text(value: str) -> str:
        return json.dumps(value)[1:-1]

    return {"file.connector": text(spec.connector_name), "file.path": text(str(spec.file.path)),
            "file.topic": text(spec.topic)}


def check_file(spec: PipelineSpec) -> None:
    """The file's folder exists (the file itself may come later: the connector waits for it)."""
    assert spec.file is not None
    folder = spec.file.path.parent
    if not folder.is_dir():
        raise UsageError(f"pipeline {spec.name}: file.path {spec.file.path}: no folder {folder}",
                         hint=f"create it, or fix [file] path in {spec.path}")


def deploy_connector(stack: CdcStack, spec: PipelineSpec, connector_file: Path = CONNECTOR_FILE) -> list[str]:
    """The FileStreamSource connector, created or updated only when its config differs."""
    from lakectl.ops import connect

    values = connect.overlay(stack.placeholders(), connector_values(spec))
    deployed = connect.deploy(stack.connect(), connect.load(connector_file, values))
    return [] if deployed.action == "unchanged" else [f"{deployed.action} connector {deployed.name}"]


def remove_connector(stack: CdcStack, spec: PipelineSpec, *, purge: bool) -> list[str]:
    """The connector, if the worker has it. Its position in the file stays in the worker's offsets (the pipeline
    added again goes on where it stopped) unless ``purge`` (the topic goes too: added again, it reads the file
    from its start)."""
    from lakectl.components.connect import ConnectError
    from lakectl.polling import Observation, poll_until

    worker = stack.connect()
    name = spec.connector_name

    def stopped() -> Observation[None]:
        state = worker.status(name).connector.state
        return Observation(state == "STOPPED", detail=f"connector {name} {state}")

    try:
        if purge:
            worker.stop(name)
            # Connect resets a connector's offsets only once it is STOPPED
            poll_until(stopped, timeout=30, what=f"stopping connector {name}")
            worker.reset_offsets(name)
        worker.delete(name)
    except ConnectError as exc:
        if exc.status == 404:
            return []
        raise
    return [f"connector {name}" + (" and its offsets" if purge else "")]
