"""Flink jobs: submit a PyFlink file (the JobManager's REST API) or a SQL script (the SQL Gateway),
make sure a named job runs, read a job's status, cancel or stop it.

A ``.sql`` script gets ``${...}`` placeholders filled from the job's connections (``${bootstrap_servers}``,
``${registry_url}``, ``${iceberg.jdbc_url}``...) and from ``key=value`` job arguments.
A ``.py`` job runs through the flink-python jar's ``PythonDriver`` (uploaded once). lakectl hands
every job a context file (0600 JSON: Kafka, registry, Iceberg catalog, object store and their
credentials) and the job's name, so a job file needs no connection settings of its own. Names are
unique among active jobs: a second submit of the same name is refused unless ``replace``, which
stops the old job with a savepoint and starts the new one from it (nothing lost, nothing twice).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakectl.components.flink import PYTHON_DRIVER, TERMINAL_STATES, FlinkClient, JobSummary
from lakectl.errors import CheckFailed, ComponentError, UsageError
from lakectl.ops import placeholders
from lakectl.paths import read_text
from lakectl.runtime.base import write_private

if TYPE_CHECKING:
    from lakectl.components.object_store import S3Location
    from lakectl.components.sql_gateway import SqlGateway

WAIT_FOR_RUNNING_S = 120
WAIT_FOR_STOP_S = 60
LAUNCHER = Path(__file__).resolve().parent.parent / "flink_launcher" / "launch.py"
FAILED_STATES = ("FAILED", "FAILING")


@dataclass(frozen=True)
class JobConnections:
    """What every job is handed (its context file): Kafka, registry, Iceberg catalog, object store."""

    bootstrap_servers: str
    registry_url: str
    checkpoint_interval_s: float
    iceberg: dict[str, str]  # the JDBC catalog: jdbc_url, user, password, warehouse, name
    s3: S3Location
    kafka: dict[str, str] | None = None  # the Java client's security properties (SASL, TLS); None: PLAINTEXT
    registry_user_info: str | None = None  # "user:password" for the registry's basic auth

    def to_dict(self) -> dict[str, Any]:
        from lakectl.job_context import document

        return document(bootstrap_servers=self.bootstrap_servers, registry_url=self.registry_url,
                        checkpoint_interval_s=self.checkpoint_interval_s, iceberg=self.iceberg, s3=self.s3,
                        kafka=self.kafka, registry_user_info=self.registry_user_info)


@dataclass
class JobCluster:
    """The Flink cluster jobs go to, and what lakectl needs to send them there. The factories run on
    first use: a job file that does not exist is refused before any secret is read."""

    flink: FlinkClient
    open_connections: Callable[[], JobConnections]
    state_dir: Path  # job context files and the record of which job ids ran under a name
    parallelism: int
    python_jar: Callable[[], Path]  # flink-python's jar (PythonDriver)
    sql_gateway: Callable[[], SqlGateway]

    @cached_property
    def connections(self) -> JobConnections:
        return self.open_connections()

    def history_path(self, name: str) -> Path:
        return self.state_dir / "jobs" / "history" / f"{name}.json"

    def write_context(self, name: str) -> Path:
        path = self.state_dir / "jobs" / f"{name}.json"
        write_private(path, json.dumps(self.connections.to_dict(), indent=1))  # it holds credentials
        return path


@dataclass
class SubmitResult:
    job_id: str
    name: str
    state: str
    replaced: str | None = None
    savepoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "name": self.name, "state": self.state, "replaced": self.replaced,
                "from_savepoint": self.savepoint}


@dataclass
class EnsureResult:
    """``action``: "none" (a job of that name runs), "submitted" or "restored from <kind>"."""

    action: str
    job_id: str
    name: str
    state: str
    from_savepoint: str | None = None
    replaced: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"job_id": self.job_id, "name": self.name, "state": self.state}
        if self.action != "none":
            data["replaced"] = self.replaced
        return {**data, "from_savepoint": self.from_savepoint, "action": self.action}


@dataclass(frozen=True)
class RestorePoint:
    kind: str  # checkpoint | savepoint
    job_id: str
    mtime: float
    path: str


@dataclass
class JobStatus:
    job: JobSummary
    state: str
    vertices: list[dict[str, Any]]
    restarts: int
    checkpoints: dict[str, Any]
    root_exception: str | None = None

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES

    def to_dict(self) -> dict[str, Any]:
        data = {**self.job.to_dict(), "state": self.state, "vertices": self.vertices, "restarts": self.restarts,
                "checkpoints": self.checkpoints}
        if self.root_exception is not None:
            data["root_exception"] = self.root_exception
        return data


@dataclass
class StopResult:
    """A job after ``cancel`` or ``savepoint``: its state, and the savepoint's location if one was taken."""

    job_id: str
    name: str
    state: str
    savepoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_name(path: Path) -> str:
    """flink_jobs/bronze_trades/job.py -> bronze_trades; other files -> their stem."""
    return path.parent.name if path.stem in ("job", "main", "__main__") else path.stem


