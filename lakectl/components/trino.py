"""Trino 476 through its client REST protocol (v1), via the ``trino`` DB-API client: SQL over both
Bronze formats (and Silver/Gold).

Errors: a connection that cannot be made -> ServiceUnavailable (exit 3); Trino's own refusal of a
query (syntax, unknown table, a failing cast) -> QueryFailed with Trino's message and its line and
column (exit 1); bad credentials -> UsageError. ``?`` parameters are bound by the client (Trino's
EXECUTE ... USING), never pasted into the text.

Delta tables are known to Trino only once registered in its metastore; ``register_delta_tables``
registers every Delta table found under ``s3://<bucket>/delta/<layer>/``, idempotently.

Iceberg table maintenance goes through Trino's table procedures (``ALTER TABLE ... EXECUTE optimize``,
``optimize_manifests``, ``expire_snapshots``, ``remove_orphan_files``); ``iceberg_state`` reads what they
change from the table's metadata tables (``$files``, ``$manifests``, ``$snapshots``, ``$history``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lakectl.errors import CheckFailed, ServiceUnavailable, UsageError

if TYPE_CHECKING:
    from lakectl.components.object_store import S3Location

DELTA_CATALOG = "delta"
ICEBERG_CATALOG = "iceberg"
LAYERS = ("bronze", "silver", "gold")


class QueryFailed(CheckFailed):
    """Trino ran the query and refused it; the message is Trino's, with its position."""

    def __init__(self, message: str, *, error_name: str | None = None, line: int | None = None,
                 column: int | None = None, query_id: str | None = None) -> None:
        # Trino's user errors start with "line L:C: " already
        where = f" (line {line}, column {column})" if line is not None and not message.startswith("line ") else ""
        super().__init__(f"trino: {message}{where}")
        self.error_name = error_name
        self.line = line
        self.column = column
        self.query_id = query_id


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    elapsed_s: float
    query_id: str | None = None
    update_count: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"columns": self.columns, "types": self.types, "rows": self.rows,
                                "elapsed_s": round(self.elapsed_s, 4), "query_id": self.query_id}
        if self.update_count is not None:
            data["update_count"] = self.update_count
        return data

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows and self.rows[0] else None


# Trino's Iceberg JDBC catalog is built per query over a pool of PostgreSQL connections. After PostgreSQL
# restarts, the first query that takes a pooled connection reads the server's "terminating connection"
# (SQL state 57P01), which Iceberg's pool does not count as a connection error, so it fails with this
# message while initialising the catalog, before the statement ran; the connection is closed by then and
# the next query reconnects. Retrying this error once is therefore safe for any statement, and no other
# error is retried. The stack's own catalog counts 57P01 as retryable (deploy/trino/catalog/iceberg.properties),
# so this matters for a Trino lakectl did not configure (a remote profile's).
CATALOG_RECONNECT = "Cannot check and eventually update SQL schema"


def is_catalog_reconnect(exc: QueryFailed) -> bool:
    return exc.error_name == "GENERIC_INTERNAL_ERROR" and CATALOG_RECONNECT in str(exc)


