"""`lakectl dbt` and the demo's dbt stage: one dbt command against lakectl's Trino.

Trino is checked first (exit 3 at once, not after dbt's retries); an invocation that reads Bronze
in Delta (``--vars '{reconcile_delta: true}'``) first registers the Delta tables in Trino.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl.components import dbt
from lakectl.components.dbt import DbtOutcome, TrinoEndpoint

if TYPE_CHECKING:
    from lakectl.components.object_store import S3Location
    from lakectl.components.trino import TrinoClient


@dataclass(frozen=True)
class DbtTarget:
    """Where dbt runs: Trino, dbt's own files, and what registering Delta tables needs."""

    endpoint: TrinoEndpoint
    state_dir: Path  # dbt's target/ and logs/
    request_timeout: float
    trino: Callable[[], TrinoClient]
    s3: Callable[[], S3Location]


def register_delta_bronze(trino: TrinoClient, s3: S3Location) -> None:
    """Make Bronze in Delta visible as ``delta.bronze.<topic>`` (Trino knows a Delta table once registered)."""
    from lakectl.components.trino import register_delta_tables

    try:
        register_delta_tables(trino, s3, layers=("bronze",))
    finally:
        trino.close()


def run(target: DbtTarget, command: str, args: list[str], *, quiet: bool = False) -> DbtOutcome:
    """Run one dbt command (``args`` from ``dbt_args``); the outcome says what dbt did and the exit code."""
    dbt.check_reachable(target.endpoint, target.request_timeout)
    if dbt.wants_delta(args):
        register_delta_bronze(target.trino(), target.s3())
    return dbt.invoke(target.endpoint, command, args, state_dir=target.state_dir, quiet=quiet)
