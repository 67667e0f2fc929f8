"""The A2I runtime of the local service, driven by boto3 over HTTP: every operation and error code."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from airflow_a2i.local import outputs
from airflow_a2i.local.admin_client import AdminClient, AdminError
from airflow_a2i.local.store import Answer
from tests.conftest import unique

INPUT = json.dumps({"prompt": "What is the answer?"})


def error_of(call, **kwargs) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def start(a2i, flow_arn: str, name: str | None = None, content: str = INPUT) -> str:
    name = name or unique("loop")
    a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": content})
    return name


def read_s3_json(s3, uri: str) -> dict:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_start_then_describe(a2i, flow_definition_arn):
    name = unique("loop")
    response = a2i.start_human_loop(
        HumanLoopName=name, FlowDefinitionArn=flow_definition_arn, HumanLoopInput={"InputContent": INPUT},
        DataAttributes={"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]},
    )
    assert response["HumanLoopArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{name}"
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "InProgress"
    assert described["HumanLoopName"] == name
    assert described["FlowDefinitionArn"] == flow_definition_arn
    assert abs(described["CreationTime"].timestamp() - time.time()) < 60
    assert "HumanLoopOutput" not in described


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"HumanLoopName": "x" * 64}, "humanLoopName"),
        ({"HumanLoopName": "Upper-Case"}, "humanLoopName"),
        ({"HumanLoopName": "ends-with-"}, "humanLoopName"),
        ({"FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:1234:flow-definition/f"}, "flowDefinitionArn"),
        ({"DataAttributes": {"ContentClassifiers": ["FreeOfViruses"]}}, "contentClassifiers"),
    ],
)
def test_start_rejects_what_the_model_forbids(a2i, flow_definition_arn, changes, names):
    params = {"HumanLoopName": unique("loop"), "FlowDefinitionArn": flow_definition_arn,
              "HumanLoopInput": {"InputContent": INPUT}, **changes}
    code, status, message = error_of(a2i.start_human_loop, **params)
    assert (code, status) == ("ValidationException", 400)
    assert names in message and "failed to satisfy constraint" in message


def test_input_content_must_be_a_json_object_of_at_most_3145728_characters(a2i, flow_definition_arn):
    for bad in ("not json", '["a list"]'):
        code, _, message = error_of(a2i.start_human_loop, HumanLoopName=unique("loop"),
                                    FlowDefinitionArn=flow_definition_arn, HumanLoopInput={"InputContent": bad})
        assert code == "ValidationException" and "InputContent" in message
    just_fits = json.dumps({"text": "a" * (3_145_728 - 12)})
    assert len(just_fits) == 3_145_728
    start(a2i, flow_definition_arn, content=just_fits)
    too_big = json.dumps({"text": "a" * (3_145_728 - 11)})
    code, _, message = error_of(a2i.start_human_loop, HumanLoopName=unique("loop"),
                                FlowDefinitionArn=flow_definition_arn, HumanLoopInput={"InputContent": too_big})
    assert code == "ValidationException" and "3145728" in message


def test_start_with_an_unknown_flow_definition_or_another_region(a2i, flow_definition_arn):
    missing = flow_definition_arn.rsplit("/", 1)[0] + "/no-such-flow"
    code, status, message = error_of(a2i.start_human_loop, HumanLoopName=unique("loop"),
                                     FlowDefinitionArn=missing, HumanLoopInput={"InputContent": INPUT})
    assert (code, status) == ("ValidationException", 400) and "does not exist" in message
    elsewhere = flow_definition_arn.replace("us-east-1", "eu-west-1")
    code, _, message = error_of(a2i.start_human_loop, HumanLoopName=unique("loop"),
                                FlowDefinitionArn=elsewhere, HumanLoopInput={"InputContent": INPUT})
    assert code == "ValidationException" and "eu-west-1" in message


def test_same_name_same_input_returns_the_existing_loop(a2i, flow_definition_arn):
    name = start(a2i, flow_definition_arn)
    again = a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_definition_arn,
                                 HumanLoopInput={"InputContent": INPUT})
    assert again["HumanLoopArn"].endswith(f"/{name}")
    loops = a2i.list_human_loops(FlowDefinitionArn=flow_definition_arn)["HumanLoopSummaries"]
    assert [loop["HumanLoopName"] for loop in loops].count(name) == 1


def test_same_name_with_another_input_or_flow_definition_conflicts(a2i, make_flow_definition):
    flow, other_flow = make_flow_definition(), make_flow_definition()
    name = start(a2i, flow)
    code, status, message = error_of(a2i.start_human_loop, HumanLoopName=name, FlowDefinitionArn=flow,
                                     HumanLoopInput={"InputContent": json.dumps({"prompt": "other"})})
    assert (code, status) == ("ConflictException", 409) and name in message and "input" in message
    code, status, message = error_of(a2i.start_human_loop, HumanLoopName=name, FlowDefinitionArn=other_flow,
                                     HumanLoopInput={"InputContent": INPUT})
    assert (code, status) == ("ConflictException", 409) and "flow definition" in message


def test_a_finished_loop_keeps_its_name_until_deleted(a2i, flow_definition_arn):
    name = start(a2i, flow_definition_arn)
    a2i.stop_human_loop(HumanLoopName=name)
    wait_for_status(a2i, name, "Stopped")
    code, _, _ = error_of(a2i.start_human_loop, HumanLoopName=name, FlowDefinitionArn=flow_definition_arn,
                          HumanLoopInput={"InputContent": json.dumps({"prompt": "new"})})
    assert code == "ConflictException"
    a2i.delete_human_loop(HumanLoopName=name)
    start(a2i, flow_definition_arn, name=name, content=json.dumps({"prompt": "new"}))
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"


def wait_for_status(a2i, name: str, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = a2i.describe_human_loop(HumanLoopName=name)
        if described["HumanLoopStatus"] == status or time.monotonic() > deadline:
            assert described["HumanLoopStatus"] == status
            return described
        time.sleep(0.05)


def test_stop_goes_through_stopping_to_stopped(a2i, flow_definition_arn):
    name = start(a2i, flow_definition_arn)
    a2i.stop_human_loop(HumanLoopName=name)
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "Stopping"
    wait_for_status(a2i, name, "Stopped")
    code, status, message = error_of(a2i.stop_human_loop, HumanLoopName=name)
    assert (code, status) == ("ValidationException", 400) and "Stopped" in message


def test_delete_only_finished_loops(a2i, flow_definition_arn):
    name = start(a2i, flow_definition_arn)
    code, status, message = error_of(a2i.delete_human_loop, HumanLoopName=name)
    assert (code, status) == ("ValidationException", 400) and "InProgress" in message
    a2i.stop_human_loop(HumanLoopName=name)
    code, _, message = error_of(a2i.delete_human_loop, HumanLoopName=name)
    assert code == "ValidationException" and "Stopping" in message
    wait_for_status(a2i, name, "Stopped")
    a2i.delete_human_loop(HumanLoopName=name)
    code, status, _ = error_of(a2i.describe_human_loop, HumanLoopName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    listed = a2i.list_human_loops(FlowDefinitionArn=flow_definition_arn)["HumanLoopSummaries"]
    assert name not in [loop["HumanLoopName"] for loop in listed]


@pytest.mark.parametrize("operation", ["describe_human_loop", "stop_human_loop", "delete_human_loop"])
def test_unknown_loops_are_not_found(a2i, operation):
    code, status, message = error_of(getattr(a2i, operation), HumanLoopName="no-such-loop")
    assert (code, status) == ("ResourceNotFoundException", 404) and "no-such-loop" in message


def test_describe_validates_the_name_in_the_path(a2i, local_service):
    code, status, message = error_of(a2i.describe_human_loop, HumanLoopName="Bad_Name")
    assert (code, status) == ("ValidationException", 400) and "Bad_Name" in message


def test_list_requires_a_known_flow_definition_and_valid_max_results(a2i, flow_definition_arn):
    missing = flow_definition_arn.rsplit("/", 1)[0] + "/no-such-flow"
    code, status, _ = error_of(a2i.list_human_loops, FlowDefinitionArn=missing)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, message = error_of(a2i.list_human_loops, FlowDefinitionArn=flow_definition_arn, MaxResults=101)
    assert (code, status) == ("ValidationException", 400) and "maxResults" in message
    code, _, _ = error_of(a2i.list_human_loops, FlowDefinitionArn=flow_definition_arn, NextToken="garbage")
    assert code == "ValidationException"


def test_list_requires_the_flow_definition_even_without_client_validation(local_service):
    client = boto3.client("sagemaker-a2i-runtime",
                          config=boto3.session.Config(parameter_validation=False))
    code, status, message = error_of(client.list_human_loops)
    assert (code, status) == ("ValidationException", 400) and "flowDefinitionArn" in message


def test_pagination_over_250_loops_in_both_orders(a2i, flow_definition_arn):
    names = [start(a2i, flow_definition_arn, name=f"page-{index:03d}-{unique('l')}") for index in range(250)]
    paginator = a2i.get_paginator("list_human_loops")
    for order, expected in (("Ascending", names), ("Descending", names[::-1])):
        pages = list(paginator.paginate(FlowDefinitionArn=flow_definition_arn, SortOrder=order,
                                        PaginationConfig={"PageSize": 100}))
        assert [len(page["HumanLoopSummaries"]) for page in pages] == [100, 100, 50]
        listed = [loop["HumanLoopName"] for page in pages for loop in page["HumanLoopSummaries"]]
        assert listed == expected, order
        times = [loop["CreationTime"] for page in pages for loop in page["HumanLoopSummaries"]]
        assert times == sorted(times, reverse=order == "Descending")


def test_creation_time_filters(a2i, flow_definition_arn):
    early = [start(a2i, flow_definition_arn) for _ in range(3)]
    time.sleep(0.05)
    boundary = datetime.now(UTC)
    time.sleep(0.05)
    late = [start(a2i, flow_definition_arn) for _ in range(2)]

    def listed(**window) -> list[str]:
        pages = a2i.get_paginator("list_human_loops").paginate(FlowDefinitionArn=flow_definition_arn,
                                                               SortOrder="Ascending", **window)
        return [loop["HumanLoopName"] for page in pages for loop in page["HumanLoopSummaries"]]

    assert listed(CreationTimeAfter=boundary) == late
    assert listed(CreationTimeBefore=boundary) == early
    assert listed(CreationTimeAfter=boundary - timedelta(hours=1), CreationTimeBefore=boundary) == early
    assert listed(CreationTimeAfter=datetime.now(UTC) + timedelta(hours=1)) == []


def test_answer_completes_the_loop_and_writes_output_json(a2i, s3, flow_definition_arn, local_service):
    name = start(a2i, flow_definition_arn)
    AdminClient(local_service).answer(name, {"answer": "42"}, worker_id="7fe4cd6b55282093", time_spent=12.5)
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed"
    uri = described["HumanLoopOutput"]["OutputS3Uri"]
    created = described["CreationTime"].astimezone(UTC)
    flow_name = flow_definition_arn.rsplit("/", 1)[1]
    assert uri.endswith(f"/a2i-output/{flow_name}/{created:%Y/%m/%d/%H/%M/%S}/{name}/output.json")
    output = read_s3_json(s3, uri)
    assert output["flowDefinitionArn"] == flow_definition_arn
    assert output["humanLoopName"] == name
    assert output["inputContent"] == {"prompt": "What is the answer?"}
    [answer] = output["humanAnswers"]
    assert answer["answerContent"] == {"answer": "42"}
    assert answer["workerId"] == "7fe4cd6b55282093"
    assert answer["timeSpentInSeconds"] == 12.5
    accepted = datetime.strptime(answer["acceptanceTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    submitted = datetime.strptime(answer["submissionTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs((submitted - accepted).total_seconds() - 12.5) < 0.01
    assert "workerMetadata" not in answer


def answered_with_metadata(local_service: str, name: str, metadata: dict) -> dict:
    return AdminClient(local_service).request("POST", f"human-loops/{name}/answers", {
        "answer": {"answer": "42"}, "workerId": "7fe4cd6b55282093", "workerMetadata": metadata})


@pytest.mark.parametrize("provider", ["Cognito", "Oidc"])
def test_answers_carry_aws_s_worker_metadata(a2i, s3, flow_definition_arn, local_service, provider):
    name = start(a2i, flow_definition_arn)
    identity = {"identityProviderType": provider, "issuer": "https://idp.example", "sub": "a-worker"}
    answered_with_metadata(local_service, name, {"identityData": identity})
    [answer] = read_s3_json(s3, a2i.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"])[
        "humanAnswers"]
    assert answer["workerMetadata"] == {"identityData": identity}


def test_the_portal_s_former_provider_type_is_written_as_cognito(a2i, s3, flow_definition_arn, local_service):
    name = start(a2i, flow_definition_arn)
    identity = {"identityProviderType": "AirflowA2ILocalPortal", "issuer": "http://127.0.0.1:1/portal", "sub": "s"}
    answered_with_metadata(local_service, name, {"identityData": identity})
    [answer] = read_s3_json(s3, a2i.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"])[
        "humanAnswers"]
    assert answer["workerMetadata"] == {"identityData": {**identity, "identityProviderType": "Cognito"}}


def test_answers_stored_with_the_former_provider_type_are_rewritten_as_cognito():
    """Answers the portal gave before it took AWS's values: output.json (rewritten at start-up) says Cognito."""
    identity = {"identityProviderType": "AirflowA2ILocalPortal", "issuer": "http://127.0.0.1:1/portal", "sub": "s"}
    stored = Answer("7fe4cd6b55282093", {"answer": "42"}, 1.0, 2.0, 1.0, {"identityData": identity})
    assert outputs.human_answer(stored)["workerMetadata"] == \
        {"identityData": {**identity, "identityProviderType": "Cognito"}}


