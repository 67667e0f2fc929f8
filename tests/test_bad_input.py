"""Names, ARNs, inputs, classifiers and policies users get wrong fail before any request, saying what to fix."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.names import (
    MAX_LENGTH,
    deterministic_loop_name,
    has_run_hash,
    run_hash,
    validate_human_loop_name,
)
from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor
from tests.conftest import unique

ARN = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/my-flow"
NAME = re.compile(r"[a-z0-9](-*[a-z0-9])*")


def start_operator(**overrides):
    arguments = {"task_id": "start", "flow_definition_arn": ARN, "human_loop_input": {"prompt": "x"}, **overrides}
    return A2IStartHumanLoopOperator(**arguments)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"human_loop_name": "human_loop_name"}, "not a valid A2I name.*'human-loop-name'"),
        ({"human_loop_name": "a" * 64}, "64 characters; A2I allows at most 63"),
        ({"human_loop_name": ""}, "empty"),
        ({"flow_definition_arn": "arn:aws:sagemaker:aws-region:xyz:flow-definition/flow_def_name"},
         "account 'xyz' is not a 12-digit AWS account id"),
        ({"flow_definition_arn": "arn:aws:sagemaker:aws_region:123456789012:flow-definition/f"},
         "Region 'aws_region'"),
        ({"flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/flow_def_name"},
         "flow definition name 'flow_def_name'"),
        ({"flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/x"},
         "does not start with 'flow-definition/'"),
        ({"flow_definition_arn": "flow-definition/my-flow"}, "must start with 'arn:aws:sagemaker:'"),
        ({"human_loop_input": '{"InputContent": "{"prompt":"What is the answer?"}"}'}, "not valid JSON"),
        ({"human_loop_input": "[1, 2]"}, "must be a JSON object"),
        ({"human_loop_input": {"text": "a" * 3_145_728}}, "3,145,728"),
        ({"human_loop_input": 42}, "must be a dict, a JSON string or an s3:// URI"),
        ({"content_classifiers": ["FreeOfPersonallyIdentifiableInformation", "FreeOfViruses"]},
         r"Unknown content classifier\(s\) \['FreeOfViruses'\]"),
        ({"on_loop_failure": "retry"}, "on_loop_failure='retry' is not one of"),
        ({"on_review_timeout": "stop"}, "on_review_timeout='stop' is not one of"),
        ({"review_timeout": 0}, "positive number of seconds"),
    ],
)
def test_the_start_operator_refuses_bad_input_at_parse_time(overrides, message):
    with pytest.raises(A2IValidationError, match=message):
        start_operator(**overrides)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"human_loop_names": []}, "empty"),
        ({"human_loop_names": ["ok-name", "Not_OK"]}, "'Not_OK' is not a valid A2I name"),
        ({"human_loop_names": [f"loop-{index}" for index in range(101)]}, "report_s3_uri"),
        ({"human_loop_names": "ok", "on_loop_failure": "ignore"}, "on_loop_failure"),
    ],
)
def test_the_sensor_refuses_bad_input_at_parse_time(arguments, message):
    with pytest.raises(A2IValidationError, match=message):
        A2IHumanLoopSensor(task_id="wait", **arguments)


def test_templated_values_are_checked_once_rendered_before_any_request(airflow_dags, flow_definition_arn):
    calls: list[str] = []

    def record(event_name: str, **kwargs) -> None:
        calls.append(event_name)

    dag_id = unique("bad_template").replace("-", "_")
    source = f'''
import datetime
from airflow.sdk import DAG
from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    A2IStartHumanLoopOperator(task_id="start", flow_definition_arn={flow_definition_arn!r},
                              human_loop_input={{"prompt": "x"}}, human_loop_name="{{{{ 'human_loop_name' }}}}")
'''
    import botocore.session

    original = botocore.session.Session.create_client

    def recording_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call.*.*", record)
        return client

    botocore.session.Session.create_client = recording_client
    try:
        run = airflow_dags.run_source(source, dag_id)
    finally:
        botocore.session.Session.create_client = original
    assert airflow_dags.task_states(run) == {"start": "failed"}
    assert not [call for call in calls if "sagemaker-a2i-runtime" in call or "HumanLoop" in call], calls
    listed = boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=flow_definition_arn)
    assert listed["HumanLoopSummaries"] == []


def test_deterministic_names_follow_the_rules_and_the_item_key():
    first = deterministic_loop_name("daily_review", "scheduled__2026-11-25T00:00:00+00:00", "review_documents",
                                    item_key="invoices/2026/0001.pdf", map_index=3)
    again = deterministic_loop_name("daily_review", "scheduled__2026-11-25T00:00:00+00:00", "review_documents",
                                    item_key="invoices/2026/0001.pdf", map_index=7)
    other = deterministic_loop_name("daily_review", "scheduled__2026-11-25T00:00:00+00:00", "review_documents",
                                    item_key="invoices/2026/0002.pdf", map_index=3)
    assert first == again != other  # the item key, not the map index, names an item
    assert first.startswith("review-documents-")
    assert has_run_hash(first, run_hash("daily_review", "scheduled__2026-11-25T00:00:00+00:00", "review_documents"))
    assert not has_run_hash(first, run_hash("daily_review", "another-run", "review_documents"))
    by_index = {deterministic_loop_name("d", "r", "t", map_index=index) for index in range(50)}
    assert len(by_index) == 50


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300),
       st.one_of(st.none(), st.text(max_size=500)), st.integers(-1, 10_000))
def test_every_deterministic_name_is_a_valid_loop_name(dag_id, run_id, task_id, item_key, map_index):
    name = deterministic_loop_name(dag_id, run_id, task_id, item_key=item_key, map_index=map_index)
    assert len(name) <= MAX_LENGTH and NAME.fullmatch(name)
    assert validate_human_loop_name(name) == name


def test_the_error_for_the_seed_name_suggests_a_valid_one():
    with pytest.raises(A2IValidationError) as raised:
        validate_human_loop_name("human_loop_name")
    suggestion = re.search(r"for example '([^']+)'", str(raised.value))
    assert suggestion and validate_human_loop_name(suggestion.group(1)) == "human-loop-name"


def test_json_string_input_is_kept_as_given():
    operator = start_operator(human_loop_input=json.dumps({"prompt": "x"}))
    assert operator.human_loop_input == '{"prompt": "x"}'


def test_the_sensor_takes_what_the_start_and_built_in_operators_return():
    from airflow_a2i.names import human_loop_names_of

    started = {"HumanLoopName": "doc-1", "HumanLoopArn": "arn", "HumanLoopStatus": "InProgress"}
    not_reviewed = {"HumanLoopName": None, "HumanLoopStarted": False, "Document": "s3://b/k.png"}
    assert human_loop_names_of(started) == ["doc-1"]
    assert human_loop_names_of([started, not_reviewed, {**started, "HumanLoopName": "doc-2"}]) == ["doc-1", "doc-2"]
    assert human_loop_names_of([not_reviewed]) == []  # nothing to wait for
    assert human_loop_names_of("doc-1") == human_loop_names_of(["doc-1"]) == ["doc-1"]
    with pytest.raises(A2IValidationError, match=r"with 'HumanLoopName'.*\['name'\]"):
        human_loop_names_of([{"name": "doc-1"}])
    with pytest.raises(A2IValidationError, match="human_loop_names: human_loop_name 'Doc_1' is not a valid"):
        human_loop_names_of([{"HumanLoopName": "Doc_1"}])
    with pytest.raises(A2IValidationError, match="human_loop_names is empty"):
        A2IHumanLoopSensor(task_id="wait", human_loop_names=[])
    A2IHumanLoopSensor(task_id="wait", human_loop_names=[started, not_reviewed])


def test_the_wait_policy_is_one_checked_value_that_survives_its_serialized_form():
    from airflow_a2i.waiting.arguments import WaitPolicyArguments
    from airflow_a2i.waiting.policies import WaitPolicy

    policy = WaitPolicy.of(on_loop_failure="skip", on_review_timeout="stop_and_fail", review_timeout="86400",
                           poll_interval=5, stop_on_kill=True)  # review_timeout as a rendered template gives it
    assert (policy.review_timeout, policy.poll_interval) == (86400.0, 5.0)
    assert WaitPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
    assert WaitPolicy.from_dict(None) == WaitPolicy()
    with pytest.raises(A2IValidationError, match="on_review_timeout='later' is not one of"):
        WaitPolicy(on_review_timeout="later")
    with pytest.raises(A2IValidationError, match="poll_interval=-1 must be a number of seconds"):
        WaitPolicy(poll_interval=-1)
    with pytest.raises(A2IValidationError, match="review_timeout='soon' is not a number of seconds"):
        WaitPolicy.of(on_loop_failure="fail", on_review_timeout="fail", review_timeout="soon", poll_interval=1)

    class Sensor(WaitPolicyArguments):  # what an operator or sensor keeps until it runs
        poke_interval = 2.0

    sensor = Sensor()
    sensor.init_wait_policy(on_loop_failure="continue", on_review_timeout="fail",
                            review_timeout="{{ params.timeout }}", poll_interval=None,
                            stop_on_kill=False)  # checked once rendered
    sensor.review_timeout = "60"  # as Airflow renders it
    assert sensor.wait_policy() == WaitPolicy("continue", "fail", 60.0, 2.0, False)  # no poll_interval: poke_interval
    sensor.init_wait_policy(on_loop_failure="continue", on_review_timeout="fail", review_timeout=None,
                            poll_interval="{{ params.poll_seconds }}", stop_on_kill=False)
    sensor.poll_interval = "0.5"  # as Airflow renders it
    assert sensor.wait_policy().poll_interval == sensor.wait_poll_interval() == 0.5
    sensor.poll_interval = "soon"
    with pytest.raises(A2IValidationError, match="poll_interval='soon' is not a number of seconds"):
        sensor.wait_policy()
