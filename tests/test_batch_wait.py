"""Waiting on a whole batch through its manifests: calls per poll, missing loops, each policy, both modes."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.manifest import ManifestRecord, ManifestWriter, manifest_sources
from airflow_a2i.names import deterministic_loop_name, run_hash
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor
from airflow_a2i.triggers.batch import A2IHumanLoopBatchTrigger
from airflow_a2i.waiting import batch as batch_look
from airflow_a2i.waiting.policies import WaitPolicy
from tests.conftest import unique
from tests.loops import reviewing, set_policy

DAG_ID = "batch_review"
TASK_ID = "start_reviews"
A2I_SERVICE = "sagemaker-a2i-runtime"
THREADS = 8


# Helpers ------------------------------------------------------------------------------------------

def batch_names(run_id: str, count: int, first: int = 1) -> dict[str, str]:
    """item key -> deterministic loop name, for items doc-0001... of one run."""
    keys = [f"doc-{index:04d}" for index in range(first, first + count)]
    return {key: deterministic_loop_name(DAG_ID, run_id, TASK_ID, item_key=key) for key in keys}


@functools.cache
def clients() -> list:
    """THREADS runtime clients, one a thread (a client is not shared), made once: making one takes a while."""
    return [boto3.session.Session().client(A2I_SERVICE) for _ in range(THREADS)]


def start_loops(flow_arn: str, names: list[str]) -> None:
    """Start the loops through boto3, THREADS at once (a few hundred a second against the local service)."""
    threads = min(THREADS, math.ceil(len(names) / 20))
    runtime_clients = clients()  # made here, not by each thread at once

    def start(index: int) -> None:
        for name in names[index::threads]:
            runtime_clients[index].start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_arn,
                                                    HumanLoopInput={"InputContent": json.dumps({"name": name})})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(start, range(threads)))


def write_manifest(bucket: str, loops: dict[str, str], not_started: tuple[str, ...] = ()) -> str:
    """A manifest recording ``loops`` (item key -> name) as started, and ``not_started`` items without a loop."""
    uri = f"s3://{bucket}/{unique('manifests')}/manifest"
    writer = ManifestWriter(S3Hook(aws_conn_id=None), uri, flush_every=300)
    for key, name in loops.items():
        writer.add(ManifestRecord(item_key=key, human_loop_name=name, human_loop_started=True))
    for key in not_started:
        writer.add(ManifestRecord(item_key=key, reasons=["confident"]))
    writer.complete({"loops": len(loops)})
    return uri


def new_batch(flow_arn: str, bucket: str, count: int) -> tuple[dict[str, str], str]:
    """``count`` started loops of a fresh run and their manifest: (item key -> name, manifest URI)."""
    loops = batch_names(unique("run"), count)
    start_loops(flow_arn, list(loops.values()))
    return loops, write_manifest(bucket, loops)


def answer(endpoint: str, names: list[str]) -> None:
    admin = AdminClient(endpoint)
    for name in names:
        admin.answer(name, {"ok": True})


def status_of(name: str) -> str:
    return boto3.client(A2I_SERVICE).describe_human_loop(HumanLoopName=name)["HumanLoopStatus"]


def wait_for_status(name: str, status: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while status_of(name) != status:
        assert time.monotonic() < deadline, f"{name} is still {status_of(name)}"
        time.sleep(0.05)


def read_report(s3, uri: str) -> list[dict]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def trigger_for(flow_arn: str, manifest_uris: list[str], **kwargs: Any) -> A2IHumanLoopBatchTrigger:
    """The batch trigger; the wait policy's fields among ``kwargs`` go into its policy (polling every 0.2 s)."""
    policy = {"poll_interval": 0.2, **{field: kwargs.pop(field) for field in list(kwargs)
                                       if field in WaitPolicy.__dataclass_fields__}}
    return A2IHumanLoopBatchTrigger(manifest_uris=manifest_uris, flow_definition_arn=flow_arn,
                                    policy=WaitPolicy(**policy), aws_conn_id=None, **kwargs)


