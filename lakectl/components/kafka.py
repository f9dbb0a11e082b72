"""Kafka client: topic administration through librdkafka's AdminClient (confluent-kafka),
speaking the Kafka protocol to any broker >= 2.x (KRaft or ZooKeeper)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from lakectl.errors import ComponentError, ServiceUnavailable, UsageError

UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN,
               KafkaError._RESOLVE, KafkaError.BROKER_NOT_AVAILABLE}


def _error_of(exc: BaseException) -> KafkaError | None:
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, KafkaError) else None


class KafkaClient:
    def __init__(self, config: dict[str, Any], *, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._admin: AdminClient | None = None

    @property
    def bootstrap_servers(self) -> str:
        return self.config["bootstrap.servers"]

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.config)
        return self._admin

    def _unavailable(self) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"kafka at {self.bootstrap_servers} did not answer within {self.timeout:g}s", hint="lakectl up kafka"
        )

    def _wait(self, future: Any, what: str) -> Any:
        try:
            return future.result(timeout=self.timeout)
        except KafkaException as exc:
            error = _error_of(exc)
            if error is not None and error.code() in UNREACHABLE:
                raise self._unavailable() from None
            if error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise UsageError(f"{what}: no such topic") from None
            if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                raise ComponentError(f"{what}: topic already exists") from None
            if error is not None and error.code() in (KafkaError.INVALID_CONFIG, KafkaError.INVALID_PARTITIONS,
                                                      KafkaError.INVALID_REPLICATION_FACTOR):
                raise UsageError(f"{what}: {error.str()}") from None
            raise ComponentError(f"{what}: {error.str() if error else exc}") from None
        except TimeoutError:
            raise self._unavailable() from None

    def metadata(self, topic: str | None = None):
        try:
            return self.admin.list_topics(topic=topic, timeout=self.timeout)
        except KafkaException as exc:
            error = _error_of(exc)
            if error is None or error.code() in UNREACHABLE:
                raise self._unavailable() from None
            raise ComponentError(f"kafka: {error.str()}") from None

    def list_topics(self, include_internal: bool = False) -> list[dict[str, Any]]:
        topics = self.metadata().topics
        rows = []
        for name in sorted(topics):
            if name.startswith("__") and not include_internal:
                continue
            meta = topics[name]
            replicas = {len(p.replicas) for p in meta.partitions.values()}
            rows.append({"name": name, "partitions": len(meta.partitions), "replication": max(replicas, default=0)})
        return rows

    def topic_exists(self, name: str) -> bool:
        topic = self.metadata(name).topics.get(name)
        return topic is not None and topic.error is None

    def create_topic(self, name: str, partitions: int = 1, replication: int = 1,
                     config: dict[str, str] | None = None) -> dict[str, Any]:
        new = NewTopic(name, num_partitions=partitions, replication_factor=replication, config=config or {})
        self._wait(self.admin.create_topics([new], operation_timeout=self.timeout)[name], f"create topic {name}")
        return {"name": name, "partitions": partitions, "replication": replication, "config": config or {}}

    def ensure_topic(self, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> bool:
        """Create the topic unless it exists; True when it was created."""
        if self.topic_exists(name):
            return False
        try:
            self.create_topic(name, partitions, 1, config)
        except ComponentError as exc:
            if "already exists" not in exc.message:
                raise
            return False
        return True

    def delete_topic(self, name: str) -> None:
        self._wait(self.admin.delete_topics([name], operation_timeout=self.timeout)[name], f"delete topic {name}")

    def describe_topic(self, name: str) -> dict[str, Any]:
        topic = self.metadata(name).topics.get(name)
        if topic is None or topic.error is not None:
            raise UsageError(f"topic {name!r} does not exist")
        resource = ConfigResource(ResourceType.TOPIC, name)
        configs = self._wait(self.admin.describe_configs([resource])[resource], f"describe topic {name}")
        partitions = []
        for pid, part in sorted(topic.partitions.items()):
            partitions.append({"partition": pid, "leader": part.leader, "replicas": list(part.replicas),
                               "isr": list(part.isrs)})
        offsets = self.partition_offsets(name, list(topic.partitions))
        for row in partitions:
            row["low"], row["high"] = offsets[row["partition"]]
        overridden = {k: v.value for k, v in configs.items() if not v.is_default}
        return {
            "name": name,
            "partitions": partitions,
            "messages": sum(p["high"] - p["low"] for p in partitions),
            "config": dict(sorted(overridden.items())),
        }

    def partition_offsets(self, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
        from confluent_kafka import Consumer

        consumer = Consumer({**self.config, "group.id": "lakectl-offsets", "enable.auto.commit": False})
        try:
            return {
                p: consumer.get_watermark_offsets(_tp(topic, p), timeout=self.timeout, cached=False) or (0, 0)
                for p in partitions
            }
        except KafkaException:
            raise self._unavailable() from None
        finally:
            consumer.close()

    def group_lag(self, group: str, topic: str) -> dict[str, Any]:
        """How far a consumer group (e.g. a Flink job, which commits on checkpoints) is behind."""
        from confluent_kafka import Consumer

        partitions = [p["partition"] for p in self.describe_topic(topic)["partitions"]]
        ends = self.partition_offsets(topic, partitions)
        consumer = Consumer({**self.config, "group.id": group, "enable.auto.commit": False})
        try:
            committed = consumer.committed([_tp(topic, p) for p in partitions], timeout=self.timeout)
        except KafkaException:
            raise self._unavailable() from None
        finally:
            consumer.close()
        lag = {}
        for tp in committed:
            high = ends[tp.partition][1]
            lag[tp.partition] = high - tp.offset if tp.offset >= 0 else high - ends[tp.partition][0]
        return {"group": group, "topic": topic, "lag": sum(lag.values()), "partitions": lag}


def _tp(topic: str, partition: int):
    from confluent_kafka import TopicPartition

    return TopicPartition(topic, partition)
