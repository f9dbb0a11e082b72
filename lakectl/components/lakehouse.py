"""The lakehouse without Trino: Iceberg tables read through pyiceberg 0.12 (the SQL catalog over the
same JDBC catalog database Flink writes), Delta tables read and maintained through delta-rs (``deltalake``
1.x: compaction, vacuum, checkpoints and log cleanup, committed next to the Bronze job's own commits).

Both libraries are heavy and imported on use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlparse

from lakectl.components.object_store import S3Location
from lakectl.errors import ComponentError, ServiceUnavailable
from lakectl.polling import Observation, poll_until

LAYERS = ("bronze", "silver", "gold")
FORMATS = ("iceberg", "delta")


@dataclass
class TableInfo:
    format: str  # iceberg | delta
    layer: str
    name: str
    location: str
    rows: int
    snapshot: str  # Iceberg snapshot id / Delta version
    updated_at: str | None = None
    data_files: int | None = None  # in the current snapshot / version
    data_bytes: int | None = None
    snapshots: int | None = None  # Iceberg snapshots retained / Delta versions still in the log

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sqlalchemy_url(jdbc_url: str, user: str, password: str) -> str:
    """jdbc:postgresql://host:port/db -> postgresql+psycopg2://user:pw@host:port/db"""
    if not jdbc_url.startswith("jdbc:postgresql://"):
        raise ComponentError(f"catalog: only PostgreSQL JDBC catalogs are supported, not {jdbc_url!r}")
    parsed = urlparse(jdbc_url.removeprefix("jdbc:"))
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    return f"postgresql+psycopg2://{auth}{parsed.netloc}{parsed.path}"