def _active(client: FlinkClient, name: str) -> list[JobSummary]:
    return [j for j in client.jobs() if j.name == name and j.state not in TERMINAL_STATES]


def _check_job_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"job file {path} does not exist")


def submit(cluster: JobCluster, path: Path, *, name: str | None, parallelism: int | None,
           savepoint: str | None, replace: bool, job_args: list[str]) -> SubmitResult:
    _check_job_file(path)
    if path.suffix not in (".py", ".sql"):
        raise UsageError(f"{path}: a job is a PyFlink file (.py) or a Flink SQL script (.sql)")
    statements = _check_python(path) if path.suffix == ".py" else _sql_statements(cluster, path, job_args)
    client = cluster.flink
    name = name or default_name(path)
    parallelism = parallelism or cluster.parallelism
    replaced = None
    active = _active(client, name)
    if active and not replace:
        raise UsageError(f"a job named {name!r} is already {active[0].state.lower()} ({active[0].job_id})",
                         hint="lakectl job submit --replace, or lakectl job cancel first")
    if active:
        replaced = active[0].job_id
        savepoint = savepoint or client.stop_with_savepoint(replaced, None)
    if path.suffix == ".py":
        job_id = _run_python(cluster, path, name=name, parallelism=parallelism, savepoint=savepoint,
                             job_args=job_args)
    else:
        job_id = _run_sql(cluster, statements, name=name, parallelism=parallelism, savepoint=savepoint)
    record_submit(cluster, name, job_id, savepoint)
    state = client.wait_for_state(job_id, {"RUNNING"}, WAIT_FOR_RUNNING_S, name=name)
    if state in TERMINAL_STATES:
        raise ComponentError(f"flink: job {name} ({job_id}) is {state} right after submit: "
                             f"{client.first_exception(job_id)}")
    return SubmitResult(job_id, name, state, replaced=replaced, savepoint=savepoint)


def record_submit(cluster: JobCluster, name: str, job_id: str, restored_from: str | None) -> None:
    """Which job ids ran under a name: their checkpoints live under the job id on the object store,
    and the cluster forgets its jobs when it restarts; `job ensure` finds them through this record."""
    import time

    path = cluster.history_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = json.loads(path.read_text()) if path.exists() else []
    entries.append({"job_id": job_id, "submitted_at": time.time(), "restored_from": restored_from})
    path.write_text(json.dumps(entries[-100:], indent=1))


