"""``lakectl maintain``: keep the Bronze tables of the declared pipelines fast while their jobs write.

Every checkpoint of a Bronze job commits a snapshot (Iceberg) and a version (Delta) holding a few small
files; left alone, files, snapshots, manifests and log entries pile up and every read slows down. Per
table and format, in this order:

  iceberg: Trino's table procedures             delta: delta-rs
  compact              optimize                   compact              optimize.compact
  rewrite_manifests    optimize_manifests         expire_versions      vacuum of the files commits removed
  expire_snapshots     expire_snapshots           remove_orphan_files  vacuum (full)
  remove_orphan_files  remove_orphan_files        checkpoint           create_checkpoint
                                                  clean_log            cleanup_metadata

Why these engines (measured): docs/design.md, "Table maintenance".

Safety while the stream writes:
- Compaction and expiry commit like any writer: Iceberg's optimistic commits and Delta's conditional PUTs
  (flink_jobs/delta_sink ConditionalPutLogStore) make a concurrent stream commit retry, never fail or vanish.
- Orphans: a Bronze job writes its data files BEFORE the checkpoint that commits them, and a job that is
  stopped (or failed) commits its last checkpoint's files only when it is restored, however long that takes.
  Until then those files are referenced by nothing and look exactly like orphans. Orphan removal therefore
  only deletes files older than ``orphan_retention`` (7 days by default), which must exceed the longest time
  a job may stay down: lakectl refuses less than ``ORPHAN_FLOOR_S`` or three checkpoint intervals.
- Exactly-once: when restored, the Flink Iceberg committer looks for the newest snapshot its job committed
  (``flink.max-committed-checkpoint-id``) among the current snapshot and its ancestors, and re-commits the
  checkpoints after it. Were that snapshot expired (a job down longer than the snapshot retention while a
  compaction made newer snapshots), it would commit its restored files a second time. Expiry therefore
  always keeps that snapshot: the retention grows to its age when needed. Delta keeps the same record as a
  ``SetTransaction`` in every checkpoint, which delta-rs writes too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lakectl.errors import LakectlError, ServiceUnavailable, UsageError
from lakectl.settings import format_duration

if TYPE_CHECKING:
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.components.object_store import S3Location
    from lakectl.components.trino import TrinoClient
    from lakectl.pipeline_spec import PipelineSpec

LAYER = "bronze"
FORMATS = ("iceberg", "delta")
ACTIONS = {
    "iceberg": ("compact", "rewrite_manifests", "expire_snapshots", "remove_orphan_files"),
    "delta": ("compact", "expire_versions", "remove_orphan_files", "checkpoint", "clean_log"),
}
# the least orphan retention lakectl accepts: a checkpoint interval plus a restart are seconds to minutes; an
# hour leaves room for a job that is down a while. A pipeline with long checkpoints needs three of them.
ORPHAN_FLOOR_S = 3600.0
ORPHAN_FLOOR_CHECKPOINTS = 3
# expiry keeps the stream's restore point with this much to spare: its age is read by Trino's clock from the
# commit time Flink's clock wrote
RESTORE_POINT_MARGIN_S = 60.0


@dataclass(frozen=True)
class Target:
    """One Bronze table of one pipeline, in one format."""

    pipeline: str
    format: str
    table: str
    checkpoint_interval_s: float
    layer: str = LAYER

    @property
    def name(self) -> str:
        return f"{self.layer}.{self.table}"


@dataclass(frozen=True)
class Retentions:
    snapshot_s: float
    orphan_s: float
    target_file_size_mb: int

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot_retention": format_duration(self.snapshot_s),
                "orphan_retention": format_duration(self.orphan_s),
                "target_file_size_mb": self.target_file_size_mb}


@dataclass
class Action:
    """What one maintenance step did to one table: ``before``/``after`` count ``unit`` (files, snapshots,
    manifests, versions); ``removed`` is exact where known (snapshots, files deleted)."""

    pipeline: str
    format: str
    table: str
    action: str
    status: str = "ok"  # ok | failed | skipped
    seconds: float = 0.0
    unit: str | None = None
    before: int | None = None
    after: int | None = None
    removed: int | None = None
    bytes_before: int | None = None
    bytes_after: int | None = None
    bytes_removed: int | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MaintainReport:
    retentions: Retentions
    actions: list[Action] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Action]:
        return [a for a in self.actions if a.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {**self.retentions.to_dict(), "ok": not self.failed, "seconds": round(self.seconds, 2),
                "actions": [a.to_dict() for a in self.actions]}


# -- what to maintain, and with which retentions -------------------------------------------------------
def select(specs: Sequence[PipelineSpec], table_format: str | None = None) -> list[Target]:
    """The Bronze tables of ``specs`` in the formats each declares (only ``table_format`` when given)."""
    if table_format is not None and table_format not in FORMATS:
        raise UsageError(f"--format must be iceberg or delta, not {table_format!r}")
    return [Target(spec.name, fmt, spec.table, spec.checkpoint_interval_s)
            for spec in specs for fmt in spec.formats if table_format in (None, fmt)]


def select_tables(names: Sequence[str], table_format: str | None, checkpoint_interval_s: float) -> list[Target]:
    """Bronze tables that no pipeline declares (a job submitted by hand), named ``bronze.NAME``, in both
    formats (only ``table_format`` when given); ``checkpoint_interval_s`` is the stack's default."""
    if table_format is not None and table_format not in FORMATS:
        raise UsageError(f"--format must be iceberg or delta, not {table_format!r}")
    targets = []
    for name in dict.fromkeys(names):
        layer, _, table = name.rpartition(".")
        if layer != LAYER or not table or not table.replace("_", "").isalnum():
            raise UsageError(f"--table must name a Bronze table as {LAYER}.NAME, not {name!r}")
        targets += [Target("", fmt, table, checkpoint_interval_s) for fmt in FORMATS if table_format in (None, fmt)]
    return targets


