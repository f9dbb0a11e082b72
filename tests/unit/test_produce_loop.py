"""The produce run loop (pacing, count, deadline, stop), the summing of worker results, and the
produce use case end to end against a fake producer, registry and admin: no broker."""

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import confluent_kafka
import pytest

from lakectl.avro import load_schema_file
from lakectl.errors import ComponentError, ServiceUnavailable, UsageError
from lakectl.ops.produce import ProduceResult, produce
from lakectl.ops.produce.loop import CHUNK, Pacer, Undelivered, WorkerResult, pump
from lakectl.ops.produce.sources import Chunk
from lakectl.polling import Deadline

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def counting_source(total: int | None = None):
    """read(n) -> a chunk of n fake records (fewer at the end of ``total``); records the sizes asked."""
    asked: list[int] = []
    given = [0]

    def read(n: int) -> Chunk:
        asked.append(n)
        k = n if total is None else min(n, total - given[0])
        given[0] += k
        return Chunk([(None, b"x")] * k)

    return read, asked


def test_chunk_size_follows_the_rate():
    assert Pacer(None).chunk == CHUNK
    assert Pacer(1_000_000).chunk == CHUNK
    assert Pacer(2_000).chunk == 100  # a twentieth of a second's worth: no bursts at low rates
    assert Pacer(5).chunk == 1


def test_pacer_sleeps_only_when_ahead_of_the_rate():
    clock = FakeClock()
    pacer = Pacer(1000, clock=clock, sleep=clock.sleep)
    pacer.pace(500)  # 0.5 s worth at t=0: sleep 0.5 s
    assert clock.slept == [0.5]
    clock.now += 2.0  # behind: no sleep
    pacer.pace(1000)
    assert clock.slept == [0.5]
    Pacer(None, clock=clock, sleep=clock.sleep).pace(10**9)
    assert clock.slept == [0.5]


def test_pump_stops_at_the_count_without_overshooting():
    read, asked = counting_source()
    sent: list[int] = []
    done = pump(read, lambda c: sent.append(c.seen), count=2_500, pacer=Pacer(None), deadline=None,
                stop=threading.Event())
    assert done is True
    assert asked == [1000, 1000, 500] and sum(sent) == 2_500


def test_pump_ends_with_the_source():
    read, asked = counting_source(total=1_500)
    done = pump(read, lambda c: None, count=None, pacer=Pacer(None), deadline=None, stop=threading.Event())
    assert done is True and asked == [1000, 1000]


def test_pump_stops_early_on_the_deadline_or_a_stop_request():
    read, asked = counting_source()
    assert pump(read, lambda c: None, count=None, pacer=Pacer(None), deadline=Deadline(0),
                stop=threading.Event()) is False
    assert asked == [1000]
    stop = threading.Event()
    stop.set()
    read, asked = counting_source()
    assert pump(read, lambda c: None, count=10_000, pacer=Pacer(None), deadline=None, stop=stop) is False
    assert asked == [1000]


def test_pump_paces_after_every_chunk():
    clock = FakeClock()
    read, _ = counting_source()
    pump(read, lambda c: None, count=150, pacer=Pacer(1000, clock=clock, sleep=clock.sleep), deadline=None,
         stop=threading.Event())
    assert clock.slept == pytest.approx([0.05, 0.05])  # 50-record chunks at 1000/s; none after the last one


def test_results_are_summed_in_one_place():
    result = ProduceResult(topic="t", subject="t-value", schema_id=1)
    first = result.add([
        WorkerResult(sent=10, rejected=1, samples=["a", "b", "c"]),
        WorkerResult(sent=20, failed=2, pending=1, failures=["t: broker says no"], samples=["d", "e", "f"],
                     interrupted=True, undelivered=Undelivered("t: broker says no", unacknowledged=False)),
        WorkerResult(sent=5, pending=4, undelivered=Undelivered("4 not acknowledged", unacknowledged=True)),
    ], elapsed_s=2.0)
    assert (result.sent, result.rejected, result.failed) == (35 - 7, 1, 7)
    assert result.reasons == ["a", "b", "c", "d", "e"]
    assert result.interrupted is True
    assert first == Undelivered("t: broker says no", unacknowledged=False)
    assert result.first_failure == "t: broker says no"
    assert result.records_per_s == 14.0 and result.elapsed_s == 2.0


# the use case end to end, with fakes at the edges


class FakeProducer:
    """Stands in for confluent_kafka.Producer; ``unacked``/``fail`` simulate an unhealthy broker."""

    sent: ClassVar[list] = []
    unacked = 0
    fail = False

    def __init__(self, config: dict) -> None:
        self.config = config

    def produce(self, topic, value=None, key=None, headers=None) -> None:
        FakeProducer.sent.append((topic, key, value, dict(headers or [])))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        if FakeProducer.fail:
            message = SimpleNamespace(topic=lambda: "t")
            self.config["on_delivery"](SimpleNamespace(str=lambda: "Broker: Not enough in-sync replicas"), message)
        return FakeProducer.unacked


