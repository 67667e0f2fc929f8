"""Built-in task types over HTTP: Textract AnalyzeDocument and Rekognition DetectModerationLabels with HumanLoopConfig.

The local service reads each analysis from a response stored beside the object in S3 (``<key>.textract.json``,
``<key>.rekognition.json``), evaluates the flow definition's activation conditions and, when they hold, starts a
loop whose input is what A2I gives workers. Everything here goes through boto3 (and the AWS CLI for the seed page's
CLI example) against the session's service.

Real data: ``fixtures/textract-employment-application.json`` is a real Textract AnalyzeDocument response and
``fixtures/a2i-textract-output.json`` the output.json of a real A2I built-in Textract loop, both from the public
repository aws-samples/amazon-textract-response-parser (Apache-2.0); see ``fixtures/README.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_a2i.local.admin_client import AdminClient
from tests.builtin_analyses import EMPLOYMENT, FIXTURES, FULL_NAME_BELOW_90, TEXTRACT, analyze, error_of, key_check
from tests.conftest import unique, workteam_arn
from tests.flows import create_flow

REKOGNITION = "AWS/Rekognition/DetectModerationLabels/Image/V3"
# A real A2I output.json of a built-in Textract loop, flattened by the sample repository that saved it.
RECORDED = json.loads((FIXTURES / "a2i-textract-output.json").read_text())
INPUT_KEYS = {"aiServiceRequest", "aiServiceResponse", "humanTaskActivationConditionResults",
              "selectedAiServiceResponse"}
NAME_PATTERN = "^[a-z0-9](-*[a-z0-9])*"
CLASSIFIERS = ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"]




HOME_ADDRESS_BELOW_90 = key_check("Home Address:", KeyValueBlockConfidenceLessThan=90)  # 95: does not hold
SUGGESTIVE_BELOW_98 = {"ConditionType": "ModerationLabelConfidenceCheck",
                       "ConditionParameters": {"ModerationLabelName": "Suggestive", "ConfidenceLessThan": 98}}


def moderation_response(*labels: tuple[str, str, float]) -> dict:
    """A Rekognition DetectModerationLabels response from (Name, ParentName, Confidence) triples."""
    return {"ModerationLabels": [{"Name": name, "ParentName": parent, "Confidence": confidence}
                                 for name, parent, confidence in labels],
            "ModerationModelVersion": "7.0"}


LABELS = moderation_response(("Suggestive", "", 90.0), ("Female Swimwear Or Underwear", "Suggestive", 99.0),
                             ("Violence", "", 40.0))


# Clients and helpers ----------------------------------------------------------------------------------------


@pytest.fixture
def textract(local_service: str):
    return boto3.client("textract")


@pytest.fixture
def rekognition(local_service: str):
    return boto3.client("rekognition")


@pytest.fixture(scope="module")
def documents(local_service: str) -> str:
    """A us-east-1 bucket for documents and images with their stored analyses."""
    name = unique("a2i-documents")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def make_built_in_flow(source: str, output_bucket: str, conditions: list[dict] | None = None,
                       region: str = "us-east-1", task_count: int = 1) -> str:
    """A task UI and a built-in flow definition for ``source``; no conditions: every request gets a loop."""
    return create_flow(boto3.client("sagemaker", region_name=region), output_path=f"s3://{output_bucket}/built-in",
                       workteam_arn=workteam_arn(region), source=source, conditions=conditions,
                       task_count=task_count)


def upload(bucket: str, analysis: dict | None, service: str = "textract", region: str = "us-east-1") -> str:
    """Put a document (or image) and, unless ``analysis`` is None, its stored response; returns the key."""
    s3 = boto3.client("s3", region_name=region)
    key = f"inbox/{unique('doc')}.png"
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x89PNG not really an image")
    if analysis is not None:
        s3.put_object(Bucket=bucket, Key=f"{key}.{service}.json", Body=json.dumps(analysis).encode())
    return key




def moderate(rekognition, bucket: str, key: str, flow: str | None = None, name: str | None = None,
             **extra: Any) -> dict:
    params: dict[str, Any] = {"Image": {"S3Object": {"Bucket": bucket, "Name": key}}, **extra}
    if flow is not None:
        params["HumanLoopConfig"] = {"HumanLoopName": name or unique("loop"), "FlowDefinitionArn": flow}
    return rekognition.detect_moderation_labels(**params)




def loop_names(a2i, flow: str) -> list[str]:
    return [loop["HumanLoopName"] for loop in a2i.list_human_loops(FlowDefinitionArn=flow)["HumanLoopSummaries"]]


def output_of(a2i, s3, name: str) -> dict:
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed", described
    bucket, key = described["HumanLoopOutput"]["OutputS3Uri"].removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def answer_and_read(local_service: str, a2i, s3, name: str, answer: dict) -> dict:
    AdminClient(local_service).answer(name, answer)
    return output_of(a2i, s3, name)


def wait_until_finished(a2i, name: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = a2i.describe_human_loop(HumanLoopName=name)
        if described["HumanLoopStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        assert time.monotonic() < deadline, f"{name} still {described['HumanLoopStatus']}"
        time.sleep(0.05)


def block_keys(blocks: list[dict]) -> dict[str, set[str]]:
    """blockType -> the union of the keys its blocks carry."""
    keys: dict[str, set[str]] = defaultdict(set)
    for block in blocks:
        keys[block["blockType"]] |= set(block)
    return dict(keys)


def simple_conditions(results: dict) -> Iterator[dict]:
    for item in results["Conditions"]:
        for logical in ("And", "Or"):
            if logical in item:
                yield from simple_conditions({"Conditions": item[logical]})
                break
        else:
            yield item


# Textract AnalyzeDocument -----------------------------------------------------------------------------------


def test_analyze_document_without_human_loop_config_returns_the_stored_blocks(textract, documents):
    key = upload(documents, EMPLOYMENT)
    response = analyze(textract, documents, key)
    assert response["Blocks"] == EMPLOYMENT["Blocks"]
    assert response["DocumentMetadata"] == EMPLOYMENT["DocumentMetadata"]
    assert "HumanLoopActivationOutput" not in response


def test_conditions_that_hold_start_a_loop(textract, a2i, documents, output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90, HOME_ADDRESS_BELOW_90])
    name = unique("loop")
    response = analyze(textract, documents, upload(documents, EMPLOYMENT), flow, name)
    assert response["Blocks"] == EMPLOYMENT["Blocks"]
    output = response["HumanLoopActivationOutput"]
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert output["HumanLoopArn"] == described["HumanLoopArn"]
    assert output["HumanLoopArn"].endswith(f":human-loop/{name}")
    assert (described["HumanLoopStatus"], described["FlowDefinitionArn"]) == ("InProgress", flow)
    assert output["HumanLoopActivationReasons"] == ["ConditionsEvaluation"]
    results = json.loads(output["HumanLoopActivationConditionsEvaluationResults"])
    assert results == {"Conditions": [{**FULL_NAME_BELOW_90, "EvaluationResult": True},
                                      {**HOME_ADDRESS_BELOW_90, "EvaluationResult": False}]}


def test_the_loop_input_holds_the_four_keys_in_camel_case(local_service, textract, a2i, s3, documents,
                                                          output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90, HOME_ADDRESS_BELOW_90])
    name, key = unique("loop"), upload(documents, EMPLOYMENT)
    response = analyze(textract, documents, key, flow, name)
    content = answer_and_read(local_service, a2i, s3, name, {"blocks": []})["inputContent"]
    assert set(content) == INPUT_KEYS | {"humanLoopContext"}
    assert content["aiServiceRequest"] == {"document": {"s3Object": {"bucket": documents, "name": key}},
                                           "featureTypes": ["FORMS"],
                                           "humanLoopConfig": {"humanLoopName": name, "flowDefinitionArn": flow}}
    ai_response = content["aiServiceResponse"]
    assert [block["id"] for block in ai_response["blocks"]] == [block["Id"] for block in EMPLOYMENT["Blocks"]]
    assert all("blockType" in block and "BlockType" not in block for block in ai_response["blocks"])
    assert ai_response["documentMetadata"] == {"pages": 1}
    assert content["humanTaskActivationConditionResults"] == json.loads(
        response["HumanLoopActivationOutput"]["HumanLoopActivationConditionsEvaluationResults"])
    selected = content["selectedAiServiceResponse"]["blocks"]
    assert sorted(block["text"] for block in selected if block["blockType"] == "WORD") == \
        ["Doe", "Full", "Jane", "Name:"]
    assert [block["entityTypes"] for block in selected if block["blockType"] == "KEY_VALUE_SET"] == \
        [["KEY"], ["VALUE"]]
    assert content["humanLoopContext"] == {"importantFormKeys": [{"importantFormKey": "Full Name:",
                                                                  "importantFormKeyAliases": []}]}


def test_conditions_that_do_not_hold_start_no_loop(textract, a2i, documents, output_bucket):
    """The API reference: "If there is no HumanLoopArn, the input did not trigger human review": the member is
    there with the evaluation results, without HumanLoopArn and without reasons (a list of at least one)."""
    flow = make_built_in_flow(TEXTRACT, output_bucket, [HOME_ADDRESS_BELOW_90])
    name = unique("loop")
    response = analyze(textract, documents, upload(documents, EMPLOYMENT), flow, name)
    output = response["HumanLoopActivationOutput"]
    assert set(output) == {"HumanLoopActivationConditionsEvaluationResults"}
    assert json.loads(output["HumanLoopActivationConditionsEvaluationResults"]) == \
        {"Conditions": [{**HOME_ADDRESS_BELOW_90, "EvaluationResult": False}]}
    assert response["Blocks"] == EMPLOYMENT["Blocks"]
    assert error_of(a2i.describe_human_loop, HumanLoopName=name)[0] == "ResourceNotFoundException"
    assert loop_names(a2i, flow) == []


def test_without_conditions_every_document_gets_a_loop(textract, a2i, documents, output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, conditions=None)
    names = [unique("loop"), unique("loop")]
    for name, analysis in zip(names, [EMPLOYMENT, {"Blocks": []}], strict=True):
        output = analyze(textract, documents, upload(documents, analysis), flow, name)["HumanLoopActivationOutput"]
        assert output["HumanLoopArn"].endswith(f":human-loop/{name}")
        assert output["HumanLoopActivationReasons"] == ["ConditionsEvaluation"]
        json.loads(output["HumanLoopActivationConditionsEvaluationResults"])
    assert sorted(loop_names(a2i, flow)) == sorted(names)


def test_output_json_has_the_documented_built_in_shape(local_service, textract, a2i, s3, documents, output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, [{"Or": [FULL_NAME_BELOW_90, HOME_ADDRESS_BELOW_90]}])
    name = unique("loop")
    analyze(textract, documents, upload(documents, EMPLOYMENT), flow, name)
    answer = {"blocks": [{"blockType": "WORD", "id": "corrected", "text": "Janet"}]}
    output = answer_and_read(local_service, a2i, s3, name, answer)

    # The recorded output is flattened: its four input keys sit at the top level, where the documented
    # shape (and this service) nests them under inputContent.
    assert set(RECORDED) >= INPUT_KEYS
    assert set(output) == (set(RECORDED) - INPUT_KEYS) | {"inputContent"}
    assert output["awsManagedHumanLoopRequestSource"] == RECORDED["awsManagedHumanLoopRequestSource"] == TEXTRACT
    assert (output["flowDefinitionArn"], output["humanLoopName"]) == (flow, name)
    content = output["inputContent"]
    assert set(content) == INPUT_KEYS | {"humanLoopContext"}

    request, recorded_request = content["aiServiceRequest"], RECORDED["aiServiceRequest"]
    assert set(request) == set(recorded_request)
    assert set(request["document"]["s3Object"]) == set(recorded_request["document"]["s3Object"])
    assert set(request["humanLoopConfig"]) == set(recorded_request["humanLoopConfig"])

    ai_response, recorded_response = content["aiServiceResponse"], RECORDED["aiServiceResponse"]
    assert set(recorded_response) <= set(ai_response)
    assert set(ai_response["documentMetadata"]) == set(recorded_response["documentMetadata"])
    ours, theirs = block_keys(ai_response["blocks"]), block_keys(recorded_response["blocks"])
    assert {"PAGE", "LINE", "WORD", "KEY_VALUE_SET"} <= set(ours) & set(theirs)
    for block_type in set(ours) & set(theirs):
        assert theirs[block_type] <= ours[block_type], block_type

    results, recorded_results = (content["humanTaskActivationConditionResults"],
                                 RECORDED["humanTaskActivationConditionResults"])
    assert set(results) == set(recorded_results) == {"Conditions"}
    assert set(results["Conditions"][0]) == set(recorded_results["Conditions"][0]) == {"EvaluationResult", "Or"}
    assert {frozenset(item) for item in simple_conditions(results)} == \
        {frozenset(item) for item in simple_conditions(recorded_results)} == \
        {frozenset({"ConditionParameters", "ConditionType", "EvaluationResult"})}

    selected, recorded_selected = content["selectedAiServiceResponse"], RECORDED["selectedAiServiceResponse"]
    assert set(selected) == set(recorded_selected) == {"blocks"}
    assert block_keys(selected["blocks"]) == block_keys(recorded_selected["blocks"])
    kv_geometry = {key for block in selected["blocks"] if block["blockType"] == "KEY_VALUE_SET"
                   for key in block["geometry"]}
    assert kv_geometry == {"polygon"}

    [human_answer] = output["humanAnswers"]
    [recorded_answer] = RECORDED["humanAnswers"]
    # The recording lacks acceptanceTime and timeSpentInSeconds, which the documentation shows.
    assert set(human_answer) == set(recorded_answer) | {"acceptanceTime", "timeSpentInSeconds"}
    assert list(human_answer["answerContent"]) == list(recorded_answer["answerContent"]) == [TEXTRACT]
    assert human_answer["answerContent"][TEXTRACT] == answer
    assert set(human_answer["answerContent"][TEXTRACT]) == set(recorded_answer["answerContent"][TEXTRACT])


def test_the_simulated_workforce_echoes_the_selected_blocks(local_service, textract, a2i, s3, documents,
                                                            output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90])
    AdminClient(local_service).request("PUT", "workforce/policies", {
        "flowDefinitionArn": flow, "policy": {"delaySeconds": [0.0, 0.2], "answer": {"mode": "echo"}}})
    name = unique("loop")
    analyze(textract, documents, upload(documents, EMPLOYMENT), flow, name)
    assert wait_until_finished(a2i, name)["HumanLoopStatus"] == "Completed"
    output = output_of(a2i, s3, name)
    selected = output["inputContent"]["selectedAiServiceResponse"]["blocks"]
    assert len(selected) == 6  # the Full Name key and value and their four words
    [human_answer] = output["humanAnswers"]
    assert human_answer["answerContent"] == {TEXTRACT: {"blocks": selected}}


# Rekognition DetectModerationLabels -------------------------------------------------------------------------


def test_min_confidence_filters_the_labels(rekognition, documents):
    key = upload(documents, LABELS, "rekognition")
    default = moderate(rekognition, documents, key)  # MinConfidence defaults to 50
    assert [label["Name"] for label in default["ModerationLabels"]] == ["Suggestive", "Female Swimwear Or Underwear"]
    assert default["ModerationModelVersion"] == "7.0"
    assert "HumanLoopActivationOutput" not in default
    strict = moderate(rekognition, documents, key, MinConfidence=95)
    assert strict["ModerationLabels"] == [{"Name": "Female Swimwear Or Underwear", "ParentName": "Suggestive",
                                           "Confidence": 99.0}]
    everything = moderate(rekognition, documents, key, MinConfidence=0)
    assert len(everything["ModerationLabels"]) == 3


def test_moderation_label_confidence_check_starts_a_loop(local_service, rekognition, a2i, s3, documents,
                                                         output_bucket):
    flow = make_built_in_flow(REKOGNITION, output_bucket, [SUGGESTIVE_BELOW_98])
    key = upload(documents, LABELS, "rekognition")

    # MinConfidence 95 leaves only the swimwear label (99): no Suggestive label below 98, so no loop.
    quiet = unique("loop")
    unmet = moderate(rekognition, documents, key, flow, quiet, MinConfidence=95)["HumanLoopActivationOutput"]
    assert set(unmet) == {"HumanLoopActivationConditionsEvaluationResults"}  # no HumanLoopArn: no loop
    assert json.loads(unmet["HumanLoopActivationConditionsEvaluationResults"]) == \
        {"Conditions": [{**SUGGESTIVE_BELOW_98, "EvaluationResult": False}]}
    assert error_of(a2i.describe_human_loop, HumanLoopName=quiet)[0] == "ResourceNotFoundException"

    name = unique("loop")
    response = moderate(rekognition, documents, key, flow, name)
    output = response["HumanLoopActivationOutput"]
    assert output["HumanLoopArn"] == a2i.describe_human_loop(HumanLoopName=name)["HumanLoopArn"]
    assert output["HumanLoopActivationReasons"] == ["ConditionsEvaluation"]
    assert json.loads(output["HumanLoopActivationConditionsEvaluationResults"]) == \
        {"Conditions": [{**SUGGESTIVE_BELOW_98, "EvaluationResult": True}]}
    assert loop_names(a2i, flow) == [name]

    answer = {"moderationLabels": [{"name": "Suggestive", "parentName": ""}]}
    written = answer_and_read(local_service, a2i, s3, name, answer)
    assert written["awsManagedHumanLoopRequestSource"] == REKOGNITION
    content = written["inputContent"]
    assert set(content) == INPUT_KEYS
    assert content["aiServiceRequest"] == {"image": {"s3Object": {"bucket": documents, "name": key}},
                                           "humanLoopConfig": {"humanLoopName": name, "flowDefinitionArn": flow}}
    assert [label["name"] for label in content["aiServiceResponse"]["moderationLabels"]] == \
        ["Suggestive", "Female Swimwear Or Underwear"]
    assert content["selectedAiServiceResponse"]["moderationLabels"] == \
        [{"name": "Suggestive", "parentName": "", "confidence": 90.0}]
    assert written["humanAnswers"][0]["answerContent"] == {REKOGNITION: answer}


def test_the_simulated_workforce_echoes_the_labels(local_service, rekognition, a2i, s3, documents, output_bucket):
    flow = make_built_in_flow(REKOGNITION, output_bucket, [SUGGESTIVE_BELOW_98])
    AdminClient(local_service).request("PUT", "workforce/policies", {
        "flowDefinitionArn": flow, "policy": {"delaySeconds": [0.0, 0.2], "answer": {"mode": "echo"}}})
    name = unique("loop")
    moderate(rekognition, documents, upload(documents, LABELS, "rekognition"), flow, name)
    assert wait_until_finished(a2i, name)["HumanLoopStatus"] == "Completed"
    [human_answer] = output_of(a2i, s3, name)["humanAnswers"]
    assert human_answer["answerContent"] == {REKOGNITION: {"moderationLabels": [
        {"name": "Suggestive", "parentName": ""},
        {"name": "Female Swimwear Or Underwear", "parentName": "Suggestive"},
    ]}}


# Errors -----------------------------------------------------------------------------------------------------


def test_a_missing_object_is_an_invalid_s3_object(textract, rekognition, documents):
    code, status, message = error_of(analyze, textract, documents, "inbox/no-such-document.png")
    assert (code, status) == ("InvalidS3ObjectException", 400)
    assert f"s3://{documents}/inbox/no-such-document.png" in message
    code, _, message = error_of(moderate, rekognition, "no-such-bucket-anywhere", "image.png")
    assert code == "InvalidS3ObjectException" and "s3://no-such-bucket-anywhere/image.png" in message


def test_an_object_without_stored_analysis_is_unsupported(textract, rekognition, documents):
    key = upload(documents, None)
    code, status, message = error_of(analyze, textract, documents, key)
    assert (code, status) == ("UnsupportedDocumentException", 400)
    assert f"s3://{documents}/{key}.textract.json" in message
    code, _, message = error_of(moderate, rekognition, documents, key)
    assert code == "UnsupportedDocumentException" and f"s3://{documents}/{key}.rekognition.json" in message


def test_flow_definitions_that_cannot_serve_the_request(textract, a2i, documents, output_bucket,
                                                        flow_definition_arn):
    key = upload(documents, EMPLOYMENT)
    unknown = flow_definition_arn.rsplit("/", 1)[0] + "/no-such-flow"
    code, status, message = error_of(analyze, textract, documents, key, unknown)
    assert (code, status) == ("InvalidParameterException", 400)
    assert unknown in message and "does not exist" in message

    code, _, message = error_of(analyze, textract, documents, key, flow_definition_arn)  # a custom task type
    assert code == "InvalidParameterException"
    assert flow_definition_arn in message and "custom task type" in message and TEXTRACT in message

    rekognition_flow = make_built_in_flow(REKOGNITION, output_bucket, conditions=None)
    code, _, message = error_of(analyze, textract, documents, key, rekognition_flow)
    assert code == "InvalidParameterException"
    assert rekognition_flow in message and REKOGNITION in message and TEXTRACT in message
    assert loop_names(a2i, rekognition_flow) == []


def test_a_bucket_in_another_region_than_the_flow_definition(textract, a2i, output_bucket):
    bucket = unique("a2i-ireland")
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    key = upload(bucket, EMPLOYMENT, region="eu-west-1")
    flow = make_built_in_flow(TEXTRACT, output_bucket, conditions=None)
    code, status, message = error_of(analyze, textract, bucket, key, flow)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "eu-west-1" in message and "us-east-1" in message
    assert loop_names(a2i, flow) == []


def test_the_name_of_a_finished_loop(local_service, textract, a2i, documents, output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, conditions=None)
    name, key = unique("loop"), upload(documents, EMPLOYMENT)
    analyze(textract, documents, key, flow, name)
    AdminClient(local_service).answer(name, {"blocks": []})
    code, status, message = error_of(analyze, textract, documents, key, flow, name)
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == f"HumanLoop '{name}' already exists and is finished"


def test_a_retry_while_the_loop_is_open_gets_the_same_loop(textract, a2i, documents, output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90])
    name, key = unique("loop"), upload(documents, EMPLOYMENT)
    first = analyze(textract, documents, key, flow, name)["HumanLoopActivationOutput"]
    again = analyze(textract, documents, key, flow, name)["HumanLoopActivationOutput"]
    assert again == first
    assert loop_names(a2i, flow) == [name]
    # Another request under the same name is not a retry.
    other = upload(documents, EMPLOYMENT)
    code, _, message = error_of(analyze, textract, documents, other, flow, name)
    assert code == "InvalidParameterException" and name in message


def test_a_lost_response_is_retried_to_the_same_loop(local_service, textract, a2i, documents, output_bucket):
    flow = make_built_in_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90])
    name, key = unique("loop"), upload(documents, EMPLOYMENT)
    admin = AdminClient(local_service)
    admin.add_fault("AnalyzeDocument", lost_response=True, count=1)
    try:
        response = analyze(textract, documents, key, flow, name)
    finally:
        admin.clear_faults()
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert response["HumanLoopActivationOutput"]["HumanLoopArn"] == \
        a2i.describe_human_loop(HumanLoopName=name)["HumanLoopArn"]
    assert loop_names(a2i, flow) == [name]


def test_human_loop_quota_exceeded_beyond_max_open_loops(local_service, output_bucket):
    region = "ap-southeast-2"  # its own Region, so other tests' open loops do not count
    bucket = unique("a2i-sydney")
    boto3.client("s3", region_name=region).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    flow = make_built_in_flow(TEXTRACT, output_bucket, conditions=None, region=region)
    textract = boto3.client("textract", region_name=region,
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    a2i = boto3.client("sagemaker-a2i-runtime", region_name=region)
    admin = AdminClient(local_service)
    admin.configure(maxOpenLoops=2)
    try:
        for _ in range(2):
            analyze(textract, bucket, upload(bucket, EMPLOYMENT, region=region), flow)
        code, status, message = error_of(analyze, textract, bucket, upload(bucket, EMPLOYMENT, region=region), flow)
        assert (code, status) == ("HumanLoopQuotaExceededException", 400)
        assert "2" in message and region in message
    finally:
        admin.configure(maxOpenLoops=None)
    assert len(loop_names(a2i, flow)) == 2


# The seed page's built-in examples (see ../shared/seed/README.md) -------------------------------------------

PAGE_ARN = "arn:aws:sagemaker:aws_region:aws_account_number:flow-definition/flow_def_name"
# The page's Rekognition boto3 example, its line breaks restored: "'FlowDefinitionArn': ," is not Python.
PAGE_REKOGNITION_BOTO3 = """import boto3
rekognition = boto3.client("rekognition", aws_region)
response = rekognition.detect_moderation_labels( \\
Image={'S3Object': {'Bucket': bucket_name, 'Name': image_name}}, \\
HumanLoopConfig={ \\
'HumanLoopName': 'human_loop_name', \\
'FlowDefinitionArn': , "arn:aws:sagemaker:aws_region:aws_account_number:flow-definition/flow_def_name" \\
'DataAttributes': {'ContentClassifiers': ['FreeOfPersonallyIdentifiableInformation','FreeOfAdultContent']} })
"""
# The page's second Textract CLI form (JSON --human-loop-config); --region added.
PAGE_TEXTRACT_CLI = """aws textract analyze-document \\
--document '{"S3Object":{"Bucket":"bucket_name","Name":"document_name"}}' \\
--human-loop-config \\
'{"HumanLoopName":"human_loop_name","FlowDefinitionArn":"arn:aws:sagemaker:aws_region:aws_account_number:flow-definition/flow_def_name","DataAttributes": {"ContentClassifiers":["FreeOfPersonallyIdentifiableInformation","FreeOfAdultContent"]}}' \\
--feature-types '["TABLES", "FORMS"]' \\
--region us-east-1
"""  # noqa: E501


def page_config(name: str = "human_loop_name", arn: str = PAGE_ARN) -> dict:
    return {"FlowDefinitionArn": arn, "HumanLoopName": name, "DataAttributes": {"ContentClassifiers": CLASSIFIERS}}


def assert_name_rejected(message: str) -> None:
    # The service's model validation of HumanLoopConfig.HumanLoopName, in AWS's words.
    assert "'human_loop_name'" in message and "humanLoopConfig.humanLoopName" in message
    assert NAME_PATTERN in message


def test_the_page_textract_boto3_example_literally(local_service, documents):
    aws_region, bucket_name, document_name = "us-east-1", documents, upload(documents, EMPLOYMENT)
    textract = boto3.client("textract", aws_region)
    code, status, message = error_of(
        textract.analyze_document, Document={"S3Object": {"Bucket": bucket_name, "Name": document_name}},
        FeatureTypes=["TABLES", "FORMS"], HumanLoopConfig=page_config())
    assert (code, status) == ("InvalidParameterException", 400)
    assert_name_rejected(message)
    # With a valid name, the ARN's placeholders (Region aws_region, account aws_account_number) are the defect.
    code, _, message = error_of(
        textract.analyze_document, Document={"S3Object": {"Bucket": bucket_name, "Name": document_name}},
        FeatureTypes=["TABLES", "FORMS"], HumanLoopConfig=page_config(unique("loop")))
    assert code == "InvalidParameterException" and PAGE_ARN in message


def test_the_page_rekognition_boto3_example_literally(local_service, documents):
    with pytest.raises(SyntaxError):
        compile(PAGE_REKOGNITION_BOTO3, "page", "exec")
    aws_region, bucket_name, image_name = "us-east-1", documents, upload(documents, LABELS, "rekognition")
    rekognition = boto3.client("rekognition", aws_region)
    code, status, message = error_of(rekognition.detect_moderation_labels,
                                     Image={"S3Object": {"Bucket": bucket_name, "Name": image_name}},
                                     HumanLoopConfig=page_config())
    assert (code, status) == ("InvalidParameterException", 400)
    assert_name_rejected(message)


def test_the_page_boto3_examples_corrected_start_loops(textract, rekognition, a2i, documents, output_bucket):
    for source, call, member, analysis, service in (
            (TEXTRACT, textract.analyze_document, "Document", EMPLOYMENT, "textract"),
            (REKOGNITION, rekognition.detect_moderation_labels, "Image", LABELS, "rekognition")):
        flow, name = make_built_in_flow(source, output_bucket, conditions=None), unique("loop")
        extra = {"FeatureTypes": ["TABLES", "FORMS"]} if service == "textract" else {}
        response = call(**{member: {"S3Object": {"Bucket": documents, "Name": upload(documents, analysis, service)}}},
                        HumanLoopConfig=page_config(name, flow), **extra)
        described = a2i.describe_human_loop(HumanLoopName=name)
        assert described["HumanLoopStatus"] == "InProgress"
        assert response["HumanLoopActivationOutput"]["HumanLoopArn"] == described["HumanLoopArn"]


def run_cli(command: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)


def test_the_page_textract_cli_example_literally_and_corrected(local_service, a2i, documents, output_bucket):
    literal = run_cli(PAGE_TEXTRACT_CLI, local_service)
    assert literal.returncode != 0
    assert "InvalidParameterException" in literal.stderr
    assert_name_rejected(literal.stderr)

    flow, name, key = make_built_in_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90]), unique("loop"), \
        upload(documents, EMPLOYMENT)
    command = (PAGE_TEXTRACT_CLI.replace('"bucket_name"', f'"{documents}"').replace('"document_name"', f'"{key}"')
               .replace(PAGE_ARN, flow).replace('"human_loop_name"', f'"{name}"'))
    corrected = run_cli(command, local_service)
    assert corrected.returncode == 0, corrected.stderr
    output = json.loads(corrected.stdout)["HumanLoopActivationOutput"]
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert (described["HumanLoopStatus"], described["HumanLoopArn"]) == ("InProgress", output["HumanLoopArn"])
    assert json.loads(output["HumanLoopActivationConditionsEvaluationResults"])["Conditions"][0]["EvaluationResult"]


def test_malformed_stored_analyses_are_unsupported_documents(local_service, s3):
    """Found by review: a stored analysis of the wrong shape answered 500 and was retried."""
    bucket = unique("bad-analysis")
    s3.create_bucket(Bucket=bucket)
    cases = {"textract": ("doc", '{"Blocks": "oops"}'),
             "rekognition": ("img", '{"ModerationLabels": [{"Name": "A", "Confidence": "high"}]}'),
             "rekognition-infinite": ("inf", '{"ModerationLabels": [{"Name": "A", "Confidence": Infinity}]}')}
    for service, (key, body) in cases.items():
        suffix = ".textract.json" if service == "textract" else ".rekognition.json"
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        s3.put_object(Bucket=bucket, Key=key + suffix, Body=body.encode())
    textract, rekognition = boto3.client("textract"), boto3.client("rekognition")
    with pytest.raises(ClientError, match="UnsupportedDocumentException") as raised:
        textract.analyze_document(Document={"S3Object": {"Bucket": bucket, "Name": "doc"}}, FeatureTypes=["FORMS"])
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    for key in ("img", "inf"):
        with pytest.raises(ClientError, match="UnsupportedDocumentException"):
            rekognition.detect_moderation_labels(Image={"S3Object": {"Bucket": bucket, "Name": key}})
    with pytest.raises(ClientError, match="minConfidence"):
        boto3.client("rekognition").detect_moderation_labels(Image={"S3Object": {"Bucket": bucket, "Name": "img"}},
                                                              MinConfidence=150)


def test_a_pluggable_analyzer_replaces_the_stored_responses(tmp_path, s3):
    from demo.service import ServiceProcess

    with ServiceProcess(tmp_path / "plugged", "--analyzer", "tests.answer_callables:ConstantAnalyzer") as service:
        endpoint = service.endpoint
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="images")
        boto3.client("s3", endpoint_url=endpoint).put_object(Bucket="images", Key="a.png", Body=b"x")
        labels = boto3.client("rekognition", endpoint_url=endpoint).detect_moderation_labels(
            Image={"S3Object": {"Bucket": "images", "Name": "a.png"}})["ModerationLabels"]
    assert [label["Name"] for label in labels] == ["Plugged"]
