"""Event-driven completion: A2I's status-change events through EventBridge and SQS as hints to the waits, with
DescribeHumanLoop as the authority. Against the local service (EventBridge -> SQS -> trigger), with a poll interval
of an hour wherever an end must come from an event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.hooks.events import POLICY_SID, TARGET_ID, A2IEventsHook, queue_policy, status_change_pattern
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.operators.events import A2ICreateEventQueueOperator
from airflow_a2i.triggers.base import A2IBaseWaitTrigger
from airflow_a2i.triggers.human_loop import A2IHumanLoopTrigger
from airflow_a2i.waiting.completion import DETAIL_TYPE, SOURCE, EventWait, release, release_seconds, status_hint
from airflow_a2i.waiting.policies import WaitPolicy
from tests.conftest import unique

HOUR = 3600.0
ACCOUNT = "123456789012"


def event_body(name: str, status: str = "Completed", flow: str = "arn:aws:sagemaker:us-east-1:1:flow-definition/f"
               ) -> str:
    return json.dumps({"source": SOURCE, "detail-type": DETAIL_TYPE, "detail": {
        "humanLoopName": name, "humanLoopStatus": status, "flowDefinitionArn": flow}})


def message(body: str, number: int = 0) -> dict[str, str]:
    return {"MessageId": f"m{number}", "ReceiptHandle": f"r{number}", "Body": body}


# --- the pure part --------------------------------------------------------------------------------------------

def test_a_hint_is_read_only_from_a2is_status_change_events() -> None:
    assert status_hint(event_body("loop-a", "Failed")).human_loop_name == "loop-a"  # type: ignore[union-attr]
    assert status_hint(event_body("loop-a", "Failed")).status == "Failed"  # type: ignore[union-attr]
    for body in ("not json", "[]", json.dumps({"source": "aws.s3", "detail-type": DETAIL_TYPE,
                                               "detail": {"humanLoopName": "x"}}),
                 json.dumps({"source": SOURCE, "detail-type": DETAIL_TYPE, "detail": {"humanLoopName": 7}})):
        assert status_hint(body) is None


def test_messages_are_sorted_into_ours_to_confirm_ours_known_and_others() -> None:
    wait = EventWait("https://sqs.us-east-1.amazonaws.com/1/q", reconcile_interval=300)
    received = wait.sort([message(event_body("open"), 1), message(event_body("done"), 2),
                          message(event_body("someone-elses"), 3), message("garbage", 4),
                          message(event_body("open", "Stopped"), 5)],
                         waited_on={"open", "done"}, final={"done"})
    assert received.to_confirm == {"open"}  # a duplicate of a loop already final needs no describe
    assert [entry["Id"] for entry in received.ours] == ["m1", "m2", "m5"]
    assert [entry["Id"] for entry in received.others] == ["m3", "m4"]
    assert received.ours[0] == {"Id": "m1", "ReceiptHandle": "r1"}
    assert received.others[0] == {"Id": "m3", "ReceiptHandle": "r3", "VisibilityTimeout": 0}


def test_a_message_given_back_stays_out_of_sight_longer_the_more_it_was_received() -> None:
    assert [release_seconds(count) for count in (1, 2, 3, 4, 5, 8, 9, 1000)] == [0, 1, 3, 7, 15, 120, 120, 120]
    received = {"MessageId": "m", "ReceiptHandle": "r", "Attributes": {"ApproximateReceiveCount": "3"}}
    assert release(received) == {"Id": "m", "ReceiptHandle": "r", "VisibilityTimeout": 3}
    assert release({"MessageId": "m", "ReceiptHandle": "r"})["VisibilityTimeout"] == 0


def test_a_fresh_message_comes_back_soon_however_often_other_waits_received_it() -> None:
    """Capped at a quarter of its age: the owner of a fresh event gets it within moments even when other waits
    sharing the queue win the receive again and again; an old one (most likely nobody's) keeps its long delays."""
    assert [release_seconds(8, age) for age in (0, 3.9, 4, 12, 100, 480, 10_000)] == [0, 0, 1, 3, 25, 120, 120]
    assert release_seconds(2, 100) == 1  # the count's delay when it is the shorter
    sent = {"MessageId": "m", "ReceiptHandle": "r", "Attributes": {"ApproximateReceiveCount": "9",
                                                                    "SentTimestamp": "1000000"}}
    assert release(sent, now=1_008.0)["VisibilityTimeout"] == 2
    assert release(sent)["VisibilityTimeout"] == 120  # no clock given: by the count alone
    wait = EventWait("q", reconcile_interval=300)
    received = wait.sort([{**sent, "Body": event_body("someone-elses")}], waited_on=set(), final=set(), now=1_020.0)
    [entry] = received.others
    assert entry == {"Id": "m", "ReceiptHandle": "r", "VisibilityTimeout": 5}


def test_the_wait_reconciles_first_then_on_its_interval_and_while_sqs_fails() -> None:
    wait = EventWait("q", reconcile_interval=300)
    assert wait.due_for_reconcile(1000) and wait.receive_wait_seconds(1000) == 0
    wait.reconciled(1000)
    assert not wait.due_for_reconcile(1010)
    assert wait.receive_wait_seconds(1010) == 20  # SQS's longest long poll
    assert wait.receive_wait_seconds(1295) == 5  # never past the next reconcile
    assert wait.due_for_reconcile(1300)
    assert wait.sqs_failed("boom") is True and wait.sqs_failed("boom") is False  # logged once
    assert wait.polling and wait.due_for_reconcile(1010)
    assert wait.sqs_worked() is True and not wait.polling and wait.sqs_worked() is False


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"completion": "push"}, "is not one of \\['poll', 'events'\\]"),
    ({"completion": "events"}, "needs events_queue_url"),
    ({"completion": "events", "events_queue_url": "my-queue"}, "is not an SQS queue URL"),
    ({"completion": "events", "events_queue_url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/q",
      "reconcile_interval": 0}, "reconcile_interval=0 must be a positive number"),
])
def test_bad_completion_arguments_are_refused_before_any_call(kwargs: dict, error: str) -> None:
    with pytest.raises(A2IValidationError, match=error):
        WaitPolicy(**kwargs)


