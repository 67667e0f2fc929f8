"""A batch of custom-task loops started in one task and waited on by ONE deferred batch trigger in event mode
(``completion="events"``), then every loop read.

For tests/test_celery_deployment.py, which runs two of these at once on one events queue and kills the triggerer
running one of the waits. The waits poll once an hour (only if SQS failed) and reconcile every 15 s: events move
them between full looks, and a full look bounds how long an event given back by the other wait may take to reach
its owner.
Params: ``flow_definition_arn`` (a custom-task flow definition), ``s3_uri`` (where the manifest and the results
go; the run id is added), ``queue_url`` (the SQS queue the flow definition's events reach) and ``count`` (items,
one loop each).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor

RUN = "{{ params.s3_uri }}/{{ run_id | replace(':', '-') | replace('+', '-') }}"
# Retries allowed on purpose: a recovery that needed a second try would show as try_number 2, not as a failure.
RETRIES: dict[str, Any] = {"retries": 2, "retry_delay": timedelta(seconds=1)}

with DAG(dag_id="deployment_event_waits", schedule=None, catchup=False, tags=["deployment-harness"],
         params={"flow_definition_arn": Param("", type="string"), "s3_uri": Param("", type="string"),
                 "queue_url": Param("", type="string"), "count": Param(100, type="integer", minimum=1)}):

    @task
    def make_items(count: str) -> list[dict]:
        return [{"item_key": f"item-{index:05d}", "input": {"text": f"document {index}"}}
                for index in range(int(count))]

    start = A2IStartHumanLoopBatchOperator(
        task_id="start_loops", flow_definition_arn="{{ params.flow_definition_arn }}",
        items=make_items("{{ params.count }}"), manifest_s3_uri=f"{RUN}/manifest", max_concurrency=16,
        aws_conn_id=None, **RETRIES)
    wait = A2IHumanLoopBatchSensor(
        task_id="wait_for_loops", manifest_uris=start.output, deferrable=True, completion="events",
        events_queue_url="{{ params.queue_url }}", poll_interval=3600, reconcile_interval=15, timeout=900,
        aws_conn_id=None, **RETRIES)
    read = A2IHumanLoopResultsOperator(
        task_id="read_loops", manifests=start.output, output_s3_uri=f"{RUN}/results", fail_on_missing_output=True,
        max_concurrency=16, aws_conn_id=None, **RETRIES)
    start >> wait >> read