def restore_points(cluster: JobCluster, name: str) -> list[RestorePoint]:
    """Every complete savepoint and retained checkpoint of the jobs that ran as ``name`` (those this
    state dir recorded and those the cluster still knows), newest first. A checkpoint or savepoint
    is complete once its ``_metadata`` exists (Flink writes it last)."""
    from pyarrow import fs

    path = cluster.history_path(name)
    ids = {e["job_id"] for e in json.loads(path.read_text())} if path.exists() else set()
    ids |= {j.job_id for j in cluster.flink.jobs() if j.name == name}
    if not ids:
        return []
    s3 = cluster.connections.s3
    filesystem = s3.filesystem()
    root = f"{s3.bucket}/flink"
    points = []

    def metadata_dirs(prefix: str) -> list[tuple[str, float]]:
        """(directory, mtime) of every complete checkpoint or savepoint below ``prefix``."""
        try:
            infos = filesystem.get_file_info(fs.FileSelector(prefix, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise ComponentError(f"object store: cannot list {prefix}: {str(exc).splitlines()[0]}") from None
        return [(i.path.rsplit("/", 1)[0], i.mtime.timestamp()) for i in infos
                if i.base_name == "_metadata" and i.type == fs.FileType.File]

    for job_id in sorted(ids):
        points += [RestorePoint("checkpoint", job_id, mtime, "s3://" + directory)
                   for directory, mtime in metadata_dirs(f"{root}/checkpoints/{job_id}")]
    prefixes = {f"savepoint-{job_id[:6]}-": job_id for job_id in ids}
    for directory, mtime in metadata_dirs(f"{root}/savepoints"):
        owner = next((j for p, j in prefixes.items() if directory.rsplit("/", 1)[-1].startswith(p)), None)
        if owner:
            points.append(RestorePoint("savepoint", owner, mtime, "s3://" + directory))
    return sorted(points, key=lambda p: p.mtime, reverse=True)


def forget(cluster: JobCluster, name: str) -> list[str]:
    """Delete what would bring a job named ``name`` back (its retained checkpoints, savepoints and the record
    of its job ids), so that the next job of that name starts fresh. Returns what was deleted."""
    from pyarrow import fs

    path = cluster.history_path(name)
    ids = {e["job_id"] for e in json.loads(path.read_text())} if path.exists() else set()
    ids |= {j.job_id for j in cluster.flink.jobs() if j.name == name}
    s3 = cluster.connections.s3
    filesystem = s3.filesystem()
    root = f"{s3.bucket}/flink"
    deleted = []
    savepoints = filesystem.get_file_info(fs.FileSelector(f"{root}/savepoints", allow_not_found=True))
    for job_id in sorted(ids):
        targets = [f"{root}/checkpoints/{job_id}"] + [
            i.path for i in savepoints if i.base_name.startswith(f"savepoint-{job_id[:6]}-")]
        for target in targets:
            if filesystem.get_file_info(target).type != fs.FileType.NotFound:
                filesystem.delete_dir(target)
                deleted.append("s3://" + target)
    if path.exists():
        path.unlink()
        deleted.append(str(path))
    return deleted


def ensure(cluster: JobCluster, path: Path, *, name: str | None, parallelism: int | None,
           job_args: list[str]) -> EnsureResult:
    """A job named ``name`` runs afterwards: nothing is done when one is active; otherwise it is
    submitted from the newest savepoint or retained checkpoint of the jobs that ran under that name
    (its Kafka offsets and uncommitted sink state come back with it), or fresh when there is none."""
    _check_job_file(path)
    name = name or default_name(path)
    active = _active(cluster.flink, name)
    if active:
        return EnsureResult("none", active[0].job_id, name, active[0].state)
    points = restore_points(cluster, name)
    point = points[0] if points else None
    result = submit(cluster, path, name=name, parallelism=parallelism, savepoint=point.path if point else None,
                    replace=False, job_args=job_args)
    return EnsureResult(f"restored from {point.kind}" if point else "submitted", result.job_id, result.name,
                        result.state, from_savepoint=result.savepoint, replaced=result.replaced)


def _run_python(cluster: JobCluster, path: Path, *, name: str, parallelism: int, savepoint: str | None,
                job_args: list[str]) -> str:
    from lakectl.components.flink import FlinkError

    context = cluster.write_context(name)
    error_file = context.with_suffix(".error")
    jar_id = cluster.flink.upload_jar(cluster.python_jar())
    args = ["-py", str(LAUNCHER), str(error_file), str(path.resolve()), "--context", str(context), "--name", name,
            *job_args]
    try:
        return cluster.flink.run_jar(jar_id, entry_class=PYTHON_DRIVER, args=args, parallelism=parallelism,
                                     savepoint=savepoint)
    except FlinkError:
        # the launcher left the job's own error next to its context (a local JobManager only)
        if error_file.exists():
            raise ComponentError(f"flink: job {name} failed to start: {error_file.read_text().strip()}") from None
        raise


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def _sql_statements(cluster: JobCluster, path: Path, job_args: list[str]) -> list[str]:
    """The script's statements with ``${...}`` filled from the job context and ``key=value`` args."""
    values = _flatten(cluster.connections.to_dict())
    for arg in job_args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise UsageError(f"SQL job arguments are key=value, got {arg!r}")
        values[key] = value
    return render_sql(read_text(path, "job file"), values, str(path))


def render_sql(text: str, values: dict[str, str], origin: str) -> list[str]:
    """Fill placeholders and split a script into statements (comments and empty ones dropped)."""
    import sqlparse

    text = placeholders.fill(text, values, origin)
    statements = [sqlparse.format(s, strip_comments=True).strip().rstrip(";").strip() for s in sqlparse.split(text)]
    statements = [s for s in statements if s]
    if not any(s.upper().startswith(("INSERT", "EXECUTE")) for s in statements):
        raise UsageError(f"{origin}: no INSERT or EXECUTE STATEMENT SET: nothing would run")
    return statements


def _run_sql(cluster: JobCluster, statements: list[str], *, name: str, parallelism: int,
             savepoint: str | None) -> str:
    gateway = cluster.sql_gateway()
    properties = {"pipeline.name": name, "parallelism.default": str(parallelism),
                  "execution.checkpointing.interval": f"{int(cluster.connections.checkpoint_interval_s * 1000)} ms",
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
        compile(read_text(path, "job file"), str(path), "exec")
    except SyntaxError as exc:
        raise UsageError(f"{path}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    except ValueError as exc:  # Python 3.11: "source code string cannot contain null bytes"
        raise UsageError(f"{path}: {exc}") from None
    return []


def status(client: FlinkClient, id_or_name: str) -> JobStatus:
    job = client.resolve(id_or_name, active_only=False)
    detail = client.job(job.job_id)
    vertices = [{"name": v["name"], "status": v["status"], "parallelism": v["parallelism"]}
                for v in detail.get("vertices", [])]
    metrics = client.job_metrics(job.job_id, "numRestarts", "lastCheckpointDuration", "uptime")
    checkpoints = client.checkpoints(job.job_id)
    latest = (checkpoints.get("latest") or {}).get("completed") or {}
    counts = checkpoints.get("counts") or {}
    summary = {"completed": counts.get("completed", 0), "failed": counts.get("failed", 0),
               "latest_id": latest.get("id"), "latest_path": latest.get("external_path"),
               "latest_duration_ms": latest.get("end_to_end_duration")}
    cause = client.first_exception(job.job_id) if detail["state"] in ("FAILED", "RESTARTING", "FAILING") else None
    return JobStatus(job, detail["state"], vertices, int(metrics.get("numRestarts", 0)), summary, cause)


def check_status(result: JobStatus) -> None:
    """CheckFailed when the job failed (its status is printed first)."""
    if result.failed:
        raise CheckFailed(f"flink: job {result.job.name} ({result.job.job_id}) is {result.state}"
                          + (f": {result.root_exception}" if result.root_exception else ""))


def stop(client: FlinkClient, id_or_name: str, *, savepoint: bool, timeout: float = WAIT_FOR_STOP_S) -> StopResult:
    """Cancel a job, or stop it with a savepoint, and wait until it is CANCELED or FINISHED
    (ServiceUnavailable naming the job and its last state when it is not within ``timeout``)."""
    target = client.resolve(id_or_name)
    location = client.stop_with_savepoint(target.job_id, None) if savepoint else None
    if not savepoint:
        client.cancel(target.job_id)
    state = client.wait_for_state(target.job_id, {"CANCELED", "FINISHED"}, timeout, name=target.name)
    return StopResult(target.job_id, target.name, state, location)


def take_savepoint(client: FlinkClient, id_or_name: str, target: str | None) -> StopResult:
    """A savepoint of a running job (it keeps running)."""
    found = client.resolve(id_or_name)
    location = client.savepoint(found.job_id, target)
    return StopResult(found.job_id, found.name, found.state, location)


def list_jobs(client: FlinkClient, *, include_finished: bool) -> list[JobSummary]:
    return [j for j in client.jobs() if include_finished or j.state not in TERMINAL_STATES]
