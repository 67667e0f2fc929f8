"""Event-driven completion: A2I's status-change events, routed by an EventBridge rule into SQS, as hints.

SQS is a hint, ``DescribeHumanLoop``/``ListHumanLoops`` the authority. A wait reconciles (one full look) when
it starts, since loops may have ended before it ran; then it takes the events of its own loops from the queue,
confirms each with a describe before acting on it, and reconciles again every ``reconcile_interval`` seconds
(an event may be lost) and whenever SQS fails, looking every ``poll_interval`` as a polling wait does until SQS
works again. A2I and SQS deliver at least once and out of order: an event only says "describe this loop", so a
duplicate, a late or a stale one changes nothing.

Many waits may share one queue (one per flow definition is the natural set-up): a wait deletes the messages of
its own loops once it has confirmed them, and makes every other message visible again for the wait it belongs to:
at once the first time it is received, then after 1, 3, 7 ... seconds, up to two minutes, the more often it has
been received, and never longer than a quarter of its age. A message of a loop nobody waits on (a wait that ended,
loops started outside Airflow) so gets out of the way of the others instead of being received again and again ahead
of them, and stays in the queue until its retention period drops it
(:meth:`~airflow_a2i.hooks.events.A2IEventsHook.create_status_change_queue` sets one day). A fresh message, which
its owner is likely waiting for, comes back within moments however many other waits received it first: by its
receive count alone, a wait sharing the queue with others that win the receive half the time would see its own
events hidden ever longer, up to two minutes at a time.

:class:`EventWait` holds that logic with no I/O; the triggers drive it with aiobotocore, the blocking waits (a
sensor in ``poke`` mode, an operator waiting on its worker) with boto3 (:mod:`airflow_a2i.waiting.sync`), the same
way. A sensor in ``reschedule`` mode is a new instance at every poke, and Airflow clears a task's XCom when a poke
starts: what survives is A2I's state, the queue, and how many pokes came before (:func:`full_look_at_poke`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change"
RECEIVE_MAX_MESSAGES = 10  # ReceiveMessage's maximum
RECEIVE_WAIT_SECONDS = 20  # SQS's longest long poll
# A step takes up to this many receives while each comes back full (a backlog), then confirms and decides once: a
# wait over many loops, whose every decision goes over all of them, keeps up with a burst of events.
RECEIVES_PER_STEP = 10
BATCH_ENTRIES = 10  # DeleteMessageBatch's and ChangeMessageVisibilityBatch's maximum
POKE_RECEIVE_WAIT_SECONDS = 1  # a rescheduled poke's receive: a long poll (every SQS server asked), kept short
MAX_RELEASE_SECONDS = 120  # the longest another wait's (or nobody's) message is kept out of sight
AGE_SHARE = 4  # ... and never longer than a quarter of its age


def release_seconds(receive_count: int, age_seconds: float | None = None) -> int:
    """How long a message that is not the wait's stays invisible: 0, 1, 3, 7 ... seconds by how often it has been
    received (SQS's ApproximateReceiveCount), up to two minutes, and at most a quarter of the message's age (seconds
    since SQS took it) when known."""
    by_count = min(MAX_RELEASE_SECONDS, 2 ** max(0, min(receive_count - 1, 16)) - 1)
    if age_seconds is None:
        return by_count
    return min(by_count, int(max(0.0, age_seconds) / AGE_SHARE))


def full_look_at_poke(pokes_before: int | None, *, poke_interval: float, reconcile_interval: float) -> bool:
    """
    Whether a rescheduled sensor's poke must look at every loop whatever the queue says: the first poke, then every
    ``ceil(reconcile_interval / poke_interval)``-th (pokes are at least ``poke_interval`` apart, so full looks are at
    least ``reconcile_interval`` apart, and never further apart than that many pokes). ``pokes_before``: the
    pokes of this try before this one (Airflow 3's ``task_reschedule_count``); None when Airflow does not say
    (Airflow 2): every poke looks.
    """
    if pokes_before is None:
        return True
    every = max(1, math.ceil(reconcile_interval / poke_interval)) if poke_interval > 0 else 1
    return pokes_before % every == 0


@dataclass(frozen=True)
class StatusHint:
    """What a status-change event says: this loop reached this status (to confirm with a describe)."""

    human_loop_name: str
    status: str
    flow_definition_arn: str | None = None


def status_hint(body: str) -> StatusHint | None:
    """The hint in an SQS message's body (the EventBridge event as the rule delivers it); None for anything else."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict) or not isinstance(detail.get("humanLoopName"), str):
        return None
    arn = detail.get("flowDefinitionArn")
    return StatusHint(detail["humanLoopName"], str(detail.get("humanLoopStatus")),
                      arn if isinstance(arn, str) else None)


def in_batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``entries`` in the pieces one ``DeleteMessageBatch`` or ``ChangeMessageVisibilityBatch`` call takes."""
    return [entries[start:start + BATCH_ENTRIES] for start in range(0, len(entries), BATCH_ENTRIES)]


def receipt(message: Mapping[str, Any]) -> dict[str, str]:
    """The entry of a ``DeleteMessageBatch`` call for a received message."""
    return {"Id": message["MessageId"], "ReceiptHandle": message["ReceiptHandle"]}


def release(message: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """The entry of a ``ChangeMessageVisibilityBatch`` call that gives a message back to the queue; ``now`` (epoch
    seconds) gives its age from its ``SentTimestamp``."""
    attributes = message.get("Attributes") or {}
    try:
        count = int(attributes.get("ApproximateReceiveCount", 1))
    except ValueError:
        count = 1
    try:
        age = None if now is None else now - int(attributes["SentTimestamp"]) / 1000
    except (KeyError, ValueError):
        age = None
    return {**receipt(message), "VisibilityTimeout": release_seconds(count, age)}


@dataclass
class SortedMessages:
    """One receive's messages: the wait's own loops to confirm, its messages to delete once they are confirmed,
    and the others', to give back to the queue."""

    to_confirm: set[str] = field(default_factory=set)
    ours: list[dict[str, str]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)


class EventWait:
    """
    An event-driven wait's bookkeeping, no I/O: when to reconcile, whether SQS works, and what each receive's
    messages mean for the loops waited on.

    :param queue_url: the SQS queue the EventBridge rule fills.
    :param reconcile_interval: seconds between two full looks while SQS works.
    """

    def __init__(self, queue_url: str, *, reconcile_interval: float) -> None:
        self.queue_url = queue_url
        self.reconcile_interval = reconcile_interval
        self.last_reconcile: float | None = None
        self.sqs_error: str | None = None
        self.events_taken = 0
        self.confirmed = 0

    @property
    def polling(self) -> bool:
        """SQS failed at the last try: look every poll interval, as a polling wait does, until it works again."""
        return self.sqs_error is not None

    def due_for_reconcile(self, now: float) -> bool:
        return self.polling or self.last_reconcile is None or now - self.last_reconcile >= self.reconcile_interval

    def reconciled(self, now: float) -> None:
        self.last_reconcile = now

    def sqs_failed(self, error: object) -> bool:
        """Note that SQS failed; True when it worked before (log it once)."""
        first = self.sqs_error is None
        self.sqs_error = str(error)
        return first

    def sqs_worked(self) -> bool:
        """Note that SQS worked; True when it had failed before (log it once)."""
        recovered = self.sqs_error is not None
        self.sqs_error = None
        return recovered

    def receive_request(self, wait_seconds: int) -> dict[str, Any]:
        """The keyword arguments of one ``ReceiveMessage`` call (sync and async alike)."""
        return {"QueueUrl": self.queue_url, "MaxNumberOfMessages": RECEIVE_MAX_MESSAGES,
                "WaitTimeSeconds": wait_seconds,
                "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"]}

    @staticmethod
    def receive_more(last_received: int, receives: int) -> bool:
        """Whether a step receives again (without waiting): the last receive came back full, so more are at hand,
        and the step has not reached :data:`RECEIVES_PER_STEP`."""
        return last_received >= RECEIVE_MAX_MESSAGES and receives < RECEIVES_PER_STEP

    def receive_wait_seconds(self, now: float) -> int:
        """The long poll of the next receive: at most SQS's 20 s, and not past the next reconcile."""
        if self.last_reconcile is None:
            return 0
        left = self.last_reconcile + self.reconcile_interval - now
        return max(0, min(RECEIVE_WAIT_SECONDS, int(left)))

    def sort(self, messages: Iterable[Mapping[str, Any]], waited_on: Collection[str],
             final: Collection[str], now: float | None = None) -> SortedMessages:
        """
        Sort one step's messages. ``waited_on``: every loop of this wait; ``final``: those already seen in a final
        state, whose events (duplicates) need no describe. A message that is not an A2I status-change event belongs
        to nobody here: it is made visible again, like other waits' messages. ``now``: epoch seconds (default: the
        clock's), the time the others' release delays are reckoned from.
        """
        now = time.time() if now is None else now
        result = SortedMessages()
        for message in messages:
            hint = status_hint(str(message.get("Body", "")))
            if hint is None or hint.human_loop_name not in waited_on:
                result.others.append(release(message, now))
                continue
            result.ours.append(receipt(message))
            self.events_taken += 1
            if hint.human_loop_name not in final:
                result.to_confirm.add(hint.human_loop_name)
        return result

    def progress(self) -> str:
        mode = f"polling while SQS fails ({self.sqs_error})" if self.polling else "events"
        return f"completion by {mode}: {self.events_taken} event(s) taken, {self.confirmed} confirmed"
