"""Where lakectl's own files are: deploy/, schemas/, flink_jobs/, dbt_project/ and dags/ of the source
checkout lakectl runs from (lakectl is run from its checkout; no copy of them is packaged)."""

from __future__ import annotations

from pathlib import Path

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
