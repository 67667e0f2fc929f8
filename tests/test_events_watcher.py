"""The asset-watcher example (dags/a2i_review_events_watcher.py): finished loops' results appended as A2I's
status-change events arrive, once per loop; the hourly reconcile; what happens when the DAG is paused.

Against the local service (EventBridge -> SQS): the watcher's trigger (the Amazon provider's SqsSensorTrigger) run
directly, the append operator in ``dag.test()`` with triggering asset events built as the task runner builds them,
and the example file on a real deployment (scheduler, dag-processor, triggerer) fed by real events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.hooks.events import A2IEventsHook
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.operators.appended_results import A2IAppendHumanLoopResultsOperator, loop_result_key
from airflow_a2i.waiting.completion import DETAIL_TYPE, SOURCE
from airflow_a2i.watching import RECEIVE_WAIT_SECONDS, asset_watcher_class, finished_loop_names, status_change_watcher
from demo.dag_runner import load_dag_file
from tests.aws_calls import AwsCallRecorder, readme_iam_actions
from tests.conftest import unique

DAG_FILE = Path(__file__).resolve().parent.parent / "dags" / "a2i_review_events_watcher.py"
QUEUE = "http://127.0.0.1:5000/123456789012/a2i-watcher"
FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f"

pytestmark = pytest.mark.timeout(300)


def event_body(name: str, status: str = "Completed") -> str:
    return json.dumps({"source": SOURCE, "detail-type": DETAIL_TYPE, "detail": {
        "humanLoopName": name, "humanLoopStatus": status, "flowDefinitionArn": FLOW}})


def trigger_extra(*bodies: str) -> dict[str, Any]:
    """An asset event's extra as Airflow stores a watcher's trigger event (Trigger.submit_event)."""
    batch = [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": body} for n, body in enumerate(bodies)]
    return {"from_trigger": True, "payload": {"status": "success", "message_batch": batch}}


def until(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def load(attribute: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    for name in ("A2I_WATCHER_QUEUE_URL", "A2I_WATCHER_RESULTS_S3_URI", "A2I_WATCHER_FLOW_DEFINITION_ARN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_dag_file(DAG_FILE, attribute)


# --- the pure part --------------------------------------------------------------------------------------------

def test_loop_names_are_read_from_the_watchers_events_once_each_in_order() -> None:
    events = {"asset": [types.SimpleNamespace(extra=trigger_extra(event_body("a"), event_body("b", "Failed"))),
                        types.SimpleNamespace(extra=trigger_extra(event_body("a"), "not json", event_body("c"))),
                        types.SimpleNamespace(extra={"results_uri": "s3://b/p"}),  # another producer's event
                        types.SimpleNamespace(extra=None)],
              "other": [{"payload": {"message_batch": "not a list"}}, {"payload": None}]}
    assert finished_loop_names(events) == ["a", "b", "c"]
    assert finished_loop_names([trigger_extra(event_body("x"))]) == ["x"]  # a list of extras
    assert finished_loop_names({}) == finished_loop_names(None) == []


def test_the_watcher_is_the_amazon_providers_sqs_trigger_on_the_queue() -> None:
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
    from airflow.triggers.base import BaseEventTrigger

    watcher = status_change_watcher(QUEUE, name="w", aws_conn_id="aws_a2i", region_name="eu-west-1")
    assert watcher.name == "w"
    trigger = watcher.trigger
    assert isinstance(trigger, SqsSensorTrigger) and isinstance(trigger, BaseEventTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
    assert {key: kwargs[key] for key in ("sqs_queue", "aws_conn_id", "region_name", "max_messages", "num_batches",
                                         "wait_time_seconds", "delete_message_on_reception")} == {
        "sqs_queue": QUEUE, "aws_conn_id": "aws_a2i", "region_name": "eu-west-1", "max_messages": 10,
        "num_batches": 1, "wait_time_seconds": 20, "delete_message_on_reception": True}
    with pytest.raises(A2IValidationError, match="is not an SQS queue URL"):
        status_change_watcher("a2i-watcher")


def test_without_asset_watchers_there_is_no_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    assert asset_watcher_class() is not None  # Airflow 3 here
    monkeypatch.setitem(sys.modules, "airflow.sdk", types.ModuleType("airflow.sdk"))  # as on Airflow 2
    assert asset_watcher_class() is None
    assert status_change_watcher(QUEUE) is None


def test_the_operator_refuses_bad_arguments_before_any_call() -> None:
    with pytest.raises(A2IValidationError, match="reconcile_lookback_hours=0 must be a positive number"):
        A2IAppendHumanLoopResultsOperator(task_id="t", results_s3_uri="s3://bucket/p", reconcile_lookback_hours=0)
    with pytest.raises(A2IValidationError, match="flow_definition_arn"):
        A2IAppendHumanLoopResultsOperator(task_id="t", results_s3_uri="s3://bucket/p",
                                          reconcile_flow_definition_arn="x")
    with pytest.raises(A2IValidationError, match="results_s3_uri 's3://bucket' has no prefix"):
        A2IAppendHumanLoopResultsOperator(task_id="t", results_s3_uri="s3://bucket")
    with pytest.raises(A2IValidationError, match=r"\['delete_finished_loops'\] are A2IHumanLoopResultsOperator's"):
        A2IAppendHumanLoopResultsOperator(task_id="t", results_s3_uri="s3://bucket/p", delete_finished_loops=True)
    A2IAppendHumanLoopResultsOperator(task_id="t", results_s3_uri="{{ params.r }}",
                                      reconcile_flow_definition_arn="{{ params.f }}")
    templated = A2IAppendHumanLoopResultsOperator(task_id="t", results_s3_uri="{{ params.r }}", human_loops=["loop-1"])
    templated.results_s3_uri = "s3://bucket"  # as rendered: checked before any call, named as the user gave it
    with pytest.raises(A2IValidationError, match="results_s3_uri 's3://bucket' has no prefix"):
        templated.execute({})  # type: ignore[arg-type]


def test_the_example_file_defines_the_watcher_dag_on_its_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

    dag = load("dag", monkeypatch, A2I_WATCHER_QUEUE_URL=QUEUE)
    assert dag.dag_id == "a2i_review_events_watcher" and dag.max_active_runs == 1
    [asset] = dag.timetable.asset_condition.objects if hasattr(dag.timetable, "asset_condition") else []
    assert asset.name == "a2i_finished_human_loops"
    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, SqsSensorTrigger) and watcher.trigger.sqs_queue == QUEUE
    [task] = dag.tasks
    assert isinstance(task, A2IAppendHumanLoopResultsOperator) and task.from_asset_events
    reconcile = load("reconcile_dag", monkeypatch, A2I_WATCHER_QUEUE_URL=QUEUE)
    assert reconcile.dag_id == "a2i_review_events_reconcile"
    assert [task.task_id for task in reconcile.tasks] == ["reconcile"]


@pytest.mark.parametrize(("queue", "patch_airflow_2", "reason"), [
    ("", False, "set A2I_WATCHER_QUEUE_URL"),
    (QUEUE, True, "this Airflow has no asset watchers"),
])
def test_without_a_queue_or_asset_watchers_only_the_reconcile_dag_is_defined(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, queue: str, patch_airflow_2: bool,
        reason: str) -> None:
    if patch_airflow_2:
        monkeypatch.setattr("airflow_a2i.watching.asset_watcher_class", lambda: None)
    with caplog.at_level(logging.INFO):
        reconcile = load("reconcile_dag", monkeypatch, A2I_WATCHER_QUEUE_URL=queue)
    assert reconcile.dag_id == "a2i_review_events_reconcile"
    with pytest.raises(AttributeError):
        load("dag", monkeypatch, A2I_WATCHER_QUEUE_URL=queue)
    assert any("a2i_review_events_watcher is not defined" in record.getMessage() and reason in record.getMessage()
               for record in caplog.records), caplog.text


# --- against the local service --------------------------------------------------------------------------------

def watcher_queue(flow_definition_arn: str) -> dict[str, str]:
    """The watcher's own queue, fed by its own rule, as the DAG's documentation says to set it up."""
    return A2IEventsHook(aws_conn_id=None).create_status_change_queue(unique("a2i-watcher"),
                                                                      flow_definition_arn=flow_definition_arn)


def start_loops(flow: str, count: int) -> list[str]:
    hook = A2IHook(aws_conn_id=None)
    return [hook.start_human_loop(unique("watched"), flow, json.dumps({"n": n}))["HumanLoopName"]
            for n in range(count)]


def answer(endpoint: str, names: list[str]) -> None:
    admin, a2i = AdminClient(endpoint), boto3.client("sagemaker-a2i-runtime")
    for name in names:
        admin.answer(name, {"answer": f"checked {name}"})
    for name in names:
        until(lambda name=name: a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "Completed",
              f"{name} to complete")


def queued_messages(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


def fire(trigger: Any) -> list[dict[str, Any]]:
    """Run the trigger as the triggerer runs a watcher's: to its event, then again (it ends after each batch), until
    a run finds the queue empty; the asset events' extras, as Trigger.submit_event stores them."""

    async def one_run() -> dict[str, Any] | None:
        async def first() -> dict[str, Any]:
            async for event in trigger.run():
                return event.payload
            raise AssertionError("the trigger ended without an event")

        try:
            return await asyncio.wait_for(first(), timeout=5)
        except TimeoutError:  # a long poll that found nothing: the queue is drained
            return None

    extras = []
    while (payload := asyncio.run(one_run())) is not None:
        extras.append({"from_trigger": True, "payload": payload})
    return extras


