"""Status-change events reach an SQS queue through an EventBridge rule, as A2I's do."""

from __future__ import annotations

import json
import time
from datetime import UTC

import boto3

from airflow_a2i.local.admin_client import AdminClient
from tests.conftest import unique

DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change"


def routed_queue(pattern: dict) -> str:
    """An SQS queue that a rule on the default bus fills with the events matching ``pattern``."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName=unique("a2i-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("a2i-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def drain(queue_url: str, names: set[str], expected: int, timeout: float = 10.0) -> list[dict]:
    """The events about ``names`` in the queue, waiting until ``expected`` of them have arrived."""
    sqs, found = boto3.client("sqs"), []
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", []):
            event = json.loads(message["Body"])
            if event["detail"]["humanLoopName"] in names:
                found.append(event)
        time.sleep(0.05)
    return found


def start(a2i, flow: str) -> str:
    name = unique("loop")
    a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow,
                         HumanLoopInput={"InputContent": json.dumps({"text": "x"})})
    return name


def test_events_of_every_final_status_with_a2is_detail(a2i, make_flow_definition, local_service):
    queue = routed_queue({"source": ["aws.sagemaker"], "detail-type": [DETAIL_TYPE]})
    flow = make_flow_definition()
    expiring = make_flow_definition(TaskAvailabilityLifetimeInSeconds=1)
    loops = {"Completed": start(a2i, flow), "Stopped": start(a2i, flow), "Failed": start(a2i, expiring),
             "InProgress": start(a2i, flow)}
    AdminClient(local_service).answer(loops["Completed"], {"answer": "yes"})
    a2i.stop_human_loop(HumanLoopName=loops["Stopped"])

    events = drain(queue, set(loops.values()), expected=3)
    by_status = {event["detail"]["humanLoopStatus"]: event for event in events}
    assert sorted(by_status) == ["Completed", "Failed", "Stopped"]  # no event for InProgress or Stopping
    assert len(events) == 3
    completed = by_status["Completed"]
    described = a2i.describe_human_loop(HumanLoopName=loops["Completed"])
    created = described["CreationTime"].astimezone(UTC)
    assert completed["source"] == "aws.sagemaker"
    assert completed["detail-type"] == DETAIL_TYPE
    assert completed["resources"] == [described["HumanLoopArn"]]
    assert completed["detail"] == {
        "creationTime": f"{created:%Y-%m-%dT%H:%M:%S}.{created.microsecond // 1000:03d}Z",
        "failureCode": None,
        "failureReason": None,
        "flowDefinitionArn": flow,
        "humanLoopArn": described["HumanLoopArn"],
        "humanLoopName": loops["Completed"],
        "humanLoopOutput": {"outputS3Uri": described["HumanLoopOutput"]["OutputS3Uri"]},
        "humanLoopStatus": "Completed",
    }
    failed = by_status["Failed"]["detail"]
    assert (failed["failureCode"], failed["humanLoopOutput"]) == ("Expired", None)
    assert "TaskAvailabilityLifetimeInSeconds" in failed["failureReason"]


def test_a_rule_filters_on_the_status(a2i, make_flow_definition, local_service):
    queue = routed_queue({"source": ["aws.sagemaker"], "detail-type": [DETAIL_TYPE],
                          "detail": {"humanLoopStatus": ["Failed", "Stopped"]}})
    flow = make_flow_definition()
    completed, stopped, witness = start(a2i, flow), start(a2i, flow), start(a2i, flow)
    AdminClient(local_service).answer(completed, {"answer": "yes"})
    a2i.stop_human_loop(HumanLoopName=stopped)
    a2i.stop_human_loop(HumanLoopName=witness)
    # Events are put as the status changes: once the last one (the witness's) is in, a wrongly routed Completed
    # event would be in too, and counted among the first two, however slow the machine.
    events = drain(queue, {completed, stopped, witness}, expected=2)
    assert sorted((event["detail"]["humanLoopName"], event["detail"]["humanLoopStatus"]) for event in events) == \
        sorted([(stopped, "Stopped"), (witness, "Stopped")])


def test_another_source_or_detail_type_does_not_match(a2i, make_flow_definition, local_service):
    queue = routed_queue({"source": ["aws.textract"]})
    name = start(a2i, make_flow_definition())
    AdminClient(local_service).answer(name, {"answer": "yes"})
    assert drain(queue, {name}, expected=1, timeout=1.0) == []