class CallLog:
    """The A2I runtime operations of each poll (one look: its listing pages, describes and stops)."""

    def __init__(self) -> None:
        self.polls: list[Counter] = []
        self.counting = False

    def start(self) -> None:
        """A new poll: count from now on, until :meth:`stop`."""
        self.polls.append(Counter())
        self.counting = True

    def stop(self) -> None:
        self.counting = False

    def record(self, service: str, operation: str) -> None:
        if service == A2I_SERVICE and self.counting:
            self.polls[-1][operation] += 1

    def per_poll(self) -> list[int]:
        return [sum(poll.values()) for poll in self.polls]


@pytest.fixture
def async_calls(monkeypatch) -> CallLog:
    """Counts the trigger's aiobotocore calls."""
    from aiobotocore.client import AioBaseClient

    log = CallLog()
    original = AioBaseClient._make_api_call

    async def counted(self, operation_name, api_params):
        log.record(self.meta.service_model.service_name, operation_name)
        return await original(self, operation_name, api_params)

    monkeypatch.setattr(AioBaseClient, "_make_api_call", counted)
    return log


@pytest.fixture
def sync_calls(monkeypatch) -> CallLog:
    """Counts the sensor's botocore calls."""
    from botocore.client import BaseClient

    log = CallLog()
    original = BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        log.record(self.meta.service_model.service_name, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return log


def collect(trigger: A2IHumanLoopBatchTrigger, calls: CallLog | None = None,
            before_poll: Callable[[int], None] | None = None) -> tuple[dict, int]:
    """Run the trigger to its end: (its one event, how many polls it made). ``before_poll(n)`` runs before
    poll n (1-based); each poll's calls go to ``calls``."""
    original = trigger.look
    polls = 0

    async def look(client):
        nonlocal polls
        polls += 1
        if before_poll is not None:
            before_poll(polls)
        if calls is not None:
            calls.start()
        return await original(client)

    trigger.look = look  # type: ignore[method-assign]

    async def run() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    [event] = asyncio.run(run())
    return event, polls


# Scale ---------------------------------------------------------------------------------------------

@pytest.fixture
def small_skew(monkeypatch) -> None:
    """Listings start 50 ms (not 5 min) before the loops they look for, so that a test can show the window
    leaving out loops created just before it."""
    monkeypatch.setattr(batch_look, "SKEW_SECONDS", 0.05)


@pytest.mark.timeout(120)
def test_a_1000_loop_wait_costs_at_most_ceil_n_over_100_plus_1_calls_a_poll(
        local_service, make_flow_definition, output_bucket, s3, sync_calls, async_calls, small_skew):
    from airflow.providers.common.compat.sdk import TaskDeferred

    count = 1000
    flow = make_flow_definition()
    run_id = unique("run")
    before = batch_names(unique("other-run"), 300)  # another run of the same task, same flow definition
    ours = batch_names(run_id, count)
    after = batch_names(unique("other-run"), 300)
    start_loops(flow, list(before.values()))
    time.sleep(0.2)
    created_after = time.time()  # as a batch start task returns it: before its first loop's creation
    start_loops(flow, list(ours.values()))
    start_loops(flow, list(after.values()))
    keys = list(ours)
    manifests = [write_manifest(output_bucket, {key: ours[key] for key in keys[:600]}, not_started=("doc-9001",)),
                 write_manifest(output_bucket, {key: ours[key] for key in keys[600:]}, not_started=("doc-9002",))]
    budget = math.ceil(count / 100) + 1  # 11, where listing the whole flow definition would take 16 pages

    # Deferrable: one look on the worker, then defer. What the start tasks return gives the flow definition
    # and the creation-time window.
    started = [{"manifest_uri": uri, "flow_definition_arn": flow, "created_after": created_after, "loops": 500}
               for uri in manifests]
    sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=started, deferrable=True, poke_interval=0.2,
                                     timeout=120, aws_conn_id=None)
    sync_calls.start()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context={})
    sync_calls.stop()
    # The window leaves out the 300 earlier loops; paging stops once all 1000 are seen, before the 300 later.
    assert sync_calls.polls == [Counter({"ListHumanLoops": 10})]

    trigger = deferred.value.trigger
    path, kwargs = trigger.serialize()
    serialized = json.dumps(kwargs)
    assert len(serialized) < 1024, serialized  # URIs and counts: the same size for 10 or 10,000 loops
    assert not any(name in serialized for name in ours.values())
    assert (kwargs["total_loops"], kwargs["run_hash"]) == (count, run_hash(DAG_ID, run_id, TASK_ID))
    assert kwargs["earliest_creation_time"] == created_after
    assert type(trigger)(**kwargs).serialize() == (path, kwargs)

    def workers_arrive(poll: int) -> None:
        if poll == 2:  # every loop is answered from now on, while the trigger polls
            set_policy(local_service, flow, delaySeconds=[0.0, 0.0], answer={"mode": "fixed", "answer": {"ok": 1}})

    event, polls = collect(trigger, async_calls, workers_arrive)
    assert event["status"] == "success", event["message"]
    assert event["counts"] == {"Completed": count}
    assert polls >= 2 and len(async_calls.polls) == polls
    for calls in async_calls.polls:
        assert set(calls) == {"ListHumanLoops"} and sum(calls.values()) <= budget, async_calls.polls
    assert event["report"] == {"total": count, "counts": {"Completed": count}, "timed_out_count": 0,
                               "report_s3_uri": f"{manifests[0]}/wait-report.jsonl", "manifest_uris": manifests}
    assert len(json.dumps(event)) < 2048
    report = read_report(s3, event["report"]["report_s3_uri"])
    assert {line["human_loop_name"]: line["item_key"] for line in report} == {name: key for key, name in ours.items()}
    assert {line["status"] for line in report} == {"Completed"}
    assert all(line["creation_time"] for line in report)
    assert sensor.execute_complete({}, event) == event["report"]


