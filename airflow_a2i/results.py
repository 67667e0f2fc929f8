"""A typed model of A2I's ``output.json``, and the consolidation of several workers' answers.

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
from dataclasses import dataclass, field
from typing import Any

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.request_sources import REKOGNITION_SOURCE, TEXTRACT_SOURCE

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


# --- consolidation -----------------------------------------------------------------------------------------

Path = tuple[str, ...]


class _Absent:
    """A worker's answer that does not have a path: a vote of its own ("leave it out")."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Consolidation:
    """
    The majority answer of several workers.

    :param consolidated: the chosen value of every leaf path, rebuilt as a nested dict (a path most
        workers left out is left out).
    :param agreement: mean over the leaf paths of the share of workers who gave the chosen value
        (1.0 for a single answer, or when all agree); None without answers.
    :param ties: dotted paths where two or more values had the most votes; the value of the earliest
        answer among them was chosen.
    :param path_agreement: the share of workers agreeing with the chosen value, per dotted path.
    :param answers: every answer, as given.
    """

    consolidated: dict[str, Any]
    agreement: float | None
    ties: list[str] = field(default_factory=list)
    path_agreement: dict[str, float] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)


def dotted(path: Path) -> str:
    return ".".join(path)


def flatten(answer: dict[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Leaf values by path: nested objects are walked, anything else (lists included) is a leaf.

    An empty object is a leaf of its own, so that ``{"a": {}}`` survives consolidation.
    """
    leaves: dict[Path, Any] = {}
    for key, value in answer.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            leaves.update(flatten(value, path))
        else:
            leaves[path] = value
    return leaves


def _canonical(value: Any) -> str:
    """Equal JSON values give equal strings (key order ignored; 1, 1.0, "1" and true stay apart)."""
    if value is ABSENT:
        return "\x00absent"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rebuild(chosen: dict[Path, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for path, value in chosen.items():
        node = result
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return result


def consolidate(answers: list[dict[str, Any]]) -> Consolidation:
    """
    Consolidate the answers of several workers of one loop (TaskCount > 1): majority per leaf path.

    Nested objects are flattened to dotted paths; lists and scalars are leaves, compared as JSON. A
    worker whose answer lacks a path votes for leaving it out. On a tie, the value of the earliest answer
    among the tied values wins, and the path is listed in ``ties``. Paths are built from key tuples, so
    keys holding dots are consolidated exactly; only their names in ``ties``/``path_agreement`` are ambiguous.
    """
    answers = list(answers)
    if not answers:
        return Consolidation(consolidated={}, agreement=None, answers=[])
    flattened = [flatten(answer) for answer in answers]
    paths: list[Path] = list(dict.fromkeys(path for leaves in flattened for path in leaves))
    chosen: dict[Path, Any] = {}
    ties: list[str] = []
    shares: dict[str, float] = {}
    for path in paths:
        votes: dict[str, list[int]] = {}  # canonical value -> indexes of the answers that gave it
        values: dict[str, Any] = {}
        for index, leaves in enumerate(flattened):
            value = leaves.get(path, ABSENT)
            key = _canonical(value)
            votes.setdefault(key, []).append(index)
            values.setdefault(key, value)
        most = max(len(voters) for voters in votes.values())
        leaders = [key for key, voters in votes.items() if len(voters) == most]
        # dicts keep insertion order: the first leader is the value of the earliest answer among them
        winner = leaders[0]
        if len(leaders) > 1:
            ties.append(dotted(path))
        shares[dotted(path)] = most / len(answers)
        if values[winner] is not ABSENT:
            chosen[path] = values[winner]
    agreement = sum(shares.values()) / len(shares) if shares else 1.0
    return Consolidation(consolidated=_rebuild(chosen), agreement=agreement, ties=ties, path_agreement=shares,
                         answers=answers)


# --- built-in task types: the people's corrections merged into the machine's result ------------------------



def camel_keys(value: Any) -> Any:
    """The same JSON with camelCase keys, as A2I writes AI service responses (``BlockType`` -> ``blockType``)."""
    if isinstance(value, dict):
        return {(key[:1].lower() + key[1:]) if isinstance(key, str) else key: camel_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def response_source(response: object) -> str | None:
    """The request source a Textract or Rekognition response (either spelling) belongs to, or None."""
    if not isinstance(response, dict):
        return None
    keys = {key[:1].lower() + key[1:] for key in response if isinstance(key, str)}
    if "blocks" in keys:
        return TEXTRACT_SOURCE
    if "moderationLabels" in keys:
        return REKOGNITION_SOURCE
    return None


def built_in_answer(consolidated: object, source: str) -> dict[str, Any] | None:
    """The reviewer's part of a built-in loop's (consolidated) answer: ``answerContent[source]``.

    A2I keys built-in answers by the request source; an answer that is not keyed so but has the
    source's member (``blocks``, ``moderationLabels``) is taken as it is.
    """
    if not isinstance(consolidated, dict):
        return None
    keyed = consolidated.get(source)
    if isinstance(keyed, dict):
        return keyed
    member = "blocks" if source == TEXTRACT_SOURCE else "moderationLabels"
    return consolidated if member in consolidated else None


def merge_blocks(machine: list[dict[str, Any]], corrected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Textract blocks after review: a corrected block replaces the machine's block of the same id, new ones
    are added at the end (both lists camelCase)."""
    by_id = {block.get("id"): block for block in corrected if isinstance(block, dict)}
    merged = [by_id.pop(block.get("id"), block) for block in machine]
    return merged + list(by_id.values())


def related_ids(block: dict[str, Any], kind: str) -> list[str]:
    """The ids a camelCase Textract block relates to as ``kind`` (``CHILD``, ``VALUE``)."""
    return [str(block_id) for relationship in block.get("relationships") or []
            if isinstance(relationship, dict) and relationship.get("type") == kind
            for block_id in relationship.get("ids") or []]


@dataclass(frozen=True)
class _FormPair:
    key: str
    value: str
    confidence: float | None
    ids: frozenset[str]  # the KEY block, its VALUE blocks and the CHILD blocks of both


def _form_pairs(blocks: list[dict[str, Any]]) -> dict[str, _FormPair]:
    """Key-value pairs of camelCase Textract blocks, by the KEY block's id, in the blocks' order."""
    by_id = {str(block.get("id")): block for block in blocks if isinstance(block, dict)}

    def text(block: dict[str, Any]) -> tuple[str, list[str]]:
        words, ids = [], []
        for child_id in related_ids(block, "CHILD"):
            child = by_id.get(child_id)
            if child is None:
                continue
            ids.append(child_id)
            if child.get("blockType") == "WORD" and child.get("text"):
                words.append(str(child["text"]))
            elif child.get("blockType") == "SELECTION_ELEMENT" and child.get("selectionStatus"):
                words.append(str(child["selectionStatus"]))
        return " ".join(words), ids

    pairs: dict[str, _FormPair] = {}
    for block_id, block in by_id.items():
        if block.get("blockType") != "KEY_VALUE_SET" or "KEY" not in (block.get("entityTypes") or []):
            continue
        key_text, ids = text(block)
        values = []
        for value_id in related_ids(block, "VALUE"):
            value = by_id.get(value_id)
            if value is not None:
                value_text, value_ids = text(value)
                values.append(value_text)
                ids += [value_id, *value_ids]
        confidence = block.get("confidence")
        pairs[block_id] = _FormPair(key=key_text, value=" ".join(part for part in values if part),
                                    confidence=float(confidence) if isinstance(confidence, int | float) else None,
                                    ids=frozenset([block_id, *ids]))
    return pairs


def textract_fields(machine_response: dict[str, Any], answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """
    The form fields of a Textract result, with the reviewer's corrections.

    ``machine_response`` is AnalyzeDocument's response (either spelling); ``answer`` the reviewer's
    ``{"blocks": [...]}``, or None when nobody reviewed. One entry per key-value pair:
    ``key`` (its CHILD words joined by spaces, as corrected), ``machine_value``, ``machine_confidence``
    (the KEY block's), ``human_value`` (null unless reviewed), ``reviewed`` (a block of the pair is in the
    answer) and ``corrected`` (reviewed, and the key or value text changed). Pairs the reviewer added come
    last, with a null ``machine_value`` and ``machine_confidence``.
    """
    machine_blocks = [block for block in camel_keys(machine_response).get("blocks") or [] if isinstance(block, dict)]
    corrected = [block for block in (answer or {}).get("blocks") or [] if isinstance(block, dict)]
    answered = {str(block.get("id")) for block in corrected}
    machine = _form_pairs(machine_blocks)
    merged = _form_pairs(merge_blocks(machine_blocks, corrected))
    fields = []
    for key_id in [*machine, *(key_id for key_id in merged if key_id not in machine)]:
        before, after = machine.get(key_id), merged.get(key_id)
        reviewed = answer is not None and bool(((before.ids if before else frozenset()) |
                                                (after.ids if after else frozenset())) & answered)
        shown = after if reviewed and after is not None else before
        assert shown is not None
        fields.append({
            "key": shown.key,
            "machine_value": before.value if before else None,
            "machine_confidence": before.confidence if before else None,
            "human_value": after.value if reviewed and after is not None else None,
            "reviewed": reviewed,
            "corrected": reviewed and (before is None or after is None or (before.key, before.value) !=
                                       (after.key, after.value)),
        })
    return fields


def moderation_labels(machine_response: dict[str, Any], answer: dict[str, Any] | None,
                      shown: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """
    The moderation labels of a Rekognition result, with the reviewer's verdict on each.

    ``answer`` is the reviewer's ``{"moderationLabels": [{"name", "parentName"}]}`` (the labels that apply),
    or None when nobody reviewed; ``shown`` the loop's ``selectedAiServiceResponse`` (the labels the
    reviewer was asked about). One entry per label: ``name``, ``parent_name``, ``machine_confidence``
    and ``kept_by_reviewer``: true when the reviewer chose it, false when they were shown it and did not,
    null when nobody reviewed it (no answer, or a label the reviewer was not shown and did not choose).
    Labels the reviewer chose that the machine did not report come last, with a null ``machine_confidence``.
    """
    machine = [label for label in camel_keys(machine_response).get("moderationLabels") or []
               if isinstance(label, dict)]
    chosen: dict[str, dict[str, Any]] = {}
    if answer is not None:
        for label in camel_keys(answer).get("moderationLabels") or []:
            if isinstance(label, dict) and label.get("name"):
                chosen.setdefault(str(label["name"]), label)
    asked = {str(label.get("name")) for label in camel_keys(shown or {}).get("moderationLabels") or []
             if isinstance(label, dict)}
    if shown is None and answer is not None:
        asked = {str(label.get("name")) for label in machine}  # not known: every label was shown
    labels = []
    for label in machine:
        name = str(label.get("name", ""))
        confidence = label.get("confidence")
        kept: bool | None = None
        if name in chosen:
            kept = True
        elif answer is not None and name in asked:
            kept = False
        labels.append({"name": name, "parent_name": label.get("parentName") or "",
                       "machine_confidence": float(confidence) if isinstance(confidence, int | float) else None,
                       "kept_by_reviewer": kept})
    known = {label["name"] for label in labels}
    labels += [{"name": name, "parent_name": label.get("parentName") or "", "machine_confidence": None,
                "kept_by_reviewer": True} for name, label in chosen.items() if name not in known]
    return labels


def final_labels(labels: list[dict[str, Any]]) -> list[str]:
    """The names of the labels that stand: chosen by the reviewer, or reported and not reviewed."""
    return [label["name"] for label in labels if label["kept_by_reviewer"] is not False]
