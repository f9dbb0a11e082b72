"""Superset 6.1: the Gold dashboard (deploy/superset, a Superset export) over this stack's Trino.

Native: ``apache-superset`` from PyPI in its own virtualenv in the cache (its pins clash with
lakectl's, Airflow's and PyFlink's), with the Trino SQLAlchemy dialect (the ``trino`` package).
Metadata lives in SQLite in the state dir. ``superset db upgrade`` + ``superset init`` take ~2
minutes on 2 cores, so they run once per Superset version into a template database in the cache
(during ``fetch``); a new stack copies it, and a stack whose database is not at the revision this
Superset was migrated to (recorded next to it) is upgraded in place, like Airflow's ensure_migrated.

The web server is gunicorn with one gthread worker (4 threads). Its app factory
(``lakectl/superset_app/lakectl_superset.py``, run inside Superset's venv) creates the ``admin``
user with the password lakectl generates into the stack's 0600 secrets (resetting it if it
differs), then imports the Gold bundle, zipped at ``up`` with the Trino URI of this stack, as an
"assets" import: database, datasets, charts and dashboard overwritten by UUID, never duplicated.
So the probe (``/health``, then a login to the REST API) passes only once the dashboard is there.
``superset_config.py`` (mode 0600: it holds the SECRET_KEY and the admin password) is written into
the state dir. Nothing at start needs another service: Trino is queried only when a chart runs.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

from lakectl.artifacts import cached_build
from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext, write_private
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.python_app import PythonApp
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.services import trino
from lakectl.runtime.waiting import Probe, ProbeResult

VERSION = versions.SUPERSET
# flask-caching 2.5 passes an argument Superset 6.1's metastore cache does not take; Superset 6.1
# imports rich (its CLI) and cachetools (every engine spec, through aws_iam) without requiring them
REQUIREMENTS = (f"apache-superset=={VERSION}", "trino==0.340.0", "flask-caching==2.3.1", "gunicorn==23.0.0",
                "rich==15.0.0", "cachetools==5.5.2")
ADMIN = "admin"
PASSWORD = "superset_admin_password"
SECRET_KEY = "superset_secret_key"
TRINO_USER = "lakectl"
TRINO_CATALOG = "iceberg"
DASHBOARD_SLUG = "gold"
WORKERS, THREADS = 1, 4
BOOT_DIR = Path(__file__).resolve().parents[2] / "superset_app"  # lakectl_superset.py


APP = PythonApp("superset", VERSION, REQUIREMENTS)
venv, home = APP.venv, APP.home


def url(stack: StackContext) -> str:
    return SPEC.url(stack)


def bundle_dir() -> Path:
    return deploy_dir() / "superset"


def trino_uri(stack: StackContext) -> str:
    """The SQLAlchemy URI of this stack's Trino as Superset reaches it (the same in compose: its
    containers share the host's network)."""
    return f"trino://{TRINO_USER}@{LOCALHOST}:{stack.port(trino.SPEC)}/{TRINO_CATALOG}"


URI_LINE = re.compile(r"^sqlalchemy_uri:.*$", re.MULTILINE)
TYPE_LINE = re.compile(r"^type:.*$", re.MULTILINE)


def render_bundle(source: Path, target: Path, uri: str) -> Path:
    """Zip the export in ``source`` (metadata.yaml, databases/, datasets/, charts/, dashboards/) under
    one root folder, as Superset's import expects, with every database's URI set to ``uri`` and the
    bundle typed "assets" (the import that overwrites every object, not only the dashboard)."""
    metadata = source / "metadata.yaml"
    if not metadata.is_file():
        raise ComponentError(f"superset: no metadata.yaml in {source}")
    files = sorted(p for p in source.rglob("*.yaml") if p.is_file())
    databases = [p for p in files if p.parent.name == "databases"]
    if not databases:
        raise ComponentError(f"superset: no databases/*.yaml in {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in files:
            text = path.read_text()
            if path in databases:
                if not URI_LINE.search(text):
                    raise ComponentError(f"superset: {path} has no sqlalchemy_uri line")
                text = URI_LINE.sub(f"sqlalchemy_uri: {uri}", text)
            elif path == metadata:
                text = TYPE_LINE.sub("type: assets", text)
            bundle.writestr(f"gold/{path.relative_to(source).as_posix()}", text)
    os.replace(tmp, target)
    return target


def config_text(stack: StackContext) -> str:
    """superset_config.py: Python, since that is what Superset reads (values through repr)."""
    secrets = stack.secrets(PASSWORD, SECRET_KEY)
    root = home(stack)
    values = {
        "SECRET_KEY": secrets[SECRET_KEY],
        # the gthread worker's threads share the SQLite connection pool
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'superset.db'}?check_same_thread=false",
        "DATA_DIR": str(root),
        "SUPERSET_WEBSERVER_TIMEOUT": 120,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SQLLAB_TIMEOUT": 120,
        "FEATURE_FLAGS": {},
        # read by lakectl_superset.create() at start
        "LAKECTL_ADMIN_USER": ADMIN,
        "LAKECTL_ADMIN_PASSWORD": secrets[PASSWORD],
        "LAKECTL_BUNDLE": str(root / "gold-bundle.zip"),
    }
    return "# written by lakectl on every `up`\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())


