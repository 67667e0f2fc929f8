"""SageMaker's A2I calls in the local service: task UIs and flow definitions, validated as SageMaker does."""

from __future__ import annotations

import hashlib
import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE_ARN, unique, workteam_arn

TEMPLATE = "<crowd-form><crowd-input name='answer' label='{{ task.input.prompt }}'></crowd-input></crowd-form>"


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


@pytest.fixture
def task_ui_arn(sagemaker) -> str:
    return sagemaker.create_human_task_ui(HumanTaskUiName=unique("ui"), UiTemplate={"Content": TEMPLATE})[
        "HumanTaskUiArn"]


def flow_request(task_ui_arn: str, output_bucket: str, **loop_config) -> dict:
    return {
        "FlowDefinitionName": unique("flow"),
        "RoleArn": ROLE_ARN,
        "OutputConfig": {"S3OutputPath": f"s3://{output_bucket}/out"},
        "HumanLoopConfig": {"WorkteamArn": workteam_arn(), "HumanTaskUiArn": task_ui_arn, "TaskTitle": "Title",
                            "TaskDescription": "Description", "TaskCount": 1, **loop_config},
    }


def test_task_ui_create_describe_list_delete(sagemaker, local_service):
    name = unique("ui")
    arn = sagemaker.create_human_task_ui(HumanTaskUiName=name, UiTemplate={"Content": TEMPLATE})["HumanTaskUiArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/{name}"
    described = sagemaker.describe_human_task_ui(HumanTaskUiName=name)
    assert described["HumanTaskUiStatus"] == "Active"
    assert described["UiTemplate"]["ContentSha256"] == hashlib.sha256(TEMPLATE.encode()).hexdigest()
    with urllib.request.urlopen(described["UiTemplate"]["Url"], timeout=10) as response:
        assert response.read().decode() == TEMPLATE
    listed = [ui["HumanTaskUiName"] for page in sagemaker.get_paginator("list_human_task_uis").paginate()
              for ui in page["HumanTaskUiSummaries"]]
    assert name in listed
    code, message = error_of(sagemaker.create_human_task_ui, HumanTaskUiName=name, UiTemplate={"Content": "x"})
    assert code == "ResourceInUse" and name in message
    sagemaker.delete_human_task_ui(HumanTaskUiName=name)
    code, _ = error_of(sagemaker.describe_human_task_ui, HumanTaskUiName=name)
    assert code == "ResourceNotFound"


def test_task_ui_name_and_template_are_validated(sagemaker, local_service):
    code, message = error_of(sagemaker.create_human_task_ui, HumanTaskUiName="ui_name", UiTemplate={"Content": "x"})
    assert code == "ValidationException" and "humanTaskUiName" in message
    code, message = error_of(sagemaker.create_human_task_ui, HumanTaskUiName=unique("ui"),
                             UiTemplate={"Content": "x" * 128_001})
    assert code == "ValidationException" and "128000" in message


def test_flow_definition_create_describe_list_delete(sagemaker, task_ui_arn, output_bucket):
    request = flow_request(task_ui_arn, output_bucket, TaskAvailabilityLifetimeInSeconds=3600,
                           TaskTimeLimitInSeconds=300, TaskKeywords=["review"])
    arn = sagemaker.create_flow_definition(**request)["FlowDefinitionArn"]
    name = request["FlowDefinitionName"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{name}"
    described = sagemaker.describe_flow_definition(FlowDefinitionName=name)
    assert described["FlowDefinitionStatus"] == "Active"
    assert described["HumanLoopConfig"] == request["HumanLoopConfig"]
    assert described["OutputConfig"] == request["OutputConfig"]
    assert described["RoleArn"] == ROLE_ARN
    summaries = [flow for page in sagemaker.get_paginator("list_flow_definitions").paginate()
                 for flow in page["FlowDefinitionSummaries"]]
    assert {"FlowDefinitionName": name, "FlowDefinitionArn": arn, "FlowDefinitionStatus": "Active"}.items() <= \
        next(flow for flow in summaries if flow["FlowDefinitionName"] == name).items()
    code, _ = error_of(sagemaker.create_flow_definition, **request)
    assert code == "ResourceInUse"
    sagemaker.delete_flow_definition(FlowDefinitionName=name)
    code, _ = error_of(sagemaker.describe_flow_definition, FlowDefinitionName=name)
    assert code == "ResourceNotFound"
    code, _ = error_of(sagemaker.delete_flow_definition, FlowDefinitionName=name)
    assert code == "ResourceNotFound"


def test_list_flow_definitions_pages_and_sorts(sagemaker, task_ui_arn, output_bucket):
    created = []
    for _ in range(3):
        request = flow_request(task_ui_arn, output_bucket)
        sagemaker.create_flow_definition(**request)
        created.append(request["FlowDefinitionName"])
    pages = list(sagemaker.get_paginator("list_flow_definitions").paginate(
        SortOrder="Ascending", PaginationConfig={"PageSize": 2}))
    assert all(len(page["FlowDefinitionSummaries"]) <= 2 for page in pages)
    names = [flow["FlowDefinitionName"] for page in pages for flow in page["FlowDefinitionSummaries"]]
    assert [name for name in names if name in created] == created


@pytest.mark.parametrize(
    ("loop_config", "top_level", "expected"),
    [
        ({"TaskCount": 4}, {}, "taskCount"),
        ({"TaskCount": 0}, {}, "taskCount"),
        ({"TaskTitle": "t" * 129}, {}, "taskTitle"),
        ({"TaskTimeLimitInSeconds": 10}, {}, "taskTimeLimitInSeconds"),
        ({"TaskAvailabilityLifetimeInSeconds": 864_001}, {}, "864000"),
        ({"WorkteamArn": "arn:aws:sagemaker:us-east-1:42:workteam/x"}, {}, "workteamArn"),
        ({}, {"FlowDefinitionName": "flow_def_name"}, "flowDefinitionName"),
        ({}, {"RoleArn": "arn:aws:iam::xyz:role/r"}, "roleArn"),
        ({}, {"OutputConfig": {"S3OutputPath": "bucket/prefix"}}, "s3OutputPath"),
    ],
)
def test_flow_definition_validation(task_ui_arn, output_bucket, loop_config, top_level, expected):
    # The client checks only minimums; with its checks off, the service's own validation shows.
    sagemaker = boto3.client("sagemaker", config=boto3.session.Config(parameter_validation=False))
    request = flow_request(task_ui_arn, output_bucket, **loop_config)
    request.update(top_level)
    code, message = error_of(sagemaker.create_flow_definition, **request)
    assert code == "ValidationException"
    assert expected in message


def test_flow_definition_needs_an_existing_task_ui(sagemaker, output_bucket):
    missing = "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/no-such-ui"
    code, message = error_of(sagemaker.create_flow_definition, **flow_request(missing, output_bucket))
    assert code == "ValidationException" and "CreateHumanTaskUi" in message


def test_flow_definition_needs_a_human_loop_config(sagemaker, task_ui_arn, output_bucket):
    request = flow_request(task_ui_arn, output_bucket)
    del request["HumanLoopConfig"]
    code, message = error_of(sagemaker.create_flow_definition, **request)
    assert code == "ValidationException" and "HumanLoopConfig" in message


def test_activation_conditions_only_for_built_in_task_types(sagemaker, task_ui_arn, output_bucket):
    conditions = json.dumps({"Conditions": [{"ConditionType": "Sampling",
                                             "ConditionParameters": {"RandomSamplingPercentage": 5}}]})
    activation = {"HumanLoopActivationConditionsConfig": {"HumanLoopActivationConditions": conditions}}
    request = flow_request(task_ui_arn, output_bucket)
    code, message = error_of(sagemaker.create_flow_definition, HumanLoopActivationConfig=activation, **request)
    assert code == "ValidationException" and "HumanLoopRequestSource" in message

    source = {"AwsManagedHumanLoopRequestSource": "AWS/Textract/AnalyzeDocument/Forms/V1"}
    sagemaker.create_flow_definition(HumanLoopRequestSource=source, HumanLoopActivationConfig=activation, **request)
    described = sagemaker.describe_flow_definition(FlowDefinitionName=request["FlowDefinitionName"])
    assert described["HumanLoopRequestSource"] == source
    assert described["HumanLoopActivationConfig"] == activation

    broken = {"HumanLoopActivationConditionsConfig": {"HumanLoopActivationConditions": "{not json"}}
    code, message = error_of(sagemaker.create_flow_definition, HumanLoopRequestSource=source,
                             HumanLoopActivationConfig=broken, **flow_request(task_ui_arn, output_bucket))
    assert code == "ValidationException" and "not valid JSON" in message
    code, _ = error_of(sagemaker.create_flow_definition, **flow_request(task_ui_arn, output_bucket),
                       HumanLoopRequestSource={"AwsManagedHumanLoopRequestSource": "AWS/Comprehend/V1"})
    assert code == "ValidationException"


def test_other_sagemaker_and_aws_calls_go_to_moto(local_service, s3, sagemaker):
    bucket = unique("moto-passthrough")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"hello"
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    assert sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"] == "x"
    events = boto3.client("events")
    assert any(bus["Name"] == "default" for bus in events.list_event_buses()["EventBuses"])
    # a SageMaker call this project does not serve reaches moto's SageMaker
    assert "Models" in sagemaker.list_models()
