"""The start operator, the sensor and the trigger in real DAG runs (``dag.test()``) against the local service."""

from __future__ import annotations

import textwrap

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from tests.conftest import unique
from tests.loops import set_policy, start_loop

HEADER = """
import datetime
from airflow.sdk import DAG
from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator, A2IStopHumanLoopOperator, \\
    A2IDeleteHumanLoopOperator
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False) as dag:
"""


def dag_source(dag_id: str, body: str) -> str:
    return HEADER.format(dag_id=dag_id) + textwrap.indent(textwrap.dedent(body), "    ")


def loops_of(flow_arn: str) -> list[dict]:
    pages = boto3.client("sagemaker-a2i-runtime").get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=flow_arn)
    return [loop for page in pages for loop in page["HumanLoopSummaries"]]


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
def test_start_and_wait_until_people_answer(airflow_dags, local_service, flow_definition_arn, deferrable):
    set_policy(local_service, flow_definition_arn, delaySeconds=[0.3, 0.3],
               answer={"mode": "fixed", "answer": {"label": "ok"}})
    dag_id = unique("start_wait").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn={flow_definition_arn!r},
            human_loop_input={{"prompt": "{{{{ dag_run.run_id }}}}"}}, item_key="doc-1",
            content_classifiers=["FreeOfPersonallyIdentifiableInformation"],
            deferrable={deferrable}, poll_interval=0.2)
    """), dag_id)
    assert str(run.state) == "success", airflow_dags.task_states(run)
    result = airflow_dags.xcom(run, "review")
    assert result["HumanLoopStatus"] == "Completed"
    assert result["OutputS3Uri"].endswith(f"/{result['HumanLoopName']}/output.json")
    [loop] = loops_of(flow_definition_arn)
    assert loop["HumanLoopName"] == result["HumanLoopName"]
    assert result["HumanLoopName"].startswith("review-")


def test_start_without_waiting_returns_the_loop(airflow_dags, flow_definition_arn):
    dag_id = unique("start_only").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn={flow_definition_arn!r},
            human_loop_input='{{"prompt": "x"}}', human_loop_name="my-fixed-name-{dag_id[-10:].replace('_', '-')}",
            wait_for_completion=False)
    """), dag_id)
    result = airflow_dags.xcom(run, "review")
    assert result["HumanLoopStatus"] == "InProgress" and "OutputS3Uri" not in result
    assert result["HumanLoopArn"].endswith(result["HumanLoopName"])


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_waits_in_every_mode(airflow_dags, local_service, flow_definition_arn, mode):
    set_policy(local_service, flow_definition_arn, delaySeconds=[0.5, 0.5])
    names = [start_loop(flow_definition_arn), start_loop(flow_definition_arn)]
    dag_id = unique(f"sensor_{mode}").replace("-", "_")
    options = "deferrable=True" if mode == "deferrable" else f"mode={mode!r}"
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IHumanLoopSensor(task_id="wait", human_loop_names={names!r}, poke_interval=0.2, timeout=60,
                           {options})
    """), dag_id)
    assert str(run.state) == "success", airflow_dags.task_states(run)
    report = airflow_dags.xcom(run, "wait")
    assert report["counts"] == {"Completed": 2}
    assert report["names_by_status"] == {"Completed": sorted(names)}


def make_failed(flow_arn: str, kind: str, endpoint: str) -> str:
    """A loop that ends Failed (workforce failure), Expired or Stopped."""
    name = start_loop(flow_arn)
    if kind == "Failed":
        set_policy(endpoint, flow_arn, delaySeconds=[0.0, 0.0], failureRate=1.0)
    elif kind == "Stopped":
        boto3.client("sagemaker-a2i-runtime").stop_human_loop(HumanLoopName=name)
    return name


@pytest.mark.parametrize("kind", ["Failed", "Expired", "Stopped"])
@pytest.mark.parametrize(("policy", "task_state"), [("fail", "failed"), ("skip", "skipped"),
                                                    ("continue", "success")])
def test_every_way_a_loop_ends_badly_under_each_failure_policy(airflow_dags, local_service, make_flow_definition, kind,
                                                                 policy, task_state):
    flow = make_flow_definition(TaskAvailabilityLifetimeInSeconds=1) if kind == "Expired" else make_flow_definition()
    name = make_failed(flow, kind, local_service)
    dag_id = unique(f"fail_{policy}").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IHumanLoopSensor(task_id="wait", human_loop_names={name!r}, poke_interval=0.2, timeout=60,
                           deferrable=True, on_loop_failure={policy!r})
    """), dag_id)
    assert airflow_dags.task_states(run)["wait"] == task_state
    if policy == "continue":
        expected = "Stopped" if kind == "Stopped" else "Failed"
        assert airflow_dags.xcom(run, "wait")["names_by_status"] == {expected: [name]}


