"""The synchronous side of waiting on loops (blocking operators, poke and reschedule sensors).

:class:`BlockingWait` makes a blocking wait's looks as the triggers make theirs: a full look every poll interval
or, with ``completion="events"``, :class:`~airflow_a2i.waiting.completion.EventWait` driven with boto3.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_a2i.aws_errors import is_throttling
from airflow_a2i.waiting.arguments import INLINE_NAMES_LIMIT
from airflow_a2i.waiting.completion import (
    POKE_RECEIVE_WAIT_SECONDS,
    EventWait,
    SortedMessages,
    full_look_at_poke,
    in_batches,
)
from airflow_a2i.waiting.policies import LoopState, Verdict, WaitPolicy, counts
from airflow_a2i.waiting.states import FINAL_STATES

if TYPE_CHECKING:
    from airflow_a2i.hooks.a2i import A2IHook

MAX_BACKOFF_SECONDS = 60.0
T = TypeVar("T")


class Backoff:
    """Seconds to wait after each throttled look: 1, 2, 4 ... up to 60; back to 1 after a look that went through."""

    def __init__(self, first: float = 1.0, most: float = MAX_BACKOFF_SECONDS) -> None:
        self.first, self.most = first, most
        self.delay = first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first


def raise_for_outcome(outcome: str, message: str) -> None:
    """Turn a wait's outcome into the task's state: a human loop's failure is not cured by a retry."""
    from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, AirflowSkipException

    if outcome == "failed":
        raise AirflowFailException(message)
    if outcome == "skipped":
        raise AirflowSkipException(message)
    if outcome == "error":
        raise AirflowException(message)


class SyncLoops(Protocol):
    """A blocking wait's loops and how it looks at them (what a trigger's ``look`` and ``confirm`` are, with boto3)."""

    def look(self) -> list[LoopState]:
        """Every loop's state now (a full look)."""

    def waited_on(self) -> Collection[str]:
        """Every loop of the wait."""

    def current_states(self) -> list[LoopState]:
        """Every loop's state as last seen, without a look."""

    def confirm(self, names: Collection[str]) -> list[LoopState]:
        """Look at ``names`` (loops events say changed) and return every loop's state."""

    def progress(self, states: list[LoopState]) -> str:
        """One line for the log after a look."""


class NamedLoops:
    """Loops given by name: a look describes each, a confirmation only those events named."""

    def __init__(self, hook: A2IHook, names: list[str]) -> None:
        self.hook = hook
        self.names = list(names)
        self.states: dict[str, LoopState] = {}

    def look(self) -> list[LoopState]:
        return self.confirm(self.names)

    def waited_on(self) -> Collection[str]:
        return self.names

    def current_states(self) -> list[LoopState]:
        return [self.states[name] for name in self.names]

    def confirm(self, names: Collection[str]) -> list[LoopState]:
        for name in names:
            self.states[name] = LoopState.from_description(name, self.hook.describe_human_loop(name))
        return self.current_states()

    def progress(self, states: list[LoopState]) -> str:
        return f"Human loops: {counts(states)}"


class SqsUnreadable(Exception):
    """The events queue could not be read: the wait looks as a polling wait does until it can again."""