# Missing loops, manifests, serialization -----------------------------------------------------------

@pytest.mark.parametrize(("policy", "outcome"), [("continue", "success"), ("fail", "failed")])
def test_a_deleted_loop_is_reported_missing_and_is_the_only_one_described(
        local_service, flow_definition_arn, output_bucket, s3, async_calls, policy, outcome):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 4)
    names = list(loops.values())
    answer(local_service, names)
    boto3.client(A2I_SERVICE).delete_human_loop(HumanLoopName=names[1])
    report_uri = f"s3://{output_bucket}/reports/{unique('r')}.jsonl"
    event, _ = collect(trigger_for(flow_definition_arn, [manifest], earliest_creation_time=None,
                                   report_s3_uri=report_uri, on_loop_failure=policy), async_calls)
    assert event["status"] == outcome
    assert event["counts"] == {"Completed": 3, "Missing": 1}
    assert event["failed"] == [names[1]]
    assert async_calls.polls == [Counter({"ListHumanLoops": 1, "DescribeHumanLoop": 1})]
    missing = [line for line in read_report(s3, report_uri) if line["status"] == "Missing"]
    assert [(line["human_loop_name"], line["item_key"]) for line in missing] == [(names[1], "doc-0002")]


def test_loops_of_other_runs_and_items_without_a_loop_are_ignored(local_service, flow_definition_arn, output_bucket):
    loops = batch_names(unique("run"), 3)
    others = batch_names(unique("other-run"), 3)  # the same item keys in another run: other names
    start_loops(flow_definition_arn, list(loops.values()) + list(others.values()))
    answer(local_service, list(loops.values()))  # the other run's loops stay open: they must not hold the wait
    manifest = write_manifest(output_bucket, loops, not_started=("doc-0100", "doc-0101"))
    event, polls = collect(trigger_for(flow_definition_arn, [manifest]))
    assert (event["status"], event["counts"], polls) == ("success", {"Completed": 3}, 1)


def test_the_trigger_backs_off_when_throttled(local_service, flow_definition_arn, output_bucket):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 2)
    answer(local_service, list(loops.values()))
    admin = AdminClient(local_service)
    # More throttles than botocore's own retries (one attempt), so the trigger's backoff has to carry the wait.
    admin.add_fault("ListHumanLoops", "ThrottlingException", count=1)
    try:
        event, _ = collect(trigger_for(flow_definition_arn, [manifest],
                                       botocore_config={"retries": {"total_max_attempts": 1}}))
    finally:
        admin.clear_faults()
    assert event["status"] == "success" and event["counts"] == {"Completed": 2}