def test_the_watchers_trigger_fires_with_the_finished_loops_and_takes_them_off_the_queue(local_service,
                                                                                         flow_definition_arn):
    queue = watcher_queue(flow_definition_arn)["QueueUrl"]
    names = start_loops(flow_definition_arn, 3)
    answer(local_service, names)
    until(lambda: queued_messages(queue) == 3, "the three status-change events")
    extras = fire(status_change_watcher(queue, aws_conn_id=None).trigger)
    assert sorted(finished_loop_names(extras)) == sorted(names)
    assert all(extra["payload"]["status"] == "success" for extra in extras)
    assert queued_messages(queue) == 0  # deleted on reception: a paused DAG's events must wait in SQS, not here


def results_under(s3: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Every appended line under the results, by loop name (and no object holds more than one line)."""
    lines: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/loops/"):
        for entry in page.get("Contents", ()):
            [line] = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode().splitlines()
            row = json.loads(line)
            assert entry["Key"] == loop_result_key(prefix, row["human_loop_name"])
            lines[row["human_loop_name"]] = row
    return lines


def triggering_events(*extras: dict[str, Any]) -> Any:
    """A run's ``triggering_asset_events`` as the task runner builds it from the run's consumed asset events."""
    from airflow.sdk.api.datamodels._generated import AssetEventDagRunReference, AssetReferenceAssetEventDagRun
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    asset = AssetReferenceAssetEventDagRun(name="a2i_finished_human_loops", uri=QUEUE, extra={})
    return TriggeringAssetEventsAccessor.build([
        AssetEventDagRunReferenceResult.from_asset_event_dag_run_reference(AssetEventDagRunReference(
            asset=asset, extra=extra, source_task_id=None, source_dag_id=None, source_run_id=None,
            source_map_index=-1, source_aliases=[], timestamp=datetime.now(UTC)))
        for extra in extras])


def run_append(airflow_dags: Any, results: str, *, asset_extras: list[dict[str, Any]] | None = None,
               **operator_kwargs: Any) -> dict[str, Any]:
    """dag.test() of one append task; its asset events (when given) reach it as the run's triggering events."""
    from airflow.sdk import DAG

    events = triggering_events(*asset_extras) if asset_extras is not None else None

    class Appending(A2IAppendHumanLoopResultsOperator):
        def execute(self, context: Any) -> dict[str, Any]:
            if events is not None:
                context["triggering_asset_events"] = events
            return super().execute(context)

    with DAG(unique("append").replace("-", "_"), schedule=None) as dag:
        Appending(task_id="append", results_s3_uri=results, aws_conn_id=None, **operator_kwargs)
    run = airflow_dags.run(dag)
    assert airflow_dags.task_states(run) == {"append": "success"}, run
    return airflow_dags.xcom(run, "append")


def test_each_loop_is_appended_once_whatever_arrives_twice(airflow_dags, local_service, flow_definition_arn,
                                                          output_bucket, s3):
    from airflow_a2i.operators.results import A2IHumanLoopResultsOperator

    done, still_open = start_loops(flow_definition_arn, 2), start_loops(flow_definition_arn, 1)
    answer(local_service, done)
    prefix = f"watcher/{unique('results')}"
    results = f"s3://{output_bucket}/{prefix}"
    # One batch with a duplicate, a stale "Completed" of an open loop and a name nobody started: hints, confirmed.
    batch = [trigger_extra(event_body(done[0]), event_body(still_open[0])),
             trigger_extra(event_body(done[1]), event_body(done[0]), event_body(unique("never-started")))]
    first = run_append(airflow_dags, results, asset_extras=batch)
    assert first == {"results_uri": f"{results}/loops/", "appended": 2, "already_appended": 0, "not_finished": 2,
                     "unreadable": 0, "loops": 4}
    lines = results_under(s3, output_bucket, prefix)
    assert sorted(lines) == sorted(done)
    # The lines are those the results operator writes for the same loops.
    with_results_operator = run_results(airflow_dags, done, f"{results}-reference", A2IHumanLoopResultsOperator)
    assert [lines[name] for name in done] == with_results_operator
    assert lines[done[0]]["consolidated_answer"] == {"answer": f"checked {done[0]}"}

    # The same messages again (SQS's at-least-once, or the run cleared and run again): nothing appended twice.
    again = run_append(airflow_dags, results, asset_extras=batch)
    assert (again["appended"], again["already_appended"], again["not_finished"]) == (0, 2, 2)
    assert results_under(s3, output_bucket, prefix) == lines
    # The open loop's own end comes later: appended then, alone.
    answer(local_service, still_open)
    later = run_append(airflow_dags, results, asset_extras=[trigger_extra(event_body(still_open[0]))])
    assert (later["appended"], later["already_appended"]) == (1, 0)
    assert sorted(results_under(s3, output_bucket, prefix)) == sorted(done + still_open)


def run_results(airflow_dags: Any, names: list[str], uri: str, operator: type) -> list[dict[str, Any]]:
    from airflow.sdk import DAG

    with DAG(unique("reference").replace("-", "_"), schedule=None) as dag:
        operator(task_id="results", human_loops=names, output_s3_uri=uri, aws_conn_id=None)
    run = airflow_dags.run(dag)
    results_uri = airflow_dags.xcom(run, "results")["results_uri"]
    bucket, key = results_uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_the_reconcile_dag_appends_the_finished_loops_whose_events_were_lost(airflow_dags, local_service,
                                                                             make_flow_definition, output_bucket, s3,
                                                                             monkeypatch):
    flow = make_flow_definition()
    appended_by_event, lost, still_open = (start_loops(flow, 1), start_loops(flow, 2), start_loops(flow, 1))
    answer(local_service, appended_by_event + lost)
    prefix = f"watcher/{unique('reconciled')}"
    results = f"s3://{output_bucket}/{prefix}"
    run_append(airflow_dags, results, asset_extras=[trigger_extra(event_body(appended_by_event[0]))])
    before = results_under(s3, output_bucket, prefix)

    dag = load("reconcile_dag", monkeypatch, A2I_WATCHER_RESULTS_S3_URI=results, A2I_WATCHER_FLOW_DEFINITION_ARN=flow)
    for task in dag.tasks:
        task.aws_conn_id = None
    with AwsCallRecorder(ignored=threading.Thread()) as recorder:  # every call here is the task's
        run = airflow_dags.run(dag)
    assert airflow_dags.task_states(run) == {"reconcile": "success"}
    # What the reconcile called is what the README's IAM table lists for the operator (and no more).
    assert recorder.iam_actions() == readme_iam_actions({"A2IAppendHumanLoopResultsOperator"}), recorder.calls
    reconciled = airflow_dags.xcom(run, "reconcile")
    assert (reconciled["appended"], reconciled["already_appended"], reconciled["loops"]) == (2, 1, 3)
    lines = results_under(s3, output_bucket, prefix)
    assert sorted(lines) == sorted(appended_by_event + lost) and still_open[0] not in lines
    assert lines[appended_by_event[0]] == before[appended_by_event[0]]  # not rewritten


# --- the example file on a real deployment ------------------------------------------------------------------------

@contextlib.contextmanager
def watched_deployment(root: Path, local_service: str, options: Any = None) -> Iterator[dict[str, Any]]:
    """A deployment (scheduler, dag-processor, triggerer, LocalExecutor; ``options``: another Airflow) whose DAG
    processor reads the watcher's configuration from its environment, as the example says; the watcher DAG
    unpaused, the reconcile DAG paused."""
    from tests.airflow_deployment import session_deployment
    from tests.flows import create_flow

    bucket = unique("a2i-watcher")
    boto3.client("s3").create_bucket(Bucket=bucket)
    flow = create_flow(boto3.client("sagemaker"), output_path=f"s3://{bucket}/a2i-output",
                       workteam_arn="arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/tests")
    queue = watcher_queue(flow)
    prefix = "results"
    env = {"AWS_ENDPOINT_URL": local_service, "A2I_WATCHER_QUEUE_URL": queue["QueueUrl"],
           "A2I_WATCHER_RESULTS_S3_URI": f"s3://{bucket}/{prefix}", "A2I_WATCHER_FLOW_DEFINITION_ARN": flow}
    for deployment in session_deployment(root, env, options):
        ids = deployment.add_dag_file(DAG_FILE, unpause=False)
        assert sorted(ids) == ["a2i_review_events_reconcile", "a2i_review_events_watcher"]
        deployment.unpause("a2i_review_events_watcher")
        yield {"deployment": deployment, "flow": flow, "queue": queue["QueueUrl"], "bucket": bucket,
               "prefix": prefix, "db": root / "home" / "airflow.db"}


@pytest.fixture(scope="module")
def watched(session_dir: Path, local_service: str) -> Iterator[dict[str, Any]]:
    with watched_deployment(session_dir / unique("watcher-deployment"), local_service) as deployment:
        yield deployment


def watcher_runs(deployment: Any) -> list[dict[str, Any]]:
    runs = deployment._json("GET", "/dags/a2i_review_events_watcher/dagRuns", params={"limit": 100})["dag_runs"]
    return sorted(runs, key=lambda run: run["run_after"])


def watcher_triggers(db: Path) -> int:
    """How many triggers Airflow keeps apart from deferred tasks': here, the asset watcher's (the triggerer runs
    them; the table linking them to assets is asset_trigger on Airflow 3.0, asset_watcher later)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute("SELECT count(*) FROM trigger WHERE id NOT IN "
                                  "(SELECT trigger_id FROM task_instance WHERE trigger_id IS NOT NULL)").fetchone()[0]


def appended_results(deployment: Any, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    finished = [deployment.wait_for_run("a2i_review_events_watcher", run["dag_run_id"], timeout=120) for run in runs]
    assert finished == ["success"] * len(runs), deployment.logs()
    return [deployment.xcom("a2i_review_events_watcher", run["dag_run_id"], "append_results") for run in runs]


@pytest.mark.deployment
@pytest.mark.timeout(600)
def test_on_a_deployment_finished_loops_are_appended_once_and_wait_in_sqs_while_paused(watched, local_service):
    appends_once_and_waits_in_sqs_while_paused(watched, local_service)


def appends_once_and_waits_in_sqs_while_paused(watched: dict[str, Any], local_service: str) -> None:
    """The scenario, on a deployment of any Airflow 3 line (tests/compat runs it on each)."""
    deployment, queue, s3 = watched["deployment"], watched["queue"], boto3.client("s3")
    bucket, prefix = watched["bucket"], watched["prefix"]
    until(lambda: watcher_triggers(watched["db"]) == 1, "the watcher to be registered", timeout=120)

    # Loops end -> A2I's events -> EventBridge rule -> the watcher's queue -> trigger -> asset events -> runs.
    first = start_loops(watched["flow"], 2)
    answer(local_service, first)
    until(lambda: len(results_under(s3, bucket, prefix)) == 2, "the two loops to be appended", timeout=180)
    runs = until(lambda: [run for run in watcher_runs(deployment) if run["state"] in ("success", "failed")]
                 if all(run["state"] in ("success", "failed") for run in watcher_runs(deployment)) else None,
                 "the runs to finish", timeout=120)
    assert all(run["run_type"] == "asset_triggered" for run in runs), runs
    assert sum(result["appended"] for result in appended_results(deployment, runs)) == 2
    assert queued_messages(queue) == 0

    # A message seen twice: a run, which appends nothing.
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=event_body(first[0]))
    duplicate = until(lambda: watcher_runs(deployment)[len(runs):] or None, "the duplicate's run", timeout=120)
    [again] = appended_results(deployment, duplicate)
    assert (again["appended"], again["already_appended"]) == (0, 1)
    assert sorted(results_under(s3, bucket, prefix)) == sorted(first)

    # Paused: the next parse drops the watcher, and the triggerer its trigger. A receive already under way may still
    # take messages, whose event Airflow then drops (the trigger is gone): the reconcile's case, not tested here.
    deployment.pause("a2i_review_events_watcher")
    until(lambda: watcher_triggers(watched["db"]) == 0, "the watcher to be dropped while paused", timeout=120)
    time.sleep(RECEIVE_WAIT_SECONDS + 2)  # any long poll begun before the cancel is over
    seen_runs = len(watcher_runs(deployment))
    [paused] = start_loops(watched["flow"], 1)
    answer(local_service, [paused])
    until(lambda: queued_messages(queue) == 1, "the event to reach the queue")
    time.sleep(12)  # two parses and a dozen triggerer loops: nothing takes it
    assert queued_messages(queue) == 1 and len(watcher_runs(deployment)) == seen_runs
    # Unpaused: the watcher comes back and takes the backlog.
    deployment.unpause("a2i_review_events_watcher")
    until(lambda: paused in results_under(s3, bucket, prefix), "the paused loop to be appended", timeout=180)
    assert sorted(results_under(s3, bucket, prefix)) == sorted([*first, paused])
    assert queued_messages(queue) == 0
