"""The parse-time benchmark's baseline: dags/a2i_custom_review.py as a user writes it WITHOUT airflow-a2i.

The same DAG (same schedule, same params, the same four steps: create the worker task UI, create the flow
definition, start one human loop and wait for its answer, write the answer as JSON Lines to S3) built on what
the Amazon provider offers: its SageMaker operators module (``SageMakerBaseOperator`` subclasses, one per step;
the provider has no A2I operator), ``SageMakerHook`` (the operators' ``self.hook``), a ``sagemaker-a2i-runtime``
client through ``AwsBaseHook``, and ``S3Hook``. The wait polls ``DescribeHumanLoop`` on a worker (the provider
has no A2I trigger). Written to be a fair and realistic equivalent for ``benchmarks/run.py --only parse``,
which only parses it: it is not run by the tests and need not run (it was never run against A2I).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.sagemaker import SageMakerBaseOperator
from airflow.providers.common.compat.sdk import DAG, AirflowException, Param
from botocore.exceptions import ClientError

# The example DAG's worker template (a user keeps it beside the DAG file).
UI_TEMPLATE = Path(__file__).resolve().parents[2] / "dags" / "templates" / "custom_review.liquid.html"
FINAL = {"Completed", "Failed", "Stopped"}


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"ResourceNotFound", "ValidationException"}


class CreateHumanTaskUiOperator(SageMakerBaseOperator):
    """CreateHumanTaskUi from ``config``, or the existing task UI of that name. Returns its ARN."""

    def __init__(self, *, ui_template_file: str, **kwargs):
        super().__init__(**kwargs)
        self.ui_template_file = ui_template_file

    def execute(self, context):
        name = self.config["HumanTaskUiName"]
        try:
            return self.hook.conn.describe_human_task_ui(HumanTaskUiName=name)["HumanTaskUiArn"]
        except ClientError as error:
            if not _not_found(error):
                raise
        content = Path(self.ui_template_file).read_text()  # Liquid: not rendered by Airflow
        return self.hook.conn.create_human_task_ui(**self.config, UiTemplate={"Content": content})["HumanTaskUiArn"]


class CreateFlowDefinitionOperator(SageMakerBaseOperator):
    """CreateFlowDefinition from ``config``, or the existing one of that name; waits until it is Active."""

    def _create_integer_fields(self) -> None:
        self.integer_fields = [["HumanLoopConfig", "TaskCount"]]

    def execute(self, context):
        self.preprocess_config()
        sagemaker = self.hook.conn
        name = self.config["FlowDefinitionName"]
        try:
            arn = sagemaker.describe_flow_definition(FlowDefinitionName=name)["FlowDefinitionArn"]
        except ClientError as error:
            if not _not_found(error):
                raise
            arn = sagemaker.create_flow_definition(**self.config)["FlowDefinitionArn"]
        while (status := sagemaker.describe_flow_definition(FlowDefinitionName=name)["FlowDefinitionStatus"]) \
                != "Active":
            if status == "Failed":
                raise AirflowException(f"Flow definition {name} failed")
            time.sleep(2)
        return arn


class StartHumanLoopAndWaitOperator(SageMakerBaseOperator):
    """StartHumanLoop (a name derived from the run: a retry adopts the loop), then poll until it ends."""

    def __init__(self, *, poll_interval: float | str = 60, review_timeout: int | str = 3 * 24 * 3600, **kwargs):
        super().__init__(**kwargs)
        self.poll_interval = poll_interval
        self.review_timeout = review_timeout

    template_fields = (*SageMakerBaseOperator.template_fields, "review_timeout", "poll_interval")

    def execute(self, context):
        a2i = AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                          client_type="sagemaker-a2i-runtime").conn
        digest = hashlib.sha256(f"{self.dag_id}/{context['run_id']}/{self.task_id}".encode()).hexdigest()
        name = f"review-{digest[:40]}"
        try:
            a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=self.config["FlowDefinitionArn"],
                                 HumanLoopInput={"InputContent": json.dumps(self.config["HumanLoopInput"])})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":  # started by an earlier try
                raise
        deadline = time.monotonic() + float(self.review_timeout)
        while (loop := a2i.describe_human_loop(HumanLoopName=name))["HumanLoopStatus"] not in FINAL:
            if time.monotonic() > deadline:
                a2i.stop_human_loop(HumanLoopName=name)
                raise AirflowException(f"Nobody answered human loop {name} in {self.review_timeout} s")
            time.sleep(float(self.poll_interval))
        if loop["HumanLoopStatus"] != "Completed":
            raise AirflowException(f"Human loop {name} ended {loop['HumanLoopStatus']}: {loop.get('FailureReason')}")
        return {"human_loop_name": name, "output_s3_uri": loop["HumanLoopOutput"]["OutputS3Uri"]}


class ReadAnswerOperator(SageMakerBaseOperator):
    """Read the loop's output.json and write its answers as JSON Lines to ``config["OutputS3Uri"]``."""

    def execute(self, context):
        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        loop = self.config["HumanLoop"]
        bucket, key = S3Hook.parse_s3_url(loop["output_s3_uri"])
        output = json.loads(s3.read_key(key, bucket))
        lines = [json.dumps({"human_loop_name": loop["human_loop_name"], "answer": answer.get("answerContent"),
                             "worker_id": answer.get("workerId")}) for answer in output.get("humanAnswers", [])]
        bucket, key = S3Hook.parse_s3_url(f"{self.config['OutputS3Uri']}/answers.jsonl")
        s3.load_string("\n".join(lines) + "\n", key, bucket, replace=True)
        return {"statuses": {"Completed": 1}, "answers": len(lines)}


with DAG(
    dag_id="sagemaker_custom_review",
    description="A person answers a question about a text snippet (A2I custom task, SageMaker operators)",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["a2i", "human-review"],
    render_template_as_native_obj=True,  # the XComs below stay dicts inside config
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
    task_ui = CreateHumanTaskUiOperator(
        task_id="task_ui",
        config={"HumanTaskUiName": "{{ params.flow_definition_name }}"},
        ui_template_file=str(UI_TEMPLATE),
    )
    flow_definition = CreateFlowDefinitionOperator(
        task_id="flow_definition",
        config={
            "FlowDefinitionName": "{{ params.flow_definition_name }}",
            "RoleArn": "{{ params.role_arn }}",
            "OutputConfig": {"S3OutputPath": "{{ params.output_s3_path }}"},
            "HumanLoopConfig": {
                "WorkteamArn": "{{ params.workteam_arn }}",
                "HumanTaskUiArn": "{{ ti.xcom_pull(task_ids='task_ui') }}",
                "TaskTitle": "Answer a question about a text",
                "TaskDescription": "Read the text and answer the question",
                "TaskCount": 1,
            },
        },
    )
    review = StartHumanLoopAndWaitOperator(
        task_id="review",
        config={
            "FlowDefinitionArn": "{{ ti.xcom_pull(task_ids='flow_definition') }}",
            "HumanLoopInput": {"prompt": "{{ params.question }}", "text": "{{ params.text }}"},
        },
        poll_interval="{{ params.poll_seconds }}",
        review_timeout="{{ params.review_timeout_seconds }}",
        retries=2,
        retry_delay=timedelta(seconds=30),
    )
    read_answer = ReadAnswerOperator(
        task_id="read_answer",
        config={
            "HumanLoop": "{{ ti.xcom_pull(task_ids='review') }}",
            "OutputS3Uri": "{{ params.output_s3_path }}/results/{{ run_id | replace(':', '-') | replace('+', '-') }}",
        },
    )
    task_ui >> flow_definition >> review >> read_answer
