"""lakehouse_maintenance: ``lakectl maintain`` on a schedule, for the Bronze tables of every declared pipeline.

    maintain   (compact, expire old snapshots / versions, remove orphan files, Delta checkpoint and log cleanup)

Every Bronze checkpoint commits a snapshot (Iceberg) and a version (Delta) of a few small files; this DAG keeps
reads fast while the Bronze jobs write. The task runs lakectl as a command line, like stock_data_pipeline (see
its docstring): ``$LAKECTL_BIN`` in ``$LAKECTL_PROJECT_DIR`` with the airflow service's ``LAKECTL_*`` settings,
so the retentions are lakectl's (``[maintenance]`` in lakectl.toml, or ``LAKECTL_MAINTENANCE__*``). It fails
when any maintenance action failed (lakectl exits 1); the others have run by then, and the next run tries again.

Params (``lakectl dag trigger lakehouse_maintenance --conf '{"pipelines": ["trades"]}'``): ``pipelines``, the
pipelines to maintain (default: all).
Schedule: daily by default; ``LAKECTL_MAINTENANCE_SCHEDULE`` (a cron expression or preset, ``none`` for
triggered runs only) where the airflow service starts.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

LAKECTL = 'cd "${LAKECTL_PROJECT_DIR:-.}" && ${LAKECTL_BIN:?the airflow service sets LAKECTL_BIN}'
# one --pipeline per name of the run's params (checked against the param's pattern before the run starts)
PIPELINES = "{% for name in params.pipelines %} --pipeline {{ name }}{% endfor %}"
SCHEDULE = os.environ.get("LAKECTL_MAINTENANCE_SCHEDULE", "@daily").strip()

with DAG(
    dag_id="lakehouse_maintenance",
    description="lakectl maintain: compaction, snapshot and version expiry, orphan files, Delta checkpoints",
    schedule=None if SCHEDULE.lower() in ("", "none") else SCHEDULE,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # two runs would compact the same tables at once
    params={"pipelines": Param([], type="array",
                               items={"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,40}$"})},
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=2)},
    tags=["lakectl", "maintenance"],
) as dag:
    maintain = BashOperator(task_id="maintain", bash_command=f"{LAKECTL} maintain -o json{PIPELINES}")
