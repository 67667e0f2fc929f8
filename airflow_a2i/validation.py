"""Checks of what users pass to the operators, with messages that say what to change.

They run before any request: at DAG parse time for literal values, at execution for templated ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from airflow_a2i.exceptions import A2IValidationError

MAX_INPUT_CHARACTERS = 3_145_728
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
FLOW_DEFINITION_ARN = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]+):(?P<account>[0-9]{12}):flow-definition/"
    r"(?P<name>[a-z0-9](-*[a-z0-9]){0,62})"
)
ARN_EXAMPLE = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/my-review-flow"


def is_templated(value: object) -> bool:
    """A value known only at execution (Jinja, or an XComArg such as ``task.output``) is checked then."""
    if hasattr(value, "resolve") and not isinstance(value, str | dict | list):
        return True  # XComArg and other ResolveMixin values
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def validate_flow_definition_arn(arn: object) -> str:
    if not isinstance(arn, str) or not arn:
        raise A2IValidationError(f"flow_definition_arn must be a flow definition ARN such as {ARN_EXAMPLE!r}")
    if len(arn) > 1024:
        raise A2IValidationError(f"flow_definition_arn has {len(arn)} characters; A2I allows at most 1024")
    if FLOW_DEFINITION_ARN.fullmatch(arn) is None:
        raise A2IValidationError(f"flow_definition_arn {arn!r} is not a flow definition ARN: {_arn_problem(arn)}. "
                                 f"It looks like {ARN_EXAMPLE!r}")
    return arn


def _arn_problem(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2] != "sagemaker":
        return "it must start with 'arn:aws:sagemaker:'"
    if not re.fullmatch(r"[a-z0-9\-]+", parts[3]):
        return f"the Region {parts[3]!r} is not a Region code such as 'us-east-1'"
    if not re.fullmatch(r"[0-9]{12}", parts[4]):
        return f"the account {parts[4]!r} is not a 12-digit AWS account id"
    resource = parts[5]
    if not resource.startswith("flow-definition/"):
        return f"the resource {resource!r} does not start with 'flow-definition/'"
    return (f"the flow definition name {resource.split('/', 1)[1]!r} must have 1 to 63 lowercase letters, "
            "digits and hyphens")


def flow_definition_region(arn: str) -> str:
    match = FLOW_DEFINITION_ARN.fullmatch(arn)
    if match is None:
        raise A2IValidationError(f"{arn!r} is not a flow definition ARN")
    return match["region"]


def flow_definition_name(arn: str) -> str:
    match = FLOW_DEFINITION_ARN.fullmatch(arn)
    if match is None:
        raise A2IValidationError(f"{arn!r} is not a flow definition ARN")
    return match["name"]


def validate_content_classifiers(classifiers: object) -> list[str]:
    if classifiers is None:
        return []
    if isinstance(classifiers, str):
        classifiers = [classifiers]
    if not isinstance(classifiers, Iterable):
        raise A2IValidationError(f"content_classifiers must be a list of {list(CONTENT_CLASSIFIERS)}")
    chosen = list(classifiers)
    unknown = [item for item in chosen if item not in CONTENT_CLASSIFIERS]
    if unknown:
        raise A2IValidationError(f"Unknown content classifier(s) {unknown}: use one or both of "
                                 f"{list(CONTENT_CLASSIFIERS)}, as a list")
    return list(dict.fromkeys(chosen))


def serialize_input(human_loop_input: Any) -> str:
    """The InputContent string for a dict or a JSON string, checked as A2I checks it."""
    if isinstance(human_loop_input, dict):
        try:
            text = json.dumps(human_loop_input)
        except (TypeError, ValueError) as error:
            raise A2IValidationError(f"human_loop_input cannot be serialised as JSON: {error}") from None
    elif isinstance(human_loop_input, str):
        text = human_loop_input
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise A2IValidationError(
                f"human_loop_input is not valid JSON ({error}); pass a dict, or a JSON object as a string "
                "such as '{\"prompt\": \"What is the answer?\"}'"
            ) from None
        if not isinstance(parsed, dict):
            raise A2IValidationError(f"human_loop_input must be a JSON object (templates read task.input.KEY), "
                                     f"not a JSON {type(parsed).__name__}")
    else:
        raise A2IValidationError(f"human_loop_input must be a dict, a JSON string or an s3:// URI, "
                                 f"not {type(human_loop_input).__name__}")
    if len(text) > MAX_INPUT_CHARACTERS:
        raise A2IValidationError(
            f"human_loop_input is {len(text):,} characters as JSON; A2I takes at most {MAX_INPUT_CHARACTERS:,}. "
            "Put large content in S3 and pass its URI inside the input (templates can read it with "
            "grant_read_access)"
        )
    return text


def validate_choice(name: str, value: object, choices: Iterable[str]) -> str:
    allowed = list(choices)
    if value not in allowed:
        raise A2IValidationError(f"{name}={value!r} is not one of {allowed}")
    return str(value)
