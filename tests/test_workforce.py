"""The simulated workforce: policies, expiry, TaskCount 3, determinism, auto mode and restarts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient, AdminError
from airflow_a2i.local.store import HumanLoop
from airflow_a2i.local.workforce import SimulatedWorkforce, WorkforcePolicy, worker_id, worker_subject
from demo.service import ServiceProcess
from tests.conftest import ROLE_ARN, unique, workteam_arn
from tests.flows import create_flow
from tests.loops import set_policy

pytestmark = pytest.mark.service  # starts processes of its own (see TIERS in tests/conftest.py)

QUICK = [0.0, 0.2]


def start(a2i, flow_arn: str, content: dict, name: str | None = None) -> str:
    name = name or unique("loop")
    a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_arn,
                         HumanLoopInput={"InputContent": json.dumps(content)})
    return name


def wait_until_finished(a2i, name: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = a2i.describe_human_loop(HumanLoopName=name)
        if described["HumanLoopStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        assert time.monotonic() < deadline, f"{name} still {described['HumanLoopStatus']}"
        time.sleep(0.05)


def output_of(s3, described: dict) -> dict:
    bucket, key = described["HumanLoopOutput"]["OutputS3Uri"].removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_echo_answers_the_inputs_initial_values(local_service, a2i, s3, flow_definition_arn):
    set_policy(local_service, flow_definition_arn, delaySeconds=QUICK, answer={"mode": "echo"})
    with_initial = start(a2i, flow_definition_arn, {"text": "a cat", "initialValues": {"label": "cat"}})
    without = start(a2i, flow_definition_arn, {"text": "a dog"})
    done = wait_until_finished(a2i, with_initial)
    assert done["HumanLoopStatus"] == "Completed"
    [answer] = output_of(s3, done)["humanAnswers"]
    assert answer["answerContent"] == {"label": "cat"}
    assert answer["workerId"] == worker_id(0)
    assert 0 <= answer["timeSpentInSeconds"] <= QUICK[1]
    assert output_of(s3, wait_until_finished(a2i, without))["humanAnswers"][0]["answerContent"] == {"text": "a dog"}


def test_fixed_answer(local_service, a2i, s3, flow_definition_arn):
    set_policy(local_service, flow_definition_arn, delaySeconds=QUICK, answer={"mode": "fixed", "answer": {"ok": True}})
    done = wait_until_finished(a2i, start(a2i, flow_definition_arn, {"text": "x"}))
    assert output_of(s3, done)["humanAnswers"][0]["answerContent"] == {"ok": True}


def test_a_registered_callable_answers_for_three_different_workers(local_service, portal_endpoint, a2i, s3,
                                                                   make_flow_definition):
    flow = make_flow_definition(task_count=3)
    set_policy(local_service, flow, delaySeconds=QUICK, answer={"mode": "callable", "name": "label-by-worker"})
    done = wait_until_finished(a2i, start(a2i, flow, {"prefix": "tag"}))
    answers = output_of(s3, done)["humanAnswers"]
    assert [answer["answerContent"]["label"] for answer in answers] == ["tag-0", "tag-1", "tag-2"]
    assert [answer["workerId"] for answer in answers] == [worker_id(0), worker_id(1), worker_id(2)]
    assert len({answer["workerId"] for answer in answers}) == 3
    # A private workforce's workerMetadata, as A2I writes it: the simulated workers sign in at the portal (Cognito's
    # stand-in), each with a sub of its own that stays the same across loops.
    assert [answer["workerMetadata"] for answer in answers] == [
        {"identityData": {"identityProviderType": "Cognito", "issuer": f"{portal_endpoint}/portal",
                          "sub": worker_subject(index)}} for index in range(3)]
    assert len({worker_subject(index) for index in range(3)}) == 3


def test_the_public_workforce_s_answers_carry_no_worker_metadata(local_service, a2i, s3, output_bucket):
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    flow = create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/public", workteam_arn=public,
                       PublicWorkforceTaskPrice={"AmountInUsd": {"Dollars": 0, "Cents": 1, "TenthFractionsOfACent": 2}})
    set_policy(local_service, flow, delaySeconds=QUICK, answer={"mode": "fixed", "answer": {"ok": True}})
    name = unique("loop")
    a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow, HumanLoopInput={"InputContent": "{}"},
                         DataAttributes={"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]})
    [answer] = output_of(s3, wait_until_finished(a2i, name))["humanAnswers"]
    assert answer["answerContent"] == {"ok": True} and "workerMetadata" not in answer


def test_a_callable_registered_by_entry_point(local_service, a2i, s3, flow_definition_arn):
    shown = AdminClient(local_service).request("GET", "workforce")
    assert {"ground-truth", "label-by-worker"} <= set(shown["callables"])
    set_policy(local_service, flow_definition_arn, delaySeconds=QUICK,
               answer={"mode": "callable", "name": "ground-truth"})
    done = wait_until_finished(a2i, start(a2i, flow_definition_arn, {"text": "x", "groundTruth": {"total": "12.50"}}))
    assert output_of(s3, done)["humanAnswers"][0]["answerContent"] == {"total": "12.50"}


def test_a_failing_callable_fails_the_loop_with_its_reason(local_service, a2i, flow_definition_arn):
    set_policy(local_service, flow_definition_arn, delaySeconds=QUICK, answer={"mode": "callable", "name": "broken"})
    done = wait_until_finished(a2i, start(a2i, flow_definition_arn, {"text": "x"}))
    assert (done["HumanLoopStatus"], done["FailureCode"]) == ("Failed", "InternalError")
    assert "always fails" in done["FailureReason"]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"answer": {"mode": "callable", "name": "os.system"}}, "No answer callable named 'os.system'"),
        ({"answer": {"mode": "telepathy"}}, "mode"),
        ({"answer": {"mode": "fixed"}}, "fixed answer needs"),
        ({"delaySeconds": [5, 1]}, "delaySeconds"),
        ({"failureRate": 1.5}, "failureRate"),
        ({"failureRate": 0.6, "expiryRate": 0.6}, "at most 1"),
        ({"speed": "fast"}, "Unknown workforce policy field"),
    ],
)
def test_bad_policies_are_refused_with_what_to_change(local_service, flow_definition_arn, policy, message):
    with pytest.raises(AdminError, match=message):
        set_policy(local_service, flow_definition_arn, **policy)


def test_a_policy_for_an_unknown_flow_definition_is_refused(local_service, flow_definition_arn):
    with pytest.raises(AdminError, match="does not exist"):
        set_policy(local_service, flow_definition_arn + "-missing", delaySeconds=QUICK)


def test_failure_rate_one_fails_every_loop(local_service, a2i, flow_definition_arn):
    set_policy(local_service, flow_definition_arn, delaySeconds=QUICK, failureRate=1.0)
    done = wait_until_finished(a2i, start(a2i, flow_definition_arn, {"text": "x"}))
    assert (done["HumanLoopStatus"], done["FailureCode"]) == ("Failed", "InternalError")
    assert "failureRate" in done["FailureReason"]


def test_expiry_rate_one_lets_loops_expire_at_their_availability_lifetime(local_service, a2i, make_flow_definition):
    flow = make_flow_definition(TaskAvailabilityLifetimeInSeconds=1)
    set_policy(local_service, flow, delaySeconds=QUICK, expiryRate=1.0)
    started = time.monotonic()
    done = wait_until_finished(a2i, start(a2i, flow, {"text": "x"}))
    assert (done["HumanLoopStatus"], done["FailureCode"]) == ("Failed", "Expired")
    assert "TaskAvailabilityLifetimeInSeconds (1 s)" in done["FailureReason"]
    assert time.monotonic() - started >= 0.8


def test_an_unanswered_loop_expires_without_any_workforce(a2i, make_flow_definition):
    flow = make_flow_definition(TaskAvailabilityLifetimeInSeconds=1)
    name = start(a2i, flow, {"text": "x"})
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"
    done = wait_until_finished(a2i, name)
    assert (done["HumanLoopStatus"], done["FailureCode"]) == ("Failed", "Expired")


def test_a_stopped_loop_is_not_answered(local_service, a2i, flow_definition_arn):
    set_policy(local_service, flow_definition_arn, delaySeconds=[0.5, 0.5])
    name = start(a2i, flow_definition_arn, {"text": "x"})
    a2i.stop_human_loop(HumanLoopName=name)
    # A witness started later is due later: once the workforce has answered it, it has passed the stopped loop's
    # turn, however slow the machine.
    witness = start(a2i, flow_definition_arn, {"text": "y"})
    assert wait_until_finished(a2i, witness)["HumanLoopStatus"] == "Completed"
    assert wait_until_finished(a2i, name)["HumanLoopStatus"] == "Stopped"


def test_outcomes_follow_the_seeded_plan(local_service, a2i, flow_definition_arn):
    policy = {"delaySeconds": [0.0, 0.3], "failureRate": 0.3, "expiryRate": 0.0, "seed": 11}
    set_policy(local_service, flow_definition_arn, **policy)
    names = [start(a2i, flow_definition_arn, {"n": index}) for index in range(20)]
    outcomes = {name: wait_until_finished(a2i, name) for name in names}
    planner = SimulatedWorkforce.__new__(SimulatedWorkforce)
    planner.seed = 0
    parsed = WorkforcePolicy.from_json(policy, {})
    predicted = {}
    for name, described in outcomes.items():
        loop = HumanLoop(0, "us-east-1", name, "", flow_definition_arn, "{}", None, "InProgress",
                         round(described["CreationTime"].timestamp(), 3), 0.0, None, None, None, False, None)
        predicted[name] = planner.plan(loop, parsed, 1).action
    assert {name: "fail" if d["HumanLoopStatus"] == "Failed" else "answer" for name, d in outcomes.items()} == predicted
    assert 0 < list(predicted.values()).count("fail") < 20


def test_plans_are_deterministic_under_a_seed():
    loop = HumanLoop(1, "us-east-1", "loop-a", "", "arn:flow", "{}", None, "InProgress", 1000.0, 1000.0,
                     None, None, None, False, 2000.0)
    policy = WorkforcePolicy(min_delay=1, max_delay=9, failure_rate=0.3, expiry_rate=0.3)
    planner = SimulatedWorkforce.__new__(SimulatedWorkforce)
    planner.seed = 5
    first = [planner.plan(loop, policy, 3) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    seeds = []
    for seed in range(12):
        planner.seed = seed
        seeds.append(planner.plan(loop, policy, 3))
    assert len({plan.due for plan in seeds}) > 1 and len({plan.action for plan in seeds}) > 1


def test_the_workforce_cli(local_service, a2i, s3, flow_definition_arn):
    base = [sys.executable, "-m", "airflow_a2i.cli", "local", "workforce"]
    result = subprocess.run([*base, "set", flow_definition_arn, "--delay", "0", "0.1", "--answer-mode", "fixed",
                             "--answer", '{"via": "cli"}'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    shown = json.loads(subprocess.run([*base, "show"], capture_output=True, text=True, timeout=60).stdout)
    assert shown["policies"][flow_definition_arn]["answer"] == {"mode": "fixed", "answer": {"via": "cli"}}
    done = wait_until_finished(a2i, start(a2i, flow_definition_arn, {"text": "x"}))
    assert output_of(s3, done)["humanAnswers"][0]["answerContent"] == {"via": "cli"}
    result = subprocess.run([*base, "clear", flow_definition_arn], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and flow_definition_arn not in json.loads(result.stdout)["policies"]
    result = subprocess.run([*base, "set", flow_definition_arn, "--answer-mode", "fixed"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "--answer" in result.stderr


def make_flow(endpoint: str, **loop_config) -> str:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    sagemaker = boto3.client("sagemaker", endpoint_url=endpoint)
    s3.create_bucket(Bucket="out")
    ui = sagemaker.create_human_task_ui(HumanTaskUiName="ui", UiTemplate={"Content": "<crowd-form/>"})
    return sagemaker.create_flow_definition(
        FlowDefinitionName="flow", RoleArn=ROLE_ARN, OutputConfig={"S3OutputPath": "s3://out/a2i"},
        HumanLoopConfig={"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui["HumanTaskUiArn"], "TaskTitle": "t",
                         "TaskDescription": "d", "TaskCount": 1, **loop_config},
    )["FlowDefinitionArn"]


def test_auto_mode_answers_flow_definitions_without_a_policy(tmp_path: Path):
    with ServiceProcess(tmp_path / "auto", "--workforce", "auto", "--workforce-delay", "0", "0.1") as service:
        flow = make_flow(service.endpoint)
        a2i = boto3.client("sagemaker-a2i-runtime", endpoint_url=service.endpoint)
        done = wait_until_finished(a2i, start(a2i, flow, {"initialValues": {"ok": "yes"}}))
        assert done["HumanLoopStatus"] == "Completed"


@pytest.mark.timeout(120)
def test_loops_in_flight_finish_after_a_restart(tmp_path: Path):
    service = ServiceProcess(tmp_path / "restart")
    endpoint = service.start()
    try:
        flow = make_flow(endpoint)
        expiring = make_flow_definition_named(endpoint, "expiring", TaskAvailabilityLifetimeInSeconds=3)
        set_policy(endpoint, flow, delaySeconds=[3.0, 3.0], answer={"mode": "fixed", "answer": {"after": "restart"}})
        a2i = boto3.client("sagemaker-a2i-runtime", endpoint_url=endpoint)
        answered = [start(a2i, flow, {"n": index}) for index in range(3)]
        left_to_expire = start(a2i, expiring, {"n": 9})
        statuses = {a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"]
                    for name in [*answered, left_to_expire]}
        assert statuses == {"InProgress"}
    finally:
        service.stop()
    restarted_at = datetime.now(UTC)
    endpoint = service.start()
    try:
        a2i = boto3.client("sagemaker-a2i-runtime", endpoint_url=endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        for name in answered:
            [answer] = output_of(s3, wait_until_finished(a2i, name))["humanAnswers"]
            assert answer["answerContent"] == {"after": "restart"}
            # answered by the restarted service, from the plan the first one stored
            assert datetime.strptime(answer["submissionTime"], "%Y-%m-%dT%H:%M:%S.%f%z") >= restarted_at
        assert wait_until_finished(a2i, left_to_expire)["FailureCode"] == "Expired"
    finally:
        service.stop()


def make_flow_definition_named(endpoint: str, name: str, **loop_config) -> str:
    sagemaker = boto3.client("sagemaker", endpoint_url=endpoint)
    ui_arn = sagemaker.describe_human_task_ui(HumanTaskUiName="ui")["HumanTaskUiArn"]
    return sagemaker.create_flow_definition(
        FlowDefinitionName=name, RoleArn=ROLE_ARN, OutputConfig={"S3OutputPath": "s3://out/a2i"},
        HumanLoopConfig={"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui_arn, "TaskTitle": "t",
                         "TaskDescription": "d", "TaskCount": 1, **loop_config},
    )["FlowDefinitionArn"]
