"""The one Kafka client: failures told apart by KafkaError code (never by message text), "does this
topic exist" in one place, and the producer/consumer factories' settings. No broker: fake admin and
consumer objects stand in for librdkafka's."""

from concurrent.futures import Future
from types import SimpleNamespace
from typing import ClassVar

import confluent_kafka
import pytest
from confluent_kafka import KafkaError, KafkaException

from lakectl.components.kafka import (
    DELIVERY_SETTINGS,
    KafkaClient,
    NoSuchTopic,
    TopicAlreadyExists,
    new_producer,
    producer_config,
)
from lakectl.errors import ComponentError, ExitCode, ServiceUnavailable, UsageError

CONFIG = {"bootstrap.servers": "broker:9092", "security.protocol": "PLAINTEXT"}


def failure(code: int, text: str = "whatever the broker says") -> KafkaException:
    return KafkaException(KafkaError(code, text))


def failed_future(exc: BaseException) -> Future:
    future = Future()
    future.set_exception(exc)
    return future


def done_future(value=None) -> Future:
    future = Future()
    future.set_result(value)
    return future


class FakeAdmin:
    """Answers list_topics from a {name: partition count or KafkaError} table; records creations."""

    def __init__(self, topics: dict, create_error: BaseException | None = None) -> None:
        self.topics = topics
        self.create_error = create_error
        self.created: list[str] = []

    def list_topics(self, topic=None, timeout=None):
        names = [topic] if topic else list(self.topics)
        found = {}
        for name in names:
            spec = self.topics.get(name)
            if spec is None:
                continue
            if isinstance(spec, KafkaError):
                found[name] = SimpleNamespace(error=spec, partitions={})
            else:
                found[name] = SimpleNamespace(error=None, partitions={p: SimpleNamespace(replicas=[1])
                                                                      for p in reversed(range(spec))})
        return SimpleNamespace(topics=found)

    def create_topics(self, topics, operation_timeout=None):
        self.created.extend(t.topic for t in topics)
        return {t.topic: failed_future(self.create_error) if self.create_error else done_future() for t in topics}


def client(admin: FakeAdmin | None = None) -> KafkaClient:
    kafka = KafkaClient(dict(CONFIG), timeout=2)
    kafka._admin = admin
    return kafka


@pytest.mark.parametrize(("code", "kind", "exit_code"), [
    (KafkaError._TRANSPORT, ServiceUnavailable, ExitCode.UNAVAILABLE),
    (KafkaError._TIMED_OUT, ServiceUnavailable, ExitCode.UNAVAILABLE),
    (KafkaError._ALL_BROKERS_DOWN, ServiceUnavailable, ExitCode.UNAVAILABLE),
    (KafkaError.BROKER_NOT_AVAILABLE, ServiceUnavailable, ExitCode.UNAVAILABLE),
    (KafkaError.UNKNOWN_TOPIC_OR_PART, NoSuchTopic, ExitCode.USAGE),
    (KafkaError.TOPIC_ALREADY_EXISTS, TopicAlreadyExists, ExitCode.FAILED),
    (KafkaError.INVALID_CONFIG, UsageError, ExitCode.USAGE),
    (KafkaError.INVALID_PARTITIONS, UsageError, ExitCode.USAGE),
    (KafkaError.INVALID_REPLICATION_FACTOR, UsageError, ExitCode.USAGE),
    (KafkaError.TOPIC_AUTHORIZATION_FAILED, ComponentError, ExitCode.FAILED),
])
def test_errors_are_classified_by_code(code, kind, exit_code):
    error = client().classify(failure(code), "create topic t")
    assert type(error) is kind
    assert error.exit_code == exit_code


def test_the_message_text_does_not_decide():
    kafka = client()
    assert isinstance(kafka.classify(failure(KafkaError.TOPIC_ALREADY_EXISTS, "no words alike"), "x"),
                      TopicAlreadyExists)
    lookalike = kafka.classify(failure(KafkaError.POLICY_VIOLATION, "Topic 'x' already exists."), "x")
    assert not isinstance(lookalike, TopicAlreadyExists) and isinstance(lookalike, ComponentError)


def test_unreachable_names_the_broker_and_a_hint():
    error = client().classify(KafkaException("no KafkaError inside"), "list topics")
    assert isinstance(error, ServiceUnavailable)
    assert "broker:9092 did not answer within 2s" in error.one_line() and "lakectl up kafka" in error.one_line()


def test_metadata_failure_becomes_service_unavailable():
    class Down(FakeAdmin):
        def list_topics(self, topic=None, timeout=None):
            raise failure(KafkaError._TRANSPORT)

    with pytest.raises(ServiceUnavailable):
        client(Down({})).topic_exists("t")


def test_topic_exists_and_topic_metadata_in_one_place():
    kafka = client(FakeAdmin({"trades": 3, "broken": KafkaError(KafkaError.LEADER_NOT_AVAILABLE)}))
    assert kafka.topic_exists("trades")
    assert not kafka.topic_exists("missing") and not kafka.topic_exists("broken")
    assert kafka.partitions("trades") == [0, 1, 2]
    for name in ("missing", "broken"):
        with pytest.raises(NoSuchTopic) as caught:
            kafka.topic(name)
        assert caught.value.exit_code == ExitCode.USAGE
        assert f"topic {name!r} does not exist" in caught.value.one_line()
        assert f"lakectl topic create {name}" in caught.value.one_line()


