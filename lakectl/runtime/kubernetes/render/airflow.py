"""Airflow on Kubernetes, as plain manifests: the api-server, the scheduler (LocalExecutor) and the dag-processor,
each a Deployment of lakectl's ``airflow-project`` image (deploy/images/airflow-project.Dockerfile: the compose
airflow family image, which has Airflow in its pinned venv and lakectl, plus the project at ``PROJECT_DIR``).

Derived from the airflow ServiceSpecs (the processes, the api-server's port and health path, the executor and
parallelism, the auth manager, the heartbeat job types their probes check, the venv Airflow runs from) and from the
image: the DAGs are ``<PROJECT_DIR>/dags``, the pipeline specs beside them in ``schemas/``, as in the checkout.
Every task runs ``$LAKECTL_BIN`` in ``$LAKECTL_PROJECT_DIR`` (dags/); the scheduler, where the LocalExecutor runs
them, gets the ``LAKECTL_*`` settings that point that lakectl at the cluster's Kafka, registry, Trino, catalog,
object store and Flink operator, each credential from a Secret by name, and the RBAC the kubernetes job backend
needs. The metadata database URL, the Fernet key, the JWT secret and the API secret key come from one Secret.
"""

from __future__ import annotations

from typing import Any

from lakectl.runtime.compose_file import IMAGE_CACHE_DIR
from lakectl.runtime.images import LAKECTL_BIN, PROJECT_DIR
from lakectl.runtime.kubernetes.render import flink, kafka, registry, trino
from lakectl.runtime.kubernetes.render.common import (
    AIRFLOW_SECRET,
    CATALOG_SECRET,
    OBJECT_STORE_SECRET,
    Resources,
    built_image,
    container,
    deployment,
    http_probe,
    metadata,
    namespace,
    secret_env,
    selector_labels,
    service,
    value_env,
)
from lakectl.runtime.services import airflow as airflow_service
from lakectl.settings import LoadedSettings