def test_the_policy_round_trips_with_its_completion() -> None:
    policy = WaitPolicy(completion="events", events_queue_url=f"http://127.0.0.1:5000/{ACCOUNT}/a2i-events",
                        reconcile_interval=60)
    assert WaitPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
    assert policy.by_events and not WaitPolicy().by_events
    assert WaitPolicy.of(on_loop_failure="fail", on_review_timeout="fail", review_timeout=None, poll_interval="5",
                         completion="events", events_queue_url=policy.events_queue_url,
                         reconcile_interval="60") == WaitPolicy(poll_interval=5, completion="events",
                                                                events_queue_url=policy.events_queue_url,
                                                                reconcile_interval=60)


def test_the_queue_policy_lets_only_the_rule_send_and_keeps_other_statements() -> None:
    other = {"Sid": "Theirs", "Effect": "Allow", "Principal": "*", "Action": "sqs:GetQueueUrl", "Resource": "q"}
    policy = json.loads(queue_policy(json.dumps({"Version": "2012-10-17", "Statement": [other]}), "arn:q", "arn:r"))
    again = json.loads(queue_policy(json.dumps(policy), "arn:q", "arn:r"))
    assert again == policy  # idempotent
    ours = [statement for statement in policy["Statement"] if statement["Sid"] == POLICY_SID]
    assert policy["Statement"][0] == other and len(ours) == 1
    assert ours[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": "arn:r"}}
    assert ours[0]["Action"] == "sqs:SendMessage" and ours[0]["Principal"] == {"Service": "events.amazonaws.com"}


def test_the_queue_operator_checks_literal_names_at_parse_time() -> None:
    with pytest.raises(A2IValidationError, match="is not an SQS queue name"):
        A2ICreateEventQueueOperator(task_id="q", queue_name="has spaces")
    with pytest.raises(A2IValidationError, match="is not an EventBridge rule name"):
        A2ICreateEventQueueOperator(task_id="q", queue_name="ok", rule_name="x" * 65)
    A2ICreateEventQueueOperator(task_id="q", queue_name="{{ params.queue }}", flow_definition_arn="{{ x }}")


# --- against the local service --------------------------------------------------------------------------------

@pytest.fixture
def events_queue(local_service: str, flow_definition_arn: str) -> dict[str, str]:
    """A queue the flow definition's status changes reach through a rule, set up by the hook."""
    return A2IEventsHook(aws_conn_id=None).create_status_change_queue(
        unique("a2i-events"), flow_definition_arn=flow_definition_arn)


def start_loops(flow: str, count: int) -> list[str]:
    hook = A2IHook(aws_conn_id=None)
    return [hook.start_human_loop(unique("ev"), flow, json.dumps({"n": n}))["HumanLoopName"] for n in range(count)]


class Running:
    """A trigger's run() on its own event loop in a thread: the test acts while it waits."""

    def __init__(self, trigger: A2IBaseWaitTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        async def run() -> None:
            async for event in self.trigger.run():
                self.events.append(event.payload)

        self.task = self.loop.create_task(run())
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)

    def result(self, timeout: float = 60) -> dict:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the wait did not end"
        [event] = self.events
        return event

    def kill(self) -> None:
        """As a triggerer that dies: the task is cancelled where it is."""
        self.loop.call_soon_threadsafe(lambda: self.task.cancel() if self.task else None)
        self.thread.join(30)


class WitnessedTrigger(A2IHumanLoopTrigger):
    """The real trigger, counting its full looks (reconciles), so a test knows when what follows comes by events."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.full_looks = 0

    async def look(self, client: Any) -> list:
        states = await super().look(client)
        self.full_looks += 1
        return states


def reconciled(*waits: Running) -> None:
    """Wait until the triggers have made their first full look: what happens next comes through events."""
    until(lambda: all(wait.trigger.full_looks >= 1 for wait in waits), "the first reconcile")  # type: ignore[attr-defined]


def events_trigger(names: list[str], queue_url: str, **policy: Any) -> WitnessedTrigger:
    return WitnessedTrigger(human_loop_names=names, aws_conn_id=None, policy=WaitPolicy(**{
        "poll_interval": HOUR, "reconcile_interval": HOUR, "completion": "events", "events_queue_url": queue_url,
        **policy}))


def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def visible_messages(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


def test_the_hook_sets_up_the_queue_the_rule_and_the_policy_idempotently(local_service, flow_definition_arn):
    hook, name = A2IEventsHook(aws_conn_id=None), unique("a2i-events")
    first = hook.create_status_change_queue(name, flow_definition_arn=flow_definition_arn,
                                            message_retention_seconds=3600)
    again = hook.create_status_change_queue(name, flow_definition_arn=flow_definition_arn,
                                            message_retention_seconds=7200)
    assert first == again
    assert first["QueueUrl"].endswith(f"/{name}") and first["RuleArn"].endswith(f"rule/{name}")
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=first["QueueUrl"], AttributeNames=["All"])
    assert attributes["Attributes"]["MessageRetentionPeriod"] == "7200"  # brought up to the second call's
    statements = json.loads(attributes["Attributes"]["Policy"])["Statement"]
    assert [statement["Condition"]["ArnEquals"]["aws:SourceArn"] for statement in statements] == [first["RuleArn"]]
    events = boto3.client("events")
    rule = events.describe_rule(Name=name)
    assert json.loads(rule["EventPattern"]) == status_change_pattern(flow_definition_arn)
    assert [target["Arn"] for target in events.list_targets_by_rule(Rule=name)["Targets"]] == [first["QueueArn"]]


def test_only_the_flow_definitions_events_reach_its_queue(local_service, events_queue, make_flow_definition):
    other_flow = make_flow_definition()
    [other] = start_loops(other_flow, 1)
    AdminClient(local_service).answer(other, {"ok": True})
    until(lambda: boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=other)["HumanLoopStatus"]
          == "Completed", "the other loop to complete")
    assert visible_messages(events_queue["QueueUrl"]) == 0


def test_an_event_ends_the_wait_long_before_any_poll(local_service, flow_definition_arn, events_queue):
    names = start_loops(flow_definition_arn, 3)
    running = Running(events_trigger(names, events_queue["QueueUrl"]))
    reconciled(running)
    admin = AdminClient(local_service)
    for name in names:
        admin.answer(name, {"ok": True})
    event = running.result()
    assert event["status"] == "success" and event["counts"] == {"Completed": 3}
    until(lambda: visible_messages(events_queue["QueueUrl"]) == 0, "the wait's events to be deleted")


def test_duplicate_stale_and_out_of_order_events_change_nothing(local_service, flow_definition_arn, events_queue):
    sqs, queue = boto3.client("sqs"), events_queue["QueueUrl"]
    [loop] = start_loops(flow_definition_arn, 1)
    running = Running(events_trigger([loop], queue))
    reconciled(running)
    # Stale and out-of-order hints: the loop is still open, whatever they say; each is confirmed and dropped.
    for status in ("Completed", "Failed", "Completed"):
        sqs.send_message(QueueUrl=queue, MessageBody=event_body(loop, status, flow_definition_arn))
    until(lambda: visible_messages(queue) == 0, "the stale events to be taken")
    assert running.thread.is_alive() and not running.events
    AdminClient(local_service).answer(loop, {"ok": True})
    sqs.send_message(QueueUrl=queue, MessageBody=event_body(loop, "Failed", flow_definition_arn))  # out of order
    event = running.result()
    assert event["status"] == "success" and event["counts"] == {"Completed": 1}


def test_messages_nobody_waits_on_do_not_keep_a_wait_from_its_own(local_service, flow_definition_arn,
                                                                   events_queue):
    """200 messages of loops no wait is after sit ahead of the wait's own in the queue (SQS, and moto's, gives the
    oldest first): given back with a growing delay, they let the wait reach its event, long before any poll."""
    sqs, queue = boto3.client("sqs"), events_queue["QueueUrl"]
    for batch in range(20):
        sqs.send_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(index), "MessageBody": event_body(f"gone-{batch}-{index}", "Completed", flow_definition_arn)}
            for index in range(10)])
    [loop] = start_loops(flow_definition_arn, 1)
    AdminClient(local_service).answer(loop, {"ok": True})
    until(lambda: visible_messages(queue) == 201, "the loop's event")
    running = Running(events_trigger([loop], queue))
    reconciled(running)  # the loop ended before the wait began: the first full look sees it
    assert running.result()["status"] == "success"
    [other] = start_loops(flow_definition_arn, 1)
    later = Running(events_trigger([other], queue))
    reconciled(later)
    AdminClient(local_service).answer(other, {"ok": True})
    assert later.result(timeout=90)["status"] == "success"  # its event came from behind 201 others


@contextlib.contextmanager
def events_lost(events_queue: dict[str, str]) -> Iterator[None]:
    """The rule delivers nothing meanwhile: its target (the queue) is taken off, then put back. (Disabling the rule
    would not do: moto's EventBridge, the local service's, delivers through disabled rules too.)"""
    events, rule = boto3.client("events"), events_queue["RuleArn"].rsplit("/", 1)[1]
    events.remove_targets(Rule=rule, Ids=[TARGET_ID])
    try:
        yield
    finally:
        events.put_targets(Rule=rule, Targets=[{"Id": TARGET_ID, "Arn": events_queue["QueueArn"]}])


def test_a_lost_event_is_caught_by_the_reconcile(local_service, flow_definition_arn, events_queue):
    [loop] = start_loops(flow_definition_arn, 1)
    queue = events_queue["QueueUrl"]
    running = Running(events_trigger([loop], queue, reconcile_interval=2))
    reconciled(running)
    with events_lost(events_queue):  # the event never comes
        AdminClient(local_service).answer(loop, {"ok": True})
        event = running.result()
    assert event["status"] == "success"
    assert running.trigger.full_looks >= 2  # a reconcile, not an event, saw the loop's end
    assert visible_messages(queue) == 0


def test_a_queue_that_cannot_be_read_falls_back_to_polling(local_service, flow_definition_arn):
    [loop] = start_loops(flow_definition_arn, 1)
    gone = f"{local_service}/{ACCOUNT}/{unique('no-such-queue')}"
    running = Running(events_trigger([loop], gone, poll_interval=0.2))
    # With an hour between reconciles, more full looks than the first one mean it polls while SQS fails.
    until(lambda: running.trigger.full_looks >= 3, "the wait to poll")
    AdminClient(local_service).answer(loop, {"ok": True})
    assert running.result()["status"] == "success"


def test_two_waits_share_one_queue_and_take_only_their_own_events(local_service, flow_definition_arn,
                                                                  events_queue):
    """Each wait gives the other's events back to the queue, later the more often it has seen them (up to two
    minutes): a reconcile every 10 s bounds how long that may delay a wait's own event."""
    queue = events_queue["QueueUrl"]
    first, second = start_loops(flow_definition_arn, 2), start_loops(flow_definition_arn, 2)
    waits = [Running(events_trigger(first, queue, reconcile_interval=10)),
             Running(events_trigger(second, queue, reconcile_interval=10))]
    reconciled(*waits)
    admin = AdminClient(local_service)
    for name in first:
        admin.answer(name, {"ok": True})
    assert waits[0].result()["counts"] == {"Completed": 2}
    assert waits[1].thread.is_alive()  # the first wait's events did not end the second
    for name in second:
        admin.answer(name, {"ok": True})
    assert waits[1].result()["counts"] == {"Completed": 2}


