"""Templates and XComArgs inside lists and dicts: every list or dict parameter of every operator and sensor checks
its literal members when the DAG is parsed, and its templated members once rendered, never the template text.

One row per parameter: its value with valid literal members and a templated one (a Jinja string, ``task.output``,
``task.output["key"]``) builds inside a DAG; a bad literal member next to a templated one still fails at
construction, before any request, naming the parameter. ``test_every_list_and_dict_parameter_has_a_row`` makes a
new list or dict parameter without a row fail. The checks once rendered run in DAGs in test_human_loop_dags.py.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.operators.appended_results import A2IAppendHumanLoopResultsOperator
from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator, A2IStopHumanLoopBatchOperator
from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator
from airflow_a2i.operators.human_loop import (
    A2IDeleteHumanLoopOperator,
    A2IStartHumanLoopOperator,
    A2IStopHumanLoopOperator,
)
from airflow_a2i.operators.rekognition import RekognitionDetectModerationLabelsOperator
from airflow_a2i.operators.report import A2IReviewReportOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.operators.textract import TextractAnalyzeDocumentBatchOperator, TextractAnalyzeDocumentOperator
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor, manifest_sources
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor
from airflow_a2i.validation import check_literal_part, has_template
from tests.operator_arguments import SUMMARY, TEXTRACT, VALID, no_requests, operator_and_sensor_classes

JINJA = "{{ ti.xcom_pull(task_ids='start')['HumanLoopName'] }}"
# List and dict parameters that are neither checked at parse time nor templated (Textract checks them).
NOT_CHECKED = {"feature_types"}


@dataclass(frozen=True)
class Row:
    """A list or dict parameter: ``valid(member)`` and ``bad(member)`` put a templated member among literal ones."""

    cls: type
    parameter: str
    valid: Callable[[Any], Any]
    bad: Callable[[Any], Any]
    message: str  # what the parse-time error says; it names the parameter
    others: dict[str, Any] = field(default_factory=dict)  # arguments the parameter needs (None removes one)

    def __str__(self) -> str:
        return f"{self.cls.__name__}.{self.parameter}"


CLASSIFIERS = {"valid": lambda member: ["FreeOfAdultContent", member],
               "bad": lambda member: [member, "FreeOfAds"],
               "message": "Unknown content classifier(s) ['FreeOfAds'] in content_classifiers"}
LOOP_NAMES = {"valid": lambda member: ["loop-1", member],
              "bad": lambda member: [member, "Loop_2"],
              "message": "human_loop_names: human_loop_name 'Loop_2' is not a valid A2I name"}

ROWS = [
    # One loop, custom task types
    Row(A2IStartHumanLoopOperator, "content_classifiers", **CLASSIFIERS),
    Row(A2IStartHumanLoopOperator, "human_loop_input", lambda member: {"text": "x", "loop": member},
        lambda member: {"when": {1, 2}, "loop": member}, "human_loop_input cannot be serialised as JSON"),
    Row(A2IStopHumanLoopOperator, "human_loop_names", **LOOP_NAMES),
    Row(A2IDeleteHumanLoopOperator, "human_loop_names", **LOOP_NAMES),
    Row(A2IHumanLoopSensor, "human_loop_names", **LOOP_NAMES),
    # Task UIs and flow definitions
    Row(A2ICreateFlowDefinitionOperator, "task_keywords", lambda member: ["check", member],
        lambda member: [member, "check!"], "task_keywords[1] would be rejected"),
    Row(A2ICreateFlowDefinitionOperator, "public_workforce_task_price",
        lambda member: {"AmountInUsd": {"Dollars": 0, "Cents": member}},
        lambda member: {"AmountInUsd": {"Dollars": 5, "Cents": member}},
        "public_workforce_task_price.AmountInUsd would be rejected"),
    Row(A2ICreateFlowDefinitionOperator, "activation_conditions", lambda member: {"Conditions": [member]},
        lambda member: {"Conditions": [member], "Condition": []},
        "activation_conditions: HumanLoopActivationConditions Condition: is not part of the condition language",
        others={"human_loop_request_source": TEXTRACT}),
    # Results
    Row(A2IHumanLoopResultsOperator, "human_loops", lambda member: ["loop-1", member],
        lambda member: [member, "Loop_2"], "human_loops[1]: human_loop_name 'Loop_2'"),
    Row(A2IHumanLoopResultsOperator, "manifests", lambda member: [SUMMARY, member],
        lambda member: [member, "bucket/batches"], "manifests holds 'bucket/batches'", others={"human_loops": None}),
    Row(A2IHumanLoopResultsOperator, "expected_answer_fields", lambda member: ["answer", member],
        lambda member: [member, ""], "expected_answer_fields must be a non-empty list"),
    Row(A2IAppendHumanLoopResultsOperator, "human_loops", lambda member: ["loop-1", member],
        lambda member: [member, "Loop_2"], "human_loops[1]: human_loop_name 'Loop_2'"),
    Row(A2IAppendHumanLoopResultsOperator, "expected_answer_fields", lambda member: ["answer", member],
        lambda member: [member, ""], "expected_answer_fields must be a non-empty list"),
    # The review report
    Row(A2IReviewReportOperator, "activation_conditions", lambda member: {"Conditions": [member]},
        lambda member: {"Conditions": [member], "Condition": []}, "activation_conditions: "),
    Row(A2IReviewReportOperator, "important_keys", lambda member: ["Total", member],
        lambda member: [member, ""], "important_keys[1] must be a form key"),
    # Batches
    Row(A2IStartHumanLoopBatchOperator, "items", lambda member: [{"item_key": "a", "input": {"text": member}}, member],
        lambda member: [member, {"item_key": 2, "input": {}}], "items[1] must be {'item_key': str"),
    Row(A2IStartHumanLoopBatchOperator, "content_classifiers", **CLASSIFIERS),
    Row(A2IStopHumanLoopBatchOperator, "manifests", lambda member: [SUMMARY, member],
        lambda member: [member, "bucket/batches"], "manifests holds 'bucket/batches'"),
    Row(A2IHumanLoopBatchSensor, "manifest_uris", lambda member: [SUMMARY, member],
        lambda member: [member, {"uri": "s3://bucket/batches"}], "manifest_uris holds {'uri'"),
    # Built-in task types
    Row(TextractAnalyzeDocumentOperator, "content_classifiers", **CLASSIFIERS),
    Row(RekognitionDetectModerationLabelsOperator, "content_classifiers", **CLASSIFIERS),
    Row(TextractAnalyzeDocumentBatchOperator, "content_classifiers", **CLASSIFIERS),
    Row(TextractAnalyzeDocumentBatchOperator, "documents", lambda member: ["s3://docs/a.pdf", member],
        lambda member: [member, "docs/b.pdf"], "documents: 'docs/b.pdf' is not an S3 location"),
]

MEMBERS: dict[str, Callable[[Any], Any]] = {
    "jinja": lambda start: JINJA,
    "xcom": lambda start: start.output,
    "xcom-key": lambda start: start.output["HumanLoopName"],
}


def build_in_dag(row: Row, make_value: Callable[[Any], Any], member: str) -> Any:
    with DAG("templated_members", schedule=None, start_date=datetime(2026, 1, 1)):
        start = EmptyOperator(task_id="start")
        arguments = {**VALID[row.cls], **row.others, row.parameter: make_value(MEMBERS[member](start))}
        return row.cls(task_id="task", **{key: value for key, value in arguments.items() if value is not None})


@pytest.mark.parametrize("member", list(MEMBERS))
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_templated_members_are_left_for_execution(row: Row, member: str) -> None:
    assert row.parameter in row.cls.template_fields, "Airflow renders only template fields"
    with no_requests() as calls:
        operator = build_in_dag(row, row.valid, member)
    assert calls == []
    assert has_template(getattr(operator, row.parameter))  # kept as given, rendered at execution


@pytest.mark.parametrize("member", list(MEMBERS))
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_a_bad_literal_member_next_to_a_templated_one_fails_at_parse_time(row: Row, member: str) -> None:
    assert row.parameter in row.message
    with no_requests() as calls, pytest.raises(A2IValidationError, match=re.escape(row.message)):
        build_in_dag(row, row.bad, member)
    assert calls == []


def init_parameters(cls: type) -> dict[str, str]:
    """The ``__init__`` parameters of ``cls`` and of its airflow_a2i bases, with their annotations."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("airflow_a2i.") and "__init__" in vars(klass):
            found.update({name: str(parameter.annotation)
                          for name, parameter in inspect.signature(klass.__init__).parameters.items()})
    return found