class TrinoClient:
    """One connection (session) to a Trino coordinator."""

    def __init__(self, connection: Any, url: str) -> None:
        self.connection = connection
        self.url = url

    @classmethod
    def connect(cls, url: str, *, user: str = "lakectl", catalog: str | None = ICEBERG_CATALOG,
                schema: str | None = None, password: str | None = None, jwt: str | None = None,
                verify: bool = True, timeout: float = 60.0) -> TrinoClient:
        import trino
        from trino.auth import BasicAuthentication, JWTAuthentication

        from lakectl.components.http import base_url

        parts = urlsplit(base_url(url, "trino"))  # ConfigError unless http(s)://host[:port]
        auth = None
        if jwt:
            auth = JWTAuthentication(jwt)
        elif password:
            auth = BasicAuthentication(user, password)
        if auth is not None and parts.scheme != "https":
            raise UsageError("trino: password and JWT authentication need an https:// URL")
        connection = trino.dbapi.connect(
            host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 8080),
            http_scheme=parts.scheme, user=user, auth=auth, catalog=catalog, schema=schema,
            verify=verify, request_timeout=timeout, max_attempts=2, source="lakectl",
        )
        return cls(connection, url.rstrip("/"))

    def close(self) -> None:
        self.connection.close()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        """Run one statement and fetch its whole result; once more when the Iceberg catalog's
        connection to its database was dead (see CATALOG_RECONNECT)."""
        try:
            return self._execute(sql, params)
        except QueryFailed as exc:
            if not is_catalog_reconnect(exc):
                raise
        return self._execute(sql, params)

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        import requests
        from trino import exceptions

        started = time.perf_counter()
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, list(params) if params else None)
            rows = [list(row) for row in cursor.fetchall()]
        except exceptions.TrinoUserError as exc:
            line, column = exc.error_location or (None, None)
            raise QueryFailed(exc.message, error_name=exc.error_name, line=line, column=column,
                              query_id=exc.query_id) from None
        except exceptions.TrinoQueryError as exc:  # internal or external (e.g. the object store) failures
            raise QueryFailed(f"{exc.error_name}: {exc.message}", error_name=exc.error_name,
                              query_id=exc.query_id) from None
        except exceptions.TrinoAuthError as exc:
            raise UsageError(f"trino refused the credentials: {exc}") from None
        except (exceptions.HttpError, exceptions.TrinoConnectionError, requests.exceptions.ConnectionError,
                requests.exceptions.Timeout) as exc:
            raise ServiceUnavailable(f"trino at {self.url} is unreachable ({_short(exc)})",
                                     hint="lakectl up trino") from None
        elapsed = time.perf_counter() - started
        description = cursor.description or []
        columns = [d[0] for d in description]
        types = [str(d[1]) for d in description]
        update_count = getattr(cursor, "update_type", None) and getattr(cursor, "rowcount", None)
        warnings = [str(w.get("message", w)) for w in (getattr(cursor, "warnings", None) or [])]
        return QueryResult(columns, types, rows, elapsed, getattr(cursor, "query_id", None),
                           update_count if isinstance(update_count, int) and update_count >= 0 else None,
                           warnings)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.execute(sql, params).scalar()

    def execute_committing(self, sql: str, *, attempts: int = 4, pause_s: float = 1.0) -> QueryResult:
        """A statement that commits to an Iceberg table (a table procedure): retried when it lost a race with
        another writer's commit (ICEBERG_COMMIT_ERROR; Iceberg's own retries are quick and few, and a
        Bronze job may commit every second)."""
        for attempt in range(1, attempts + 1):
            try:
                return self.execute(sql)
            except QueryFailed as exc:
                if exc.error_name != "ICEBERG_COMMIT_ERROR" or attempt == attempts:
                    raise
                time.sleep(pause_s * attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def set_session(self, name: str, value: str) -> None:
        """A session property for this connection's later statements (e.g. ``iceberg.<property>``)."""
        self.execute(f"SET SESSION {name} = {_literal(value)}")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return type(exc).__name__ if not text else (text[:160] + "..." if len(text) > 160 else text)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def delta_locations(s3: S3Location, layers: Sequence[str] = LAYERS) -> dict[tuple[str, str], str]:
    """(layer, table) -> s3:// location of every Delta table (a directory with a _delta_log)."""
    found = {}
    for layer in layers:
        for name in s3.listing("delta", layer):
            # a table exists from its first commit file on (a writer may have made the prefix before)
            if any(f.endswith(".json") and f[:-5].isdigit()
                   for f in s3.listing("delta", layer, name, "_delta_log", directories=False)):
                found[(layer, name)] = s3.uri("delta", layer, name)
    return found


def register_delta_tables(client: TrinoClient, s3: S3Location, layers: Sequence[str] = LAYERS) -> list[str]:
    """Make every Delta table on the object store queryable as ``delta.<layer>.<table>``.

    Returns the tables registered by this call (those already known are left alone)."""
    locations = delta_locations(s3, layers)
    if not locations:
        return []
    registered = []
    for layer in sorted({layer for layer, _ in locations}):
        client.execute(f"CREATE SCHEMA IF NOT EXISTS {DELTA_CATALOG}.{_quote(layer)} "
                       f"WITH (location = '{s3.uri('delta', layer)}')")
        known = {row[0] for row in client.execute(
            f"SELECT table_name FROM {DELTA_CATALOG}.information_schema.tables WHERE table_schema = ?",
            [layer]).rows}
        for (lay, name), location in sorted(locations.items()):
            if lay != layer or name in known:
                continue
            try:  # CALL takes no prepared-statement parameters: literals, quoted
                client.execute(f"CALL {DELTA_CATALOG}.system.register_table(schema_name => {_literal(layer)}, "
                               f"table_name => {_literal(name)}, table_location => {_literal(location)})")
            except QueryFailed as exc:
                if exc.error_name != "ALREADY_EXISTS":  # another lakectl registered it meanwhile
                    raise
            registered.append(f"{DELTA_CATALOG}.{layer}.{name}")
    return registered


# -- time travel --------------------------------------------------------------------------------
def time_travel_clause(*, as_of: str | None = None, version: int | None = None) -> str | None:
    """Trino's query period for ``--as-of`` (a timestamp; UTC unless it names a zone) or ``--version``
    (an Iceberg snapshot id or a Delta version)."""
    if as_of is not None and version is not None:
        raise UsageError("--as-of and --version exclude each other")
    if version is not None:
        return f"FOR VERSION AS OF {int(version)}"
    if as_of is None:
        return None
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(as_of.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--as-of: {as_of!r} is not an ISO timestamp (e.g. 2026-11-27T10:15:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return f"FOR TIMESTAMP AS OF TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S.%f} UTC'"


def apply_time_travel(sql: str, clause: str) -> str:
    """Put ``clause`` after every table the query reads (FROM and JOIN), CTE names and subqueries aside."""
    import sqlparse
    from sqlparse import tokens as T
    from sqlparse.sql import Function, Identifier, IdentifierList, Parenthesis, Token

    statements = [s for s in sqlparse.parse(sql) if str(s).strip().strip(";").strip()]
    if len(statements) != 1:
        raise UsageError("--as-of / --version need exactly one statement")
    statement = statements[0]
    ctes: set[str] = set()
    rewritten = 0

    def rewrite(identifier: Identifier) -> None:
        nonlocal rewritten
        first = identifier.token_first(skip_cm=True)
        if isinstance(first, Parenthesis):  # (SELECT ...) alias
            visit(first)
            return
        name_tokens = []
        rest = []
        for tok in identifier.tokens:
            if not rest and (tok.ttype in T.Name or tok.ttype in T.Literal.String.Symbol or tok.ttype is T.Punctuation
                             or (tok.ttype in T.Keyword and not tok.is_whitespace and tok.normalized != "AS")):
                name_tokens.append(tok)
            else:
                rest.append(tok)
        name = "".join(t.value for t in name_tokens)
        if not name or name.strip('"').lower() in ctes:
            return
        tail = "".join(t.value for t in rest).strip()
        identifier.tokens = [Token(T.Other, f"{name} {clause}" + (f" {tail}" if tail else ""))]
        rewritten += 1

    def visit(group) -> None:
        expect_table = False
        for tok in group.tokens:
            if tok.is_whitespace or tok.ttype in T.Comment:
                continue
            if tok.ttype in T.Keyword and (tok.normalized == "FROM" or tok.normalized.endswith("JOIN")):
                expect_table = True
                continue
            if tok.ttype in T.Keyword.CTE:
                collect_ctes(group)
            if expect_table:
                expect_table = False
                if isinstance(tok, Identifier):
                    rewrite(tok)
                    continue
                if isinstance(tok, IdentifierList):
                    for item in tok.get_identifiers():
                        if isinstance(item, Identifier):
                            rewrite(item)
                    continue
            if tok.is_group and not isinstance(tok, Function):
                visit(tok)

    def collect_ctes(group) -> None:
        for tok in group.tokens:
            if isinstance(tok, Identifier):
                ctes.add((tok.get_real_name() or "").strip('"').lower())
            elif isinstance(tok, IdentifierList):
                for item in tok.get_identifiers():
                    if isinstance(item, Identifier):
                        ctes.add((item.get_real_name() or "").strip('"').lower())

    visit(statement)
    if not rewritten:
        raise UsageError("--as-of / --version: the query reads no table to travel in time")
    return str(statement).strip().rstrip(";").strip()


# -- Iceberg table maintenance (Trino's table procedures) ----------------------------------------
# Trino refuses expire_snapshots / remove_orphan_files retentions below these session properties (their
# defaults, iceberg.expire-snapshots.min-retention and iceberg.remove-orphan-files.min-retention in the
# catalog's properties, are 7 days): lakectl sets them, on its own session, to the retention it checked
# itself, so that lakectl's settings govern on any Trino, a remote one included
EXPIRE_MIN_RETENTION = f"{ICEBERG_CATALOG}.expire_snapshots_min_retention"
ORPHANS_MIN_RETENTION = f"{ICEBERG_CATALOG}.remove_orphan_files_min_retention"
# what the Flink Iceberg sink writes into the summary of each snapshot it commits
FLINK_CHECKPOINT_KEY = "flink.max-committed-checkpoint-id"


def trino_duration(seconds: float) -> str:
    """A Trino duration literal, whole seconds rounded up (never shorter than asked)."""
    return f"{max(0, math.ceil(seconds))}s"


def iceberg_table(schema: str, table: str, metadata: str | None = None) -> str:
    """``iceberg."schema"."table"``, or its metadata table ``"table$files"`` and the like."""
    name = f"{table}${metadata}" if metadata else table
    return f"{ICEBERG_CATALOG}.{_quote(schema)}.{_quote(name)}"


def iceberg_optimize_sql(schema: str, table: str, file_size_mb: int) -> str:
    """Rewrite the data files smaller than ``file_size_mb`` (per partition) into files of about that size."""
    return (f"ALTER TABLE {iceberg_table(schema, table)} EXECUTE "
            f"optimize(file_size_threshold => '{int(file_size_mb)}MB')")


def iceberg_optimize_manifests_sql(schema: str, table: str) -> str:
    return f"ALTER TABLE {iceberg_table(schema, table)} EXECUTE optimize_manifests"


def iceberg_expire_snapshots_sql(schema: str, table: str, retention_s: float) -> str:
    return (f"ALTER TABLE {iceberg_table(schema, table)} EXECUTE "
            f"expire_snapshots(retention_threshold => '{trino_duration(retention_s)}')")


def iceberg_remove_orphan_files_sql(schema: str, table: str, retention_s: float) -> str:
    return (f"ALTER TABLE {iceberg_table(schema, table)} EXECUTE "
            f"remove_orphan_files(retention_threshold => '{trino_duration(retention_s)}')")


@dataclass
class IcebergState:
    """What maintenance changes in one Iceberg table, read through its metadata tables."""

    data_files: int
    data_bytes: int
    manifests: int
    snapshot_ids: set[int]
    # seconds since the newest snapshot the stream committed (one carrying FLINK_CHECKPOINT_KEY) among the
    # current snapshot and its ancestors, by Trino's clock; None when there is none
    stream_commit_age_s: float | None


def iceberg_exists(client: TrinoClient, schema: str, table: str) -> bool:
    return bool(client.execute(
        f"SELECT count(*) FROM {ICEBERG_CATALOG}.information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table]).scalar())


def iceberg_state(client: TrinoClient, schema: str, table: str) -> IcebergState:
    files = client.execute(
        f"SELECT (SELECT count(*) FROM {iceberg_table(schema, table, 'files')}), "
        f"(SELECT coalesce(sum(file_size_in_bytes), 0) FROM {iceberg_table(schema, table, 'files')}), "
        f"(SELECT count(*) FROM {iceberg_table(schema, table, 'manifests')})").rows[0]
    snapshots = {int(row[0]) for row in client.execute(
        f"SELECT snapshot_id FROM {iceberg_table(schema, table, 'snapshots')}").rows}
    age_ms = client.scalar(
        f"SELECT date_diff('millisecond', max(s.committed_at), current_timestamp) "
        f"FROM {iceberg_table(schema, table, 'snapshots')} s JOIN {iceberg_table(schema, table, 'history')} h "
        f"ON s.snapshot_id = h.snapshot_id "
        f"WHERE h.is_current_ancestor AND element_at(s.summary, {_literal(FLINK_CHECKPOINT_KEY)}) IS NOT NULL")
    return IcebergState(int(files[0]), int(files[1]), int(files[2]), snapshots,
                        None if age_ms is None else max(0.0, age_ms / 1000))
