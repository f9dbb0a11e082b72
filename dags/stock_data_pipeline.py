"""stock_data_pipeline: keep Bronze flowing, build Silver and Gold, then check what was built.

    ensure_bronze_job -> wait_for_bronze -> dbt_build -> bronze_freshness
                                                     -> verify_counts

Every task runs lakectl as a command line: ``$LAKECTL_BIN`` (lakectl's own virtualenv, so Airflow's
needs none of lakectl's dependencies) in ``$LAKECTL_PROJECT_DIR``, with the ``LAKECTL_*`` settings
the airflow service sets so that the task's lakectl talks to the same stack. A task fails when
lakectl exits non-zero: a restored job that does not run, a failing dbt model or test, Bronze older
than dbt's freshness limit, or Bronze that does not hold exactly what Kafka holds.

Params (``lakectl dag trigger stock_data_pipeline --conf '{"topic": "trades"}'``): ``topic`` (its
bronze job is ``bronze_<topic>``, its Bronze table ``bronze.<topic>``).
Schedule: none by default (triggered); ``LAKECTL_PIPELINE_SCHEDULE`` (a cron expression or preset)
sets one.
"""

from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

REPO = Path(__file__).resolve().parent.parent
BRONZE_JOB = REPO / "flink_jobs" / "bronze" / "job.py"
# $LAKECTL_BIN is expanded by the task's shell at run time (it may be "python -m lakectl")
LAKECTL = 'cd "${LAKECTL_PROJECT_DIR:-.}" && ${LAKECTL_BIN:?the airflow service sets LAKECTL_BIN}'
TOPIC = "{{ params.topic }}"
JOB_NAME = "bronze_{{ params.topic }}"  # bronze_trades for the default topic, as `lakectl demo` names it
DBT_VARS = """-- --vars '{"bronze_table": "{{ params.topic }}"}'"""  # Silver reads bronze.<topic>


def lakectl(*args: str) -> str:
    return f"{LAKECTL} {' '.join(args)}"


with DAG(
    dag_id="stock_data_pipeline",
    description="Bronze job running (restored from its savepoint or checkpoint), dbt build, freshness and counts",
    schedule=os.environ.get("LAKECTL_PIPELINE_SCHEDULE") or None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={"topic": Param("trades", type="string", pattern=r"^[A-Za-z0-9._-]+$")},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20), "execution_timeout": timedelta(minutes=10)},
    tags=["lakectl", "trades"],
) as dag:
    ensure_bronze_job = BashOperator(
        task_id="ensure_bronze_job",
        bash_command=lakectl("job ensure", shlex.quote(str(BRONZE_JOB)), "--name", JOB_NAME, "-o json --",
                             "--topic", TOPIC),
    )
    wait_for_bronze = BashOperator(
        task_id="wait_for_bronze",
        bash_command=lakectl("tables --layer bronze --wait-for-topic", TOPIC, "--timeout 480 -o json"),
    )
    dbt_build = BashOperator(
        task_id="dbt_build",
        bash_command=lakectl("dbt build -o json", DBT_VARS),
        execution_timeout=timedelta(minutes=30),
    )
    bronze_freshness = BashOperator(
        task_id="bronze_freshness",
        bash_command=lakectl("dbt freshness -o json", DBT_VARS),
        retries=0,  # stale data does not freshen by asking again
    )
    verify_counts = BashOperator(
        task_id="verify_counts",
        bash_command=lakectl("verify --topic", TOPIC, "--key trade_id -o json"),
        retries=1,
    )

    ensure_bronze_job >> wait_for_bronze >> dbt_build >> [bronze_freshness, verify_counts]
