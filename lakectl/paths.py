"""Where lakectl's own files are: the source checkout's deploy/ and schemas/, or their packaged copy."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    checkout = _PACKAGE.parent / name
    return checkout if checkout.is_dir() else _PACKAGE / "_data" / name


def deploy_dir() -> Path:
    return _shipped("deploy")


def schemas_dir() -> Path:
    return _shipped("schemas")


def flink_jobs_dir() -> Path:
    return _shipped("flink_jobs")
