"""The Delta sink (flink_jobs/delta_sink) writes nested columns, with no services: a small job runs the sink in
a local Flink (MiniCluster, Flink's lib/ as lakectl assembles it, with the sink jar built from this checkout)
into a ``file:`` table, and delta-rs reads every value back. A second run, with one more optional field in each
nested struct, evolves the table. About a minute on a warm cache (the first run also builds the sink jar)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# V1 and V2 (one more optional field in info, in the items' structs and in the attrs' values): ROW, ARRAY<ROW>,
# MAP<STRING, ROW>, ARRAY<STRING>, a NOT NULL field inside an array's struct, DECIMAL/DATE/TIMESTAMPs in a struct.
# Version 3 changes the type of a field inside the items' structs, which the sink must refuse.
JOB = r'''
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.lakectl.flink.delta.DeltaSink;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.runtime.typeutils.InternalTypeInfo;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;

public class NestedDeltaJob {
    static final String V1 = "ROW<id BIGINT NOT NULL, p STRING,"
            + " info ROW<amount DECIMAL(12, 3), dt DATE, ts TIMESTAMP(6), ts3 TIMESTAMP(3), ltz TIMESTAMP_LTZ(3),"
            + " flag BOOLEAN, score DOUBLE, blob BYTES>,"
            + " tags ARRAY<STRING>, items ARRAY<ROW<sku STRING NOT NULL, qty INT>>,"
            + " attrs MAP<STRING, ROW<v BIGINT, note STRING>>>";
    static final String V2 = "ROW<id BIGINT NOT NULL, p STRING,"
            + " info ROW<amount DECIMAL(12, 3), dt DATE, ts TIMESTAMP(6), ts3 TIMESTAMP(3), ltz TIMESTAMP_LTZ(3),"
            + " flag BOOLEAN, score DOUBLE, blob BYTES, extra STRING>,"
            + " tags ARRAY<STRING>, items ARRAY<ROW<sku STRING NOT NULL, qty INT, discount DOUBLE>>,"
            + " attrs MAP<STRING, ROW<v BIGINT, note STRING, w INT>>>";

    static StringData s(String v) {
        return StringData.fromString(v);
    }

    static GenericArrayData array(Object... elements) {
        return new GenericArrayData(elements);
    }

    static GenericMapData map(Object... kv) {
        Map<Object, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(s((String) kv[i]), kv[i + 1]);
        }
        return new GenericMapData(m);
    }

    static GenericRowData info(Object... extra) {
        Object[] f = {DecimalData.fromBigDecimal(new BigDecimal("123456789.012"), 12, 3),
                (int) LocalDate.of(2024, 2, 29).toEpochDay(),
                TimestampData.fromLocalDateTime(LocalDateTime.parse("2024-03-01T12:34:56.123456")),
                TimestampData.fromLocalDateTime(LocalDateTime.parse("1999-12-31T23:59:59.999")),
                TimestampData.fromInstant(Instant.parse("2024-03-01T00:00:00.001Z")),
                true, 1.5, new byte[] {1, 2, 3}};
        Object[] all = new Object[f.length + extra.length];
        System.arraycopy(f, 0, all, 0, f.length);
        System.arraycopy(extra, 0, all, f.length, extra.length);
        return GenericRowData.of(all);
    }

    public static void main(String[] args) throws Exception {
        String version = args[1];
        boolean v1 = version.equals("1");
        String spec = v1 ? V1 : version.equals("2") ? V2 : V2.replace("qty INT", "qty BIGINT");
        RowType type = (RowType) LogicalTypeParser.parse(spec, NestedDeltaJob.class.getClassLoader());
        List<RowData> rows = version.equals("3")
                ? List.of(GenericRowData.of(5L, s("b"), null, null, array(GenericRowData.of(s("s4"), 1L, null)), null))
                : version.equals("2")
                ? List.of(GenericRowData.of(4L, s("b"), info(s("e")), array(s("t")),
                        array(GenericRowData.of(s("s3"), 1, 0.25)), map("k", GenericRowData.of(1L, s("n"), 7))))
                : List.of(
                        GenericRowData.of(1L, s("a"), info(), array(s("x"), null, s("z")),
                                array(GenericRowData.of(s("s1"), 2), null, GenericRowData.of(s("s2"), null)),
                                map("k1", GenericRowData.of(10L, s("n1")), "k2", null)),
                        GenericRowData.of(2L, s("b"), null, array(), null, map()),
                        GenericRowData.of(3L, s("a"), new GenericRowData(8), null, array(), null));
        Map<String, String> options = new HashMap<>();
        options.put("app-id", "nested-" + version);
        options.put("partition-columns", "p");
        options.put("timestamp-encoding", v1 ? "int96" : "int64-micros"); // both encodings in one table
        Configuration conf = new Configuration();
        conf.setString("restart-strategy.type", "none"); // a failure fails the run
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(1);
        env.enableCheckpointing(500);
        env.fromData(rows, InternalTypeInfo.of(type)).sinkTo(new DeltaSink(args[0], type, options)).uid("delta-sink");
        env.execute("nested-delta-" + version);
    }
}
'''

LOG4J = """rootLogger.level = WARN
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %-5p %c{1} - %m%n
"""


def info(**extra):
    return {"amount": Decimal("123456789.012"), "dt": date(2024, 2, 29),
            "ts": datetime(2024, 3, 1, 12, 34, 56, 123456, tzinfo=UTC),
            "ts3": datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            "ltz": datetime(2024, 3, 1, 0, 0, 0, 1000, tzinfo=UTC),
            "flag": True, "score": 1.5, "blob": b"\x01\x02\x03", **extra}


# what delta-rs reads after both runs: the first run's rows read the new fields as null
EXPECTED = [
    {"id": 1, "p": "a", "info": info(extra=None), "tags": ["x", None, "z"],
     "items": [{"sku": "s1", "qty": 2, "discount": None}, None, {"sku": "s2", "qty": None, "discount": None}],
     "attrs": [("k1", {"v": 10, "note": "n1", "w": None}), ("k2", None)]},
    {"id": 2, "p": "b", "info": None, "tags": [], "items": None, "attrs": []},
    {"id": 3, "p": "a", "info": dict.fromkeys(info(extra=None)), "tags": None, "items": [], "attrs": None},
    {"id": 4, "p": "b", "info": info(extra="e"), "tags": ["t"], "items": [{"sku": "s3", "qty": 1, "discount": 0.25}],
     "attrs": [("k", {"v": 1, "note": "n", "w": 7})]},
]


@pytest.fixture(scope="module")
def flink_lib(tmp_path_factory) -> list[Path]:
    """Flink's lib/ as lakectl assembles it for the cluster, the Delta sink jar built from this checkout."""
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.services.flink import flink_home
    from lakectl.settings import load_settings

    stack = StackContext(load_settings(cwd=tmp_path_factory.mktemp("settings")), "native")
    return sorted((flink_home(stack) / "lib").glob("*.jar"))


