"""A2I's output.json: its content for a finished loop and its key under the flow definition's S3OutputPath."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from airflow_a2i.local import s3
from airflow_a2i.local.store import Answer, HumanLoop, NamedResource

# workerMetadata.identityData.identityProviderType: A2I writes "Cognito" (a Cognito user pool workforce) or "Oidc"
# (a workforce of your own OIDC identity provider). The local service's workers (the portal's accounts, the
# simulated workforce) sign in at the service itself, which stands in for the Cognito user pool: "Cognito", with
# the portal's URL as issuer and a stable per-worker id as sub.
IDENTITY_PROVIDER_TYPES = ("Cognito", "Oidc")
LOCAL_IDENTITY_PROVIDER_TYPE = "Cognito"
# What the portal wrote before it took AWS's values; answers stored then are written with AWS's value.
FORMER_PORTAL_PROVIDER_TYPE = "AirflowA2ILocalPortal"


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


def local_worker_metadata(issuer: str, subject: str) -> dict:
    """workerMetadata of a worker who signed in at the local service (``issuer``: the portal's URL)."""
    return {"identityData": {"identityProviderType": LOCAL_IDENTITY_PROVIDER_TYPE, "issuer": issuer,
                             "sub": subject}}


def identity_problem(metadata: dict) -> str | None:
    """What is wrong with a workerMetadata given to the service, in words; None when A2I could have written it."""
    identity = metadata.get("identityData")
    if identity is None:
        return None
    if not isinstance(identity, dict):
        return "'workerMetadata.identityData' must be a JSON object such as {\"identityProviderType\": \"Cognito\", " \
            "\"issuer\": \"...\", \"sub\": \"...\"}"
    provider = identity.get("identityProviderType")
    if provider is not None and provider not in (*IDENTITY_PROVIDER_TYPES, FORMER_PORTAL_PROVIDER_TYPE):
        return (f"'workerMetadata.identityData.identityProviderType' must be one of A2I's values "
                f"{', '.join(IDENTITY_PROVIDER_TYPES)} (or left out), not {json.dumps(provider)[:100]}")
    return None


def aws_worker_metadata(metadata: dict | None) -> dict | None:
    """``metadata`` as A2I writes it: the portal's former provider type becomes the local one (Cognito)."""
    identity = None if metadata is None else metadata.get("identityData")
    if metadata is None or not isinstance(identity, dict) \
            or identity.get("identityProviderType") != FORMER_PORTAL_PROVIDER_TYPE:
        return metadata
    return {**metadata, "identityData": {**identity, "identityProviderType": LOCAL_IDENTITY_PROVIDER_TYPE}}


def human_answer(answer: Answer) -> dict:
    entry = {
        "acceptanceTime": a2i_time(answer.acceptance_time),
        "answerContent": answer.answer,
        "submissionTime": a2i_time(answer.submission_time),
        "timeSpentInSeconds": round(answer.time_spent, 3),
        "workerId": answer.worker_id,
    }
    if answer.worker_metadata:  # only private workforces carry it
        entry["workerMetadata"] = aws_worker_metadata(answer.worker_metadata)
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
