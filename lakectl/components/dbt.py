"""dbt-core 1.11 (with dbt-trino), in process: Silver and Gold from the repo's dbt_project/.

lakectl runs dbt through its programmatic runner (``dbtRunner``, imported only when a dbt command
runs), with the project's own profiles.yml filled from environment variables that lakectl sets from
its settings (Trino URL, user, password or JWT): the repo holds no host and no secret. dbt's
``target/`` and ``logs/`` live under lakectl's state dir; dbt's console log goes to stderr, so that
stdout holds only lakectl's result.

Exit codes follow dbt's: 0 success, 1 a node failed (a model error, a failing test), 2 dbt refused
the invocation (bad flags, a broken project); 3 when Trino does not answer. With ``-o json`` dbt's
console log is off (``dbt.log`` under the state dir still has it), so stderr holds at most lakectl's
one error line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lakectl.errors import CheckFailed, ExitCode, ServiceUnavailable, UsageError

if TYPE_CHECKING:
    from lakectl.settings import TrinoSettings

# lakectl's command -> dbt's
COMMANDS: dict[str, list[str]] = {
    "run": ["run"],
    "test": ["test"],
    "build": ["build"],
    "seed": ["seed"],
    "docs": ["docs", "generate"],
    "freshness": ["source", "freshness"],
}
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
UNREACHABLE_MARKERS = ("connection refused", "failed to establish a new connection", "max retries exceeded",
                       "name or service not known", "connection reset", "remotedisconnected")
DEFAULT_TRINO_PORT = 8080
DEFAULT_USER = "lakectl"


def project_dir() -> Path:
    """The repo's dbt_project/ (or its packaged copy)."""
    from lakectl.paths import dbt_project_dir

    return dbt_project_dir()


@dataclass(frozen=True)
class TrinoEndpoint:
    url: str
    user: str = DEFAULT_USER
    password: str | None = None
    jwt: str | None = None
    catalog: str = "iceberg"
    verify_tls: bool = True

    @classmethod
    def from_settings(cls, conf: TrinoSettings, url: str) -> TrinoEndpoint:
        """Trino as lakectl's settings describe it: ``url`` (``trino.url`` or the local stack's), user,
        password, JWT."""
        from lakectl.components.http import base_url

        return cls(url=base_url(url, "trino"), user=conf.user or DEFAULT_USER, password=_secret(conf.password),
                   jwt=_secret(conf.jwt), catalog=conf.catalog or "iceberg", verify_tls=conf.verify_tls)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme or "http"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else DEFAULT_TRINO_PORT)

    @property
    def auth(self) -> str:
        """The profiles.yml target: the authentication method."""
        if self.jwt:
            return "jwt"
        return "ldap" if self.password else "none"


def _secret(value: Any) -> str | None:
    text = value.get_secret_value() if value is not None else None
    return text or None


def profile_env(endpoint: TrinoEndpoint, *, target_dir: Path, log_dir: Path, project: Path) -> dict[str, str]:
    """The environment dbt runs with: what profiles.yml reads, plus where dbt keeps its files."""
    env = {
        "LAKECTL_DBT_TARGET": endpoint.auth,
        "LAKECTL_TRINO_HOST": endpoint.host,
        "LAKECTL_TRINO_PORT": str(endpoint.port),
        "LAKECTL_TRINO_HTTP_SCHEME": endpoint.scheme,
        "LAKECTL_TRINO_USER": endpoint.user,
        "LAKECTL_TRINO_CATALOG": endpoint.catalog,
        "LAKECTL_TRINO_VERIFY": str(endpoint.verify_tls),  # profiles.yml: as_bool reads True or False
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(project),
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(log_dir),
        # no usage events sent anywhere, and no .user.yml written into the repo
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if endpoint.password:
        env["LAKECTL_TRINO_PASSWORD"] = endpoint.password
    if endpoint.jwt:
        env["LAKECTL_TRINO_JWT"] = endpoint.jwt
    return env


def dbt_args(command: str, *, select: list[str] | None = None, exclude: list[str] | None = None,
             full_refresh: bool = False, dbt_vars: str | None = None, extra: list[str] | None = None) -> list[str]:
    """The dbt command line for a lakectl dbt command; ``extra`` (after --) goes last, unchanged."""
    if command not in COMMANDS:
        raise UsageError(f"unknown dbt command {command!r} (one of {', '.join(COMMANDS)})")
    args = list(COMMANDS[command])
    for selector in select or []:
        args += ["--select", selector]
    for selector in exclude or []:
        args += ["--exclude", selector]
    if full_refresh:
        args.append("--full-refresh")
    if dbt_vars:
        args += ["--vars", dbt_vars]
    return args + list(extra or [])


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the previous ones."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def check_reachable(endpoint: TrinoEndpoint, timeout: float) -> None:
    """Fail fast (exit 3, one line) when Trino does not answer, before dbt retries its way there."""
    import httpx

    try:
        response = httpx.get(f"{endpoint.url}/v1/info", timeout=timeout, verify=endpoint.verify_tls)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ServiceUnavailable(f"trino at {endpoint.url} is unreachable ({type(exc).__name__})",
                                 hint="lakectl up trino") from None
    except httpx.TimeoutException:
        raise ServiceUnavailable(f"trino at {endpoint.url} timed out") from None
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"trino at {endpoint.url} is unreachable ({type(exc).__name__})",
                                 hint="lakectl up trino") from None
    if response.is_success:
        try:
            starting = bool(response.json().get("starting"))
        except ValueError:
            starting = False
        if starting:
            raise ServiceUnavailable(f"trino at {endpoint.url} is still starting", hint="retry in a moment")


