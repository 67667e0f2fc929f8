"""Parsing and validation of activation conditions, with errors that say what to change."""

from __future__ import annotations

import copy
import difflib
import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from airflow_a2i.activation.model import (
    _ALL_THRESHOLDS,
    _SOURCE_NAMES,
    _TYPES,
    COMPARISONS,
    KEY_VALUE_BLOCK,
    LABEL,
    MAX_DOCUMENT_CHARACTERS,
    MAX_NESTING,
    REQUEST_SOURCES,
    WORD_BLOCK,
    ActivationConditionError,
    Condition,
    Conditions,
    LogicalCondition,
    SimpleCondition,
    Threshold,
    _TypeSpec,
)


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
