"""Fault injection of the local service over HTTP with boto3: quotas, modelled errors, latency, lost responses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_a2i.local.admin_client import AdminClient, AdminError
from airflow_a2i.local.faults import FaultRule, Faults
from demo.service import ServiceProcess
from tests.conftest import unique

pytestmark = pytest.mark.service  # starts processes of its own (see TIERS in tests/conftest.py)

INPUT = json.dumps({"prompt": "Is this right?"})
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def admin(local_service: str) -> Iterator[AdminClient]:
    client = AdminClient(local_service)
    client.clear_faults()
    try:
        yield client
    finally:
        client.clear_faults()  # other tests share the service


@pytest.fixture
def raw_a2i(local_service: str):
    """An A2I runtime client that never retries, so every injected error reaches the test."""
    return boto3.client("sagemaker-a2i-runtime", config=NO_RETRIES)


def error_of(call, **kwargs) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def outcome(call, **kwargs) -> tuple[str, int]:
    """("OK", 200) or the error's (code, status)."""
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return "OK", 200


def start_params(flow_arn: str, name: str | None = None) -> dict:
    return {"HumanLoopName": name or unique("loop"), "FlowDefinitionArn": flow_arn,
            "HumanLoopInput": {"InputContent": INPUT}}


@pytest.fixture
def loop_name(a2i, flow_definition_arn: str) -> str:
    params = start_params(flow_definition_arn)
    a2i.start_human_loop(**params)
    return params["HumanLoopName"]


# Quotas ---------------------------------------------------------------------------------------------

def test_quota_throttles_beyond_the_burst_and_refills(admin, raw_a2i, loop_name):
    assert admin.set_quotas({"DescribeHumanLoop": 5})["quotas"] == {"DescribeHumanLoop": 5}
    began = time.monotonic()
    outcomes = [outcome(raw_a2i.describe_human_loop, HumanLoopName=loop_name) for _ in range(20)]
    elapsed = time.monotonic() - began
    allowed = outcomes.count(("OK", 200))
    assert set(outcomes) == {("OK", 200), ("ThrottlingException", 429)}
    # The burst is 5 requests; the bucket refills 5 per second while the burst runs.
    assert 5 <= allowed <= 5 + int(elapsed * 5) + 1, (allowed, elapsed)

    time.sleep(1.0)
    assert [outcome(raw_a2i.describe_human_loop, HumanLoopName=loop_name) for _ in range(4)] == [("OK", 200)] * 4

    assert admin.set_quotas({"DescribeHumanLoop": None})["quotas"] == {}
    assert {outcome(raw_a2i.describe_human_loop, HumanLoopName=loop_name) for _ in range(20)} == {("OK", 200)}


def test_token_bucket_and_rates_are_deterministic_offline():
    now = [0.0]
    faults = Faults(seed=3, clock=lambda: now[0], sleep=lambda seconds: None)
    faults.set_quotas({"ListHumanLoops": 2})

    def allowed(requests: int) -> int:
        passed = 0
        for _ in range(requests):
            try:
                faults.before("ListHumanLoops")
                passed += 1
            except Exception:
                pass
        return passed

    assert allowed(5) == 2  # the burst
    now[0] += 0.5
    assert allowed(5) == 1  # half a second refills one token at 2 per second
    now[0] += 100
    assert allowed(5) == 2  # never more than the burst

    def pattern(seed: int) -> list[bool]:
        faults = Faults(seed=seed)
        faults.add(FaultRule(operation="DescribeHumanLoop", error="InternalServerException", rate=0.5))
        return [_fails(faults) for _ in range(30)]

    assert pattern(11) == pattern(11)
    assert pattern(11) != pattern(12)


def _fails(faults: Faults) -> bool:
    try:
        faults.before("DescribeHumanLoop")
    except Exception:
        return True
    return False


# Error rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("error", "status"), [
    ("ValidationException", 400), ("ServiceQuotaExceededException", 402), ("ConflictException", 409),
    ("ThrottlingException", 429), ("InternalServerException", 500),
])
def test_each_error_of_start_human_loop_with_its_status(admin, a2i, raw_a2i, flow_definition_arn, error, status):
    admin.add_fault("StartHumanLoop", error, count=1)
    params = start_params(flow_definition_arn)
    code, got_status, message = error_of(raw_a2i.start_human_loop, **params)
    assert (code, got_status) == (error, status)
    assert "/_a2i/faults" in message
    # The request was refused before any work: no loop exists.
    assert outcome(a2i.describe_human_loop, HumanLoopName=params["HumanLoopName"])[0] == "ResourceNotFoundException"


