"""PostgreSQL: metadata for the registry, the Iceberg catalog and Airflow; a source of change data capture.

Native: the Debian ``postgresql`` package's server binaries, run as a non-root user (PostgreSQL
refuses root), listening on 127.0.0.1 only, password auth with a generated password.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from lakectl.artifacts import debian_package
from lakectl.errors import ComponentError
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext, write_private
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.waiting import exec_probe

SUPERUSER = "lakectl"
# as root, where the cluster goes when the state dir is out of the server user's reach
ROOT_CLUSTERS = Path("/var/lib/lakectl")
RUN_AS = "postgres"  # the account Debian's package creates; used only when lakectl runs as root
# a slot and a WAL sender per CDC pipeline (Debezium's connector holds one of each)
LOGICAL_REPLICATION = ("wal_level=logical", "max_replication_slots=20", "max_wal_senders=20")


def server_bindir() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin/postgres")), key=lambda p: int(p.parent.parent.name), reverse=True)
    return versions[0].parent if versions else None


def client_env(stack: StackContext) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": stack.secret("postgres_password"), "PGCONNECT_TIMEOUT": "3"}


def psql(stack: StackContext, sql: str, database: str = "postgres") -> str:
    """One statement as the superuser, its rows as ``psql -tA`` prints them (columns joined by ``|``).
    Through psycopg2 (a lakectl dependency), not the psql binary: lakectl on a host whose PostgreSQL runs
    in a container has no psql."""
    import psycopg2

    try:
        connection = psycopg2.connect(host=LOCALHOST, port=stack.port(SPEC), user=SUPERUSER, dbname=database,
                                      password=stack.secret("postgres_password"), connect_timeout=3)
    except psycopg2.Error as exc:
        raise ComponentError(f"postgres: {str(exc).strip()}") from None
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall() if cursor.description else []
    except psycopg2.Error as exc:
        raise ComponentError(f"postgres: {str(exc).strip()}") from None
    finally:
        connection.close()
    return "\n".join("|".join("" if value is None else str(value) for value in row) for row in rows)


def ensure_database(stack: StackContext, name: str) -> None:
    if psql(stack, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        psql(stack, f'CREATE DATABASE "{name}"')


def jdbc_url(stack: StackContext, database: str) -> str:
    return f"jdbc:postgresql://{LOCALHOST}:{stack.port(SPEC)}/{database}"


class PostgresRecipe(NativeRecipe):
    @property
    def run_as(self) -> str | None:
        return RUN_AS if os.geteuid() == 0 else None

    @property
    def cluster_dir(self) -> Path:
        """The data directory; as root it must be reachable by the unprivileged server user."""
        wanted = self.data_dir / "data"
        if self.run_as is None or _world_traversable(wanted.parent):
            return wanted
        # e.g. a clone under /root (mode 700): keep the cluster where the server user can reach it
        key = hashlib.sha256(str(self.stack.state_dir.resolve()).encode()).hexdigest()[:12]
        return ROOT_CLUSTERS / key / "postgres"

    def fetch(self) -> None:
        debian_package("postgresql", "/usr/lib/postgresql")
        if server_bindir() is None:
            raise ComponentError("postgres: no server binaries under /usr/lib/postgresql/*/bin",
                                 hint="apt-get install -y postgresql")

    def prepare(self) -> None:
        cluster = self.cluster_dir
        if (cluster / "PG_VERSION").exists():
            return
        bindir = server_bindir()
        assert bindir is not None
        cluster.mkdir(parents=True, exist_ok=True)
        pwfile = cluster.parent / ".pgpass-init"
        write_private(pwfile, self.stack.secret("postgres_password"))
        try:
            if self.run_as:
                account = pwd.getpwnam(self.run_as)
                for path in (cluster, pwfile):
                    os.chown(path, account.pw_uid, account.pw_gid)
                os.chmod(cluster, 0o700)
            done = subprocess.run(
                [str(bindir / "initdb"), "-D", str(cluster), "-U", SUPERUSER, f"--pwfile={pwfile}",
                 "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
                capture_output=True, text=True, user=self.run_as, check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            raise ComponentError(f"postgres: initdb failed: {done.stderr.strip()[-400:]}")

    def launch(self) -> Launch:
        bindir = server_bindir()
        assert bindir is not None
        return Launch(
            argv=[str(bindir / "postgres"), "-D", str(self.cluster_dir),
                  "-c", f"listen_addresses={LOCALHOST}", "-p", str(self.port()),
                  "-c", "unix_socket_directories=", "-c", "shared_buffers=128MB",
                  "-c", "max_connections=200", "-c", "logging_collector=off",
                  # change data capture (pipelines with source = "postgres-cdc"): logical decoding with
                  # pgoutput; on the command line, so an existing cluster picks it up at its next start
                  *(arg for setting in LOGICAL_REPLICATION for arg in ("-c", setting))],
            user=self.run_as,
        )

    def purge(self) -> None:
        shutil.rmtree(self.cluster_dir, ignore_errors=True)
        super().purge()


def _world_traversable(path: Path) -> bool:
    # every existing ancestor needs the "x" bit for others, or the server user cannot reach the cluster
    return all(not d.exists() or os.stat(d).st_mode & 0o001 for d in (path, *path.parents))


def _probe(stack: StackContext):
    bindir = server_bindir() or Path("/usr/bin")
    return exec_probe(
        [str(bindir / "pg_isready"), "-h", LOCALHOST, "-p", str(stack.port(SPEC)), "-U", SUPERUSER, "-t", "2"],
        f"pg_isready on {LOCALHOST}:{stack.port(SPEC)}",
    )


SPEC = ServiceSpec(
    name="postgres",
    summary="PostgreSQL: registry storage, Iceberg JDBC catalog, Airflow metadata",
    ports={"main": 5432},
    url=lambda stack: f"postgresql://{SUPERUSER}@{LOCALHOST}:{stack.port(SPEC)}/postgres",
    probe=_probe,
    native=lambda stack: PostgresRecipe(stack, SPEC),
    secrets=("postgres_password",),
    stop_grace_s=60,  # a server that is killed replays its WAL at the next start
    container_data=str(ROOT_CLUSTERS),  # in compose as root: see PostgresRecipe.cluster_dir
)