@pytest.mark.parametrize("identity", [{"identityProviderType": "Google"}, {"identityProviderType": 1}, "Cognito"])
def test_worker_metadata_beyond_aws_s_values_is_refused(a2i, flow_definition_arn, local_service, identity):
    name = start(a2i, flow_definition_arn)
    with pytest.raises(AdminError, match="Cognito") as raised:
        answered_with_metadata(local_service, name, {"identityData": identity})
    assert "400" in str(raised.value)
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"


def test_task_count_two_needs_two_different_workers(a2i, s3, make_flow_definition, local_service):
    name = start(a2i, make_flow_definition(task_count=2))
    admin = AdminClient(local_service)
    admin.answer(name, {"answer": "a"}, worker_id="worker-1")
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"
    with pytest.raises(Exception, match="already answered"):
        admin.answer(name, {"answer": "b"}, worker_id="worker-1")
    admin.answer(name, {"answer": "b"}, worker_id="worker-2")
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed"
    output = read_s3_json(s3, described["HumanLoopOutput"]["OutputS3Uri"])
    assert [(a["workerId"], a["answerContent"]) for a in output["humanAnswers"]] == [
        ("worker-1", {"answer": "a"}), ("worker-2", {"answer": "b"})]


def test_a_stopped_loop_takes_no_answer(a2i, flow_definition_arn, local_service):
    name = start(a2i, flow_definition_arn)
    a2i.stop_human_loop(HumanLoopName=name)
    with pytest.raises(Exception, match="only a loop that is InProgress takes answers"):
        AdminClient(local_service).answer(name, {"answer": "late"})