class BlockingWait:
    """
    The looks of one blocking wait (a sensor in ``poke`` or ``reschedule`` mode, an operator waiting on its worker),
    made as the triggers make theirs: with ``completion="poll"`` each look is a full one; with ``"events"`` a full
    look first and every ``reconcile_interval``, and between them one receive of the queue, the wait's own loops
    confirmed before it acts, its own messages deleted once confirmed and the others given back
    (:class:`~airflow_a2i.waiting.completion.EventWait`); while SQS fails, a full look every ``poll_interval``.

    :param hook: the A2I hook (the stops a verdict asks for).
    :param loops: the wait's loops and how to look at them.
    :param policy: the wait's policy.
    :param log: the task's logger.
    :param sqs: makes the SQS client (boto3) of an event-driven wait, on its first receive.
    """

    def __init__(self, hook: A2IHook, loops: SyncLoops, policy: WaitPolicy, log: Any,
                 sqs: Callable[[], Any] | None = None) -> None:
        self.hook = hook
        self.loops = loops
        self.policy = policy
        self.log = log
        self._sqs_factory = sqs
        self._sqs: Any = None
        self.events = EventWait(str(policy.events_queue_url), reconcile_interval=policy.reconcile_interval) \
            if policy.by_events else None

    @property
    def pause(self) -> float:
        """Seconds to sleep before the next look: none while events come (the receive's long poll paces the
        wait), the poll interval otherwise."""
        return 0.0 if self.events is not None and not self.events.polling else self.policy.poll_interval

    def judge(self) -> tuple[Verdict, list[LoopState]]:
        """The next look (full, or a receive of events), the policy's verdict, and the stops it asks for."""
        return self.decided(self._next_states())

    def decided(self, states: list[LoopState]) -> tuple[Verdict, list[LoopState]]:
        verdict = self.policy.decide(states, time.time())
        for name in verdict.stop:
            self.hook.stop_human_loop(name)
        return verdict, states

    def progress(self, states: list[LoopState]) -> str:
        return self.loops.progress(states) + (f"; {self.events.progress()}" if self.events is not None else "")

    def _next_states(self) -> list[LoopState]:
        """A full look when polling or reconciling; otherwise the states after one receive of events."""
        events, now = self.events, time.time()
        if events is None:
            return self.loops.look()
        if not events.due_for_reconcile(now):
            try:
                states = self._take_events(events, events.receive_wait_seconds(now))
            except SqsUnreadable as error:
                if events.sqs_failed(error):
                    self.log.warning("Cannot read the events queue (%s): looking every %s s until it can again",
                                     error, self.policy.poll_interval)
            else:
                if events.sqs_worked():
                    self.log.info("The events queue can be read again: taking events")
                return states
        states = self.loops.look()
        events.reconciled(now)
        self.log.info("Reconciled with A2I: %s; taking events from %s", self.loops.progress(states),
                      events.queue_url)
        return states

    def _take_events(self, events: EventWait, wait_seconds: int) -> list[LoopState]:
        """One step of receives: confirm the loops the wait's own events name, delete those events, release the
        others'."""
        final = {state.name for state in self.loops.current_states() if state.status in FINAL_STATES}
        received = events.sort(self._receive_step(events, wait_seconds), self.loops.waited_on(), final)
        states = self.loops.confirm(received.to_confirm) if received.to_confirm else self.loops.current_states()
        events.confirmed += len(received.to_confirm)
        self._settle(events, received)
        return states

    def _receive_step(self, events: EventWait, wait_seconds: int) -> list[dict[str, Any]]:
        """The messages of one step: a receive (long poll), then more at once while each comes back full."""
        messages: list[dict[str, Any]] = []
        receives = 0
        while True:
            try:
                batch = self._receive(events, wait_seconds)
            except SqsUnreadable:
                if not messages:
                    raise
                return messages  # act on what came; the next step meets the failure
            messages += batch
            receives += 1
            if not events.receive_more(len(batch), receives):
                return messages
            wait_seconds = 0

    def judge_rescheduled(self, pokes_before: int | None) -> tuple[Verdict, list[LoopState]] | None:
        """
        One poke of a sensor in ``reschedule`` mode, which keeps nothing between pokes: a receive, then a full look
        when it is due (:func:`~airflow_a2i.waiting.completion.full_look_at_poke`), when an event of the wait's loops
        came, or when SQS fails; the messages of the wait's loops are deleted after that look. None: no look,
        nothing changed since the last poke's (which found the wait not done), as far as the queue says.
        """
        events = self.events
        if events is None:
            return self.judge()
        full = full_look_at_poke(pokes_before, poke_interval=self.policy.poll_interval,
                                 reconcile_interval=self.policy.reconcile_interval)
        try:
            received = events.sort(self._receive_step(events, POKE_RECEIVE_WAIT_SECONDS), self.loops.waited_on(), ())
        except SqsUnreadable as error:
            self.log.warning("Cannot read the events queue (%s): looking at every loop", error)
            return self.decided(self.loops.look())
        if not (full or received.to_confirm):
            self._settle(events, received)
            self.log.info("No event of the wait's %d loop(s) since the last poke: still waiting, without a look "
                          "(the next full look within %s s)", len(self.loops.waited_on()),
                          self.policy.reconcile_interval)
            return None
        judged = self.decided(self.loops.look())  # confirms the events received before it
        events.confirmed += len(received.to_confirm)
        self._settle(events, received)
        return judged

    def _receive(self, events: EventWait, wait_seconds: int) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if self._sqs is None and self._sqs_factory is not None:
                self._sqs = self._sqs_factory()
            response = self._sqs.receive_message(**events.receive_request(wait_seconds))
        except (ClientError, BotoCoreError) as error:
            raise SqsUnreadable(str(error)) from error
        return response.get("Messages", [])

    def _settle(self, events: EventWait, received: SortedMessages) -> None:
        """Delete the wait's own (confirmed) messages; give the others back to the queue for their waits. A failure
        here costs a duplicate event later, never a loop: logged, not raised."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for entries in in_batches(received.ours):
                self._sqs.delete_message_batch(QueueUrl=events.queue_url, Entries=entries)
            for entries in in_batches(received.others):
                self._sqs.change_message_visibility_batch(QueueUrl=events.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as error:
            self.log.warning("Could not delete or release events in %s: %s", events.queue_url, error)


def rescheduled_pokes_before(context: Any) -> int | None:
    """How many pokes of this try came before this one, as Airflow 3 says (``task_reschedule_count``); None on
    Airflow 2, which does not."""
    count = context.get("task_reschedule_count")
    return count if isinstance(count, int) else None


def judge_poke(sensor: Any, wait: BlockingWait, context: Any) -> tuple[Verdict, list[LoopState]] | None:
    """One poke of a waiting sensor: the verdict and the states, or None when A2I throttled the look (the next poke
    looks again). A rescheduled poke looks only when it must (:meth:`BlockingWait.judge_rescheduled`); in ``poke``
    mode the wait paces the pokes (with events, the receive's long poll)."""
    if sensor.reschedule:
        return unless_throttled(lambda: wait.judge_rescheduled(rescheduled_pokes_before(context)), sensor.log)
    judged = unless_throttled(wait.judge, sensor.log)
    if not sensor.deferrable:
        sensor.poke_interval = wait.pause
    return judged


def sqs_client_factory(aws_conn_id: str | None, region_name: str | None, verify: bool | str | None,
                       botocore_config: dict | None) -> Callable[[], Any]:
    """What makes the SQS client (boto3) of an event-driven blocking wait, through the Amazon provider's hook."""

    def client() -> Any:
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook

        return SqsHook(aws_conn_id=aws_conn_id, region_name=region_name, verify=verify, config=botocore_config).conn

    return client


def unless_throttled(judge_once: Callable[[], T], log: Any, backoff: Backoff | None = None) -> T | None:
    """``judge_once()``; None when A2I throttled it (logged, and with ``backoff`` slept off), so the caller looks
    again later, as the triggers do. Any other error propagates."""
    from botocore.exceptions import ClientError

    try:
        result = judge_once()
    except ClientError as error:
        if not is_throttling(error):
            raise
        delay = backoff.next() if backoff is not None else None
        log.warning("Throttled while looking at the human loops (%s); looking again %s", error,
                    f"in {delay:.0f} s" if delay is not None else "at the next poke")
        if delay is not None:
            time.sleep(delay)
        return None
    if backoff is not None:
        backoff.reset()
    return result


def names_by_status(loops: dict[str, dict]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, state in loops.items():
        grouped.setdefault(state["status"], []).append(name)
    return {status: sorted(names) for status, names in sorted(grouped.items())}


def wait_report(loops: dict[str, dict], timed_out: list[str], report_s3_uri: str | None,
                write_report: Any = None) -> dict[str, Any]:
    """Counts per status, and the names per status inline up to 100 loops, else in a JSON object in S3."""
    report: dict[str, Any] = {"counts": dict(sorted(counts_of(loops).items())), "timed_out_count": len(timed_out)}
    detail = {"names_by_status": names_by_status(loops), "timed_out": sorted(timed_out)}
    if len(loops) <= INLINE_NAMES_LIMIT:
        return {**report, **detail}
    if report_s3_uri is None or write_report is None:
        raise ValueError("more than 100 loops need report_s3_uri to write their names to")
    write_report(report_s3_uri, json.dumps({**detail, "loops": loops}, indent=1))
    return {**report, "report_s3_uri": report_s3_uri}


def counts_of(loops: dict[str, dict]) -> dict[str, int]:
    return counts([LoopState(name, state["status"]) for name, state in loops.items()])
