"""Pipeline specs (lakectl/pipeline_spec.py) and `pipeline add`'s files (lakectl/ops/pipelines.py, pipeline_dbt.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lakectl import pipeline_spec
from lakectl.errors import UsageError
from lakectl.ops import pipeline_dbt
from lakectl.ops.pipelines import add, job_args, remove
from lakectl.paths import schemas_dir

ORDERS = schemas_dir() / "examples" / "orders.avsc"


@pytest.fixture
def schemas(tmp_path) -> Path:
    directory = tmp_path / "schemas"
    directory.mkdir()
    shutil.copy(ORDERS, directory / "orders.avsc")
    return directory


def write_spec(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.pipeline.toml"
    path.write_text(text)
    return path


def test_the_trade_pipeline_is_one_spec():
    spec = pipeline_spec.load("trades")
    assert (spec.topic, spec.key, spec.event_time, spec.formats, spec.job_name, spec.silver_table) == (
        "trades", "trade_id", "event_time", ("iceberg", "delta"), "bronze_trades", "trades_clean")
    assert job_args(spec) == ["--topic", "trades", "--table", "trades", "--formats", "iceberg,delta",
                              "--partition-by", "day", "--checkpoint-interval", "2", "--event-time", "event_time"]


def test_defaults(schemas):
    write_spec(schemas, "orders", 'schema = "orders.avsc"\nkey = "order_id"\nevent_time = "placed_at"\n')
    spec = pipeline_spec.load("orders", schemas)
    assert (spec.topic, spec.partitions, spec.formats, spec.partition_by, spec.checkpoint_interval_s, spec.dlq) == (
        "orders", 3, ("iceberg", "delta"), "day", 2.0, True)


@pytest.mark.parametrize(("text", "message"), [
    ('schema = "orders.avsc"\nkey = "order_id"\npartitons = 3\n',
     r"unknown key 'partitons' \(did you mean 'partitions'\?\)"),
    ('schema = "orders.avsc"\n', "missing key"),
    ('schema = "orders.avsc"\nkey = "nope"\npartition_by = "none"\n', "key field 'nope' is not a top-level field"),
    ('schema = "orders.avsc"\nkey = "customer"\npartition_by = "none"\n', "key field 'customer' is record"),
    ('schema = "orders.avsc"\nkey = "order_id"\nevent_time = "status"\n', "event_time field 'status' is enum"),
    ('schema = "orders.avsc"\nkey = "order_id"\n', "partition_by = 'day' needs an event_time"),
    ('schema = "orders.avsc"\nkey = "order_id"\npartition_by = "none"\nformats = ["parquet"]\n', "formats"),
    ('schema = "orders.avsc"\nkey = "order_id"\npartition_by = "none"\npartitions = true\n', "wrong type"),
    ('schema = "orders.avsc"\nkey = "order_id"\npartition_by = "none"\ntopic = "x.dlq"\n', "not a valid topic"),
    ('schema = "missing.avsc"\nkey = "order_id"\n', "does not exist"),
    ('schema = "orders.avsc"\nkey = "order_id"\n[broken', "not valid TOML"),
])
def test_a_bad_spec_is_one_line_naming_the_file(schemas, text, message):
    path = write_spec(schemas, "orders", text)
    with pytest.raises(UsageError, match=message) as caught:
        pipeline_spec.load("orders", schemas)
    assert "\n" not in caught.value.message
    assert "does not exist" in message or str(path) in caught.value.message or "orders.avsc" in caught.value.message


def test_a_spec_that_is_not_utf8_is_one_line_naming_the_file(schemas):
    path = schemas / "orders.pipeline.toml"
    path.write_bytes(b'schema = "orders.avsc"\nkey = "\xff"\n')
    with pytest.raises(UsageError, match="is not UTF-8 text") as caught:
        pipeline_spec.load("orders", schemas)
    assert str(path) in caught.value.message
    assert pipeline_spec.key_for_topic("orders", schemas) is None  # skipped there, as a spec that does not parse


def test_an_unsupported_union_in_the_schema_names_its_path(schemas):
    document = json.loads((schemas / "orders.avsc").read_text())
    document["fields"].append({"name": "either", "type": ["int", "string"]})
    (schemas / "orders.avsc").write_text(json.dumps(document))
    write_spec(schemas, "orders", 'schema = "orders.avsc"\nkey = "order_id"\npartition_by = "none"\n')
    with pytest.raises(UsageError, match=r"orders.avsc: either: union of several types \[int, string\]"):
        pipeline_spec.load("orders", schemas)


def test_unknown_and_invalid_names(schemas):
    with pytest.raises(UsageError, match="no pipeline 'nope'"):
        pipeline_spec.load("nope", schemas)
    with pytest.raises(UsageError, match="pipeline name 'Bad-Name'"):
        pipeline_spec.load("Bad-Name", schemas)


def test_add_writes_the_spec_beside_the_schema_and_the_dbt_files(schemas, tmp_path):
    dbt = tmp_path / "dbt"
    result = add("orders", ORDERS, key=None, event_time=None, topic=None, partitions=3,
                 formats=["iceberg", "delta"], force=False, directory=schemas, dbt_dir=dbt)
    spec = pipeline_spec.load("orders", schemas)  # what add wrote reads back, checked
    assert (spec.key, spec.event_time, spec.partition_by) == ("order_id", "placed_at", "day")  # guessed
    assert set(result.files) == {str(schemas / "orders.pipeline.toml"), str(schemas / "orders.avsc"),
                                 *(str(p) for p in pipeline_dbt.files(spec, dbt))}
    properties = yaml.safe_load((dbt / "models" / "pipelines" / "orders" / "orders.yml").read_text())
    model = properties["models"][0]
    assert model["name"] == "silver_orders"
    columns = {c["name"]: c for c in model["columns"]}
    assert columns["order_id"]["data_tests"] == ["not_null", "unique"]
    assert columns["placed_at"]["description"] == "When the customer placed it (UTC)."  # the schema's doc
    assert properties["sources"][0]["tables"][0]["identifier"] == "orders"
    sql = (dbt / "models" / "pipelines" / "orders" / "silver_orders.sql").read_text()
    assert "pipeline_silver('pipeline_orders', key='order_id'" in sql
    assert "'packed_at_us': 'timestamp-micros'" in sql and "'partitioning': \"ARRAY['event_date']\"" in sql


def test_add_refuses_an_existing_pipeline_and_writes_nothing_on_bad_input(schemas, tmp_path):
    dbt = tmp_path / "dbt"
    add("orders", ORDERS, key="order_id", event_time="placed_at", topic=None, partitions=3,
        formats=["iceberg"], force=False, directory=schemas, dbt_dir=dbt)
    with pytest.raises(UsageError, match="pipeline orders exists"):
        add("orders", ORDERS, key="order_id", event_time=None, topic=None, partitions=3, formats=["iceberg"],
            force=False, directory=schemas, dbt_dir=dbt)
    before = sorted(p.name for p in schemas.iterdir())
    with pytest.raises(UsageError, match="key field 'missing'"):
        add("other", ORDERS, key="missing", event_time=None, topic=None, partitions=3, formats=["iceberg"],
            force=False, directory=schemas, dbt_dir=dbt)
    assert sorted(p.name for p in schemas.iterdir()) == before
    assert not (dbt / "models" / "pipelines" / "other").exists()


def test_add_refuses_a_schema_bronze_cannot_hold(schemas, tmp_path):
    document = json.loads(ORDERS.read_text())
    document["fields"][3]["type"]["fields"].append({"name": "either", "type": ["int", "string"]})
    bad = tmp_path / "bad.avsc"
    bad.write_text(json.dumps(document))
    with pytest.raises(UsageError, match=r"^bad.avsc: customer.either: union of several types \[int, string\]"):
        add("bad", bad, key=None, event_time=None, topic=None, partitions=3, formats=["iceberg"], force=False,
            directory=schemas, dbt_dir=tmp_path / "dbt")
    assert not (schemas / "bad.pipeline.toml").exists() and not (schemas / "bad.avsc").exists()


def test_remove_without_a_stack_takes_the_files_away(schemas, tmp_path):
    dbt = tmp_path / "dbt"
    add("orders", ORDERS, key="order_id", event_time=None, topic=None, partitions=3, formats=["iceberg"],
        force=False, directory=schemas, dbt_dir=dbt)
    spec = pipeline_spec.load("orders", schemas)
    removed = remove(None, spec, purge=False, dbt_dir=dbt)["removed"]
    assert str(schemas / "orders.pipeline.toml") in removed
    assert not (dbt / "models" / "pipelines" / "orders").exists()
    assert (schemas / "orders.avsc").exists()  # the schema stays: other pipelines or tools may use it


def test_render_round_trips(schemas):
    write_spec(schemas, "orders", 'schema = "orders.avsc"\nkey = "order_id"\nevent_time = "placed_at"\n'
               'formats = ["delta"]\npartitions = 6\ncheckpoint_interval_s = 2.5\ndlq = false\nparallelism = 3\n')
    spec = pipeline_spec.load("orders", schemas)
    write_spec(schemas, "copy", pipeline_spec.render(spec, "orders.avsc"))
    again = pipeline_spec.load("copy", schemas)
    assert {k: v for k, v in again.to_dict().items() if k not in ("name", "path", "silver")} == {
        k: v for k, v in spec.to_dict().items() if k not in ("name", "path", "silver")}


@pytest.mark.parametrize(("args", "message"), [
    ((), "say what to verify: --pipeline NAME, or --topic T"),
    (("--topic", "nobody_declares_this"), "no pipeline declares topic nobody_declares_this: give its key field"),
    (("--pipeline", "nope"), "no pipeline 'nope'"),
])
def test_verify_needs_to_know_what_to_verify(run, args, message):
    result = run("verify", *args)
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith(f"lakectl: error: {message}")


@pytest.mark.parametrize("command", [("pipeline", "status", "nope"), ("pipeline", "remove", "nope"),
                                     ("pipeline", "apply", "nope"), ("metrics", "--pipeline", "nope")])
def test_an_unknown_pipeline_is_one_line_and_exit_2(run, command):
    result = run(*command)
    assert result.code == 2 and "no pipeline 'nope'" in result.err and len(result.err.strip().splitlines()) == 1


def test_pipeline_list_json(run):
    result = run("pipeline", "list", "-o", "json")
    assert result.code == 0
    assert any(p["name"] == "trades" and p["key"] == "trade_id" for p in json.loads(result.out))
