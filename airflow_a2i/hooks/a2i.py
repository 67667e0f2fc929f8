"""Hooks for the A2I runtime (``sagemaker-a2i-runtime``) and SageMaker's A2I parts (flow definitions, task UIs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import error_code
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.validation import flow_definition_name


class A2IHook(AwsBaseHook):
    """
    Interact with the Amazon A2I runtime: start, describe, list, stop and delete human loops.

    Thin wrapper around :external+boto3:py:class:`boto3.client("sagemaker-a2i-runtime")
    <AugmentedAIRuntime.Client>`; ``get_async_conn()`` gives the aiobotocore client for triggers.
    Additional arguments (such as ``aws_conn_id``) are passed to
    :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker-a2i-runtime"
        super().__init__(*args, **kwargs)

    def describe_human_loop(self, name: str) -> dict | None:
        """The loop's description, or None when no loop of that name exists (or it was deleted)."""
        try:
            return self.conn.describe_human_loop(HumanLoopName=name)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    def start_human_loop(self, name: str, flow_definition_arn: str, input_content: str,
                         content_classifiers: list[str] | None = None) -> dict:
        """
        Start a loop, or adopt the loop that already has this name in this flow definition.

        A retried task, or a client retry after a lost response, meets its own loop: looking the name up
        first turns that into an adoption instead of a ConflictException or a second loop.

        :return: ``{"HumanLoopName", "HumanLoopArn", "HumanLoopStatus", "Adopted", "PortalUrl"}``; PortalUrl is
            the local service's worker portal, None with real A2I
        """
        existing = self.describe_human_loop(name)
        if existing is not None:
            return self._adopt(existing, flow_definition_arn)
        params: dict[str, Any] = {"HumanLoopName": name, "FlowDefinitionArn": flow_definition_arn,
                                  "HumanLoopInput": {"InputContent": input_content}}
        if content_classifiers:
            params["DataAttributes"] = {"ContentClassifiers": content_classifiers}
        try:
            response = self.conn.start_human_loop(**params)
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            # Started meanwhile (a lost response retried by botocore, or a concurrent attempt).
            existing = self.describe_human_loop(name)
            if existing is None:
                raise
            return self._adopt(existing, flow_definition_arn)
        self.log.info("Started human loop %s", name)
        return {"HumanLoopName": name, "HumanLoopArn": response["HumanLoopArn"], "HumanLoopStatus": "InProgress",
                "Adopted": False, "PortalUrl": portal_url_of(response)}

    def _adopt(self, existing: dict, flow_definition_arn: str) -> dict:
        name = existing["HumanLoopName"]
        if existing["FlowDefinitionArn"] != flow_definition_arn:
            raise A2IValidationError(
                f"A human loop named {name!r} already exists in flow definition {existing['FlowDefinitionArn']}, "
                f"not in {flow_definition_arn}; loop names are unique per account and Region: choose another "
                "human_loop_name, or delete the other loop once it has finished"
            )
        self.log.info("Human loop %s already exists (%s): adopting it instead of starting another",
                      name, existing["HumanLoopStatus"])
        return {"HumanLoopName": name, "HumanLoopArn": existing["HumanLoopArn"],
                "HumanLoopStatus": existing["HumanLoopStatus"], "Adopted": True, "PortalUrl": portal_url_of(existing)}

    def list_human_loops(self, flow_definition_arn: str, *, created_after: datetime | None = None,
                         created_before: datetime | None = None, sort_order: str = "Ascending",
                         page_size: int = 100) -> Iterator[dict]:
        """Every loop summary of a flow definition in a creation-time window, page by page (100 a call)."""
        params: dict[str, Any] = {"FlowDefinitionArn": flow_definition_arn, "SortOrder": sort_order,
                                  "PaginationConfig": {"PageSize": page_size}}
        if created_after is not None:
            params["CreationTimeAfter"] = created_after
        if created_before is not None:
            params["CreationTimeBefore"] = created_before
        for page in self.conn.get_paginator("list_human_loops").paginate(**params):
            yield from page["HumanLoopSummaries"]

    def stop_human_loop(self, name: str) -> bool:
        """Stop an InProgress loop; False when there was nothing to stop (missing, or already finished)."""
        try:
            self.conn.stop_human_loop(HumanLoopName=name)
        except ClientError as error:
            if error_code(error) in ("ResourceNotFoundException", "ValidationException") and \
                    self._not_stoppable(name):
                return False
            raise
        self.log.info("Stopping human loop %s", name)
        return True

    def _not_stoppable(self, name: str) -> bool:
        described = self.describe_human_loop(name)
        return described is None or described["HumanLoopStatus"] != "InProgress"

    def delete_human_loop(self, name: str) -> bool:
        """Delete a finished loop; False when it did not exist. Deleting an unfinished loop raises."""
        try:
            self.conn.delete_human_loop(HumanLoopName=name)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        self.log.info("Deleted human loop %s", name)
        return True


