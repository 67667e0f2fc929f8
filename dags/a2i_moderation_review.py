"""Image moderation with human review: Rekognition labels every image, people review the uncertain ones.

1. Creates (or reuses) its worker task UI from ``templates/moderation_review.liquid.html`` and its built-in
   flow definition (``AWS/Rekognition/DetectModerationLabels/Image/V3``) whose activation conditions send an
   image to review when any moderation label was detected with less than ``REVIEW_BELOW`` % confidence.
2. Lists the JPEG and PNG images under the input prefix and maps ``RekognitionDetectModerationLabelsOperator``
   over them: each analysis goes to S3, and A2I starts a loop where the conditions hold. (One task per image:
   fine for a few hundred images a run; larger batches want chunks.)
3. One deferrable sensor waits for the loops that started (none started: nothing to wait for). A review that fails
   or is not done within ``review_timeout_seconds`` (stopped then) does not hold the others up: its image
   keeps the machine's labels, and its row says why.
4. The results operator writes the final labels as JSON Lines: per image the machine's labels, which ones
   the reviewer kept (``labels[].kept_by_reviewer``) and ``final_labels``, the names that stand.

It runs unchanged on AWS and on the local service (``airflow-a2i local serve``): nothing here names an endpoint
or an account. Defaults for the params come from the DAG processor's environment (``A2I_ROLE_ARN``,
``A2I_WORKTEAM_ARN``, ``A2I_IMAGES_S3_URI``, ``A2I_OUTPUT_S3_PATH``). The input bucket needs the CORS rule A2I's
worker UI uses (the Rekognition task checks it before any analysis), and Airflow needs ``s3:ListBucket`` on the
input prefix besides the operators' actions listed in the README.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

# Airflow's DAG processor imports the airflow.* modules a DAG file names once, in the process that parses it again
# and again ([dag_processor] parsing_pre_import_modules): naming the parts of the Amazon provider's AWS base that
# the operators below build on takes most of their import time out of every parse of this file.
import airflow.providers.amazon.aws.links.base_aws
import airflow.providers.amazon.aws.operators.base_aws
import airflow.providers.amazon.aws.sensors.base_aws  # noqa: F401
import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator, A2ICreateHumanTaskUiOperator
from airflow_a2i.operators.rekognition import RekognitionDetectModerationLabelsOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor

RUN = "{{ params.output_s3_path }}/runs/{{ run_id | replace(':', '-') | replace('+', '-') }}"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what DetectModerationLabels reads
MIN_CONFIDENCE = 50  # Rekognition reports no label below this
REVIEW_BELOW = 90  # a label reported with less confidence than this sends its image to review
ACTIVATION_CONDITIONS = {"Conditions": [{
    "ConditionType": "ModerationLabelConfidenceCheck",
    "ConditionParameters": {"ModerationLabelName": "*", "ConfidenceLessThan": REVIEW_BELOW},
}]}


def activation_conditions(sampling_percentage: object) -> dict:
    """The conditions, and a share of images reviewed at random whatever their confidences (Sampling): what lets
    the review report (``airflow-a2i report``) estimate the errors left in the images nobody reviewed."""
    share = float(sampling_percentage)  # type: ignore[arg-type]
    percentage = int(share) if share.is_integer() else share  # 5, not 5.0, in the flow definition
    sampling = [{"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": percentage}}]
    return {"Conditions": ACTIVATION_CONDITIONS["Conditions"] + (sampling if share > 0 else [])}


with DAG(
    dag_id="a2i_moderation_review",
    description="Rekognition moderation labels for every image, people review the uncertain ones (A2I)",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["a2i", "human-review", "rekognition"],
    params={
        "role_arn": Param(os.environ.get("A2I_ROLE_ARN", ""), type="string",
                          description="IAM role A2I uses to write the output"),
        "workteam_arn": Param(os.environ.get("A2I_WORKTEAM_ARN", ""), type="string",
                              description="The private work team that reviews"),
        "input_s3_uri": Param(os.environ.get("A2I_IMAGES_S3_URI", ""), type="string",
                              description="s3://bucket/prefix of the images (JPEG, PNG)"),
        "output_s3_path": Param(os.environ.get("A2I_OUTPUT_S3_PATH", ""), type="string",
                                description="s3://bucket/prefix for output.json, the analyses and the results"),
        "flow_definition_name": Param("a2i-moderation-review", type="string"),
        "review_timeout_seconds": Param(2 * 24 * 3600, type="integer", minimum=1,
                                        description="Stop a review nobody finished in time; the image keeps "
                                                    "the machine's labels"),
        "poll_seconds": Param(60, type="number", minimum=0, description="seconds between two looks at the loops"),
        "sampling_percentage": Param(0, type="number", minimum=0, maximum=100,
                                     description="images reviewed at random, whatever their confidences, from which "
                                                 "the review report estimates the errors nobody reviewed (a flow "
                                                 "definition cannot change: another percentage needs another "
                                                 "flow_definition_name)"),
    },
    user_defined_macros={"activation_conditions": activation_conditions},
) as dag:
    task_ui = A2ICreateHumanTaskUiOperator(
        task_id="task_ui",
        human_task_ui_name="{{ params.flow_definition_name }}",
        ui_template_file="templates/moderation_review.liquid.html",
    )
    flow_definition = A2ICreateFlowDefinitionOperator(
        task_id="flow_definition",
        flow_definition_name="{{ params.flow_definition_name }}",
        role_arn="{{ params.role_arn }}",
        output_s3_path="{{ params.output_s3_path }}",
        workteam_arn="{{ params.workteam_arn }}",
        human_task_ui_arn=task_ui.output,
        task_title="Check the moderation labels of an image",
        task_description="Choose the categories the image shows",
        task_count=1,
        human_loop_request_source="AWS/Rekognition/DetectModerationLabels/Image/V3",
        activation_conditions="{{ activation_conditions(params.sampling_percentage) | tojson }}",
    )

    @task
    def list_images(input_s3_uri: str) -> list[dict[str, str]]:
        """The images under the input prefix, as the Rekognition task's arguments."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_a2i.s3_uris import split_s3_uri

        bucket, prefix = split_s3_uri(input_s3_uri, "input_s3_uri")
        prefix = f"{prefix}/" if prefix else ""
        keys = [key for key in S3Hook().list_keys(bucket_name=bucket, prefix=prefix)
                if key.lower().endswith(IMAGE_SUFFIXES)]
        logging.getLogger("airflow.task").info("%d image(s) under %s", len(keys), input_s3_uri)
        return [{"s3_bucket": bucket, "s3_key": key} for key in sorted(keys)]

    moderate = RekognitionDetectModerationLabelsOperator.partial(
        task_id="moderate",
        flow_definition_arn=flow_definition.output,
        analysis_output_s3_uri=f"{RUN}/analyses",
        min_confidence=MIN_CONFIDENCE,
        retries=2,  # a retry adopts the loop its first attempt started
    ).expand_kwargs(list_images("{{ params.input_s3_uri }}"))

    wait_for_reviews = A2IHumanLoopSensor(
        task_id="wait_for_reviews",
        human_loop_names=moderate.output,  # the loops A2I started; none started: nothing to wait for
        deferrable=True,
        poll_interval="{{ params.poll_seconds }}",
        review_timeout="{{ params.review_timeout_seconds }}",
        on_review_timeout="stop_and_continue",
        on_loop_failure="continue",
        timeout=7 * 24 * 3600,
        report_s3_uri=f"{RUN}/loops.json",
        # Airflow can fail a deferred task that resumes within seconds (a stale executor event read as a state
        # mismatch: apache/airflow#67287, #72716). A retry waits on the same loops again: safe.
        retries=2,
        retry_delay=timedelta(seconds=30),
    )
    final_labels = A2IHumanLoopResultsOperator(
        task_id="final_labels",
        human_loops=moderate.output,
        output_s3_uri=f"{RUN}/results",
    )
    task_ui >> flow_definition
    wait_for_reviews >> final_labels
