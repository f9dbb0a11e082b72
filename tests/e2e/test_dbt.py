"""Bronze -> Silver -> Gold with `lakectl dbt` on the real stack (Trino over the Iceberg catalog Flink writes).

Trades go through Kafka and the bronze job like in test_bronze.py; planted rows (a zero price, a
zero size, an empty symbol, an event time in 2099, a duplicate trade_id) must not reach Silver,
and a dbt test that must fail makes `lakectl dbt test` exit 1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from tests.e2e.bronze_helpers import prepare_topic, submit, wait_for_rows

pytestmark = pytest.mark.e2e

TOPIC = "trades"  # Silver/Gold read bronze.trades, the project's default
JOB_NAME = "bronze_dbt"
GOOD = 3000
BAD_IDS = {"bad-price-0", "bad-size-0", "bad-size-negative", "bad-symbol-empty", "bad-future"}


def trade(trade_id: str, **changes) -> dict:
    record = {"trade_id": trade_id, "symbol": "AAPL", "price": "190.250000", "size": 100, "side": "BUY",
              "exchange": "XNAS", "event_time": datetime.now(UTC).isoformat(timespec="milliseconds")}
    return {**record, **changes}


PLANTED = [
    trade("bad-price-0", price="0"),
    trade("bad-size-0", size=0),
    trade("bad-size-negative", size=-5),
    trade("bad-symbol-empty", symbol=""),
    trade("bad-future", event_time="2099-01-01T00:00:00Z"),
    trade("dup-1", price="100.500000", size=10),
    trade("dup-1", price="200.000000", size=20),  # the same trade again: Silver keeps the first
    trade("must-fail-1", symbol="MSFT", side="SELL"),
]


def produce_file(stack, tmp_path, name: str, records: list[dict]) -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    stack.ok("produce", TOPIC, "--from-file", str(path), "--key-field", "symbol")


def dbt(stack, *args: str, timeout: float = 1200):
    return stack.lakectl("dbt", *args, "-o", "json", timeout=timeout)


def iceberg(stack, identifier: str):
    return stack.lakehouse().iceberg_table(identifier).scan().to_arrow()


@pytest.fixture(scope="module")
def built(stack, tmp_path_factory):
    """Bronze with GOOD synthetic trades and the planted rows, then one `lakectl dbt build`."""
    stack.ok("up", "trino", timeout=1200)
    prepare_topic(stack, TOPIC)
    submit(stack, JOB_NAME, TOPIC)
    stack.ok("produce", TOPIC, "--count", str(GOOD))
    produce_file(stack, tmp_path_factory.mktemp("planted"), "planted.jsonl", PLANTED)
    expected = GOOD + len(PLANTED)
    assert wait_for_rows(stack, TOPIC, expected) == {"iceberg": expected, "delta": expected}
    result = dbt(stack, "build")
    assert result.code == 0, f"{result.err}\n{result.out[-4000:]}"
    return result.json()


def test_build_passes_on_real_data(built):
    assert built["command"] == "build" and built["success"] is True and built["exit_code"] == 0
    by_id = {n["unique_id"]: n for n in built["nodes"]}
    for node in built["nodes"]:
        assert set(node) >= {"unique_id", "resource_type", "status", "execution_time", "message"}
        assert node["status"] in ("success", "pass", "warn"), node
    models = {uid.split(".")[-1] for uid, n in by_id.items() if n["resource_type"] == "model"}
    assert models == {"trades_clean", "ohlcv_1m", "vwap", "top_movers"}
    tests = {uid.split(".")[2]: n["status"] for uid, n in by_id.items() if n["resource_type"] == "test"}
    assert tests["unique_trades_clean_trade_id"] == "pass"
    assert tests["assert_bad_bronze_rows_are_not_in_silver"] == "pass"
    assert tests["assert_silver_keeps_the_first_arrival"] == "pass"
    # Bronze does hold the planted duplicate: its check warns (and fails with bronze_strict, below)
    assert tests["source_unique_bronze_trades_trade_id"] == "warn"


def test_silver_is_filtered_and_deduplicated(stack, built):
    silver = iceberg(stack, "silver.trades_clean")
    ids = silver["trade_id"].to_pylist()
    assert len(ids) == len(set(ids)) == GOOD + 2  # the synthetic trades, dup-1 once, must-fail-1
    assert not BAD_IDS & set(ids)
    dup = silver.filter(pc.equal(silver["trade_id"], "dup-1")).to_pylist()
    assert len(dup) == 1 and dup[0]["price"] == Decimal("100.500000") and dup[0]["size"] == 10
    assert pc.min(silver["price"]).as_py() > 0 and pc.min(silver["size"]).as_py() > 0
    assert set(silver["side"].to_pylist()) == {"BUY", "SELL"}


def test_gold_adds_up_to_silver(stack, built):
    silver = iceberg(stack, "silver.trades_clean")
    bars = iceberg(stack, "gold.ohlcv_1m")
    assert pc.sum(bars["volume"]).as_py() == pc.sum(silver["size"]).as_py()
    assert pc.sum(bars["trade_count"]).as_py() == silver.num_rows
    assert pc.sum(bars["notional"]).as_py() == pc.sum(silver["notional"]).as_py()  # exact decimals
    assert bars.column_names[:8] == ["symbol", "minute", "open", "high", "low", "close", "volume", "trade_count"]
    # the daily VWAP, recomputed here from Silver's exact decimals (dbt's own test wants every digit)
    days: dict[tuple, list] = {}
    for t in silver.select(["symbol", "event_time", "size", "notional"]).to_pylist():
        days.setdefault((t["symbol"], t["event_time"].astimezone(UTC).date()), []).append(t)
    vwap = {(r["symbol"], r["day"]): r for r in iceberg(stack, "gold.vwap").to_pylist()}
    assert set(vwap) == set(days)
    for key, trades in days.items():
        expected = sum(t["notional"] for t in trades) / sum(t["size"] for t in trades)
        assert abs(vwap[key]["vwap"] - expected) <= Decimal("0.000001"), key
        assert vwap[key]["trade_count"] == len(trades)
    movers = iceberg(stack, "gold.top_movers")
    symbols = set(silver["symbol"].to_pylist())
    assert set(movers["symbol"].to_pylist()) == symbols
    assert sorted(movers["rank"].to_pylist()) == list(range(1, len(symbols) + 1))


def test_incremental_run_appends_new_trades_and_drops_a_late_duplicate(stack, built, tmp_path):
    before = iceberg(stack, "silver.trades_clean").num_rows
    produce_file(stack, tmp_path, "later.jsonl", [
        trade("dup-1", price="300.000000", size=30),  # the duplicate again, much later
        trade("late-1", symbol="NVDA", price="880.100000", size=5),
        trade("late-bad", size=0),
    ])
    bronze = GOOD + len(PLANTED) + 3
    assert wait_for_rows(stack, TOPIC, bronze) == {"iceberg": bronze, "delta": bronze}
    result = dbt(stack, "run", "--select", "trades_clean")
    assert result.code == 0, result.err
    assert [n["status"] for n in result.json()["nodes"]] == ["success"]
    silver = iceberg(stack, "silver.trades_clean")
    assert silver.num_rows == before + 1
    dup = silver.filter(pc.equal(silver["trade_id"], "dup-1")).to_pylist()
    assert len(dup) == 1 and dup[0]["price"] == Decimal("100.500000")
    assert "late-bad" not in silver["trade_id"].to_pylist()
    # Gold was not rebuilt: the tests that hold it to Silver see it (exit 1), until a build catches up
    stale = dbt(stack, "test", "--select", "assert_ohlcv_bars_are_consistent assert_vwap_matches_silver")
    assert stale.code == 1, stale.err
    assert sorted((n["unique_id"].split(".")[-1], n["status"]) for n in stale.json()["nodes"]) == [
        ("assert_ohlcv_bars_are_consistent", "fail"), ("assert_vwap_matches_silver", "fail")]
    rebuilt = dbt(stack, "build", "--select", "trades_clean+")
    assert rebuilt.code == 0, rebuilt.err
    assert iceberg(stack, "silver.trades_clean").num_rows == before + 1  # nothing appended twice


def test_a_failing_test_fails_through_lakectl(stack, built):
    strict = dbt(stack, "test", "--select", "source:bronze", "--vars", "{bronze_strict: true}")
    assert strict.code == 1, strict.err
    failed = [n for n in strict.json()["nodes"] if n["status"] == "fail"]
    assert [n["unique_id"].split(".")[2] for n in failed] == ["source_unique_bronze_trades_trade_id"]
    # -o json: dbt's console log is off, stderr is lakectl's one line
    assert len(strict.err.strip().splitlines()) == 1, strict.err
    assert strict.err.startswith("lakectl: error: dbt test: 1 of ") and "source_unique_bronze" in strict.err

    # a test written to fail on the planted trade 'must-fail-1', switched on by a var after --
    must_fail = stack.lakectl("dbt", "test", "-o", "json", "--", "--select", "assert_must_fail_planted_trades_absent",
                              "--vars", "{must_fail: true}", timeout=1200)
    assert must_fail.code == 1, must_fail.err
    [node] = must_fail.json()["nodes"]
    assert node["unique_id"] == "test.lakectl_lakehouse.assert_must_fail_planted_trades_absent"
    assert node["status"] == "fail" and node["failures"] == 1
    assert "assert_must_fail_planted_trades_absent" in must_fail.err


def test_bronze_in_delta_matches_iceberg(stack, built):
    # lakectl registers the Delta table in Trino first (the var asks for Bronze in Delta)
    result = dbt(stack, "test", "--select", "assert_delta_matches_iceberg", "--vars", "{reconcile_delta: true}")
    assert result.code == 0, result.err
    assert [(n["unique_id"].split(".")[-1], n["status"]) for n in result.json()["nodes"]] == [
        ("assert_delta_matches_iceberg", "pass")]


def test_freshness_and_docs(stack, built):
    fresh = dbt(stack, "freshness")
    assert fresh.code == 0, fresh.err
    [source] = fresh.json()["nodes"]
    assert source["unique_id"].endswith("bronze.trades") and source["status"] == "pass"
    docs = dbt(stack, "docs")
    assert docs.code == 0, docs.err
    assert (stack.state_dir / "dbt" / "target" / "index.html").exists()
    assert (stack.state_dir / "dbt" / "target" / "catalog.json").exists()


def test_bad_dbt_usage_is_exit_2(stack, built):
    result = stack.lakectl("dbt", "run", "-o", "json", "--", "--no-such-flag")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "no-such-flag" in result.err


def test_unreachable_trino_is_exit_3(stack):
    result = stack.lakectl("dbt", "build", env={"LAKECTL_PORTS": '{"trino": 1}'})
    assert result.code == 3
    assert result.err.strip().splitlines() == [
        "lakectl: error: trino at http://127.0.0.1:1 is unreachable (ConnectError) (lakectl up trino)"]