def test_a_throttled_poke_looks_again_at_the_next_poke(local_service, flow_definition_arn, output_bucket):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 2)
    answer(local_service, list(loops.values()))
    sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=manifest, flow_definition_arn=flow_definition_arn,
                                     aws_conn_id=None, botocore_config={"retries": {"total_max_attempts": 1}})
    admin = AdminClient(local_service)
    admin.add_fault("ListHumanLoops", "ThrottlingException", count=1)
    try:
        first = sensor.poke({})
    finally:
        admin.clear_faults()
    second = sensor.poke({})
    assert not first.is_done and second.is_done
    assert second.xcom_value is not None and second.xcom_value["counts"] == {"Completed": 2}


def test_errors_end_the_wait_with_one_error_event(local_service, make_flow_definition, flow_definition_arn,
                                                  output_bucket):
    _, manifest = new_batch(flow_definition_arn, output_bucket, 2)
    event, _ = collect(trigger_for(flow_definition_arn, [f"s3://{unique('no-such-bucket')}/m"]))
    assert event["status"] == "error" and "Cannot read the batch's manifests" in event["message"]
    other_flow = make_flow_definition()  # the wrong flow definition: its listing never shows the loops
    event, _ = collect(trigger_for(other_flow, [manifest]))
    assert event["status"] == "error" and f"not to {other_flow}" in event["message"]


def test_manifest_uris_accept_uris_and_what_batch_start_tasks_return():
    uri, other = "s3://bucket/batch/manifest", "s3://bucket/batch/manifest/map-1"
    arn = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f"
    assert manifest_sources(uri).uris == [uri]
    assert manifest_sources([uri + "/", other, uri]).uris == [uri, other]
    started = [{"manifest_uri": uri, "flow_definition_arn": arn, "created_after": 100.0, "loops": 3}, None,
               {"manifest_uri": other, "flow_definition_arn": arn, "created_after": 90}]
    sources = manifest_sources(started)
    assert (sources.uris, sources.flow_definition_arns, sources.created_after) == ([uri, other], {arn}, 90.0)
    assert manifest_sources([started[0], other]).created_after is None  # not known for every manifest
    sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=started)  # the ARN comes from the start tasks
    assert sensor._flow_definition_arn() == arn
    for bad in ("bucket/manifest", ["s3://"], [{"uri": uri}], [], 3, "['s3://bucket/m']"):
        with pytest.raises(A2IValidationError, match="manifest"):
            manifest_sources(bad)
    with pytest.raises(A2IValidationError, match="Give flow_definition_arn"):
        A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=uri)
    with pytest.raises(A2IValidationError, match="started their loops in"):
        A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=started, flow_definition_arn=arn + "-other")
    templated = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris="{{ ti.xcom_pull('start') }}",
                                        flow_definition_arn=arn)  # not checked before it is rendered...
    templated.manifest_uris = "['s3://bucket/m']"  # ...as a Jinja string of a list, which says what to do
    with pytest.raises(A2IValidationError, match=r"start\.output"):
        templated._uris()


# Each policy on a batch -----------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "outcome"), [("fail", "failed"), ("skip", "skipped"), ("continue", "success")])
def test_each_failure_policy_on_a_batch(local_service, flow_definition_arn, output_bucket, policy, outcome):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 6)
    names = list(loops.values())
    answer(local_service, names[:4])
    boto3.client(A2I_SERVICE).stop_human_loop(HumanLoopName=names[4])  # Stopping, then Stopped
    late = names[5]

    def answer_late(poll: int) -> None:
        if poll == 4:
            answer(local_service, [late])

    event, polls = collect(trigger_for(flow_definition_arn, [manifest], on_loop_failure=policy),
                           before_poll=answer_late)
    assert event["status"] == outcome
    assert event["failed"] == [names[4]]
    if policy == "fail":  # a failure ends the wait at once, without waiting for the open loop
        assert polls < 4 and event["counts"] == {"Completed": 4, "InProgress": 1, "Stopped": 1}
        assert names[4] in event["message"]
    else:  # skip and continue wait until every loop has ended
        assert polls >= 4 and event["counts"] == {"Completed": 5, "Stopped": 1}


