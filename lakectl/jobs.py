"""Submitting Flink jobs: a PyFlink file through the JobManager's REST API, a SQL script through
the SQL Gateway.

A ``.sql`` script gets ``${...}`` placeholders filled from the same context (``${bootstrap_servers}``,
``${registry_url}``, ``${iceberg.jdbc_url}``...) and from ``key=value`` job arguments.
A ``.py`` job runs through the flink-python jar's ``PythonDriver`` (uploaded once). lakectl hands
every job a context file (0600 JSON: Kafka, registry, Iceberg catalog, object store and their
credentials) and the job's name, so a job file needs no connection settings of its own. Names are
unique among active jobs: a second submit of the same name is refused unless ``replace``, which
stops the old job with a savepoint and starts the new one from it (nothing lost, nothing twice).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakectl.components.flink import PYTHON_DRIVER, TERMINAL_STATES, FlinkClient
from lakectl.errors import ComponentError, UsageError
from lakectl.runtime.base import write_private

if TYPE_CHECKING:
    from lakectl.context import AppContext

WAIT_FOR_RUNNING_S = 120
LAUNCHER = Path(__file__).resolve().parent / "flink_launcher" / "launch.py"


@dataclass
class SubmitResult:
    job_id: str
    name: str
    state: str
    replaced: str | None = None
    savepoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "name": self.name, "state": self.state, "replaced": self.replaced,
                "from_savepoint": self.savepoint}


def default_name(path: Path) -> str:
    """flink_jobs/bronze_trades/job.py -> bronze_trades; other files -> their stem."""
    return path.parent.name if path.stem in ("job", "main", "__main__") else path.stem


def job_context(app: AppContext) -> dict[str, Any]:
    s3 = app.s3()
    catalog = app.catalog()
    return {
        "bootstrap_servers": app.bootstrap_servers(),
        "registry_url": app.registry_url(),
        "checkpoint_interval_s": app.settings.flink.checkpoint_interval_s,
        "iceberg": {**catalog, "io": s3.iceberg_java_options()},
        "delta": {"root": s3.uri("delta", scheme="s3a"), "hadoop": s3.hadoop_s3a_options()},
    }


def write_context(app: AppContext, name: str) -> Path:
    path = app.loaded.state_dir / "jobs" / f"{name}.json"
    write_private(path, json.dumps(job_context(app), indent=1))  # it holds credentials
    return path


def python_jar(app: AppContext) -> Path:
    from lakectl.runtime.services import flink

    jars = sorted((flink.flink_home(app.runtime.stack) / "opt").glob("flink-python-*.jar"))
    if not jars:
        raise ComponentError("flink: no flink-python jar in the Flink distribution's opt/")
    return jars[0]


def submit(app: AppContext, client: FlinkClient, path: Path, *, name: str | None, parallelism: int | None,
           savepoint: str | None, replace: bool, job_args: list[str]) -> SubmitResult:
    if not path.is_file():
        raise UsageError(f"job file {path} does not exist")
    if path.suffix not in (".py", ".sql"):
        raise UsageError(f"{path}: a job is a PyFlink file (.py) or a Flink SQL script (.sql)")
    statements = _check_python(path) if path.suffix == ".py" else _sql_statements(app, path, job_args)
    name = name or default_name(path)
    parallelism = parallelism or app.settings.flink.parallelism
    replaced = None
    active = [j for j in client.jobs() if j.name == name and j.state not in TERMINAL_STATES]
    if active and not replace:
        raise UsageError(f"a job named {name!r} is already {active[0].state.lower()} ({active[0].job_id})",
                         hint="lakectl job submit --replace, or lakectl job cancel first")
    if active:
        replaced = active[0].job_id
        savepoint = savepoint or client.stop_with_savepoint(replaced, None)
    if path.suffix == ".py":
        job_id = _run_python(app, client, path, name=name, parallelism=parallelism, savepoint=savepoint,
                             job_args=job_args)
    else:
        job_id = _run_sql(app, statements, name=name, parallelism=parallelism, savepoint=savepoint)
    record_submit(app, name, job_id, savepoint)
    state = client.wait_for_state(job_id, {"RUNNING"}, WAIT_FOR_RUNNING_S)
    if state in TERMINAL_STATES:
        cause = _first_exception(client, job_id)
        raise ComponentError(f"flink: job {name} ({job_id}) is {state} right after submit: {cause}")
    return SubmitResult(job_id, name, state, replaced=replaced, savepoint=savepoint)


def history_path(app: AppContext, name: str) -> Path:
    return app.loaded.state_dir / "jobs" / "history" / f"{name}.json"


def record_submit(app: AppContext, name: str, job_id: str, restored_from: str | None) -> None:
    """Which job ids ran under a name: their checkpoints live under the job id on the object store,
    and the cluster forgets its jobs when it restarts; `job ensure` finds them through this record."""
    import time

    path = history_path(app, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = json.loads(path.read_text()) if path.exists() else []
    entries.append({"job_id": job_id, "submitted_at": time.time(), "restored_from": restored_from})
    path.write_text(json.dumps(entries[-100:], indent=1))


def restore_points(app: AppContext, client: FlinkClient, name: str) -> list[dict[str, Any]]:
    """Every complete savepoint and retained checkpoint of the jobs that ran as ``name`` (those this
    state dir recorded and those the cluster still knows), newest first. A checkpoint or savepoint
    is complete once its ``_metadata`` exists (Flink writes it last)."""
    from pyarrow import fs

    path = history_path(app, name)
    ids = {e["job_id"] for e in json.loads(path.read_text())} if path.exists() else set()
    ids |= {j.job_id for j in client.jobs() if j.name == name}
    if not ids:
        return []
    s3 = app.s3()
    filesystem = s3.filesystem()
    root = f"{s3.bucket}/flink"
    points = []

    def listing(prefix: str) -> list:
        try:
            return filesystem.get_file_info(fs.FileSelector(prefix, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise ComponentError(f"object store: cannot list {prefix}: {str(exc).splitlines()[0]}") from None

    for job_id in sorted(ids):
        for info in listing(f"{root}/checkpoints/{job_id}"):
            if info.base_name == "_metadata" and info.type == fs.FileType.File:
                points.append({"kind": "checkpoint", "job_id": job_id, "mtime": info.mtime.timestamp(),
                               "path": "s3://" + info.path.rsplit("/", 1)[0]})
    prefixes = {f"savepoint-{job_id[:6]}-": job_id for job_id in ids}
    for info in listing(f"{root}/savepoints"):
        directory = info.path.rsplit("/", 1)[0]
        owner = next((j for p, j in prefixes.items() if directory.rsplit("/", 1)[-1].startswith(p)), None)
        if info.base_name == "_metadata" and info.type == fs.FileType.File and owner:
            points.append({"kind": "savepoint", "job_id": owner, "mtime": info.mtime.timestamp(),
                           "path": "s3://" + directory})
    return sorted(points, key=lambda p: p["mtime"], reverse=True)


def ensure(app: AppContext, client: FlinkClient, path: Path, *, name: str | None, parallelism: int | None,
           job_args: list[str]) -> dict[str, Any]:
    """A job named ``name`` runs afterwards: nothing is done when one is active; otherwise it is
    submitted from the newest savepoint or retained checkpoint of the jobs that ran under that name
    (its Kafka offsets and uncommitted sink state come back with it), or fresh when there is none."""
    if not path.is_file():
        raise UsageError(f"job file {path} does not exist")
    name = name or default_name(path)
    active = [j for j in client.jobs() if j.name == name and j.state not in TERMINAL_STATES]
    if active:
        return {"action": "none", "job_id": active[0].job_id, "name": name, "state": active[0].state,
                "from_savepoint": None}
    points = restore_points(app, client, name)
    point = points[0] if points else None
    result = submit(app, client, path, name=name, parallelism=parallelism,
                    savepoint=point["path"] if point else None, replace=False, job_args=job_args)
    return {**result.to_dict(), "action": f"restored from {point['kind']}" if point else "submitted"}


def _run_python(app: AppContext, client: FlinkClient, path: Path, *, name: str, parallelism: int,
                savepoint: str | None, job_args: list[str]) -> str:
    from lakectl.components.flink import FlinkError

    context = write_context(app, name)
    error_file = context.with_suffix(".error")
    jar_id = client.upload_jar(python_jar(app))
    args = ["-py", str(LAUNCHER), str(error_file), str(path.resolve()), "--context", str(context), "--name", name,
            *job_args]
    try:
        return client.run_jar(jar_id, entry_class=PYTHON_DRIVER, args=args, parallelism=parallelism,
                              savepoint=savepoint)
    except FlinkError:
        # the launcher left the job's own error next to its context (a local JobManager only)
        if error_file.exists():
            raise ComponentError(f"flink: job {name} failed to start: {error_file.read_text().strip()}") from None
        raise


# ${iceberg.jdbc_url}: a dotted key of the job context; ${rows_per_second:-1}: with a default
PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_.-]*)(?::-([^}]*))?\}")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def _sql_statements(app: AppContext, path: Path, job_args: list[str]) -> list[str]:
    """The script's statements with ``${...}`` filled from the job context and ``key=value`` args."""
    values = _flatten(job_context(app))
    for arg in job_args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise UsageError(f"SQL job arguments are key=value, got {arg!r}")
        values[key] = value
    return render_sql(path.read_text(), values, str(path))