@pytest.fixture(scope="module")
def run_job(flink_lib, tmp_path_factory):
    from lakectl.runtime.native.java import find_java
    from lakectl.runtime.services.flink import JAVA

    work = tmp_path_factory.mktemp("job")
    java = Path(find_java(*JAVA))
    javac = java.parent / "javac"
    if not javac.exists():
        pytest.skip(f"no javac next to {java}")
    (work / "NestedDeltaJob.java").write_text(JOB)
    (work / "log4j2.properties").write_text(LOG4J)
    classpath = ":".join(map(str, flink_lib))
    subprocess.run([str(javac), "-d", str(work), "-cp", classpath, str(work / "NestedDeltaJob.java")],
                   check=True, capture_output=True, text=True)

    def run(table: Path, version: int) -> subprocess.CompletedProcess:
        return subprocess.run([str(java), f"-Dlog4j2.configurationFile={work / 'log4j2.properties'}",
                               "-cp", f"{classpath}:{work}", "NestedDeltaJob", table.as_uri(), str(version)],
                              capture_output=True, text=True, timeout=180)

    return run


def ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def fields(schema: dict, *path: str) -> list[tuple[str, bool]]:
    """(name, nullable) of the struct at ``path`` in a Delta schema (through arrays' elements and maps' values)."""
    for name in path:
        schema = next(f["type"] for f in schema["fields"] if f["name"] == name)
        schema = schema.get("elementType") or schema.get("valueType") or schema
    return [(f["name"], f["nullable"]) for f in schema["fields"]]


def test_nested_columns_round_trip_and_evolve(run_job, tmp_path):
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    table = tmp_path / "nested"
    ok(run_job(table, 1))
    first = json.loads(DeltaTable(str(table)).schema().to_json())
    assert [n for n, _ in fields(first)] == ["id", "p", "info", "tags", "items", "attrs"]
    assert [n for n, _ in fields(first, "info")][-1] == "blob"
    # Delta refuses NOT NULL inside arrays and maps: sku is nullable there
    assert fields(first, "items") == [("sku", True), ("qty", True)]

    ok(run_job(table, 2))
    dt = DeltaTable(str(table))
    schema = json.loads(dt.schema().to_json())
    assert fields(schema, "info")[-1] == ("extra", True)
    assert fields(schema, "items") == [("sku", True), ("qty", True), ("discount", True)]
    assert fields(schema, "attrs") == [("v", True), ("note", True), ("w", True)]
    assert dt.metadata().partition_columns == ["p"]

    rows = sorted(dt.to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    assert rows == EXPECTED

    # the standard Parquet layouts readers expect (3-level LIST, MAP with required keys)
    for data in table.rglob("*.parquet"):
        text = str(pq.ParquetFile(data).schema)
        assert "repeated group field_id=-1 list {" in text and "optional binary field_id=-1 element (String);" in text
        assert "repeated group field_id=-1 key_value" in text and "required binary field_id=-1 key (String);" in text

    # stats only for the top-level primitive data columns (p is the partition column)
    for version in range(dt.version() + 1):
        log = table / "_delta_log" / f"{version:020d}.json"
        for action in map(json.loads, log.read_text().splitlines()):
            if "add" in action:
                stats = json.loads(action["add"]["stats"])
                assert set(stats["nullCount"]) == {"id"} and set(stats["minValues"]) <= {"id"}

    # a shared nested field changing type (items' qty INT -> BIGINT) is refused, the table left as it was
    refused = run_job(table, 3)
    assert refused.returncode != 0 and "delta sink: table" in refused.stdout + refused.stderr
    assert DeltaTable(str(table)).version() == dt.version()