class FakeKafka:
    def __init__(self, topics=("t",)) -> None:
        self.config = {"bootstrap.servers": "broker:9092"}
        self.topics = set(topics)
        self.ensured: list[str] = []

    def topic(self, name):
        if name not in self.topics:
            from lakectl.components.kafka import NoSuchTopic

            raise NoSuchTopic(f"topic {name!r} does not exist")
        return SimpleNamespace(partitions={0: None})

    def ensure_topic(self, name, partitions=1, config=None) -> bool:
        self.ensured.append(name)
        return True


class FakeRegistry:
    def __init__(self) -> None:
        self.asked = 0

    def get(self, subject):
        self.asked += 1
        return SimpleNamespace(schema_=load_schema_file(SCHEMAS / "trade.avsc"), id=7)


@pytest.fixture
def producer(monkeypatch):
    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    FakeProducer.sent, FakeProducer.unacked, FakeProducer.fail = [], 0, False
    return FakeProducer


GOOD = {"symbol": "AAPL", "price": "189.5", "size": 100, "side": "BUY", "exchange": "XNAS",
        "event_time": 1764170000000}


def test_a_file_with_bad_lines_sends_the_good_ones_and_dead_letters_the_rest(producer, tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({**GOOD, "trade_id": f"ok-{i}"}) for i in range(3)]
    lines.insert(1, "{not json")
    lines.append(json.dumps({**GOOD, "trade_id": "bad", "side": "HOLD"}))
    source.write_text("\n".join(lines) + "\n")
    kafka = FakeKafka()
    result = produce(kafka, FakeRegistry(), "t", from_file=source)
    assert (result.sent, result.rejected, result.failed) == (3, 2, 0)
    assert result.generator is None and result.workers == 1 and result.dlq_topic == "t.dlq"
    assert kafka.ensured == ["t.dlq"]  # created with the first reject
    on_topic = [key for topic, key, _, _ in producer.sent if topic == "t"]
    assert on_topic == [b"AAPL"] * 3  # key_field auto: the schema has a symbol
    dead = {h["lakectl.source"]: h for topic, _, _, h in producer.sent if topic == "t.dlq"}
    assert set(dead) == {b"in.jsonl:2", b"in.jsonl:5"}
    assert dead[b"in.jsonl:2"]["lakectl.error"].startswith(b"not JSON")
    assert dead[b"in.jsonl:5"]["lakectl.subject"] == b"t-value" and dead[b"in.jsonl:5"]["lakectl.schema_id"] == b"7"


def test_a_clean_file_creates_no_dead_letter_topic(producer, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({**GOOD, "trade_id": "ok"}) + "\n")
    kafka = FakeKafka()
    assert produce(kafka, FakeRegistry(), "t", from_file=source, count=1).sent == 1
    assert kafka.ensured == []


def test_a_missing_file_is_reported_before_any_service_is_asked(producer, tmp_path):
    registry = FakeRegistry()
    with pytest.raises(UsageError, match="does not exist"):
        produce(FakeKafka(topics=()), registry, "t", from_file=tmp_path / "missing.jsonl")
    assert registry.asked == 0


def test_a_missing_topic_is_a_usage_error(producer):
    with pytest.raises(UsageError, match="does not exist"):
        produce(FakeKafka(topics=()), FakeRegistry(), "t", count=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_synthetic_trades_split_over_workers(producer, workers):
    kafka = FakeKafka()
    result = produce(kafka, FakeRegistry(), "t", count=5_001, workers=workers)
    assert (result.sent, result.rejected, result.failed, result.interrupted) == (5_001, 0, 0, False)
    assert result.workers == workers and result.generator in ("rust", "python")
    assert kafka.ensured == ["t.dlq"]  # before forking, so that workers can write to it


def test_unacknowledged_records_mean_the_broker_did_not_answer(producer):
    producer.unacked = 3
    with pytest.raises(ServiceUnavailable, match="3 records were not delivered"):
        produce(FakeKafka(), FakeRegistry(), "t", count=10)


def test_a_delivery_error_is_a_component_failure(producer):
    producer.fail = True
    with pytest.raises(ComponentError, match="Not enough in-sync replicas") as caught:
        produce(FakeKafka(), FakeRegistry(), "t", count=10)
    assert not isinstance(caught.value, ServiceUnavailable)


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_what_every_worker_handed_to_its_producer(producer, monkeypatch, workers):
    from lakectl.ops.produce import loop

    monkeypatch.setattr(loop, "PROGRESS_EVERY_S", 0.01)
    heard: list[tuple[int, int | None]] = []
    # slow, paced, so that the watcher sees the run under way (40,000 records/s in all)
    result = produce(FakeKafka(), FakeRegistry(), "t", count=12_000, rate=40_000, workers=workers,
                     progress=lambda sent, target: heard.append((sent, target)))
    assert result.sent == 12_000
    assert heard and all(target == 12_000 for _, target in heard)
    counts = [sent for sent, _ in heard]
    assert counts == sorted(counts) and 0 < counts[-1] <= 12_000
    assert any(0 < n < 12_000 for n in counts)  # seen while it ran, not only at the end
