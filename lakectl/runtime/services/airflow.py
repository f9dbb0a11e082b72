"""Airflow 3.1: orchestration of the pipeline (``dags/``), as three processes.

Native: ``apache-airflow`` from PyPI in its own virtualenv in the cache (its pins clash with
lakectl's and PyFlink's), with the few pins the official constraints would otherwise give. The
api-server (REST API v2, UI, and the execution API the task runners report to), the scheduler
(LocalExecutor: tasks run as its child processes, at most 2 at a time) and the dag-processor are
each their own service (``airflow`` names the group). Metadata lives in the stack's PostgreSQL
(database ``airflow``); ``up`` migrates it when its schema is not the one this Airflow expects.

Auth: Airflow's simple auth manager with one ``admin`` user whose password lakectl generates on
first ``up`` into the stack's 0600 secrets; the REST API takes JWTs from ``/auth/token``.
``airflow.cfg`` (mode 0600: it holds the database password, the JWT secret and the Fernet key) is
written into the state dir. Tasks call lakectl as a CLI: the processes get ``LAKECTL_BIN`` and the
settings that point a task's lakectl at this same stack.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

from lakectl.errors import ComponentError
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext, write_private
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.python_app import PythonApp
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.services import postgres
from lakectl.runtime.waiting import Probe, ProbeResult

VERSION = versions.AIRFLOW
# what the official constraints file would pin and pip would otherwise resolve differently
REQUIREMENTS = (f"apache-airflow=={VERSION}", "apache-airflow-providers-standard==1.21.0",
                "psycopg2-binary==2.9.13", "asyncpg==0.32.0", "sqlalchemy[asyncio]>=2.0.40,<2.1")
DATABASE = "airflow"
ADMIN = "admin"
PASSWORD = "airflow_admin_password"
JWT_SECRET = "airflow_jwt_secret"
SECRET_KEY = "airflow_secret_key"
PARALLELISM = 2


APP = PythonApp("airflow", VERSION, REQUIREMENTS)
venv, home = APP.venv, APP.home


def url(stack: StackContext) -> str:
    """The api-server's; also the URL of the scheduler and the dag-processor, which serve none."""
    return f"http://{LOCALHOST}:{stack.port(API_SERVER)}"


def dags_dir() -> Path:
    from lakectl.paths import shipped

    return shipped("dags")


def lakectl_command() -> str:
    """How a task runs this lakectl: its own venv's entry point, never Airflow's."""
    script = Path(sys.executable).parent / "lakectl"
    return shlex.quote(str(script)) if script.is_file() else f"{shlex.quote(sys.executable)} -m lakectl"


def lakectl_env(stack: StackContext) -> dict[str, str]:
    """What a task's lakectl needs to find this same stack (settings, state, ports, runtime)."""
    loaded = stack.loaded
    env = {"LAKECTL_BIN": lakectl_command(), "LAKECTL_PROJECT_DIR": str(loaded.project_root),
           "LAKECTL_STATE_DIR": str(loaded.state_dir), "LAKECTL_CACHE_DIR": str(loaded.cache_dir),
           "LAKECTL_RUNTIME": stack.kind, "LAKECTL_PROFILE": loaded.profile,
           "LAKECTL_REPO_DIR": str(dags_dir().parent)}
    if loaded.config_file:
        env["LAKECTL_CONFIG"] = str(loaded.config_file)
    if stack.settings.ports:
        env["LAKECTL_PORTS"] = json.dumps(stack.settings.ports)
    return env


def process_env(stack: StackContext) -> dict[str, str]:
    """The environment of every Airflow process (and of ``dag.test()`` in tests)."""
    return {**os.environ, **lakectl_env(stack), "AIRFLOW_HOME": str(home(stack)),
            "AIRFLOW_CONFIG": str(home(stack) / "airflow.cfg"), "PYTHONUNBUFFERED": "1"}


def _fernet_key(secret: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()).decode()


def config(stack: StackContext) -> dict[str, dict[str, object]]:
    secrets = stack.secrets(PASSWORD, JWT_SECRET, SECRET_KEY, "postgres_password")
    root = home(stack)
    api = url(stack)
    return {
        "core": {
            "dags_folder": dags_dir(),
            "executor": "LocalExecutor",
            "parallelism": PARALLELISM,
            "max_active_tasks_per_dag": PARALLELISM,
            "load_examples": "False",
            "dags_are_paused_at_creation": "False",
            "fernet_key": _fernet_key(secrets[SECRET_KEY]),
            "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "simple_auth_manager_users": f"{ADMIN}:admin",
            "simple_auth_manager_passwords_file": root / "passwords.json",
            "execution_api_server_url": f"{api}/execution/",
        },
        "database": {
            "sql_alchemy_conn": f"postgresql+psycopg2://{postgres.SUPERUSER}:{secrets['postgres_password']}"
                                f"@{LOCALHOST}:{stack.port(postgres.SPEC)}/{DATABASE}",
            "sql_alchemy_pool_size": 3,
            "sql_alchemy_max_overflow": 5,
        },
        "api": {"host": LOCALHOST, "port": stack.port(API_SERVER), "workers": 1, "base_url": api,
                "secret_key": secrets[SECRET_KEY], "expose_config": "False"},
        "api_auth": {"jwt_secret": secrets[JWT_SECRET]},
        "logging": {"base_log_folder": root / "logs", "logging_level": "INFO"},
        "dag_processor": {"refresh_interval": 30, "parsing_processes": 1},
        "scheduler": {"enable_health_check": "False"},
    }


