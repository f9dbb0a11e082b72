"""Serving Bronze through Trino: both formats agree, `lakectl query` in every output format, time
travel, parameters, SQL errors, Trino down, and `lakectl verify` (pass, then fail after a delete)."""

from __future__ import annotations

import csv
import io
import time

import pytest

from tests.e2e.bronze_helpers import prepare_topic, submit, wait_for_rows

pytestmark = pytest.mark.e2e

TOPIC = "trades_serve"
JOB_NAME = "bronze_serve"
FIRST = 3_000
SECOND = 2_000


def query(stack, sql: str, *args: str, fmt: str = "json"):
    return stack.lakectl("query", sql, *args, "-o", fmt)


def rows(stack, sql: str, *args: str) -> list[list]:
    result = query(stack, sql, *args)
    assert result.code == 0, result.err
    return result.json()["rows"]


@pytest.fixture(scope="module")
def served(stack):
    """FIRST trades in Bronze, the Iceberg snapshot / Delta version / time that held them, then SECOND more."""
    prepare_topic(stack, TOPIC)
    submit(stack, JOB_NAME, TOPIC)
    stack.ok("produce", TOPIC, "--count", str(FIRST), "-o", "json")
    assert wait_for_rows(stack, TOPIC, FIRST) == {"iceberg": FIRST, "delta": FIRST}
    snapshot = rows(stack, f'SELECT snapshot_id FROM iceberg.bronze."{TOPIC}$snapshots" '
                           "ORDER BY committed_at DESC LIMIT 1")[0][0]
    delta_version = next(t["snapshot"] for t in stack.ok("tables", "--layer", "bronze", "--format", "delta",
                                                             "-o", "json").json()["tables"] if t["name"] == TOPIC)
    time.sleep(1.5)  # the as-of moment lies strictly between the two batches' commits
    moment = rows(stack, "SELECT to_iso8601(current_timestamp)")[0][0]
    time.sleep(1.5)
    stack.ok("produce", TOPIC, "--count", str(SECOND), "-o", "json")
    assert wait_for_rows(stack, TOPIC, FIRST + SECOND) == {"iceberg": FIRST + SECOND, "delta": FIRST + SECOND}
    return {"snapshot": snapshot, "delta_version": int(delta_version), "moment": moment}


def test_trino_reads_both_bronze_formats_with_the_same_trades(stack, served):
    total = FIRST + SECOND
    assert rows(stack, f"SELECT count(*), count(DISTINCT trade_id) FROM iceberg.bronze.{TOPIC}") == [[total, total]]
    assert rows(stack, f"SELECT count(*), count(DISTINCT trade_id) FROM delta.bronze.{TOPIC}") == [[total, total]]
    only_in_one = (f"SELECT count(*) FROM ((SELECT trade_id FROM iceberg.bronze.{TOPIC} EXCEPT "
                   f"SELECT trade_id FROM delta.bronze.{TOPIC}) UNION ALL (SELECT trade_id FROM delta.bronze.{TOPIC} "
                   f"EXCEPT SELECT trade_id FROM iceberg.bronze.{TOPIC}))")
    assert rows(stack, only_in_one) == [[0]]


def test_query_output_formats(stack, served):
    sql = "SELECT symbol, count(*) AS n FROM trades_serve GROUP BY symbol ORDER BY symbol"  # default iceberg.bronze
    as_json = query(stack, sql).json()
    assert as_json["columns"] == ["symbol", "n"] and as_json["types"] == ["varchar", "bigint"]
    assert sum(n for _, n in as_json["rows"]) == FIRST + SECOND and as_json["elapsed_s"] > 0
    as_csv = query(stack, sql, fmt="csv")
    assert as_csv.code == 0
    parsed = list(csv.reader(io.StringIO(as_csv.out)))
    assert parsed[0] == ["symbol", "n"] and [[s, int(n)] for s, n in parsed[1:]] == as_json["rows"]
    as_table = query(stack, sql, fmt="table")
    assert as_table.code == 0
    for symbol, n in as_json["rows"]:
        assert symbol in as_table.out and str(n) in as_table.out
    assert f"{len(as_json['rows'])} rows" in as_table.err


