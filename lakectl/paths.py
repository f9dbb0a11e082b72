"""Where lakectl's own files are: deploy/, schemas/, flink_jobs/, dbt_project/ and dags/ of the source
checkout lakectl runs from (lakectl is run from its checkout; no copy of them is packaged). And how a text
file a user names (a schema, a SQL script, a job, a pipeline spec) is read: ``read_text``."""

from __future__ import annotations

from pathlib import Path

from lakectl.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    return ROOT / name


def deploy_dir() -> Path:
    return shipped("deploy")


def schemas_dir() -> Path:
    return shipped("schemas")


def flink_jobs_dir() -> Path:
    return shipped("flink_jobs")


def dbt_project_dir() -> Path:
    return shipped("dbt_project")


def dags_dir() -> Path:
    return shipped("dags")


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of a file the user named; UsageError naming ``what`` and ``path`` when it is missing, a
    directory, unreadable or not UTF-8 (a binary file, another encoding)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a directory, not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