def process_env(stack: StackContext, config: Path | None = None) -> dict[str, str]:
    root = home(stack)
    return {**os.environ, "SUPERSET_CONFIG_PATH": str(config or root / "superset_config.py"),
            "SUPERSET_HOME": str(root), "PYTHONPATH": str(BOOT_DIR), "PYTHONUNBUFFERED": "1",
            "FLASK_APP": "superset.app:create_app()"}


def db_revision(database: Path) -> str:
    """The alembic revision of a Superset SQLite database ('' when there is none yet)."""
    if not database.is_file():
        return ""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return ""
    return row[0] if row else ""


def migrate(stack: StackContext, env: dict[str, str]) -> None:
    APP.run(stack, ["db", "upgrade"], env)
    APP.run(stack, ["init"], env)  # roles and permissions; idempotent


def template_db(stack: StackContext) -> Path:
    """A metadata database migrated to this Superset's head and initialised (no users, no secrets),
    built once per version into the cache: copying it saves a new stack ~2 minutes. (Keyed by the
    version alone: the migrations are apache-superset's own, whatever the other pins.)"""

    def build(work: Path) -> Path:
        config = work / "template_config.py"
        config.write_text(f"SECRET_KEY = {os.urandom(24).hex()!r}\n"
                          f"SQLALCHEMY_DATABASE_URI = {'sqlite:///' + str(work / 'superset.db')!r}\n")
        env = {**process_env(stack, config), "SUPERSET_HOME": str(work)}
        migrate(stack, env)
        config.unlink()
        return work

    target = cached_build(stack.cache_dir, stack.cache_dir / "superset" / f"metadata-{VERSION}", build,
                          {"superset": VERSION, "requirements": list(REQUIREMENTS)})
    return target / "superset.db"


def ensure_migrated(stack: StackContext) -> None:
    """A new stack copies the template database; one whose revision is not the one recorded after the
    last migration by this Superset version is upgraded and initialised again."""
    database = home(stack) / "superset.db"

    def from_template() -> bool:
        if database.exists():
            return False
        shutil.copyfile(template_db(stack), database.with_suffix(".tmp"))
        os.chmod(database.with_suffix(".tmp"), 0o600)
        os.replace(database.with_suffix(".tmp"), database)
        return True

    APP.ensure_migrated(stack, lambda: db_revision(database), lambda: migrate(stack, process_env(stack)),
                        create=from_template)


def write_config(stack: StackContext) -> None:
    stack.ensure_secrets()
    root = home(stack)
    write_private(root / "superset_config.py", config_text(stack))
    render_bundle(bundle_dir(), root / "gold-bundle.zip", trino_uri(stack))


class SupersetRecipe(NativeRecipe):
    def fetch(self) -> None:
        venv(self.stack)
        template_db(self.stack)

    def prepare(self) -> None:
        write_config(self.stack)
        ensure_migrated(self.stack)

    def launch(self) -> Launch:
        gunicorn = APP.bin(self.stack, "gunicorn")
        # the worker loads the app (and imports the bundle) after the fork: allow it the time
        return Launch([str(gunicorn), "--bind", f"{LOCALHOST}:{self.port()}", "--workers", str(WORKERS),
                       "--worker-class", "gthread", "--threads", str(THREADS), "--timeout", "180",
                       "--limit-request-line", "0", "--limit-request-field_size", "0",
                       "lakectl_superset:create()"],
                      env=process_env(self.stack), cwd=home(self.stack))


def login(base: str, password: str, timeout: float, username: str = ADMIN) -> str:
    """A JWT for Superset's REST API; ComponentError when Superset refuses the credentials."""
    import httpx

    response = httpx.post(f"{base}/api/v1/security/login", timeout=timeout,
                          json={"username": username, "password": password, "provider": "db", "refresh": False})
    if response.status_code == 401:
        raise ComponentError(f"superset: login as {username!r} refused (wrong password?)")
    if response.status_code != 200 or "access_token" not in response.json():
        raise ComponentError(f"superset: POST /api/v1/security/login -> {response.status_code}")
    return response.json()["access_token"]


def _probe(stack: StackContext) -> Probe:
    """Ready when /health answers OK and the admin can log in to the REST API (the app has loaded,
    the admin exists and the bundle was imported: the app factory does both before serving)."""
    health = url(stack) + "/health"

    def check(timeout: float) -> ProbeResult:
        import httpx

        try:
            response = httpx.get(health, timeout=timeout)
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"GET {health}: {type(exc).__name__}")
        if response.status_code != 200 or response.text.strip() != "OK":
            return ProbeResult(False, f"GET {health} -> {response.status_code}")
        try:
            login(url(stack), stack.secret(PASSWORD), max(timeout, 5.0))
        except (ComponentError, httpx.HTTPError, ValueError) as exc:
            return ProbeResult(False, getattr(exc, "message", type(exc).__name__))
        return ProbeResult(True, "health OK, admin login OK")

    return Probe(f"superset {health} and admin login", check)


SPEC = ServiceSpec(
    name="superset",
    summary="Superset (the Gold dashboard over Trino)",
    ports={"main": 8091},
    probe=_probe,
    native=lambda stack: SupersetRecipe(stack, SPEC),
    depends_on=(),
    secrets=(PASSWORD, SECRET_KEY),
    version=VERSION,
)