def test_every_list_and_dict_parameter_has_a_row() -> None:
    rows = {(row.cls, row.parameter) for row in ROWS}
    missing = sorted(f"{cls.__name__}.{name}" for cls in operator_and_sensor_classes()
                     for name, annotation in init_parameters(cls).items()
                     if re.search(r"\b(list|dict|tuple|Sequence|Mapping)\b", annotation)
                     and name not in NOT_CHECKED and (cls, name) not in rows)
    assert not missing, f"add rows for {missing}"


def test_templates_are_found_at_any_depth_and_only_literal_members_are_checked() -> None:
    with DAG("depth", schedule=None, start_date=datetime(2026, 1, 1)):
        start = EmptyOperator(task_id="start")
    assert has_template({"items": [({"text": start.output},)]})
    assert has_template(["a", {"b": "{% if x %}y{% endif %}"}])
    assert not has_template({"text": "{ not a template }", "n": [1, {"m": None}]})
    checked: list[Any] = []
    check_literal_part(["a", {"b": [start.output]}, "c"], checked.append)
    check_literal_part({"a": 1, "b": JINJA}, checked.append)
    check_literal_part([JINJA, start.output], checked.append)  # nothing literal left: nothing checked yet
    check_literal_part(JINJA, checked.append)
    check_literal_part([], checked.append)  # an empty literal list is checked (and refused by most checks)
    assert checked == [["a", "c"], {"a": 1}, []]


def test_a_mapped_start_tasks_output_inside_the_manifests_list_is_read_once_rendered() -> None:
    other = {**SUMMARY, "manifest_uri": "s3://bucket/batches/run-1/map-1"}
    rendered = [[SUMMARY, None, other], "s3://bucket/batches/run-2"]  # [mapped_start.output, a URI], rendered
    assert manifest_sources(rendered).uris == [SUMMARY["manifest_uri"], other["manifest_uri"],
                                               "s3://bucket/batches/run-2"]
