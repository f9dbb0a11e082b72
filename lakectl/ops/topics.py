"""Kafka topics: create, list, describe, delete, each a typed answer for the topic commands."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakectl.components.kafka import KafkaClient


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    replication: int


@dataclass(frozen=True)
class Created:
    name: str
    partitions: int | None = None
    replication: int | None = None
    config: dict[str, str] = field(default_factory=dict)
    created: bool = True  # False: it existed and --if-not-exists said that is fine

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return data if self.created else {"name": self.name, "created": False}


@dataclass(frozen=True)
class Description:
    name: str
    partitions: list[dict[str, Any]]  # partition, leader, replicas, isr, low, high
    messages: int
    config: dict[str, str]  # the non-default configs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def create(kafka: KafkaClient, name: str, partitions: int, replication: int, config: dict[str, str],
           *, if_not_exists: bool) -> Created:
    data = kafka.create_topic(name, partitions, replication, config, if_not_exists=if_not_exists)
    return Created(**data)


def list_topics(kafka: KafkaClient, *, include_internal: bool) -> list[Topic]:
    return [Topic(**row) for row in kafka.list_topics(include_internal=include_internal)]


def describe(kafka: KafkaClient, name: str) -> Description:
    return Description(**kafka.describe_topic(name))


def delete(kafka: KafkaClient, name: str) -> str:
    kafka.delete_topic(name)
    return name
