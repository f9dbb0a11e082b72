"""Change data capture from the stack's PostgreSQL into a pipeline (issue 16): a table's inserts, updates and
deletes through Debezium (Kafka Connect) into Bronze, append-only in Iceberg and Delta, and Silver (the generated
dbt model) equal to the table afterwards, while the Connect worker restarts and the TaskManager is SIGKILLed;
a column added in PostgreSQL reaching Bronze and Silver; the bad input that must be one line.

The spec is written into the checkout's schemas/ (as `pipeline add` does for a user) and removed with --purge
when the module ends."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from pathlib import Path

import pytest

from lakectl.components.postgres import PgAccess, Postgres
from tests.e2e.bronze_helpers import (
    REPO,
    kill_taskmanager,
    remove_paths,
    restarts,
    wait_for_summaries,
    wait_until_recovered,
)
from tests.e2e.conftest import cancel_active_jobs, report_artifact

pytestmark = pytest.mark.e2e

NAME = "e2e_cdc"
DATABASE = "e2e_shop"
INITIAL = 500
CHANGES = 3000  # at least this many changes while the worker restarts and the TaskManager is killed
COLUMNS = "id, name, qty, price, active, updated_at, note"


def _spec(name: str) -> Path:
    return REPO / "schemas" / f"{name}.pipeline.toml"


def _generated(name: str) -> list[Path]:
    return [_spec(name), REPO / "dbt_project" / "models" / "pipelines" / name]


def _connect(stack, database: str = "postgres", user: str = "lakectl", password: str | None = None) -> Postgres:
    """The stack's PostgreSQL through lakectl's own client (autocommit; ``rows`` runs one statement)."""
    from tests.conftest import TEST_PORTS

    secrets = json.loads((stack.state_dir / "secrets.json").read_text())
    access = PgAccess("127.0.0.1", TEST_PORTS["postgres"], user, password or secrets["postgres_password"])
    return Postgres(access, database)


@pytest.fixture(scope="module")
def shop(stack):
    """The database and its table, the Connect worker up; everything removed afterwards."""
    stack.ok("up", "connect", timeout=600)
    admin = _connect(stack)
    admin.rows(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin.rows(f"CREATE DATABASE {DATABASE}")
    db = _connect(stack, DATABASE)
    db.rows("CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, qty integer, "
             "price numeric(12, 2), active boolean, updated_at timestamp(6), note text)")
    db.rows("INSERT INTO accounts SELECT i, 'name-' || i, i % 97, (i * 1.25)::numeric(12,2), i % 2 = 0, "
             "timestamp '2026-01-01 00:00:00' + i * interval '1.000001 second', NULL "
             f"FROM generate_series(1, {INITIAL}) AS i")
    yield db
    cancel_active_jobs(stack)
    for name in (NAME, "e2e_cdc_refused"):
        if _spec(name).exists():
            stack.lakectl("pipeline", "remove", name, "--purge", "-o", "json")
        remove_paths(_generated(name))
    db.close()
    for _ in range(10):  # the slot lets go of the database a moment after the connector is deleted
        try:
            admin.rows(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            break
        except Exception:
            time.sleep(1)
    admin.rows("DROP ROLE IF EXISTS e2e_plain")
    admin.close()


class Writer(threading.Thread):
    """Random inserts, updates and deletes in small transactions, each statement changing exactly one row;
    counts the changes it committed."""

    def __init__(self, stack) -> None:
        super().__init__(daemon=True)
        self.db = _connect(stack, DATABASE)
        self.connection = self.db.connection  # psycopg2's: transactions of several statements here
        self.connection.autocommit = False
        self.stop = threading.Event()
        self.changes = 0
        self.error: BaseException | None = None
        self.random = random.Random(16)
        self.next_id = INITIAL + 1
        self.ids = list(range(1, INITIAL + 1))

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                done = 0
                with self.connection.cursor() as cursor:
                    for _ in range(5):
                        done += self._one(cursor)
                self.connection.commit()
                self.changes += done
                time.sleep(0.03)
        except BaseException as exc:
            self.error = exc

    def _one(self, cursor) -> int:
        choice = self.random.random()
        if choice < 0.4 or len(self.ids) < 50:
            new = self.next_id
            self.next_id += 1
            cursor.execute("INSERT INTO accounts VALUES (%s, %s, %s, %s, %s, now()::timestamp(6), %s)",
                           (new, f"new-{new}", new % 13, f"{new % 1000}.{new % 100:02d}", new % 3 == 0,
                            "ü'\"" if new % 5 == 0 else None))
            self.ids.append(new)
        elif choice < 0.8:
            target = self.random.choice(self.ids)
            cursor.execute("UPDATE accounts SET qty = coalesce(qty, 0) + 1, price = price + 0.01, "
                           "active = NOT coalesce(active, false), updated_at = now()::timestamp(6), "
                           "note = %s WHERE id = %s", (f"u{self.changes}", target))
        else:
            target = self.ids.pop(self.random.randrange(len(self.ids)))
            cursor.execute("DELETE FROM accounts WHERE id = %s", (target,))
        assert cursor.rowcount == 1
        return 1


def _table_rows(db, columns: str) -> list[tuple]:
    text = ", ".join(_pg_text(c.strip()) for c in columns.split(","))
    return [tuple(r) for r in db.rows(f"SELECT {text} FROM accounts")]


def _pg_text(column: str) -> str:
    if column == "updated_at":
        return "to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')"
    return f"{column}::text"


def _silver_rows(stack, columns: str) -> list[tuple]:
    text = ", ".join(f"CAST({c.strip()} AS varchar)" for c in columns.split(","))
    rows = stack.ok("query", f"SELECT {text} FROM iceberg.silver.{NAME}", "-o", "json").json()["rows"]
    return [tuple(r) for r in rows]


def _digest(rows: list[tuple]) -> str:
    """Order-free: the sorted rows' hashes, hashed."""
    hashes = sorted(hashlib.sha256(json.dumps(r).encode()).hexdigest() for r in rows)
    return hashlib.sha256("".join(hashes).encode()).hexdigest()