def test_a_rate_of_one_half_affects_some_requests_but_not_all(admin, raw_a2i, loop_name):
    admin.add_fault("DescribeHumanLoop", "InternalServerException", rate=0.5)
    outcomes = [outcome(raw_a2i.describe_human_loop, HumanLoopName=loop_name) for _ in range(40)]
    failed = outcomes.count(("InternalServerException", 500))
    assert failed + outcomes.count(("OK", 200)) == 40
    assert 0 < failed < 40
    assert len(admin.faults()["rules"]) == 1  # no count: the rule stays


def test_a_count_of_two_affects_exactly_two_requests(admin, raw_a2i, loop_name):
    admin.add_fault("DescribeHumanLoop", "ThrottlingException", count=2)
    outcomes = [outcome(raw_a2i.describe_human_loop, HumanLoopName=loop_name) for _ in range(6)]
    assert outcomes == [("ThrottlingException", 429)] * 2 + [("OK", 200)] * 4
    assert admin.faults()["rules"] == []  # used up


def test_sagemaker_operations_answer_with_their_api_errors(admin, local_service):
    sagemaker = boto3.client("sagemaker", config=NO_RETRIES)
    admin.add_fault("ListHumanTaskUis", "ThrottlingException", count=1)
    admin.add_fault("DescribeFlowDefinition", "InternalFailure", count=1)
    assert error_of(sagemaker.list_human_task_uis)[:2] == ("ThrottlingException", 400)
    assert error_of(sagemaker.describe_flow_definition, FlowDefinitionName="any-flow")[:2] == ("InternalFailure", 500)
    assert error_of(sagemaker.describe_flow_definition, FlowDefinitionName="any-flow")[:2] == ("ResourceNotFound", 400)


def test_rules_an_operation_cannot_meet_are_refused_with_the_allowed_codes(admin):
    with pytest.raises(AdminError) as refused:
        admin.add_fault("DescribeHumanLoop", "ConflictException")
    message = str(refused.value)
    assert "(400)" in message and "ConflictException" in message
    for allowed in ("InternalServerException", "ResourceNotFoundException", "ThrottlingException",
                    "ValidationException"):
        assert allowed in message
    with pytest.raises(AdminError, match=r"unknown operation 'StartHumanLoops'.*StartHumanLoop"):
        admin.add_fault("StartHumanLoops", "ThrottlingException")
    with pytest.raises(AdminError, match=r"both 'error'.*'lostResponse'"):
        admin.add_fault("StartHumanLoop", "ThrottlingException", lost_response=True)
    with pytest.raises(AdminError, match=r"rate 1\.5"):
        admin.add_fault("StartHumanLoop", "ThrottlingException", rate=1.5)
    with pytest.raises(AdminError, match="unknown operation 'Nope'"):
        admin.set_quotas({"Nope": 1})
    assert admin.faults() == {"rules": [], "quotas": {}}


def test_textract_and_rekognition_errors_are_known_before_they_are_served(admin):
    admin.add_fault("AnalyzeDocument", "HumanLoopQuotaExceededException", count=1)
    admin.add_fault("DetectModerationLabels", "ProvisionedThroughputExceededException", rate=0.5)
    rules = admin.faults()["rules"]
    assert [(rule["operation"], rule["error"]) for rule in rules] == [
        ("AnalyzeDocument", "HumanLoopQuotaExceededException"),
        ("DetectModerationLabels", "ProvisionedThroughputExceededException"),
    ]
    with pytest.raises(AdminError, match="InternalServerError"):
        admin.add_fault("AnalyzeDocument", "InternalServerException")  # the A2I runtime's name, not Textract's


# Latency and lost responses ---------------------------------------------------------------------------

def test_latency_delays_the_response(admin, raw_a2i, loop_name):
    admin.add_fault("DescribeHumanLoop", latency_seconds=0.4, count=1)
    began = time.monotonic()
    assert raw_a2i.describe_human_loop(HumanLoopName=loop_name)["HumanLoopStatus"] == "InProgress"
    assert time.monotonic() - began >= 0.3


