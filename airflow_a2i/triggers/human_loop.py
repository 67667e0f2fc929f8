"""Deferrable waits on human loops: the triggerer polls A2I, the worker slot is free meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_a2i.policies import OPEN_STATES, LoopState, Verdict, counts, decide

THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
MAX_BACKOFF_SECONDS = 60.0
CONCURRENT_DESCRIBES = 10


class A2IHumanLoopTrigger(BaseTrigger):
    """
    Wait until human loops end, as the ``on_loop_failure`` and ``on_review_timeout`` policies say.

    Yields exactly one event: ``{"status": "success" | "failed" | "skipped" | "error", "message",
    "counts", "loops": {name: {...}}, "timed_out": [...]}``. Throttling backs off and retries; any
    other error ends the wait with an ``error`` event. Loops are stopped by the trigger only when a
    ``stop_and_*`` review-timeout policy says so, or from :meth:`on_kill` (a user killed the task) with
    ``stop_on_kill``; never from ``cleanup()``, which runs on every triggerer restart.

    :param human_loop_names: the loops to wait on.
    :param poll_interval: seconds between two looks at the loops.
    :param review_timeout: seconds from each loop's creation after which it is overdue (None: no limit).
    :param on_loop_failure: ``fail`` | ``skip`` | ``continue``.
    :param on_review_timeout: ``fail`` | ``stop_and_fail`` | ``stop_and_continue`` | ``continue``.
    :param stop_on_kill: stop the open loops when a user kills the deferred task.
    :param aws_conn_id: the Airflow connection for AWS credentials.
    :param region_name: AWS Region.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (a dict).
    """

    def __init__(self, *, human_loop_names: list[str], poll_interval: float = 30.0,
                 review_timeout: float | None = None, on_loop_failure: str = "fail",
                 on_review_timeout: str = "fail", stop_on_kill: bool = False,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 verify: bool | str | None = None, botocore_config: dict | None = None) -> None:
        super().__init__()
        self.human_loop_names = list(human_loop_names)
        self.poll_interval = poll_interval
        self.review_timeout = review_timeout
        self.on_loop_failure = on_loop_failure
        self.on_review_timeout = on_review_timeout
        self.stop_on_kill = stop_on_kill
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "human_loop_names": self.human_loop_names,
                "poll_interval": self.poll_interval,
                "review_timeout": self.review_timeout,
                "on_loop_failure": self.on_loop_failure,
                "on_review_timeout": self.on_review_timeout,
                "stop_on_kill": self.stop_on_kill,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    def hook(self):
        from airflow_a2i.hooks.a2i import A2IHook

        return A2IHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                       config=self.botocore_config)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from botocore.exceptions import ClientError

        backoff = 1.0
        async with await self.hook().get_async_conn() as client:
            while True:
                try:
                    states = await self._look(client)
                    verdict = decide(states, time.time(), on_loop_failure=self.on_loop_failure,
                                     on_review_timeout=self.on_review_timeout, review_timeout=self.review_timeout)
                    await self._stop(client, verdict.stop)
                except ClientError as error:
                    if _code(error) not in THROTTLED:
                        yield TriggerEvent({"status": "error", "message": str(error)})
                        return
                    self.log.warning("Throttled while polling human loops; backing off %.0f s", backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                backoff = 1.0
                if verdict.done:
                    yield TriggerEvent(event_payload(verdict, states))
                    return
                self.log.info("Human loops: %s; next look in %s s", counts(states), self.poll_interval)
                await asyncio.sleep(self.poll_interval)

    async def _look(self, client: Any) -> list[LoopState]:
        limit = asyncio.Semaphore(CONCURRENT_DESCRIBES)

        async def describe(name: str) -> LoopState:
            async with limit:
                return LoopState.from_description(name, await describe_or_none(client, name))

        return list(await asyncio.gather(*(describe(name) for name in self.human_loop_names)))

    async def _stop(self, client: Any, names: list[str]) -> None:
        for name in names:
            await stop_quietly(client, name)
            self.log.info("Stopped human loop %s: its review time is up", name)

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop its open loops when ``stop_on_kill`` asks for it."""
        if not self.stop_on_kill:
            return
        async with await self.hook().get_async_conn() as client:
            for state in await self._look(client):
                if state.status in OPEN_STATES:
                    await stop_quietly(client, state.name)
                    self.log.info("Stopped human loop %s because the task was killed", state.name)


def event_payload(verdict: Verdict, states: list[LoopState]) -> dict[str, Any]:
    return {
        "status": verdict.outcome,
        "message": verdict.message,
        "counts": counts(states),
        "loops": {state.name: state.to_json() for state in states},
        "timed_out": verdict.timed_out,
    }


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


async def describe_or_none(client: Any, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return await client.describe_human_loop(HumanLoopName=name)
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise


async def stop_quietly(client: Any, name: str) -> None:
    """Stop a loop; one that has finished or vanished meanwhile is no error."""
    from botocore.exceptions import ClientError

    try:
        await client.stop_human_loop(HumanLoopName=name)
    except ClientError as error:
        if _code(error) not in ("ValidationException", "ResourceNotFoundException"):
            raise
