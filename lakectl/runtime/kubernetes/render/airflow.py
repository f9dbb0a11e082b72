"""Airflow on Kubernetes, as plain manifests: the api-server, the scheduler (LocalExecutor) and the dag-processor,
each a Deployment of Airflow's upstream image at ``versions.AIRFLOW``.

Derived from the airflow ServiceSpecs (the processes, the api-server's port and health path, the executor and
parallelism, the auth manager, the heartbeat job types their probes check) and from the repository: ``dags/``
(the DAG files, among them the one that generates a DAG per pipeline) and the rendered pipelines' spec files
ship as ConfigMaps, mounted where the DAGs look for them (``<dir>/dags`` and ``<dir>/schemas``). The metadata
database URL, the Fernet key, the JWT secret and the API secret key come from one Secret by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lakectl.paths import dags_dir
from lakectl.pipeline_spec import PipelineSpec
from lakectl.runtime import versions
from lakectl.runtime.kubernetes.render.common import (
    AIRFLOW_SECRET,
    Resources,
    config_map,
    container,
    deployment,
    http_probe,
    namespace,
    secret_env,
    selector_labels,
    service,
    value_env,
)
from lakectl.runtime.services import airflow as airflow_service
from lakectl.settings import LoadedSettings

COMPONENT = "airflow"
IMAGE = f"apache/airflow:{versions.AIRFLOW}"
ROOT = "/opt/lakectl"  # the DAGs find the pipeline specs at ../schemas from themselves
DAGS_CONFIG_MAP, SPECS_CONFIG_MAP = "airflow-dags", "airflow-pipelines"
RESOURCES = {
    "api-server": Resources("250m", "768Mi", "1", "1Gi"),
    "scheduler": Resources("500m", "1Gi", "2", "2Gi"),  # LocalExecutor: the tasks run in it
    "dag-processor": Resources("250m", "512Mi", "1", "1Gi"),
}
MIGRATE = Resources("250m", "512Mi", "1", "1Gi")
# the heartbeat each process's native probe checks (airflow_service.heartbeat_probe): `airflow jobs check` here
JOB_TYPES = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob"}


def api_port() -> int:
    return airflow_service.API_SERVER.ports["main"]


def api_url(loaded: LoadedSettings) -> str:
    return f"http://{airflow_service.API_SERVER.name}.{namespace(loaded)}.svc:{api_port()}"


def env(loaded: LoadedSettings) -> list[dict[str, Any]]:
    values = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": airflow_service.PARALLELISM,
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": airflow_service.PARALLELISM,
        "AIRFLOW__CORE__DAGS_FOLDER": f"{ROOT}/dags",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{airflow_service.ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "/opt/airflow/passwords/passwords.json",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url(loaded)}/execution/",
        "AIRFLOW__API__BASE_URL": api_url(loaded),
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": 30,
        # what a task's lakectl reads (dags/: $LAKECTL_BIN in $LAKECTL_PROJECT_DIR)
        "LAKECTL_BIN": "lakectl",
        "LAKECTL_PROJECT_DIR": ROOT,
        "LAKECTL_PROFILE": loaded.profile,
    }
    return [
        *value_env(values),
        secret_env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", AIRFLOW_SECRET, "sql-alchemy-conn"),
        secret_env("AIRFLOW__CORE__FERNET_KEY", AIRFLOW_SECRET, "fernet-key"),
        secret_env("AIRFLOW__API_AUTH__JWT_SECRET", AIRFLOW_SECRET, "jwt-secret"),
        secret_env("AIRFLOW__API__SECRET_KEY", AIRFLOW_SECRET, "api-secret-key"),
    ]


def _volumes(dags: list[str], pipelines: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both ConfigMaps in ONE projected volume at ROOT (dags/, schemas/): a DAG finds the specs at
    ``Path(__file__).resolve().parent.parent / "schemas"``, and a ConfigMap volume's files are links into a
    hidden ``..<timestamp>/`` directory, which then holds both."""
    repo = {"name": "repo", "projected": {"sources": [
        {"configMap": {"name": DAGS_CONFIG_MAP, "items": [{"key": f, "path": f"dags/{f}"} for f in dags]}},
        {"configMap": {"name": SPECS_CONFIG_MAP, "items": [{"key": f, "path": f"schemas/{f}"} for f in pipelines]}},
    ]}}
    volumes = [repo, {"name": "passwords", "secret": {"secretName": AIRFLOW_SECRET, "items": [
        {"key": "passwords.json", "path": "passwords.json"}]}}]
    mounts = [{"name": "repo", "mountPath": ROOT, "readOnly": True},
              {"name": "passwords", "mountPath": "/opt/airflow/passwords", "readOnly": True}]
    return volumes, mounts


def _process(loaded: LoadedSettings, process: str, args: list[str], files: tuple[list[str], list[str]],
             **fields: Any) -> dict[str, Any]:
    name = f"airflow-{process}"
    volumes, mounts = _volumes(*files)
    main = container(process, IMAGE, RESOURCES[process], args=args, env=env(loaded), volumeMounts=mounts, **fields)
    init = None
    if process == "scheduler":  # the one that migrates the metadata database before it starts
        init = [container("db-migrate", IMAGE, MIGRATE, args=["db", "migrate"], env=env(loaded),
                          volumeMounts=mounts)]
    return deployment(loaded, name, COMPONENT, containers=[main], init_containers=init, volumes=volumes,
                      strategy="Recreate")


def _job_check(process: str) -> dict[str, Any]:
    return {"exec": {"command": ["airflow", "jobs", "check", "--job-type", JOB_TYPES[process], "--local"]},
            "initialDelaySeconds": 60, "periodSeconds": 30, "timeoutSeconds": 20, "failureThreshold": 5}


def render(loaded: LoadedSettings, specs: Sequence[PipelineSpec]) -> list[dict[str, Any]]:
    dags = {p.name: p.read_text() for p in sorted(dags_dir().glob("*.py"))}
    pipelines = {spec.path.name: spec.path.read_text() for spec in specs if spec.path}
    health = http_probe("/api/v2/monitor/health", "http", initial_delay_s=20)
    files = (list(dags), list(pipelines))
    api = _process(loaded, "api-server", ["api-server", "--port", str(api_port())], files,
                   ports=[{"name": "http", "containerPort": api_port(), "protocol": "TCP"}],
                   readinessProbe=health, livenessProbe={**health, "initialDelaySeconds": 90})
    name = airflow_service.API_SERVER.name
    return [
        config_map(loaded, DAGS_CONFIG_MAP, COMPONENT, dags),
        config_map(loaded, SPECS_CONFIG_MAP, COMPONENT, pipelines),
        api,
        _process(loaded, "scheduler", ["scheduler"], files, livenessProbe=_job_check("scheduler")),
        _process(loaded, "dag-processor", ["dag-processor"], files, livenessProbe=_job_check("dag-processor")),
        service(loaded, name, COMPONENT, {"http": api_port()}, selector_labels(name, COMPONENT)),
    ]