def _bronze_counts(stack) -> dict[str, list]:
    out = {}
    for catalog in ("iceberg", "delta"):
        out[catalog] = stack.ok("query", f"SELECT count(*), count(DISTINCT format('%d:%d', source_lsn, id)), "
                                          f"count_if(op = 'r'), count_if(op <> 'r') FROM {catalog}.bronze.{NAME}",
                                "-o", "json").json()["rows"][0]
    return out


def _wait_for_bronze(stack, expected: int, timeout: float = 300) -> dict[str, list]:
    return wait_for_summaries(lambda: _bronze_counts(stack), expected, timeout)


def test_bad_input_is_one_line(stack, shop):
    from tests.e2e.test_pipelines import one_line_error

    spec = _spec("e2e_cdc_refused")
    try:
        spec.write_text(f'source = "postgres-cdcc"\n[postgres]\ndatabase = "{DATABASE}"\ntables = ["accounts"]\n')
        one_line_error(stack.lakectl("pipeline", "apply", "e2e_cdc_refused"), 2, "did you mean 'postgres-cdc'?")
        spec.write_text(f'source = "postgres-cdc"\n[postgres]\ndatabase = "{DATABASE}"\ntables = ["acounts"]\n')
        one_line_error(stack.lakectl("pipeline", "apply", "e2e_cdc_refused"), 2, "no table public.acounts")
        # a user who may not set up replication (no REPLICATION, no CREATEROLE): refused, exit 1
        admin = _connect(stack)
        admin.rows("DROP ROLE IF EXISTS e2e_plain")
        admin.rows("CREATE ROLE e2e_plain LOGIN PASSWORD 'plain-pw'")
        admin.close()
        secrets_file = stack.state_dir / "secrets.json"
        secrets = json.loads(secrets_file.read_text())
        secrets["e2e_plain_password"] = "plain-pw"
        secrets_file.write_text(json.dumps(secrets, indent=2))
        spec.write_text(f'source = "postgres-cdc"\n[postgres]\ndatabase = "{DATABASE}"\ntables = ["accounts"]\n'
                        'admin_user = "e2e_plain"\nadmin_password_secret = "e2e_plain_password"\n')
        one_line_error(stack.lakectl("pipeline", "apply", "e2e_cdc_refused"), 1, "cannot set up replication user",
                       "lakectl_cdc_e2e_cdc_refused")
        topics = stack.ok("topic", "list", "-o", "json").json()
        assert "e2e_cdc_refused" not in json.dumps(topics)
    finally:
        spec.unlink(missing_ok=True)


