"""SageMaker's A2I parts: flow definitions and human task UIs, validated as the SageMaker API does."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import botocore.session

from airflow_a2i.activation import parse_conditions
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.local import s3, strict_json
from airflow_a2i.local.errors import ServiceError, validation_error
from airflow_a2i.local.runtime import parse_timestamp
from airflow_a2i.local.s3 import ACCOUNT_ID
from airflow_a2i.local.store import NamedResource, Store
from airflow_a2i.model_validation import modeled_members, summarize, validate_input

OPERATIONS = frozenset({
    "CreateFlowDefinition", "DescribeFlowDefinition", "ListFlowDefinitions", "DeleteFlowDefinition",
    "CreateHumanTaskUi", "DescribeHumanTaskUi", "ListHumanTaskUis", "DeleteHumanTaskUi", "RenderUiTemplate",
})
NEEDS_BASE_URL = frozenset({"DescribeHumanTaskUi", "RenderUiTemplate"})
MAX_TASK_AVAILABILITY_SECONDS = 864_000  # A2I's limit: 10 days

_MODEL = botocore.session.get_session().get_service_model("sagemaker")
# What DescribeFlowDefinition shows of the stored create request; the service's own fields come after.
DESCRIBED_REQUEST_MEMBERS = ("HumanLoopRequestSource", "HumanLoopActivationConfig", "HumanLoopConfig",
                             "OutputConfig", "RoleArn")


def _not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message, 400)


def _in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUse", message, 400)


def arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{kind}/{name}"


def api_object_url(base_url: str) -> Callable[[str], str]:
    """``grant_read_access`` for RenderUiTemplate: the object's URL on the S3 API its caller already signs requests
    for (this service's; the external store's in self-hosted mode), unsigned. Only the portal makes links that work
    without the caller's credentials, and only for a signed-in worker, so RenderUiTemplate reads nothing for anyone."""
    def grant(uri: str) -> str:
        from airflow_a2i.local.portal.rendering import parse_s3_location

        location = parse_s3_location(uri)
        if location is None or not all(location):
            return uri  # not an S3 object: A2I leaves such a value as it is
        bucket, key = location
        root = s3.endpoint() if s3.is_external() else base_url
        return f"{str(root).rstrip('/')}/{quote(bucket)}/{quote(key)}"
    return grant