def render_sql(text: str, values: dict[str, str], origin: str) -> list[str]:
    """Fill placeholders and split a script into statements (comments and empty ones dropped)."""
    import sqlparse

    def fill(match: re.Match) -> str:
        key, default = match.group(1), match.group(2)
        if key in values:
            return values[key]
        if default is not None:
            return default
        raise UsageError(f"{origin}: unknown placeholder ${{{key}}} (known: {', '.join(sorted(values))})")

    text = PLACEHOLDER.sub(fill, text)
    statements = [sqlparse.format(s, strip_comments=True).strip().rstrip(";").strip() for s in sqlparse.split(text)]
    statements = [s for s in statements if s]
    if not any(s.upper().startswith(("INSERT", "EXECUTE")) for s in statements):
        raise UsageError(f"{origin}: no INSERT or EXECUTE STATEMENT SET: nothing would run")
    return statements


def _run_sql(app: AppContext, statements: list[str], *, name: str, parallelism: int,
             savepoint: str | None) -> str:
    from lakectl.components.sql_gateway import SqlGateway

    conf = app.settings.flink
    gateway = SqlGateway.connect(app.runtime.url("flink-sql-gateway"),
                                 token=conf.token.get_secret_value() if conf.token else None, verify=conf.verify_tls)
    properties = {"pipeline.name": name, "parallelism.default": str(parallelism),
                  "execution.checkpointing.interval": f"{int(conf.checkpoint_interval_s * 1000)} ms",
                  "execution.checkpointing.mode": "EXACTLY_ONCE"}
    if savepoint:
        properties["execution.savepoint.path"] = savepoint
    session = gateway.open_session(properties, name)
    job_id = None
    try:
        for statement in statements:
            job_id = gateway.execute(session, statement)["job_id"] or job_id
    finally:
        gateway.close_session(session)
        gateway.close()
    if job_id is None:
        raise ComponentError(f"flink sql: the script of {name} started no job")
    return job_id


