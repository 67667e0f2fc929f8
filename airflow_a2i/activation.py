"""A2I's human loop activation conditions, parsed, validated and evaluated locally.

Built-in task types (Textract ``AnalyzeDocument`` forms, Rekognition ``DetectModerationLabels``) start a human
loop when a flow definition's ``HumanLoopActivationConditions`` hold for the AI service's response. This module
reads that condition language with clear errors, and evaluates it the way A2I does, giving what A2I writes:
``HumanLoopActivationReasons``, ``humanTaskActivationConditionResults``, ``selectedAiServiceResponse`` and the
``humanLoopContext.importantFormKeys`` of the default Textract task UI.

Semantics (read off a real A2I built-in Textract loop, ``tests/fixtures/a2i-textract-output.json``, and the
A2I guide; UNCONFIRMED where a choice had to be made, marked so below):

* ``{"Conditions": [C, ...]}``: a loop starts when any member is true. A member is a simple condition
  ``{"ConditionType", "ConditionParameters"}`` or ``{"And": [...]}`` / ``{"Or": [...]}`` with at least two items;
  at most two levels of And/Or; the whole document at most 10,240 characters.
* Every condition is evaluated (no short-circuit) and gets an ``EvaluationResult``; the results document repeats
  the conditions as written, keys in A2I's (alphabetical) order: simple ``{"ConditionParameters",
  "ConditionType", "EvaluationResult"}``, logical ``{"EvaluationResult", "And"|"Or": [...]}``, all under
  ``{"Conditions": [...]}``.
* Textract key-value pairs: a KEY_VALUE_SET block whose EntityTypes hold KEY, its VALUE blocks (relationship
  VALUE) and the CHILD blocks of both. The key's text is the text of its CHILD WORD blocks joined by single spaces;
  it matches ``ImportantFormKey`` or one of ``ImportantFormKeyAliases`` exactly (case-sensitive, after collapsing
  runs of whitespace); ``"*"`` matches any key.
* ``ImportantFormKeyConfidenceCheck`` is true when a matching pair meets ANY of its thresholds (the thresholds
  combine with OR: A2I flagged "Total" for a key-value confidence of 41.3 < 45 although its words, 99.7-99.8, were
  not < 85). The key-value thresholds test the pair's KEY_VALUE_SET blocks (key and value), the word thresholds
  the WORD blocks of key and value; a threshold holds when any of those blocks meets it (UNCONFIRMED: the
  recorded loop cannot tell "any" from "all").
* ``MissingImportantFormKey`` is true when no key matches; it selects no blocks.
* ``Sampling`` is true when the request's draw, a number in [0, 100) derived from a SHA-256 of the document's
  location (or bytes) and the human loop name, is below ``RandomSamplingPercentage``: the same request always
  gets the same answer, and a higher percentage only adds requests (one draw per request, UNCONFIRMED).
* ``ModerationLabelConfidenceCheck``: a label whose Name equals ``ModerationLabelName`` (case-sensitive) or any
  label for ``"*"``, meeting any of the ``Confidence*`` thresholds.
* Selection (``selectedAiServiceResponse``): the pairs (Textract) or labels (Rekognition) that made a true
  condition true, through true And/Or only. Sampling selects everything, except inside an And with other
  conditions, where it only gates them (the guide: 5% of the Pay Date pairs, only Pay Date is reviewed). The
  selected Textract blocks keep the response's order and A2I's trimmed shape: KEY_VALUE_SET blocks with
  blockType, confidence, entityTypes, geometry (polygon only), id, relationships; their CHILD blocks with
  blockType, id, text (selectionStatus for selection elements); ``{"blocks": [...]}`` and nothing else.
  Rekognition keeps whole labels and ``moderationModelVersion``.
* Responses come in either spelling: Textract's API (PascalCase: Blocks, BlockType, Id, ...) or A2I's output
  (camelCase: blocks, blockType, id, ...); what is returned follows the input's spelling.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.request_sources import BUILT_IN_REQUEST_SOURCES, REKOGNITION_SOURCE, TEXTRACT_SOURCE

TEXTRACT, REKOGNITION, REQUEST_SOURCES = TEXTRACT_SOURCE, REKOGNITION_SOURCE, BUILT_IN_REQUEST_SOURCES
MAX_DOCUMENT_CHARACTERS = 10_240
MAX_NESTING = 2
ACTIVATION_REASON = "ConditionsEvaluation"

COMPARISONS = ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")
_COMPARE = {
    "Equals": lambda confidence, value: confidence == value,
    "LessThan": lambda confidence, value: confidence < value,
    "LessThanEquals": lambda confidence, value: confidence <= value,
    "GreaterThan": lambda confidence, value: confidence > value,
    "GreaterThanEquals": lambda confidence, value: confidence >= value,
}
KEY_VALUE_BLOCK = "KeyValueBlockConfidence"
WORD_BLOCK = "WordBlockConfidence"
LABEL = "Confidence"


@dataclass(frozen=True)
class _TypeSpec:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    threshold_families: tuple[str, ...] = ()
    example: str = ""


_KEY_EXAMPLE = '"ImportantFormKey": "Mail Address:", "ImportantFormKeyAliases": ["Mailing Address:"]'
_TYPES: dict[str, dict[str, _TypeSpec]] = {
    TEXTRACT: {
        "ImportantFormKeyConfidenceCheck": _TypeSpec(
            ("ImportantFormKey",), ("ImportantFormKeyAliases",), (KEY_VALUE_BLOCK, WORD_BLOCK),
            '{' + _KEY_EXAMPLE + ', "KeyValueBlockConfidenceLessThan": 60, "WordBlockConfidenceLessThan": 85}'),
        "MissingImportantFormKey": _TypeSpec(("ImportantFormKey",), ("ImportantFormKeyAliases",),
                                             example='{' + _KEY_EXAMPLE + '}'),
        "Sampling": _TypeSpec(("RandomSamplingPercentage",), example='{"RandomSamplingPercentage": 5}'),
    },
    REKOGNITION: {
        "ModerationLabelConfidenceCheck": _TypeSpec(
            ("ModerationLabelName",), (), (LABEL,),
            '{"ModerationLabelName": "Suggestive", "ConfidenceLessThan": 98}'),
        "Sampling": _TypeSpec(("RandomSamplingPercentage",), example='{"RandomSamplingPercentage": 5}'),
    },
}
_SOURCE_NAMES = {TEXTRACT: "Textract AnalyzeDocument", REKOGNITION: "Rekognition DetectModerationLabels"}
_ALL_THRESHOLDS = {family + comparison: (family, comparison)
                   for family in (KEY_VALUE_BLOCK, WORD_BLOCK, LABEL) for comparison in COMPARISONS}


class ActivationConditionError(A2IValidationError):
    """An activation conditions document A2I would reject; ``path`` says where, the message how to fix it."""

    def __init__(self, path: str, problem: str, fix: str = "") -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        where = f"{path}: " if path else ""
        super().__init__(f"HumanLoopActivationConditions {where}{problem}" + (f". {fix}" if fix else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.path, self.problem, self.fix)


# ---------------------------------------------------------------------------------------------------------------
# The parsed conditions


@dataclass(frozen=True)
class Threshold:
    parameter: str
    family: str
    comparison: str
    value: float

    def holds(self, confidence: object) -> bool:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            return False  # a block without a confidence (e.g. a worker's correction) meets no threshold
        return bool(_COMPARE[self.comparison](confidence, self.value))


@dataclass(frozen=True)
class SimpleCondition:
    path: str
    condition_type: str
    parameters: dict[str, Any] = field(hash=False)
    thresholds: tuple[Threshold, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """ImportantFormKey and its aliases (Textract) or ModerationLabelName (Rekognition), whitespace collapsed."""
        if self.condition_type == "ModerationLabelConfidenceCheck":
            return (self.parameters["ModerationLabelName"],)
        if "ImportantFormKey" not in self.parameters:
            return ()
        return tuple(_collapse(name) for name in
                     [self.parameters["ImportantFormKey"], *self.parameters.get("ImportantFormKeyAliases", [])])

    def document(self) -> dict[str, Any]:
        return {"ConditionType": self.condition_type, "ConditionParameters": copy.deepcopy(self.parameters)}

    def summary(self) -> str:
        if self.condition_type == "Sampling":
            return f"Sampling({self.parameters['RandomSamplingPercentage']}%)"
        tests = " ".join(f"{t.family.removesuffix('Confidence') or 'Confidence'}{_SYMBOLS[t.comparison]}{t.value:g}"
                         for t in self.thresholds)
        return f"{self.condition_type}({self.names[0]!r}{' ' + tests if tests else ''})"


_SYMBOLS = {"Equals": "==", "LessThan": "<", "LessThanEquals": "<=", "GreaterThan": ">", "GreaterThanEquals": ">="}


@dataclass(frozen=True)
class LogicalCondition:
    path: str
    operator: Literal["And", "Or"]
    items: tuple[Condition, ...]

    def document(self) -> dict[str, Any]:
        return {self.operator: [item.document() for item in self.items]}

    def summary(self) -> str:
        return f"{self.operator}({', '.join(item.summary() for item in self.items)})"


Condition = SimpleCondition | LogicalCondition


@dataclass(frozen=True)
class Conditions:
    """A valid activation conditions document for one request source."""

    request_source: str
    items: tuple[Condition, ...]

    def document(self) -> dict[str, Any]:
        return {"Conditions": [item.document() for item in self.items]}

    def to_json(self) -> str:
        return json.dumps(self.document(), separators=(",", ":"))


# ---------------------------------------------------------------------------------------------------------------
# Parsing and validation


def parse_conditions(document: str | Mapping[str, Any], request_source: str) -> Conditions:
    """Parse and validate a ``HumanLoopActivationConditions`` document (a JSON string, or the parsed object).

    Raises :class:`ActivationConditionError` naming the path of the first problem and its fix.
    """
    source = _check_source(request_source)
    data = _load(document)
    if not isinstance(data, dict):
        raise ActivationConditionError("", f"must be a JSON object, not {_kind(data)}",
                                       'Write {"Conditions": [{"ConditionType": ..., "ConditionParameters": {...}}]}')
    for key in data:
        if key != "Conditions":
            raise ActivationConditionError(key, "is not part of the condition language",
                                           _did_you_mean(key, ["Conditions"]) + 'The document holds only "Conditions"')
    if "Conditions" not in data:
        raise ActivationConditionError("", 'has no "Conditions"',
                                       'Write {"Conditions": [...]}: a list of conditions, any of which starts a loop')
    items = data["Conditions"]
    if not isinstance(items, list):
        raise ActivationConditionError("Conditions", f"must be a list, not {_kind(items)}",
                                       'Write "Conditions": [ {...}, ... ]')
    if not items:
        raise ActivationConditionError("Conditions", "is empty, so no human loop would ever start",
                                       "Add at least one condition, or remove HumanLoopActivationConfig")
    return Conditions(source, tuple(_parse_item(item, f"Conditions[{index}]", 0, source)
                                    for index, item in enumerate(items)))


def _check_source(request_source: object) -> str:
    if request_source not in REQUEST_SOURCES:
        raise ActivationConditionError("HumanLoopRequestSource", f"{request_source!r} is not a built-in task type",
                                       f"Give one of {list(REQUEST_SOURCES)}")
    return str(request_source)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _load(document: object) -> Any:
    if isinstance(document, str):
        text = document
        _check_length(len(text))
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as error:
            raise ActivationConditionError(
                "", f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
                "Write it as strict JSON: double-quoted keys and strings, commas between members, no trailing "
                "commas (several examples in the A2I guide miss a comma)") from None
        except (ValueError, RecursionError) as error:
            raise ActivationConditionError("", f"is not valid JSON: {error}",
                                           "Write it as strict JSON, numbers as plain decimals") from None
    if isinstance(document, Mapping):
        try:
            text = json.dumps(document, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise ActivationConditionError("", f"cannot be written as JSON: {error}",
                                           "Use only dicts, lists, strings, finite numbers and booleans") from None
        _check_length(len(text))
        return json.loads(text)
    raise ActivationConditionError("", f"must be a JSON string or a dict, not {_kind(document)}",
                                   'Give json.dumps({"Conditions": [...]}) or the dict itself')


def _check_length(length: int) -> None:
    if length > MAX_DOCUMENT_CHARACTERS:
        raise ActivationConditionError(
            "", f"has {length:,} characters; A2I takes at most {MAX_DOCUMENT_CHARACTERS:,}",
            "Shorten it: write it without spaces (json.dumps(..., separators=(',', ':'))), drop unneeded aliases, "
            "or use one ImportantFormKeyConfidenceCheck with ImportantFormKey \"*\"")


def _parse_item(item: object, path: str, depth: int, source: str) -> Condition:
    if not isinstance(item, dict):
        raise ActivationConditionError(path, f"must be an object, not {_kind(item)}",
                                       'Write {"ConditionType": ..., "ConditionParameters": {...}} or '
                                       '{"And": [...]} / {"Or": [...]}')
    operators = [key for key in ("And", "Or") if key in item]
    if operators:
        return _parse_logical(item, path, depth, source, operators)
    for key in item:
        if key not in ("ConditionType", "ConditionParameters"):
            raise _unknown_member(path, key, ["ConditionType", "ConditionParameters", "And", "Or"])
    if "ConditionType" not in item:
        raise ActivationConditionError(path, 'has no "ConditionType"',
                                       f"Name one of {list(_TYPES[source])}, with its \"ConditionParameters\"")
    condition_type = item["ConditionType"]
    allowed = _TYPES[source]
    if not isinstance(condition_type, str) or condition_type not in allowed:
        raise _wrong_type(f"{path}.ConditionType", condition_type, source)
    spec = allowed[condition_type]
    parameters_path = f"{path}.ConditionParameters"
    if "ConditionParameters" not in item:
        raise ActivationConditionError(path, 'has no "ConditionParameters"',
                                       f'{condition_type} needs "ConditionParameters": {spec.example}')
    parameters = item["ConditionParameters"]
    if not isinstance(parameters, dict):
        raise ActivationConditionError(parameters_path, f"must be an object, not {_kind(parameters)}",
                                       f"For {condition_type} write {spec.example}")
    thresholds = []
    for key, value in parameters.items():
        key_path = f"{parameters_path}.{key}"
        if key in spec.required or key in spec.optional:
            _check_parameter(key_path, key, value)
        elif key in _ALL_THRESHOLDS and _ALL_THRESHOLDS[key][0] in spec.threshold_families:
            family, comparison = _ALL_THRESHOLDS[key]
            thresholds.append(Threshold(key, family, comparison, _number(key_path, value, 0, 100)))
        else:
            raise _unknown_parameter(key_path, key, value, condition_type, spec)
    for key in spec.required:
        if key not in parameters:
            raise ActivationConditionError(parameters_path, f'has no "{key}"',
                                           f"{condition_type} needs it: {spec.example}")
    if spec.threshold_families and not thresholds:
        names = [family + "LessThan" for family in spec.threshold_families]
        raise ActivationConditionError(parameters_path, f"has no confidence threshold, so {condition_type} has "
                                       "nothing to check", f"Add at least one of {names} (or another comparison: "
                                       f"{', '.join(COMPARISONS)}), e.g. {spec.example}")
    return SimpleCondition(path, condition_type, copy.deepcopy(parameters), tuple(thresholds))


def _parse_logical(item: dict, path: str, depth: int, source: str, operators: list[str]) -> LogicalCondition:
    if len(operators) > 1:
        raise ActivationConditionError(path, 'has both "And" and "Or"',
                                       'Give each its own object: {"Or": [{"And": [...]}, ...]}')
    operator = operators[0]
    for key in item:
        if key != operator:
            if key in ("ConditionType", "ConditionParameters"):
                raise ActivationConditionError(path, f'mixes "{operator}" with "{key}"',
                                               f'Move the simple condition into the "{operator}" list as an item')
            raise _unknown_member(path, key, [operator])
    if depth >= MAX_NESTING:
        raise ActivationConditionError(f"{path}.{operator}", f"is a third level of And/Or; A2I supports at most "
                                       f"{MAX_NESTING} levels of nesting",
                                       "Flatten it: merge it into its parent when the operators match, or move it "
                                       "up to the top level (members of Conditions already combine with Or)")
    members = item[operator]
    if not isinstance(members, list):
        raise ActivationConditionError(f"{path}.{operator}", f"must be a list, not {_kind(members)}",
                                       f'Write "{operator}": [{{...}}, {{...}}]')
    if len(members) < 2:
        raise ActivationConditionError(f"{path}.{operator}", f"has {len(members)} item(s); it needs at least two",
                                       f'Add a second condition, or write the condition alone without "{operator}"')
    literal: Literal["And", "Or"] = "And" if operator == "And" else "Or"
    return LogicalCondition(path, literal, tuple(_parse_item(member, f"{path}.{operator}[{index}]", depth + 1, source)
                                                 for index, member in enumerate(members)))


def _check_parameter(path: str, key: str, value: object) -> None:
    if key == "RandomSamplingPercentage":
        _number(path, value, 0.01, 100)
    elif key == "ImportantFormKeyAliases":
        if not isinstance(value, list):
            raise ActivationConditionError(path, f"must be a list of strings, not {_kind(value)}",
                                           'Write "ImportantFormKeyAliases": ["Mailing Address:", "Address:"]')
        for index, alias in enumerate(value):
            if not isinstance(alias, str) or not alias.strip():
                raise ActivationConditionError(f"{path}[{index}]", f"must be a non-empty string, not {alias!r}",
                                               "Give each alias as the key's text as Textract reads it")
    elif not isinstance(value, str) or not value.strip():
        hint = ('the key as Textract reads it, e.g. "Mail Address:", or "*" for any key' if key == "ImportantFormKey"
                else 'the exact, case-sensitive label name, e.g. "Suggestive", or "*" for any label')
        raise ActivationConditionError(path, f"must be a non-empty string, not {value!r}", f"Give {hint}")


def _number(path: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ActivationConditionError(path, f"must be a number, not {value!r}",
                                       f"Give a plain number from {low:g} to {high:g}, without quotes")
    if not low <= value <= high:
        raise ActivationConditionError(path, f"is {value!r}, out of range", f"Give a number from {low:g} to {high:g}")
    return float(value)


def _wrong_type(path: str, condition_type: object, source: str) -> ActivationConditionError:
    allowed = list(_TYPES[source])
    if not isinstance(condition_type, str):
        return ActivationConditionError(path, f"must be a string, not {_kind(condition_type)}",
                                        f"Give one of {allowed}")
    for other, types in _TYPES.items():
        if other != source and condition_type in types:
            return ActivationConditionError(
                path, f"{condition_type} belongs to {_SOURCE_NAMES[other]} ({other}), but these conditions are for "
                f"{_SOURCE_NAMES[source]} ({source})",
                f"Use one of {allowed}, or create the flow definition with HumanLoopRequestSource {other}")
    return ActivationConditionError(path, f"{condition_type!r} is not a condition type of {_SOURCE_NAMES[source]}",
                                    _did_you_mean(condition_type, allowed) + f"Use one of {allowed}")


def _unknown_parameter(path: str, key: str, value: object, condition_type: str,
                       spec: _TypeSpec) -> ActivationConditionError:
    allowed = [*spec.required, *spec.optional,
               *(family + comparison for family in spec.threshold_families for comparison in COMPARISONS)]
    family = next((name for name in (KEY_VALUE_BLOCK, WORD_BLOCK, LABEL) if key == name), None)
    if family is not None and family in spec.threshold_families:
        example = f"{family}LessThan"
        if isinstance(value, dict) and value:
            comparison = next(iter(value))
            example = f"{family}{comparison}" if comparison in COMPARISONS else example
        return ActivationConditionError(path, "is not a parameter: A2I writes thresholds flat, the comparison "
                                        "in the name", f'Write "{example}": 60 (comparisons: {", ".join(COMPARISONS)})')
    return ActivationConditionError(path, f"is not a parameter of {condition_type}",
                                    _did_you_mean(key, allowed) + f"{condition_type} takes {allowed}")


def _unknown_member(path: str, key: str, allowed: list[str]) -> ActivationConditionError:
    if key == "EvaluationResult":
        return ActivationConditionError(f"{path}.{key}", "is written by A2I into its results, not read from "
                                        "conditions", "Remove EvaluationResult")
    return ActivationConditionError(f"{path}.{key}", "is not part of the condition language",
                                    _did_you_mean(key, allowed) + f"A condition holds only {allowed}")


def _did_you_mean(key: str, allowed: list[str]) -> str:
    lowered = {name.lower(): name for name in allowed}
    match = lowered.get(key.lower()) or next(iter(difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)), None)
    return f'Did you mean "{match}"? ' if match else ""


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _collapse(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class ActivationResult:
    """What A2I decides and writes for one AI service response."""

    activated: bool
    reasons: list[str]
    condition_results: dict[str, Any]
    selected_response: dict[str, Any]
    important_form_keys: list[dict[str, Any]] | None = None
    top_level_results: list[bool] = field(default_factory=list)

    def activation_output(self, human_loop_arn: str | None = None) -> dict[str, Any] | None:
        """The ``HumanLoopActivationOutput`` of a Textract/Rekognition response, or None when no loop starts."""
        if not self.activated:
            return None
        output: dict[str, Any] = {"HumanLoopActivationReasons": list(self.reasons),
                                  "HumanLoopActivationConditionsEvaluationResults":
                                      json.dumps(self.condition_results, separators=(",", ":"))}
        if human_loop_arn is not None:
            output["HumanLoopArn"] = human_loop_arn
        return output


class _All:
    """Selection of everything (Sampling)."""


_ALL = _All()
Selection = _All | frozenset


def evaluate(conditions: Conditions, response: Mapping[str, Any], *, request: Mapping[str, Any] | None = None,
             human_loop_name: str | None = None) -> ActivationResult:
    """Evaluate parsed conditions on a Textract AnalyzeDocument / Rekognition DetectModerationLabels response.

    ``request`` (the AI service request, PascalCase or A2I's camelCase) and ``human_loop_name`` seed Sampling;
    without them the response itself does.
    """
    if not isinstance(response, Mapping):
        raise A2IValidationError(f"the response must be a JSON object, not {_kind(response)}")
    view: _TextractView | _RekognitionView
    view = _TextractView(response) if conditions.request_source == TEXTRACT else _RekognitionView(response)
    draw = sampling_draw(request, human_loop_name, response)
    evaluator = _Evaluator(view, draw)
    outcomes = [evaluator.evaluate(item) for item in conditions.items]
    activated = any(outcome for outcome, _, _ in outcomes)
    selection = _union([selected for outcome, selected, _ in outcomes if outcome])
    keys: list[dict[str, Any]] | None = None
    if conditions.request_source == TEXTRACT:
        keys = _important_form_keys([item for item, (outcome, _, _) in zip(conditions.items, outcomes, strict=True)
                                     if outcome], evaluator.results)
    return ActivationResult(
        activated=activated,
        reasons=[ACTIVATION_REASON] if activated else [],
        condition_results={"Conditions": [result for _, _, result in outcomes]},
        selected_response=view.select(selection if activated else frozenset()),
        important_form_keys=keys,
        top_level_results=[outcome for outcome, _, _ in outcomes],
    )


def evaluate_activation_conditions(activation_conditions: str | Mapping[str, Any], request_source: str,
                                   response: Mapping[str, Any], *, request: Mapping[str, Any] | None = None,
                                   human_loop_name: str | None = None) -> ActivationResult:
    """Evaluate a flow definition's ``HumanLoopActivationConditions`` (JSON string or parsed) on a response."""
    return evaluate(parse_conditions(activation_conditions, request_source), response, request=request,
                    human_loop_name=human_loop_name)


def conditions_of_flow_definition(flow_definition: Mapping[str, Any]) -> Conditions:
    """The conditions of a flow definition as CreateFlowDefinition takes it or DescribeFlowDefinition returns it."""
    source = (flow_definition.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
    if source is None:
        raise ActivationConditionError("HumanLoopRequestSource", "is missing: activation conditions apply only to "
                                       "built-in task types", f"Give AwsManagedHumanLoopRequestSource, one of "
                                       f"{list(REQUEST_SOURCES)}")
    try:
        text = (flow_definition["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"]
                ["HumanLoopActivationConditions"])
    except (KeyError, TypeError):
        raise ActivationConditionError("HumanLoopActivationConfig", "is missing or incomplete",
                                       'Give {"HumanLoopActivationConditionsConfig": {"HumanLoopActivationConditions":'
                                       ' "{\\"Conditions\\": [...]}"}}') from None
    return parse_conditions(text, source)


def evaluate_flow_definition(flow_definition: Mapping[str, Any], response: Mapping[str, Any], *,
                             request: Mapping[str, Any] | None = None,
                             human_loop_name: str | None = None) -> ActivationResult:
    return evaluate(conditions_of_flow_definition(flow_definition), response, request=request,
                    human_loop_name=human_loop_name)


def sampling_draw(request: Mapping[str, Any] | None, human_loop_name: str | None,
                  response: Mapping[str, Any] | None = None) -> float:
    """The request's Sampling draw in [0, 100): the same document and loop name always draw the same number.

    The document is its S3 location (bucket, name, version) or a hash of its bytes; Textract's PascalCase request
    and A2I's camelCase ``aiServiceRequest`` give the same draw. Without a request, the response is hashed (in
    either spelling alike).
    """
    name = human_loop_name
    identity: Any = None
    if request is not None:
        lowered = _lower_keys(request)
        if name is None:
            name = (lowered.get("humanloopconfig") or {}).get("humanloopname")
        target = lowered.get("document") or lowered.get("image")
        if isinstance(target, dict) and isinstance(target.get("s3object"), dict):
            location = target["s3object"]
            identity = {"s3": [location.get("bucket"), location.get("name"), location.get("version")]}
        elif isinstance(target, dict) and target.get("bytes") is not None:
            content = target["bytes"]
            content = content if isinstance(content, bytes | bytearray) else str(content).encode()
            identity = {"bytes": hashlib.sha256(content).hexdigest()}
        else:
            rest = {key: value for key, value in lowered.items() if key != "humanloopconfig"}
            identity = {"request": _canonical(rest)}
    elif response is not None:
        identity = {"response": hashlib.sha256(_canonical(_lower_keys(response)).encode()).hexdigest()}
    digest = hashlib.sha256(_canonical({"document": identity, "humanLoopName": name}).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def _lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key).lower(): _lower_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lower_keys(item) for item in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _union(selections: Iterable[Selection]) -> Selection:
    chosen: set = set()
    for selection in selections:
        if isinstance(selection, _All):
            return _ALL
        chosen |= selection
    return frozenset(chosen)


class _Evaluator:
    def __init__(self, view: _TextractView | _RekognitionView, draw: float) -> None:
        self.view = view
        self.draw = draw
        self.results: dict[str, bool] = {}  # path -> EvaluationResult

    def evaluate(self, condition: Condition) -> tuple[bool, Selection, dict[str, Any]]:
        if isinstance(condition, LogicalCondition):
            outcomes = [self.evaluate(item) for item in condition.items]  # A2I evaluates every condition
            if condition.operator == "Or":
                outcome = any(result for result, _, _ in outcomes)
                selection = _union([selected for result, selected, _ in outcomes if result])
            else:
                outcome = all(result for result, _, _ in outcomes)
                gated = [selected for _, selected, _ in outcomes if not isinstance(selected, _All)]
                selection = (_union(gated) if gated else _ALL) if outcome else frozenset()
            self.results[condition.path] = outcome
            return outcome, selection, {"EvaluationResult": outcome,
                                        condition.operator: [result for _, _, result in outcomes]}
        selected: Selection
        if condition.condition_type == "Sampling":
            outcome = self.draw < condition.parameters["RandomSamplingPercentage"]
            selected = _ALL
        elif condition.condition_type == "MissingImportantFormKey":
            assert isinstance(self.view, _TextractView)
            outcome = not self.view.matching(condition.names)
            selected = frozenset()  # a missing key has no blocks to show; the task asks workers to find it
        else:
            selected = self.view.check(condition)
            outcome = bool(selected)
        self.results[condition.path] = outcome
        return outcome, selected, {"ConditionParameters": copy.deepcopy(condition.parameters),
                                   "ConditionType": condition.condition_type, "EvaluationResult": outcome}


def _important_form_keys(true_items: list[Condition], results: dict[str, bool]) -> list[dict[str, Any]]:
    """``humanLoopContext.importantFormKeys``: the keys of the Textract conditions that made the loop start."""
    keys: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(condition: Condition) -> None:
        if not results.get(condition.path):
            return
        if isinstance(condition, LogicalCondition):
            for item in condition.items:
                visit(item)
            return
        key = condition.parameters.get("ImportantFormKey")
        if not isinstance(key, str) or key == "*" or key in seen:
            return
        seen.add(key)
        aliases = [alias for alias in condition.parameters.get("ImportantFormKeyAliases", []) if alias != "*"]
        keys.append({"importantFormKey": key, "importantFormKeyAliases": aliases})

    for item in true_items:
        visit(item)
    return keys


class _Spelling:
    """Field names in the response's spelling: A2I's camelCase or the AI service API's PascalCase."""

    def __init__(self, pascal: bool) -> None:
        self.pascal = pascal

    def __call__(self, camel: str) -> str:
        return camel[0].upper() + camel[1:] if self.pascal else camel


@dataclass(eq=False)
class _Pair:
    key: dict[str, Any]
    text: str
    key_value_blocks: list[dict[str, Any]]
    words: list[dict[str, Any]]
    block_ids: set[str]


def _block_id(block: dict[str, Any], k: Any) -> str | None:
    """A block's id; None unless a string (a malformed response may hold anything there)."""
    found = block.get(k("id"))
    return found if isinstance(found, str) else None


class _TextractView:
    def __init__(self, response: Mapping[str, Any]) -> None:
        if "Blocks" in response:
            self.k = _Spelling(True)
        elif "blocks" in response:
            self.k = _Spelling(False)
        else:
            raise A2IValidationError("the response has no Blocks: give a Textract AnalyzeDocument response with "
                                     "FeatureTypes FORMS (Blocks, PascalCase) or A2I's aiServiceResponse (blocks)")
        blocks = response[self.k("blocks")]
        if not isinstance(blocks, list):
            raise A2IValidationError(f"the response's {self.k('blocks')} must be a list, not {_kind(blocks)}")
        k = self.k
        self.blocks = [block for block in blocks if isinstance(block, dict)]
        self.by_id = {block[k("id")]: block for block in self.blocks if isinstance(block.get(k("id")), str)}
        self.pairs = [self._pair(block) for block in self.blocks
                      if block.get(k("blockType")) == "KEY_VALUE_SET" and "KEY" in _list(block.get(k("entityTypes")))]

    def _related(self, block: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        k = self.k
        found = []
        for relationship in _list(block.get(k("relationships"))):
            if isinstance(relationship, dict) and relationship.get(k("type")) == kind:
                ids = [i for i in _list(relationship.get(k("ids"))) if isinstance(i, str)]
                found += [self.by_id[i] for i in ids if i in self.by_id]
        return found

    def _pair(self, key: dict[str, Any]) -> _Pair:
        k = self.k
        values = [block for block in self._related(key, "VALUE") if block.get(k("blockType")) == "KEY_VALUE_SET"]
        key_children = self._related(key, "CHILD")
        children = key_children + [child for value in values for child in self._related(value, "CHILD")]
        text = " ".join(str(word.get(k("text"), "")) for word in key_children if word.get(k("blockType")) == "WORD")
        words = [child for child in children if child.get(k("blockType")) == "WORD"]
        ids = {block[k("id")] for block in [key, *values, *children] if isinstance(block.get(k("id")), str)}
        return _Pair(key, _collapse(text), [key, *values], words, ids)

    def matching(self, names: tuple[str, ...]) -> list[int]:
        """The indexes of the pairs whose key is one of the names ("*": any key)."""
        return [index for index, pair in enumerate(self.pairs) if "*" in names or pair.text in names]

    def check(self, condition: SimpleCondition) -> frozenset:
        k = self.k
        triggered = set()
        for index in self.matching(condition.names):
            pair = self.pairs[index]
            for threshold in condition.thresholds:
                blocks = pair.key_value_blocks if threshold.family == KEY_VALUE_BLOCK else pair.words
                if any(threshold.holds(block.get(k("confidence"))) for block in blocks):
                    triggered.add(index)
                    break
        return frozenset(triggered)

    def select(self, selection: Selection) -> dict[str, Any]:
        pairs = self.pairs if isinstance(selection, _All) else [self.pairs[index] for index in sorted(selection)]
        ids: set[str] = set().union(*(pair.block_ids for pair in pairs)) if pairs else set()
        return {self.k("blocks"): [self._trim(block) for block in self.blocks if _block_id(block, self.k) in ids]}

    def _trim(self, block: dict[str, Any]) -> dict[str, Any]:
        k = self.k
        if block.get(k("blockType")) == "KEY_VALUE_SET":
            names = ["blockType", "confidence", "entityTypes", "geometry", "id", "relationships"]
        else:
            names = ["blockType", "id", "selectionStatus", "text"]
        trimmed = {k(name): copy.deepcopy(block[k(name)]) for name in names if k(name) in block}
        geometry = trimmed.get(k("geometry"))
        if isinstance(geometry, dict):
            trimmed[k("geometry")] = {key: value for key, value in geometry.items() if key == k("polygon")}
        return trimmed


class _RekognitionView:
    def __init__(self, response: Mapping[str, Any]) -> None:
        if "ModerationLabels" in response:
            self.k = _Spelling(True)
        elif "moderationLabels" in response:
            self.k = _Spelling(False)
        else:
            raise A2IValidationError("the response has no ModerationLabels: give a Rekognition DetectModerationLabels "
                                     "response (ModerationLabels) or A2I's aiServiceResponse (moderationLabels)")
        labels = response[self.k("moderationLabels")]
        if not isinstance(labels, list):
            raise A2IValidationError(f"the response's {self.k('moderationLabels')} must be a list")
        self.response = response
        self.labels = [label for label in labels if isinstance(label, dict)]

    def check(self, condition: SimpleCondition) -> frozenset:
        k = self.k
        name = condition.parameters["ModerationLabelName"]
        return frozenset(
            index for index, label in enumerate(self.labels)
            if (name == "*" or label.get(k("name")) == name)
            and any(threshold.holds(label.get(k("confidence"))) for threshold in condition.thresholds))

    def select(self, selection: Selection) -> dict[str, Any]:
        indexes = range(len(self.labels)) if isinstance(selection, _All) else sorted(selection)
        selected: dict[str, Any] = {self.k("moderationLabels"): [copy.deepcopy(self.labels[i]) for i in indexes]}
        version = self.k("moderationModelVersion")
        if version in self.response:
            selected[version] = self.response[version]
        return selected


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


# ---------------------------------------------------------------------------------------------------------------
# Simulation over recorded responses (``airflow-a2i activation simulate``)


@dataclass
class ResponseDocument:
    """One recorded response: a raw Textract/Rekognition response, or an A2I output.json (its aiServiceResponse)."""

    name: str
    response: dict[str, Any]
    request: dict[str, Any] | None = None
    request_source: str | None = None


def response_source(response: Mapping[str, Any]) -> str | None:
    if "Blocks" in response or "blocks" in response:
        return TEXTRACT
    if "ModerationLabels" in response or "moderationLabels" in response:
        return REKOGNITION
    return None


def read_response_document(name: str, data: object) -> ResponseDocument:
    """Unwrap a recorded response; raises ValueError saying why it is not one."""
    if not isinstance(data, dict):
        raise ValueError(f"is {_kind(data)}, not a JSON object")
    nested = data.get("inputContent")
    content: dict[str, Any] = nested if isinstance(nested, dict) else data
    if isinstance(content.get("aiServiceResponse"), dict):
        request = content.get("aiServiceRequest")
        response = content["aiServiceResponse"]
        return ResponseDocument(name, response, request if isinstance(request, dict) else None,
                                response_source(response))
    source = response_source(data)
    if source is None:
        raise ValueError("is neither a Textract AnalyzeDocument response (Blocks), a Rekognition "
                         "DetectModerationLabels response (ModerationLabels) nor an A2I output.json")
    return ResponseDocument(name, data, None, source)


def load_response_documents(location: str) -> tuple[list[ResponseDocument], list[tuple[str, str]]]:
    """The *.json responses under a directory (recursively) or an ``s3://bucket/prefix`` (boto3, which honours
    ``AWS_ENDPOINT_URL``); returns the documents and the skipped files with the reason."""
    documents: list[ResponseDocument] = []
    skipped: list[tuple[str, str]] = []
    for name, text in _read_json_files(location):
        try:
            documents.append(read_response_document(name, json.loads(text)))
        except ValueError as error:  # JSONDecodeError is a ValueError
            skipped.append((name, str(error) if not isinstance(error, json.JSONDecodeError)
                            else f"is not valid JSON ({error})"))
    return documents, skipped


def _read_json_files(location: str) -> Iterable[tuple[str, str | bytes]]:
    if location.startswith("s3://"):
        import boto3  # only for s3:// locations: keeps this module cheap to import

        from airflow_a2i.s3_uris import split_s3_uri

        bucket, prefix = split_s3_uri(location)
        client = boto3.client("s3")
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".json"):
                    body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    yield f"s3://{bucket}/{item['Key']}", body
        return
    root = Path(location)
    if not root.is_dir():
        raise FileNotFoundError(f"{location} is not a directory; give a directory of *.json responses or "
                                "s3://bucket/prefix")
    for path in sorted(root.rglob("*.json")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes()


@dataclass
class SimulationReport:
    conditions: Conditions
    results: list[tuple[ResponseDocument, ActivationResult]]
    skipped: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        total = len(self.results)
        activated = [document.name for document, result in self.results if result.activated]
        per_condition = []
        for index, item in enumerate(self.conditions.items):
            names = [document.name for document, result in self.results if result.top_level_results[index]]
            per_condition.append({"index": index, "path": item.path, "summary": item.summary(),
                                  "activated": len(names), "share": _share(len(names), total), "documents": names})
        return {
            "requestSource": self.conditions.request_source,
            "documents": total,
            "activated": len(activated),
            "share": _share(len(activated), total),
            "conditions": per_condition,
            "results": [{"document": document.name, "activated": result.activated, "reasons": result.reasons,
                         "conditions": result.top_level_results} for document, result in self.results],
            "skipped": [{"document": name, "reason": reason} for name, reason in self.skipped],
        }

    def to_text(self) -> str:
        report = self.to_dict()
        total = report["documents"]
        lines = [f"Request source: {report['requestSource']}",
                 f"Would go to human review: {report['activated']} of {total} documents ({_percent(report['share'])})",
                 "", "Per top-level condition (a document can meet several):"]
        for condition in report["conditions"]:
            summary = condition["summary"] if len(condition["summary"]) <= 100 else condition["summary"][:97] + "..."
            lines.append(f"  [{condition['index']}] {summary}: {condition['activated']} of {total} "
                         f"({_percent(condition['share'])})")
        lines += ["", "Documents that would go to review:"]
        chosen = [result for result in report["results"] if result["activated"]]
        for result in chosen:
            met = ", ".join(str(index) for index, value in enumerate(result["conditions"]) if value)
            lines.append(f"  {result['document']}  (conditions {met})")
        if not chosen:
            lines.append("  none")
        if report["skipped"]:
            lines += ["", "Skipped:"] + [f"  {item['document']}: {item['reason']}" for item in report["skipped"]]
        return "\n".join(lines)


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def simulate(conditions: Conditions, documents: Iterable[ResponseDocument]) -> SimulationReport:
    """Evaluate the conditions on each recorded response of the conditions' request source."""
    results = []
    skipped = []
    for document in documents:
        if document.request_source != conditions.request_source:
            skipped.append((document.name, f"is a {document.request_source or 'unknown'} response, not "
                                           f"{conditions.request_source}"))
            continue
        try:
            results.append((document, evaluate(conditions, document.response, request=document.request)))
        except A2IValidationError as error:
            skipped.append((document.name, str(error)))
    return SimulationReport(conditions, results, skipped)


def _infer_source_from_conditions(data: object) -> str | None:
    found: set[str] = set()

    def visit(value: object) -> None:
        if isinstance(value, dict):
            condition_type = value.get("ConditionType")
            for source, types in _TYPES.items():
                if condition_type in types and condition_type != "Sampling":
                    found.add(source)
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(data)
    return found.pop() if len(found) == 1 else None


_SHORT_SOURCES = {"textract": TEXTRACT, "rekognition": REKOGNITION}


def run_simulate(conditions_file: str | Path, responses: str, request_source: str | None = None,
                 as_json: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``airflow-a2i activation simulate``: 0 done, 1 nothing to evaluate or responses unreadable, 2 bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        text = Path(conditions_file).read_text(encoding="utf-8")
    except OSError as error:
        print(f"Cannot read the conditions file: {error}", file=err)
        return 2
    source = _SHORT_SOURCES.get(request_source or "", request_source)
    document: str | dict[str, Any] = text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "HumanLoopActivationConfig" in data:  # a whole flow definition
        source = source or (data.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
        try:
            document = data["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"][
                "HumanLoopActivationConditions"]
        except (KeyError, TypeError):
            print("Invalid activation conditions: the flow definition's HumanLoopActivationConfig has no "
                  "HumanLoopActivationConditionsConfig.HumanLoopActivationConditions", file=err)
            return 2
        data = json.loads(document) if isinstance(document, str) and _is_json(document) else document
    try:
        documents, skipped = load_response_documents(responses)
    except FileNotFoundError as error:
        print(str(error), file=err)
        return 2
    except Exception as error:  # botocore's errors (no bucket, no credentials), without importing botocore here
        print(f"Cannot read the responses at {responses}: {error}", file=err)
        return 1
    source = source or _infer_source_from_conditions(data) or next(
        (item.request_source for item in documents if item.request_source), None)
    if source is None:
        print("Cannot tell the request source: give --request-source textract or rekognition", file=err)
        return 2
    try:
        conditions = parse_conditions(document, source)
    except ActivationConditionError as error:
        print(f"Invalid activation conditions in {conditions_file}: {error}", file=err)
        return 2
    report = simulate(conditions, documents)
    report.skipped = skipped + report.skipped
    if as_json:  # the text report lists them itself
        for name, reason in report.skipped:
            print(f"Skipped {name}: {reason}", file=err)
    print(json.dumps(report.to_dict(), indent=2) if as_json else report.to_text(), file=out)
    if not report.results:
        print(f"No {conditions.request_source} responses to evaluate under {responses}", file=err)
        return 1
    return 0


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