def test_a_wait_taken_over_by_another_triggerer_reconciles_and_ends_once(local_service, flow_definition_arn,
                                                                           events_queue):
    queue = events_queue["QueueUrl"]
    names = start_loops(flow_definition_arn, 2)
    old = Running(events_trigger(names, queue))
    reconciled(old)
    admin = AdminClient(local_service)
    admin.answer(names[0], {"ok": True})
    until(lambda: visible_messages(queue) == 0, "the first loop's event to be taken by the old triggerer")
    old.kill()  # it dies holding what it knew; the new triggerer rebuilds the trigger from its arguments
    assert not old.events
    _path, kwargs = old.trigger.serialize()
    new = Running(WitnessedTrigger(**kwargs))
    reconciled(new)  # it starts with a full look: the first loop's end, whose event is gone, is seen there
    admin.answer(names[1], {"ok": True})
    event = new.result()
    assert event["status"] == "success" and event["counts"] == {"Completed": 2}
    assert len(new.events) == 1 and not old.events


def test_a_dag_sets_up_its_queue_and_waits_on_events(airflow_dags, local_service, flow_definition_arn):
    """dag.test() of the queue operator and a deferred start whose wait polls once an hour: it ends on the event
    of the loop the simulated workforce answers."""
    from airflow.sdk import DAG

    from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator

    AdminClient(local_service).request("PUT", "workforce/policies", {"flowDefinitionArn": flow_definition_arn,
                                       "policy": {"delaySeconds": [2.0, 2.0],
                                                  "answer": {"mode": "fixed", "answer": {"ok": True}}}})
    queue_name = unique("a2i-events")
    with DAG(unique("events_dag").replace("-", "_"), schedule=None) as dag:
        queue = A2ICreateEventQueueOperator(task_id="events_queue", queue_name=queue_name,
                                            flow_definition_arn=flow_definition_arn, aws_conn_id=None)
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn=flow_definition_arn,
                                  human_loop_input={"text": "x"}, deferrable=True, poll_interval=HOUR,
                                  completion="events", events_queue_url=queue.output, reconcile_interval=HOUR,
                                  aws_conn_id=None)
    run = airflow_dags.run(dag)
    assert airflow_dags.xcom(run, "events_queue").endswith(f"/{queue_name}")
    assert airflow_dags.xcom(run, "review")["HumanLoopStatus"] == "Completed"


