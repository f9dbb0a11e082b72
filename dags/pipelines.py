"""One DAG per pipeline declared in schemas/*.pipeline.toml: ``pipeline_<name>``.

    apply (schema, topics, Bronze job running) -> wait_for_bronze -> dbt_build -> freshness
                                                                                 -> verify (not for file sources)

A new pipeline is a new spec file: its DAG appears at the next parse, with nothing added here. Every task
runs lakectl as a command line, like stock_data_pipeline (see its docstring): ``$LAKECTL_BIN`` in
``$LAKECTL_PROJECT_DIR`` with the airflow service's ``LAKECTL_*`` settings. The specs are read with the
standard library (Airflow's environment has none of lakectl's dependencies); lakectl itself checks them.
Schedule: none by default (triggered); ``LAKECTL_PIPELINE_SCHEDULE`` sets one for every pipeline DAG.
"""

from __future__ import annotations

import os
import shlex
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

REPO = Path(__file__).resolve().parent.parent
SUFFIX = ".pipeline.toml"
LAKECTL = 'cd "${LAKECTL_PROJECT_DIR:-.}" && ${LAKECTL_BIN:?the airflow service sets LAKECTL_BIN}'


def lakectl(*args: str) -> str:
    return f"{LAKECTL} {' '.join(shlex.quote(a) for a in args)}"


def pipeline_dag(name: str, spec: dict) -> DAG:
    topic = spec.get("topic", name)
    with DAG(
        dag_id=f"pipeline_{name}",
        description=f"Pipeline {name}: topic {topic} -> Bronze -> Silver, then freshness and exact counts",
        schedule=os.environ.get("LAKECTL_PIPELINE_SCHEDULE") or None,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 2, "retry_delay": timedelta(seconds=20),
                      "execution_timeout": timedelta(minutes=10)},
        tags=["lakectl", "pipeline", name],
    ) as dag:
        apply = BashOperator(task_id="apply", bash_command=lakectl("pipeline", "apply", name, "--no-models",
                                                                   "-o", "json"))
        wait_for_bronze = BashOperator(
            task_id="wait_for_bronze",
            bash_command=lakectl("pipeline", "status", name, "--wait", "--timeout", "480", "-o", "json"))
        dbt_build = BashOperator(task_id="dbt_build", execution_timeout=timedelta(minutes=30),
                                 bash_command=lakectl("dbt", "build", "--select", f"tag:pipeline_{name}", "-o", "json"))
        freshness = BashOperator(task_id="freshness", retries=0,  # stale data does not freshen by asking again
                                 bash_command=lakectl("dbt", "freshness", "--select", f"tag:pipeline_{name}",
                                                      "-o", "json"))
        apply >> wait_for_bronze >> dbt_build >> freshness
        if spec.get("source", "kafka") != "file":  # a file's bad lines are in the DLQ, not Bronze: verify refuses
            # file pipelines (a CDC pipeline's change events are verified by their Kafka positions)
            verify = BashOperator(task_id="verify", retries=1,
                                  bash_command=lakectl("verify", "--pipeline", name, "-o", "json"))
            dbt_build >> verify
    return dag


for path in sorted((REPO / "schemas").glob(f"*{SUFFIX}")):
    pipeline = path.name[: -len(SUFFIX)]
    try:
        declared = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        continue  # `lakectl pipeline list` names the broken file; the other pipelines keep their DAGs
    globals()[f"pipeline_{pipeline}"] = pipeline_dag(pipeline, declared)
