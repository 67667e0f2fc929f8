"""Checks of what users pass to the operators, with messages that say what to change.

They run before any request: at DAG parse time for literal values, at execution for templated ones. A list or
dict is checked member by member at parse time: its literal members then, its templated ones once rendered
(see :func:`check_literal_part`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeGuard

from airflow_a2i.exceptions import A2IValidationError

MAX_INPUT_CHARACTERS = 3_145_728
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
# Patterns stay strings until first use (re caches the compiled form): parsing a DAG of templated values compiles none.
FLOW_DEFINITION_ARN = (
    r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]+):(?P<account>[0-9]{12}):flow-definition/"
    r"(?P<name>[a-z0-9](-*[a-z0-9]){0,62})"
)
ARN_EXAMPLE = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/my-review-flow"
# An SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<queue name> on AWS; any endpoint's URL with that
# path elsewhere (the local service's is http://127.0.0.1:<port>/<account>/<queue name>).
SQS_QUEUE_URL = r"https?://[^/\s]+/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?"


def is_templated(value: object) -> bool:
    """A value known only at execution (Jinja, or an XComArg such as ``task.output``) is checked then."""
    if hasattr(value, "resolve") and not isinstance(value, str | dict | list):
        return True  # XComArg and other ResolveMixin values
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def is_sqs_queue_url(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an SQS queue URL, as CreateQueue returns it (the waits' and the watcher's rule)."""
    return isinstance(value, str) and re.fullmatch(SQS_QUEUE_URL, value) is not None


def has_template(value: object) -> bool:
    """Whether ``value``, or anything in it at any depth (list items, dict values), is known only at execution."""
    if is_templated(value):
        return True
    if isinstance(value, Mapping):
        return any(has_template(member) for member in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_template(member) for member in value)
    return False


def literal_entries(entries: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    """``(position, entry)`` of the entries with nothing templated in them: what a DAG parse can check."""
    return ((position, entry) for position, entry in enumerate(entries) if not has_template(entry))


def check_literal_part(value: Any, check: Callable[[Any], object]) -> None:
    """At DAG parse time: ``check`` what of ``value`` is literal; the rest is checked once rendered.

    A list, tuple or dict is checked without its templated members (an item or a dict value with a Jinja
    template or an XComArg anywhere in it); when nothing literal is left, nothing is checked yet.
    """
    if is_templated(value):
        return
    literal = _without_templated_members(value)
    if literal or not has_template(value):
        check(literal)


def check_known_part(value: Any, check: Callable[[Any], object], *, rendered: bool) -> None:
    """``check`` all of a rendered value; at DAG parse time only its literal part (see :func:`check_literal_part`)."""
    if rendered:
        check(value)
    else:
        check_literal_part(value, check)


def _without_templated_members(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: member for key, member in value.items() if not has_template(member)}
    if isinstance(value, list | tuple):
        return [member for member in value if not has_template(member)]
    return value


def validate_flow_definition_arn(arn: object) -> str:
    if not isinstance(arn, str) or not arn:
        raise A2IValidationError(f"flow_definition_arn must be a flow definition ARN such as {ARN_EXAMPLE!r}")
    if len(arn) > 1024:
        raise A2IValidationError(f"flow_definition_arn has {len(arn)} characters; A2I allows at most 1024")
    if re.fullmatch(FLOW_DEFINITION_ARN, arn) is None:
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
    match = re.fullmatch(FLOW_DEFINITION_ARN, arn)
    if match is None:
        raise A2IValidationError(f"{arn!r} is not a flow definition ARN")
    return match["region"]


def flow_definition_name(arn: str) -> str:
    match = re.fullmatch(FLOW_DEFINITION_ARN, arn)
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
        raise A2IValidationError(f"Unknown content classifier(s) {unknown} in content_classifiers: use one or both "
                                 f"of {list(CONTENT_CLASSIFIERS)}, as a list")
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
