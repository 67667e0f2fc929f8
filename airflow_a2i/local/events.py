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
PUT_EVENTS_MAX_ENTRIES = 10  # EventBridge's (and moto's) limit per PutEvents
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


def publish_status_changes(loops: list[HumanLoop]) -> None:
    """Put the loops' events on their Regions' default buses, ten to a PutEvents as EventBridge takes them; moto's
    rules deliver them to their targets."""
    by_region: dict[str, list[HumanLoop]] = {}
    for loop in loops:
        if loop.status in EVENT_STATUSES:
            by_region.setdefault(loop.region, []).append(loop)
    for region, finished in by_region.items():
        backend = events_backends[ACCOUNT_ID][region]
        for start in range(0, len(finished), PUT_EVENTS_MAX_ENTRIES):
            chunk = finished[start:start + PUT_EVENTS_MAX_ENTRIES]
            results = backend.put_events([status_change_event(loop) for loop in chunk])
            failed = [(loop.name, entry) for loop, entry in zip(chunk, results, strict=False) if "ErrorCode" in entry]
            if failed:
                log.warning("status-change events not accepted: %s", failed)
