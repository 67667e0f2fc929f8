"""What A2I would fail on later, checked before any analysis request: Regions, CORS, the public workforce."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import error_code
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.validation import flow_definition_name, flow_definition_region

CORS_RULE = {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}
PUBLIC_WORKFORCE = ":394669845002:workteam/public-crowd/"
PII_FREE = "FreeOfPersonallyIdentifiableInformation"


def check_region(s3_client: Any, bucket: str, flow_definition_arn: str, what: str = "document") -> None:
    location = s3_client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    bucket_region = location or "us-east-1"
    flow_region = flow_definition_region(flow_definition_arn)
    if bucket_region != flow_region:
        raise A2IValidationError(
            f"Bucket {bucket!r} is in {bucket_region} but flow definition {flow_definition_arn} is in {flow_region}: "
            f"A2I needs the {what} and the flow definition in the same Region. Use a flow definition in "
            f"{bucket_region}, or copy the {what}s to a bucket in {flow_region}"
        )


def check_cors(s3_client: Any, bucket: str, what: str = "document") -> None:
    try:
        rules = s3_client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except ClientError as error:
        if error_code(error) != "NoSuchCORSConfiguration":
            raise
        rules = []
    if not any("GET" in rule.get("AllowedMethods", []) and "*" in rule.get("AllowedOrigins", []) for rule in rules):
        raise A2IValidationError(
            f"Bucket {bucket!r} has no CORS rule letting A2I's worker UI fetch the {what}, so the task would fail "
            f"for reviewers. Add this rule (put-bucket-cors): {json.dumps([CORS_RULE])}, or pass check_cors=False"
        )


def check_flow_definition(sagemaker_client: Any, flow_definition_arn: str, classifiers: list[str],
                          request_source: str) -> None:
    """The flow definition is of this built-in type, and the public workforce gets what it needs."""
    described = sagemaker_client.describe_flow_definition(FlowDefinitionName=flow_definition_name(flow_definition_arn))
    workteam = described.get("HumanLoopConfig", {}).get("WorkteamArn", "")
    if PUBLIC_WORKFORCE in workteam and PII_FREE not in classifiers:
        raise A2IValidationError(
            f"Flow definition {flow_definition_arn} sends tasks to the public workforce (Mechanical Turk), which "
            f"receives nothing without the content classifier {PII_FREE!r}. Declare it with "
            f"content_classifiers=[{PII_FREE!r}] if the data is free of personal information, or use a private "
            "work team"
        )
    source = (described.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
    if source != request_source:
        raise A2IValidationError(f"Flow definition {flow_definition_arn} is not for {request_source} (it is "
                                 f"{source or 'a custom task type'}); create one with human_loop_request_source="
                                 f"{request_source!r}")