@pytest.mark.parametrize(
    ("policy", "outcome", "left"),
    [("fail", "failed", {"InProgress"}), ("stop_and_fail", "failed", {"Stopping", "Stopped"}),
     ("stop_and_continue", "success", {"Stopping", "Stopped"}), ("continue", "success", {"InProgress"})],
)
def test_each_review_timeout_policy_on_a_batch(local_service, flow_definition_arn, output_bucket, s3, policy,
                                               outcome, left):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 5)
    names = list(loops.values())
    answer(local_service, names[:3])
    report_uri = f"s3://{output_bucket}/reports/{unique('r')}.jsonl"
    event, _ = collect(trigger_for(flow_definition_arn, [manifest], review_timeout=1.0,
                                   on_review_timeout=policy, report_s3_uri=report_uri))
    assert event["status"] == outcome
    if outcome == "failed":
        # The wait ends at the first overdue loop; the other open one may fall due a moment later.
        assert event["timed_out"] and set(event["timed_out"]) <= set(names[3:])
    else:
        assert event["timed_out"] == sorted(names[3:])
    assert event["report"]["timed_out_count"] == len(event["timed_out"])
    assert {status_of(name) for name in event["timed_out"]} <= left
    assert {status_of(name) for name in names[:3]} == {"Completed"}
    timed_out = {line["human_loop_name"] for line in read_report(s3, report_uri) if line["timed_out"]}
    assert timed_out == set(event["timed_out"])


@pytest.mark.parametrize("stop_on_kill", [True, False])
def test_on_kill_stops_the_batchs_open_loops_only_when_asked(local_service, flow_definition_arn, output_bucket,
                                                             stop_on_kill):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 3)
    names = list(loops.values())
    answer(local_service, names[:1])
    trigger = trigger_for(flow_definition_arn, [manifest], stop_on_kill=stop_on_kill)
    asyncio.run(trigger.cleanup())  # runs on every triggerer restart: must never stop anything
    assert {status_of(name) for name in names[1:]} == {"InProgress"}
    asyncio.run(trigger.on_kill())
    assert status_of(names[0]) == "Completed"
    left = {status_of(name) for name in names[1:]}
    assert left <= {"Stopping", "Stopped"} if stop_on_kill else left == {"InProgress"}


# The sensor: poke mode, and DAG runs -------------------------------------------------------------

def test_poke_mode_lists_at_most_ceil_n_over_100_plus_1_pages_a_poke_and_skips_ended_loops(
        local_service, flow_definition_arn, output_bucket, s3, sync_calls, small_skew):
    count = 151
    loops = batch_names(unique("run"), count)
    names = list(loops.values())
    start_loops(flow_definition_arn, names[:150])
    time.sleep(0.2)
    start_loops(flow_definition_arn, names[150:])  # the last loop created
    start_loops(flow_definition_arn, list(batch_names(unique("other-run"), 40).values()))
    manifest = write_manifest(output_bucket, loops)
    answer(local_service, names[:150])
    sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=manifest, flow_definition_arn=flow_definition_arn,
                                     on_loop_failure="continue", aws_conn_id=None)
    sync_calls.start()
    first = sensor.poke({})  # no creation time known: newest first until every loop is seen
    sync_calls.stop()
    boto3.client(A2I_SERVICE).stop_human_loop(HumanLoopName=names[150])
    wait_for_status(names[150], "Stopped")
    sync_calls.start()
    second = sensor.poke({})
    sync_calls.stop()
    assert not first.is_done and second.is_done
    assert sync_calls.polls[0] == Counter({"ListHumanLoops": 2})  # 191 loops; at most ceil(151 / 100) + 1 = 3
    # The second look lists only from the one loop still open, the last created: one page.
    assert sync_calls.polls[1] == Counter({"ListHumanLoops": 1})
    result = second.xcom_value
    assert result is not None and result["counts"] == {"Completed": 150, "Stopped": 1}
    report = read_report(s3, result["report_s3_uri"])
    assert [line["human_loop_name"] for line in report if line["status"] == "Stopped"] == [names[150]]


