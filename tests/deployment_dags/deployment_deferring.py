"""A DAG whose first task defers to the triggerer (the standard provider's deferrable DateTime sensor).

The target time is ``params.wait_seconds`` after the task instance's start, so the task always defers however
late a loaded machine starts it; when the trigger fires the task resumes on a worker
(``execute_complete``), and a downstream task runs after it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, Param

TARGET_TIME = "{{ (ti.start_date + macros.timedelta(seconds=params.wait_seconds)).isoformat() }}"


def after(**context):
    return {"try_number": context["ti"].try_number}


with DAG(dag_id="deployment_deferring", schedule=None, catchup=False, tags=["deployment-harness"],
         params={"wait_seconds": Param(8, type="integer", minimum=0)}):
    # Retries allowed on purpose: a recovery that needed a retry would show as try_number 2, not as a failure.
    wait = DateTimeSensorAsync(task_id="wait", target_time=TARGET_TIME, retries=2, retry_delay=timedelta(seconds=1))
    wait >> PythonOperator(task_id="after", python_callable=after, retries=0)
