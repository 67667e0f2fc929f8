"""Task UIs and flow definitions for tests: one way to make them, custom or built-in, on any endpoint."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ROLE_ARN, unique

ANSWER_TEMPLATE = "<crowd-form><crowd-input name='answer'></crowd-input></crowd-form>"


def create_flow(sagemaker: Any, *, output_path: str, workteam_arn: str, template: str = ANSWER_TEMPLATE,
                source: str | None = None, conditions: list[dict] | None = None, task_count: int = 1,
                name: str | None = None, **loop_config: Any) -> str:
    """A new task UI and a flow definition using it; ``source``: a built-in task type, with ``conditions``
    its activation conditions (None: every request gets a loop). Returns the flow definition's ARN."""
    ui_arn = sagemaker.create_human_task_ui(HumanTaskUiName=unique("ui"),
                                            UiTemplate={"Content": template})["HumanTaskUiArn"]
    params: dict[str, Any] = {
        "FlowDefinitionName": name or unique("flow"), "RoleArn": ROLE_ARN,
        "OutputConfig": {"S3OutputPath": output_path},
        "HumanLoopConfig": {"WorkteamArn": workteam_arn, "HumanTaskUiArn": ui_arn, "TaskTitle": "Review",
                            "TaskDescription": "Check what the machine found", "TaskCount": task_count,
                            **loop_config},
    }
    if source is not None:
        params["HumanLoopRequestSource"] = {"AwsManagedHumanLoopRequestSource": source}
    if conditions is not None:
        params["HumanLoopActivationConfig"] = {"HumanLoopActivationConditionsConfig": {
            "HumanLoopActivationConditions": json.dumps({"Conditions": conditions})}}
    return sagemaker.create_flow_definition(**params)["FlowDefinitionArn"]