def test_a_batch_wait_costs_at_most_one_a2i_call_per_loop_that_ends(local_service, flow_definition_arn,
                                                                    output_bucket, events_queue, monkeypatch):
    """300 loops: after the first full look, each loop's end costs at most one A2I call (a describe that confirms
    its event, or its share of a listing page when many events come at once); the wait polls once an hour, so it
    ends on the events."""
    from aiobotocore.client import AioBaseClient

    from airflow_a2i.triggers.batch import A2IHumanLoopBatchTrigger
    from tests.test_batch_wait import answer, new_batch

    loops, manifest = new_batch(flow_definition_arn, output_bucket, 300)
    calls: list[str] = []
    original = AioBaseClient._make_api_call

    async def counted(self, operation_name, api_params):
        calls.append(operation_name)
        return await original(self, operation_name, api_params)

    monkeypatch.setattr(AioBaseClient, "_make_api_call", counted)

    class Witnessed(A2IHumanLoopBatchTrigger):
        full_looks = 0

        async def look(self, client: Any) -> list:
            states = await super().look(client)
            self.full_looks += 1
            return states

    trigger = Witnessed(manifest_uris=[manifest], flow_definition_arn=flow_definition_arn, aws_conn_id=None,
                        policy=WaitPolicy(poll_interval=HOUR, reconcile_interval=HOUR, completion="events",
                                          events_queue_url=events_queue["QueueUrl"]))
    running = Running(trigger)
    until(lambda: trigger.full_looks == 1, "the first full look")
    first_look = len(calls)
    answer(local_service, list(loops.values()))
    event = running.result(timeout=120)
    assert event["status"] == "success" and event["counts"] == {"Completed": 300}
    after = calls[first_look:]
    a2i_calls = after.count("DescribeHumanLoop") + after.count("ListHumanLoops")
    assert 0 < a2i_calls <= 300