def orphan_floor_s(targets: Sequence[Target]) -> float:
    longest = max((t.checkpoint_interval_s for t in targets), default=0.0)
    return max(ORPHAN_FLOOR_S, ORPHAN_FLOOR_CHECKPOINTS * longest)


def check_retentions(retentions: Retentions, targets: Sequence[Target], *, orphan_source: str = "setting") -> None:
    """Refuse an orphan retention the stream's uncommitted files would not survive (UsageError, exit 2)."""
    if retentions.snapshot_s < 0:
        raise UsageError("the snapshot retention cannot be negative")
    floor = orphan_floor_s(targets)
    if retentions.orphan_s < floor:
        raise UsageError(
            f"orphan retention {format_duration(retentions.orphan_s)} ({orphan_source}) is below the floor of "
            f"{format_duration(floor)}: a Bronze job's files are written before the checkpoint that commits them, "
            "and a stopped job commits them when restored; until then they look like orphans",
            hint="keep it above the longest time a job may be down; the default is 7d")


def expire_retention_s(requested_s: float, restore_point_age_s: float | None) -> tuple[float, str | None]:
    """The retention Iceberg expiry runs with: ``requested_s``, or longer so that the stream's restore point
    (the newest snapshot its job committed, ``restore_point_age_s`` old) stays."""
    if restore_point_age_s is None or restore_point_age_s + RESTORE_POINT_MARGIN_S <= requested_s:
        return requested_s, None
    kept = float(round(restore_point_age_s + RESTORE_POINT_MARGIN_S))
    return kept, (f"retention raised to {format_duration(kept)}: the stream's restore point (its last commit) "
                  f"is {format_duration(round(restore_point_age_s))} old")


# -- running it -----------------------------------------------------------------------------------------
@dataclass
class MaintainStack:
    """The clients maintenance needs: Trino for Iceberg, delta-rs (and the object store) for Delta."""

    trino: Callable[[], TrinoClient]
    lakehouse: Lakehouse
    s3: S3Location


