"""`lakectl schema`: Avro schemas in the registry (register, check, list, get, compatibility)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lakectl.errors import CheckFailed

if TYPE_CHECKING:
    from lakectl.components.registry import SchemaRegistry


@dataclass
class Registered:
    subject: str
    id: int
    version: int | None  # None when another schema became the latest meanwhile

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompatReport:
    subject: str
    compatible: bool
    level: str
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def raise_for_status(self) -> None:
        if not self.compatible:
            raise CheckFailed(f"{self.subject}: the schema is incompatible with the latest version ({self.level})")


@dataclass
class SubjectRow:
    subject: str
    latest_version: int
    id: int
    type: str


@dataclass
class SchemaVersion:
    subject: str
    version: int
    id: int
    schema: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def register(registry: SchemaRegistry, subject: str, schema: str) -> Registered:
    """Register (CheckFailed with the registry's reasons when incompatible)."""
    schema_id = registry.register(subject, schema)
    latest = registry.get(subject)
    return Registered(subject, schema_id, latest.version if latest.id == schema_id else None)


def check(registry: SchemaRegistry, subject: str, schema: str) -> CompatReport:
    result = registry.check(subject, schema)
    return CompatReport(subject, result.is_compatible, registry.get_compatibility(subject), result.messages)


def subjects(registry: SchemaRegistry) -> list[SubjectRow]:
    rows = []
    for subject in registry.subjects():
        latest = registry.get(subject)
        rows.append(SubjectRow(subject, latest.version, latest.id, latest.schema_type))
    return rows


def get(registry: SchemaRegistry, subject: str, version: str) -> SchemaVersion:
    found = registry.get(subject, version)
    return SchemaVersion(found.subject, found.version, found.id, json.loads(found.schema_))


def compatibility(registry: SchemaRegistry, subject: str | None, level: str | None) -> str:
    """The compatibility level of ``subject`` (None: the registry-wide default), set first when ``level``."""
    return registry.set_compatibility(level, subject) if level else registry.get_compatibility(subject)