def test_create_topic_reports_what_it_did():
    admin = FakeAdmin({"trades": 1})
    kafka = client(admin)
    assert kafka.create_topic("new", 3, 1, {"retention.ms": "1000"}) == {
        "name": "new", "partitions": 3, "replication": 1, "config": {"retention.ms": "1000"}, "created": True}
    assert kafka.create_topic("trades", if_not_exists=True) == {"name": "trades", "created": False}
    assert admin.created == ["new"]  # an existing topic is not even asked for


def test_a_topic_created_meanwhile_is_fine_only_if_not_exists():
    """The topic appears between the existence check and the creation: TOPIC_ALREADY_EXISTS."""
    kafka = client(FakeAdmin({}, create_error=failure(KafkaError.TOPIC_ALREADY_EXISTS)))
    assert kafka.ensure_topic("t.dlq") is False
    assert kafka.create_topic("t", if_not_exists=True)["created"] is False
    with pytest.raises(TopicAlreadyExists):
        kafka.create_topic("t")


def test_ensure_topic_creates_a_missing_topic_and_other_failures_propagate():
    assert client(FakeAdmin({})).ensure_topic("t.dlq") is True
    with pytest.raises(UsageError):
        client(FakeAdmin({}, create_error=failure(KafkaError.INVALID_REPLICATION_FACTOR))).ensure_topic("t")
    with pytest.raises(ServiceUnavailable):
        client(FakeAdmin({}, create_error=TimeoutError())).ensure_topic("t")


def test_producer_config_applies_lakectls_delivery_settings():
    config = producer_config(CONFIG, **{"linger.ms": 5})
    assert config["bootstrap.servers"] == "broker:9092"
    assert config["acks"] == "all" and config["enable.idempotence"] is True
    assert config["compression.type"] == "lz4" and config["delivery.report.only.error"] is True
    assert config["linger.ms"] == 5  # an override wins
    assert DELIVERY_SETTINGS["linger.ms"] == 20  # and changes nothing shared


class Recorder:
    """Stands in for Producer / Consumer: keeps its config."""

    def __init__(self, config: dict) -> None:
        self.config = config


def test_producer_factories(monkeypatch):
    monkeypatch.setattr(confluent_kafka, "Producer", Recorder)
    callback = print
    made = new_producer(CONFIG, on_delivery=callback)
    assert made.config == {**CONFIG, **DELIVERY_SETTINGS, "on_delivery": callback}
    assert client().producer().config == producer_config(CONFIG)


def test_consumer_factory_never_commits(monkeypatch):
    monkeypatch.setattr(confluent_kafka, "Consumer", Recorder)
    config = client().consumer("lakectl-verify").config
    assert config["group.id"] == "lakectl-verify" and config["enable.auto.commit"] is False
    assert config["fetch.max.bytes"] == 52_428_800 and config["bootstrap.servers"] == "broker:9092"


class FakeMessage:
    def __init__(self, offset: int, error=None) -> None:
        self._offset, self._error = offset, error

    def offset(self) -> int:
        return self._offset

    def error(self):
        return self._error


class FakeConsumer:
    made: ClassVar[list["FakeConsumer"]] = []

    def __init__(self, config: dict) -> None:
        self.config = config
        self.assigned: list = []
        self.closed = False
        self.batches = [[FakeMessage(0), FakeMessage(-1, error=KafkaError(KafkaError._PARTITION_EOF)),
                         FakeMessage(1)], []]
        FakeConsumer.made.append(self)

    def assign(self, partitions) -> None:
        self.assigned = [(tp.topic, tp.partition, tp.offset) for tp in partitions]

    def consume(self, num_messages=1, timeout=-1):
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.closed = True


def test_read_assigns_partitions_leaves_out_errors_and_closes(monkeypatch):
    monkeypatch.setattr(confluent_kafka, "Consumer", FakeConsumer)
    FakeConsumer.made = []
    kafka = client(FakeAdmin({"trades": 2}))
    batches = kafka.read("trades", "beginning", group="g")
    assert [m.offset() for m in next(batches)] == [0, 1]  # the partition EOF event is not a record
    assert next(batches) == []  # nothing arrived in time
    batches.close()
    consumer = FakeConsumer.made[0]
    assert consumer.closed and consumer.config["group.id"] == "g"
    assert consumer.assigned == [("trades", 0, confluent_kafka.OFFSET_BEGINNING),
                                 ("trades", 1, confluent_kafka.OFFSET_BEGINNING)]

    explicit = kafka.read("trades", {1: 42}, group="g")
    next(explicit)
    explicit.close()
    assert FakeConsumer.made[1].assigned == [("trades", 1, 42)]


def test_read_of_a_missing_topic_is_a_usage_error():
    with pytest.raises(NoSuchTopic):
        next(client(FakeAdmin({})).read("missing", "end", group="g"))