class Lakehouse:
    def __init__(self, s3: S3Location, catalog: dict[str, str]) -> None:
        self.s3 = s3
        self.catalog_conf = catalog
        self._iceberg = None

    # -- Iceberg ---------------------------------------------------------------------------
    def iceberg(self):
        if self._iceberg is None:
            from pyiceberg.catalog.sql import SqlCatalog
            from sqlalchemy.exc import OperationalError

            conf = self.catalog_conf
            try:
                self._iceberg = SqlCatalog(
                    conf["name"], uri=sqlalchemy_url(conf["jdbc_url"], conf["user"], conf["password"]),
                    warehouse=conf["warehouse"], init_catalog_tables="false", **self.s3.pyiceberg_options())
            except OperationalError as exc:
                raise ServiceUnavailable(f"iceberg catalog database is unreachable: {str(exc.orig).strip()}") from None
        return self._iceberg

    def iceberg_table(self, identifier: str):
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.iceberg().load_table(identifier)
        except NoSuchTableError:
            raise ComponentError(f"iceberg: no table {identifier}") from None

    def iceberg_tables(self, layer: str | None) -> list[TableInfo]:
        from pyiceberg.exceptions import NoSuchNamespaceError
        from sqlalchemy.exc import OperationalError, ProgrammingError

        infos = []
        for namespace in [layer] if layer else LAYERS:
            try:
                identifiers = self.iceberg().list_tables(namespace)
            except (NoSuchNamespaceError, ProgrammingError):
                continue
            except OperationalError as exc:  # the catalog's database is missing or went away
                raise ServiceUnavailable(f"iceberg catalog database: {str(exc.orig).strip()}",
                                         hint="lakectl up") from None
            for identifier in identifiers:
                table = self.iceberg().load_table(identifier)
                snapshot = table.current_snapshot()
                summary = snapshot.summary if snapshot else None

                def total(key: str, summary=summary) -> int:
                    return int(summary[key]) if summary and key in summary else 0

                infos.append(TableInfo("iceberg", namespace, identifier[-1], table.location(), total("total-records"),
                                       str(snapshot.snapshot_id) if snapshot else "-",
                                       _iso(snapshot.timestamp_ms) if snapshot else None,
                                       total("total-data-files"), total("total-files-size"),
                                       len(table.metadata.snapshots)))
        return infos

    # -- Delta -----------------------------------------------------------------------------
    def delta_uri(self, layer: str, name: str) -> str:
        return self.s3.uri("delta", layer, name)

    def delta_table(self, layer: str, name: str, version: int | None = None):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.delta_uri(layer, name), version=version,
                              storage_options=self.s3.delta_rs_options())
        except TableNotFoundError:
            raise ComponentError(f"delta: no table {layer}/{name} at {self.delta_uri(layer, name)}") from None

    def delta_tables(self, layer: str | None) -> list[TableInfo]:
        infos = []
        for lay in [layer] if layer else LAYERS:
            for name in self.s3.listing("delta", lay):
                try:
                    table = self.delta_table(lay, name)
                except ComponentError:
                    continue  # not a Delta table (no _delta_log yet)
                adds = table.get_add_actions(flatten=True)
                rows = sum(int(n or 0) for n in adds.column("num_records").to_pylist())
                history = table.history(1)
                updated = _iso(history[0]["timestamp"]) if history else None
                infos.append(TableInfo("delta", lay, name, self.delta_uri(lay, name), rows, str(table.version()),
                                       updated, adds.num_rows, sum(adds.column("size_bytes").to_pylist()),
                                       len(self.delta_log_versions(lay, name))))
        return infos

    def delta_log_versions(self, layer: str, name: str) -> list[int]:
        """The versions whose commit file is still in the table's ``_delta_log`` (the ones time travel reaches)."""
        return sorted(int(f[:-5]) for f in self.s3.listing("delta", layer, name, "_delta_log", directories=False)
                      if f.endswith(".json") and f[:-5].isdigit())

    def delta_files(self, layer: str, name: str) -> tuple[int, int]:
        """Data files of the current version and their bytes."""
        adds = self.delta_table(layer, name).get_add_actions(flatten=True)
        return adds.num_rows, sum(adds.column("size_bytes").to_pylist())

    # Delta maintenance through delta-rs. Every commit it makes is a conditional PUT (S3Location.delta_rs_options),
    # and none changes the table's metadata or protocol: the Bronze job's commits, blind appends, never conflict
    # with them (Delta retries a commit that lost the race at the next version). The post-commit hooks stay off:
    # checkpoints and log cleanup are steps of their own, reported as such.
    def delta_compact(self, layer: str, name: str, target_size_mb: int) -> dict[str, Any]:
        """Bin-pack the data files smaller than ``target_size_mb`` into files of about that size (per
        partition); returns delta-rs's metrics (numFilesRemoved, numFilesAdded, ...)."""
        table = self.delta_table(layer, name)
        return table.optimize.compact(target_size=int(target_size_mb) << 20,
                                      post_commithook_properties=_no_hooks())

    def delta_vacuum(self, layer: str, name: str, retention_s: float, *, full: bool) -> list[str]:
        """Delete data files older than ``retention_s`` that the current version does not reference: with
        ``full`` every such file under the table (orphans included), else only those a commit removed.
        delta-rs counts whole hours: the retention is rounded up."""
        import math

        table = self.delta_table(layer, name)
        return table.vacuum(retention_hours=math.ceil(retention_s / 3600), dry_run=False,
                            enforce_retention_duration=False, full=full, post_commithook_properties=_no_hooks())

    def delta_checkpoint(self, layer: str, name: str) -> int:
        """A checkpoint of the current version (readers then start there); returns the version."""
        table = self.delta_table(layer, name)
        table.create_checkpoint()
        return table.version()

    def delta_cleanup_log(self, layer: str, name: str) -> None:
        """Delete the log files older than the table's ``delta.logRetentionDuration`` (30 days by default)
        that a checkpoint has superseded."""
        self.delta_table(layer, name).cleanup_metadata()

    def bronze_rows(self, topic: str) -> dict[str, int]:
        """Rows of bronze.<topic> in each format (0 where the table does not exist yet)."""
        rows = dict.fromkeys(FORMATS, 0)
        rows.update({t.format: t.rows for t in self.iceberg_tables("bronze") + self.delta_tables("bronze")
                     if t.name == topic})
        return rows

    def wait_for_topic(self, kafka, topic: str, timeout: float, update=lambda _msg: None, *,
                       table: str | None = None, formats: tuple[str, ...] = FORMATS) -> dict[str, int]:
        """Until bronze.<table> (default: the topic's name) holds, in each of ``formats``, as many rows as the
        topic holds records."""
        table = table or topic
        expected = kafka.describe_topic(topic)["messages"]

        def check() -> Observation[dict[str, int]]:
            rows = {fmt: n for fmt, n in self.bronze_rows(table).items() if fmt in formats}
            held = ", ".join(f"{fmt} {n:,}" for fmt, n in rows.items())
            update(f"bronze.{table}: {held} of {expected:,}")
            return Observation(all(n >= expected for n in rows.values()), rows, f"{held} rows of {expected:,}")

        return poll_until(check, timeout=timeout, interval=1.0, what=f"bronze.{table} holding the topic's records",
                          hint="is its job running? lakectl job list")


def _no_hooks():
    from deltalake.transaction import PostCommitHookProperties

    return PostCommitHookProperties(create_checkpoint=False, cleanup_expired_logs=False)


def _iso(millis: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")
