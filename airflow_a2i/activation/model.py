"""The activation-condition language's constants and its parsed form."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Literal

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


def _collapse(text: str) -> str:
    """Runs of whitespace as one space, none at the ends: how A2I compares form keys."""
    return " ".join(text.split())
