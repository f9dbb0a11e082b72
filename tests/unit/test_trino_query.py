"""Pure logic of `lakectl query`: time travel rewriting, parameters, reading the SQL."""

from __future__ import annotations

import pytest

from lakectl.cli.query import parse_param, read_sql
from lakectl.components.trino import QueryFailed, apply_time_travel, time_travel_clause
from lakectl.errors import UsageError

V3 = "FOR VERSION AS OF 3"


def test_version_clause_follows_the_table_and_precedes_its_alias():
    sql = "SELECT * FROM iceberg.bronze.trades t JOIN delta.bronze.trades AS d ON t.trade_id = d.trade_id"
    assert apply_time_travel(sql, V3) == (
        "SELECT * FROM iceberg.bronze.trades FOR VERSION AS OF 3 t "
        "JOIN delta.bronze.trades FOR VERSION AS OF 3 AS d ON t.trade_id = d.trade_id")


def test_subqueries_are_rewritten_and_cte_names_are_not():
    assert apply_time_travel("with x as (select * from trades) select * from x;", V3) == \
        "with x as (select * from trades FOR VERSION AS OF 3) select * from x"
    assert apply_time_travel("select * from (select * from a) s, b", V3) == \
        "select * from (select * from a FOR VERSION AS OF 3) s, b FOR VERSION AS OF 3"


def test_functions_with_from_are_not_tables():
    assert apply_time_travel('select extract(year from ts) from "trades"', V3) == \
        'select extract(year from ts) from "trades" FOR VERSION AS OF 3'


def test_a_query_without_a_table_cannot_travel():
    with pytest.raises(UsageError):
        apply_time_travel("select 1", V3)
    with pytest.raises(UsageError):
        apply_time_travel("select 1 from a; select 2 from b", V3)


def test_as_of_is_utc_unless_a_zone_is_given():
    assert time_travel_clause(as_of="2026-11-27 10:00:00") == \
        "FOR TIMESTAMP AS OF TIMESTAMP '2026-11-27 10:00:00.000000 UTC'"
    assert time_travel_clause(as_of="2026-11-27T11:00:00+01:00") == \
        "FOR TIMESTAMP AS OF TIMESTAMP '2026-11-27 10:00:00.000000 UTC'"
    assert time_travel_clause(as_of="2026-11-27T10:00:00.250Z").endswith("10:00:00.250000 UTC'")
    assert time_travel_clause() is None


@pytest.mark.parametrize("bad", [{"as_of": "yesterday"}, {"as_of": "2026-01-01", "version": 1}])
def test_bad_time_travel_is_a_usage_error(bad):
    with pytest.raises(UsageError):
        time_travel_clause(**bad)


def test_params_keep_their_type():
    assert [parse_param(v) for v in ("7", "-2", "1.5", "true", "NULL", "AAPL", "1e3", "007x")] == \
        [7, -2, 1.5, True, None, "AAPL", 1000.0, "007x"]


def test_read_sql(tmp_path, monkeypatch):
    import io

    assert read_sql("select 1;  ", None) == "select 1"
    query = tmp_path / "q.sql"
    query.write_text("select 2;\n")
    assert read_sql(None, query) == "select 2"
    monkeypatch.setattr("sys.stdin", io.StringIO("select 3"))
    assert read_sql("-", None) == "select 3"
    for args in ((None, None), ("select 1", query), (" ; ", None), (None, tmp_path / "missing.sql"),
                 (None, tmp_path)):
        with pytest.raises(UsageError):
            read_sql(*args)


def test_sql_that_is_not_utf8_is_a_usage_error(tmp_path, monkeypatch):
    import io

    query = tmp_path / "q.sql"
    query.write_bytes(b"SELECT \xc3\x28 FROM t")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        read_sql(None, query)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"SELECT \xff"), encoding="utf-8"))
    with pytest.raises(UsageError, match="stdin is not UTF-8 text"):
        read_sql("-", None)


def test_trino_position_is_not_repeated():
    assert str(QueryFailed("line 1:8: Column 'x' cannot be resolved", line=1, column=8)) == \
        "trino: line 1:8: Column 'x' cannot be resolved"
    assert str(QueryFailed("Division by zero", line=2, column=3)) == "trino: Division by zero (line 2, column 3)"


class _Cursor:
    def __init__(self, errors: list):
        self.errors = errors
        self.description = [("n", "bigint")]

    def execute(self, sql, params):
        if self.errors:
            raise self.errors.pop(0)

    def fetchall(self):
        return [[1]]


class _Connection:
    def __init__(self, *errors):
        self.errors = list(errors)
        self.cursors = 0

    def cursor(self):
        self.cursors += 1
        return _Cursor(self.errors)


def _query_error(name: str, message: str):
    from trino.exceptions import TrinoQueryError

    return TrinoQueryError({"errorName": name, "message": message, "errorType": "INTERNAL_ERROR"}, "q1")


def test_a_dead_catalog_connection_is_retried_once_and_nothing_else_is():
    from lakectl.components.trino import CATALOG_RECONNECT, TrinoClient

    dead = _query_error("GENERIC_INTERNAL_ERROR", CATALOG_RECONNECT)
    connection = _Connection(dead)
    assert TrinoClient(connection, "http://t").execute("SELECT 1").rows == [[1]]
    assert connection.cursors == 2

    twice = _Connection(_query_error("GENERIC_INTERNAL_ERROR", CATALOG_RECONNECT),
                        _query_error("GENERIC_INTERNAL_ERROR", CATALOG_RECONNECT))
    with pytest.raises(QueryFailed, match="Cannot check"):
        TrinoClient(twice, "http://t").execute("SELECT 1")
    assert twice.cursors == 2

    other = _Connection(_query_error("GENERIC_INTERNAL_ERROR", "Failed to commit"))
    with pytest.raises(QueryFailed, match="Failed to commit"):
        TrinoClient(other, "http://t").execute("INSERT INTO t VALUES 1")
    assert other.cursors == 1
