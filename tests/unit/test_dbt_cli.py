"""`lakectl dbt`: the profile's environment, dbt's command line, results -> output and exit codes,
and the dbt project itself (it parses, with the models, tests and toggles the layers rely on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from lakectl.components import dbt
from lakectl.errors import CheckFailed, ServiceUnavailable, UsageError
from lakectl.ops import dbt as dbt_ops

REPO = Path(__file__).resolve().parents[2]


class Status(str, Enum):  # what dbt's NodeStatus looks like: a str enum
    success = "success"
    pass_ = "pass"
    fail = "fail"
    warn = "warn"
    error = "error"


def app(url="http://127.0.0.1:37080", **trino):
    """The Trino settings and the URL they resolve to (``trino.url``, else the local stack's)."""
    from lakectl.settings import TrinoSettings

    conf = TrinoSettings(**trino)
    return conf, conf.url or url


# -- where Trino is ---------------------------------------------------------------------------------
def test_endpoint_defaults_to_the_local_stack():
    endpoint = dbt.TrinoEndpoint.from_settings(*app())
    assert endpoint.url == "http://127.0.0.1:37080"
    assert (endpoint.host, endpoint.port, endpoint.scheme, endpoint.user) == ("127.0.0.1", 37080, "http", "lakectl")
    assert endpoint.auth == "none" and endpoint.catalog == "iceberg" and endpoint.verify_tls
    assert dbt.TrinoEndpoint.from_settings(*app("http://127.0.0.1")).port == 8080


def test_endpoint_of_the_real_context_follows_the_ports(monkeypatch, tmp_path):
    from lakectl.context import LakeContext

    monkeypatch.setenv("LAKECTL_PORTS", '{"trino": 28080}')
    monkeypatch.setenv("LAKECTL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LAKECTL_RUNTIME", "native")
    endpoint = LakeContext().trino_endpoint()
    assert endpoint.url == "http://127.0.0.1:28080"


def test_endpoint_from_the_settings_url_user_and_password():
    endpoint = dbt.TrinoEndpoint.from_settings(*app(url="https://trino.example.internal/", user="analyst",
                                      password=SecretStr("s3cret"), verify_tls=False))
    assert (endpoint.host, endpoint.port, endpoint.scheme) == ("trino.example.internal", 443, "https")
    assert endpoint.user == "analyst" and endpoint.password == "s3cret" and endpoint.auth == "ldap"
    assert endpoint.verify_tls is False


def test_endpoint_with_a_jwt():
    endpoint = dbt.TrinoEndpoint.from_settings(*app("http://10.0.0.5:8081", jwt=SecretStr("eyJ.x.y")))
    assert endpoint.url == "http://10.0.0.5:8081" and endpoint.auth == "jwt" and endpoint.user == "lakectl"


def test_profile_env_sets_what_profiles_yml_reads(tmp_path):
    endpoint = dbt.TrinoEndpoint("http://127.0.0.1:37080")
    env = dbt.profile_env(endpoint, target_dir=tmp_path / "t", log_dir=tmp_path / "l", project=REPO / "dbt_project")
    assert env["LAKECTL_TRINO_HOST"] == "127.0.0.1" and env["LAKECTL_TRINO_PORT"] == "37080"
    assert env["LAKECTL_TRINO_HTTP_SCHEME"] == "http" and env["LAKECTL_DBT_TARGET"] == "none"
    assert env["DBT_TARGET_PATH"] == str(tmp_path / "t") and env["DBT_PROFILES_DIR"] == str(REPO / "dbt_project")
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert "LAKECTL_TRINO_PASSWORD" not in env and "LAKECTL_TRINO_JWT" not in env
    assert env["LAKECTL_TRINO_VERIFY"] == "True"
    assert dbt.profile_env(dbt.TrinoEndpoint("https://t", verify_tls=False), target_dir=tmp_path, log_dir=tmp_path,
                           project=tmp_path)["LAKECTL_TRINO_VERIFY"] == "False"
    # every env_var() of profiles.yml without a default is one lakectl sets for its target
    profiles = (REPO / "dbt_project" / "profiles.yml").read_text()
    for name in ("LAKECTL_TRINO_HOST", "LAKECTL_TRINO_PORT", "LAKECTL_TRINO_USER", "LAKECTL_TRINO_CATALOG",
                 "LAKECTL_TRINO_HTTP_SCHEME", "LAKECTL_DBT_TARGET"):
        assert f"env_var('{name}'" in profiles


def test_profile_env_carries_the_secret_only_for_its_method(tmp_path):
    ldap = dbt.profile_env(dbt.TrinoEndpoint("https://t:8443", password="pw"), target_dir=tmp_path,
                           log_dir=tmp_path, project=tmp_path)
    assert ldap["LAKECTL_DBT_TARGET"] == "ldap" and ldap["LAKECTL_TRINO_PASSWORD"] == "pw"
    jwt = dbt.profile_env(dbt.TrinoEndpoint("https://t:8443", jwt="tok"), target_dir=tmp_path,
                          log_dir=tmp_path, project=tmp_path)
    assert jwt["LAKECTL_DBT_TARGET"] == "jwt" and jwt["LAKECTL_TRINO_JWT"] == "tok"


def test_profiles_yml_holds_no_secret_or_host():
    text = (REPO / "dbt_project" / "profiles.yml").read_text()
    assert "password: \"{{ env_var('LAKECTL_TRINO_PASSWORD') }}\"" in text
    assert "jwt_token: \"{{ env_var('LAKECTL_TRINO_JWT') }}\"" in text
    assert "example" not in text and "localhost" not in text


def test_patched_environ_restores(monkeypatch):
    monkeypatch.setenv("LAKECTL_TRINO_HOST", "before")
    monkeypatch.delenv("LAKECTL_TRINO_PORT", raising=False)
    with dbt.patched_environ({"LAKECTL_TRINO_HOST": "during", "LAKECTL_TRINO_PORT": "1"}):
        assert os.environ["LAKECTL_TRINO_HOST"] == "during"
    assert os.environ["LAKECTL_TRINO_HOST"] == "before" and "LAKECTL_TRINO_PORT" not in os.environ


# -- dbt's command line -----------------------------------------------------------------------------
def test_dbt_args():
    assert dbt.dbt_args("docs") == ["docs", "generate"]
    assert dbt.dbt_args("freshness") == ["source", "freshness"]
    assert dbt.dbt_args("build", select=["silver+", "tag:x"], exclude=["gold.top_movers"], full_refresh=True,
                        dbt_vars="{bronze_strict: true}", extra=["--threads", "1"]) == [
        "build", "--select", "silver+", "--select", "tag:x", "--exclude", "gold.top_movers", "--full-refresh",
        "--vars", "{bronze_strict: true}", "--threads", "1"]
    with pytest.raises(UsageError):
        dbt.dbt_args("snapshot")


# -- results -> rows, exit codes --------------------------------------------------------------------
def node(uid: str, resource_type: str, status: Status, message: str | None, seconds: float = 0.5,
         failures: int | None = None):
    return SimpleNamespace(node=SimpleNamespace(unique_id=uid, resource_type=SimpleNamespace(value=resource_type)),
                           status=status, execution_time=seconds, message=message, failures=failures)


def runner_result(success: bool, nodes=(), exception=None):
    return SimpleNamespace(success=success, exception=exception,
                           result=SimpleNamespace(results=list(nodes)) if nodes else None)


def test_rows_of_a_build():
    result = runner_result(True, [
        node("model.lakectl_lakehouse.trades_clean", "model", Status.success, "CREATE TABLE (120 rows)", 1.23456),
        node("test.lakectl_lakehouse.unique_x", "test", Status.pass_, None, 0.1, failures=0),
    ])
    found = dbt.outcome("build", ["build"], result)
    assert found.exit_code == 0 and found.success
    assert found.nodes == [
        {"unique_id": "model.lakectl_lakehouse.trades_clean", "resource_type": "model", "status": "success",
         "execution_time": 1.235, "message": "CREATE TABLE (120 rows)"},
        {"unique_id": "test.lakectl_lakehouse.unique_x", "resource_type": "test", "status": "pass",
         "execution_time": 0.1, "message": None, "failures": 0},
    ]
    assert found.to_dict()["counts"] == {"success": 1, "pass": 1}
    found.raise_for_status()  # nothing


def test_freshness_rows_say_how_old_the_data_is():
    item = SimpleNamespace(node=SimpleNamespace(unique_id="source.p.bronze.trades", resource_type="source"),
                           status=Status.warn, execution_time=0.2, message=None, age=754.2)
    found = dbt.outcome("freshness", ["source", "freshness"], SimpleNamespace(
        success=True, exception=None, result=SimpleNamespace(results=[item])))
    assert found.nodes[0]["message"] == "last row 754s ago" and found.nodes[0]["status"] == "warn"


def test_a_failing_test_is_exit_1_with_the_failures_named():
    found = dbt.outcome("test", ["test"], runner_result(False, [
        node("test.p.unique_bronze_trade_id", "test", Status.fail, "Got 1 result,\n configured to fail if != 0",
             failures=1),
        node("test.p.not_null_x", "test", Status.pass_, None),
        node("test.p.warned", "test", Status.warn, "Got 3 results, configured to warn if != 0"),
    ]))
    assert found.exit_code == 1
    with pytest.raises(CheckFailed) as raised:
        found.raise_for_status()
    assert raised.value.exit_code == 1
    assert raised.value.one_line() == (
        "dbt test: 1 of 3 nodes failed: test.p.unique_bronze_trade_id: Got 1 result, configured to fail if != 0")


def test_a_dbt_usage_error_is_exit_2():
    found = dbt.outcome("run", ["run", "--no-such-flag"],
                        runner_result(False, exception=Exception("No such option: --no-such-flag")))
    assert found.exit_code == 2 and not found.nodes
    with pytest.raises(UsageError, match="dbt run: No such option: --no-such-flag"):
        found.raise_for_status()


def test_trino_going_away_is_exit_3():
    refused = Exception("Database Error\n  HTTPConnectionPool(host='127.0.0.1', port=37080): Max retries exceeded "
                        "(Caused by NewConnectionError: Failed to establish a new connection: Connection refused)")
    assert dbt.outcome("run", ["run"], runner_result(False, exception=refused)).exit_code == 3
    mid_run = dbt.outcome("run", ["run"], runner_result(False, [
        node("model.p.trades_clean", "model", Status.error, "Database Error: Connection refused"),
    ]))
    assert mid_run.exit_code == 3
    with pytest.raises(ServiceUnavailable):
        mid_run.raise_for_status()


# -- the CLI ----------------------------------------------------------------------------------------
def test_cli_unreachable_trino_is_one_line_exit_3(run, monkeypatch):
    monkeypatch.setenv("LAKECTL_PORTS", '{"trino": 1}')
    result = run("dbt", "build")
    assert result.code == 3
    assert result.err.strip() == ("lakectl: error: trino at http://127.0.0.1:1 is unreachable (ConnectError) "
                                  "(lakectl up trino)")


def test_cli_json_and_exit_code_follow_dbt(run, monkeypatch):
    seen = {}

    def fake_run(target, command, args, quiet=False):
        seen["args"], seen["quiet"] = args, quiet
        return dbt.outcome(command, args, runner_result(False, [
            node("model.p.trades_clean", "model", Status.success, "OK", 2.0),
            node("test.p.must_fail", "test", Status.fail, "Got 2 results, configured to fail if != 0", failures=2),
        ]))

    monkeypatch.setattr(dbt_ops, "run", fake_run)
    result = run("dbt", "test", "-s", "must_fail", "-o", "json", "--", "--vars", "{must_fail: true}")
    assert result.code == 1
    assert seen["args"] == ["test", "--select", "must_fail", "--vars", "{must_fail: true}"]
    assert seen["quiet"] is True  # -o json: dbt's console log is off, stderr is lakectl's one line
    data = json.loads(result.out)
    assert data["command"] == "test" and data["success"] is False and data["exit_code"] == 1
    assert [n["status"] for n in data["nodes"]] == ["success", "fail"]
    assert set(data["nodes"][1]) >= {"unique_id", "resource_type", "status", "execution_time", "message"}
    assert result.err.strip().splitlines() == [
        "lakectl: error: dbt test: 1 of 2 nodes failed: test.p.must_fail: Got 2 results, configured to fail if != 0"]


def test_cli_table_output(run, monkeypatch):
    monkeypatch.setattr(dbt_ops, "run", lambda a, c, args, quiet: dbt.outcome(c, args, runner_result(True, [
        node("model.p.ohlcv_1m", "model", Status.success, "CREATE TABLE (42 rows)")])))
    result = run("dbt", "run")
    assert result.code == 0 and "model.p.ohlcv_1m" in result.out and "success" in result.out


# -- the project ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    """dbt parses the project (no Trino needed) with every optional part switched on."""
    from dbt.cli.main import dbtRunner  # noqa: F401  (a hard dependency: fail, never skip)
    target = tmp_path_factory.mktemp("dbt-target")
    env = {**os.environ, **dbt.profile_env(dbt.TrinoEndpoint("http://127.0.0.1:1"), target_dir=target,
                                            log_dir=target / "logs", project=REPO / "dbt_project")}
    done = subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "parse", "--no-partial-parse",
         "--vars", "{reconcile_delta: true, must_fail: true, bronze_strict: true}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not (REPO / "dbt_project" / "target").exists() and not (REPO / "dbt_project" / ".user.yml").exists()
    return json.loads((target / "manifest.json").read_text())


def test_project_models_land_in_the_silver_and_gold_schemas(manifest):
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {name: (m["database"], m["schema"]) for name, m in models.items()} == {
        "trades_clean": ("iceberg", "silver"), "ohlcv_1m": ("iceberg", "gold"), "vwap": ("iceberg", "gold"),
        "top_movers": ("iceberg", "gold")}
    silver = models["trades_clean"]["config"]
    assert silver["materialized"] == "incremental" and "day(event_time)" in silver["properties"]["partitioning"]
    sources = {s["source_name"]: s for s in manifest["sources"].values()}
    assert (sources["bronze"]["database"], sources["bronze"]["schema"]) == ("iceberg", "bronze")
    assert sources["bronze_delta"]["database"] == "delta"
    freshness = sources["bronze"]["freshness"]
    assert sources["bronze"]["loaded_at_field"] == "ingested_at"
    assert freshness["warn_after"] == {"count": 10, "period": "minute"}
    assert freshness["error_after"] == {"count": 1, "period": "hour"}


def test_project_tests_cover_the_layers(manifest):
    tests = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    names = set(tests)
    for expected in ("unique_trades_clean_trade_id", "not_null_trades_clean_trade_id",
                     "accepted_values_trades_clean_side__BUY__SELL", "assert_bad_bronze_rows_are_not_in_silver",
                     "assert_silver_keeps_the_first_arrival", "assert_silver_obeys_the_trade_rules",
                     "assert_ohlcv_bars_are_consistent", "assert_vwap_matches_silver",
                     "accepted_values_top_movers_direction__up__down__flat", "assert_delta_matches_iceberg",
                     "assert_must_fail_planted_trades_absent"):
        assert expected in names
    relationships = {n for n in names if n.startswith("relationships_")}
    for gold in ("ohlcv_1m", "vwap", "top_movers"):
        assert any(r.startswith(f"relationships_{gold}_symbol") and "trades_clean" in r for r in relationships)
    # bronze_strict turns the Bronze duplicate check from a warning into a failure
    assert tests["source_unique_bronze_trades_trade_id"]["config"]["severity"].lower() == "error"


def test_the_delta_reconcile_is_asked_for_by_a_var():
    assert dbt.wants_delta(["test", "--vars", "{reconcile_delta: true}"])
    assert dbt.wants_delta(["build", "--select", "x", "--vars", "reconcile_delta: True"])
    assert not dbt.wants_delta(["build", "--vars", "{reconcile_delta: false}"])
    assert not dbt.wants_delta(["build", "--vars", "{bronze_strict: true}"])
    assert not dbt.wants_delta(["build", "--vars", "{unclosed"]) and not dbt.wants_delta(["build", "--vars"])


def test_project_parses_with_the_jwt_profile_and_tls_unverified(tmp_path):
    """The ldap and jwt targets render too (profiles.yml's as_bool and secrets), without Trino."""
    from dbt.cli.main import dbtRunner  # noqa: F401  (a hard dependency: fail, never skip)
    endpoint = dbt.TrinoEndpoint("https://127.0.0.1:1", jwt="eyJ.x.y", verify_tls=False)
    env = {**os.environ, **dbt.profile_env(endpoint, target_dir=tmp_path, log_dir=tmp_path / "logs",
                                            project=REPO / "dbt_project")}
    done = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", "parse", "--no-partial-parse"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