def test_a_lost_start_response_is_retried_into_the_existing_loop(admin, a2i, flow_definition_arn):
    admin.add_fault("StartHumanLoop", lost_response=True, count=1)
    retrying = boto3.client("sagemaker-a2i-runtime", config=Config(retries={"mode": "standard"}))
    params = start_params(flow_definition_arn)
    response = retrying.start_human_loop(**params)
    assert response["ResponseMetadata"]["RetryAttempts"] == 1  # the first response was lost
    assert response["HumanLoopArn"].endswith(f":human-loop/{params['HumanLoopName']}")
    loops = a2i.list_human_loops(FlowDefinitionArn=flow_definition_arn)["HumanLoopSummaries"]
    assert [loop["HumanLoopName"] for loop in loops] == [params["HumanLoopName"]]


def test_a_lost_response_without_retries_leaves_the_loop_created(admin, a2i, raw_a2i, flow_definition_arn):
    admin.add_fault("StartHumanLoop", lost_response=True, count=1)
    params = start_params(flow_definition_arn)
    code, status, message = error_of(raw_a2i.start_human_loop, **params)
    assert (code, status) == ("InternalServerException", 500) and "carried out" in message
    assert a2i.describe_human_loop(HumanLoopName=params["HumanLoopName"])["HumanLoopStatus"] == "InProgress"


def test_a_lost_sagemaker_response_leaves_the_resource_created(admin, local_service):
    sagemaker = boto3.client("sagemaker", config=NO_RETRIES)
    admin.add_fault("CreateHumanTaskUi", lost_response=True, count=1)
    name = unique("ui")
    code, status, _ = error_of(sagemaker.create_human_task_ui, HumanTaskUiName=name,
                               UiTemplate={"Content": "<crowd-form></crowd-form>"})
    assert (code, status) == ("InternalFailure", 500)
    assert sagemaker.describe_human_task_ui(HumanTaskUiName=name)["HumanTaskUiName"] == name


# At start -----------------------------------------------------------------------------------------

def test_a_faults_file_given_at_start_is_in_force(tmp_path: Path):
    spec = {"rules": [{"operation": "DescribeHumanLoop", "error": "ValidationException", "count": 1}],
            "quotas": {"ListHumanTaskUis": 1}, "seed": 5}
    faults_file = tmp_path / "faults.json"
    faults_file.write_text(json.dumps(spec))
    with ServiceProcess(tmp_path / "service", "--faults", str(faults_file)) as service:
        state = AdminClient(service.endpoint).faults()
        assert state["quotas"] == {"ListHumanTaskUis": 1}
        assert [(rule["operation"], rule["error"], rule["count"]) for rule in state["rules"]] == [
            ("DescribeHumanLoop", "ValidationException", 1)]
        a2i = boto3.client("sagemaker-a2i-runtime", endpoint_url=service.endpoint, config=NO_RETRIES)
        assert outcome(a2i.describe_human_loop, HumanLoopName="no-such-loop") == ("ValidationException", 400)
        assert outcome(a2i.describe_human_loop, HumanLoopName="no-such-loop") == ("ResourceNotFoundException", 404)
        sagemaker = boto3.client("sagemaker", endpoint_url=service.endpoint, config=NO_RETRIES)
        outcomes = [outcome(sagemaker.list_human_task_uis) for _ in range(3)]
        assert outcomes[0] == ("OK", 200) and ("ThrottlingException", 400) in outcomes[1:]


def test_an_invalid_faults_file_stops_the_start_with_a_clear_message(tmp_path: Path):
    faults_file = tmp_path / "faults.json"
    faults_file.write_text(json.dumps({"rules": [{"operation": "DescribeHumanLoop", "error": "ConflictException"}]}))
    finished = subprocess.run(
        [sys.executable, "-m", "airflow_a2i.cli", "local", "serve", "--port", "0", "--data-dir",
         str(tmp_path / "data"), "--faults", str(faults_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert finished.returncode == 2
    assert "rules[0]" in finished.stderr and "cannot return 'ConflictException'" in finished.stderr
    assert "ResourceNotFoundException" in finished.stderr
