"""`lakectl maintain` without services: durations, table selection, the retention floor and the stream's
restore point, Trino's SQL, commit-conflict retries, the runner's bookkeeping (a failure never stops the
other actions) and the command's output and errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lakectl import pipeline_spec
from lakectl.components import trino as t
from lakectl.errors import ServiceUnavailable, UsageError
from lakectl.ops import maintain as m
from lakectl.settings import format_duration, load_settings, parse_duration
from tests.unit.test_cli_errors import assert_one_line

TRADES = pipeline_spec.load("trades")


# -- durations and settings ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800),
                                               ("2w", 1209600), ("1.5h", 5400), (" 0s ", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["7", "d", "-1h", "1y", "1h30m", ""])
def test_not_durations(bad):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)


def test_durations_are_written_in_their_largest_exact_unit():
    assert [format_duration(s) for s in (604800, 86400, 3600, 5400, 90, 0, 1.5)] == [
        "7d", "1d", "1h", "90m", "90s", "0s", "1.5s"]


def test_maintenance_settings_defaults_and_refusals(monkeypatch, tmp_path):
    conf = load_settings(cwd=tmp_path).settings.maintenance
    assert (conf.snapshot_retention, conf.orphan_retention, conf.target_file_size_mb) == ("1d", "7d", 128)
    monkeypatch.setenv("LAKECTL_MAINTENANCE__ORPHAN_RETENTION", "a week")
    with pytest.raises(UsageError, match=r"maintenance.orphan_retention' from env.*not a duration"):
        load_settings(cwd=tmp_path)
    monkeypatch.delenv("LAKECTL_MAINTENANCE__ORPHAN_RETENTION")
    with pytest.raises(UsageError, match=r"target_file_size_mb.*1\.\.4096"):
        load_settings(cwd=tmp_path, flags={"maintenance": {"target_file_size_mb": 0}})


# -- which tables, which retentions -------------------------------------------------------------------
def spec(name: str, formats=("iceberg", "delta"), interval: float = 10.0) -> pipeline_spec.PipelineSpec:
    return replace(TRADES, name=name, topic=name, formats=tuple(formats), checkpoint_interval_s=interval, silver=None)


def test_every_declared_format_of_every_pipeline_unless_narrowed():
    specs = [spec("a"), spec("b", formats=("delta",))]
    assert [(x.pipeline, x.format, x.name) for x in m.select(specs)] == [
        ("a", "iceberg", "bronze.a"), ("a", "delta", "bronze.a"), ("b", "delta", "bronze.b")]
    assert [(x.pipeline, x.format) for x in m.select(specs, "iceberg")] == [("a", "iceberg")]
    with pytest.raises(UsageError, match="--format must be iceberg or delta"):
        m.select(specs, "hudi")


def test_the_orphan_floor_is_an_hour_or_three_checkpoint_intervals():
    assert m.orphan_floor_s(m.select([spec("a", interval=10)])) == 3600
    assert m.orphan_floor_s(m.select([spec("a", interval=10), spec("b", interval=1800)])) == 5400
    assert m.orphan_floor_s([]) == 3600


def test_an_orphan_retention_below_the_floor_is_refused_with_the_reason():
    targets = m.select([spec("a")])
    m.check_retentions(m.Retentions(0, 3600, 128), targets)
    with pytest.raises(UsageError) as refused:
        m.check_retentions(m.Retentions(0, 1800, 128), targets, orphan_source="from flag")
    line = refused.value.one_line()
    assert "orphan retention 30m (from flag) is below the floor of 1h" in line
    assert "written before the checkpoint that commits them" in line and "\n" not in line
    with pytest.raises(UsageError, match="cannot be negative"):
        m.check_retentions(m.Retentions(-1, 7 * 86400, 128), targets)


def test_expiry_keeps_the_streams_restore_point():
    # a live stream: its last commit is recent, the requested retention stands
    assert m.expire_retention_s(86400, 5) == (86400, None)
    assert m.expire_retention_s(3600, None) == (3600, None)  # not a stream's table
    # a job down for two days, retention one day: expiry would remove the snapshot its restore looks for
    kept, why = m.expire_retention_s(86400, 2 * 86400)
    assert kept == 2 * 86400 + m.RESTORE_POINT_MARGIN_S
    assert why.startswith("retention raised to ") and "restore point" in why and "is 2d old" in why


# -- Trino's SQL ----------------------------------------------------------------------------------------
def test_iceberg_procedures_sql():
    assert t.iceberg_optimize_sql("bronze", "trades", 128) == (
        'ALTER TABLE iceberg."bronze"."trades" EXECUTE optimize(file_size_threshold => \'128MB\')')
    assert t.iceberg_optimize_manifests_sql("bronze", "trades") == (
        'ALTER TABLE iceberg."bronze"."trades" EXECUTE optimize_manifests')
    assert t.iceberg_expire_snapshots_sql("bronze", "trades", 86400) == (
        'ALTER TABLE iceberg."bronze"."trades" EXECUTE expire_snapshots(retention_threshold => \'86400s\')')
    assert t.iceberg_remove_orphan_files_sql("bronze", 'we"ird', 3600.2) == (
        'ALTER TABLE iceberg."bronze"."we""ird" EXECUTE remove_orphan_files(retention_threshold => \'3601s\')')
    assert t.iceberg_table("bronze", "trades", "snapshots") == 'iceberg."bronze"."trades$snapshots"'
    assert t.trino_duration(0) == "0s" and t.trino_duration(-3) == "0s"


class Cursor:
    def __init__(self, outcomes: list, seen: list) -> None:
        self.outcomes, self.seen = outcomes, seen
        self.description, self.warnings = [("n", "bigint")], []

    def execute(self, sql, params=None):
        self.seen.append(sql)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome

    def fetchall(self):
        return [[1]]


class Connection:
    def __init__(self, outcomes: list) -> None:
        self.outcomes, self.seen = outcomes, []

    def cursor(self):
        return Cursor(self.outcomes, self.seen)


def conflict(name: str = "ICEBERG_COMMIT_ERROR"):
    from trino import exceptions

    return exceptions.TrinoQueryError({"message": "Failed to update table due to concurrent updates",
                                       "errorName": name, "errorType": "EXTERNAL"})


def test_a_procedure_that_lost_a_commit_race_is_run_again(monkeypatch):
    monkeypatch.setattr(t.time, "sleep", lambda _s: None)
    client = t.TrinoClient(Connection([conflict(), conflict(), None]), "http://trino")
    assert client.execute_committing("ALTER TABLE x EXECUTE optimize_manifests").rows == [[1]]
    assert len(client.connection.seen) == 3
    client = t.TrinoClient(Connection([conflict()] * 4), "http://trino")
    with pytest.raises(t.QueryFailed, match="concurrent updates"):
        client.execute_committing("ALTER TABLE x EXECUTE optimize_manifests")
    other = t.TrinoClient(Connection([conflict("GENERIC_INTERNAL_ERROR"), None]), "http://trino")
    with pytest.raises(t.QueryFailed):
        other.execute_committing("ALTER TABLE x EXECUTE optimize")
    assert len(other.connection.seen) == 1  # only commit conflicts are retried


# -- the runner -----------------------------------------------------------------------------------------
class FakeTrino:
    """Trino with one Iceberg table whose state each procedure changes as Trino would."""

    def __init__(self, tables=("a",), fail: dict[str, Exception] | None = None, age: float | None = 2.0) -> None:
        self.tables, self.fail, self.age = set(tables), fail or {}, age
        self.files, self.manifests, self.snapshots = 50, 40, set(range(100))
        self.statements: list[str] = []
        self.session: dict[str, str] = {}
        self.closed = False

    def execute_committing(self, sql):
        self.statements.append(sql)
        for word, exc in self.fail.items():
            if word in sql:
                raise exc
        if "optimize(" in sql:
            self.files = 2
        elif "optimize_manifests" in sql:
            self.manifests = 1
        elif "expire_snapshots" in sql:
            self.snapshots = {99}

    def set_session(self, name, value):
        self.session[name] = value

    def close(self):
        self.closed = True


class FakeLakehouse:
    def __init__(self, store: FakeStore, versions=(0, 1, 2)) -> None:
        self.store, self.versions, self.calls = store, list(versions), []

    def iceberg_table(self, identifier):
        return type("T", (), {"location": lambda _self: "s3://lake/iceberg/" + identifier.replace(".", "/")})()

    def delta_uri(self, layer, name):
        return f"s3://lake/delta/{layer}/{name}"

    def delta_log_versions(self, layer, name):
        return list(self.versions)

    def delta_files(self, layer, name):
        return (30, 3000) if "compact" not in self.calls else (1, 2900)

    def delta_compact(self, layer, name, mb):
        self.calls.append("compact")
        return {"numFilesRemoved": 30, "numFilesAdded": 1}

    def delta_vacuum(self, layer, name, retention_s, *, full):
        self.calls.append(("vacuum", retention_s, full))
        # delta-rs names every removed file the log still records, also those an earlier vacuum deleted
        return ["part-1.parquet", "part-gone.parquet"] if not full else ["orphan.parquet"]

    def delta_checkpoint(self, layer, name):
        self.calls.append("checkpoint")
        return self.versions[-1]

    def delta_cleanup_log(self, layer, name):
        self.calls.append("clean_log")
        self.versions = self.versions[-1:]


class FakeStore:
    def __init__(self, objects: dict[str, tuple[int, float]]) -> None:
        self.listed = dict(objects)

    def objects(self, uri):
        prefix = uri.removeprefix("s3://")
        return {k: v for k, v in self.listed.items() if k.startswith(prefix)}


def run_maintain(trino: FakeTrino, targets, lake=None, store=None, retentions=m.Retentions(0, 3600, 128)):
    store = store or FakeStore({})
    lake = lake or FakeLakehouse(store)
    done: list[m.Action] = []
    report = m.maintain(m.MaintainStack(lambda: trino, lake, store), targets, retentions, done=done.append)
    assert done == report.actions
    return report


def test_iceberg_actions_their_counts_and_lakectls_own_min_retentions(iceberg_catalogue):
    trino = FakeTrino()
    report = run_maintain(trino, m.select([spec("a", formats=("iceberg",))]), retentions=m.Retentions(0, 7200, 64))
    by = {a.action: a for a in report.actions}
    assert list(by) == list(m.ACTIONS["iceberg"]) and not report.failed
    assert (by["compact"].before, by["compact"].after, by["compact"].unit) == (50, 2, "files")
    assert (by["compact"].bytes_before, by["compact"].bytes_after) == (50_000, 2_000)
    assert (by["rewrite_manifests"].before, by["rewrite_manifests"].after) == (40, 1)
    assert (by["expire_snapshots"].before, by["expire_snapshots"].after, by["expire_snapshots"].removed) == (100, 1, 99)
    # the restore point (2 s old) is kept: retention 0 becomes its age plus the margin
    assert "retention raised to 62s" in by["expire_snapshots"].detail
    assert trino.session == {t.EXPIRE_MIN_RETENTION: "62s", t.ORPHANS_MIN_RETENTION: "7200s"}
    assert "file_size_threshold => '64MB'" in trino.statements[0]
    assert trino.closed


@pytest.fixture
def iceberg_catalogue(monkeypatch):
    monkeypatch.setattr(t, "iceberg_exists", lambda client, schema, table: table in client.tables)
    monkeypatch.setattr(t, "iceberg_state", lambda client, schema, table: t.IcebergState(
        client.files, client.files * 1000, client.manifests, set(client.snapshots), client.age))


def test_a_failing_action_is_reported_and_the_others_still_run(iceberg_catalogue):
    trino = FakeTrino(fail={"optimize_manifests": t.QueryFailed("ICEBERG_COMMIT_ERROR: concurrent updates")})
    report = run_maintain(trino, m.select([spec("a")]))
    statuses = {(a.format, a.action): a.status for a in report.actions}
    assert statuses[("iceberg", "rewrite_manifests")] == "failed"
    assert all(s == "ok" for k, s in statuses.items() if k != ("iceberg", "rewrite_manifests"))
    assert [a.action for a in report.failed] == ["rewrite_manifests"]
    assert report.to_dict()["ok"] is False and "concurrent updates" in report.failed[0].detail


def test_trino_down_fails_each_iceberg_action_once_and_delta_goes_on(monkeypatch):
    def down(client, schema, table):
        raise ServiceUnavailable("trino at http://trino is unreachable")

    monkeypatch.setattr(t, "iceberg_exists", down)
    report = run_maintain(FakeTrino(), m.select([spec("a"), spec("b")]))
    iceberg = [a for a in report.actions if a.format == "iceberg"]
    assert len(iceberg) == 2 * len(m.ACTIONS["iceberg"]) and all(a.status == "failed" for a in iceberg)
    assert all("unreachable" in a.detail for a in iceberg)
    assert all(a.status == "ok" for a in report.actions if a.format == "delta")


def test_missing_tables_are_skipped_not_failed(iceberg_catalogue):
    store = FakeStore({})
    report = run_maintain(FakeTrino(tables=()), m.select([spec("a")]), lake=FakeLakehouse(store, versions=()),
                          store=store)
    assert [(a.format, a.action, a.status, a.detail) for a in report.actions] == [
        ("iceberg", "-", "skipped", "no table yet"), ("delta", "-", "skipped", "no table yet")]
    assert not report.failed


def test_delta_actions_count_only_what_was_there():
    now = 1_000_000.0
    store = FakeStore({"lake/delta/bronze/a/part-1.parquet": (100, now),
                       "lake/delta/bronze/a/orphan.parquet": (7, 0.0)})
    lake = FakeLakehouse(store, versions=(0, 1, 2, 3))
    report = run_maintain(FakeTrino(), m.select([spec("a", formats=("delta",))]), lake=lake, store=store,
                 retentions=m.Retentions(60, 7200, 128))
    by = {a.action: a for a in report.actions}
    assert list(by) == list(m.ACTIONS["delta"]) and not report.failed
    assert (by["compact"].before, by["compact"].after, by["compact"].removed) == (30, 1, 30)
    assert (by["expire_versions"].removed, by["expire_versions"].bytes_removed) == (1, 100)  # part-gone was gone
    assert (by["remove_orphan_files"].removed, by["remove_orphan_files"].bytes_removed) == (1, 7)
    assert (by["checkpoint"].after, by["checkpoint"].unit) == (3, "version")
    assert (by["clean_log"].before, by["clean_log"].after, by["clean_log"].removed) == (4, 1, 3)
    # removed files go after the snapshot retention, unreferenced ones after the orphan retention
    assert [c for c in lake.calls if c[0] == "vacuum"] == [("vacuum", 60, False), ("vacuum", 7200, True)]


def test_a_full_vacuum_never_undercuts_the_snapshot_retention():
    store = FakeStore({})
    lake = FakeLakehouse(store)
    run_maintain(FakeTrino(), m.select([spec("a", formats=("delta",))]), lake=lake, store=store,
        retentions=m.Retentions(30 * 86400, 7 * 86400, 128))
    assert ("vacuum", 30 * 86400, True) in lake.calls


def test_iceberg_orphans_count_only_objects_older_than_the_retention():
    action = m.Action("a", "iceberg", "bronze.a", "remove_orphan_files")
    before = {"old-orphan": (10, 100.0), "fresh-flink-manifest": (5, 5000.0), "kept": (1, 100.0)}
    m._count_removed(action, before, {"kept": (1, 100.0), "new": (3, 6000.0)}, older_than=1000.0)
    assert (action.before, action.after, action.removed, action.bytes_removed) == (3, 2, 1, 10)


# -- the command ----------------------------------------------------------------------------------------
def test_unknown_pipeline_and_low_retention_are_one_line_exit_2(run):
    assert_one_line(run("maintain", "--pipeline", "nope"), 2, "no pipeline 'nope'", "pipelines: ")
    assert_one_line(run("maintain", "--orphan-retention", "10m"), 2, "orphan retention 10m (from flag)",
                    "floor of 1h")
    assert_one_line(run("maintain", "--snapshot-retention", "soon"), 2, "maintenance.snapshot_retention",
                    "not a duration")
    assert_one_line(run("maintain", "--format", "hudi"), 2, "--format must be iceberg or delta")


@pytest.fixture
def no_stack(monkeypatch):
    from lakectl.context import LakeContext

    monkeypatch.setattr(LakeContext, "lakehouse", lambda self: None)
    monkeypatch.setattr(LakeContext, "s3", lambda self: None)


def test_json_report_and_exit_1_when_an_action_failed(run, monkeypatch, no_stack):
    seen = {}

    def fake(stack, targets, retentions, *, progress, done):
        seen["targets"], seen["retentions"] = targets, retentions
        report = m.MaintainReport(retentions, seconds=1.5)
        report.actions = [m.Action("trades", "iceberg", "bronze.trades", "compact", unit="files", before=9, after=1,
                                   seconds=0.4),
                          m.Action("trades", "delta", "bronze.trades", "checkpoint", status="failed",
                                   detail="DeltaError: boom")]
        for action in report.actions:
            done(action)
        return report

    monkeypatch.setattr(m, "maintain", fake)
    result = run("maintain", "--pipeline", "trades", "--snapshot-retention", "2h", "-o", "json")
    assert result.code == 1
    data = json.loads(result.out)
    assert (data["snapshot_retention"], data["orphan_retention"], data["ok"]) == ("2h", "7d", False)
    assert [a["action"] for a in data["actions"]] == ["compact", "checkpoint"]
    assert [(x.format, x.name) for x in seen["targets"]] == [("iceberg", "bronze.trades"), ("delta", "bronze.trades")]
    assert seen["retentions"] == m.Retentions(7200, 7 * 86400, 128)
    err = result.err.strip().splitlines()
    assert "iceberg bronze.trades compact: ok, 9 -> 1 files (0.4 s)" in err
    assert err[-1] == ("lakectl: error: 1 of 2 maintenance actions failed; first: delta bronze.trades checkpoint: "
                       "DeltaError: boom")


def test_table_output_for_people(run, monkeypatch, no_stack):
    def fake(stack, targets, retentions, *, progress, done):
        report = m.MaintainReport(retentions, seconds=3.0)
        report.actions = [m.Action("trades", "delta", "bronze.trades", "compact", unit="files", before=900, after=3,
                                   removed=900, bytes_before=9 << 20, bytes_after=8 << 20, seconds=2.5)]
        return report

    monkeypatch.setattr(m, "maintain", fake)
    result = run("maintain", "--format", "delta")
    assert result.code == 0, result.err
    assert "snapshot retention 1d, orphan retention 7d" in result.out
    assert "900 -> 3 files" in result.out and "9.0 MB -> 8.0 MB" in result.out


def test_the_maintenance_dag_runs_lakectl_maintain_on_its_schedule(monkeypatch):
    dag = load_dag(monkeypatch, {})
    assert dag.kwargs["dag_id"] == "lakehouse_maintenance" and dag.kwargs["schedule"] == "@daily"
    assert dag.kwargs["max_active_runs"] == 1 and dag.kwargs["catchup"] is False
    [task] = dag.tasks
    assert task["task_id"] == "maintain"
    command = task["bash_command"]
    assert command.startswith('cd "${LAKECTL_PROJECT_DIR:-.}" && ${LAKECTL_BIN:?')
    assert "maintain -o json" in command and "params.pipelines" in command
    assert load_dag(monkeypatch, {"LAKECTL_MAINTENANCE_SCHEDULE": "0 3 * * *"}).kwargs["schedule"] == "0 3 * * *"
    assert load_dag(monkeypatch, {"LAKECTL_MAINTENANCE_SCHEDULE": "none"}).kwargs["schedule"] is None


def load_dag(monkeypatch, env: dict[str, str]):
    """dags/maintenance.py against a stand-in of the few Airflow names it uses (Airflow has its own venv;
    tests/e2e/test_dag.py parses the DAG with the real one)."""
    import runpy
    import sys
    import types

    class DAG:
        current = None

        def __init__(self, **kwargs):
            self.kwargs, self.tasks = kwargs, []

        def __enter__(self):
            DAG.current = self
            return self

        def __exit__(self, *exc):
            DAG.current = None

    def bash_operator(**kwargs):
        DAG.current.tasks.append(kwargs)
        return kwargs

    sdk = types.ModuleType("airflow.sdk")
    sdk.DAG, sdk.Param = DAG, lambda default=None, **kw: {"default": default, **kw}
    bash = types.ModuleType("airflow.providers.standard.operators.bash")
    bash.BashOperator = bash_operator
    for name in ("airflow", "airflow.providers", "airflow.providers.standard", "airflow.providers.standard.operators"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    monkeypatch.setitem(sys.modules, "airflow.providers.standard.operators.bash", bash)
    monkeypatch.delenv("LAKECTL_MAINTENANCE_SCHEDULE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(Path(__file__).resolve().parents[2] / "dags" / "maintenance.py"))["dag"]



def test_tables_no_pipeline_declares_are_named_bronze_dot_name():
    from lakectl.errors import UsageError
    from lakectl.ops.maintain import select_tables

    targets = select_tables(["bronze.soak_1", "bronze.soak_1"], None, 3.0)
    assert [(t.format, t.name, t.checkpoint_interval_s) for t in targets] == [
        ("iceberg", "bronze.soak_1", 3.0), ("delta", "bronze.soak_1", 3.0)]
    assert [t.format for t in select_tables(["bronze.x"], "delta", 3.0)] == ["delta"]
    for bad in ("soak_1", "silver.x", "bronze.", "bronze.a-b"):
        with pytest.raises(UsageError, match="--table"):
            select_tables([bad], None, 3.0)
