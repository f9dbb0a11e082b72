"""Stock trades from the producer to Kafka and back: counts, ids, the DLQ, delivery guarantees."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="module")
def trades_topic(stack):
    stack.ok("schema", "register", str(SCHEMAS / "trade.avsc"), "-s", "e2e-trades-value")
    stack.ok("topic", "create", "e2e-trades", "--partitions", "3")
    return "e2e-trades"


def test_produce_100k_and_consume_them_back(stack, trades_topic):
    summary = stack.ok("produce", trades_topic, "--count", "100000", "-o", "json").json()
    assert summary["sent"] == 100_000 and summary["rejected"] == 0 and summary["failed"] == 0
    assert summary["records_per_s"] > 0

    described = stack.ok("topic", "describe", trades_topic, "-o", "json").json()
    assert described["messages"] == 100_000

    records = stack.ok("consume", trades_topic, "--from-beginning", "--count", "100000", "--timeout", "30",
                       "-o", "json").json_lines()
    ids = [r["trade_id"] for r in records]
    assert len(ids) == 100_000 and len(set(ids)) == 100_000
    prefix = ids[0].rsplit("-", 1)[0]
    assert set(ids) == {f"{prefix}-{n}" for n in range(100_000)}
    sample = records[0]
    assert set(sample) == {"trade_id", "symbol", "price", "size", "side", "exchange", "event_time"}
    assert sample["side"] in ("BUY", "SELL")


def test_jsonl_with_invalid_records_goes_to_dlq(stack, trades_topic, tmp_path):
    topic = "e2e-file"
    stack.ok("schema", "register", str(SCHEMAS / "trade.avsc"), "-s", f"{topic}-value")
    stack.ok("topic", "create", topic)
    good = {"symbol": "AAPL", "price": "189.5", "size": 100, "side": "BUY", "exchange": "XNAS",
            "event_time": 1764170000000}
    lines = [json.dumps({**good, "trade_id": f"ok-{i}"}) for i in range(10)]
    lines.insert(3, json.dumps({**good, "trade_id": "bad-side", "side": "HOLD"}))
    lines.insert(5, "{this is not json")
    lines.insert(7, json.dumps({k: v for k, v in good.items() if k != "symbol"} | {"trade_id": "no-symbol"}))
    lines.insert(9, json.dumps({**good, "trade_id": "bad-size", "size": "ten"}))
    source = tmp_path / "trades.jsonl"
    source.write_text("\n".join(lines) + "\n")

    result = stack.lakectl("produce", topic, "--from-file", str(source), "-o", "json")
    assert result.code == 1, result.err
    summary = result.json()
    assert (summary["sent"], summary["rejected"], summary["failed"]) == (10, 4, 0)

    on_topic = stack.ok("consume", topic, "--from-beginning", "--count", "10", "--timeout", "10",
                        "-o", "json").json_lines()
    assert sorted(r["trade_id"] for r in on_topic) == sorted(f"ok-{i}" for i in range(10))
    assert all(r["price"] == "189.500000" for r in on_topic)  # decimal, exact

    dead = stack.ok("consume", f"{topic}.dlq", "--from-beginning", "--count", "4", "--timeout", "10", "--meta",
                    "-o", "json").json_lines()
    reasons = {d["headers"]["lakectl.source"]: d["headers"]["lakectl.error"] for d in dead}
    assert len(dead) == 4
    assert "HOLD" in reasons["trades.jsonl:4"] or "side" in reasons["trades.jsonl:4"]
    assert reasons["trades.jsonl:6"].startswith("not JSON")
    assert "symbol" in reasons["trades.jsonl:8"]
    assert "size" in reasons["trades.jsonl:10"]
    assert all(d["headers"]["lakectl.subject"] == f"{topic}-value" for d in dead)
    assert any(d["value"] == "{this is not json" for d in dead)  # the original bytes, untouched


def test_missing_subject_and_topic_are_clear(stack):
    no_schema = stack.lakectl("produce", "e2e-nothing", "--count", "1")
    assert no_schema.code == 2 and "no schema registered for subject e2e-nothing-value" in no_schema.err
    stack.ok("schema", "register", str(SCHEMAS / "trade.avsc"), "-s", "e2e-notopic-value")
    no_topic = stack.lakectl("produce", "e2e-notopic", "--count", "1")
    assert no_topic.code == 2 and "does not exist" in no_topic.err


def test_rate_and_duration(stack, trades_topic):
    summary = stack.ok("produce", trades_topic, "--rate", "2000", "--duration", "2", "-o", "json").json()
    # paced: about 4,000 records in about 2 s, never wildly above the rate
    assert 2_000 <= summary["sent"] <= 6_000
    assert summary["records_per_s"] <= 3_000


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_delivers_what_it_accepted(stack, signum):
    """Ctrl-C (or a supervisor's SIGTERM, sent to lakectl alone, not to its two workers) stops a long
    run early: exit 130, a summary flagged interrupted, and exactly the records it reports in Kafka."""
    topic = f"e2e-stopped-{signum.name.lower()}"
    stack.ok("schema", "register", str(SCHEMAS / "trade.avsc"), "-s", f"{topic}-value")
    stack.ok("topic", "create", topic, "--partitions", "3")
    producer = subprocess.Popen(
        [sys.executable, "-m", "lakectl", "produce", topic, "--count", "5000000", "--rate", "20000",
         "--workers", "2", "-o", "json"],
        cwd=stack.project, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    assert producer.poll() is None, producer.stderr.read()
    producer.send_signal(signum)
    out, err = producer.communicate(timeout=120)
    assert producer.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["failed"] == 0 and summary["rejected"] == 0
    assert 0 < summary["sent"] < 5_000_000
    described = stack.ok("topic", "describe", topic, "-o", "json").json()
    assert described["messages"] == summary["sent"]
