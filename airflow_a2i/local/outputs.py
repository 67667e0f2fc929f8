"""A2I's output.json: its content for a finished loop and its key under the flow definition's S3OutputPath."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from airflow_a2i.local import s3
from airflow_a2i.local.store import Answer, HumanLoop, NamedResource


def a2i_time(epoch: float) -> str:
    """A2I's timestamp form in output.json: ``2026-11-25T12:00:00.123Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def output_uri(flow: NamedResource, loop: HumanLoop) -> str:
    """``<S3OutputPath>/<flow-definition-name>/YYYY/MM/DD/hh/mm/ss/<loop-name>/output.json``, creation time in UTC."""
    bucket, prefix = s3.split_s3_uri(flow.body["OutputConfig"]["S3OutputPath"])
    stamp = datetime.fromtimestamp(loop.creation_time, UTC).strftime("%Y/%m/%d/%H/%M/%S")
    key = "/".join(part for part in (prefix, flow.name, stamp, loop.name, "output.json") if part)
    return f"s3://{bucket}/{key}"


def human_answer(answer: Answer) -> dict:
    entry = {
        "acceptanceTime": a2i_time(answer.acceptance_time),
        "answerContent": answer.answer,
        "submissionTime": a2i_time(answer.submission_time),
        "timeSpentInSeconds": round(answer.time_spent, 3),
        "workerId": answer.worker_id,
    }
    if answer.worker_metadata:  # only private workforces carry it
        entry["workerMetadata"] = answer.worker_metadata
    return entry


def output_document(flow: NamedResource, loop: HumanLoop, answers: list[Answer]) -> dict:
    document: dict = {
        "flowDefinitionArn": loop.flow_definition_arn,
        "humanAnswers": [human_answer(answer) for answer in answers],
        "humanLoopName": loop.name,
        "inputContent": json.loads(loop.input_content),
    }
    source = flow.body.get("HumanLoopRequestSource")
    if source:
        document["awsManagedHumanLoopRequestSource"] = source["AwsManagedHumanLoopRequestSource"]
    return document


def write_output(uri: str, document: dict) -> None:
    """Write output.json; raises LookupError naming the bucket when it does not exist."""
    bucket, key = s3.split_s3_uri(uri)
    if not s3.bucket_exists(bucket):
        raise LookupError(f"the output bucket '{bucket}' of the flow definition does not exist")
    s3.put_object(bucket, key, json.dumps(document, indent=2).encode())
