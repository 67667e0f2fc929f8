"""A plain DAG for the deployment harness's own test: one PythonOperator, run by the scheduler on LocalExecutor."""

from __future__ import annotations

import os

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def report(**context):
    # What the task saw: the run's conf and the environment the harness passed to the processes.
    return {
        "conf": context["dag_run"].conf,
        "try_number": context["ti"].try_number,
        "aws_endpoint_url": os.environ.get("AWS_ENDPOINT_URL"),
        "pid": os.getpid(),
    }


with DAG(dag_id="deployment_plain", schedule=None, catchup=False, tags=["deployment-harness"]):
    PythonOperator(task_id="report", python_callable=report, retries=0)
