"""A2I's status-change events on the default EventBridge bus, so rules can route them (to SQS, say)."""

from __future__ import annotations

import json
import logging

from moto.events.models import events_backends

from airflow_a2i.local.outputs import a2i_time
from airflow_a2i.local.s3 import ACCOUNT_ID
from airflow_a2i.local.store import HumanLoop

log = logging.getLogger(__name__)

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change"
EVENT_STATUSES = frozenset({"Completed", "Failed", "Stopped"})  # A2I sends no event for the others


def status_change_event(loop: HumanLoop) -> dict:
    """The PutEvents entry for a loop's final status, with A2I's detail fields."""
    detail = {
        "creationTime": a2i_time(loop.creation_time),
        "failureCode": loop.failure_code,
        "failureReason": loop.failure_reason,
        "flowDefinitionArn": loop.flow_definition_arn,
        "humanLoopArn": loop.arn,
        "humanLoopName": loop.name,
        "humanLoopOutput": {"outputS3Uri": loop.output_s3_uri} if loop.output_s3_uri else None,
        "humanLoopStatus": loop.status,
    }
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail), "Resources": [loop.arn],
            "EventBusName": "default"}


def publish_status_change(loop: HumanLoop) -> None:
    """Put the event on the loop Region's default bus; moto's rules deliver it to their targets."""
    if loop.status not in EVENT_STATUSES:
        return
    results = events_backends[ACCOUNT_ID][loop.region].put_events([status_change_event(loop)])
    failed = [entry for entry in results if "ErrorCode" in entry]
    if failed:
        log.warning("status-change event for %s was not accepted: %s", loop.name, failed)
