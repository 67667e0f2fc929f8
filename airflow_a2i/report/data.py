"""The review report's input: the results operator's rows read as pages and fields (pure, no I/O).

A row of ``results.jsonl`` is one item: a page of a batch, or one document. Its ``fields`` (Textract forms) say
for each key-value pair what the machine read, with what confidence, and whether a person reviewed and
corrected it. A reviewer is taken to be right: a corrected field was an error of the machine, a reviewed field
left alone was right. Several runs' rows combine by concatenation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_a2i.activation.model import (
    KEY_VALUE_BLOCK,
    TEXTRACT,
    ActivationConditionError,
    Condition,
    Conditions,
    LogicalCondition,
)


@dataclass(frozen=True, slots=True)
class Field:
    """One key-value pair the machine read (``confidence`` None for one a reviewer added)."""

    key: str
    confidence: float | None
    reviewed: bool
    corrected: bool
    added: bool


@dataclass(frozen=True, slots=True)
class Answer:
    worker_id: str
    seconds: float | None


@dataclass(frozen=True, slots=True)
class Page:
    """One row: an item, reviewed in a loop or not.

    ``sampled``: a top-level Sampling condition drew it (True), it was not drawn (False), not known (None).
    ``conditions_met``: the summaries of the top-level conditions that held, when the loop recorded them.
    """

    item_key: str
    document: str | None
    loop: str | None
    status: str | None
    sampled: bool | None
    fields: tuple[Field, ...]
    answers: tuple[Answer, ...]
    agreement: float | None
    conditions_met: tuple[str, ...]
    has_fields: bool

    @property
    def reviewed(self) -> bool:
        return self.loop is not None and self.status == "Completed" and bool(self.answers)


def pages_of(rows: Iterable[Mapping[str, Any]]) -> list[Page]:
    """The rows as pages; a row that is not a result line raises ValueError saying which."""
    pages = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping) or "human_loop_name" not in row:
            raise ValueError(f"line {index + 1} is not a results line of A2IHumanLoopResultsOperator "
                             "(no human_loop_name)")
        fields = tuple(Field(key=str(field.get("key") or ""),
                             confidence=_number(field.get("machine_confidence")),
                             reviewed=bool(field.get("reviewed")), corrected=bool(field.get("corrected")),
                             added=bool(field.get("added_by_reviewer")))
                       for field in row.get("fields") or [] if isinstance(field, Mapping))
        answers = tuple(Answer(worker_id=str(answer.get("worker_id")),
                               seconds=_number(answer.get("time_spent_in_seconds")))
                        for answer in row.get("answers") or [] if isinstance(answer, Mapping))
        pages.append(Page(
            item_key=str(row.get("item_key") if row.get("item_key") is not None else row.get("human_loop_name")),
            document=row.get("document"), loop=row.get("human_loop_name"), status=row.get("status"),
            sampled=row.get("sampled") if isinstance(row.get("sampled"), bool) else None,
            fields=fields, answers=answers, agreement=_number(row.get("agreement")),
            conditions_met=tuple(_top_level_met(row.get("activation_results"))),
            has_fields=row.get("fields") is not None))
    return pages


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _top_level_met(condition_results: object) -> list[str]:
    if not isinstance(condition_results, Mapping) or not isinstance(condition_results.get("Conditions"), list):
        return []
    return [condition_summary(item) for item in condition_results["Conditions"]
            if isinstance(item, Mapping) and item.get("EvaluationResult") is True]


def condition_summary(item: Mapping[str, Any]) -> str:
    """A short name of a condition as written: ``Sampling(5%)``, ``ImportantFormKeyConfidenceCheck('Total' KV<80)``."""
    for operator in ("And", "Or"):
        if isinstance(item.get(operator), list):
            return f"{operator}({', '.join(condition_summary(part) for part in item[operator])})"
    parameters = item.get("ConditionParameters") or {}
    kind = str(item.get("ConditionType"))
    if kind == "Sampling":
        return f"Sampling({parameters.get('RandomSamplingPercentage')}%)"
    name = parameters.get("ImportantFormKey", parameters.get("ModerationLabelName"))
    tests = " ".join(f"{parameter.replace('BlockConfidence', '').replace('KeyValue', 'KV')}={value}"
                     for parameter, value in sorted(parameters.items()) if "Confidence" in parameter)
    return f"{kind}({name!r}{' ' + tests if tests else ''})"


def recorded_conditions(rows: Iterable[Mapping[str, Any]]) -> Conditions | None:
    """The activation conditions the loops were started under, read back from the first loop that recorded them
    (A2I repeats the conditions as written in ``humanTaskActivationConditionResults``); None without any."""
    from airflow_a2i.activation.parse import parse_conditions

    for row in rows:
        results = row.get("activation_results")
        if isinstance(results, Mapping) and isinstance(results.get("Conditions"), list) and \
                row.get("request_source") in (None, TEXTRACT):
            try:
                return parse_conditions(_without_results(results), TEXTRACT)
            except ActivationConditionError:
                continue
    return None


def _without_results(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _without_results(item) for key, item in value.items() if key != "EvaluationResult"}
    if isinstance(value, list):
        return [_without_results(item) for item in value]
    return copy.deepcopy(value)


def load_conditions(document: str | Mapping[str, Any]) -> Conditions:
    """Textract activation conditions given by the user (a JSON string or object, or a whole flow definition)."""
    from airflow_a2i.activation.evaluate import conditions_of_flow_definition
    from airflow_a2i.activation.parse import parse_conditions

    data = json.loads(document) if isinstance(document, str) else document
    if isinstance(data, Mapping) and "HumanLoopActivationConfig" in data:
        return conditions_of_flow_definition(data)
    return parse_conditions(data, TEXTRACT)


def selects_field(conditions: Conditions, key: str, confidence: float | None) -> bool:
    """Whether the conditions, Sampling aside, would send this field to review: a key-value confidence check of
    its key (or ``*``) that its confidence meets. Word-confidence thresholds are not judged (the results keep the
    pair's confidence only); a Sampling inside an ``And`` counts as not drawn."""
    return any(_selects(item, " ".join(key.split()), confidence) for item in conditions.items)


def _selects(condition: Condition, key: str, confidence: float | None) -> bool:
    if isinstance(condition, LogicalCondition):
        outcomes = [_selects(item, key, confidence) for item in condition.items]
        return all(outcomes) if condition.operator == "And" else any(outcomes)
    if condition.condition_type != "ImportantFormKeyConfidenceCheck" or confidence is None:
        return False
    if "*" not in condition.names and key not in condition.names:
        return False
    return any(threshold.holds(confidence) for threshold in condition.thresholds
               if threshold.family == KEY_VALUE_BLOCK)


def key_value_threshold(conditions: Conditions | None) -> float | None:
    """The ``KeyValueBlockConfidenceLessThan`` of a ``*`` confidence check, when the conditions have one."""
    for item in conditions.items if conditions else ():
        if not isinstance(item, LogicalCondition) and item.condition_type == "ImportantFormKeyConfidenceCheck" \
                and "*" in item.names:
            for threshold in item.thresholds:
                if threshold.family == KEY_VALUE_BLOCK and threshold.comparison in ("LessThan", "LessThanEquals"):
                    return threshold.value
    return None


def sampling_percentage(conditions: Conditions | None) -> float | None:
    """The top-level Sampling percentage of the conditions, if any."""
    for item in conditions.items if conditions else ():
        if not isinstance(item, LogicalCondition) and item.condition_type == "Sampling":
            return float(item.parameters["RandomSamplingPercentage"])
    return None
