"""PostgreSQL as a change-data-capture source: what logical replication needs, read and made idempotently
(``wal_level``, a replication user, a publication, the replica identity), and a table's columns and primary
key. Through psycopg2 (a lakectl dependency); every statement's error becomes one line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lakectl.errors import CheckFailed, ComponentError, ServiceUnavailable, UsageError


@dataclass(frozen=True)
class PgAccess:
    host: str
    port: int
    user: str
    password: str

    def where(self, database: str) -> str:
        return f"postgres {self.user}@{self.host}:{self.port}/{database}"


@dataclass(frozen=True)
class TableColumn:
    name: str
    data_type: str  # information_schema's, e.g. "integer", "numeric", "timestamp without time zone"
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    primary_key: bool = False


def parse_type(formatted: str) -> tuple[str, int | None, int | None]:
    """``format_type``'s text as information_schema names it, with its precision and scale:
    ``numeric(12,2)`` -> (numeric, 12, 2), ``timestamp(3) without time zone`` -> (timestamp without time zone, 3,
    None), ``integer`` -> (integer, None, None), ``character varying(20)`` -> (character varying, 20, None)."""
    match = re.search(r"\(([0-9]+)(?:,([0-9]+))?\)", formatted)
    base = " ".join(re.sub(r"\([^)]*\)", "", formatted).split())
    if base.endswith("[]"):
        return "ARRAY", None, None
    if not match:
        return base, None, None
    return base, int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Postgres:
    """One database, as a user allowed to set up replication (the stack's superuser, or a profile's)."""

    def __init__(self, access: PgAccess, database: str) -> None:
        import psycopg2

        self.access, self.database = access, database
        try:
            self.connection = psycopg2.connect(host=access.host, port=access.port, user=access.user,
                                               password=access.password, dbname=database, connect_timeout=5)
        except psycopg2.OperationalError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot connect"
            if f'database "{database}" does not exist' in text:
                raise UsageError(f"{access.where(database)}: {text}") from None
            if "authentication failed" in text or "permission denied" in text or "no pg_hba" in text:
                raise CheckFailed(f"{access.where(database)}: {text}") from None
            raise ServiceUnavailable(f"{access.where(database)}: {text}", hint="lakectl up postgres") from None
        self.connection.autocommit = True

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def rows(self, sql: str, params: tuple | list | None = None) -> list[tuple]:
        import psycopg2

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except psycopg2.Error as exc:
            message = (exc.pgerror or str(exc)).strip().splitlines()[0].removeprefix("ERROR:").strip()
            raise ComponentError(f"{self.access.where(self.database)}: {message}") from None

    def setting(self, name: str) -> str:
        return self.rows("SELECT current_setting(%s)", (name,))[0][0]

    # what logical replication needs -------------------------------------------------------------------
    def check_logical(self) -> None:
        """``wal_level`` must be ``logical``: anything else is a database that refuses replication (exit 1)."""
        level = self.setting("wal_level")
        if level != "logical":
            raise CheckFailed(f"{self.access.where(self.database)}: wal_level is {level!r}, change data capture "
                              "needs 'logical' (set wal_level = logical and restart PostgreSQL)")

    def columns(self, schema: str, table: str) -> list[TableColumn]:
        """The table's columns in order, with its primary key; UsageError when there is no such table."""
        # pg_catalog, not information_schema: the latter hides the columns of a table the user may not read,
        # and a user who may not set up replication must hear that, not "no such table"
        if self.rows("SELECT to_regclass(%s)", (f"{_ident(schema)}.{_ident(table)}",))[0][0] is None:
            raise UsageError(f"{self.access.where(self.database)}: no table {schema}.{table}")
        found = [(name, *parse_type(kind), nullable) for name, kind, nullable in self.rows(
            "SELECT attname, format_type(atttypid, atttypmod), NOT attnotnull FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (f"{_ident(schema)}.{_ident(table)}",))]
        key = {r[0] for r in self.rows(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (f"{_ident(schema)}.{_ident(table)}",))}
        return [TableColumn(name, data_type, precision, scale, bool(nullable), name in key)
                for name, data_type, precision, scale, nullable in found]

    def ensure_replication_user(self, user: str, password: str, schema: str, tables: list[str]) -> list[str]:
        """A LOGIN REPLICATION role with ``password`` that may read the tables (Debezium's snapshot)."""
        changes = []
        exists = self.rows("SELECT rolreplication FROM pg_roles WHERE rolname = %s", (user,))
        try:
            if not exists:
                self.rows(f"CREATE ROLE {_ident(user)} LOGIN REPLICATION PASSWORD {_literal(password)}")
                changes.append(f"created replication user {user}")
            elif not exists[0][0]:
                self.rows(f"ALTER ROLE {_ident(user)} REPLICATION")
                changes.append(f"granted REPLICATION to {user}")
            if not self._password_works(user, password):
                self.rows(f"ALTER ROLE {_ident(user)} PASSWORD {_literal(password)}")
                changes.append(f"set the password of {user}")
            if not self.rows("SELECT has_database_privilege(%s, current_database(), 'CONNECT')", (user,))[0][0]:
                self.rows(f"GRANT CONNECT ON DATABASE {_ident(self.database)} TO {_ident(user)}")
            if not self.rows("SELECT has_schema_privilege(%s, %s, 'USAGE')", (user, schema))[0][0]:
                self.rows(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {_ident(user)}")
                changes.append(f"granted USAGE on schema {schema} to {user}")
            for table in tables:
                qualified = f"{_ident(schema)}.{_ident(table)}"
                if not self.rows("SELECT has_table_privilege(%s, %s, 'SELECT')", (user, qualified))[0][0]:
                    self.rows(f"GRANT SELECT ON {qualified} TO {_ident(user)}")
                    changes.append(f"granted SELECT on {schema}.{table} to {user}")
        except ComponentError as exc:
            # e.g. "permission denied to create role": a database that does not let this user set up replication
            raise CheckFailed(f"{exc.message}: {self.access.user} cannot set up replication user {user}") from None
        return changes

    def _password_works(self, user: str, password: str) -> bool:
        import psycopg2

        try:
            psycopg2.connect(host=self.access.host, port=self.access.port, user=user, password=password,
                             dbname=self.database, connect_timeout=5).close()
            return True
        except psycopg2.OperationalError:
            return False

    def ensure_publication(self, name: str, schema: str, tables: list[str]) -> list[str]:
        wanted = {(schema, t) for t in tables}
        listed = ", ".join(f"{_ident(schema)}.{_ident(t)}" for t in tables)
        exists = self.rows("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,))
        try:
            if not exists:
                self.rows(f"CREATE PUBLICATION {_ident(name)} FOR TABLE {listed}")
                return [f"created publication {name} ({listed})"]
            current = set(self.rows("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
                                    (name,)))
            if current != wanted:
                self.rows(f"ALTER PUBLICATION {_ident(name)} SET TABLE {listed}")
                return [f"publication {name} now covers {listed}"]
        except ComponentError as exc:
            raise CheckFailed(f"{exc.message}: {self.access.user} cannot publish {listed}") from None
        return []

    def ensure_replica_identity_full(self, schema: str, table: str) -> list[str]:
        """Full before-images: an update's and a delete's ``before`` hold every column, not only the key."""
        qualified = f"{_ident(schema)}.{_ident(table)}"
        if self.rows("SELECT relreplident FROM pg_class WHERE oid = %s::regclass", (qualified,))[0][0] == "f":
            return []
        try:
            self.rows(f"ALTER TABLE {qualified} REPLICA IDENTITY FULL")
        except ComponentError as exc:
            raise CheckFailed(f"{exc.message}: {self.access.user} cannot set the replica identity of "
                              f"{schema}.{table}") from None
        return [f"replica identity of {schema}.{table} set to FULL"]

    def drop_replication(self, publication: str, slot: str, user: str) -> list[str]:
        """The slot (once no sender holds it), the publication and the replication user."""
        gone = []
        if self.rows("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND NOT active", (slot,)):
            self.rows("SELECT pg_drop_replication_slot(%s)", (slot,))
            gone.append(f"replication slot {slot}")
        if self.rows("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,)):
            self.rows(f"DROP PUBLICATION {_ident(publication)}")
            gone.append(f"publication {publication}")
        if self.rows("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)):
            self.rows(f"DROP OWNED BY {_ident(user)}")  # its grants here and on the database
            try:
                self.rows(f"DROP ROLE {_ident(user)}")
                gone.append(f"replication user {user}")
            except ComponentError:
                pass  # it still has privileges in another database: left as it is
        return gone