@pytest.mark.parametrize(
    ("policy", "task_state", "loop_status"),
    [("fail", "failed", {"InProgress"}), ("stop_and_fail", "failed", {"Stopping", "Stopped"}),
     ("stop_and_continue", "success", {"Stopping", "Stopped"}), ("continue", "success", {"InProgress"})],
)
@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_each_review_timeout_policy(airflow_dags, flow_definition_arn, policy, task_state, loop_status, deferrable):
    name = start_loop(flow_definition_arn)
    dag_id = unique("timeout").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IHumanLoopSensor(task_id="wait", human_loop_names={name!r}, poke_interval=0.2, timeout=60,
                           deferrable={deferrable}, review_timeout=1, on_review_timeout={policy!r})
    """), dag_id)
    assert airflow_dags.task_states(run)["wait"] == task_state
    status = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)["HumanLoopStatus"]
    assert status in loop_status
    if task_state == "success":
        assert airflow_dags.xcom(run, "wait")["timed_out"] == [name]


def test_review_timeout_is_counted_from_each_loops_creation(airflow_dags, local_service, flow_definition_arn):
    set_policy(local_service, flow_definition_arn, delaySeconds=[1.0, 1.0])
    fresh = start_loop(flow_definition_arn)
    dag_id = unique("timeout_fresh").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IHumanLoopSensor(task_id="wait", human_loop_names={fresh!r}, poke_interval=0.2, timeout=60,
                           deferrable=True, review_timeout=30, on_review_timeout="fail")
    """), dag_id)
    assert airflow_dags.task_states(run)["wait"] == "success"


def test_a_retry_after_a_lost_response_adopts_the_loop(airflow_dags, local_service, flow_definition_arn):
    admin = AdminClient(local_service)
    # Every answer to StartHumanLoop is lost: botocore's own retries meet the created loop and also get
    # a 500, so the first attempt fails right after the start call.
    admin.add_fault("StartHumanLoop", lost_response=True, count=10)
    dag_id = unique("retry").replace("-", "_")
    try:
        run = airflow_dags.run_source(dag_source(dag_id, f"""
            A2IStartHumanLoopOperator(task_id="review", flow_definition_arn={flow_definition_arn!r},
                human_loop_input={{"prompt": "x"}}, wait_for_completion=False, retries=1,
                retry_delay=datetime.timedelta(seconds=0))
        """), dag_id)
    finally:
        admin.clear_faults()
    [ti] = run.get_task_instances()
    assert (str(ti.state), ti.try_number) == ("success", 2)
    [loop] = loops_of(flow_definition_arn)
    assert airflow_dags.xcom(run, "review")["HumanLoopName"] == loop["HumanLoopName"]


def test_botocore_retry_after_one_lost_response_keeps_one_loop(airflow_dags, local_service, flow_definition_arn):
    admin = AdminClient(local_service)
    admin.add_fault("StartHumanLoop", lost_response=True, count=1)
    dag_id = unique("lost_once").replace("-", "_")
    try:
        run = airflow_dags.run_source(dag_source(dag_id, f"""
            A2IStartHumanLoopOperator(task_id="review", flow_definition_arn={flow_definition_arn!r},
                human_loop_input={{"prompt": "x"}}, wait_for_completion=False)
        """), dag_id)
    finally:
        admin.clear_faults()
    assert airflow_dags.task_states(run) == {"review": "success"}
    assert len(loops_of(flow_definition_arn)) == 1