def wants_delta(args: list[str]) -> bool:
    """Does this invocation read Bronze in Delta (``--vars '{reconcile_delta: true}'``)?"""
    import yaml

    for i, arg in enumerate(args[:-1]):
        if arg == "--vars":
            try:
                values = yaml.safe_load(args[i + 1])
            except yaml.YAMLError:
                return False  # dbt says what is wrong with it
            if isinstance(values, dict) and str(values.get("reconcile_delta")).lower() == "true":
                return True
    return False


def _value(status: Any) -> str:
    return str(getattr(status, "value", status)) if status is not None else ""


def node_rows(result: Any) -> list[dict[str, Any]]:
    """One row per executed node of a dbt result (run/test/build/seed/freshness); none for docs."""
    rows = []
    for item in getattr(result, "results", None) or []:
        node = getattr(item, "node", None)
        message = getattr(item, "message", None)
        if message is None and getattr(item, "age", None) is not None:  # source freshness
            message = f"last row {item.age:.0f}s ago"
        execution_time = getattr(item, "execution_time", None)
        row = {
            "unique_id": getattr(node, "unique_id", None),
            "resource_type": _value(getattr(node, "resource_type", None)) or None,
            "status": _value(getattr(item, "status", None)),
            "execution_time": round(float(execution_time), 3) if execution_time is not None else None,
            "message": " ".join(str(message).split()) if message is not None else None,
        }
        failures = getattr(item, "failures", None)
        if failures is not None:
            row["failures"] = failures
        rows.append(row)
    return rows


@dataclass
class DbtOutcome:
    command: str
    args: list[str]
    success: bool
    nodes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    target_dir: str | None = None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node["status"]] = counts.get(node["status"], 0) + 1
        return counts

    def failed(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes if n["status"] in FAILED_STATUSES]

    def to_dict(self) -> dict[str, Any]:
        data = {"command": self.command, "dbt_args": self.args, "success": self.success,
                "exit_code": self.exit_code, "counts": self.counts(), "nodes": self.nodes,
                "target_dir": self.target_dir}
        if self.error:
            data["error"] = self.error
        return data

    def raise_for_status(self) -> None:
        """The lakectl error matching dbt's outcome (nothing on success)."""
        if self.exit_code == ExitCode.OK:
            return
        if self.exit_code == ExitCode.UNAVAILABLE:
            raise ServiceUnavailable(f"dbt {self.command}: {self.error}", hint="lakectl up trino")
        if self.exit_code == ExitCode.USAGE:
            raise UsageError(f"dbt {self.command}: {self.error}")
        failed = self.failed()
        if not failed:
            raise CheckFailed(f"dbt {self.command} failed{': ' + self.error if self.error else ''}")
        shown = "; ".join(f"{n['unique_id']}: {n['message'] or n['status']}" for n in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise CheckFailed(f"dbt {self.command}: {len(failed)} of {len(self.nodes)} nodes failed: {shown}{more}")


def _looks_unreachable(text: str | None) -> bool:
    lowered = (text or "").lower()
    return any(marker in lowered for marker in UNREACHABLE_MARKERS)


def outcome(command: str, args: list[str], res: Any) -> DbtOutcome:
    """Turn a ``dbtRunnerResult`` (success, result, exception) into lakectl's outcome and exit code."""
    exception = getattr(res, "exception", None)
    nodes = node_rows(getattr(res, "result", None))
    found = DbtOutcome(command, args, bool(res.success), nodes)
    if res.success:
        return found
    if exception is not None:
        found.error = " ".join(str(exception).split()) or type(exception).__name__
        found.exit_code = ExitCode.UNAVAILABLE if _looks_unreachable(found.error) else ExitCode.USAGE
        return found
    failed = found.failed()
    if failed and all(_looks_unreachable(n["message"]) for n in failed):
        found.error = f"trino stopped answering: {failed[0]['message']}"
        found.exit_code = ExitCode.UNAVAILABLE
        return found
    errors = getattr(getattr(res, "result", None), "errors", None)  # docs generate: catalog errors
    if errors:
        found.error = " ".join(str(errors[0]).split())
    found.exit_code = ExitCode.FAILED
    return found


def invoke(endpoint: TrinoEndpoint, command: str, args: list[str], *, state_dir: Path,
           quiet: bool = False) -> DbtOutcome:
    """Run one dbt command against ``endpoint`` (files under ``state_dir``: target/, logs/); dbt's
    console log goes to stderr (none when ``quiet``: its file log keeps everything)."""
    import logging

    target_dir, log_dir = state_dir / "target", state_dir / "logs"
    target_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = profile_env(endpoint, target_dir=target_dir, log_dir=log_dir, project=project_dir())
    if quiet:
        env["DBT_LOG_LEVEL"] = "none"
    import trino.auth  # noqa: F401  (its logger says "keyring module not found" on every connection)

    logging.getLogger("trino.auth").setLevel(logging.WARNING)
    with patched_environ(env), contextlib.redirect_stdout(sys.stderr):
        from dbt.cli.main import dbtRunner

        res = dbtRunner().invoke(list(args))
    found = outcome(command, args, res)
    found.target_dir = str(target_dir)
    return found
