"""The seed page's custom-task examples ("Create and Start a Human Loop for a Custom Task Type").

Taken literally they are broken (see ../shared/seed/README.md); the local service rejects each
defect with a ValidationException, as AWS does. Each defect is tested alone, everything else
corrected; then the corrected boto3 and AWS CLI examples start a loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from airflow_a2i.local.admin_client import AdminClient
from tests.conftest import ACCOUNT, unique

# The page's InputContent as Python source: the backslashes vanish, so this is not JSON.
PAGE_INPUT_CONTENT = '{"InputContent": "{\"prompt\":\"What is the answer?\"}"}'
INPUT_CONTENT = json.dumps({"prompt": "What is the answer?"})
CLASSIFIERS = ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"]

# The page's AWS CLI example, its line continuations kept (the trailing one takes --region).
PAGE_CLI = r"""aws sagemaker-a2i-runtime start-human-loop \
--flow-definition-arn 'arn:aws:sagemaker:aws_region:xyz:flow-definition/flow_def_name' \
--human-loop-name 'human_loop_name' \
--human-loop-input '{"InputContent": "{\"prompt\":\"What is the answer?\"}"}' \
--data-attributes ContentClassifiers="FreeOfPersonallyIdentifiableInformation","FreeOfAdultContent" \
--region us-east-1
"""
PAGE_CLI_ARN = "arn:aws:sagemaker:aws_region:xyz:flow-definition/flow_def_name"


def start(a2i, **overrides: object) -> dict:
    params: dict = {
        "HumanLoopName": unique("loop"),
        "HumanLoopInput": {"InputContent": INPUT_CONTENT},
        "DataAttributes": {"ContentClassifiers": CLASSIFIERS},
        **overrides,
    }
    return a2i.start_human_loop(**params)


def assert_rejected(a2i, needle: str, **overrides: object) -> None:
    with pytest.raises(ClientError) as caught:
        start(a2i, **overrides)
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert needle in error["Error"]["Message"]


def test_page_input_content_is_not_json_in_python() -> None:
    assert "\\" not in PAGE_INPUT_CONTENT
    with pytest.raises(json.JSONDecodeError):
        json.loads(PAGE_INPUT_CONTENT)


def test_loop_name_with_underscore_is_rejected(a2i, flow_definition_arn: str) -> None:
    assert_rejected(a2i, "'human_loop_name'", HumanLoopName="human_loop_name",
                    FlowDefinitionArn=flow_definition_arn)


def test_account_xyz_in_arn_is_rejected(a2i, flow_definition_arn: str) -> None:
    arn = flow_definition_arn.replace(f":{ACCOUNT}:", ":xyz:")
    assert ":xyz:flow-definition/" in arn
    assert_rejected(a2i, f"'{arn}'", FlowDefinitionArn=arn)


def test_flow_definition_name_with_underscore_is_rejected(a2i) -> None:
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:flow-definition/flow_def_name"
    assert_rejected(a2i, "'flow_def_name'", FlowDefinitionArn=arn)


def test_page_input_content_is_rejected(a2i, flow_definition_arn: str) -> None:
    # The message names the field and the defect; it does not quote the (up to 3 MB) value.
    assert_rejected(a2i, "HumanLoopInput.InputContent is not valid JSON",
                    FlowDefinitionArn=flow_definition_arn,
                    HumanLoopInput={"InputContent": PAGE_INPUT_CONTENT})


def test_classifier_placeholder_is_a_type_error_in_python(a2i, flow_definition_arn: str) -> None:
    name = unique("loop")
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \|"):
        a2i.start_human_loop(
            HumanLoopName=name,
            FlowDefinitionArn=flow_definition_arn,
            HumanLoopInput={"InputContent": INPUT_CONTENT},
            DataAttributes={"ContentClassifiers": [
                'FreeOfPersonallyIdentifiableInformation'|'FreeOfAdultContent',  # the page's text
            ]},
        )
    with pytest.raises(a2i.exceptions.ResourceNotFoundException):
        a2i.describe_human_loop(HumanLoopName=name)


def test_corrected_boto3_example_starts_a_loop(a2i, flow_definition_arn: str) -> None:
    name = unique("loop")
    arn = start(a2i, HumanLoopName=name, FlowDefinitionArn=flow_definition_arn)["HumanLoopArn"]
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "InProgress"
    assert described["HumanLoopArn"] == arn
    assert described["FlowDefinitionArn"] == flow_definition_arn


def run_cli(command: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)


def test_literal_cli_example_is_rejected(local_service: str) -> None:
    result = run_cli(PAGE_CLI, local_service)
    assert result.returncode != 0
    assert "ValidationException" in result.stderr
    assert "'human_loop_name'" in result.stderr
    assert f"'{PAGE_CLI_ARN}'" in result.stderr


def test_corrected_cli_example_starts_a_loop(local_service: str, a2i, s3, flow_definition_arn: str) -> None:
    name = unique("loop")
    command = PAGE_CLI.replace(PAGE_CLI_ARN, flow_definition_arn).replace("'human_loop_name'", f"'{name}'")
    result = run_cli(command, local_service)
    assert result.returncode == 0, result.stderr
    arn = json.loads(result.stdout)["HumanLoopArn"]
    assert arn.endswith(f":human-loop/{name}")
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert (described["HumanLoopStatus"], described["HumanLoopArn"]) == ("InProgress", arn)
    # The shell kept the backslashes: InputContent was the JSON string {"prompt":"What is the answer?"}.
    AdminClient(local_service).answer(name, {"answer": "42"})
    uri = a2i.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    output = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert output["inputContent"] == {"prompt": "What is the answer?"}