def write_config(stack: StackContext) -> None:
    stack.ensure_secrets()
    root = home(stack)
    sections = config(stack)
    text = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
                   for name, values in sections.items())
    write_private(root / "airflow.cfg", text)
    write_private(root / "passwords.json", json.dumps({ADMIN: stack.secret(PASSWORD)}))
    (root / "logs").mkdir(parents=True, exist_ok=True)


def ensure_migrated(stack: StackContext) -> None:
    """``airflow db migrate`` when the database's schema revision is not the one recorded after
    the last migration by this Airflow version (a cheap psql query instead of a ~20 s CLI start)."""
    postgres.ensure_database(stack, DATABASE)
    APP.ensure_migrated(stack, lambda: _revision(stack), lambda: APP.run(stack, ["db", "migrate"], process_env(stack)))


def _revision(stack: StackContext) -> str:
    try:
        return postgres.psql(stack, "SELECT version_num FROM alembic_version", database=DATABASE)
    except ComponentError:  # no table yet
        return ""


class AirflowRecipe(NativeRecipe):
    command: tuple[str, ...] = ()

    def fetch(self) -> None:
        venv(self.stack)

    def prepare(self) -> None:
        write_config(self.stack)
        ensure_migrated(self.stack)

    def launch(self) -> Launch:
        return Launch([str(APP.bin(self.stack)), *self.command], env=process_env(self.stack),
                      cwd=home(self.stack))

    def purge(self) -> None:
        import shutil

        shutil.rmtree(home(self.stack), ignore_errors=True)
        super().purge()


class ApiServerRecipe(AirflowRecipe):
    def launch(self) -> Launch:
        self.command = ("api-server", "--host", LOCALHOST, "--port", str(self.port()), "--workers", "1")
        return super().launch()


class SchedulerRecipe(AirflowRecipe):
    # the log server would listen on every interface; the api-server reads the log files directly
    command = ("scheduler", "--skip-serve-logs")


class DagProcessorRecipe(AirflowRecipe):
    command = ("dag-processor",)


def health_probe(stack: StackContext) -> Probe:
    """The api-server: ready when its health endpoint answers and says the metadatabase is healthy."""
    endpoint = url(stack) + "/api/v2/monitor/health"

    def check(timeout: float) -> ProbeResult:
        import httpx

        try:
            response = httpx.get(endpoint, timeout=timeout)
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            return ProbeResult(False, f"GET {endpoint}: {type(exc).__name__}")
        parts = {k: (v or {}).get("status") for k, v in data.items() if isinstance(v, dict)}
        return ProbeResult(parts.get("metadatabase") == "healthy",
                           ", ".join(f"{k} {v}" for k, v in parts.items()) or f"-> {response.status_code}")

    return Probe(f"airflow {endpoint}", check)


def heartbeat_probe(stack: StackContext, job_type: str) -> Probe:
    """The scheduler and the dag-processor: ready when their job heartbeats (what the health endpoint
    reports as healthy: a heartbeat in the last 30 s), read from the metadata database, so either
    is ready without the api-server."""
    sql = (f"SELECT count(*) FROM job WHERE job_type = '{job_type}' AND state = 'running' "
           "AND latest_heartbeat > now() - interval '30 seconds'")

    def check(timeout: float) -> ProbeResult:
        try:
            alive = postgres.psql(stack, sql, database=DATABASE)
        except ComponentError as exc:
            return ProbeResult(False, exc.message[:120])
        return ProbeResult(alive not in ("", "0"), f"{job_type} heartbeats: {alive}")

    return Probe(f"airflow {job_type} heartbeat in the metadata database", check)


def _process(name: str, summary: str, recipe: type[AirflowRecipe], probe, ports=None,
             remote_url: str | None = None) -> ServiceSpec:
    """The spec of one of Airflow's processes: all three share the metadata database, secrets, version."""
    spec = ServiceSpec(
        name=f"airflow-{name}",
        summary=summary,
        ports=ports or {},
        url=url,
        probe=probe,
        native=lambda stack: recipe(stack, spec),
        depends_on=("postgres",),
        secrets=(PASSWORD, JWT_SECRET, SECRET_KEY),
        version=VERSION,
        group="airflow",
        remote_url=remote_url,
        # each process ends when the metadata database goes away (a PostgreSQL restart) and is meant to be
        # started again, as its Kubernetes Deployment or a systemd unit would
        restart=True,
    )
    return spec


API_SERVER = _process("api-server", "Airflow api-server (REST API v2, UI, task execution API)", ApiServerRecipe,
                      health_probe, ports={"main": 8088}, remote_url="airflow.url")
SCHEDULER = _process("scheduler", "Airflow scheduler (LocalExecutor, parallelism 2)", SchedulerRecipe,
                     lambda stack: heartbeat_probe(stack, "SchedulerJob"))
DAG_PROCESSOR = _process("dag-processor", "Airflow dag-processor (parses dags/)", DagProcessorRecipe,
                         lambda stack: heartbeat_probe(stack, "DagProcessorJob"))

SPECS = (API_SERVER, SCHEDULER, DAG_PROCESSOR)
