"""Deferrable waits on named human loops: the triggerer polls A2I, the worker slot is free meanwhile."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from airflow_a2i.triggers.base import A2IBaseWaitTrigger, describe_all
from airflow_a2i.waiting.events import LoopsEvent, loops_event
from airflow_a2i.waiting.policies import LoopState, Verdict, WaitPolicy, counts


class A2IHumanLoopTrigger(A2IBaseWaitTrigger):
    """
    Wait until human loops end, as the policy says: each look describes every loop.

    Yields exactly one event, a :class:`~airflow_a2i.waiting.events.LoopsEvent` (``{"status": "success" |
    "failed" | "skipped", "message", "counts", "loops": {name: {...}}, "timed_out": [...]}``) or an
    ``error`` event (see :class:`~airflow_a2i.triggers.base.A2IBaseWaitTrigger`).

    :param human_loop_names: the loops to wait on.
    :param policy: the wait's :class:`~airflow_a2i.waiting.policies.WaitPolicy` (or its dict).
    :param aws_conn_id: the Airflow connection for AWS credentials.
    :param region_name: AWS Region.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (a dict).
    """

    def __init__(self, *, human_loop_names: list[str], policy: WaitPolicy | Mapping[str, Any] | None = None,
                 **aws_kwargs: Any) -> None:
        self.human_loop_names = list(human_loop_names)
        super().__init__(serialized_fields={"human_loop_names": self.human_loop_names}, policy=policy,
                         **aws_kwargs)
        self.states: dict[str, LoopState] = {}

    async def look(self, client: Any) -> list[LoopState]:
        return await self.confirm(client, self.human_loop_names)

    def waited_on(self) -> Collection[str]:
        return self.human_loop_names

    def current_states(self) -> list[LoopState]:
        return [self.states[name] for name in self.human_loop_names]

    async def confirm(self, client: Any, names: Collection[str]) -> list[LoopState]:
        for name, described in await describe_all(client, names):
            self.states[name] = LoopState.from_description(name, described)
        return self.current_states()

    def progress(self, states: list[LoopState]) -> str:
        return f"Human loops: {counts(states)}"

    async def finish(self, verdict: Verdict, states: list[LoopState]) -> LoopsEvent:
        return loops_event(verdict, states)
