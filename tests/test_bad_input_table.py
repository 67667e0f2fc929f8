"""One table of what users get wrong, over every operator and sensor: each fails when the DAG is parsed (at
construction), before any request, with a message that names the fix.

Single cases with more detail live in test_bad_input.py, test_builtin_operators.py, test_results.py and
test_batch_start.py; the rows here are other parameters or other mistakes. ``test_every_operator_and_sensor_has_rows``
makes a new operator without rows fail. What can only be known by asking AWS (a bucket's Region, its CORS rule,
the flow definition's task type) is checked by the operators' preflight before any analysis; see
test_builtin_operators.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.local.admin_client import AdminClient
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
from airflow_a2i.results.output import template_field_names
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor
from tests.conftest import unique
from tests.operator_arguments import ARN, SUMMARY, TEXTRACT, VALID, no_requests, operator_and_sensor_classes

OTHER_ARN = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/other-flow"
CONDITIONS = {"Conditions": [{"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 5}}]}


ROWS: list[tuple[type, dict[str, Any], str]] = [
    # Custom task types: one loop
    (A2IStartHumanLoopOperator, {"human_loop_input": {"when": {1, 2}}},
     "human_loop_input cannot be serialised as JSON"),
    (A2IStartHumanLoopOperator, {"human_loop_input": '"only a string"'},
     "must be a JSON object (templates read task.input.KEY)"),
    (A2IStartHumanLoopOperator, {"content_classifiers": 7}, "content_classifiers must be a list of"),
    (A2IStartHumanLoopOperator, {"review_timeout": "soon"}, "review_timeout='soon' is not a number of seconds"),
    (A2IStartHumanLoopOperator, {"flow_definition_arn": ARN.replace("us-east-1", "US_EAST")},
     "the Region 'US_EAST' is not a Region code such as 'us-east-1'"),
    (A2IStopHumanLoopOperator, {"human_loop_names": "Review_Loop_1"}, "'review-loop-1'"),
    (A2IStopHumanLoopOperator, {"human_loop_names": 42}, "human_loop_names must be a loop name or a list of them"),
    (A2IDeleteHumanLoopOperator, {"human_loop_names": ["loop-1", "x" * 64]}, "A2I allows at most 63"),
    (A2IDeleteHumanLoopOperator, {"human_loop_names": {"name": "loop-1"}},
     "human_loop_names must be a loop name or a list of them"),
    (A2IHumanLoopSensor, {"review_timeout": -5}, "must be a positive number of seconds"),
    (A2IHumanLoopSensor, {"on_review_timeout": "wait"}, "on_review_timeout='wait' is not one of"),
    (A2IHumanLoopSensor, {"poll_interval": -1}, "poll_interval=-1 must be a number of seconds, 0 or more"),
    (A2IHumanLoopSensor, {"poll_interval": "often"}, "poll_interval='often' is not a number of seconds"),
    (A2IStartHumanLoopOperator, {"poll_interval": True}, "poll_interval=True must be a number of seconds"),
    # Task UIs and flow definitions
    (A2ICreateHumanTaskUiOperator, {"ui_template_file": "review.liquid.html"}, "Give exactly one of ui_template"),
    (A2ICreateFlowDefinitionOperator, {"human_task_ui_arn": None},
     "Give exactly one of human_task_ui_arn (an existing task UI), ui_template (the content) and ui_template_file"),
    (A2ICreateFlowDefinitionOperator, {"ui_template": "<crowd-form></crowd-form>"}, "Give exactly one of"),
    (A2ICreateFlowDefinitionOperator, {"existing_flow_definition_arn": "arn:aws:sagemaker:us-east-1:1:flow"},
     "existing_flow_definition_arn: flow_definition_arn 'arn:aws:sagemaker:us-east-1:1:flow' is not a flow "
     "definition ARN: the account '1' is not a 12-digit AWS account id"),
    (A2ICreateFlowDefinitionOperator, {"existing_flow_definition_arn": ARN, "human_loop_request_source": "AWS/Other"},
     "human_loop_request_source='AWS/Other' is not one of"),
    (A2ICreateHumanTaskUiOperator, {"ui_template": None}, "Give exactly one of ui_template"),
    (A2ICreateHumanTaskUiOperator, {"human_task_ui_name": "My_Review_UI"}, "regular expression pattern"),
    (A2ICreateFlowDefinitionOperator, {"flow_definition_name": "x" * 64}, "length less than or equal to 63"),
    (A2ICreateFlowDefinitionOperator, {"task_count": 5},
     "taskCount' failed to satisfy constraint: Member must have value less than or equal to 3"),
    (A2ICreateFlowDefinitionOperator, {"task_title": "t" * 129},
     "taskTitle' failed to satisfy constraint: Member must have length less than or equal to 128"),
    (A2ICreateFlowDefinitionOperator, {"role_arn": "my-a2i-role"}, "at 'roleArn' failed to satisfy constraint"),
    (A2ICreateFlowDefinitionOperator, {"task_availability_lifetime_in_seconds": 900_000}, "maximum of 864000"),
    (A2ICreateFlowDefinitionOperator, {"activation_conditions": CONDITIONS}, "give human_loop_request_source"),
    (A2ICreateFlowDefinitionOperator, {"human_loop_request_source": "AWS/Textract/AnalyzeExpense/V1"},
     "is not one of ['AWS/Textract/AnalyzeDocument/Forms/V1'"),
    (A2ICreateFlowDefinitionOperator, {"human_loop_request_source": TEXTRACT,
                                       "activation_conditions": '{"Conditions": [{"ConditionType": "Sampling",}]}'},
     "Write it as strict JSON"),
    (A2ICreateFlowDefinitionOperator, {"human_loop_request_source": TEXTRACT, "flow_definition_name": "{{ params.n }}",
                                       "activation_conditions": {"Conditions": [{"ConditionType": "Samplin"}]}},
     "Sampling"),  # the rest is templated: what is not is still checked at parse time
    # Results
    (A2IHumanLoopResultsOperator, {"manifests": [SUMMARY]}, "Give exactly one of human_loops"),
    (A2IHumanLoopResultsOperator, {"human_loops": {"HumanLoopName": "loop-1"}}, "wrap a single entry in a list"),
    (A2IHumanLoopResultsOperator, {"output_s3_uri": "s3://bucket"}, "has no prefix: add one"),
    (A2IHumanLoopResultsOperator, {"output_s3_uri": "s3://My_Bucket/results"}, "is not an S3 bucket name"),
    (A2IHumanLoopResultsOperator, {"human_loops": [{"item_key": "a", "human_loop_name": "loop-1",
                                                    "machine_result_s3_uri": "bucket/a.json"}]},
     "machine_result_s3_uri must be an s3:// URI"),
    (A2IHumanLoopResultsOperator, {"expected_answer_fields": "answer"},
     "expected_answer_fields must be a non-empty list of the template's form field names"),
    (A2IAppendHumanLoopResultsOperator, {"results_s3_uri": "s3://bucket"}, "results_s3_uri"),
    (A2IAppendHumanLoopResultsOperator, {"delete_finished_loops": True}, "are A2IHumanLoopResultsOperator's"),
    (A2IAppendHumanLoopResultsOperator, {"reconcile_flow_definition_arn": "my-flow"}, "flow definition ARN"),
    (A2IAppendHumanLoopResultsOperator, {"reconcile_lookback_hours": 0}, "must be a positive number of hours"),
    # The review report
    (A2IReviewReportOperator, {"target_accuracy": 99}, "is a share between 0 and 1 (0.99 for 99%)"),
    (A2IReviewReportOperator, {"review_budget": 0.3}, "Give target_accuracy or review_budget, not both"),
    (A2IReviewReportOperator, {"sampling_percentage": 150}, "sampling_percentage is a percentage from 0 to 100"),
    (A2IReviewReportOperator, {"results": 42}, "results must be what A2IHumanLoopResultsOperator returned"),
    (A2IReviewReportOperator, {"activation_conditions": {"Conditions": [{"ConditionType": "Samplin"}]}},
     "activation_conditions: "),
    # Batches
    (A2IStartHumanLoopBatchOperator, {"content_classifiers": ["FreeOfPII"]},
     "Unknown content classifier(s) ['FreeOfPII']"),
    (A2IStartHumanLoopBatchOperator, {"items": [{"item_key": 1, "input": {}}]}, "must be {'item_key': str"),
    (A2IStartHumanLoopBatchOperator, {"items": None}, "Give exactly one of items"),
    (A2IStartHumanLoopBatchOperator, {"items": [{"item_key": "a", "input": {}}, {"item_key": "b", "input": {}},
                                            {"item_key": "b", "input": {}}]}, "Item keys must be unique"),
    (A2IStopHumanLoopBatchOperator, {"manifests": "bucket/batches/run-1"}, "not an s3://bucket/prefix URI"),
    (A2IStopHumanLoopBatchOperator, {"manifests": {"uri": "s3://bucket/batches"}}, "a dict with a 'manifest_uri' key"),
    (A2IStopHumanLoopBatchOperator, {"manifests": []}, "give at least one s3:// manifest URI"),
    (A2IHumanLoopBatchSensor, {"report_s3_uri": "bucket/report.jsonl"}, "must be an s3://bucket/key URI"),
    (A2IHumanLoopBatchSensor, {"manifest_uris": "s3://bucket/batches/run-1"}, "Give flow_definition_arn"),
    (A2IHumanLoopBatchSensor, {"flow_definition_arn": OTHER_ARN}, "started their loops in"),
    (A2IHumanLoopBatchSensor, {"manifest_uris": 5}, "manifest_uris must be an s3:// URI, a list of them"),
    (A2IHumanLoopBatchSensor, {"completion": "events"}, "completion='events' needs events_queue_url"),
    (A2IHumanLoopSensor, {"completion": "events", "events_queue_url": "a2i-events"}, "is not an SQS queue URL"),
    (A2IStartHumanLoopOperator, {"reconcile_interval": "-5"}, "reconcile_interval='-5' must be a positive number"),
    # Event-driven completion's queue
    (A2ICreateEventQueueOperator, {"queue_name": "a2i events.fifo"}, "is not an SQS queue name"),
    (A2ICreateEventQueueOperator, {"flow_definition_arn": "my-flow"}, "flow definition ARN"),
    (A2ICreateEventQueueOperator, {"message_retention_seconds": 30}, "from 60 to 1209600"),
    # Built-in task types
    (TextractAnalyzeDocumentOperator, {"human_loop_name": "page-" + "1" * 60}, "A2I allows at most 63"),
    (TextractAnalyzeDocumentOperator, {"on_review_timeout": "stop"}, "on_review_timeout='stop' is not one of"),
    (TextractAnalyzeDocumentOperator, {"analysis_output_s3_uri": "https://bucket/analyses"},
     "must be an s3://bucket/prefix URI"),
    (RekognitionDetectModerationLabelsOperator, {"review_timeout": "1 day"}, "is not a number of seconds"),
    (RekognitionDetectModerationLabelsOperator, {"content_classifiers": ["FreeOfAdultContent", "FreeOfAds"]},
     "Unknown content classifier(s) ['FreeOfAds']"),
    (TextractAnalyzeDocumentBatchOperator, {"input_s3_uri": "s3://docs/in"}, "Give exactly one of input_s3_uri"),
    (TextractAnalyzeDocumentBatchOperator, {"flow_definition_arn": "arn:aws:sagemaker:us-east-1:123:flow-definition/f"},
     "is not a 12-digit AWS account id"),
    (TextractAnalyzeDocumentBatchOperator, {"content_classifiers": ["FreeOfPersonalInformation"]},
     "use one or both of ['FreeOfPersonallyIdentifiableInformation'"),
]




def build(cls: type, overrides: dict[str, Any]) -> Any:
    arguments = {**VALID[cls], **overrides}
    return cls(task_id="task", **{key: value for key, value in arguments.items() if value is not None})


@pytest.mark.parametrize("cls", list(VALID), ids=lambda cls: cls.__name__)
def test_the_valid_arguments_of_the_table_build(cls: type) -> None:
    with no_requests() as calls:
        build(cls, {})
    assert calls == []


@pytest.mark.parametrize(("cls", "overrides", "fix"), ROWS,
                         ids=[f"{cls.__name__}-{'-'.join(overrides)}-{index}"
                              for index, (cls, overrides, _) in enumerate(ROWS)])
def test_bad_input_fails_at_parse_time_naming_the_fix(cls: type, overrides: dict[str, Any], fix: str) -> None:
    with no_requests() as calls, pytest.raises(A2IValidationError, match=re.escape(fix)):
        build(cls, overrides)
    assert calls == []




def test_every_operator_and_sensor_has_rows() -> None:
    classes = operator_and_sensor_classes()
    assert len(classes) >= 13
    missing = sorted(cls.__name__ for cls in classes - {cls for cls, _, _ in ROWS})
    assert not missing, f"add bad-input rows for {missing}"
    assert set(VALID) == classes


# At execution: an output.json that cannot be read, or is another loop's, is reported; nothing is lost --------

def test_unreadable_and_foreign_outputs_are_reported_and_the_others_read(local_service, flow_definition_arn,
                                                                           output_bucket, s3, a2i):
    names = [unique("loop") for _ in range(3)]
    admin = AdminClient(local_service)
    for name in names:
        a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_definition_arn,
                             HumanLoopInput={"InputContent": json.dumps({"text": name})})
        admin.answer(name, {"answer": name})
    outputs = [a2i.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"] for name in names]
    unreadable, foreign, _ = (uri.removeprefix("s3://").split("/", 1) for uri in outputs)
    s3.put_object(Bucket=unreadable[0], Key=unreadable[1], Body=b"\xff\xfe{\x00not UTF-8")
    s3.copy_object(Bucket=foreign[0], Key=foreign[1], CopySource={"Bucket": unreadable[0], "Key": outputs[2].split(
        "/", 3)[3]})
    reader = A2IHumanLoopResultsOperator(task_id="results", human_loops=names, aws_conn_id=None,
                                         output_s3_uri=f"s3://{output_bucket}/{unique('results')}")
    written = reader.execute({})
    bucket, key = written["results_uri"].removeprefix("s3://").split("/", 1)
    rows = {row["human_loop_name"]: row for row in map(json.loads, s3.get_object(
        Bucket=bucket, Key=key)["Body"].read().decode().splitlines())}
    assert list(rows) == names and written["statuses"] == {"Completed": 3}
    assert "is not valid JSON" in rows[names[0]]["output_error"]
    assert f"is that of human loop {names[2]!r}, not of {names[1]!r}" in rows[names[1]]["output_error"]
    assert rows[names[1]]["answers"] is None
    assert rows[names[2]]["output_error"] is None and rows[names[2]]["consolidated_answer"] == {"answer": names[2]}
    with pytest.raises(Exception, match="2 human loop"):  # and fail_on_missing_output names both
        A2IHumanLoopResultsOperator(task_id="results", human_loops=names, aws_conn_id=None,
                                    fail_on_missing_output=True,
                                    output_s3_uri=f"s3://{output_bucket}/{unique('results')}").execute({})


def test_answers_that_do_not_match_the_template_are_flagged_and_kept(local_service, flow_definition_arn,
                                                                       output_bucket, s3, a2i):
    template = """<crowd-form><crowd-input name="answer"></crowd-input>
                  <crowd-checkbox name='unsure'></crowd-checkbox>
                  <crowd-input name = "answer"></crowd-input></crowd-form>"""
    assert template_field_names(template) == ["answer", "unsure"]
    matching, other = unique("loop"), unique("loop")
    admin = AdminClient(local_service)
    for name, answer in ((matching, {"answer": "yes", "unsure": False}), (other, {"label": "cat", "answer": "x"})):
        a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_definition_arn,
                             HumanLoopInput={"InputContent": json.dumps({"text": name})})
        admin.answer(name, answer)
    reader = A2IHumanLoopResultsOperator(task_id="results", human_loops=[matching, other], aws_conn_id=None,
                                         expected_answer_fields=template_field_names(template),
                                         output_s3_uri=f"s3://{output_bucket}/{unique('results')}")
    written = reader.execute({})
    bucket, key = written["results_uri"].removeprefix("s3://").split("/", 1)
    rows = {row["human_loop_name"]: row for row in map(json.loads, s3.get_object(
        Bucket=bucket, Key=key)["Body"].read().decode().splitlines())}
    assert rows[matching]["output_error"] is None
    assert "field(s) ['label'] that the worker template does not have" in rows[other]["output_error"]
    assert rows[other]["consolidated_answer"] == {"label": "cat", "answer": "x"}  # kept, not lost
