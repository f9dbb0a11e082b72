"""The lakehouse reader's pure parts: the catalog URL, Bronze row counts, waiting for a topic."""

from __future__ import annotations

import pytest

from lakectl.components.lakehouse import Lakehouse, TableInfo, _iso, sqlalchemy_url
from lakectl.components.object_store import S3Location
from lakectl.errors import ComponentError, ServiceUnavailable

S3 = S3Location("http://127.0.0.1:9000", "lake", "AK", "SK")


def test_jdbc_url_becomes_a_sqlalchemy_url_with_quoted_credentials():
    assert sqlalchemy_url("jdbc:postgresql://127.0.0.1:5432/iceberg", "lakectl", "p@ss/word") == (
        "postgresql+psycopg2://lakectl:p%40ss%2Fword@127.0.0.1:5432/iceberg")
    assert sqlalchemy_url("jdbc:postgresql://db:5432/iceberg", "", "") == "postgresql+psycopg2://db:5432/iceberg"
    with pytest.raises(ComponentError, match="only PostgreSQL JDBC catalogs"):
        sqlalchemy_url("jdbc:mysql://db/iceberg", "u", "p")


def test_table_info_and_times():
    info = TableInfo("delta", "bronze", "trades", "s3://lake/delta/bronze/trades", 5, "3", _iso(1_700_000_000_000))
    assert info.to_dict() == {"format": "delta", "layer": "bronze", "name": "trades",
                              "location": "s3://lake/delta/bronze/trades", "rows": 5, "snapshot": "3",
                              "updated_at": "2023-11-14T22:13:20+00:00", "data_files": None, "data_bytes": None,
                              "snapshots": None}


class Growing(Lakehouse):
    """A lakehouse whose Bronze tables gain rows on every read (iceberg first, delta later)."""

    def __init__(self, iceberg: list[int], delta: list[int]) -> None:
        super().__init__(S3, {})
        self.iceberg_rows, self.delta_rows = iceberg, delta

    def _next(self, counts: list[int]) -> int:
        return counts.pop(0) if len(counts) > 1 else counts[0]

    def iceberg_tables(self, layer):
        n = self._next(self.iceberg_rows)
        return [TableInfo("iceberg", "bronze", "trades", "s3://lake/iceberg/bronze/trades", n, "1")] if n >= 0 else []

    def delta_tables(self, layer):
        n = self._next(self.delta_rows)
        return [TableInfo("delta", "bronze", "trades", "s3://lake/delta/bronze/trades", n, "1")] if n >= 0 else []


class Topic:
    def __init__(self, messages: int) -> None:
        self.messages = messages

    def describe_topic(self, topic):
        return {"name": topic, "messages": self.messages}


def test_bronze_rows_counts_a_missing_table_as_empty():
    assert Growing([-1], [4]).bronze_rows("trades") == {"iceberg": 0, "delta": 4}


def test_wait_for_topic_until_both_formats_hold_every_record():
    seen = []
    house = Growing([10, 100, 100], [-1, 40, 100])
    assert house.wait_for_topic(Topic(100), "trades", 30, seen.append) == {"iceberg": 100, "delta": 100}
    assert seen[0] == "bronze.trades: iceberg 10, delta 0 of 100" and len(seen) == 3


def test_wait_for_topic_times_out_with_what_it_saw_last():
    with pytest.raises(ServiceUnavailable) as caught:
        Growing([100], [40]).wait_for_topic(Topic(100), "trades", 0.2)
    assert "bronze.trades holding the topic's records not done after 0.2s" in caught.value.message
    assert "(last: iceberg 100, delta 40 rows of 100)" in caught.value.message
    assert caught.value.hint == "is its job running? lakectl job list"