def test_stop_and_delete_operators_are_idempotent(airflow_dags, local_service, flow_definition_arn):
    open_loop, done_loop = start_loop(flow_definition_arn), start_loop(flow_definition_arn)
    AdminClient(local_service).answer(done_loop, {"a": 1})
    dag_id = unique("stop_delete").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        stop = A2IStopHumanLoopOperator(task_id="stop", human_loop_names={[open_loop, done_loop, "missing-loop"]!r})
        delete = A2IDeleteHumanLoopOperator(task_id="delete", human_loop_names={[open_loop, done_loop, "gone"]!r},
                                            stop_if_open=True, poll_interval=0.1)
        stop >> delete
    """), dag_id)
    assert airflow_dags.task_states(run) == {"stop": "success", "delete": "success"}
    assert airflow_dags.xcom(run, "stop") == {"stopped": [open_loop], "not_stoppable": [done_loop, "missing-loop"]}
    assert airflow_dags.xcom(run, "delete") == {"deleted": [open_loop, done_loop], "missing": ["gone"]}
    assert loops_of(flow_definition_arn) == []


def test_the_console_link_points_at_the_loop(airflow_dags, flow_definition_arn):
    from airflow_a2i.links.a2i import A2IHumanLoopLink

    dag_id = unique("link").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn={flow_definition_arn!r},
            human_loop_input={{"prompt": "x"}}, wait_for_completion=False)
    """), dag_id)
    name = airflow_dags.xcom(run, "review")["HumanLoopName"]
    stored = airflow_dags.xcom(run, "review", key=A2IHumanLoopLink.key)
    flow_name = flow_definition_arn.rsplit("/", 1)[1]
    assert A2IHumanLoopLink().format_link(**stored) == (
        "https://console.aws.amazon.com/a2i/home?region=us-east-1#/human-review-workflows/"
        f"{flow_name}/human-loops/{name}")


ISSUE_TEMPLATE = '"{{ ti.xcom_pull(task_ids=\'start\')[\'HumanLoopName\'] }}"'  # as the DAG file has it


@pytest.mark.parametrize("member", [ISSUE_TEMPLATE, "loop_name(start.output)"], ids=["jinja", "xcomarg"])
def test_a_templated_loop_name_in_the_list_waits_on_the_started_loop(airflow_dags, local_service,
                                                                     flow_definition_arn, member):
    """The issue's DAG: a template (or an XComArg) among literal loop names parses, and the sensor waits on what
    it renders to."""
    set_policy(local_service, flow_definition_arn, delaySeconds=[0.3, 0.3],
               answer={"mode": "fixed", "answer": {"label": "ok"}})
    started_elsewhere = start_loop(flow_definition_arn)
    dag_id = unique("templated_names").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, f"""
        from airflow.sdk import task

        @task
        def loop_name(result: dict) -> str:
            return result["HumanLoopName"]

        start = A2IStartHumanLoopOperator(task_id="start", flow_definition_arn={flow_definition_arn!r},
            human_loop_input={{"prompt": "x"}}, wait_for_completion=False)
        wait = A2IHumanLoopSensor(task_id="wait", human_loop_names=[{started_elsewhere!r}, {member}],
                                  poke_interval=0.2, timeout=60)
        start >> wait
    """), dag_id)
    assert str(run.state) == "success", airflow_dags.task_states(run)
    started = airflow_dags.xcom(run, "start")["HumanLoopName"]
    assert airflow_dags.xcom(run, "wait")["names_by_status"] == {"Completed": sorted([started_elsewhere, started])}


def test_a_template_that_renders_an_invalid_name_fails_the_task_not_the_parse(airflow_dags, flow_definition_arn,
                                                                              capfd):
    dag_id = unique("bad_rendered_name").replace("-", "_")
    run = airflow_dags.run_source(dag_source(dag_id, """
        A2IHumanLoopSensor(task_id="wait", human_loop_names=["{{ 'Not_' + 'Valid' }}"], poke_interval=0.2, timeout=60)
    """), dag_id)  # the DAG file imports: nothing was refused at parse time
    assert airflow_dags.task_states(run) == {"wait": "failed"}
    out, err = capfd.readouterr()
    assert "human_loop_names: human_loop_name 'Not_Valid' is not a valid A2I name" in out + err
