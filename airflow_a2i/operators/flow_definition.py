"""Create, or reuse, the human task UIs and flow definitions (human review workflows) loops run in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IFlowDefinitionHook
from airflow_a2i.request_sources import BUILT_IN_REQUEST_SOURCES
from airflow_a2i.validation import (
    check_literal_part,
    has_template,
    is_templated,
    literal_entries,
    validate_flow_definition_arn,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from botocore.model import OperationModel, Shape

MAX_TASK_AVAILABILITY_SECONDS = 864_000
# Stands in for a task UI the operator creates when it runs, so that the rest of the request is checked at parse time.
TASK_UI_TO_CREATE = "arn:aws:sagemaker:us-east-1:000000000000:human-task-ui/created-when-the-task-runs"


def _operation_model(operation: str) -> OperationModel:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(operation)


def check_request(operation: str, request: dict) -> None:
    """Check a SageMaker request against the botocore model before sending it."""
    from airflow_a2i.model_validation import summarize, validate_input

    problems = validate_input(_operation_model(operation), request)
    if problems:
        raise A2IValidationError(f"The {operation} request would be rejected: {summarize(problems)}")


def request_member(operation: str, *path: str) -> Shape:
    """The botocore shape of a request member, such as ``("HumanLoopConfig", "TaskKeywords")``."""
    shape = _operation_model(operation).input_shape
    for name in path:
        shape = shape.members[name]
    return shape


def check_parameter(parameter: str, shape: Shape, value: Any) -> None:
    """Check one operator parameter's value against its request member's shape."""
    from airflow_a2i.model_validation import summarize, validate_value

    problems = validate_value(shape, value, parameter)
    if problems:
        raise A2IValidationError(f"{parameter} would be rejected: {summarize(problems)}")


def read_ui_template(ui_template: str | None, ui_template_file: str | None, dag: Any) -> str:
    """The template's content: ``ui_template``, else the file (relative paths from the DAG file's folder)."""
    if ui_template is not None:
        return ui_template
    path = Path(str(ui_template_file))
    if not path.is_absolute() and dag is not None and dag.fileloc:
        path = Path(dag.fileloc).parent / path
    if not path.is_file():
        raise A2IValidationError(f"ui_template_file {str(path)!r} does not exist")
    return path.read_text()


class A2ICreateHumanTaskUiOperator(AwsBaseOperator[A2IFlowDefinitionHook]):
    """
    Create a human task UI (the worker template), or reuse the one of that name with the same template.

    The template is Liquid, as A2I renders it; Airflow does not render it (both use ``{{ }}``).

    :param human_task_ui_name: 1 to 63 lowercase letters, digits and hyphens. (templated)
    :param ui_template: the template's content; or
    :param ui_template_file: a path to it (relative paths are read from the DAG file's folder).
    :return: the task UI's ARN.
    """

    aws_hook_class = A2IFlowDefinitionHook
    template_fields: Sequence[str] = aws_template_fields("human_task_ui_name")

    def __init__(self, *, human_task_ui_name: str, ui_template: str | None = None,
                 ui_template_file: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (ui_template is None) == (ui_template_file is None):
            raise A2IValidationError("Give exactly one of ui_template (the content) and ui_template_file (a path)")
        self.human_task_ui_name = human_task_ui_name
        self.ui_template = ui_template
        self.ui_template_file = ui_template_file
        if not is_templated(human_task_ui_name):  # at DAG parse time, the template file only once read
            check_request("CreateHumanTaskUi", {"HumanTaskUiName": human_task_ui_name,
                                                "UiTemplate": {"Content": ui_template or "-"}})

    def execute(self, context: Context) -> str:
        template = read_ui_template(self.ui_template, self.ui_template_file, self.dag)
        check_request("CreateHumanTaskUi", {"HumanTaskUiName": self.human_task_ui_name,
                                            "UiTemplate": {"Content": template}})
        return self.hook.create_or_reuse_human_task_ui(self.human_task_ui_name, template)


class A2ICreateFlowDefinitionOperator(AwsBaseOperator[A2IFlowDefinitionHook]):
    """
    Create a flow definition (human review workflow), or reuse the one of that name when it is the same; or,
    given ``existing_flow_definition_arn``, check that one and use it.

    The worker template is a task UI's ARN (``human_task_ui_arn``), or a template the operator creates (or reuses)
    the task UI of first (``ui_template`` or ``ui_template_file``, named ``human_task_ui_name``).

    :param flow_definition_name: 1 to 63 lowercase letters, digits and hyphens. (templated)
    :param role_arn: the IAM role A2I uses to write the output. (templated)
    :param output_s3_path: ``s3://bucket/prefix`` for the loops' output.json. (templated)
    :param workteam_arn: the work team that reviews. (templated)
    :param human_task_ui_arn: the worker template's ARN; or (templated)
    :param ui_template: the worker template's content (Liquid, not rendered by Airflow); or
    :param ui_template_file: a path to it (relative paths are read from the DAG file's folder).
    :param human_task_ui_name: the task UI to create from the template. (default: ``flow_definition_name``;
        templated)
    :param existing_flow_definition_arn: a flow definition to use instead of creating one: when it renders to
        an ARN, the operator checks that it exists, is Active and reviews this task type, returns it and creates
        nothing (the other arguments are then not used); empty: create as above. (templated)
    :param task_title: 1 to 128 characters. (templated)
    :param task_description: 1 to 255 characters. (templated)
    :param task_count: workers per loop, 1 to 3. (default 1)
    :param task_availability_lifetime_in_seconds: how long a task waits for a worker (at most 864,000).
    :param task_time_limit_in_seconds: how long a worker may take (at least 30).
    :param task_keywords: up to 5 keywords. (templated)
    :param human_loop_request_source: for built-in task types, ``AWS/Textract/AnalyzeDocument/Forms/V1`` or
        ``AWS/Rekognition/DetectModerationLabels/Image/V3``.
    :param activation_conditions: built-in types only: the conditions, a dict or a JSON string. (templated)
    :param public_workforce_task_price: for the public workforce, ``{"AmountInUsd": {...}}``. (templated)
    :param kms_key_id: KMS key for the output.
    :return: the flow definition's ARN.
    """

    aws_hook_class = A2IFlowDefinitionHook
    template_fields: Sequence[str] = aws_template_fields(
        "flow_definition_name", "role_arn", "output_s3_path", "workteam_arn", "human_task_ui_arn", "task_title",
        "task_description", "task_keywords", "activation_conditions", "public_workforce_task_price",
        "human_task_ui_name", "existing_flow_definition_arn",
    )

    def __init__(
        self,
        *,
        flow_definition_name: str,
        role_arn: str,
        output_s3_path: str,
        workteam_arn: str,
        task_title: str,
        task_description: str,
        task_count: int = 1,
        task_availability_lifetime_in_seconds: int | None = None,
        task_time_limit_in_seconds: int | None = None,
        task_keywords: list[str] | None = None,
        human_loop_request_source: str | None = None,
        activation_conditions: dict | str | None = None,
        public_workforce_task_price: dict | None = None,
        kms_key_id: str | None = None,
        human_task_ui_arn: str | None = None,
        ui_template: str | None = None,
        ui_template_file: str | None = None,
        human_task_ui_name: str | None = None,
        existing_flow_definition_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if [human_task_ui_arn, ui_template, ui_template_file].count(None) != 2:
            raise A2IValidationError("Give exactly one of human_task_ui_arn (an existing task UI), ui_template "
                                     "(the content) and ui_template_file (a path)")
        self.flow_definition_name = flow_definition_name
        self.role_arn = role_arn
        self.output_s3_path = output_s3_path
        self.workteam_arn = workteam_arn
        self.human_task_ui_arn = human_task_ui_arn
        self.task_title = task_title
        self.task_description = task_description
        self.task_count = task_count
        self.task_availability_lifetime_in_seconds = task_availability_lifetime_in_seconds
        self.task_time_limit_in_seconds = task_time_limit_in_seconds
        self.task_keywords = task_keywords
        self.human_loop_request_source = human_loop_request_source
        self.activation_conditions = activation_conditions
        self.public_workforce_task_price = public_workforce_task_price
        self.kms_key_id = kms_key_id
        self.ui_template = ui_template
        self.ui_template_file = ui_template_file
        self.human_task_ui_name = human_task_ui_name
        self.existing_flow_definition_arn = existing_flow_definition_arn
        if existing_flow_definition_arn and not is_templated(existing_flow_definition_arn):
            self._existing_arn()
            self._request_source()  # what the given flow definition must review
        elif any(has_template(getattr(self, name, None)) for name in self.template_fields):
            self._check_literal_parts()  # the rest once rendered
        else:
            self.request(self.human_task_ui_arn or TASK_UI_TO_CREATE)

    def request(self, human_task_ui_arn: str) -> dict[str, Any]:
        """The CreateFlowDefinition request (without the name), checked before it is sent."""
        loop_config: dict[str, Any] = {
            "WorkteamArn": self.workteam_arn, "HumanTaskUiArn": human_task_ui_arn,
            "TaskTitle": self.task_title, "TaskDescription": self.task_description, "TaskCount": self.task_count,
        }
        optional = {"TaskAvailabilityLifetimeInSeconds": self.task_availability_lifetime_in_seconds,
                    "TaskTimeLimitInSeconds": self.task_time_limit_in_seconds, "TaskKeywords": self.task_keywords,
                    "PublicWorkforceTaskPrice": self.public_workforce_task_price}
        loop_config.update({key: value for key, value in optional.items() if value is not None})
        output: dict[str, Any] = {"S3OutputPath": self.output_s3_path}
        if self.kms_key_id:
            output["KmsKeyId"] = self.kms_key_id
        request: dict[str, Any] = {"RoleArn": self.role_arn, "OutputConfig": output, "HumanLoopConfig": loop_config}
        request.update(self._built_in_parts())
        self._check(request)
        return request

    def _check_literal_parts(self) -> None:
        """With templates, at DAG parse time: the task type, and the literal members of the lists and dicts."""
        self._request_source()
        if self.activation_conditions is not None:
            check_literal_part(self.activation_conditions, self._activation_config)
        if not isinstance(self.task_keywords, list | tuple) and self.public_workforce_task_price is None:
            return  # nothing more to check: SageMaker's model (a long load at DAG parse time) is not read
        loop_config = request_member("CreateFlowDefinition", "HumanLoopConfig").members
        if isinstance(self.task_keywords, list | tuple):
            for position, keyword in literal_entries(self.task_keywords):
                check_parameter(f"task_keywords[{position}]", loop_config["TaskKeywords"].member, keyword)
        if self.public_workforce_task_price is not None:
            self._check_literal_price(loop_config["PublicWorkforceTaskPrice"])

    def _check_literal_price(self, shape: Shape) -> None:
        """``{"AmountInUsd": {...}}``: its amounts are the members checked one by one."""
        price = self.public_workforce_task_price
        amount = price.get("AmountInUsd") if isinstance(price, Mapping) else None
        if isinstance(amount, Mapping):
            check_literal_part(amount, lambda literal: check_parameter(
                "public_workforce_task_price.AmountInUsd", shape.members["AmountInUsd"], literal))
        else:
            check_literal_part(price, lambda literal: check_parameter("public_workforce_task_price", shape, literal))

    def _built_in_parts(self) -> dict[str, Any]:
        parts = self._request_source()
        if self.activation_conditions is not None:
            parts["HumanLoopActivationConfig"] = self._activation_config(self.activation_conditions)
        return parts

    def _request_source(self) -> dict[str, Any]:
        if self.human_loop_request_source is None:
            if self.activation_conditions is not None:
                raise A2IValidationError("activation_conditions apply only to built-in task types: give "
                                         f"human_loop_request_source, one of {list(BUILT_IN_REQUEST_SOURCES)}")
            return {}
        if self.human_loop_request_source not in BUILT_IN_REQUEST_SOURCES:
            raise A2IValidationError(f"human_loop_request_source={self.human_loop_request_source!r} is not one of "
                                     f"{list(BUILT_IN_REQUEST_SOURCES)}")
        return {"HumanLoopRequestSource": {"AwsManagedHumanLoopRequestSource": self.human_loop_request_source}}

    def _activation_config(self, conditions: Any) -> dict[str, Any]:
        """The activation config of ``conditions`` (a dict or a JSON string), checked: says what is wrong, and where."""
        from airflow_a2i.activation import parse_conditions  # only flow definitions with conditions pay for it

        try:
            parse_conditions(conditions, str(self.human_loop_request_source))
        except A2IValidationError as error:
            raise A2IValidationError(f"activation_conditions: {error}") from error
        text = conditions if isinstance(conditions, str) else json.dumps(conditions)
        return {"HumanLoopActivationConditionsConfig": {"HumanLoopActivationConditions": text}}

    def _check(self, request: dict[str, Any]) -> None:
        lifetime = self.task_availability_lifetime_in_seconds
        if lifetime is not None and lifetime > MAX_TASK_AVAILABILITY_SECONDS:
            raise A2IValidationError(f"task_availability_lifetime_in_seconds={lifetime} is more than A2I's "
                                     f"maximum of {MAX_TASK_AVAILABILITY_SECONDS} (10 days)")
        check_request("CreateFlowDefinition", {"FlowDefinitionName": self.flow_definition_name, **request})

    def execute(self, context: Context) -> str:
        if self.existing_flow_definition_arn:
            request_source = self._request_source().get("HumanLoopRequestSource", {})
            return self.hook.existing_flow_definition(self._existing_arn(),
                                                      request_source.get("AwsManagedHumanLoopRequestSource"))
        self.request(self.human_task_ui_arn or TASK_UI_TO_CREATE)  # all checked before the task UI is created
        return self.hook.create_or_reuse_flow_definition(self.flow_definition_name, self.request(self._task_ui_arn()))

    def _existing_arn(self) -> str:
        try:
            return validate_flow_definition_arn(self.existing_flow_definition_arn)
        except A2IValidationError as error:
            raise A2IValidationError(f"existing_flow_definition_arn: {error}") from None

    def _task_ui_arn(self) -> str:
        if self.human_task_ui_arn:
            return self.human_task_ui_arn
        name = self.human_task_ui_name or self.flow_definition_name
        template = read_ui_template(self.ui_template, self.ui_template_file, self.dag)
        check_request("CreateHumanTaskUi", {"HumanTaskUiName": name, "UiTemplate": {"Content": template}})
        return self.hook.create_or_reuse_human_task_ui(name, template)
