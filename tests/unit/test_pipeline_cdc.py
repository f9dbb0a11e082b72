"""postgres-cdc pipelines: the spec's validation (lakectl/pipeline_spec.py), the types from PostgreSQL to Bronze
to Silver and the generated Silver model (lakectl/ops/pipeline_cdc.py), the connector file's placeholders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lakectl import pipeline_spec
from lakectl.components.postgres import PgAccess, TableColumn
from lakectl.errors import UsageError
from lakectl.ops import connect, pipeline_cdc, pipeline_dbt
from lakectl.ops.pipelines import add_cdc, job_args
from tests.unit import spec_files

GOOD = '''source = "postgres-cdc"
formats = ["iceberg", "delta"]
checkpoint_interval_s = 2

[postgres]
database = "shop"
tables = ["accounts"]
'''

COLUMNS = [
    TableColumn("id", "bigint", 64, 0, False, True),
    TableColumn("name", "text"),
    TableColumn("qty", "integer", 32, 0),
    TableColumn("price", "numeric", 12, 2),
    TableColumn("active", "boolean"),
    TableColumn("updated_at", "timestamp without time zone", 6),
    TableColumn("born", "date"),
    TableColumn("seen_at", "timestamp with time zone", 6),
    TableColumn("blob", "bytea"),
    TableColumn("amount", "numeric"),
]


def spec_from(tmp_path: Path, text: str) -> pipeline_spec.PipelineSpec:
    return spec_files.spec_from(tmp_path, text, "accounts")


def refused(tmp_path: Path, text: str, *needles: str) -> None:
    spec_files.refused(tmp_path, text, "accounts", *needles)


def test_a_cdc_spec(tmp_path):
    spec = spec_from(tmp_path, GOOD)
    assert spec.is_cdc and spec.source == "postgres-cdc" and spec.schema is None
    assert spec.cdc == pipeline_spec.CdcSource("shop", "public", "accounts")
    assert (spec.topic, spec.partition_by, spec.dlq, spec.connector_name, spec.slot, spec.cdc_user) == (
        "accounts", "none", False, "cdc_accounts", "lakectl_accounts", "lakectl_cdc_accounts")
    assert job_args(spec) == ["--topic", "accounts", "--table", "accounts", "--formats", "iceberg,delta",
                              "--partition-by", "none", "--checkpoint-interval", "2"]
    assert json.loads(json.dumps(spec.to_dict()))["cdc"]["table"] == "accounts"


def test_a_typod_source_is_one_line(tmp_path):
    refused(tmp_path, GOOD.replace("postgres-cdc", "postgres-cdcc"), "source = 'postgres-cdcc'",
            "did you mean 'postgres-cdc'?")
    refused(tmp_path, GOOD.replace("postgres-cdc", "mysql"), "choose from ['kafka', 'postgres-cdc', 'file']")


@pytest.mark.parametrize(("old", "new", "needles"), [
    ('tables = ["accounts"]', 'tabels = ["accounts"]', ("unknown key 'postgres.tabels'", "did you mean 'tables'?")),
    ('tables = ["accounts"]', "", ("[postgres] needs tables",)),
    ('database = "shop"', "", ("[postgres] needs database",)),
    ('tables = ["accounts"]', "tables = []", ("expected a list of table names",)),
    ('tables = ["accounts"]', 'tables = ["a", "b"]', ("one table per pipeline",)),
    ('tables = ["accounts"]', 'tables = ["acc;ounts"]', ("expected a plain identifier",)),
    ('database = "shop"', 'database = "shop"\nport = 99999', ("postgres.port = 99999",)),
    ('database = "shop"', 'database = "shop"\nhost = "db.example"', ("postgres.host needs admin_user",)),
    ('database = "shop"', 'database = "shop"\nadmin_user = "x"', ("go together",)),
    ('formats = ["iceberg", "delta"]', 'formats = ["iceberg", "parquet"]', ("formats = ['iceberg', 'parquet']",)),
    ('formats = ["iceberg", "delta"]', 'key = "id"', ("key: not for source = \"postgres-cdc\"",)),
    ('formats = ["iceberg", "delta"]', 'partition_by = "day"', ("Bronze is unpartitioned",)),
    ('formats = ["iceberg", "delta"]', 'formts = ["delta"]', ("unknown key 'formts'",)),
])
def test_bad_cdc_specs_are_one_line(tmp_path, old, new, needles):
    refused(tmp_path, GOOD.replace(old, new), *needles)


def test_no_postgres_table(tmp_path):
    refused(tmp_path, 'source = "postgres-cdc"\n', 'needs a [postgres] table')
    refused(tmp_path, 'schema = "x.avsc"\nkey = "id"\n[postgres]\ndatabase = "d"\n', '[postgres] is for source')


def test_add_writes_a_spec_that_parses_back(tmp_path):
    result = add_cdc("shop_accounts", database="shop", table="sales.accounts", topic=None, partitions=1,
                     formats=["iceberg", "delta"], force=False, directory=tmp_path)
    spec = pipeline_spec.load("shop_accounts", tmp_path)
    assert result.files == [str(spec.path)]
    assert spec.cdc == pipeline_spec.CdcSource("shop", "sales", "accounts") and spec.partitions == 1
    with pytest.raises(UsageError, match="exists"):
        add_cdc("shop_accounts", database="shop", table="accounts", topic=None, partitions=1, formats=["delta"],
                force=False, directory=tmp_path)


def test_types_from_postgres_to_bronze():
    assert [pipeline_cdc.bronze_type(c) for c in COLUMNS] == [
        "BIGINT", "STRING", "INT", "DECIMAL(12, 2)", "BOOLEAN", "BIGINT", "INT", "STRING", "STRING", "STRING"]
    assert json.loads(pipeline_cdc.job_columns(COLUMNS[:2])) == [["id", "BIGINT", True], ["name", "STRING", False]]


def test_the_silver_model_is_the_latest_change_per_key_without_deletes(tmp_path):
    spec = spec_from(tmp_path, GOOD)
    sql = pipeline_cdc.silver_model(spec, COLUMNS)
    assert "materialized='table'" in sql and "alias='accounts'" in sql and "tags=['pipeline_accounts']" in sql
    assert ('row_number() OVER (PARTITION BY "id" ORDER BY source_lsn DESC, kafka_offset DESC) AS change_rank'
            in sql)
    assert "WHERE change_rank = 1 AND op <> 'd'" in sql
    assert "{{ source('pipeline_accounts', 'bronze') }}" in sql
    # each column from the typed image, else from the event's JSON text (a column the job did not know yet)
    def text(name: str) -> str:
        return f"json_extract_scalar(after_json, '$[\"{name}\"]')"

    assert (f'COALESCE("after"."name", COALESCE({text("name")}, '
            f"NULLIF(json_format(json_extract(after_json, '$[\"name\"]')), 'null'))) AS \"name\"") in sql
    assert (f'CAST(from_unixtime_nanos(COALESCE("after"."updated_at", CAST({text("updated_at")} AS bigint)) '
            f'* 1000) AS timestamp(6)) AS "updated_at"') in sql
    assert (f"date_add('day', COALESCE(\"after\".\"born\", CAST({text('born')} AS integer)), "
            f"DATE '1970-01-01') AS \"born\"") in sql
    assert f'from_iso8601_timestamp_nanos(COALESCE("after"."seen_at", COALESCE({text("seen_at")}, ' in sql
    assert f'from_base64(COALESCE("after"."blob", COALESCE({text("blob")}, ' in sql
    assert f'COALESCE("after"."price", CAST({text("price")} AS decimal(12, 2)))' in sql
    millis = TableColumn("at", "timestamp without time zone", 3)
    assert pipeline_cdc.silver_expr(millis) == (
        f'CAST(from_unixtime_nanos(COALESCE("after"."at", CAST({text("at")} AS bigint)) * 1000000) AS timestamp(3))')
    quoted = TableColumn("it's", "text")  # a quote in a column name stays inside the SQL string literal
    assert """'$["it''s"]'""" in pipeline_cdc.silver_expr(quoted)
    composite = [TableColumn("a", "integer", primary_key=True), TableColumn("b", "text", primary_key=True)]
    assert 'PARTITION BY "a", "b"' in pipeline_cdc.silver_model(spec, composite)


def test_the_dbt_files_are_written_once(tmp_path):
    spec = spec_from(tmp_path, GOOD)
    dbt_dir = tmp_path / "dbt"
    written = pipeline_cdc.write_dbt_files(spec, COLUMNS, dbt_dir)
    assert sorted(Path(p).name for p in written) == ["accounts.yml", "silver_accounts.sql"]
    assert sorted(pipeline_dbt.paths(spec, dbt_dir)) == sorted(Path(p) for p in written)
    assert pipeline_cdc.write_dbt_files(spec, COLUMNS, dbt_dir) == []  # unchanged: nothing written
    document = yaml.safe_load(Path(written[0]).read_text())
    model = document["models"][0]
    assert model["name"] == "silver_accounts"
    assert model["columns"][0] == {"name": "id", "data_tests": ["not_null", "unique"]}
    added = [*COLUMNS, TableColumn("note", "text")]
    assert len(pipeline_cdc.write_dbt_files(spec, added, dbt_dir)) == 2  # a column added: both rewritten


def test_a_table_without_a_primary_key_or_with_a_clashing_one(tmp_path):
    spec = spec_from(tmp_path, GOOD)
    with pytest.raises(UsageError, match="has no primary key"):
        pipeline_cdc.check_columns(spec, [TableColumn("name", "text")])
    with pytest.raises(UsageError, match="named like a Bronze column"):
        pipeline_cdc.check_columns(spec, [TableColumn("op", "text", primary_key=True)])


def test_the_connector_file_is_filled_without_a_password_in_it(tmp_path):
    spec = spec_from(tmp_path, GOOD)
    text = pipeline_cdc.CONNECTOR_FILE.read_text()
    assert "password" not in text.replace("${cdc.password}", "").replace('"database.password"', "")
    values = pipeline_cdc.connector_values(spec, PgAccess("127.0.0.1", 5432, "lakectl", "admin-pw"), "s3cret")
    connector = connect.load(pipeline_cdc.CONNECTOR_FILE, values)
    assert connector.name == "cdc_accounts"
    config = connector.config
    assert config["database.password"] == "s3cret" and config["database.user"] == "lakectl_cdc_accounts"
    assert config["table.include.list"] == "public.accounts" and config["slot.name"] == "lakectl_accounts"
    assert config["transforms.route.regex"] == r"accounts\.public\.accounts"
    assert config["transforms.route.replacement"] == "accounts"
    assert config["value.converter.schemas.enable"] == "false" and config["tombstones.on.delete"] == "false"


@pytest.mark.parametrize(("formatted", "parsed"), [
    ("integer", ("integer", None, None)),
    ("numeric(12,2)", ("numeric", 12, 2)),
    ("numeric", ("numeric", None, None)),
    ("timestamp(3) without time zone", ("timestamp without time zone", 3, None)),
    ("timestamp without time zone", ("timestamp without time zone", None, None)),
    ("character varying(20)", ("character varying", 20, None)),
    ("text[]", ("ARRAY", None, None)),
])
def test_column_types_from_the_catalog(formatted, parsed):
    from lakectl.components.postgres import parse_type

    assert parse_type(formatted) == parsed
