"""Kafka: the one client lakectl speaks Kafka through (confluent-kafka / librdkafka, any broker >= 2.x).

Topic administration and offsets (AdminClient), producers with lakectl's delivery settings and
consumers for reading partitions from given offsets. Failures are told apart by ``KafkaError``
codes, never by message text: a broker that does not answer is ``ServiceUnavailable`` (exit 3), a
missing topic ``NoSuchTopic`` (a ``UsageError``), an existing one ``TopicAlreadyExists``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from lakectl.errors import ComponentError, LakectlError, ServiceUnavailable, UsageError

UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN,
               KafkaError._RESOLVE, KafkaError.BROKER_NOT_AVAILABLE}
BAD_REQUEST = {KafkaError.INVALID_CONFIG, KafkaError.INVALID_PARTITIONS, KafkaError.INVALID_REPLICATION_FACTOR}

# Throughput-tuned, loss-free delivery: every lakectl producer uses these, and the P1 benchmark gives
# Kafka's Java ProducerPerformance the same linger, batch size and compression.
DELIVERY_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "batch.num.messages": 100_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 2_097_151,
    "message.timeout.ms": 120_000,
    # only failed deliveries call back into Python: per-record callbacks would halve throughput
    "delivery.report.only.error": True,
}
FETCH_MAX_BYTES = 52_428_800
READ_BATCH = 10_000  # messages per fetch when reading a topic


class NoSuchTopic(UsageError):
    """The topic does not exist (or its metadata carries an error)."""


class TopicAlreadyExists(ComponentError):
    """Creating a topic that exists: ``TOPIC_ALREADY_EXISTS``."""


def error_of(exc: BaseException) -> KafkaError | None:
    """The KafkaError a KafkaException carries, if any."""
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, KafkaError) else None


def producer_config(client_config: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The client properties plus lakectl's delivery settings (``overrides`` win)."""
    return {**client_config, **DELIVERY_SETTINGS, **overrides}


