"""Properties of the output.json parser, and of evaluating activation conditions on malformed responses.

Only :class:`OutputParseError` (an :class:`A2IValidationError`) ever comes out of the output.json parser,
whatever the input: arbitrary JSON, arbitrary text or bytes, a real output.json with one part broken.
Valid documents round-trip. (Parsing activation conditions has its properties in ``test_activation.py``;
here: evaluating valid conditions on responses that are not what Textract or Rekognition send.)
The hypothesis profile of ``conftest.py`` (derandomized, 60 examples) bounds every property.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_a2i.activation import evaluate, parse_conditions
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.results.consolidation import consolidate
from airflow_a2i.results.output import OUTPUT_KEYS, HumanLoopOutput, OutputParseError, parse_output, parse_output_json
from tests.strategies import locations

FIXTURE = Path(__file__).parent / "fixtures" / "a2i-textract-output.json"
RECORDED: dict[str, Any] = json.loads(FIXTURE.read_text())
SOURCE = "s3://bucket/a2i/output.json"
TEXTRACT = "AWS/Textract/AnalyzeDocument/Forms/V1"
REKOGNITION = "AWS/Rekognition/DetectModerationLabels/Image/V3"

KEYS = sorted({*OUTPUT_KEYS, "answerContent", "workerId", "submissionTime", "acceptanceTime", "timeSpentInSeconds",
               "workerMetadata", "aiServiceRequest", "aiServiceResponse", "selectedAiServiceResponse",
               "humanTaskActivationConditionResults", "Blocks", "blocks", "ModerationLabels", "Id", "BlockType",
               "Relationships", "Ids", "Type", "Confidence", "EntityTypes", "Text"})
scalars = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=False)
           | st.text(max_size=10) | st.sampled_from(["KEY_VALUE_SET", "WORD", "KEY", "VALUE", "CHILD", ""]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
                           max_leaves=25)


def parses_or_explains(document: Any) -> HumanLoopOutput | None:
    """The parsed output, or None after an OutputParseError that says where it came from and what is wrong."""
    try:
        return parse_output(document, SOURCE)
    except OutputParseError as error:
        assert str(error).startswith(f"{SOURCE} is not a readable A2I output.json: "), error
        assert len(str(error)) < 2000
        return None


RECORDED_LOCATIONS = len(locations(RECORDED, []))


# The output.json parser ---------------------------------------------------------------------------------------

@given(json_values)
def test_arbitrary_json_only_ever_raises_output_parse_errors(document: Any) -> None:
    parses_or_explains(document)
    parses_or_explains({**RECORDED, "humanAnswers": document})
    if isinstance(document, dict):
        parsed = parses_or_explains({**document, "humanLoopName": "a", "flowDefinitionArn": "b", "humanAnswers": []})
        assert parsed is not None or "inputContent" in document or any(
            key in document for key in ("awsManagedHumanLoopRequestSource", "aiServiceRequest", "aiServiceResponse",
                                        "selectedAiServiceResponse", "humanTaskActivationConditionResults"))


@given(st.text(max_size=80) | st.binary(max_size=80).map(lambda data: data))
def test_arbitrary_text_and_bytes_only_ever_raise_output_parse_errors(text: str | bytes) -> None:
    try:
        parse_output_json(text, SOURCE)
    except OutputParseError as error:
        assert str(error).startswith(f"{SOURCE} is not a readable A2I output.json")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"humanAnswers": ' + "[" * 50_000 + "]" * 50_000
                                  + "}", b"\xff\xfe\x00\xd8", b"\xef\xbb\xbf{", "", "null", "NaN"])
def test_pathological_texts_are_refused_with_a_clear_error(text: str | bytes) -> None:
    with pytest.raises(OutputParseError, match=r"is not a readable A2I output\.json: it"):
        parse_output_json(text, SOURCE)


@given(st.integers(0, RECORDED_LOCATIONS - 1), st.booleans(), json_values)
def test_a_mutated_recorded_output_only_ever_raises_output_parse_errors(where: int, delete: bool,
                                                                         value: Any) -> None:
    mutated = copy.deepcopy(RECORDED)
    container, key = locations(mutated, [])[where]
    if delete:
        del container[key]
    else:
        container[key] = value
    parsed = parses_or_explains(mutated)
    assert (parses_or_explains(json.loads(json.dumps(mutated))) is None) == (parsed is None)
    if parsed is not None:  # what parses is usable: the answers consolidate, the fields are typed
        consolidate(parsed.answer_contents)
        assert isinstance(parsed.human_loop_name, str) and parsed.human_loop_name
        assert all(isinstance(answer.answer_content, dict) for answer in parsed.human_answers)


@given(st.integers(0, RECORDED_LOCATIONS - 1))
def test_text_cut_short_only_ever_raises_output_parse_errors(cut: int) -> None:
    text = json.dumps(RECORDED)
    position = cut * len(text) // RECORDED_LOCATIONS
    with pytest.raises(OutputParseError, match="it is not valid JSON"):
        parse_output_json(text[:position], SOURCE)


names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
answer_contents = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
answers = st.builds(
    lambda content, worker, submitted, accepted, spent, metadata: {
        "answerContent": content, "workerId": worker, "submissionTime": submitted,
        **({"acceptanceTime": accepted} if accepted is not None else {}),
        **({"timeSpentInSeconds": spent} if spent is not None else {}),
        **({"workerMetadata": metadata} if metadata is not None else {})},
    answer_contents, names, names, st.none() | names,
    st.none() | st.integers(0, 10_000) | st.floats(0, 1e6), st.none() | st.dictionaries(st.text(max_size=5), scalars))
valid_outputs = st.builds(
    lambda name, arn, content, given_answers, source: {
        "flowDefinitionArn": arn, "humanLoopName": name, "inputContent": content, "humanAnswers": given_answers,
        **({"awsManagedHumanLoopRequestSource": source} if source else {})},
    names, names, st.dictionaries(st.text(max_size=6).filter(lambda key: key not in (
        "aiServiceRequest", "aiServiceResponse", "selectedAiServiceResponse", "humanTaskActivationConditionResults")),
        json_values, max_size=4),
    st.lists(answers, max_size=3), st.none() | st.sampled_from([TEXTRACT, REKOGNITION]))


def as_document(output: HumanLoopOutput) -> dict[str, Any]:
    """Write a parsed output back in the documented shape."""
    document: dict[str, Any] = {"flowDefinitionArn": output.flow_definition_arn,
                                "humanLoopName": output.human_loop_name, "inputContent": output.input_content,
                                "humanAnswers": []}
    for answer in output.human_answers:
        entry: dict[str, Any] = {"answerContent": answer.answer_content, "workerId": answer.worker_id,
                                 "submissionTime": answer.submission_time}
        if answer.acceptance_time is not None:
            entry["acceptanceTime"] = answer.acceptance_time
        if answer.time_spent_in_seconds is not None:
            entry["timeSpentInSeconds"] = answer.time_spent_in_seconds
        if answer.worker_metadata is not None:
            entry["workerMetadata"] = answer.worker_metadata
        document["humanAnswers"].append(entry)
    if output.aws_managed_human_loop_request_source is not None:
        document["awsManagedHumanLoopRequestSource"] = output.aws_managed_human_loop_request_source
    return document


@given(valid_outputs)
def test_valid_documents_round_trip(document: dict[str, Any]) -> None:
    parsed = parse_output_json(json.dumps(document), SOURCE)
    assert parsed.human_loop_name == document["humanLoopName"]
    assert parsed.input_content == document["inputContent"]
    assert parsed.answer_contents == [answer["answerContent"] for answer in document["humanAnswers"]]
    assert parse_output(as_document(parsed)) == parsed
    flattened = {key: value for key, value in document.items() if key != "inputContent"}
    flattened.update({key: value for key, value in document["inputContent"].items() if key not in OUTPUT_KEYS})
    flat = parse_output(flattened)
    assert (flat.human_answers, flat.human_loop_name) == (parsed.human_answers, parsed.human_loop_name)
    consolidation = parsed.consolidate()
    assert (consolidation.agreement is None) == (not document["humanAnswers"])


def test_the_recorded_output_round_trips() -> None:
    parsed = parse_output_json(FIXTURE.read_bytes(), str(FIXTURE))
    assert parsed.is_built_in and parsed.ai_service_response is not None
    assert parse_output(as_document(parsed)) == parsed


# Evaluating valid activation conditions on responses that are not a service's ----------------------------------

CONDITIONS = {
    TEXTRACT: parse_conditions({"Conditions": [
        {"ConditionType": "ImportantFormKeyConfidenceCheck",
         "ConditionParameters": {"ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 90,
                                 "WordBlockConfidenceLessThan": 90}},
        {"Or": [{"ConditionType": "MissingImportantFormKey", "ConditionParameters": {"ImportantFormKey": "Name:"}},
                {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 10}}]}]}, TEXTRACT),
    REKOGNITION: parse_conditions({"Conditions": [
        {"ConditionType": "ModerationLabelConfidenceCheck",
         "ConditionParameters": {"ModerationLabelName": "*", "ConfidenceLessThan": 60}}]}, REKOGNITION),
}
RECORDED_RESPONSE = RECORDED["aiServiceResponse"]
RESPONSE_LOCATIONS = len(locations(RECORDED_RESPONSE, []))


def evaluates_or_explains(source: str, response: Any) -> None:
    try:
        result = evaluate(CONDITIONS[source], response, human_loop_name="loop")
    except A2IValidationError as error:
        assert "response" in str(error), error
        return
    assert result.activated == any(result.top_level_results)


@given(json_values)
@example([{"Id": []}])  # an id that is not a string once crashed the block selection (TypeError: unhashable)
@example({"Blocks": [{"Id": "k", "BlockType": "KEY_VALUE_SET", "EntityTypes": ["KEY"],
                      "Relationships": [{"Type": "CHILD", "Ids": [[]]}]}]})
def test_arbitrary_responses_only_ever_raise_validation_errors(response: Any) -> None:
    for source in CONDITIONS:
        evaluates_or_explains(source, response)
        evaluates_or_explains(source, {"Blocks": response, "ModerationLabels": response})
        evaluates_or_explains(source, {"blocks": [response], "moderationLabels": [response]})


@given(st.integers(0, RESPONSE_LOCATIONS - 1), st.booleans(), json_values)
def test_a_mutated_recorded_response_only_ever_raises_validation_errors(where: int, delete: bool,
                                                                         value: Any) -> None:
    mutated = copy.deepcopy(RECORDED_RESPONSE)
    container, key = locations(mutated, [])[where]
    if delete:
        del container[key]
    else:
        container[key] = value
    evaluates_or_explains(TEXTRACT, mutated)