class SageMakerA2I:
    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, operation: str, region: str, params: dict, *, base_url: str) -> dict:
        problems = validate_input(_MODEL.operation_model(operation), params)
        if problems:
            raise validation_error(summarize(problems))
        handler: Callable[..., dict] = getattr(self, _snake(operation))
        if operation in NEEDS_BASE_URL:
            return handler(region, params, base_url=base_url)
        return handler(region, params)

    # Human task UIs ---------------------------------------------------------------------------

    def create_human_task_ui(self, region: str, params: dict) -> dict:
        name = params["HumanTaskUiName"]
        if self.store.get_task_ui(region, name) is not None:
            raise _in_use(f"Human task UI '{name}' already exists in {region}; choose another name or reuse it")
        ui = NamedResource(region, name, arn(region, "human-task-ui", name), params["UiTemplate"]["Content"],
                           round(time.time(), 3))
        self.store.put_task_ui(ui)
        return {"HumanTaskUiArn": ui.arn}

    def render_ui_template(self, region: str, params: dict, *, base_url: str) -> dict:
        """A template (given, or a task UI's) rendered with a task's input; template errors come back in Errors."""
        from airflow_a2i.local.portal.rendering import TemplateRenderError, render_template

        given, ui_arn = params.get("UiTemplate"), params.get("HumanTaskUiArn")
        if (given is None) == (ui_arn is None):
            raise validation_error("Give exactly one of UiTemplate (the template's Content) and HumanTaskUiArn")
        template = given["Content"] if given is not None else self._task_ui(region, str(ui_arn).rsplit("/", 1)[-1]).body
        try:
            task_input = strict_json.loads(params["Task"]["Input"])
        except ValueError as error:
            raise validation_error(f"Task.Input {error}; it must be a JSON object serialised as a string") from None
        if not isinstance(task_input, dict):
            raise validation_error("Task.Input must be a JSON object (the template reads it as task.input)")
        try:
            return {"RenderedContent": render_template(template, task_input,
                                                       grant_read_access=api_object_url(base_url)),
                    "Errors": []}
        except TemplateRenderError as error:
            return {"RenderedContent": "", "Errors": [{"Code": "TemplateRenderingError", "Message": str(error)}]}

    def describe_human_task_ui(self, region: str, params: dict, *, base_url: str) -> dict:
        ui = self._task_ui(region, params["HumanTaskUiName"])
        return {
            "HumanTaskUiArn": ui.arn,
            "HumanTaskUiName": ui.name,
            "HumanTaskUiStatus": "Active",
            "CreationTime": ui.creation_time,
            "UiTemplate": {
                "Url": f"{base_url}/_a2i/human-task-uis/{region}/{ui.name}/template",
                "ContentSha256": hashlib.sha256(ui.body.encode()).hexdigest(),
            },
        }

    def list_human_task_uis(self, region: str, params: dict) -> dict:
        page, token = _paginate(self.store.list_task_uis(region), params)
        result: dict[str, Any] = {"HumanTaskUiSummaries": [
            {"HumanTaskUiName": ui.name, "HumanTaskUiArn": ui.arn, "CreationTime": ui.creation_time} for ui in page
        ]}
        if token:
            result["NextToken"] = token
        return result

    def delete_human_task_ui(self, region: str, params: dict) -> dict:
        name = params["HumanTaskUiName"]
        if not self.store.delete_task_ui(region, name):
            raise _not_found(f"Human task UI '{name}' does not exist in {region}")
        return {}

    def _task_ui(self, region: str, name: str) -> NamedResource:
        ui = self.store.get_task_ui(region, name)
        if ui is None:
            raise _not_found(f"Human task UI '{name}' does not exist in {region}")
        return ui

    # Flow definitions -------------------------------------------------------------------------

    def create_flow_definition(self, region: str, params: dict) -> dict:
        name = params["FlowDefinitionName"]
        self._check_flow_definition(region, params)
        if self.store.get_flow_definition(region, name) is not None:
            raise _in_use(f"Flow definition '{name}' already exists in {region}; choose another name or reuse it")
        # Only the members the API defines, at every depth: nothing a client made up is stored or shown.
        modeled = modeled_members(_MODEL.operation_model("CreateFlowDefinition").input_shape, params)
        request = {key: value for key, value in modeled.items() if key not in ("FlowDefinitionName", "Tags")}
        flow = NamedResource(region, name, arn(region, "flow-definition", name), request, round(time.time(), 3))
        self.store.put_flow_definition(flow)
        return {"FlowDefinitionArn": flow.arn}

    def _check_flow_definition(self, region: str, params: dict) -> None:
        loop_config = params.get("HumanLoopConfig")
        if loop_config is None:
            raise validation_error("HumanLoopConfig is required for an A2I flow definition: give WorkteamArn, "
                                   "HumanTaskUiArn, TaskTitle, TaskDescription and TaskCount")
        lifetime = loop_config.get("TaskAvailabilityLifetimeInSeconds")
        if lifetime is not None and lifetime > MAX_TASK_AVAILABILITY_SECONDS:
            raise validation_error(
                f"TaskAvailabilityLifetimeInSeconds {lifetime} is more than A2I's maximum of "
                f"{MAX_TASK_AVAILABILITY_SECONDS} seconds (10 days)"
            )
        activation = params.get("HumanLoopActivationConfig")
        if activation is not None:
            if "HumanLoopRequestSource" not in params:
                raise validation_error(
                    "HumanLoopActivationConfig applies only to built-in task types: give HumanLoopRequestSource "
                    "(AWS/Textract/AnalyzeDocument/Forms/V1 or AWS/Rekognition/DetectModerationLabels/Image/V3), "
                    "or remove HumanLoopActivationConfig for a custom task"
                )
            conditions = activation["HumanLoopActivationConditionsConfig"]["HumanLoopActivationConditions"]
            try:
                strict_json.loads(conditions)
            except ValueError as error:
                raise validation_error(f"HumanLoopActivationConditions {error}") from None
            source = params["HumanLoopRequestSource"]["AwsManagedHumanLoopRequestSource"]
            try:
                parse_conditions(conditions, source)
            except A2IValidationError as error:
                raise validation_error(f"HumanLoopActivationConditions: {error}") from None
        ui_arn = loop_config["HumanTaskUiArn"]
        ui_name = ui_arn.rsplit("/", 1)[-1]
        if ui_arn != arn(region, "human-task-ui", ui_name) or self.store.get_task_ui(region, ui_name) is None:
            raise validation_error(
                f"HumanTaskUiArn '{ui_arn}' does not name a human task UI in {region}; create it with "
                "CreateHumanTaskUi in the flow definition's Region and pass the ARN it returns"
            )

    def describe_flow_definition(self, region: str, params: dict) -> dict:
        flow = self._flow(region, params["FlowDefinitionName"])
        described = {key: flow.body[key] for key in DESCRIBED_REQUEST_MEMBERS if key in flow.body}
        described.update({
            "FlowDefinitionArn": flow.arn,
            "FlowDefinitionName": flow.name,
            "FlowDefinitionStatus": "Active",
            "CreationTime": flow.creation_time,
        })
        return described

    def list_flow_definitions(self, region: str, params: dict) -> dict:
        page, token = _paginate(self.store.list_flow_definitions(region), params)
        result: dict[str, Any] = {"FlowDefinitionSummaries": [
            {"FlowDefinitionName": flow.name, "FlowDefinitionArn": flow.arn, "FlowDefinitionStatus": "Active",
             "CreationTime": flow.creation_time} for flow in page
        ]}
        if token:
            result["NextToken"] = token
        return result

    def delete_flow_definition(self, region: str, params: dict) -> dict:
        name = params["FlowDefinitionName"]
        if not self.store.delete_flow_definition(region, name):
            raise _not_found(f"Flow definition '{name}' does not exist in {region}")
        return {}

    def _flow(self, region: str, name: str) -> NamedResource:
        flow = self.store.get_flow_definition(region, name)
        if flow is None:
            raise _not_found(f"Flow definition '{name}' does not exist in {region}")
        return flow