def test_query_from_stdin_and_from_a_file_with_bound_parameters(stack, served, tmp_path):
    symbol = rows(stack, f"SELECT min(symbol) FROM iceberg.bronze.{TOPIC}")[0][0]
    expected = rows(stack, f"SELECT count(*) FROM iceberg.bronze.{TOPIC} WHERE symbol = '{symbol}'")
    sql = f"SELECT count(*) FROM iceberg.bronze.{TOPIC} WHERE symbol = ? AND size >= ?"
    piped = stack.lakectl("query", "-", "--param", symbol, "--param", "0", "-o", "json", stdin=sql + ";\n")
    assert piped.code == 0, piped.err
    assert piped.json()["rows"] == expected
    file = tmp_path / "q.sql"
    file.write_text(sql)
    from_file = stack.lakectl("query", "--file", str(file), "-p", symbol, "-p", "0", "-o", "json")
    assert from_file.json()["rows"] == expected
    # a parameter is a value, never SQL: this matches no symbol instead of every row
    injected = stack.lakectl("query", "--file", str(file), "-p", "x' OR '1'='1", "-p", "0", "-o", "json")
    assert injected.json()["rows"] == [[0]]


def test_time_travel_to_the_first_batch(stack, served):
    count = f"SELECT count(*) FROM bronze.{TOPIC}"
    assert rows(stack, count, "--catalog", "iceberg", "--version", str(served["snapshot"])) == [[FIRST]]
    assert rows(stack, count, "--catalog", "delta", "--version", str(served["delta_version"])) == [[FIRST]]
    assert rows(stack, count, "--catalog", "iceberg", "--as-of", served["moment"]) == [[FIRST]]
    assert rows(stack, count, "--catalog", "iceberg") == [[FIRST + SECOND]]


def test_sql_error_shows_trinos_message_and_position(stack, served):
    result = query(stack, f"SELECT no_such_column FROM iceberg.bronze.{TOPIC}")
    assert result.code == 1
    assert "lakectl: error: trino: line 1:8: Column 'no_such_column' cannot be resolved" in result.err
    assert "Traceback" not in result.err and result.out == ""
    missing = query(stack, "SELECT * FROM iceberg.bronze.no_such_table")
    assert missing.code == 1 and "does not exist" in missing.err


def test_bad_input_is_a_usage_error(stack):
    assert stack.lakectl("query").code == 2
    assert stack.lakectl("query", "SELECT 1", "--as-of", "not a time").code == 2
    assert stack.lakectl("query", "SELECT 1", "--version", "3").code == 2  # no table to travel in
    assert stack.lakectl("query", "--file", "/no/such.sql").code == 2


def test_verify_passes_then_fails_after_a_delete(stack, served):
    passed = stack.lakectl("verify", "--topic", TOPIC, "--key", "trade_id", "-o", "json")
    assert passed.code == 0, passed.err
    report = passed.json()
    assert report["ok"] and [s["source"] for s in report["sources"]] == ["kafka", "iceberg", "delta"]
    assert {s["rows"] for s in report["sources"]} == {FIRST + SECOND}
    assert len({s["digest"] for s in report["sources"]}) == 1
    # Bronze in Delta is append-only (its table property says so); Iceberg Bronze takes the delete
    victim = rows(stack, f"SELECT min(trade_id) FROM iceberg.bronze.{TOPIC}")[0][0]
    assert rows(stack, f"DELETE FROM iceberg.bronze.{TOPIC} WHERE trade_id = ?", "-p", victim) == [[1]]
    failed = stack.lakectl("verify", "--topic", TOPIC, "--key", "trade_id", "-o", "json")
    assert failed.code == 1
    report = failed.json()
    assert not report["ok"] and all(d.startswith("iceberg:") for d in report["differences"])
    assert "iceberg: rows 4999 != kafka's 5000" in failed.err


def test_trino_down_is_exit_3(stack, served):
    stack.ok("down", "trino")
    try:
        down = query(stack, "SELECT 1")
        assert down.code == 3 and "trino" in down.err and "Traceback" not in down.err
    finally:
        stack.ok("up", "trino")
    assert rows(stack, "SELECT 1") == [[1]]
