"""File pipelines (``source = "file"``): the spec's validation (lakectl/pipeline_spec.py), what `pipeline add
--source file` writes, the connector file's placeholders (lakectl/ops/pipeline_file.py) and the SQL that checks a
line (lakectl/jsonl_sql.py; run against Flink by tests/e2e/test_file_source.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakectl import jsonl_sql, pipeline_spec
from lakectl.errors import UsageError
from lakectl.ops import connect, pipeline_file
from lakectl.ops.pipelines import add, job_args
from lakectl.paths import ROOT
from tests.unit import spec_files

SCHEMA = {"type": "record", "name": "Reading", "fields": [
    {"name": "reading_id", "type": "long"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["TEMP", "HUMIDITY"]}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "read_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
    {"name": "ok", "type": "boolean"},
    {"name": "ratio", "type": ["null", "double"]},
    {"name": "qty", "type": ["null", "int"]},
    {"name": "note", "type": ["null", "string"]},
]}
GOOD = '''source = "file"
schema = "reading.avsc"
key = "reading_id"
event_time = "read_at"

[file]
path = "/data/readings.jsonl"
'''


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    (tmp_path / "reading.avsc").write_text(json.dumps(SCHEMA))
    return tmp_path


def spec_from(schemas: Path, text: str) -> pipeline_spec.PipelineSpec:
    return spec_files.spec_from(schemas, text, "readings")


def refused(schemas: Path, text: str, *needles: str) -> None:
    spec_files.refused(schemas, text, "readings", *needles)


def test_a_file_spec(schemas):
    spec = spec_from(schemas, GOOD)
    assert spec.is_file and not spec.is_cdc and spec.source == "file"
    assert spec.file == pipeline_spec.FileSource(Path("/data/readings.jsonl"))
    assert (spec.topic, spec.dlq, spec.dlq_topic, spec.connector_name, spec.partition_by) == (
        "readings", True, "readings.dlq", "file_readings", "day")
    args = job_args(spec)
    assert args[:2] == ["--topic", "readings"] and args[-2] == "--json-lines-schema"
    assert json.loads(args[-1]) == SCHEMA
    assert json.loads(json.dumps(spec.to_dict()))["file"] == {"path": "/data/readings.jsonl"}


def test_a_relative_path_is_the_project_roots(schemas):
    spec = spec_from(schemas, GOOD.replace("/data/readings.jsonl", "data/in.jsonl"))
    assert spec.file is not None and spec.file.path == ROOT / "data" / "in.jsonl"


@pytest.mark.parametrize(("old", "new", "needles"), [
    ('source = "file"', 'source = "fiel"', ("source = 'fiel'", "did you mean 'file'?")),
    ('path = "/data/readings.jsonl"', 'paht = "/data/readings.jsonl"', ("unknown key 'file.paht'",
                                                                         "did you mean 'path'?")),
    ('path = "/data/readings.jsonl"', 'path = ""', ("file.path = ''", "expected the JSON-lines file's path")),
    ('path = "/data/readings.jsonl"', "path = 3", ("file.path = 3",)),
    ('[file]\npath = "/data/readings.jsonl"', "", ('needs a [file] table with path',)),
    ('key = "reading_id"', 'key = "nope"', ("key field 'nope' is not a top-level field",)),
    ('key = "reading_id"', 'key = "reading_id"\ndlq = false', ("always has its DLQ",)),
    ('key = "reading_id"', 'key = "reading_id"\nformats = ["orc"]', ("formats = ['orc']",)),
    ('key = "reading_id"', "", ("missing key",)),
    ('schema = "reading.avsc"', 'schema = "missing.avsc"', ("missing.avsc",)),
])
def test_bad_file_specs_are_one_line(schemas, old, new, needles):
    refused(schemas, GOOD.replace(old, new), *needles)


def test_file_is_only_for_a_file_source(schemas):
    refused(schemas, GOOD.replace('source = "file"\n', ""), '[file] is for source = "file"')


def test_a_directory_is_not_a_file(schemas):
    refused(schemas, GOOD.replace("/data/readings.jsonl", str(schemas)), "is a directory")


def test_a_nested_or_binary_field_is_refused(schemas):
    nested = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "tags", "type": {"type": "array", "items": "string"}}]}
    (schemas / "reading.avsc").write_text(json.dumps(nested))
    refused(schemas, GOOD, "field 'tags' is array", "must be scalars")
    binary = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "blob", "type": "bytes"}]}
    (schemas / "reading.avsc").write_text(json.dumps(binary))
    refused(schemas, GOOD, "field 'blob' is bytes")


def test_add_writes_a_file_spec_that_parses_back(schemas, tmp_path):
    data = tmp_path / "in" / "readings.jsonl"
    result = add("readings", schemas / "reading.avsc", key=None, event_time=None, topic=None, partitions=2,
                 formats=["iceberg", "delta"], force=False, directory=schemas, dbt_dir=tmp_path / "dbt", file=data)
    spec = pipeline_spec.load("readings", schemas)
    assert str(spec.path) in result.files
    assert spec.file == pipeline_spec.FileSource(data.resolve())
    assert (spec.key, spec.event_time, spec.partitions, spec.dlq) == ("reading_id", "read_at", 2, True)
    text = spec.path.read_text()
    assert 'source = "file"' in text and f'path = "{data.resolve()}"' in text
    with pytest.raises(UsageError, match="exists"):
        add("readings", schemas / "reading.avsc", key=None, event_time=None, topic=None, partitions=2,
            formats=["delta"], force=False, directory=schemas, file=data)


def test_add_names_a_file_in_the_checkout_relative_to_it(schemas, tmp_path):
    add("readings", schemas / "reading.avsc", key=None, event_time=None, topic=None, partitions=1,
        formats=["iceberg"], force=False, directory=schemas, dbt_dir=tmp_path / "dbt",
        file=ROOT / "data" / "readings.jsonl")
    assert 'path = "data/readings.jsonl"' in (schemas / f"readings{pipeline_spec.SUFFIX}").read_text()


def test_the_connector_file_fills_from_the_spec(schemas):
    spec = spec_from(schemas, GOOD.replace("/data/readings.jsonl", '/data/odd \\"name\\".jsonl'))
    loaded = connect.load(pipeline_file.CONNECTOR_FILE, pipeline_file.connector_values(spec))
    assert loaded.name == "file_readings"
    assert loaded.config["connector.class"] == "org.apache.kafka.connect.file.FileStreamSourceConnector"
    assert (loaded.config["file"], loaded.config["topic"]) == ('/data/odd "name".jsonl', "readings")
    assert loaded.config["value.converter"] == "org.apache.kafka.connect.storage.StringConverter"


def test_apply_refuses_a_file_whose_folder_is_missing(schemas, tmp_path):
    spec = spec_from(schemas, GOOD.replace("/data/readings.jsonl", str(tmp_path / "nowhere" / "x.jsonl")))
    with pytest.raises(UsageError, match="no folder"):
        pipeline_file.check_file(spec)
    pipeline_file.check_file(spec_from(schemas, GOOD.replace("/data/readings.jsonl", str(tmp_path / "x.jsonl"))))


def test_every_column_has_a_check_and_a_reason():
    checked = jsonl_sql.checked_columns(json.dumps(SCHEMA))
    assert [c.column.name for c in checked] == [f["name"] for f in SCHEMA["fields"]]
    by_name = {c.column.name: c for c in checked}
    assert "'TEMP', 'HUMIDITY'" in by_name["kind"].value
    assert by_name["reading_id"].reason == "field reading_id: missing, null or not long"
    assert by_name["qty"].reason == "field qty: expected int"
    assert by_name["amount"].value.endswith("AS DECIMAL(12, 2))")
    query = jsonl_sql.checking_query(json.dumps(SCHEMA), "kafka_source")
    assert query.startswith("SELECT ") and query.endswith("FROM kafka_source WHERE TRIM(line) <> ''")
    assert "WHEN NOT (line IS JSON OBJECT) THEN 'not a JSON object'" in query
    assert query.count(" AS `") == len(SCHEMA["fields"])
    assert jsonl_sql.file_source_problem(json.dumps(SCHEMA)) is None


def test_a_quote_in_an_enum_symbol_cannot_break_the_sql():
    assert jsonl_sql.sql_string("it's") == "'it''s'"


def test_the_cli_answers_a_bad_file_spec_in_one_line_and_exit_2(run, schemas, monkeypatch):
    (schemas / f"readings{pipeline_spec.SUFFIX}").write_text(GOOD.replace("path =", "paht ="))
    monkeypatch.setattr(pipeline_spec, "schemas_dir", lambda: schemas)
    for args in (("pipeline", "apply", "readings"), ("pipeline", "status", "readings"),
                 ("pipeline", "remove", "readings")):
        result = run(*args)
        lines = result.err.strip().splitlines()
        assert result.code == 2 and len(lines) == 1 and "unknown key 'file.paht'" in lines[0], (args, result.err)


def test_add_options_are_checked_in_one_line(run, schemas, tmp_path):
    for args, needle in ((("--source", "file", "--schema", str(schemas / "reading.avsc")), "--file"),
                         (("--schema", str(schemas / "reading.avsc"), "--file", "x.jsonl"), "--file"),
                         (("--source", "ftp", "--schema", str(schemas / "reading.avsc")), "kafka, postgres-cdc, file")):
        result = run("pipeline", "add", "readings", *args)
        lines = result.err.strip().splitlines()
        assert result.code == 2 and len(lines) == 1 and needle in lines[0], (args, result.err)


def test_verify_of_a_file_pipeline_is_one_line_and_exit_2(run, schemas, monkeypatch):
    (schemas / f"readings{pipeline_spec.SUFFIX}").write_text(GOOD)
    monkeypatch.setattr(pipeline_spec, "schemas_dir", lambda: schemas)
    result = run("verify", "--pipeline", "readings")
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and "reads a file" in lines[0], result.err


def test_dates_and_timestamps_are_kept_inside_flinks_range():
    """Out of years 1..9999 Flink's date arithmetic loses the row without an error (seen in a local run): the
    generated SQL refuses such numbers before converting them, and checks a parsed day or hour really exists."""
    by_name = {c.column.name: c for c in jsonl_sql.checked_columns(json.dumps(SCHEMA))}
    assert f"BETWEEN {jsonl_sql.MIN_DAY} AND {jsonl_sql.MAX_DAY}" in by_name["day"].value
    assert f"BETWEEN {jsonl_sql.MIN_MS} AND {jsonl_sql.MAX_MS}" in by_name["read_at"].value
    assert "TIMESTAMP '9999-12-30 23:59:59.999'" in by_name["read_at"].value
    assert "AS STRING) = JSON_VALUE(" in by_name["day"].value  # 2026-02-30 is not moved to 02-28