def maintain(stack: MaintainStack, targets: Sequence[Target], retentions: Retentions, *,
             progress: Callable[[str], None] = lambda _msg: None,
             done: Callable[[Action], None] = lambda _action: None) -> MaintainReport:
    """Run every action on every target; a failing action is reported and the others still run."""
    report = MaintainReport(retentions)
    started = time.perf_counter()
    runner = _Runner(stack, retentions, progress, done, report)
    try:
        for target in targets:
            if target.format == "iceberg":
                runner.iceberg(target)
            else:
                runner.delta(target)
    finally:
        runner.close()
    report.seconds = time.perf_counter() - started
    return report


class _Runner:
    def __init__(self, stack: MaintainStack, retentions: Retentions, progress: Callable[[str], None],
                 done: Callable[[Action], None], report: MaintainReport) -> None:
        self.stack, self.retentions, self.progress, self.done, self.report = stack, retentions, progress, done, report
        self._trino: TrinoClient | None = None
        self.down: dict[str, str] = {}  # system -> why it is unavailable (its remaining actions are not tried)

    def trino(self) -> TrinoClient:
        if self._trino is None:
            self._trino = self.stack.trino()
        return self._trino

    def close(self) -> None:
        if self._trino is not None:
            self._trino.close()

    def step(self, target: Target, name: str, system: str, body: Callable[[Action], None]) -> Action:
        action = Action(target.pipeline, target.format, target.name, name)
        if system in self.down:
            action.status, action.detail = "failed", self.down[system]
        else:
            self.progress(f"{target.format} {target.name}: {name}")
            started = time.perf_counter()
            try:
                body(action)
            except ServiceUnavailable as exc:
                self.down[system] = exc.one_line()
                action.status, action.detail = "failed", exc.one_line()
            except LakectlError as exc:
                action.status, action.detail = "failed", exc.one_line()
            except Exception as exc:  # a library's own error (pyarrow, delta-rs): this action failed, not the run
                action.status, action.detail = "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            action.seconds = round(time.perf_counter() - started, 2)
        self.report.actions.append(action)
        self.done(action)
        return action

    def fail_all(self, target: Target, why: str) -> None:
        """The table could not even be looked at: each of its actions failed for the same reason."""
        for name in ACTIONS[target.format]:
            action = Action(target.pipeline, target.format, target.name, name, status="failed", detail=why)
            self.report.actions.append(action)
            self.done(action)

    def skipped(self, target: Target, why: str) -> None:
        action = Action(target.pipeline, target.format, target.name, "-", status="skipped", detail=why)
        self.report.actions.append(action)
        self.done(action)

    # -- Iceberg: Trino's table procedures --------------------------------------------------------------
    def iceberg(self, target: Target) -> None:
        from lakectl.components import trino as t

        try:
            if "trino" in self.down:
                raise ServiceUnavailable(self.down["trino"])
            exists = t.iceberg_exists(self.trino(), target.layer, target.table)
        except LakectlError as exc:
            if isinstance(exc, ServiceUnavailable):
                self.down["trino"] = exc.one_line()
            self.fail_all(target, exc.one_line())
            return
        if not exists:
            self.skipped(target, "no table yet")
            return
        schema, table, ret = target.layer, target.table, self.retentions
        state: dict[str, t.IcebergState] = {}

        def read() -> t.IcebergState:
            state["now"] = t.iceberg_state(self.trino(), schema, table)
            return state["now"]

        def compact(action: Action) -> None:
            before = state.get("now") or read()
            self.trino().execute_committing(t.iceberg_optimize_sql(schema, table, ret.target_file_size_mb))
            after = read()
            action.unit, action.before, action.after = "files", before.data_files, after.data_files
            action.bytes_before, action.bytes_after = before.data_bytes, after.data_bytes

        def manifests(action: Action) -> None:
            before = state.get("now") or read()
            self.trino().execute_committing(t.iceberg_optimize_manifests_sql(schema, table))
            after = read()
            action.unit, action.before, action.after = "manifests", before.manifests, after.manifests

        def expire(action: Action) -> None:
            before = state.get("now") or read()
            retention, why = expire_retention_s(ret.snapshot_s, before.stream_commit_age_s)
            self.trino().set_session(t.EXPIRE_MIN_RETENTION, t.trino_duration(retention))
            self.trino().execute_committing(t.iceberg_expire_snapshots_sql(schema, table, retention))
            after = read()
            action.unit, action.before, action.after = "snapshots", len(before.snapshot_ids), len(after.snapshot_ids)
            action.removed = len(before.snapshot_ids - after.snapshot_ids)
            action.detail = why

        def orphans(action: Action) -> None:
            location = self.stack.lakehouse.iceberg_table(f"{schema}.{table}").location()
            before, started = self.stack.s3.objects(location), time.time()
            self.trino().set_session(t.ORPHANS_MIN_RETENTION, t.trino_duration(ret.orphan_s))
            self.trino().execute_committing(t.iceberg_remove_orphan_files_sql(schema, table, ret.orphan_s))
            _count_removed(action, before, self.stack.s3.objects(location), older_than=started - ret.orphan_s)

        for name, body in zip(ACTIONS["iceberg"], (compact, manifests, expire, orphans), strict=True):
            self.step(target, name, "trino", body)

    # -- Delta: delta-rs --------------------------------------------------------------------------------
    def delta(self, target: Target) -> None:
        lake, layer, table, ret = self.stack.lakehouse, target.layer, target.table, self.retentions
        try:
            versions = lake.delta_log_versions(layer, table)
        except ServiceUnavailable as exc:
            self.fail_all(target, exc.one_line())
            return
        if not versions:
            self.skipped(target, "no table yet")
            return
        uri = lake.delta_uri(layer, table)

        def compact(action: Action) -> None:
            files, size = lake.delta_files(layer, table)
            metrics = lake.delta_compact(layer, table, ret.target_file_size_mb)
            action.unit, action.before, action.bytes_before = "files", files, size
            action.after, action.bytes_after = lake.delta_files(layer, table)
            action.removed = int(metrics.get("numFilesRemoved", 0))

        def vacuum(retention_s: float, *, full: bool) -> Callable[[Action], None]:
            def run(action: Action) -> None:
                before = self.stack.s3.objects(uri)
                prefix = uri.removeprefix("s3://").rstrip("/") + "/"
                # delta-rs also lists (and deletes again, harmlessly) removed files an earlier vacuum deleted,
                # as long as the log still records their removal: only files that were there count
                deleted = [p for p in lake.delta_vacuum(layer, table, retention_s, full=full) if prefix + p in before]
                action.unit, action.removed = "files", len(deleted)
                action.bytes_removed = sum(before[prefix + path][0] for path in deleted)
            return run

        def checkpoint(action: Action) -> None:
            action.unit, action.after = "version", lake.delta_checkpoint(layer, table)

        def clean_log(action: Action) -> None:
            before = lake.delta_log_versions(layer, table)
            lake.delta_cleanup_log(layer, table)
            after = lake.delta_log_versions(layer, table)
            action.unit, action.before, action.after = "versions", len(before), len(after)
            action.removed = len(set(before) - set(after))

        bodies = (compact, vacuum(ret.snapshot_s, full=False),
                  # a full vacuum deletes removed files too: never before the snapshot retention
                  vacuum(max(ret.orphan_s, ret.snapshot_s), full=True), checkpoint, clean_log)
        for name, body in zip(ACTIONS["delta"], bodies, strict=True):
            self.step(target, name, "object store", body)


def _count_removed(action: Action, before: dict[str, tuple[int, float]], after: dict[str, tuple[int, float]], *,
                   older_than: float) -> None:
    """Objects under a table's location, before and after; removed: those older than ``older_than`` (the
    only ones orphan removal may delete) that are gone. Younger ones that went are the stream's own (the Flink
    Iceberg committer deletes its temporary manifests once committed)."""
    gone = [p for p in set(before) - set(after) if before[p][1] < older_than]
    action.unit, action.before, action.after = "objects", len(before), len(after)
    action.removed, action.bytes_removed = len(gone), sum(before[p][0] for p in gone)