def batch_dag(dag_id: str, flow_arn: str, manifest: str, **sensor_kwargs: Any):
    from airflow.sdk import DAG, task

    with DAG(dag_id, schedule=None) as dag:
        @task
        def start() -> dict:  # what a batch start task returns: the manifest's URI and counts
            return {"manifest_uri": manifest, "flow_definition_arn": flow_arn, "loops": 6}

        A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=start(), poke_interval=0.2, timeout=60,
                                aws_conn_id=None, **sensor_kwargs)
    return dag


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_the_sensor_waits_for_the_batch_in_a_dag_run(airflow_dags, local_service, flow_definition_arn,
                                                     output_bucket, s3, monkeypatch, mode):
    deferrals = []
    original_run = A2IHumanLoopBatchTrigger.run

    def run(self):
        deferrals.append(self.serialize()[1])
        return original_run(self)

    monkeypatch.setattr(A2IHumanLoopBatchTrigger, "run", run)
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 6)
    start_loops(flow_definition_arn, list(batch_names(unique("other-run"), 2).values()))
    dag_id = unique(f"batch_wait_{mode}").replace("-", "_")
    options = {"deferrable": True} if mode == "deferrable" else {"mode": "poke"}

    def review(stop: threading.Event) -> None:
        """People answer once the sensor waits (deferred, or after its first pokes), however slow the machine."""
        deadline = time.monotonic() + 60
        while mode == "deferrable" and not deferrals and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        for name in loops.values():
            AdminClient(local_service).answer(name, {"ok": True})

    with reviewing(review):
        run_result = airflow_dags.run(batch_dag(dag_id, flow_definition_arn, manifest, **options))
    assert airflow_dags.task_states(run_result) == {"start": "success", "wait": "success"}
    assert airflow_dags.xcom(run_result, "wait") == {
        "total": 6, "counts": {"Completed": 6}, "timed_out_count": 0,
        "report_s3_uri": f"{manifest}/wait-report.jsonl", "manifest_uris": [manifest]}
    assert len(deferrals) == (1 if mode == "deferrable" else 0)
    if deferrals:
        assert deferrals[0]["total_loops"] == 6 and not any(name in json.dumps(deferrals[0])
                                                              for name in loops.values())
    report = read_report(s3, f"{manifest}/wait-report.jsonl")
    assert sorted(line["item_key"] for line in report) == sorted(loops)


def test_a_skipped_batch_skips_the_sensor_task(airflow_dags, local_service, flow_definition_arn, output_bucket):
    loops, manifest = new_batch(flow_definition_arn, output_bucket, 3)
    names = list(loops.values())
    answer(local_service, names[:2])
    boto3.client(A2I_SERVICE).stop_human_loop(HumanLoopName=names[2])
    dag_id = unique("batch_skip").replace("-", "_")
    run_result = airflow_dags.run(batch_dag(dag_id, flow_definition_arn, manifest, deferrable=True,
                                            on_loop_failure="skip"))
    assert airflow_dags.task_states(run_result) == {"start": "success", "wait": "skipped"}


def test_the_sensor_takes_what_the_batch_start_operator_returns(airflow_dags, local_service, flow_definition_arn,
                                                                 output_bucket):
    from airflow.sdk import DAG

    from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator

    set_policy(local_service, flow_definition_arn, delaySeconds=[0.5, 1.0])
    with DAG(unique("batch_start_wait").replace("-", "_"), schedule=None) as dag:
        start = A2IStartHumanLoopBatchOperator(
            task_id="start", flow_definition_arn=flow_definition_arn, aws_conn_id=None,
            items=[{"item_key": f"doc-{index:04d}", "input": {"n": index}} for index in range(5)],
            manifest_s3_uri=f"s3://{output_bucket}/{unique('batch')}/manifest")
        A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=start.output, deferrable=True, poke_interval=0.2,
                                timeout=60, aws_conn_id=None)  # the flow definition comes with the manifest
    run_result = airflow_dags.run(dag)
    assert airflow_dags.task_states(run_result) == {"start": "success", "wait": "success"}
    result = airflow_dags.xcom(run_result, "wait")
    assert (result["total"], result["counts"]) == (5, {"Completed": 5})
    assert result["manifest_uris"] == [airflow_dags.xcom(run_result, "start")["manifest_uri"]]