def _check_python(path: Path) -> list[str]:
    """A syntax error is reported before anything reaches the cluster (and with its line)."""
    try:
        compile(path.read_text(), str(path), "exec")
    except SyntaxError as exc:
        raise UsageError(f"{path}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    return []


def _first_exception(client: FlinkClient, job_id: str) -> str:
    from lakectl.components.flink import _root_cause

    data = client.exceptions(job_id)
    trace = data.get("root-exception") or ""
    return _root_cause(trace) if trace else "no exception recorded"


def status(client: FlinkClient, id_or_name: str) -> dict[str, Any]:
    job = client.resolve(id_or_name, active_only=False)
    detail = client.job(job.job_id)
    data = {**job.to_dict(), "state": detail["state"],
            "vertices": [{"name": v["name"], "status": v["status"], "parallelism": v["parallelism"]}
                         for v in detail.get("vertices", [])]}
    metrics = client.job_metrics(job.job_id, "numRestarts", "lastCheckpointDuration", "uptime")
    data["restarts"] = int(metrics.get("numRestarts", 0))
    checkpoints = client.checkpoints(job.job_id)
    latest = (checkpoints.get("latest") or {}).get("completed") or {}
    counts = checkpoints.get("counts") or {}
    data["checkpoints"] = {"completed": counts.get("completed", 0), "failed": counts.get("failed", 0),
                           "latest_id": latest.get("id"), "latest_path": latest.get("external_path"),
                           "latest_duration_ms": latest.get("end_to_end_duration")}
    if detail["state"] in ("FAILED", "RESTARTING", "FAILING"):
        data["root_exception"] = _first_exception(client, job.job_id)
    return data
