"""The hooks' adoption and reuse rules, the trigger on its own, and inputs read from S3."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IFlowDefinitionHook, A2IHook
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.triggers.human_loop import A2IHumanLoopTrigger
from airflow_a2i.waiting.policies import WaitPolicy
from tests.conftest import ROLE_ARN, unique, workteam_arn


def collect(trigger: A2IHumanLoopTrigger) -> list[dict]:
    async def run() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(run())


def test_start_adopts_its_own_loop_and_refuses_another_flow_definitions(local_service, make_flow_definition):
    hook = A2IHook(aws_conn_id=None)
    flow, other = make_flow_definition(), make_flow_definition()
    name = unique("loop")
    first = hook.start_human_loop(name, flow, json.dumps({"a": 1}))
    again = hook.start_human_loop(name, flow, json.dumps({"a": 1}))
    assert (first["Adopted"], again["Adopted"]) == (False, True)
    assert first["HumanLoopArn"] == again["HumanLoopArn"]
    with pytest.raises(A2IValidationError, match=f"already exists in flow definition {flow}"):
        hook.start_human_loop(name, other, json.dumps({"a": 1}))


def test_list_human_loops_pages_through_a_time_window(local_service, flow_definition_arn):
    hook = A2IHook(aws_conn_id=None)
    names = [hook.start_human_loop(unique("l"), flow_definition_arn, "{}")["HumanLoopName"] for _ in range(5)]
    listed = [loop["HumanLoopName"] for loop in hook.list_human_loops(flow_definition_arn, page_size=2)]
    assert listed == names
    described = hook.describe_human_loop(names[2])
    after = [loop["HumanLoopName"] for loop in hook.list_human_loops(
        flow_definition_arn, created_after=described["CreationTime"], page_size=2)]
    assert after == names[3:] or after == names[2:]  # loops created in the same millisecond share a time


def test_task_ui_and_flow_definition_are_reused_only_when_identical(local_service, output_bucket):
    hook = A2IFlowDefinitionHook(aws_conn_id=None)
    ui_name, flow_name = unique("ui"), unique("flow")
    ui_arn = hook.create_or_reuse_human_task_ui(ui_name, "<crowd-form></crowd-form>")
    assert hook.create_or_reuse_human_task_ui(ui_name, "<crowd-form></crowd-form>") == ui_arn
    with pytest.raises(A2IValidationError, match="already exists with another template"):
        hook.create_or_reuse_human_task_ui(ui_name, "<crowd-form>changed</crowd-form>")
    request = {"RoleArn": ROLE_ARN, "OutputConfig": {"S3OutputPath": f"s3://{output_bucket}/x"},
               "HumanLoopConfig": {"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui_arn, "TaskTitle": "t",
                                   "TaskDescription": "d", "TaskCount": 1}}
    arn = hook.create_or_reuse_flow_definition(flow_name, request)
    assert hook.create_or_reuse_flow_definition(flow_name, request) == arn
    changed = {**request, "HumanLoopConfig": {**request["HumanLoopConfig"], "TaskCount": 2}}
    with pytest.raises(A2IValidationError, match=r"differs in \['HumanLoopConfig.TaskCount'\]"):
        hook.create_or_reuse_flow_definition(flow_name, changed)


def test_an_existing_flow_definition_is_used_only_once_checked(local_service, make_flow_definition):
    hook = A2IFlowDefinitionHook(aws_conn_id=None)
    custom = make_flow_definition()
    assert hook.existing_flow_definition(custom, None) == custom
    textract = "AWS/Textract/AnalyzeDocument/Forms/V1"
    with pytest.raises(A2IValidationError, match=f"reviews a custom task type, not {textract}"):
        hook.existing_flow_definition(custom, textract)
    missing = custom.rsplit("/", 1)[0] + "/" + unique("missing")
    with pytest.raises(A2IValidationError, match=r"does not exist .*: give an existing one, or none to create it"):
        hook.existing_flow_definition(missing, None)
    elsewhere = custom.replace(":us-east-1:", ":eu-west-1:")  # the connection is in us-east-1
    with pytest.raises(A2IValidationError, match=f"The connection reaches {custom}, not {elsewhere}"):
        hook.existing_flow_definition(elsewhere, None)


def test_the_flow_definition_operator_creates_its_task_ui_or_uses_a_given_flow_definition(
        airflow_dags, local_service, output_bucket, flow_definition_arn):
    from airflow.providers.common.compat.sdk import DAG

    from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator

    name, given = unique("with-ui"), "{{ params.given }}"
    with DAG(unique("flow_definition_choice").replace("-", "_"), schedule=None, params={"given": ""}) as dag:
        A2ICreateFlowDefinitionOperator(
            task_id="flow", flow_definition_name=name, role_arn=ROLE_ARN, workteam_arn=workteam_arn(),
            output_s3_path=f"s3://{output_bucket}/a2i-output", task_title="Check", task_description="Check it",
            ui_template="<crowd-form><crowd-input name='answer'></crowd-input></crowd-form>",
            existing_flow_definition_arn=given)
    created = airflow_dags.xcom(airflow_dags.run(dag), "flow")
    described = boto3.client("sagemaker").describe_flow_definition(FlowDefinitionName=name)
    assert (created, described["HumanLoopConfig"]["HumanTaskUiArn"].rsplit("/", 1)[1]) == (described[
        "FlowDefinitionArn"], name)  # the task UI is named after the flow definition
    used = airflow_dags.run(dag, run_conf={"given": flow_definition_arn})
    assert airflow_dags.xcom(used, "flow") == flow_definition_arn


def test_the_trigger_serializes_to_what_rebuilds_it():
    policy = WaitPolicy(on_loop_failure="skip", on_review_timeout="stop_and_continue", review_timeout=60,
                        poll_interval=5, stop_on_kill=True)
    trigger = A2IHumanLoopTrigger(human_loop_names=["a", "b"], policy=policy, aws_conn_id="aws_a2i",
                                  region_name="eu-west-1", botocore_config={"a": 1})
    path, kwargs = trigger.serialize()
    assert path == "airflow_a2i.triggers.human_loop.A2IHumanLoopTrigger"
    assert A2IHumanLoopTrigger(**kwargs).serialize() == (path, kwargs)
    assert A2IHumanLoopTrigger(**kwargs).policy == policy
    assert set(kwargs) == {"human_loop_names", "policy", "aws_conn_id", "region_name", "verify", "botocore_config"}
    json.dumps(kwargs)  # what the triggerer stores must be JSON


def test_the_trigger_backs_off_when_throttled_and_still_ends(local_service, flow_definition_arn):
    name = A2IHook(aws_conn_id=None).start_human_loop(unique("l"), flow_definition_arn, "{}")["HumanLoopName"]
    AdminClient(local_service).answer(name, {"ok": True})
    admin = AdminClient(local_service)
    # More throttles than botocore's own retries, so the trigger's backoff has to carry the wait.
    admin.add_fault("DescribeHumanLoop", "ThrottlingException", count=2)
    try:
        trigger = A2IHumanLoopTrigger(human_loop_names=[name], policy=WaitPolicy(poll_interval=0.1),
                                      aws_conn_id=None,
                                      botocore_config={"retries": {"total_max_attempts": 1}})
        [event] = collect(trigger)
    finally:
        admin.clear_faults()
    assert event["status"] == "success" and event["counts"] == {"Completed": 1}


def test_the_trigger_reports_other_errors_as_one_error_event(local_service):
    trigger = A2IHumanLoopTrigger(human_loop_names=["x"], aws_conn_id=None, botocore_config={
        "retries": {"total_max_attempts": 1}})
    admin = AdminClient(local_service)
    admin.add_fault("DescribeHumanLoop", "ValidationException", count=1)
    try:
        [event] = collect(trigger)
    finally:
        admin.clear_faults()
    assert event["status"] == "error" and "ValidationException" in event["message"]


@pytest.mark.parametrize("stop_on_kill", [True, False])
def test_on_kill_stops_open_loops_only_when_asked(local_service, flow_definition_arn, stop_on_kill):
    name = A2IHook(aws_conn_id=None).start_human_loop(unique("l"), flow_definition_arn, "{}")["HumanLoopName"]
    trigger = A2IHumanLoopTrigger(human_loop_names=[name], policy=WaitPolicy(stop_on_kill=stop_on_kill),
                                  aws_conn_id=None)
    asyncio.run(trigger.cleanup())  # runs on every triggerer restart: must never stop anything
    assert boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == \
        "InProgress"
    asyncio.run(trigger.on_kill())
    status = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)["HumanLoopStatus"]
    assert status == ("Stopping" if stop_on_kill else "InProgress")


def test_input_from_s3_stays_out_of_rendered_fields(airflow_dags, local_service, s3, output_bucket,
                                                     flow_definition_arn):
    from airflow.sdk import DAG

    from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator

    key = f"inputs/{unique('doc')}.json"
    s3.put_object(Bucket=output_bucket, Key=key, Body=json.dumps({"ssn": "123-45-6789"}).encode())
    with DAG(unique("s3_input").replace("-", "_"), schedule=None) as dag:
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn=flow_definition_arn,
                                  human_loop_input=f"s3://{output_bucket}/{key}", wait_for_completion=False)
    run = airflow_dags.run(dag)
    name = airflow_dags.xcom(run, "review")["HumanLoopName"]
    AdminClient(local_service).answer(name, {"ok": True})
    output_uri = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)[
        "HumanLoopOutput"]["OutputS3Uri"]
    bucket, output_key = output_uri.removeprefix("s3://").split("/", 1)
    output = json.loads(s3.get_object(Bucket=bucket, Key=output_key)["Body"].read())
    assert output["inputContent"] == {"ssn": "123-45-6789"}


def test_the_sensor_writes_the_names_of_more_than_100_loops_to_s3(airflow_dags, local_service, s3, output_bucket,
                                                                  flow_definition_arn):
    from airflow.sdk import DAG

    from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor

    hook = A2IHook(aws_conn_id=None)
    names = [hook.start_human_loop(unique("l"), flow_definition_arn, "{}")["HumanLoopName"] for _ in range(101)]
    admin = AdminClient(local_service)
    for name in names:
        admin.answer(name, {"ok": True})
    report_uri = f"s3://{output_bucket}/reports/{unique('r')}.json"
    with DAG(unique("big_sensor").replace("-", "_"), schedule=None) as dag:
        A2IHumanLoopSensor(task_id="wait", human_loop_names=names, report_s3_uri=report_uri, poke_interval=0.1)
    run = airflow_dags.run(dag)
    result = airflow_dags.xcom(run, "wait")
    assert result == {"counts": {"Completed": 101}, "timed_out_count": 0, "report_s3_uri": report_uri}
    bucket, key = report_uri.removeprefix("s3://").split("/", 1)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert report["names_by_status"] == {"Completed": sorted(names)}


NO_BOTOCORE_RETRIES = {"retries": {"total_max_attempts": 1}}  # the wait's own backoff must carry a throttle


def test_a_poking_sensor_looks_again_when_throttled_as_the_trigger_does(airflow_dags, local_service,
                                                                         flow_definition_arn):
    from airflow.sdk import DAG

    from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor

    name = A2IHook(aws_conn_id=None).start_human_loop(unique("l"), flow_definition_arn, "{}")["HumanLoopName"]
    admin = AdminClient(local_service)
    admin.answer(name, {"ok": True})
    with DAG(unique("throttled_sensor").replace("-", "_"), schedule=None) as dag:
        A2IHumanLoopSensor(task_id="wait", human_loop_names=name, poke_interval=0.1, deferrable=False,
                           botocore_config=NO_BOTOCORE_RETRIES)
    admin.add_fault("DescribeHumanLoop", "ThrottlingException", count=2)
    try:
        run = airflow_dags.run(dag)
    finally:
        admin.clear_faults()
    assert airflow_dags.xcom(run, "wait")["counts"] == {"Completed": 1}


def test_a_blocking_wait_backs_off_when_throttled_and_still_ends(airflow_dags, local_service, flow_definition_arn):
    from airflow.sdk import DAG

    from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator

    admin = AdminClient(local_service)
    runtime = boto3.client("sagemaker-a2i-runtime")
    # The simulated workforce answers the loop the operator starts 3 s after it starts; the throttles are added
    # once the loop exists, so that they meet the wait's looks, not the start's.
    admin.request("PUT", "workforce/policies", {"flowDefinitionArn": flow_definition_arn, "policy": {
        "delaySeconds": [3.0, 3.0], "answer": {"mode": "fixed", "answer": {"ok": True}}}})

    def throttle_once_started() -> None:
        deadline = time.monotonic() + 60
        while not runtime.list_human_loops(FlowDefinitionArn=flow_definition_arn)["HumanLoopSummaries"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        admin.add_fault("DescribeHumanLoop", "ThrottlingException", count=2)

    with DAG(unique("throttled_wait").replace("-", "_"), schedule=None) as dag:
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn=flow_definition_arn, human_loop_input={},
                                  wait_for_completion=True, deferrable=False, poll_interval=0.1,
                                  botocore_config=NO_BOTOCORE_RETRIES)
    with ThreadPoolExecutor(1) as pool:
        throttled = pool.submit(throttle_once_started)
        try:
            run = airflow_dags.run(dag)
            throttled.result()
            served = not [rule for rule in admin.faults()["rules"] if rule["operation"] == "DescribeHumanLoop"]
        finally:
            admin.clear_faults()
    assert served, "the throttles were added after the wait ended: the machine is too slow for this test's 3 s"
    assert airflow_dags.xcom(run, "review")["HumanLoopStatus"] == "Completed"
