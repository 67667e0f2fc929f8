"""Batch document review: every day's documents analysed by Textract, the uncertain pages reviewed by people.

1. Lists the documents under the input prefix and writes chunk manifests (mapping runs over chunks,
   never over single documents, so thousands of documents stay a handful of tasks).
2. Each chunk task splits multi-page PDFs into pages under the run's working prefix and analyses every
   page with Textract and the flow definition's HumanLoopConfig: A2I starts a loop where the activation
   conditions hold. Each task records its items in a manifest as it goes, so a retry resumes.
3. One deferrable sensor waits for every loop of the run (a poll lists 100 loops a call).
4. The results operator merges the people's corrections into the machine results and writes JSON Lines
   and a summary; the results URI is an asset downstream DAGs can be scheduled on.
5. The review report (``report/report.html`` beside the results): how good the results are, the errors left in
   unreviewed pages estimated from the pages Sampling sent to review, and the activation conditions to set.

It runs unchanged on AWS and on ``airflow-a2i local serve``: no endpoint or account is named here.
Defaults of the params come from the DAG processor's environment (``A2I_ROLE_ARN``, ``A2I_WORKTEAM_ARN``,
``A2I_INPUT_S3_URI``, ``A2I_OUTPUT_S3_URI``).
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
from airflow.providers.common.compat.sdk import DAG, Asset, AssetAlias, Param, task

from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator
from airflow_a2i.operators.report import A2IReviewReportOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.operators.textract import TextractAnalyzeDocumentBatchOperator
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor

OUTPUT = os.environ.get("A2I_OUTPUT_S3_URI", "")
RUN = "{{ params.output_s3_uri }}/runs/{{ run_id | replace(':', '-') | replace('+', '-') }}"
# Review a page when any of its key-value pairs was read with less than 80% confidence.
ACTIVATION_CONDITIONS = {"Conditions": [
    {"ConditionType": "ImportantFormKeyConfidenceCheck",
     "ConditionParameters": {"ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 80}},
]}


def activation_conditions(sampling_percentage: object) -> dict:
    """The conditions, and a share of pages reviewed at random whatever their confidences (Sampling): what lets
    the review report estimate the errors left in the pages nobody reviewed."""
    share = float(sampling_percentage)  # type: ignore[arg-type]
    percentage = int(share) if share.is_integer() else share  # 5, not 5.0, in the flow definition
    sampling = [{"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": percentage}}]
    return {"Conditions": ACTIVATION_CONDITIONS["Conditions"] + (sampling if share > 0 else [])}


# An Asset on Airflow 3, a Dataset on 2.x (common-compat maps one to the other): only ``uri`` works on both.
REVIEWED_RESULTS = Asset(uri=f"{OUTPUT or 's3://a2i-reviewed-results'}/reviewed")
# The results task announces REVIEWED_RESULTS through this alias, not as a static outlet: Airflow fails a task whose
# static outlet asset is not active yet, as under `airflow dags test` where no DAG processor activated it
# (apache/airflow#51644); an alias is resolved when the event is emitted. Schedule downstream DAGs on either.
REVIEWED_RESULTS_ALIAS = AssetAlias(name="a2i_reviewed_documents")

with DAG(
    dag_id="a2i_batch_document_review",
    description="Textract every document, people review the uncertain pages (A2I), merged results to S3",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["a2i", "human-review", "textract"],
    params={
        "input_s3_uri": Param(os.environ.get("A2I_INPUT_S3_URI", ""), type="string",
                              description="s3://bucket/prefix of the day's documents"),
        "output_s3_uri": Param(OUTPUT, type="string", description="s3://bucket/prefix for runs and results"),
        "role_arn": Param(os.environ.get("A2I_ROLE_ARN", ""), type="string"),
        "workteam_arn": Param(os.environ.get("A2I_WORKTEAM_ARN", ""), type="string"),
        "flow_definition_arn": Param("", type="string",
                                     description="an existing Textract flow definition; empty: create or reuse "
                                                 "flow_definition_name from the repository's template"),
        "flow_definition_name": Param("a2i-batch-document-review", type="string"),
        "chunk_size": Param(100, type="integer", minimum=1, description="documents per mapped task"),
        "review_timeout_seconds": Param(2 * 24 * 3600, type="integer", minimum=1),
        "poll_seconds": Param(60, type="number", minimum=0, description="seconds between two looks at the loops"),
        "sampling_percentage": Param(5, type="number", minimum=0, maximum=100,
                                     description="pages reviewed at random, whatever their confidences: the review "
                                                 "report estimates the errors left from them (a flow definition "
                                                 "cannot change: give another flow_definition_name with another "
                                                 "percentage)"),
        "target_accuracy": Param(0.99, type="number", exclusiveMinimum=0, maximum=1,
                                 description="the field accuracy the review report's recommendation aims at"),
    },
    user_defined_macros={"activation_conditions": activation_conditions},
) as dag:
    # The run's flow definition ARN when given; else the task UI and flow definition are created (or reused).
    flow_definition = A2ICreateFlowDefinitionOperator(
        task_id="flow_definition", existing_flow_definition_arn="{{ params.flow_definition_arn }}",
        flow_definition_name="{{ params.flow_definition_name }}", role_arn="{{ params.role_arn }}",
        workteam_arn="{{ params.workteam_arn }}", output_s3_path="{{ params.output_s3_uri }}/a2i-output",
        ui_template_file="templates/textract_review.liquid.html",
        task_title="Check the values read from a form", task_description="Correct the values that are wrong",
        human_loop_request_source="AWS/Textract/AnalyzeDocument/Forms/V1",
        activation_conditions="{{ activation_conditions(params.sampling_percentage) | tojson }}",
        task_availability_lifetime_in_seconds=7 * 24 * 3600)

    @task
    def chunk_documents(input_s3_uri: str, run_s3_uri: str, chunk_size: int) -> list[str]:
        """The day's documents as chunk manifests; XCom carries their URIs only."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_a2i.documents import list_documents, write_chunks

        hook = S3Hook()
        documents = list_documents(hook, input_s3_uri, skip_prefixes=(run_s3_uri,))
        chunks = write_chunks(hook, documents, f"{run_s3_uri}/chunks", int(chunk_size))
        logging.getLogger("airflow.task").info("%d documents in %d chunk(s)", len(documents), len(chunks))
        return chunks

    chunks = chunk_documents("{{ params.input_s3_uri }}", RUN, "{{ params.chunk_size }}")
    analyze = TextractAnalyzeDocumentBatchOperator.partial(
        task_id="analyze", flow_definition_arn=flow_definition.output, work_s3_uri=f"{RUN}/work",
        manifest_s3_uri=f"{RUN}/manifests", fail_on_empty=False, retries=2,
    ).expand(documents_s3_uri=chunks)
    wait = A2IHumanLoopBatchSensor(
        task_id="wait_for_reviews", manifest_uris=analyze.output, deferrable=True,
        poll_interval="{{ params.poll_seconds }}", review_timeout="{{ params.review_timeout_seconds }}",
        on_review_timeout="stop_and_continue", on_loop_failure="continue", report_s3_uri=f"{RUN}/loops.jsonl",
        timeout=7 * 24 * 3600,
        # Airflow can fail a deferred task that resumes within seconds (a stale executor event read as a state
        # mismatch: apache/airflow#67287, #72716). A retry waits on the same loops again: safe.
        retries=2, retry_delay=timedelta(seconds=30))
    results = A2IHumanLoopResultsOperator(
        task_id="results", manifests=analyze.output, output_s3_uri=f"{RUN}/results",
        outlets=[REVIEWED_RESULTS_ALIAS], results_asset=REVIEWED_RESULTS)
    A2IReviewReportOperator(task_id="report", results=results.output, target_accuracy="{{ params.target_accuracy }}")
    flow_definition >> chunks
    analyze >> wait >> results
