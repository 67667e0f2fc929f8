"""What every trigger waiting on human loops shares: the AWS plumbing and the look -> decide -> stop loop.

Shaped like the Amazon provider's ``AwsBaseWaiterTrigger``: a subclass passes its own ``serialized_fields``
and says how it looks at its loops (:meth:`A2IBaseWaitTrigger.look`); the base serializes the fields, the
:class:`~airflow_a2i.waiting.policies.WaitPolicy` and the hook parameters, builds the hook, and runs the loop:
look, decide, stop overdue loops, back off on throttling, sleep, and yield one event at the end. Polling, not
botocore waiters: a wait ends on a decision over many loops and policies, not on one resource's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_a2i.aws_errors import error_code, is_throttling
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.waiting.completion import EventWait, in_batches
from airflow_a2i.waiting.events import ErrorEvent, error_event
from airflow_a2i.waiting.policies import LoopState, Verdict, WaitPolicy
from airflow_a2i.waiting.states import FINAL_STATES
from airflow_a2i.waiting.sync import Backoff

CONCURRENT_CALLS = 10  # describes or stops in flight at once


class SqsUnavailable(Exception):
    """The events queue could not be read: the wait looks as a polling wait does until it can again."""


class A2IBaseWaitTrigger(BaseTrigger):
    """
    Wait until human loops end, as the policy says; a subclass says which loops and how to look at them.

    With ``completion="events"`` in the policy, the loops' ends come as hints from an SQS queue between full looks
    (:mod:`airflow_a2i.waiting.completion`): the subclass then also says which loops it waits on, their states as
    last seen, and how to confirm some of them (:meth:`waited_on`, :meth:`current_states`, :meth:`confirm`).

    Yields exactly one event (:mod:`airflow_a2i.waiting.events`). Throttling backs off and retries; any other
    AWS error, or an :class:`~airflow_a2i.exceptions.A2IValidationError`, ends the wait with an ``error``
    event. Loops are stopped only when a ``stop_and_*`` review-timeout policy says so, or from
    :meth:`on_kill` (a user killed the task) with ``stop_on_kill``; never from ``cleanup()``, which runs on
    every triggerer restart.

    :param serialized_fields: the subclass's own arguments, serialized as they are.
    :param policy: the wait's policy (a :class:`~airflow_a2i.waiting.policies.WaitPolicy` or its dict).
    :param aws_conn_id: the Airflow connection for AWS credentials.
    :param region_name: AWS Region.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (a dict).
    """

    aws_hook_class: type[A2IHook] = A2IHook

    def __init__(self, *, serialized_fields: dict[str, Any], policy: WaitPolicy | Mapping[str, Any] | None = None,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 verify: bool | str | None = None, botocore_config: dict | None = None) -> None:
        super().__init__()
        self.serialized_fields = serialized_fields
        self.policy = WaitPolicy.from_dict(policy)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.serialized_fields,
                "policy": self.policy.to_dict(),
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    def hook(self) -> A2IHook:
        return self.aws_hook_class(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                                   config=self.botocore_config)

    # What a subclass says -----------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Before the first look (read what the loops are); an exception ends the wait with an error event."""

    async def look(self, client: Any) -> list[LoopState]:
        """Every loop's state now."""
        raise NotImplementedError

    def progress(self, states: list[LoopState]) -> str:
        """One line for the log after a look."""
        raise NotImplementedError

    def waited_on(self) -> Collection[str]:
        """Every loop of the wait (event-driven completion)."""
        raise NotImplementedError

    def current_states(self) -> list[LoopState]:
        """Every loop's state as last seen, without a look (event-driven completion)."""
        raise NotImplementedError

    async def confirm(self, client: Any, names: Collection[str]) -> list[LoopState]:
        """Describe ``names`` (loops an event says ended) and return every loop's state (event-driven completion)."""
        raise NotImplementedError

    async def finish(self, verdict: Verdict, states: list[LoopState]) -> Mapping[str, Any]:
        """The event once the verdict is done; an exception ends the wait with an error event instead."""
        raise NotImplementedError

    # The loop -----------------------------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            await self.prepare()
        except Exception as error:
            yield TriggerEvent(error_event(str(error)))
            return
        async with contextlib.AsyncExitStack() as connections:
            client = await connections.enter_async_context(await self.hook().get_async_conn())
            sqs = await connections.enter_async_context(await self.sqs_hook().get_async_conn()) \
                if self.policy.by_events else None
            ended = await self._wait(client, sqs)
        if isinstance(ended, dict):
            yield TriggerEvent(ended)
            return
        verdict, states = ended
        try:
            event = dict(await self.finish(verdict, states))
        except Exception as error:
            event = dict(error_event(f"The wait ended {verdict.outcome} ({verdict.message}) but {error}"))
        yield TriggerEvent(event)

    def sqs_hook(self) -> Any:
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook

        return SqsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                       config=self.botocore_config)

    async def _wait(self, client: Any, sqs: Any = None) -> tuple[Verdict, list[LoopState]] | ErrorEvent:
        """Look until the verdict is done; an error event when the wait cannot go on."""
        from botocore.exceptions import ClientError

        backoff = Backoff()
        events = None if sqs is None else EventWait(str(self.policy.events_queue_url),
                                                     reconcile_interval=self.policy.reconcile_interval)
        while True:
            try:
                states = await self._next_states(client, sqs, events)
                verdict = self.policy.decide(states, time.time())
                await self.stop(client, verdict.stop, "their review time is up")
            except ClientError as error:
                if not is_throttling(error):
                    return error_event(str(error))
                delay = backoff.next()
                self.log.warning("Throttled while looking at the human loops; backing off %.0f s", delay)
                await asyncio.sleep(delay)
                continue
            except A2IValidationError as error:
                return error_event(str(error))
            backoff.reset()
            progress = self.progress(states) + (f"; {events.progress()}" if events is not None else "")
            if verdict.done:
                self.log.info("%s", progress)
                return verdict, states
            if events is not None and not events.polling:
                continue  # the next receive's long poll paces the wait
            self.log.info("%s; next look in %s s", progress, self.policy.poll_interval)
            await asyncio.sleep(self.policy.poll_interval)

    async def _next_states(self, client: Any, sqs: Any, events: EventWait | None) -> list[LoopState]:
        """A full look when polling or reconciling; otherwise the states after one receive of events."""
        now = time.time()
        if events is None:
            return await self.look(client)
        if not events.due_for_reconcile(now):
            try:
                states = await self._take_events(client, sqs, events)
            except SqsUnavailable as error:
                if events.sqs_failed(error):
                    self.log.warning("Cannot read the events queue (%s): looking every %s s until it can again",
                                     error, self.policy.poll_interval)
            else:
                if events.sqs_worked():
                    self.log.info("The events queue can be read again: taking events")
                return states
        states = await self.look(client)
        events.reconciled(now)
        self.log.info("Reconciled with A2I: %s; taking events from %s", self.progress(states), events.queue_url)
        return states

    async def _take_events(self, client: Any, sqs: Any, events: EventWait) -> list[LoopState]:
        """One step of receives: confirm the loops the wait's own events name, delete those events, release the
        others'."""
        received = events.sort(await self._receive(sqs, events), self.waited_on(),
                               {state.name for state in self.current_states() if state.status in FINAL_STATES})
        states = await self.confirm(client, received.to_confirm) if received.to_confirm else self.current_states()
        events.confirmed += len(received.to_confirm)
        await self._settle(sqs, events.queue_url, received.ours, received.others)
        return states

    async def _receive(self, sqs: Any, events: EventWait) -> list[dict[str, Any]]:
        """The messages of one step: a receive (long poll), then more at once while each comes back full."""
        from botocore.exceptions import BotoCoreError, ClientError

        messages: list[dict[str, Any]] = []
        wait_seconds, receives = events.receive_wait_seconds(time.time()), 0
        while True:
            try:
                batch = (await sqs.receive_message(**events.receive_request(wait_seconds))).get("Messages", [])
            except (ClientError, BotoCoreError) as error:
                if not messages:
                    raise SqsUnavailable(str(error)) from error
                return messages  # act on what came; the next step meets the failure
            messages += batch
            receives += 1
            if not events.receive_more(len(batch), receives):
                return messages
            wait_seconds = 0

    async def _settle(self, sqs: Any, queue_url: str, ours: list[dict[str, str]], others: list[dict[str, Any]]) -> None:
        """Delete the wait's own (confirmed) messages; give the others back to the queue for their waits. A failure
        here costs a duplicate event later, never a loop: logged, not raised."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for entries in in_batches(ours):
                await sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            for entries in in_batches(others):
                await sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as error:
            self.log.warning("Could not delete or release events in %s: %s", queue_url, error)

    async def stop(self, client: Any, names: Iterable[str], why: str) -> None:
        """Stop loops, a few at a time; one that has finished or vanished meanwhile is no error."""
        names = list(names)
        limit = asyncio.Semaphore(CONCURRENT_CALLS)

        async def stop(name: str) -> None:
            async with limit:
                await stop_quietly(client, name)

        await asyncio.gather(*(stop(name) for name in names))
        if names:
            self.log.info("Stopped %d human loop(s) because %s: %s%s", len(names), why, ", ".join(names[:10]),
                          " ..." if len(names) > 10 else "")

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop its open loops when ``stop_on_kill`` asks for it."""
        if not self.policy.stop_on_kill:
            return
        await self.prepare()
        async with await self.hook().get_async_conn() as client:
            open_loops = [state.name for state in await self.look(client) if state.status == "InProgress"]
            await self.stop(client, open_loops, "the task was killed")


async def describe_all(client: Any, names: Iterable[str]) -> list[tuple[str, dict | None]]:
    """DescribeHumanLoop of each name, a few at a time; None for a loop that does not exist."""
    limit = asyncio.Semaphore(CONCURRENT_CALLS)

    async def describe(name: str) -> tuple[str, dict | None]:
        async with limit:
            return name, await describe_or_none(client, name)

    return list(await asyncio.gather(*(describe(name) for name in names)))


async def describe_or_none(client: Any, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return await client.describe_human_loop(HumanLoopName=name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise


async def stop_quietly(client: Any, name: str) -> None:
    """Stop a loop; one that has finished or vanished meanwhile is no error."""
    from botocore.exceptions import ClientError

    try:
        await client.stop_human_loop(HumanLoopName=name)
    except ClientError as error:
        if error_code(error) not in ("ValidationException", "ResourceNotFoundException"):
            raise
