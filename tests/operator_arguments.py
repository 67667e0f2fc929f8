"""Valid arguments for every operator and sensor, and the check that bad ones fail before any request."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

import airflow_a2i.operators
import airflow_a2i.sensors
from airflow_a2i.operators.appended_results import A2IAppendHumanLoopResultsOperator
from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator, A2IStopHumanLoopBatchOperator
from airflow_a2i.operators.events import A2ICreateEventQueueOperator
from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator, A2ICreateHumanTaskUiOperator
from airflow_a2i.operators.human_loop import (
    A2IDeleteHumanLoopOperator,
    A2IStartHumanLoopOperator,
    A2IStopHumanLoopOperator,
)
from airflow_a2i.operators.rekognition import RekognitionDetectModerationLabelsOperator
from airflow_a2i.operators.report import A2IReviewReportOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.operators.textract import TextractAnalyzeDocumentBatchOperator, TextractAnalyzeDocumentOperator
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor
from tests.conftest import ROLE_ARN, workteam_arn

ARN = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/my-flow"


SUMMARY = {"manifest_uri": "s3://bucket/batches/run-1", "flow_definition_arn": ARN, "created_after": 1.0}


TEXTRACT = "AWS/Textract/AnalyzeDocument/Forms/V1"


UI_ARN = "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/my-ui"


# Valid arguments of each class; a row's arguments replace some of them (None removes one).
VALID: dict[type, dict[str, Any]] = {
    A2IStartHumanLoopOperator: {"flow_definition_arn": ARN, "human_loop_input": {"text": "x"}},
    A2IStopHumanLoopOperator: {"human_loop_names": ["loop-1"]},
    A2IDeleteHumanLoopOperator: {"human_loop_names": ["loop-1"]},
    A2IHumanLoopSensor: {"human_loop_names": ["loop-1"]},
    A2ICreateEventQueueOperator: {"queue_name": "a2i-events"},
    A2ICreateHumanTaskUiOperator: {"human_task_ui_name": "my-ui", "ui_template": "<crowd-form></crowd-form>"},
    A2ICreateFlowDefinitionOperator: {
        "flow_definition_name": "my-flow", "role_arn": ROLE_ARN, "output_s3_path": "s3://bucket/a2i-output",
        "workteam_arn": workteam_arn(), "human_task_ui_arn": UI_ARN, "task_title": "Check",
        "task_description": "Check the answer"},
    A2IHumanLoopResultsOperator: {"human_loops": ["loop-1"], "output_s3_uri": "s3://bucket/results/run-1"},
    A2IAppendHumanLoopResultsOperator: {"results_s3_uri": "s3://bucket/results/appended"},
    A2IReviewReportOperator: {"results": "s3://bucket/results/run-1/results.jsonl", "target_accuracy": 0.99},
    A2IStartHumanLoopBatchOperator: {"flow_definition_arn": ARN, "manifest_s3_uri": "s3://bucket/batches/run-1",
                                 "items": [{"item_key": "a", "input": {"text": "x"}}]},
    A2IStopHumanLoopBatchOperator: {"manifests": [SUMMARY]},
    A2IHumanLoopBatchSensor: {"manifest_uris": [SUMMARY]},
    TextractAnalyzeDocumentOperator: {"s3_bucket": "docs", "s3_key": "a.png", "flow_definition_arn": ARN,
                                      "analysis_output_s3_uri": "s3://bucket/analyses"},
    TextractAnalyzeDocumentBatchOperator: {"flow_definition_arn": ARN, "work_s3_uri": "s3://bucket/work",
                                       "manifest_s3_uri": "s3://bucket/manifest", "documents": ["s3://docs/a.pdf"]},
    RekognitionDetectModerationLabelsOperator: {"s3_bucket": "images", "s3_key": "a.png", "flow_definition_arn": ARN,
                                                "analysis_output_s3_uri": "s3://bucket/analyses"},
}


@contextmanager
def no_requests() -> Iterator[list[str]]:
    """Records every botocore request made inside; the test asserts there is none."""
    calls: list[str] = []
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation_name: str, api_params: dict) -> Any:
        calls.append(operation_name)
        return original(client, operation_name, api_params)

    BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


SHARED_BASES = {"BuiltInAnalysisOperator"}  # of the Textract and Rekognition operators


def operator_and_sensor_classes() -> set[type]:
    """Every public BaseOperator subclass defined in airflow_a2i.operators.* and airflow_a2i.sensors.* (private
    ones and the shared bases that no DAG instantiates excepted; a base that is an operator of its own, such as the
    results operator under the appending one, counts)."""
    from airflow.sdk import BaseOperator

    found: set[type] = set()
    for package in (airflow_a2i.operators, airflow_a2i.sensors):
        for module_info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(module_info.name)
            found |= {value for _, value in inspect.getmembers(module, inspect.isclass)
                      if issubclass(value, BaseOperator) and value.__module__ == module.__name__
                      and not value.__name__.startswith("_") and value.__name__ not in SHARED_BASES}
    return found