def test_a_table_becomes_bronze_and_silver_through_restarts(stack, shop, request):
    db = shop
    started = time.monotonic()
    stack.ok("pipeline", "add", NAME, "--source", "postgres-cdc", "--database", DATABASE, "--table", "accounts",
             "--partitions", "2")
    text = _spec(NAME).read_text().replace("checkpoint_interval_s = 10", "checkpoint_interval_s = 2")
    _spec(NAME).write_text(text)
    first = stack.ok("pipeline", "apply", NAME, "-o", "json", timeout=900).json()[0]
    changes = " | ".join(first["changes"])
    for needle in ("created replication user lakectl_cdc_e2e_cdc", "created publication lakectl_e2e_cdc",
                   "replica identity", "created connector cdc_e2e_cdc", "submitted bronze_e2e_cdc"):
        assert needle in changes, changes
    # the snapshot in Bronze (the Delta table exists from the sink's first commit with rows, and is registered in
    # Trino when first queried), then applied twice: nothing changes
    assert all(c[0] == INITIAL for c in _wait_for_bronze(stack, INITIAL).values())
    again = stack.ok("pipeline", "apply", NAME, "--no-models", "-o", "json", timeout=600).json()[0]
    assert again["changes"] == [], again
    secrets = json.loads((stack.state_dir / "secrets.json").read_text())
    assert oct((stack.state_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert secrets["cdc_e2e_cdc_password"] not in _spec(NAME).read_text()

    writer = Writer(stack)
    writer.start()
    try:
        while writer.changes < CHANGES // 3 and writer.error is None:
            time.sleep(0.5)
        stack.ok("down", "connect")
        time.sleep(3)  # changes pile up in the slot meanwhile
        stack.ok("up", "connect", timeout=300)
        while writer.changes < 2 * CHANGES // 3 and writer.error is None:
            time.sleep(0.5)
        before = restarts(stack, f"bronze_{NAME}")
        kill_taskmanager(stack)
        wait_until_recovered(stack, f"bronze_{NAME}", before)
        while writer.changes < CHANGES and writer.error is None:
            time.sleep(0.5)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None, writer.error
    status = stack.ok("connect", "status", f"cdc_{NAME}", "-o", "json").json()
    assert status["state"] == "RUNNING", status

    # a column added in PostgreSQL: its values are in Bronze (after_json) before apply knows it; apply then
    # resubmits the job with a typed field for it and rewrites the Silver model, which takes the earlier values
    # from the text
    db.rows("ALTER TABLE accounts ADD COLUMN tier text")
    early = len(db.rows("UPDATE accounts SET tier = 'silver' WHERE id % 10 = 5 RETURNING id"))
    assert early > 0
    _wait_for_bronze(stack, INITIAL + writer.changes + early)
    for catalog in ("iceberg", "delta"):
        in_text = stack.ok("query", f"SELECT count(*) FROM {catalog}.bronze.{NAME} WHERE json_extract_scalar("
                                    "after_json, '$.tier') = 'silver'", "-o", "json").json()["rows"][0][0]
        assert in_text == early, (catalog, in_text, early)
    evolved = stack.ok("pipeline", "apply", NAME, "--no-models", "-o", "json", timeout=600).json()[0]
    assert any("resubmitted" in c for c in evolved["changes"]), evolved
    tiered = len(db.rows("UPDATE accounts SET tier = 'gold' WHERE id % 10 = 0 RETURNING id"))
    expected = INITIAL + writer.changes + early + tiered

    counts = _wait_for_bronze(stack, expected)
    for catalog, (total, distinct, snapshot, streamed) in counts.items():
        assert (total, distinct) == (expected, expected), (catalog, counts, expected)
        assert (snapshot, streamed) == (INITIAL, expected - INITIAL), (catalog, counts)
    verified = stack.ok("verify", "--pipeline", NAME, "-o", "json", timeout=300).json()
    assert verified["ok"] and verified["key"] == "kafka_position", verified
    assert [s["rows"] for s in verified["sources"]] == [expected] * 3, verified
    kinds = dict(stack.ok("query", f"SELECT op, count(*) FROM iceberg.bronze.{NAME} GROUP BY 1", "-o",
                          "json").json()["rows"])
    assert set(kinds) == {"r", "c", "u", "d"}, kinds
    newest = stack.ok("query", f"SELECT count(*) FROM delta.bronze.{NAME} WHERE \"after\".tier = 'gold'",
                      "-o", "json").json()["rows"][0][0]
    assert newest == tiered

    stack.ok("dbt", "build", "--select", f"tag:pipeline_{NAME}", timeout=600)
    columns = COLUMNS + ", tier"
    table, silver = _table_rows(db, columns), _silver_rows(stack, columns)
    missing, extra = set(table) - set(silver), set(silver) - set(table)
    assert (len(silver), _digest(silver)) == (len(table), _digest(table)), (
        f"{len(missing)} rows missing from Silver, e.g. {sorted(missing)[:3]}; {len(extra)} extra, "
        f"e.g. {sorted(extra)[:3]}")
    report_artifact(request.config, f"cdc: {expected} changes ({writer.changes} while the worker restarted and "
                                    f"the TaskManager was killed), Silver = table ({len(table)} rows) in "
                                    f"{time.monotonic() - started:.0f} s")