class A2IFlowDefinitionHook(AwsBaseHook):
    """
    Create or reuse SageMaker human task UIs and flow definitions (human review workflows).

    Thin wrapper around :external+boto3:py:class:`boto3.client("sagemaker") <SageMaker.Client>`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    def create_or_reuse_human_task_ui(self, name: str, template: str) -> str:
        """The ARN of the task UI ``name`` with this template: created, or the identical existing one."""
        try:
            described = self.conn.describe_human_task_ui(HumanTaskUiName=name)
        except ClientError as error:
            if error_code(error) != "ResourceNotFound":
                raise
        else:
            wanted = hashlib.sha256(template.encode()).hexdigest()
            if described["UiTemplate"].get("ContentSha256") != wanted:
                raise A2IValidationError(
                    f"A human task UI named {name!r} already exists with another template. Task UIs cannot be "
                    "changed: give the new template another name, or delete the old task UI first"
                )
            self.log.info("Reusing the identical human task UI %s", name)
            return described["HumanTaskUiArn"]
        arn = self.conn.create_human_task_ui(HumanTaskUiName=name, UiTemplate={"Content": template})["HumanTaskUiArn"]
        self.log.info("Created human task UI %s", arn)
        return arn

    def create_or_reuse_flow_definition(self, name: str, request: dict) -> str:
        """The ARN of flow definition ``name``: created from ``request``, or the existing one when it matches."""
        try:
            described = self.conn.describe_flow_definition(FlowDefinitionName=name)
        except ClientError as error:
            if error_code(error) != "ResourceNotFound":
                raise
        else:
            differences = sorted(differing_fields(request, described))
            if differences:
                raise A2IValidationError(
                    f"A flow definition named {name!r} already exists and differs in {differences}. Flow "
                    "definitions cannot be changed: choose another name, or delete the old one first"
                )
            self.log.info("Reusing the identical flow definition %s", name)
            return described["FlowDefinitionArn"]
        arn = self.conn.create_flow_definition(FlowDefinitionName=name, **request)["FlowDefinitionArn"]
        self.log.info("Created flow definition %s", arn)
        return arn

    def existing_flow_definition(self, arn: str, request_source: str | None) -> str:
        """``arn``, once checked: it exists where the connection points, is Active, and reviews the task type of
        ``request_source`` (None: a custom task type)."""
        try:
            described = self.conn.describe_flow_definition(FlowDefinitionName=flow_definition_name(arn))
        except ClientError as error:
            if error_code(error) != "ResourceNotFound":
                raise
            raise A2IValidationError(f"The flow definition {arn} does not exist (or not in the connection's Region "
                                     "and account): give an existing one, or none to create it") from None
        if described["FlowDefinitionArn"] != arn:
            raise A2IValidationError(f"The connection reaches {described['FlowDefinitionArn']}, not {arn}: use the "
                                     "connection of that Region and account, or that flow definition's ARN")
        if described.get("FlowDefinitionStatus") != "Active":
            raise A2IValidationError(f"The flow definition {arn} is {described.get('FlowDefinitionStatus')}, "
                                     "not Active: loops cannot start in it")
        reviews = (described.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
        if reviews != request_source:
            raise A2IValidationError(f"The flow definition {arn} reviews {reviews or 'a custom task type'}, not "
                                     f"{request_source or 'a custom task type'}: give one of that task type")
        self.log.info("Using the existing flow definition %s", arn)
        return arn

    def output_path(self, arn: str) -> str:
        """The flow definition's ``OutputConfig.S3OutputPath``: where A2I writes its loops' outputs."""
        described = self.conn.describe_flow_definition(FlowDefinitionName=flow_definition_name(arn))
        return described["OutputConfig"]["S3OutputPath"]


def differing_fields(wanted: dict, actual: dict, prefix: str = "") -> Iterator[str]:
    """Dotted paths of what ``wanted`` asks for that ``actual`` does not have (extra defaults are fine)."""
    for key, value in wanted.items():
        path = f"{prefix}{key}"
        if key == "Tags":
            continue  # not part of the description
        if isinstance(value, dict) and isinstance(actual.get(key), dict):
            yield from differing_fields(value, actual[key], f"{path}.")
        elif actual.get(key) != value:
            yield path


PORTAL_HEADER = "x-airflow-a2i-portal"  # sent by the local service (airflow-a2i local serve) only


def portal_url_of(response: dict) -> str | None:
    """The worker portal's URL when ``response`` came from the local service, else None (real A2I)."""
    headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    url = headers.get(PORTAL_HEADER)
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
