"""Superset on Kubernetes: a Deployment of lakectl's superset family image (the compose one: Superset at
``versions.SUPERSET`` in its pinned venv, with the Trino driver lakectl pins, ``superset.REQUIREMENTS``), and the
Gold dashboard imported at start. Nothing is installed when a pod starts: the venv is the image's.

Derived from the superset ServiceSpec (port, health path, admin user, gunicorn workers and threads, the venv
Superset runs from) and deploy/superset (the Gold bundle, its database URI pointed at the cluster's Trino the same
way ``render_bundle`` does for the local stack). The init container, of the same image, migrates the metadata
database (external, its URI from a Secret), creates the admin and imports the bundle.
"""

from __future__ import annotations

from typing import Any

from lakectl.runtime.compose_file import IMAGE_CACHE_DIR
from lakectl.runtime.kubernetes.render import trino
from lakectl.runtime.kubernetes.render.common import (
    SUPERSET_SECRET,
    Resources,
    built_image,
    config_map,
    container,
    deployment,
    http_probe,
    secret_env,
    selector_labels,
    service,
)
from lakectl.runtime.services import superset as superset_service
from lakectl.settings import LoadedSettings

NAME = "superset"
COMPONENT = "superset"
FAMILY = "superset"  # the compose image family (ServiceSpec.image_family)
RESOURCES = Resources("250m", "1Gi", "1", "1536Mi")
INIT = Resources("250m", "768Mi", "1", "1Gi")
SUPERSET_HOME = "/tmp/superset"  # writable whatever uid the pod runs as
BUNDLE = "/opt/lakectl/gold"
CONFIG = "/opt/lakectl/config"
BUNDLE_CONFIG_MAP = "superset-gold-bundle"


def port() -> int:
    return superset_service.SPEC.ports["main"]


def image(loaded: LoadedSettings) -> str:
    return built_image(loaded, FAMILY)


def venv_bin(command: str) -> str:
    """``command`` of the superset family's venv, in the image (its Trino driver among its pins)."""
    return superset_service.APP.image_bin(IMAGE_CACHE_DIR, command)


def trino_uri(loaded: LoadedSettings) -> str:
    return (f"trino://{superset_service.TRINO_USER}@{trino.NAME}.{loaded.settings.kubernetes.namespace}.svc:"
            f"{trino.port()}/{superset_service.TRINO_CATALOG}")


def bundle_files(loaded: LoadedSettings) -> dict[str, str]:
    """deploy/superset as ``render_bundle`` writes it (database URI -> this cluster's Trino, type assets), keyed
    by path with ``/`` spelled ``__`` (a ConfigMap key has no slash); the volume's items restore the paths."""
    source = superset_service.bundle_dir()
    files = {}
    for path in sorted(p for p in source.rglob("*.yaml") if p.is_file()):
        text = path.read_text()
        if path.parent.name == "databases":
            text = superset_service.URI_LINE.sub(f"sqlalchemy_uri: {trino_uri(loaded)}", text)
        elif path.name == "metadata.yaml" and path.parent == source:
            text = superset_service.TYPE_LINE.sub("type: assets", text)
        files[path.relative_to(source).as_posix()] = text
    return files


def config_text() -> str:
    """superset_config.py: the local stack's settings, its secrets read from the environment (Secrets)."""
    return (
        "# rendered by lakectl deploy render: secrets come from the environment (Secret lakectl-superset)\n"
        "import os\n"
        "SECRET_KEY = os.environ['SUPERSET_SECRET_KEY']\n"
        "SQLALCHEMY_DATABASE_URI = os.environ['SUPERSET_DATABASE_URI']\n"
        "SUPERSET_WEBSERVER_TIMEOUT = 120\n"
        "SQLLAB_TIMEOUT = 120\n"
        "FEATURE_FLAGS = {}\n"
    )


def init_script() -> str:
    """Migrate, create the admin (refused harmlessly when it exists), import the Gold bundle: the venv's own CLI."""
    superset, python = venv_bin("superset"), venv_bin("python")
    return f"""set -e
{superset} db upgrade
{superset} init
{superset} fab create-admin --username "$ADMIN_USER" --password "$ADMIN_PASSWORD" --firstname admin \\
  --lastname admin --email admin@localhost || true
{python} -c "import os, zipfile; z = zipfile.ZipFile('/tmp/gold.zip', 'w'); \\
[z.write(os.path.join('{BUNDLE}', f), 'gold/' + f) for f in os.environ['BUNDLE_FILES'].split()]; z.close()"
{superset} import-dashboards --path /tmp/gold.zip --username "$ADMIN_USER"
"""


def render(loaded: LoadedSettings) -> list[dict[str, Any]]:
    files = bundle_files(loaded)
    tag = image(loaded)
    env = [
        {"name": "SUPERSET_CONFIG_PATH", "value": f"{CONFIG}/superset_config.py"},
        {"name": "SUPERSET_HOME", "value": SUPERSET_HOME},
        secret_env("SUPERSET_SECRET_KEY", SUPERSET_SECRET, "secret-key"),
        secret_env("SUPERSET_DATABASE_URI", SUPERSET_SECRET, "database-uri"),
    ]
    mounts = [{"name": "config", "mountPath": CONFIG, "readOnly": True}]
    init_env = [*env, {"name": "ADMIN_USER", "value": superset_service.ADMIN},
                # the bundle's files (a ConfigMap volume also holds its own ..data links: not those)
                {"name": "BUNDLE_FILES", "value": " ".join(files)},
                secret_env("ADMIN_PASSWORD", SUPERSET_SECRET, "admin-password")]
    init = container("init", tag, INIT, command=["sh", "-c", init_script()], env=init_env,
                     volumeMounts=[*mounts, {"name": "bundle", "mountPath": BUNDLE, "readOnly": True}])
    health = http_probe("/health", "http", initial_delay_s=20)
    main = container(
        NAME, tag, RESOURCES, env=env, volumeMounts=mounts,
        command=[venv_bin("gunicorn"), "--bind", f"0.0.0.0:{port()}", "--workers", str(superset_service.WORKERS),
                 "--worker-class", "gthread", "--threads", str(superset_service.THREADS), "--timeout", "180",
                 "--limit-request-line", "0", "--limit-request-field_size", "0", "superset.app:create_app()"],
        ports=[{"name": "http", "containerPort": port(), "protocol": "TCP"}],
        readinessProbe=health, livenessProbe={**health, "initialDelaySeconds": 90},
    )
    volumes = [
        {"name": "config", "configMap": {"name": f"{NAME}-config"}},
        {"name": "bundle", "configMap": {"name": BUNDLE_CONFIG_MAP, "items": [
            {"key": key.replace("/", "__"), "path": key} for key in files]}},
    ]
    return [
        config_map(loaded, f"{NAME}-config", COMPONENT, {"superset_config.py": config_text()}),
        config_map(loaded, BUNDLE_CONFIG_MAP, COMPONENT, {k.replace("/", "__"): v for k, v in files.items()}),
        deployment(loaded, NAME, COMPONENT, containers=[main], init_containers=[init], volumes=volumes),
        service(loaded, NAME, COMPONENT, {"http": port()}, selector_labels(NAME, COMPONENT)),
    ]
