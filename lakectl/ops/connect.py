"""Kafka Connect connectors from files: ``deploy/connect/<name>.json`` holds ``{"name": ..., "config": {...}}``
(the shape of ``POST /connectors``), with ``${...}`` placeholders filled from the settings and secrets.

Deploy is idempotent: the worker first validates the config (its refusals become one CheckFailed line),
then an unchanged config is left alone and a new or changed one is PUT.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lakectl.components.connect import ConnectError, ConnectorStatus, ConnectWorker
from lakectl.errors import CheckFailed, ComponentError, UsageError
from lakectl.ops import placeholders


@dataclass
class ConnectorFile:
    name: str
    config: dict[str, str]


@dataclass
class Deployed:
    name: str
    action: str  # created | updated | unchanged

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load(path: Path, values: Mapping[str, str]) -> ConnectorFile:
    """The connector file with its placeholders filled; any defect is a UsageError (exit 2)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    text = placeholders.fill(text, values, str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise UsageError(f'{path}: expected {{"name": "...", "config": {{...}}}}')
    config = data.get("config")
    if not isinstance(config, dict) or not config:
        raise UsageError(f'{path}: "config" must be a non-empty object of connector settings')
    if "connector.class" not in config:
        raise UsageError(f'{path}: "config" has no "connector.class"')
    if "name" in config and config["name"] != data["name"]:
        raise UsageError(f"{path}: config.name {config['name']!r} differs from name {data['name']!r}")
    bad = [k for k, v in config.items() if isinstance(v, (dict, list))]
    if bad:
        raise UsageError(f"{path}: connector settings are strings, numbers or booleans; not {', '.join(bad)}")
    # Connect's configs are strings; JSON booleans become "true"/"false" as the worker would read them
    flat = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in config.items()}
    flat["name"] = data["name"]
    return ConnectorFile(data["name"], flat)


def with_args(values: Mapping[str, str], args: list[str]) -> dict[str, str] | Mapping[str, str]:
    """``values`` and ``key=value`` arguments (which win)."""
    if not args:
        return values
    extra: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {arg!r}")
        extra[key] = value
    return _Overlay(values, extra)


def overlay(values: Mapping[str, str], extra: Mapping[str, str]) -> Mapping[str, str]:
    """``values`` with ``extra`` on top (a use case's own placeholders, e.g. a CDC pipeline's)."""
    return _Overlay(values, dict(extra))


class _Overlay(Mapping[str, str]):
    def __init__(self, base: Mapping[str, str], top: dict[str, str]) -> None:
        self.base, self.top = base, top

    def __getitem__(self, key: str) -> str:
        return self.top[key] if key in self.top else self.base[key]

    def __iter__(self):
        return iter({**dict.fromkeys(self.base), **dict.fromkeys(self.top)})

    def __len__(self) -> int:
        return len(set(self.base) | set(self.top))


def plugins(worker: ConnectWorker) -> list[dict[str, Any]]:
    return [p.model_dump(by_alias=True) for p in worker.plugins()]


def list_connectors(worker: ConnectWorker) -> list[dict[str, Any]]:
    return [_status_row(status) for _, status in sorted(worker.connectors().items())]


def failure_reason(trace: str | None) -> str | None:
    """One line for a FAILED connector or task: the trace's first line and, when the trace goes deeper, its root
    cause (the last "Caused by:"). Connect's first line is often only "Tolerance exceeded in error handler",
    while the cause says what to fix, e.g. the registry refusing an incompatible schema."""
    if not trace:
        return None
    lines = trace.strip().splitlines()
    causes = [line.strip().removeprefix("Caused by: ") for line in lines if line.strip().startswith("Caused by: ")]
    first = lines[0].strip()
    return f"{first}; caused by {causes[-1]}" if causes and causes[-1] not in first else first


def _status_row(status: ConnectorStatus) -> dict[str, Any]:
    tasks = []
    for task in status.tasks:
        row = task.model_dump(exclude_none=True)
        if task.trace:
            row["reason"] = failure_reason(task.trace)
        tasks.append(row)
    row = {"name": status.name, "type": status.type, "state": status.connector.state, "tasks": tasks,
           "worker_id": status.connector.worker_id}
    if status.connector.trace:
        row["reason"] = failure_reason(status.connector.trace)
    return row


def deploy(worker: ConnectWorker, connector: ConnectorFile) -> Deployed:
    cls = connector.config["connector.class"]
    try:
        validation = worker.validate(cls, connector.config)
    except ConnectError as exc:  # e.g. an unknown connector class: the worker's own words
        words = _worker_words(exc.message)
        raise ComponentError(f"kafka connect refused {connector.name}: {words}",
                             hint="lakectl connect plugins" if "Failed to find any class" in words else None) from None
    if validation.error_count:
        raise CheckFailed(f"kafka connect refused {connector.name}: " + "; ".join(validation.messages()))
    current = worker.config(connector.name)
    if current == connector.config:
        return Deployed(connector.name, "unchanged")
    worker.put_config(connector.name, connector.config)
    return Deployed(connector.name, "created" if current is None else "updated")


def _worker_words(message: str) -> str:
    """The worker's message without its Java exception class, and without the dump of every installed plugin it
    appends to "Failed to find any class" (``connect plugins`` lists them)."""
    text = message.removeprefix("kafka connect: ")
    text = re.sub(r"^(?:(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): )+", "", text)
    return text.split(", available connectors are:")[0]


def status(worker: ConnectWorker, name: str) -> dict[str, Any]:
    """The connector's and its tasks' states; a FAILED one is still returned (the CLI exits 1 after printing)."""
    return _status_row(_status(worker, name))


def _status(worker: ConnectWorker, name: str) -> ConnectorStatus:
    try:
        return worker.status(name)
    except ConnectError as exc:
        if exc.status == 404:
            raise UsageError(f"kafka connect: no connector {name!r}", hint="lakectl connect list") from None
        raise


def restart(worker: ConnectWorker, name: str) -> dict[str, Any]:
    _status(worker, name)  # a clear "no connector" first
    worker.restart(name)
    return {"name": name, "restarted": True}


def delete(worker: ConnectWorker, name: str) -> dict[str, Any]:
    _status(worker, name)
    worker.delete(name)
    return {"name": name, "deleted": True}