def new_producer(client_config: dict[str, Any], **overrides: Any):
    """A Producer with lakectl's delivery settings. Takes the plain config (picklable) so that forked
    produce workers build their own producer without a client."""
    from confluent_kafka import Producer

    return Producer(producer_config(client_config, **overrides))


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

    # errors
    def unavailable(self) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"kafka at {self.bootstrap_servers} did not answer within {self.timeout:g}s", hint="lakectl up kafka"
        )

    def classify(self, exc: KafkaException, what: str) -> LakectlError:
        """The lakectl error for a failed Kafka call, decided by its KafkaError code."""
        error = error_of(exc)
        if error is None or error.code() in UNREACHABLE:
            return self.unavailable()
        code = error.code()
        if code == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return NoSuchTopic(f"{what}: no such topic")
        if code == KafkaError.TOPIC_ALREADY_EXISTS:
            return TopicAlreadyExists(f"{what}: topic already exists")
        if code in BAD_REQUEST:
            return UsageError(f"{what}: {error.str()}")
        return ComponentError(f"{what}: {error.str()}")

    def _wait(self, future: Any, what: str) -> Any:
        try:
            return future.result(timeout=self.timeout)
        except KafkaException as exc:
            raise self.classify(exc, what) from None
        except TimeoutError:
            raise self.unavailable() from None

    # topics
    def metadata(self, topic: str | None = None):
        try:
            return self.admin.list_topics(topic=topic, timeout=self.timeout)
        except KafkaException as exc:
            raise self.classify(exc, "kafka") from None

    def _find(self, name: str):
        topic = self.metadata(name).topics.get(name)
        return topic if topic is not None and topic.error is None else None

    def topic_exists(self, name: str) -> bool:
        """Also proves the broker answers, within the timeout."""
        return self._find(name) is not None

    def topic(self, name: str):
        """The topic's metadata (``.partitions``: id -> partition); NoSuchTopic if it does not exist."""
        topic = self._find(name)
        if topic is None:
            raise NoSuchTopic(f"topic {name!r} does not exist", hint=f"lakectl topic create {name}")
        return topic

    def partitions(self, name: str) -> list[int]:
        return sorted(self.topic(name).partitions)

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

    def create_topic(self, name: str, partitions: int = 1, replication: int = 1,
                     config: dict[str, str] | None = None, *, if_not_exists: bool = False) -> dict[str, Any]:
        """Create a topic; ``created`` says whether it did. With ``if_not_exists`` an existing topic
        (found first, or created by someone else meanwhile) is not an error."""
        if if_not_exists and self.topic_exists(name):
            return {"name": name, "created": False}
        new = NewTopic(name, num_partitions=partitions, replication_factor=replication, config=config or {})
        try:
            self._wait(self.admin.create_topics([new], operation_timeout=self.timeout)[name], f"create topic {name}")
        except TopicAlreadyExists:
            if not if_not_exists:
                raise
            return {"name": name, "created": False}
        return {"name": name, "partitions": partitions, "replication": replication, "config": config or {},
                "created": True}

    def ensure_topic(self, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> bool:
        """Create the topic unless it exists; True when it was created."""
        return self.create_topic(name, partitions, 1, config, if_not_exists=True)["created"]

    def delete_topic(self, name: str) -> None:
        self._wait(self.admin.delete_topics([name], operation_timeout=self.timeout)[name], f"delete topic {name}")

    def describe_topic(self, name: str) -> dict[str, Any]:
        topic = self.topic(name)
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

    # offsets
    def partition_offsets(self, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
        """partition -> (low, high) watermarks, asked of the broker (not cached)."""
        consumer = self.consumer("lakectl-offsets")
        try:
            return {
                p: consumer.get_watermark_offsets(_tp(topic, p), timeout=self.timeout, cached=False) or (0, 0)
                for p in partitions
            }
        except KafkaException:
            raise self.unavailable() from None
        finally:
            consumer.close()

    def group_lag(self, group: str, topic: str) -> dict[str, Any]:
        """How far a consumer group (e.g. a Flink job, which commits on checkpoints) is behind."""
        partitions = self.partitions(topic)
        ends = self.partition_offsets(topic, partitions)
        consumer = self.consumer(group)
        try:
            committed = consumer.committed([_tp(topic, p) for p in partitions], timeout=self.timeout)
        except KafkaException:
            raise self.unavailable() from None
        finally:
            consumer.close()
        lag = {}
        for tp in committed:
            high = ends[tp.partition][1]
            lag[tp.partition] = high - tp.offset if tp.offset >= 0 else high - ends[tp.partition][0]
        return {"group": group, "topic": topic, "lag": sum(lag.values()), "partitions": lag}

    # producing and consuming
    def producer(self, **overrides: Any):
        """A Producer with lakectl's delivery settings (acks=all, idempotence, lz4, ...)."""
        return new_producer(self.config, **overrides)

    def consumer(self, group: str, **overrides: Any):
        """A Consumer that never commits: lakectl reads by assignment, it does not take part in groups."""
        from confluent_kafka import Consumer

        return Consumer({**self.config, "group.id": group, "enable.auto.commit": False,
                         "fetch.max.bytes": FETCH_MAX_BYTES, **overrides})

    def read(self, topic: str, start: Mapping[int, int] | Literal["beginning", "end"], *, group: str,
             wait: float = 0.5) -> Iterator[list[Any]]:
        """Assign the topic's partitions at ``start`` (partition -> offset, or every partition at its
        beginning or end) and yield each fetched batch of messages: an empty list when none arrived
        within ``wait`` seconds. Partition EOF and transient fetch errors are not records and are left
        out. The consumer is closed when the caller stops iterating (close the iterator)."""
        if isinstance(start, str):
            offset = OFFSET_BEGINNING if start == "beginning" else OFFSET_END
            start = dict.fromkeys(self.partitions(topic), offset)
        consumer = self.consumer(group)
        try:
            consumer.assign([_tp(topic, p, offset) for p, offset in start.items()])
            while True:
                yield [m for m in consumer.consume(num_messages=READ_BATCH, timeout=wait) if not m.error()]
        finally:
            consumer.close()


def _tp(topic: str, partition: int, offset: int | None = None):
    from confluent_kafka import TopicPartition

    return TopicPartition(topic, partition) if offset is None else TopicPartition(topic, partition, offset)


def quiet_logger():
    """librdkafka logs connection refusals to stderr; while probing, those are expected."""
    import logging

    logger = logging.getLogger("lakectl.librdkafka")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    return logger