def moto_serves_sagemaker(operation: str) -> bool:
    """True when moto's SageMaker implements ``operation`` (its response class has a method of that name)."""
    from moto.sagemaker.responses import SageMakerResponse

    return (operation[:1].isupper() and operation.isidentifier()
            and callable(getattr(SageMakerResponse, _snake(operation), None)))


def _snake(operation: str) -> str:
    return "".join("_" + char.lower() if char.isupper() else char for char in operation).lstrip("_")


def _paginate(items: list[NamedResource], params: dict) -> tuple[list[NamedResource], str | None]:
    """SageMaker-style listing: time filters, SortOrder (default Descending), MaxResults, NextToken."""
    after = parse_timestamp(params["CreationTimeAfter"], "CreationTimeAfter") if "CreationTimeAfter" in params \
        else None
    before = parse_timestamp(params["CreationTimeBefore"], "CreationTimeBefore") \
        if "CreationTimeBefore" in params else None
    chosen = [item for item in items
              if (after is None or item.creation_time > after) and (before is None or item.creation_time < before)]
    if params.get("SortOrder", "Descending") == "Descending":
        chosen.reverse()
    start = 0
    if params.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(params["NextToken"].encode()).decode())
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            start = -1
        if start < 0:
            raise validation_error("NextToken is not a token this service returned; start again without it")
    limit = params.get("MaxResults") or 10
    page = chosen[start:start + limit]
    more = start + limit < len(chosen)
    return page, base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None
