"""A typed model of A2I's ``output.json``, and its parser.

A2I writes one ``output.json`` per finished loop (``A2I_FACTS.md``, "Output in S3")::

    {"flowDefinitionArn", "humanLoopName", "inputContent": {...},
     "humanAnswers": [{"answerContent", "acceptanceTime", "submissionTime", "timeSpentInSeconds",
                       "workerId", "workerMetadata"?}],
     "awsManagedHumanLoopRequestSource"?}

For built-in task types (Textract, Rekognition) ``inputContent`` holds ``aiServiceRequest``,
``aiServiceResponse``, ``humanTaskActivationConditionResults`` and ``selectedAiServiceResponse``.
:func:`parse_output` also reads the *flattened* shape some tools save (the input keys at the top level
instead of under ``inputContent``), such as AWS's own sample recordings.

The data (worker answers, task input) is untrusted: it is only read as JSON values, never evaluated.
Only the standard library is imported, so this module is cheap to import at DAG parse time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.results.consolidation import Consolidation, consolidate

#: Keys of output.json that are not part of the loop's input (everything else is input in the flat shape).
OUTPUT_KEYS = frozenset({"flowDefinitionArn", "humanLoopName", "humanAnswers", "inputContent",
                         "awsManagedHumanLoopRequestSource"})


class OutputParseError(A2IValidationError):
    """A document is not an A2I output.json; the message names what is missing or wrong, and where."""


@dataclass(frozen=True)
class HumanAnswer:
    """One worker's answer: ``answer_content`` is the submitted form (keyed by the request source for
    built-in task types)."""

    answer_content: dict[str, Any]
    worker_id: str
    submission_time: str
    acceptance_time: str | None = None
    time_spent_in_seconds: float | None = None
    worker_metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class HumanLoopOutput:
    """The content of one loop's output.json."""

    flow_definition_arn: str
    human_loop_name: str
    input_content: dict[str, Any]
    human_answers: list[HumanAnswer]
    aws_managed_human_loop_request_source: str | None = None
    ai_service_request: dict[str, Any] | None = None
    ai_service_response: dict[str, Any] | None = None
    selected_ai_service_response: dict[str, Any] | None = None
    human_task_activation_condition_results: dict[str, Any] | None = None

    @property
    def is_built_in(self) -> bool:
        """True for a built-in task type (Textract, Rekognition), whose answers are keyed by the source."""
        return self.aws_managed_human_loop_request_source is not None

    @property
    def answer_contents(self) -> list[dict[str, Any]]:
        return [answer.answer_content for answer in self.human_answers]

    def consolidate(self) -> Consolidation:
        """Majority answer of the workers (see :func:`consolidate`)."""
        return consolidate(self.answer_contents)


# --- parsing -----------------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fail(source: str | None, problem: str) -> OutputParseError:
    where = f"{source} is not a readable A2I output.json" if source else "Not a readable A2I output.json"
    return OutputParseError(f"{where}: {problem}")


def _string(document: dict, key: str, path: str, source: str | None, *, required: bool = True) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if key not in document:
        raise _fail(source, f"it has no {path!r}")
    if not isinstance(value, str) or (required and not value):
        wanted = "a non-empty string" if required else "a string"
        raise _fail(source, f"{path!r} must be {wanted}, not {_kind(value)}")
    return value


def _object(document: dict, key: str, path: str, source: str | None) -> dict[str, Any] | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(source, f"{path!r} must be a JSON object, not {_kind(value)}")
    return value