def test_missing_output_bucket_fails_the_loop(a2i, sagemaker, local_service):
    ui_arn = sagemaker.create_human_task_ui(HumanTaskUiName=unique("ui"),
                                            UiTemplate={"Content": "<crowd-form></crowd-form>"})["HumanTaskUiArn"]
    flow = sagemaker.create_flow_definition(
        FlowDefinitionName=unique("flow"), RoleArn="arn:aws:iam::123456789012:role/r",
        OutputConfig={"S3OutputPath": "s3://no-such-bucket-for-outputs/x"},
        HumanLoopConfig={"WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/t",
                         "HumanTaskUiArn": ui_arn, "TaskTitle": "t", "TaskDescription": "d", "TaskCount": 1},
    )["FlowDefinitionArn"]
    name = start(a2i, flow)
    AdminClient(local_service).answer(name, {"answer": "x"})
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Failed"
    assert described["FailureCode"] == "InternalError"
    assert "no-such-bucket-for-outputs" in described["FailureReason"]


def test_service_quota_on_open_loops(local_service, make_flow_definition):
    region = "eu-west-3"  # its own Region, so other tests' open loops do not count
    a2i = boto3.client("sagemaker-a2i-runtime", region_name=region)
    flow = make_flow_definition(region=region)
    admin = AdminClient(local_service)
    admin.configure(maxOpenLoops=2)
    try:
        start(a2i, flow)
        start(a2i, flow)
        code, status, message = error_of(a2i.start_human_loop, HumanLoopName=unique("loop"),
                                         FlowDefinitionArn=flow, HumanLoopInput={"InputContent": INPUT})
        assert (code, status) == ("ServiceQuotaExceededException", 402) and "2" in message
    finally:
        admin.configure(maxOpenLoops=None)


@pytest.mark.parametrize(("error", "status"), [("ThrottlingException", 429), ("InternalServerException", 500)])
def test_injected_errors_reach_the_client_with_their_status(local_service, flow_definition_arn, error, status):
    no_retries = boto3.client("sagemaker-a2i-runtime",
                              config=boto3.session.Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    admin = AdminClient(local_service)
    admin.add_fault("DescribeHumanLoop", error, count=1)
    try:
        code, got_status, _ = error_of(no_retries.describe_human_loop, HumanLoopName="any-loop")
        assert (code, got_status) == (error, status)
    finally:
        admin.clear_faults()


def test_botocore_retries_a_throttled_start_once_and_one_loop_exists(local_service, a2i, flow_definition_arn):
    admin = AdminClient(local_service)
    admin.add_fault("StartHumanLoop", "ThrottlingException", count=1)
    try:
        name = start(a2i, flow_definition_arn)
    finally:
        admin.clear_faults()
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"
