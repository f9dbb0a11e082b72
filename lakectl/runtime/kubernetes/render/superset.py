"""Superset on Kubernetes: a Deployment of Superset's upstream image at ``versions.SUPERSET`` with the Trino
driver lakectl pins (``superset.REQUIREMENTS``), and the Gold dashboard imported at start.

Derived from the superset ServiceSpec (port, health path, admin user, gunicorn workers and threads, the Trino
driver's pin) and deploy/superset (the Gold bundle, its database URI pointed at the cluster's Trino the same
way ``render_bundle`` does for the local stack). The init container installs the driver into a shared volume,
migrates the metadata database (external, its URI from a Secret), creates the admin and imports the bundle.
"""

from __future__ import annotations

from typing import Any

from lakectl.runtime import versions
from lakectl.runtime.kubernetes.render import trino
from lakectl.runtime.kubernetes.render.common import (
    SUPERSET_SECRET,
    Resources,
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
IMAGE = f"apache/superset:{versions.SUPERSET}"
RESOURCES = Resources("250m", "1Gi", "1", "1536Mi")
INIT = Resources("250m", "768Mi", "1", "1Gi")
DEPS = "/opt/lakectl/deps"
BUNDLE = "/opt/lakectl/gold"
CONFIG = "/opt/lakectl/config"
BUNDLE_CONFIG_MAP = "superset-gold-bundle"


def port() -> int:
    return superset_service.SPEC.ports["main"]


def trino_driver() -> str:
    return next(r for r in superset_service.REQUIREMENTS if r.startswith("trino=="))


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


# install the driver, migrate, create the admin (refused harmlessly when it exists), import the Gold bundle
INIT_SCRIPT = f"""set -e
python -m pip install --quiet --no-cache-dir --target {DEPS} "$TRINO_DRIVER" \\
  || uv pip install --quiet --target {DEPS} "$TRINO_DRIVER"
superset db upgrade
superset init
superset fab create-admin --username "$ADMIN_USER" --password "$ADMIN_PASSWORD" --firstname admin \\
  --lastname admin --email admin@localhost || true
python -c "import os, zipfile; z = zipfile.ZipFile('/tmp/gold.zip', 'w'); \\
[z.write(os.path.join('{BUNDLE}', f), 'gold/' + f) for f in os.environ['BUNDLE_FILES'].split()]; z.close()"
superset import-dashboards --path /tmp/gold.zip --username "$ADMIN_USER"
"""


def render(loaded: LoadedSettings) -> list[dict[str, Any]]:
    files = bundle_files(loaded)
    env = [
        {"name": "SUPERSET_CONFIG_PATH", "value": f"{CONFIG}/superset_config.py"},
        {"name": "PYTHONPATH", "value": DEPS},
        secret_env("SUPERSET_SECRET_KEY", SUPERSET_SECRET, "secret-key"),
        secret_env("SUPERSET_DATABASE_URI", SUPERSET_SECRET, "database-uri"),
    ]
    mounts = [{"name": "deps", "mountPath": DEPS}, {"name": "config", "mountPath": CONFIG, "readOnly": True}]
    init_env = [*env, {"name": "TRINO_DRIVER", "value": trino_driver()},
                {"name": "ADMIN_USER", "value": superset_service.ADMIN},
                # the bundle's files (a ConfigMap volume also holds its own ..data links: not those)
                {"name": "BUNDLE_FILES", "value": " ".join(files)},
                secret_env("ADMIN_PASSWORD", SUPERSET_SECRET, "admin-password")]
    init = container("init", IMAGE, INIT, command=["sh", "-c", INIT_SCRIPT], env=init_env,
                     volumeMounts=[*mounts, {"name": "bundle", "mountPath": BUNDLE, "readOnly": True}])
    health = http_probe("/health", "http", initial_delay_s=20)
    main = container(
        NAME, IMAGE, RESOURCES, env=env, volumeMounts=mounts,
        command=["gunicorn", "--bind", f"0.0.0.0:{port()}", "--workers", str(superset_service.WORKERS),
                 "--worker-class", "gthread", "--threads", str(superset_service.THREADS), "--timeout", "180",
                 "--limit-request-line", "0", "--limit-request-field_size", "0", "superset.app:create_app()"],
        ports=[{"name": "http", "containerPort": port(), "protocol": "TCP"}],
        readinessProbe=health, livenessProbe={**health, "initialDelaySeconds": 90},
    )
    volumes = [
        {"name": "deps", "emptyDir": {}},
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
