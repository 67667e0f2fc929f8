"""Activation conditions: the parser's errors, A2I's semantics on hand-made responses and on a real recorded loop,
Sampling, both block spellings, and ``airflow-a2i activation simulate``."""

from __future__ import annotations

import copy
import itertools
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_a2i.activation import (
    COMPARISONS,
    MAX_DOCUMENT_CHARACTERS,
    REKOGNITION,
    TEXTRACT,
    ActivationConditionError,
    conditions_of_flow_definition,
    evaluate,
    evaluate_activation_conditions,
    evaluate_flow_definition,
    parse_conditions,
    sampling_draw,
)
from airflow_a2i.cli import main
from airflow_a2i.exceptions import A2IValidationError
from tests.conftest import unique
from tests.strategies import locations

FIXTURES = Path(__file__).parent / "fixtures"

# ---------------------------------------------------------------------------------------------------------------
# Hand-made responses

_ids = itertools.count()


def _id() -> str:
    return f"block-{next(_ids)}"


def _words(text: str, confidences: float | list[float]) -> list[dict[str, Any]]:
    parts = text.split()
    if not isinstance(confidences, list):
        confidences = [confidences] * len(parts)
    return [{"BlockType": "WORD", "Confidence": confidence, "Text": part, "Id": _id(), "TextType": "PRINTED",
             "Geometry": {"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1},
                          "Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 0.2, "Y": 0.1}]}}
            for part, confidence in zip(parts, confidences, strict=True)]


def pair(key: str, value: str = "value", *, kv: float = 99.0, key_words: float | list[float] = 99.0,
         value_words: float | list[float] = 99.0) -> list[dict[str, Any]]:
    """A Textract key-value pair (PascalCase): its WORD blocks, then the KEY and VALUE KEY_VALUE_SET blocks."""
    key_words_blocks, value_word_blocks = _words(key, key_words), _words(value, value_words)
    value_id = _id()
    geometry = {"BoundingBox": {"Width": 0.2, "Height": 0.1, "Left": 0.1, "Top": 0.1},
                "Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 0.3, "Y": 0.1}]}
    key_block = {"BlockType": "KEY_VALUE_SET", "Confidence": kv, "Geometry": geometry, "Id": _id(),
                 "Relationships": [{"Type": "VALUE", "Ids": [value_id]},
                                   {"Type": "CHILD", "Ids": [word["Id"] for word in key_words_blocks]}],
                 "EntityTypes": ["KEY"]}
    value_block = {"BlockType": "KEY_VALUE_SET", "Confidence": kv, "Geometry": geometry, "Id": value_id,
                   "Relationships": [{"Type": "CHILD", "Ids": [word["Id"] for word in value_word_blocks]}],
                   "EntityTypes": ["VALUE"]}
    return [*key_words_blocks, *value_word_blocks, key_block, value_block]


def textract(*pairs: list[dict[str, Any]]) -> dict[str, Any]:
    page = {"BlockType": "PAGE", "Id": _id(), "Confidence": 99.9}
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": [page, *(block for blocks in pairs for block in blocks)]}


def labels(*items: tuple[str, float] | tuple[str, float, str]) -> dict[str, Any]:
    return {"ModerationLabels": [{"Confidence": item[1], "Name": item[0], "ParentName": item[2] if len(item) > 2
                                  else ""} for item in items], "ModerationModelVersion": "7.0"}


def camel(value: Any) -> Any:
    """A2I's spelling of an AI service response: every key with a lowercase first letter."""
    if isinstance(value, dict):
        return {key[0].lower() + key[1:]: camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[0].upper() + key[1:]: pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [pascal(item) for item in value]
    return value


def ifkcc(key: str, aliases: list[str] | None = None, **thresholds: float) -> dict[str, Any]:
    parameters: dict[str, Any] = {"ImportantFormKey": key, **thresholds}
    if aliases is not None:
        parameters["ImportantFormKeyAliases"] = aliases
    return {"ConditionType": "ImportantFormKeyConfidenceCheck", "ConditionParameters": parameters}


def missing(key: str, aliases: list[str] | None = None) -> dict[str, Any]:
    parameters: dict[str, Any] = {"ImportantFormKey": key}
    if aliases is not None:
        parameters["ImportantFormKeyAliases"] = aliases
    return {"ConditionType": "MissingImportantFormKey", "ConditionParameters": parameters}


def sampling(percentage: float) -> dict[str, Any]:
    return {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": percentage}}


def label_check(name: str, **thresholds: float) -> dict[str, Any]:
    return {"ConditionType": "ModerationLabelConfidenceCheck",
            "ConditionParameters": {"ModerationLabelName": name, **thresholds}}


def run(response: dict[str, Any], *conditions: dict[str, Any], source: str = TEXTRACT, **kwargs: Any):
    return evaluate_activation_conditions({"Conditions": list(conditions)}, source, response, **kwargs)


def strip_results(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: strip_results(item) for key, item in value.items() if key != "EvaluationResult"}
    if isinstance(value, list):
        return [strip_results(item) for item in value]
    return value


def selected_texts(result) -> list[str]:
    blocks = result.selected_response.get("Blocks", result.selected_response.get("blocks"))
    return [block.get("Text", block.get("text")) for block in blocks if "Text" in block or "text" in block]


# ---------------------------------------------------------------------------------------------------------------
# Threshold suffixes, on the three confidence families

BOUNDARIES = [  # (comparison, threshold, expected) for a confidence of exactly 50
    ("Equals", 50, True), ("Equals", 50.5, False),
    ("LessThan", 50, False), ("LessThan", 50.5, True),
    ("LessThanEquals", 50, True), ("LessThanEquals", 49.5, False),
    ("GreaterThan", 50, False), ("GreaterThan", 49.5, True),
    ("GreaterThanEquals", 50, True), ("GreaterThanEquals", 50.5, False),
]


def test_boundaries_cover_every_suffix() -> None:
    assert {comparison for comparison, _, _ in BOUNDARIES} == set(COMPARISONS)


@pytest.mark.parametrize(("comparison", "threshold", "expected"), BOUNDARIES)
def test_key_value_block_threshold(comparison: str, threshold: float, expected: bool) -> None:
    response = textract(pair("Name:", "Sue", kv=50, key_words=99, value_words=99))
    result = run(response, ifkcc("Name:", **{f"KeyValueBlockConfidence{comparison}": threshold}))
    assert result.activated is expected
    assert result.condition_results["Conditions"][0]["EvaluationResult"] is expected


@pytest.mark.parametrize(("comparison", "threshold", "expected"), BOUNDARIES)
def test_word_block_threshold(comparison: str, threshold: float, expected: bool) -> None:
    response = textract(pair("Name:", "Sue", kv=99, key_words=50, value_words=50))
    result = run(response, ifkcc("Name:", **{f"WordBlockConfidence{comparison}": threshold}))
    assert result.activated is expected


@pytest.mark.parametrize(("comparison", "threshold", "expected"), BOUNDARIES)
def test_moderation_label_threshold(comparison: str, threshold: float, expected: bool) -> None:
    result = run(labels(("Suggestive", 50)), label_check("Suggestive", **{f"Confidence{comparison}": threshold}),
                 source=REKOGNITION)
    assert result.activated is expected
    assert len(result.selected_response["ModerationLabels"]) == (1 if expected else 0)


# ---------------------------------------------------------------------------------------------------------------
# Textract semantics


@pytest.mark.parametrize(("kv", "words", "expected"), [(40, 99, True), (99, 40, True), (99, 99, False), (40, 40, True)])
def test_thresholds_inside_one_check_combine_with_or(kv: float, words: float, expected: bool) -> None:
    # As A2I did on the recorded loop: key-value confidence < 45 alone was enough, with words at 99.7-99.8.
    response = textract(pair("Total", "$148.99", kv=kv, key_words=words, value_words=99))
    result = run(response, ifkcc("Total", KeyValueBlockConfidenceLessThan=45, WordBlockConfidenceLessThan=85))
    assert result.activated is expected


def test_word_thresholds_look_at_the_value_words_too() -> None:
    response = textract(pair("Name:", "Sue Smith", kv=99, key_words=99, value_words=[99, 30]))
    assert run(response, ifkcc("Name:", WordBlockConfidenceLessThan=85)).activated
    steady = textract(pair("Name:", "Sue Smith", kv=99))
    assert not run(steady, ifkcc("Name:", WordBlockConfidenceLessThan=85)).activated


@pytest.mark.parametrize(("condition_key", "aliases", "document_key", "expected"), [
    ("Policy Number:", None, "Policy Number:", True),
    ("Policy Number:", ["Policy No:", "Policy #:"], "Policy No:", True),  # an alias
    ("Policy Number:", ["Policy No.", "Policy #:"], "Policy:", False),  # as recorded: "Policy:" is not a match
    ("Policy Number:", None, "policy number:", False),  # case-sensitive
    ("Policy Number:", None, "Policy Number", False),  # exact: no colon, no match
    ("Policy  Number: ", None, "Policy Number:", True),  # runs of whitespace collapse
    ("*", None, "Anything at all", True),
    ("Name", ["*"], "Date:", True),
])
def test_key_matching(condition_key: str, aliases: list[str] | None, document_key: str, expected: bool) -> None:
    response = textract(pair(document_key, "v", kv=10))
    assert run(response, ifkcc(condition_key, aliases, KeyValueBlockConfidenceLessThan=50)).activated is expected
    assert run(response, missing(condition_key, aliases)).activated is (not expected)


def test_key_text_is_its_words_joined_by_spaces() -> None:
    response = textract(pair("Date of Birth:", "1/1/1990", kv=10))
    assert run(response, ifkcc("Date of Birth:", KeyValueBlockConfidenceLessThan=50)).activated
    assert not run(response, ifkcc("DateofBirth:", KeyValueBlockConfidenceLessThan=50)).activated


def test_whitespace_inside_word_texts_collapses_too() -> None:
    blocks = pair("Date of Birth:", kv=10)
    blocks[0]["Text"] = "Date "  # as a worker's correction may leave it
    assert run(textract(blocks), ifkcc("Date of Birth:", KeyValueBlockConfidenceLessThan=50)).activated


def test_missing_important_form_key_selects_nothing_and_names_the_key() -> None:
    response = textract(pair("Name:", "Sue", kv=99))
    result = run(response, missing("Mailing Address:", ["Address:"]))
    assert result.activated
    assert result.selected_response == {"Blocks": []}
    assert result.important_form_keys == [{"importantFormKey": "Mailing Address:",
                                           "importantFormKeyAliases": ["Address:"]}]


def test_missing_any_key_only_on_a_form_without_keys() -> None:
    assert run(textract(), missing("*")).activated
    assert not run(textract(pair("Name:")), missing("*")).activated


def test_selected_response_holds_only_the_triggering_pairs_in_a2i_shape() -> None:
    low, high, other = pair("Name:", "Sue", kv=30), pair("Date:", "today", kv=95), pair("Total", "$1", kv=20)
    response = textract(low, high, other)
    result = run(response, ifkcc("*", KeyValueBlockConfidenceLessThan=50))
    blocks = result.selected_response["Blocks"]
    expected_ids = [block["Id"] for block in [*low, *other]]
    assert [block["Id"] for block in blocks] == expected_ids  # the response's order, nothing else
    assert list(result.selected_response) == ["Blocks"]
    words = [block for block in blocks if block["BlockType"] == "WORD"]
    assert all(set(word) == {"BlockType", "Id", "Text"} for word in words)
    key_values = [block for block in blocks if block["BlockType"] == "KEY_VALUE_SET"]
    assert all(set(block) == {"BlockType", "Confidence", "EntityTypes", "Geometry", "Id", "Relationships"}
               for block in key_values)
    assert all(set(block["Geometry"]) == {"Polygon"} for block in key_values)
    assert selected_texts(result) == ["Name:", "Sue", "Total", "$1"]


def test_important_form_keys_are_those_of_true_conditions() -> None:
    response = textract(pair("Name:", kv=30), pair("Date:", kv=99))
    result = run(response, ifkcc("Name:", ["Full Name:"], KeyValueBlockConfidenceLessThan=50),
                 ifkcc("Date:", KeyValueBlockConfidenceLessThan=50), ifkcc("*", KeyValueBlockConfidenceLessThan=40))
    assert result.important_form_keys == [{"importantFormKey": "Name:", "importantFormKeyAliases": ["Full Name:"]}]


# ---------------------------------------------------------------------------------------------------------------
# And / Or, two levels


def test_and_needs_every_member_and_or_any() -> None:
    response = textract(pair("Name:", kv=30), pair("Date:", kv=99))
    low_name = ifkcc("Name:", KeyValueBlockConfidenceLessThan=50)
    low_date = ifkcc("Date:", KeyValueBlockConfidenceLessThan=50)
    assert not run(response, {"And": [low_name, low_date]}).activated
    assert run(response, {"Or": [low_name, low_date]}).activated
    assert run(response, {"And": [low_name, missing("Policy:")]}).activated
    assert not run(response, {"Or": [low_date, missing("Name:")]}).activated


def test_two_levels_are_evaluated_completely_with_a2i_result_shape() -> None:
    response = textract(pair("Name:", kv=30), pair("Date:", kv=99))
    low_name = ifkcc("Name:", KeyValueBlockConfidenceLessThan=50)
    low_date = ifkcc("Date:", KeyValueBlockConfidenceLessThan=50)
    document = {"Conditions": [{"Or": [{"And": [low_name, low_date]}, {"And": [low_name, sampling(100)]}]},
                               missing("Date:")]}
    result = evaluate_activation_conditions(document, TEXTRACT, response)
    assert result.activated
    assert result.top_level_results == [True, False]
    first, second = result.condition_results["Conditions"]
    assert first["EvaluationResult"] is True
    assert [item["EvaluationResult"] for item in first["Or"]] == [False, True]
    assert [item["EvaluationResult"] for item in first["Or"][0]["And"]] == [True, False]  # no short-circuit
    assert [item["EvaluationResult"] for item in first["Or"][1]["And"]] == [True, True]
    assert second == {**missing("Date:"), "EvaluationResult": False}
    assert list(first) == ["EvaluationResult", "Or"]
    assert list(second) == ["ConditionParameters", "ConditionType", "EvaluationResult"]
    assert strip_results(result.condition_results) == document


def test_a_false_and_selects_nothing_even_from_its_true_members() -> None:
    response = textract(pair("Name:", kv=30), pair("Date:", kv=99), pair("Total", kv=20))
    result = run(response, {"And": [ifkcc("Name:", KeyValueBlockConfidenceLessThan=50),
                                     ifkcc("Date:", KeyValueBlockConfidenceLessThan=50)]},
                 ifkcc("Total", KeyValueBlockConfidenceLessThan=50))
    assert result.activated
    assert selected_texts(result) == ["Total", "value"]


def test_sampling_selects_everything_alone_and_only_gates_inside_an_and() -> None:
    response = textract(pair("Name:", kv=30), pair("Date:", kv=99))
    assert selected_texts(run(response, sampling(100))) == ["Name:", "value", "Date:", "value"]
    gated = run(response, {"And": [sampling(100), ifkcc("Name:", KeyValueBlockConfidenceLessThan=50)]})
    assert selected_texts(gated) == ["Name:", "value"]
    both = run(response, {"Or": [sampling(100), ifkcc("Name:", KeyValueBlockConfidenceLessThan=50)]})
    assert selected_texts(both) == ["Name:", "value", "Date:", "value"]


# ---------------------------------------------------------------------------------------------------------------
# Rekognition


def test_moderation_label_name_is_exact_and_case_sensitive_or_any() -> None:
    response = labels(("Suggestive", 96.7), ("Female Swimwear Or Underwear", 96.7, "Suggestive"))
    assert run(response, label_check("Suggestive", ConfidenceLessThan=98), source=REKOGNITION).activated
    assert not run(response, label_check("suggestive", ConfidenceLessThan=98), source=REKOGNITION).activated
    assert not run(response, label_check("Suggest", ConfidenceLessThan=98), source=REKOGNITION).activated
    every = run(response, label_check("*", ConfidenceGreaterThan=90), source=REKOGNITION)
    assert [label["Name"] for label in every.selected_response["ModerationLabels"]] == [
        "Suggestive", "Female Swimwear Or Underwear"]
    assert every.important_form_keys is None


def test_rekognition_example_of_the_a2i_guide() -> None:
    # The Rekognition output example of the A2I guide (documentation, not a recording): an Or of two checks.
    response = {"moderationLabels": [{"confidence": 96.7122802734375, "name": "Suggestive", "parentName": ""},
                                     {"confidence": 96.7122802734375, "name": "Female Swimwear Or Underwear",
                                      "parentName": "Suggestive"}], "moderationModelVersion": "3.0"}
    result = run(response, {"Or": [label_check("Suggestive", ConfidenceLessThan=98),
                                   label_check("Female Swimwear Or Underwear", ConfidenceGreaterThan=98)]},
                 source=REKOGNITION)
    assert [item["EvaluationResult"] for item in result.condition_results["Conditions"][0]["Or"]] == [True, False]
    assert result.selected_response == {
        "moderationLabels": [{"confidence": 96.7122802734375, "name": "Suggestive", "parentName": ""}],
        "moderationModelVersion": "3.0"}


def test_rekognition_sampling_selects_every_label() -> None:
    response = labels(("Suggestive", 60), ("Violence", 70))
    result = run(response, sampling(100), source=REKOGNITION)
    assert result.selected_response == response


# ---------------------------------------------------------------------------------------------------------------
# Invalid documents: each names the path and the fix

VALID_CHECK = ifkcc("Name:", KeyValueBlockConfidenceLessThan=50)


def with_parameters(**changes: Any) -> dict[str, Any]:
    condition = copy.deepcopy(VALID_CHECK)
    condition["ConditionParameters"].update(changes)
    return {"Conditions": [condition]}


INVALID = [
    pytest.param('{"Conditions": [{"ConditionType": "Sampling" "ConditionParameters": {}}]}', "",
                 "strict JSON", id="not-json"),
    pytest.param('{"Conditions": [{"ConditionType": "Sampling", "ConditionParameters": '
                 '{"RandomSamplingPercentage": NaN}}]}', "", "strict JSON", id="nan"),
    pytest.param("[]", "", '{"Conditions"', id="not-an-object"),
    pytest.param({}, "", 'Write {"Conditions": [...]}', id="no-conditions"),
    pytest.param({"Condition": [VALID_CHECK]}, "Condition", 'Did you mean "Conditions"', id="misspelt-conditions"),
    pytest.param({"Conditions": []}, "Conditions", "Add at least one condition", id="empty"),
    pytest.param({"Conditions": VALID_CHECK}, "Conditions", '"Conditions": [', id="conditions-not-a-list"),
    pytest.param({"Conditions": [{"And": [VALID_CHECK]}]}, "Conditions[0].And",
                 'without "And"', id="and-with-one-item"),
    pytest.param({"Conditions": [{"Or": []}]}, "Conditions[0].Or", "Add a second condition", id="empty-or"),
    pytest.param({"Conditions": [{"Or": [{"And": [{"Or": [VALID_CHECK, VALID_CHECK]}, VALID_CHECK]},
                                         VALID_CHECK]}]},
                 "Conditions[0].Or[0].And[0].Or", "Flatten", id="three-levels"),
    pytest.param({"Conditions": [{"And": [VALID_CHECK, VALID_CHECK], "Or": [VALID_CHECK, VALID_CHECK]}]},
                 "Conditions[0]", "its own object", id="and-and-or"),
    pytest.param({"Conditions": [{"And": [VALID_CHECK, VALID_CHECK], "ConditionType": "Sampling"}]},
                 "Conditions[0]", 'Move the simple condition into the "And"', id="and-mixed-with-simple"),
    pytest.param({"Conditions": [{"and": [VALID_CHECK, VALID_CHECK]}]}, "Conditions[0].and",
                 'Did you mean "And"', id="lowercase-and"),
    pytest.param({"Conditions": [{"ConditionType": "ImportantFormKeyCheck",
                                  "ConditionParameters": {"ImportantFormKey": "Name:"}}]},
                 "Conditions[0].ConditionType", 'Did you mean "ImportantFormKeyConfidenceCheck"', id="unknown-type"),
    pytest.param({"Conditions": [label_check("Suggestive", ConfidenceLessThan=50)]},
                 "Conditions[0].ConditionType", "HumanLoopRequestSource AWS/Rekognition", id="type-of-other-source"),
    pytest.param({"Conditions": [{"ConditionParameters": {"ImportantFormKey": "Name:"}}]}, "Conditions[0]",
                 "Name one of ['ImportantFormKeyConfidenceCheck'", id="no-type"),
    pytest.param({"Conditions": [{"ConditionType": "MissingImportantFormKey"}]}, "Conditions[0]",
                 '"ImportantFormKey": "Mail Address:"', id="no-parameters"),
    pytest.param(with_parameters(KeyValueBlockConfidenceLessThen=50),
                 "Conditions[0].ConditionParameters.KeyValueBlockConfidenceLessThen",
                 'Did you mean "KeyValueBlockConfidenceLessThan"', id="misspelt-parameter"),
    pytest.param(with_parameters(ConfidenceLessThan=50), "Conditions[0].ConditionParameters.ConfidenceLessThan",
                 "ImportantFormKeyConfidenceCheck takes", id="parameter-of-other-type"),
    pytest.param(with_parameters(KeyValueBlockConfidence={"LessThan": 50}),
                 "Conditions[0].ConditionParameters.KeyValueBlockConfidence",
                 'Write "KeyValueBlockConfidenceLessThan": 60', id="nested-threshold"),
    pytest.param(with_parameters(KeyValueBlockConfidenceLessThan=150),
                 "Conditions[0].ConditionParameters.KeyValueBlockConfidenceLessThan", "from 0 to 100",
                 id="threshold-out-of-range"),
    pytest.param(with_parameters(WordBlockConfidenceGreaterThan=-1),
                 "Conditions[0].ConditionParameters.WordBlockConfidenceGreaterThan", "from 0 to 100",
                 id="negative-threshold"),
    pytest.param(with_parameters(KeyValueBlockConfidenceLessThan="50"),
                 "Conditions[0].ConditionParameters.KeyValueBlockConfidenceLessThan", "without quotes",
                 id="threshold-as-string"),
    pytest.param(with_parameters(KeyValueBlockConfidenceLessThan=True),
                 "Conditions[0].ConditionParameters.KeyValueBlockConfidenceLessThan", "without quotes",
                 id="threshold-as-boolean"),
    pytest.param({"Conditions": [sampling(0)]}, "Conditions[0].ConditionParameters.RandomSamplingPercentage",
                 "from 0.01 to 100", id="sampling-zero"),
    pytest.param({"Conditions": [sampling(100.5)]}, "Conditions[0].ConditionParameters.RandomSamplingPercentage",
                 "from 0.01 to 100", id="sampling-over-100"),
    pytest.param({"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck",
                                  "ConditionParameters": {"ImportantFormKey": "Name:"}}]},
                 "Conditions[0].ConditionParameters", "Add at least one of", id="no-threshold"),
    pytest.param({"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck",
                                  "ConditionParameters": {"KeyValueBlockConfidenceLessThan": 50}}]},
                 "Conditions[0].ConditionParameters", "ImportantFormKeyConfidenceCheck needs it", id="no-key"),
    pytest.param(with_parameters(ImportantFormKey=""), "Conditions[0].ConditionParameters.ImportantFormKey",
                 '"*" for any key', id="empty-key"),
    pytest.param(with_parameters(ImportantFormKeyAliases="Name"),
                 "Conditions[0].ConditionParameters.ImportantFormKeyAliases", '["Mailing Address:"',
                 id="aliases-not-a-list"),
    pytest.param({"Conditions": [{**missing("Name:"), "EvaluationResult": True}]},
                 "Conditions[0].EvaluationResult", "Remove EvaluationResult", id="evaluation-result"),
    pytest.param({"Conditions": [{"ConditionType": "MissingImportantFormKey", "ConditionParameters": {
        "ImportantFormKey": "Name:", "KeyValueBlockConfidenceLessThan": 50}}]},
                 "Conditions[0].ConditionParameters.KeyValueBlockConfidenceLessThan",
                 "MissingImportantFormKey takes", id="threshold-on-missing-key"),
    pytest.param({"Conditions": ["Sampling"]}, "Conditions[0]", '{"And": [...]}', id="condition-not-an-object"),
]


@pytest.mark.parametrize(("document", "path", "fix"), INVALID)
def test_invalid_documents_name_the_path_and_the_fix(document: Any, path: str, fix: str) -> None:
    with pytest.raises(ActivationConditionError) as caught:
        parse_conditions(document, TEXTRACT)
    assert caught.value.path == path
    assert fix in str(caught.value)
    assert isinstance(caught.value, A2IValidationError)


def test_length_limit_is_10240_characters() -> None:
    valid = json.dumps({"Conditions": [VALID_CHECK]})
    padded = valid[:-1] + " " * (MAX_DOCUMENT_CHARACTERS - len(valid)) + "}"
    assert len(padded) == MAX_DOCUMENT_CHARACTERS
    parse_conditions(padded, TEXTRACT)
    with pytest.raises(ActivationConditionError, match=r"10,241 characters.*without spaces"):
        parse_conditions(padded[:-1] + " }", TEXTRACT)
    aliases = [f"Alias number {index}:" for index in range(600)]
    with pytest.raises(ActivationConditionError, match="at most 10,240"):
        parse_conditions({"Conditions": [ifkcc("Name:", aliases, KeyValueBlockConfidenceLessThan=50)]}, TEXTRACT)


def test_unknown_request_source_names_the_two_sources() -> None:
    with pytest.raises(ActivationConditionError, match="AWS/Rekognition/DetectModerationLabels/Image/V3"):
        parse_conditions({"Conditions": [sampling(5)]}, "AWS/Textract/AnalyzeDocument/Forms/V2")


def test_the_error_survives_pickling() -> None:
    with pytest.raises(ActivationConditionError) as caught:
        parse_conditions({"Conditions": []}, TEXTRACT)
    copied = pickle.loads(pickle.dumps(caught.value))
    assert (copied.path, str(copied)) == (caught.value.path, str(caught.value))


def test_two_levels_and_every_rekognition_suffix_parse() -> None:
    document = {"Conditions": [{"Or": [{"And": [label_check("A", ConfidenceLessThanEquals=99),
                                                label_check("A", ConfidenceGreaterThanEquals=90)]},
                                       {"And": [sampling(5), label_check("*", ConfidenceGreaterThan=50,
                                                                         ConfidenceEquals=20,
                                                                         ConfidenceLessThan=3)]}]}]}
    conditions = parse_conditions(json.dumps(document), REKOGNITION)
    assert conditions.document() == document
    assert json.loads(conditions.to_json()) == document


# ---------------------------------------------------------------------------------------------------------------
# The recorded loop


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    # The output.json of a real A2I human loop of the built-in Textract type, recorded by AWS and published in
    # aws-samples/amazon-textract-response-parser (Apache-2.0); its humanTaskActivationConditionResults and
    # selectedAiServiceResponse are A2I's own evaluation of six conditions inside one Or.
    return json.loads((FIXTURES / "a2i-textract-output.json").read_text())


def rounded(value: Any) -> Any:
    """A2I's selected blocks carry the confidences and polygons at more digits than its aiServiceResponse."""
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def test_recorded_loop_all_six_results_as_a2i_computed_them(recorded: dict[str, Any]) -> None:
    expected = recorded["humanTaskActivationConditionResults"]
    conditions = strip_results(expected)
    assert "EvaluationResult" not in json.dumps(conditions)
    result = evaluate_activation_conditions(conditions, recorded["awsManagedHumanLoopRequestSource"],
                                            recorded["aiServiceResponse"], request=recorded["aiServiceRequest"])
    assert result.condition_results == expected
    assert [item["EvaluationResult"] for item in result.condition_results["Conditions"][0]["Or"]] == [
        False, True, False, True, False, False]
    assert result.activated and result.reasons == ["ConditionsEvaluation"]
    assert json.loads(result.activation_output()["HumanLoopActivationConditionsEvaluationResults"]) == expected


def test_recorded_loop_selected_response(recorded: dict[str, Any]) -> None:
    result = evaluate_activation_conditions(
        strip_results(recorded["humanTaskActivationConditionResults"]), TEXTRACT, recorded["aiServiceResponse"])
    assert rounded(result.selected_response) == rounded(recorded["selectedAiServiceResponse"])
    assert [block["id"] for block in result.selected_response["blocks"]] == [
        block["id"] for block in recorded["selectedAiServiceResponse"]["blocks"]]
    assert [key["importantFormKey"] for key in result.important_form_keys or []] == ["Total:", "Policy Number:"]


def test_recorded_loop_in_textract_spelling_gives_the_same_decisions(recorded: dict[str, Any]) -> None:
    conditions = strip_results(recorded["humanTaskActivationConditionResults"])
    response = pascal(recorded["aiServiceResponse"])
    assert "Blocks" in response and "BlockType" in response["Blocks"][0]
    result = evaluate_activation_conditions(conditions, TEXTRACT, response)
    assert result.condition_results == recorded["humanTaskActivationConditionResults"]
    assert rounded(result.selected_response) == rounded(pascal(recorded["selectedAiServiceResponse"]))


EMPLOYMENT_CONDITIONS = {"Conditions": [
    ifkcc("Full Name:", ["Name:"], KeyValueBlockConfidenceLessThan=90),  # 87: true
    ifkcc("Phone Number:", KeyValueBlockConfidenceLessThan=90, WordBlockConfidenceLessThan=99),  # 91, 99.2+: false
    missing("Date of Birth:", ["DOB:"]),  # absent: true
    missing("Mailing Address:"),  # present: false
    {"And": [ifkcc("*", KeyValueBlockConfidenceGreaterThanEquals=95), sampling(100)]},  # Home Address (95): true
    {"Or": [ifkcc("Home Address:", WordBlockConfidenceLessThan=99.5), missing("Home Address:")]},  # 99.6+: false
]}


def test_employment_application_decisions_in_both_spellings() -> None:
    # A real Textract AnalyzeDocument response (FORMS and TABLES), PascalCase as the Textract API returns it.
    response = json.loads((FIXTURES / "textract-employment-application.json").read_text())
    result = evaluate_activation_conditions(EMPLOYMENT_CONDITIONS, TEXTRACT, response)
    assert result.top_level_results == [True, False, True, False, True, False]
    assert selected_texts(result) == ["Full", "Name:", "Jane", "Doe",
                                      "Home", "Address:", "123", "Any", "Street,", "Any", "Town,", "USA"]
    assert [key["importantFormKey"] for key in result.important_form_keys or []] == ["Full Name:", "Date of Birth:"]
    keys = [block for block in result.selected_response["Blocks"] if "KEY" in block.get("EntityTypes", [])]
    assert sorted(block["Confidence"] for block in keys) == [87.0, 95.0]
    assert all(block["BlockType"] in ("WORD", "KEY_VALUE_SET") for block in result.selected_response["Blocks"])
    as_a2i = evaluate_activation_conditions(EMPLOYMENT_CONDITIONS, TEXTRACT, camel(response))
    assert as_a2i.condition_results == result.condition_results
    assert as_a2i.selected_response == camel(result.selected_response)
    assert as_a2i.important_form_keys == result.important_form_keys


# ---------------------------------------------------------------------------------------------------------------
# Sampling


def request(name: str, loop: str) -> dict[str, Any]:
    return {"Document": {"S3Object": {"Bucket": "forms", "Name": name}}, "FeatureTypes": ["FORMS"],
            "HumanLoopConfig": {"HumanLoopName": loop, "FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:"
                                "123456789012:flow-definition/forms"}}


def test_sampling_is_deterministic_per_request_in_either_spelling() -> None:
    response = textract(pair("Name:"))
    first = request("doc-1.png", "loop-1")
    draws = {sampling_draw(first, None) for _ in range(3)}
    assert len(draws) == 1
    assert sampling_draw(camel(first), None) in draws  # A2I's aiServiceRequest spelling
    assert sampling_draw(first, "loop-2") not in draws
    assert sampling_draw(request("doc-2.png", "loop-1"), None) not in draws
    decisions = {run(response, sampling(50), request=first).activated for _ in range(5)}
    assert len(decisions) == 1
    without_request = sampling_draw(None, None, response)
    assert without_request == sampling_draw(None, None, copy.deepcopy(response))
    assert without_request != sampling_draw(None, None, textract(pair("Date:")))


@pytest.mark.parametrize("percentage", [1, 10, 50, 90])
def test_sampling_share_is_close_to_its_percentage(percentage: float) -> None:
    response = textract(pair("Name:"))
    count = 4000
    chosen = sum(run(response, sampling(percentage), request=request(f"doc-{index}.png", f"loop-{index}")).activated
                 for index in range(count))
    assert abs(chosen / count * 100 - percentage) < 2.0


def test_a_higher_percentage_only_adds_requests() -> None:
    requests = [request(f"doc-{index}.png", "loop") for index in range(500)]
    low = {index for index, item in enumerate(requests) if sampling_draw(item, None) < 5}
    high = {index for index, item in enumerate(requests) if sampling_draw(item, None) < 20}
    assert low < high
    assert all(run(textract(), sampling(100), request=item).activated for item in requests[:50])


# ---------------------------------------------------------------------------------------------------------------
# Flow definitions


def test_flow_definition_helpers() -> None:
    flow = {"HumanLoopRequestSource": {"AwsManagedHumanLoopRequestSource": REKOGNITION},
            "HumanLoopActivationConfig": {"HumanLoopActivationConditionsConfig": {
                "HumanLoopActivationConditions": json.dumps({"Conditions": [label_check("Violence",
                                                                                        ConfidenceLessThan=90)]})}}}
    assert conditions_of_flow_definition(flow).request_source == REKOGNITION
    assert evaluate_flow_definition(flow, labels(("Violence", 80))).activated
    assert not evaluate_flow_definition(flow, labels(("Violence", 95))).activated
    with pytest.raises(ActivationConditionError, match="HumanLoopRequestSource"):
        conditions_of_flow_definition({"HumanLoopActivationConfig": flow["HumanLoopActivationConfig"]})
    with pytest.raises(A2IValidationError, match="no ModerationLabels"):
        evaluate_flow_definition(flow, textract())


def test_module_is_cheap_to_import() -> None:
    code = "import sys, airflow_a2i.activation; print(sorted(m for m in ('boto3', 'airflow', 'botocore') " \
           "if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------------------
# airflow-a2i activation simulate


@pytest.fixture
def responses(tmp_path: Path, recorded: dict[str, Any]) -> Path:
    folder = tmp_path / "responses"
    (folder / "nested").mkdir(parents=True)
    (folder / "low-name.json").write_text(json.dumps(textract(pair("Name:", "Sue", kv=30))))
    (folder / "fine.json").write_text(json.dumps(textract(pair("Name:", "Sue", kv=99))))
    (folder / "no-name.json").write_text(json.dumps(camel(textract(pair("Date:", kv=99)))))
    (folder / "nested" / "output.json").write_text(json.dumps(recorded))  # an A2I output.json: no Name: key
    (folder / "broken.json").write_text("{not json")
    (folder / "moderation.json").write_text(json.dumps(labels(("Violence", 50))))
    (folder / "notes.txt").write_text("ignored")
    return folder


def write_conditions(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "conditions.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


SIMULATED = {"Conditions": [ifkcc("Name:", KeyValueBlockConfidenceLessThan=50), missing("Name:")]}


def test_simulate_reports_shares_per_condition_and_documents(tmp_path: Path, responses: Path, capsys) -> None:
    conditions = write_conditions(tmp_path, SIMULATED)
    assert main(["activation", "simulate", "--conditions", str(conditions), "--responses", str(responses),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requestSource"] == TEXTRACT
    assert report["documents"] == 4
    assert report["activated"] == 3
    assert report["share"] == 0.75
    assert [(item["activated"], item["documents"]) for item in report["conditions"]] == [
        (1, ["low-name.json"]), (2, ["nested/output.json", "no-name.json"])]
    assert {item["document"] for item in report["skipped"]} == {"broken.json", "moderation.json"}
    assert {item["document"]: item["activated"] for item in report["results"]}["fine.json"] is False


def test_simulate_text_report(tmp_path: Path, responses: Path, capsys) -> None:
    conditions = write_conditions(tmp_path, SIMULATED)
    assert main(["activation", "simulate", "--conditions", str(conditions), "--responses", str(responses)]) == 0
    text = capsys.readouterr().out
    assert "Would go to human review: 3 of 4 documents (75.0%)" in text
    assert "[1] MissingImportantFormKey('Name:'): 2 of 4 (50.0%)" in text
    assert "low-name.json  (conditions 0)" in text
    assert "fine.json" not in text.split("Documents that would go to review:")[1].split("Skipped:")[0]


def test_simulate_rejects_invalid_conditions_with_exit_2(tmp_path: Path, responses: Path) -> None:
    conditions = write_conditions(tmp_path, {"Conditions": [{"And": [VALID_CHECK]}]})
    result = subprocess.run([sys.executable, "-m", "airflow_a2i.cli", "activation", "simulate", "--conditions",
                             str(conditions), "--responses", str(responses)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "Conditions[0].And" in result.stderr and "at least two" in result.stderr
    assert result.stdout == ""


def test_simulate_exit_codes(tmp_path: Path, responses: Path, capsys) -> None:
    conditions = write_conditions(tmp_path, SIMULATED)
    assert main(["activation", "simulate", "--conditions", str(conditions), "--responses",
                 str(tmp_path / "absent")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["activation", "simulate", "--conditions", str(conditions), "--responses",
                 str(tmp_path / "empty")]) == 1
    assert main(["activation", "simulate", "--conditions", str(tmp_path / "absent.json"), "--responses",
                 str(responses)]) == 2
    assert main(["activation", "simulate", "--conditions", str(conditions), "--responses", str(responses),
                 "--request-source", "rekognition"]) == 2  # Textract conditions for Rekognition
    assert "belongs to Textract" in capsys.readouterr().err


def test_simulate_rekognition_and_a_flow_definition_file(tmp_path: Path, responses: Path, capsys) -> None:
    flow = {"HumanLoopRequestSource": {"AwsManagedHumanLoopRequestSource": REKOGNITION},
            "HumanLoopActivationConfig": {"HumanLoopActivationConditionsConfig": {
                "HumanLoopActivationConditions": json.dumps({"Conditions": [label_check("*",
                                                                                        ConfidenceLessThan=60)]})}}}
    conditions = write_conditions(tmp_path, flow)
    assert main(["activation", "simulate", "--conditions", str(conditions), "--responses", str(responses),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["requestSource"], report["documents"], report["activated"]) == (REKOGNITION, 1, 1)


def test_simulate_over_s3(tmp_path: Path, s3, local_service: str) -> None:
    bucket = unique("responses")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="batch/a.json", Body=json.dumps(textract(pair("Name:", kv=30))))
    s3.put_object(Bucket=bucket, Key="batch/b.json", Body=json.dumps(textract(pair("Name:", kv=99))))
    s3.put_object(Bucket=bucket, Key="other/c.json", Body=json.dumps(textract(pair("Name:", kv=10))))
    conditions = write_conditions(tmp_path, SIMULATED)
    result = subprocess.run([sys.executable, "-m", "airflow_a2i.cli", "activation", "simulate", "--conditions",
                             str(conditions), "--responses", f"s3://{bucket}/batch/", "--json"],
                            capture_output=True, text=True, timeout=60, env={**os.environ,
                                                                             "AWS_ENDPOINT_URL": local_service})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["documents"], report["activated"]) == (2, 1)
    assert report["conditions"][0]["documents"] == [f"s3://{bucket}/batch/a.json"]


# ---------------------------------------------------------------------------------------------------------------
# Properties

VOCABULARY = ["Conditions", "And", "Or", "ConditionType", "ConditionParameters", "ImportantFormKeyConfidenceCheck",
              "MissingImportantFormKey", "Sampling", "ModerationLabelConfidenceCheck", "ImportantFormKey",
              "ImportantFormKeyAliases", "RandomSamplingPercentage", "ModerationLabelName", "EvaluationResult",
              "KeyValueBlockConfidence", "KeyValueBlockConfidenceLessThan", "WordBlockConfidenceGreaterThanEquals",
              "ConfidenceEquals", "*"]
scalars = (st.none() | st.booleans() | st.integers(-10, 200) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=8) | st.sampled_from(VOCABULARY))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(VOCABULARY) | st.text(max_size=6), inner, max_size=4),
                           max_leaves=20)

KEYS = ["Name:", "Date:", "Total", "Policy Number:"]
thresholds = st.dictionaries(st.sampled_from([family + comparison for family in ("KeyValueBlockConfidence",
                                                                                   "WordBlockConfidence")
                                              for comparison in COMPARISONS]),
                             st.integers(0, 100) | st.floats(0, 100), min_size=1, max_size=3)
simple = st.one_of(
    st.builds(lambda key, aliases, limits: ifkcc(key, aliases, **limits), st.sampled_from([*KEYS, "*"]),
              st.none() | st.lists(st.sampled_from(KEYS), max_size=2), thresholds),
    st.builds(missing, st.sampled_from([*KEYS, "*"]), st.none() | st.lists(st.sampled_from(KEYS), max_size=2)),
    st.builds(sampling, st.floats(0.01, 100)),
)
operators = st.sampled_from(["And", "Or"])
inner_logical = st.builds(lambda operator, items: {operator: items}, operators,
                          st.lists(simple, min_size=2, max_size=3))
outer_logical = st.builds(lambda operator, items: {operator: items}, operators,
                          st.lists(simple | inner_logical, min_size=2, max_size=3))
valid_documents = st.builds(lambda items: {"Conditions": items}, st.lists(simple | outer_logical, min_size=1,
                                                                          max_size=3))
confidence = st.floats(0, 100)
forms = st.builds(lambda items: textract(*(pair(key, "v", kv=kv, key_words=word, value_words=value_word)
                                            for key, kv, word, value_word in items)),
                  st.lists(st.tuples(st.sampled_from(KEYS), confidence, confidence, confidence), max_size=4))


def parses_or_explains(document: Any, source: str = TEXTRACT) -> bool:
    try:
        parse_conditions(document, source)
    except ActivationConditionError as error:
        assert str(error).startswith("HumanLoopActivationConditions")
        return False
    return True


@given(json_values)
def test_arbitrary_json_only_ever_raises_activation_condition_errors(document: Any) -> None:
    as_text = json.dumps(document)
    parses_or_explains(as_text)
    parses_or_explains({"Conditions": document}, REKOGNITION)
    if isinstance(document, dict):
        parses_or_explains(document)


@given(st.text(max_size=60))
def test_arbitrary_text_only_ever_raises_activation_condition_errors(text: str) -> None:
    assert not parses_or_explains(text) or text.strip().startswith("{")


@given(valid_documents, st.data())
def test_mutated_documents_only_ever_raise_activation_condition_errors(document: dict[str, Any], data) -> None:
    mutated = copy.deepcopy(document)
    places = locations(mutated)
    container, key = data.draw(st.sampled_from(places))
    if data.draw(st.booleans()) and isinstance(container, dict):
        del container[key]
    else:
        container[key] = data.draw(json_values)
    parses_or_explains(mutated)
    parses_or_explains(json.dumps(mutated, allow_nan=True))


@given(valid_documents, forms)
def test_valid_documents_evaluate_and_round_trip(document: dict[str, Any], response: dict[str, Any]) -> None:
    conditions = parse_conditions(document, TEXTRACT)
    result = evaluate(conditions, response, human_loop_name="loop")
    assert strip_results(result.condition_results) == document
    assert result.activated == any(result.top_level_results)
    assert result.activated == any(item["EvaluationResult"] for item in result.condition_results["Conditions"])
    as_a2i = evaluate(conditions, camel(response), human_loop_name="loop")
    assert as_a2i.condition_results == result.condition_results
    assert as_a2i.selected_response == camel(result.selected_response)
    selected_ids = {block["Id"] for block in result.selected_response["Blocks"]}
    assert selected_ids <= {block["Id"] for block in response["Blocks"]}
    if not result.activated:
        assert not selected_ids
