"""`lakectl tables`: the lakehouse's tables (rows, data files and bytes, snapshots), read without Trino; optionally
after waiting until Bronze holds a topic's records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakectl.components.lakehouse import FORMATS, LAYERS, TableInfo
from lakectl.errors import UsageError

if TYPE_CHECKING:
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.lakehouse import Lakehouse


@dataclass
class Tables:
    tables: list[TableInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"tables": [t.to_dict() for t in self.tables]}


def check_filters(layer: str | None, table_format: str | None) -> None:
    if layer is not None and layer not in LAYERS:
        raise UsageError(f"--layer must be one of {', '.join(LAYERS)}, not {layer!r}")
    if table_format is not None and table_format not in FORMATS:
        raise UsageError(f"--format must be iceberg or delta, not {table_format!r}")


def list_tables(lakehouse: Lakehouse, *, layer: str | None = None, table_format: str | None = None,
                wait_for_topic: str | None = None, kafka: Callable[[], KafkaClient] | None = None,
                timeout: float = 300, progress: Callable[[str], None] = lambda _msg: None) -> Tables:
    """Iceberg and Delta tables of ``layer`` (all when None) in ``table_format`` (both when None).

    With ``wait_for_topic``: first until bronze.<topic> holds, in every format, as many rows as the
    Kafka topic holds records (``kafka`` gives the client)."""
    check_filters(layer, table_format)
    if wait_for_topic:
        if kafka is None:
            raise ValueError("wait_for_topic needs a kafka client")
        lakehouse.wait_for_topic(kafka(), wait_for_topic, timeout, progress)
    found: list[TableInfo] = []
    if table_format in (None, "iceberg"):
        found += lakehouse.iceberg_tables(layer)
    if table_format in (None, "delta"):
        found += lakehouse.delta_tables(layer)
    return Tables(found)
