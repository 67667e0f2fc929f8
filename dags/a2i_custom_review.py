"""Custom-task human review: a person answers a question about a text snippet, every day.

Creates (or reuses) its worker task UI from ``templates/custom_review.liquid.html`` and its flow
definition, starts one human loop for the snippet, waits for the answer on the triggerer (no worker
slot held), and writes the answer as JSON Lines to S3. It runs unchanged on AWS and on the local
service (``airflow-a2i local serve``): only the AWS connection's endpoint differs, and nothing here
names an endpoint or an account. Defaults for the ARNs come from the environment of the DAG processor
(``A2I_ROLE_ARN``, ``A2I_WORKTEAM_ARN``, ``A2I_OUTPUT_S3_PATH``) and can be overridden per run.
"""

from __future__ import annotations

import os
from datetime import timedelta

# Airflow's DAG processor imports the airflow.* modules a DAG file names once, in the process that parses it again
# and again ([dag_processor] parsing_pre_import_modules): naming the parts of the Amazon provider's AWS base that
# the operators below build on takes most of their import time out of every parse of this file.
import airflow.providers.amazon.aws.links.base_aws
import airflow.providers.amazon.aws.operators.base_aws  # noqa: F401
import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator, A2ICreateHumanTaskUiOperator
from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator

with DAG(
    dag_id="a2i_custom_review",
    description="A person answers a question about a text snippet (A2I custom task)",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["a2i", "human-review"],
    params={
        "role_arn": Param(os.environ.get("A2I_ROLE_ARN", ""), type="string",
                          description="IAM role A2I uses to write the output"),
        "workteam_arn": Param(os.environ.get("A2I_WORKTEAM_ARN", ""), type="string",
                              description="The private work team that reviews"),
        "output_s3_path": Param(os.environ.get("A2I_OUTPUT_S3_PATH", ""), type="string",
                                description="s3://bucket/prefix for output.json and the results"),
        "flow_definition_name": Param("a2i-custom-review", type="string"),
        "text": Param("The invoice total is 1,250.00 EUR, due on 2026-12-31.", type="string"),
        "question": Param("What is the invoice total?", type="string"),
        "review_timeout_seconds": Param(3 * 24 * 3600, type="integer", minimum=1,
                                        description="Stop the loop and fail if nobody answers in time"),
        "poll_seconds": Param(60, type="number", minimum=0, description="seconds between two looks at the loops"),
    },
) as dag:
    task_ui = A2ICreateHumanTaskUiOperator(
        task_id="task_ui",
        human_task_ui_name="{{ params.flow_definition_name }}",
        ui_template_file="templates/custom_review.liquid.html",
    )
    flow_definition = A2ICreateFlowDefinitionOperator(
        task_id="flow_definition",
        flow_definition_name="{{ params.flow_definition_name }}",
        role_arn="{{ params.role_arn }}",
        output_s3_path="{{ params.output_s3_path }}",
        workteam_arn="{{ params.workteam_arn }}",
        human_task_ui_arn=task_ui.output,
        task_title="Answer a question about a text",
        task_description="Read the text and answer the question",
        task_count=1,
    )
    review = A2IStartHumanLoopOperator(
        task_id="review",
        flow_definition_arn=flow_definition.output,
        human_loop_input={"prompt": "{{ params.question }}", "text": "{{ params.text }}"},
        deferrable=True,
        poll_interval="{{ params.poll_seconds }}",
        review_timeout="{{ params.review_timeout_seconds }}",
        on_review_timeout="stop_and_fail",
        # Airflow can fail a deferred task that resumes within seconds (a stale executor event read as a state
        # mismatch: apache/airflow#67287, #72716). A retry adopts the loop the first try started (its name is
        # deterministic), never starts a second one; a failed or overdue review still fails without a retry.
        retries=2,
        retry_delay=timedelta(seconds=30),
    )
    read_answer = A2IHumanLoopResultsOperator(
        task_id="read_answer",
        human_loops=[review.output],
        output_s3_uri="{{ params.output_s3_path }}/results/{{ run_id | replace(':', '-') | replace('+', '-') }}",
    )
    task_ui >> flow_definition >> review >> read_answer