def _answer(entry: object, index: int, source: str | None) -> HumanAnswer:
    path = f"humanAnswers[{index}]"
    if not isinstance(entry, dict):
        raise _fail(source, f"{path} must be a JSON object, not {_kind(entry)}")
    if "answerContent" not in entry:
        raise _fail(source, f"{path} has no 'answerContent'")
    content = entry["answerContent"]
    if not isinstance(content, dict):
        raise _fail(source, f"{path}.answerContent must be a JSON object (the submitted form), "
                            f"not {_kind(content)}")
    worker_id = _string(entry, "workerId", f"{path}.workerId", source)
    submission_time = _string(entry, "submissionTime", f"{path}.submissionTime", source)
    acceptance_time = _string(entry, "acceptanceTime", f"{path}.acceptanceTime", source, required=False)
    spent = entry.get("timeSpentInSeconds")
    if spent is not None and (isinstance(spent, bool) or not isinstance(spent, int | float)):
        raise _fail(source, f"{path}.timeSpentInSeconds must be a number, not {_kind(spent)}")
    metadata = _object(entry, "workerMetadata", f"{path}.workerMetadata", source)
    assert worker_id is not None and submission_time is not None  # required above
    return HumanAnswer(answer_content=content, worker_id=worker_id, submission_time=submission_time,
                       acceptance_time=acceptance_time,
                       time_spent_in_seconds=None if spent is None else float(spent),
                       worker_metadata=metadata)


def parse_output(document: object, source: str | None = None) -> HumanLoopOutput:
    """
    Read an output.json document (already decoded from JSON) into a :class:`HumanLoopOutput`.

    Accepts the documented shape (the loop's input under ``inputContent``) and the flattened shape (the
    input keys at the top level). Raises :class:`OutputParseError` naming what is missing or wrong.

    :param document: the decoded JSON document.
    :param source: where it came from (such as its S3 URI), named in error messages.
    """
    if not isinstance(document, dict):
        raise _fail(source, f"it must be a JSON object, not {_kind(document)}")
    name = _string(document, "humanLoopName", "humanLoopName", source)
    flow_arn = _string(document, "flowDefinitionArn", "flowDefinitionArn", source)
    if "humanAnswers" not in document:
        raise _fail(source, "it has no 'humanAnswers' (the list of the workers' answers)")
    answers = document["humanAnswers"]
    if not isinstance(answers, list):
        raise _fail(source, f"'humanAnswers' must be an array of answers, not {_kind(answers)}")
    if "inputContent" in document:
        input_content = document["inputContent"]
        if not isinstance(input_content, dict):
            raise _fail(source, f"'inputContent' must be a JSON object (the loop's input), not {_kind(input_content)}")
        where = "inputContent."
    else:  # flattened: every key that is not an output key is part of the input
        input_content = {key: value for key, value in document.items() if key not in OUTPUT_KEYS}
        where = ""
    source_name = _string(document, "awsManagedHumanLoopRequestSource", "awsManagedHumanLoopRequestSource",
                          source, required=False)
    assert name is not None and flow_arn is not None  # required above

    def built_in(key: str) -> dict[str, Any] | None:
        return _object(input_content, key, where + key, source)

    return HumanLoopOutput(
        flow_definition_arn=flow_arn,
        human_loop_name=name,
        input_content=input_content,
        human_answers=[_answer(entry, index, source) for index, entry in enumerate(answers)],
        aws_managed_human_loop_request_source=source_name,
        ai_service_request=built_in("aiServiceRequest"),
        ai_service_response=built_in("aiServiceResponse"),
        selected_ai_service_response=built_in("selectedAiServiceResponse"),
        human_task_activation_condition_results=built_in("humanTaskActivationConditionResults"),
    )


def parse_output_json(text: str | bytes, source: str | None = None) -> HumanLoopOutput:
    """:func:`parse_output` of a JSON text; invalid JSON raises :class:`OutputParseError` too."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise _fail(source, f"it is not valid JSON ({error})") from None
    except RecursionError:  # json.loads recurses once per nesting level
        raise _fail(source, "it is nested too deeply to be read as JSON") from None
    return parse_output(document, source)


_FIELD_NAME = re.compile(r"""\bname\s*=\s*(?:"([^"]+)"|'([^']+)')""")


def template_field_names(template: str) -> list[str]:
    """The form field names of a worker task template (its ``name="..."`` attributes), in order: the keys a
    worker's ``answerContent`` can have. Give them to the results operator's ``expected_answer_fields``."""
    return list(dict.fromkeys(double or single for double, single in _FIELD_NAME.findall(template)))


def unexpected_answer_fields(output: HumanLoopOutput, expected: list[str]) -> list[str]:
    """The top-level answer fields of a custom task's answers that are not among ``expected``."""
    if output.is_built_in:
        return []
    return sorted({str(key) for answer in output.human_answers for key in answer.answer_content} - set(expected))

