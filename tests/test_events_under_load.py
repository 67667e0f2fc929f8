"""Status-change events under load: when the simulated workforce answers many loops at once while a wait takes
their events, every event reaches the queue and the wait promptly, and the wait ends on them before its reconcile.

In the 10,000-loop scale run a fifth of the events were still in the queue when the wait's reconcile (300 s) found
their loops done: moto's SQS made each call cost the whole backlog (every ReceiveMessage counted the queue nine times
for each message it returned, every SendMessage three times), so the wait took less than one event a second.
``airflow_a2i/local/moto_queues.py`` fixes that (and a delete that could drop a message sent meanwhile); without it
the first test here takes minutes and reconciles again.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from airflow_a2i.hooks.events import A2IEventsHook
from airflow_a2i.local.moto_queues import install
from airflow_a2i.triggers.batch import A2IHumanLoopBatchTrigger
from airflow_a2i.waiting.policies import WaitPolicy
from tests.conftest import unique
from tests.loops import set_policy
from tests.test_batch_wait import new_batch
from tests.test_event_completion import HOUR, Running, until

LOOPS = 1500
# Long enough for these events to arrive many times over (a few seconds), too short for the minutes moto's SQS took
# to hand them out when each receive counted the whole backlog: a wait still reconciling failed this test.
RECONCILE_SECONDS = 45.0


class Witnessed(A2IHumanLoopBatchTrigger):
    """The batch trigger, counting its reconciles (full looks of its own, not the listings that confirm many events
    at once): one means everything after the first came by events."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reconciles = 0
        self._confirming = False

    async def confirm(self, client: Any, names: Any) -> list:
        self._confirming = True
        try:
            return await super().confirm(client, names)
        finally:
            self._confirming = False

    async def look(self, client: Any) -> list:
        states = await super().look(client)
        self.reconciles += 0 if self._confirming else 1
        return states


def drain(queue_url: str, expected: int, taken: list[str], stop: threading.Event) -> None:
    """Take and delete a queue's events as they come (as a wait does) until ``expected`` arrived or ``stop``."""
    sqs = boto3.client("sqs")
    while len(taken) < expected and not stop.is_set():
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", [])
        taken += [json.loads(message["Body"])["detail"]["humanLoopName"] for message in messages]
        if messages:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)])


@pytest.mark.timeout(240)
def test_hundreds_of_loops_answered_at_once_end_the_wait_on_their_events(local_service, flow_definition_arn,
                                                                        output_bucket):
    hook = A2IEventsHook(aws_conn_id=None)
    waits_queue = hook.create_status_change_queue(unique("a2i-load"), flow_definition_arn=flow_definition_arn)
    # A second rule and queue get the same events; this test takes them itself, to count every one.
    audit_queue = hook.create_status_change_queue(unique("a2i-audit"), flow_definition_arn=flow_definition_arn)
    loops, manifest = new_batch(flow_definition_arn, output_bucket, LOOPS)
    trigger = Witnessed(manifest_uris=[manifest], flow_definition_arn=flow_definition_arn, aws_conn_id=None,
                        total_loops=LOOPS, policy=WaitPolicy(poll_interval=HOUR, reconcile_interval=RECONCILE_SECONDS,
                                                             completion="events",
                                                             events_queue_url=waits_queue["QueueUrl"]))
    running = Running(trigger)
    until(lambda: trigger.reconciles == 1, "the first reconcile")
    audited: list[str] = []
    stop = threading.Event()
    auditor = threading.Thread(target=drain, args=(audit_queue["QueueUrl"], LOOPS, audited, stop), daemon=True)
    auditor.start()
    # Every loop is due at once: the workforce answers them in a few ticks while both queues are taken from.
    set_policy(local_service, flow_definition_arn, delaySeconds=[0.0, 0.0], answer={"mode": "fixed",
                                                                                   "answer": {"ok": 1}})
    try:
        event = running.result(timeout=180)
        auditor.join(120)
    finally:
        stop.set()
    assert event["status"] == "success" and event["counts"] == {"Completed": LOOPS}
    assert trigger.reconciles == 1  # ended on its events, before its reconcile
    assert sorted(audited) == sorted(loops.values())  # every event arrived, once


@pytest.mark.timeout(120)
def test_moto_s_queue_hands_out_every_message_once_while_sent_received_and_deleted_at_once():
    """In this process, behind a backlog of delayed messages: one thread sends while another receives and deletes;
    every message comes out once and the queue's counts stay right."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    install()
    backend = sqs_backends[DEFAULT_ACCOUNT_ID]["eu-west-3"]
    name = unique("race")
    backend.create_queue(name)
    for _ in range(300):
        backend.send_message(name, "later", delay_seconds=900)
    sent = 2000
    taken: list[str] = []

    def send() -> None:
        for number in range(sent):
            backend.send_message(name, json.dumps({"n": number}))

    sender = threading.Thread(target=send)
    sender.start()
    while sender.is_alive() or len(taken) < sent:
        messages = backend.receive_message(name, 10, 0, 30)
        if not messages and not sender.is_alive():
            break
        taken += [message.body for message in messages]
        assert backend.delete_message_batch(name, [{"Id": str(index), "ReceiptHandle": message.receipt_handle}
                                                   for index, message in enumerate(messages)])[1] == []
    sender.join()
    assert sorted(json.loads(body)["n"] for body in taken) == list(range(sent))
    counts = backend.get_queue_attributes(name, ["All"])
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesDelayed"],
            counts["ApproximateNumberOfMessagesNotVisible"]) == (0, 300, 0)