def test_a_step_receives_again_only_while_the_queue_gives_full_batches() -> None:
    from airflow_a2i.waiting.completion import RECEIVES_PER_STEP, in_batches

    assert EventWait.receive_more(10, 1) and EventWait.receive_more(10, RECEIVES_PER_STEP - 1)
    assert not EventWait.receive_more(9, 1)  # the queue has nothing more at hand
    assert not EventWait.receive_more(10, RECEIVES_PER_STEP)  # the step confirms and decides now
    entries = [{"Id": str(n)} for n in range(23)]
    assert [len(piece) for piece in in_batches(entries)] == [10, 10, 3]
    assert [entry for piece in in_batches(entries) for entry in piece] == entries
    assert in_batches([]) == []


def test_a_burst_of_events_is_taken_in_one_step(local_service, flow_definition_arn, events_queue):
    """25 loops end at once: one step receives until the queue has no more at hand (three receives), confirms the
    25 and deletes their messages (three batch calls), instead of a receive, a decision over every loop and a delete
    per ten events."""
    names = start_loops(flow_definition_arn, 26)
    queue = events_queue["QueueUrl"]
    trigger = events_trigger(names, queue)
    admin = AdminClient(local_service)

    async def step() -> list:
        await trigger.prepare()
        async with await trigger.hook().get_async_conn() as client, \
                await trigger.sqs_hook().get_async_conn() as sqs:
            await trigger.look(client)  # the first full look: every loop open
            for name in names[:25]:
                admin.answer(name, {"ok": True})
            until(lambda: visible_messages(queue) == 25, "the 25 events in the queue")
            events = EventWait(queue, reconcile_interval=HOUR)
            events.reconciled(time.time())
            return await trigger._take_events(client, sqs, events)

    states = asyncio.run(step())
    assert sorted(state.name for state in states if state.status == "Completed") == sorted(names[:25])
    assert [state.status for state in states if state.name == names[25]] == ["InProgress"]
    until(lambda: visible_messages(queue) == 0, "the 25 events to be deleted")