COMPONENT = "airflow"
IMAGE_NAME = "airflow-project"  # lakectl.runtime.images.DERIVED
AIRFLOW = airflow_service.APP.image_bin(IMAGE_CACHE_DIR)  # the airflow family's venv, in the image
AIRFLOW_HOME = "/tmp/airflow"  # logs; writable whatever uid the pod runs as
STATE_DIR = "/tmp/lakectl"  # a task's lakectl state (dbt's target/ and logs/ among it)
PASSWORDS_DIR = "/opt/airflow/passwords"
SERVICE_ACCOUNT = "airflow-tasks"
RESOURCES = {
    "api-server": Resources("250m", "768Mi", "1", "1Gi"),
    "scheduler": Resources("500m", "1Gi", "2", "2Gi"),  # LocalExecutor: the tasks run in it
    "dag-processor": Resources("250m", "512Mi", "1", "1Gi"),
}
MIGRATE = Resources("250m", "512Mi", "1", "1Gi")
# the heartbeat each process's native probe checks (airflow_service.heartbeat_probe): `airflow jobs check` here
JOB_TYPES = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob"}
# what the kubernetes job backend (lakectl.ops.jobs_kubernetes) manages: the operator's resources, and what a
# FlinkDeployment's pods need, applied with it (flink.rbac, flink.context_config_map)
TASK_RULES = [
    {"apiGroups": ["flink.apache.org"], "resources": ["flinkdeployments", "flinkstatesnapshots"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["serviceaccounts", "configmaps"],
     "verbs": ["get", "list", "create", "update", "patch"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
     "verbs": ["get", "list", "create", "update", "patch"]},
]


def api_port() -> int:
    return airflow_service.API_SERVER.ports["main"]


def api_url(loaded: LoadedSettings) -> str:
    return f"http://{airflow_service.API_SERVER.name}.{namespace(loaded)}.svc:{api_port()}"


def image(loaded: LoadedSettings) -> str:
    return built_image(loaded, IMAGE_NAME)


def env(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """Every Airflow process's environment."""
    values = {
        "AIRFLOW_HOME": AIRFLOW_HOME,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": airflow_service.PARALLELISM,
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": airflow_service.PARALLELISM,
        "AIRFLOW__CORE__DAGS_FOLDER": f"{PROJECT_DIR}/dags",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{airflow_service.ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": f"{PASSWORDS_DIR}/passwords.json",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url(loaded)}/execution/",
        "AIRFLOW__API__BASE_URL": api_url(loaded),
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": 30,
        # what a task's lakectl is and where it runs (dags/: $LAKECTL_BIN in $LAKECTL_PROJECT_DIR)
        "LAKECTL_BIN": LAKECTL_BIN,
        "LAKECTL_PROJECT_DIR": PROJECT_DIR,
        "LAKECTL_PROFILE": loaded.profile,
    }
    return [
        *value_env(values),
        secret_env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", AIRFLOW_SECRET, "sql-alchemy-conn"),
        secret_env("AIRFLOW__CORE__FERNET_KEY", AIRFLOW_SECRET, "fernet-key"),
        secret_env("AIRFLOW__API_AUTH__JWT_SECRET", AIRFLOW_SECRET, "jwt-secret"),
        secret_env("AIRFLOW__API__SECRET_KEY", AIRFLOW_SECRET, "api-secret-key"),
    ]


def task_env(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """The settings a task's lakectl reads (``LAKECTL_<SECTION>__<KEY>``, lakectl.settings): the cluster's services
    as the other renderers name them; every credential from a Secret by reference."""
    settings = loaded.settings
    store = settings.object_store
    values = {
        "LAKECTL_STATE_DIR": STATE_DIR,
        "LAKECTL_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap(loaded),
        "LAKECTL_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",  # Strimzi's SCRAM listener
        "LAKECTL_KAFKA__SASL_MECHANISM": kafka.MECHANISM,
        "LAKECTL_KAFKA__SASL_USERNAME": kafka.LAKECTL_USER,
        "LAKECTL_REGISTRY__URL": registry.url(loaded),
        "LAKECTL_TRINO__URL": trino.url(loaded),
        "LAKECTL_TRINO__USER": settings.trino.user,
        "LAKECTL_TRINO__CATALOG": settings.trino.catalog,
        "LAKECTL_FLINK__BACKEND": "kubernetes",
        "LAKECTL_KUBERNETES__NAMESPACE": namespace(loaded),
        "LAKECTL_KUBERNETES__IMAGE_PREFIX": settings.kubernetes.image_prefix,
        # the image has no checkout to compute the flink-job tag from: the one these manifests name
        "LAKECTL_KUBERNETES__JOB_IMAGE": flink.image(loaded),
        "LAKECTL_CATALOG__NAME": settings.catalog.name,
        "LAKECTL_OBJECT_STORE__BUCKET": store.bucket,
        "LAKECTL_OBJECT_STORE__REGION": store.region,
    }
    if store.endpoint:
        values["LAKECTL_OBJECT_STORE__ENDPOINT"] = store.endpoint
    return [
        *value_env(values),
        # generated by Strimzi's user operator for the KafkaUser
        secret_env("LAKECTL_KAFKA__SASL_PASSWORD", kafka.LAKECTL_USER, "password"),
        secret_env("LAKECTL_CATALOG__JDBC_URL", CATALOG_SECRET, "jdbc-url"),
        secret_env("LAKECTL_CATALOG__USER", CATALOG_SECRET, "user"),
        secret_env("LAKECTL_CATALOG__PASSWORD", CATALOG_SECRET, "password"),
        secret_env("LAKECTL_OBJECT_STORE__ACCESS_KEY", OBJECT_STORE_SECRET, "access-key"),
        secret_env("LAKECTL_OBJECT_STORE__SECRET_KEY", OBJECT_STORE_SECRET, "secret-key"),
    ]


def rbac(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """The scheduler's service account: the job backend applies FlinkDeployments and FlinkStateSnapshots, and with
    them the jobs' own service account, Role and RoleBinding (flink.rbac). Kubernetes lets a Role be written only
    by who holds its permissions (no ``escalate``), so this Role holds the jobs' rules too, derived from them."""
    jobs_role = next(o for o in flink.rbac(loaded) if o["kind"] == "Role")
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(loaded, SERVICE_ACCOUNT, COMPONENT)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": metadata(loaded, SERVICE_ACCOUNT, COMPONENT), "rules": [*TASK_RULES, *jobs_role["rules"]]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": metadata(loaded, SERVICE_ACCOUNT, COMPONENT),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SERVICE_ACCOUNT},
         "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace(loaded)}]},
    ]


def _volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes = [{"name": "passwords", "secret": {"secretName": AIRFLOW_SECRET, "items": [
        {"key": "passwords.json", "path": "passwords.json"}]}}]
    mounts = [{"name": "passwords", "mountPath": PASSWORDS_DIR, "readOnly": True}]
    return volumes, mounts


def _process(loaded: LoadedSettings, process: str, args: list[str], **fields: Any) -> dict[str, Any]:
    name = f"airflow-{process}"
    volumes, mounts = _volumes()
    tag = image(loaded)
    variables = env(loaded)
    init, account = None, None
    if process == "scheduler":  # where the tasks run; the one that migrates the metadata database before it starts
        variables = [*variables, *task_env(loaded)]
        account = SERVICE_ACCOUNT
        init = [container("db-migrate", tag, MIGRATE, command=[AIRFLOW, "db", "migrate"], env=env(loaded),
                          volumeMounts=mounts)]
    main = container(process, tag, RESOURCES[process], command=[AIRFLOW, *args], env=variables,
                     volumeMounts=mounts, **fields)
    return deployment(loaded, name, COMPONENT, containers=[main], init_containers=init, volumes=volumes,
                      service_account=account, strategy="Recreate")


def _job_check(process: str) -> dict[str, Any]:
    return {"exec": {"command": [AIRFLOW, "jobs", "check", "--job-type", JOB_TYPES[process], "--local"]},
            "initialDelaySeconds": 60, "periodSeconds": 30, "timeoutSeconds": 20, "failureThreshold": 5}


def render(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """The three processes, the api-server's Service and the scheduler's RBAC. The DAGs and the pipeline specs are
    the image's (every pipeline declared in its schemas/), whichever pipelines a render selects."""
    health = http_probe("/api/v2/monitor/health", "http", initial_delay_s=20)
    api = _process(loaded, "api-server", ["api-server", "--port", str(api_port())],
                   ports=[{"name": "http", "containerPort": api_port(), "protocol": "TCP"}],
                   readinessProbe=health, livenessProbe={**health, "initialDelaySeconds": 90})
    name = airflow_service.API_SERVER.name
    return [
        *rbac(loaded),
        api,
        _process(loaded, "scheduler", ["scheduler"], livenessProbe=_job_check("scheduler")),
        _process(loaded, "dag-processor", ["dag-processor"], livenessProbe=_job_check("dag-processor")),
        service(loaded, name, COMPONENT, {"http": api_port()}, selector_labels(name, COMPONENT)),
    ]
