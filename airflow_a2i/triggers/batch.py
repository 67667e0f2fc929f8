"""Deferrable wait on a whole batch of human loops, found through its manifests: one listing a poll.

A batch may hold thousands of loops: describing each on every poll would cost thousands of calls. A
look lists the flow definition's loops instead (``ListHumanLoops``, 100 a page) over the batch's
creation-time window, keeps the batch's own loops (the run hash in their names, then the names its
manifests record), and describes one by one only the loops the listing did not show (a deleted loop is
reported ``Missing``). A look of N open loops therefore costs about ``ceil(N / 100)`` calls.

:class:`BatchLook` holds the state between looks and does no I/O: the batch sensor drives it with the
sync hook, :class:`A2IHumanLoopBatchTrigger` with aiobotocore.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.names import has_run_hash
from airflow_a2i.policies import FAILED_STATES, MISSING, LoopState, Verdict, counts, decide
from airflow_a2i.triggers.human_loop import (
    CONCURRENT_DESCRIBES,
    MAX_BACKOFF_SECONDS,
    THROTTLED,
    _code,
    describe_or_none,
    stop_quietly,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

PAGE_SIZE = 100  # ListHumanLoops' maximum
# The listing starts this long before the earliest loop it looks for: creation times are the service's,
# with millisecond precision, and CreationTimeAfter is exclusive.
SKEW_SECONDS = 300.0
FINAL_STATES = frozenset({"Completed", "Failed", "Stopped", MISSING})
EVENT_NAMES_LIMIT = 100
RUN_HASH_PATTERN = re.compile(r"[0-9a-f]{8}")


def started_loops(s3_hook: S3Hook, manifest_uris: Iterable[str]) -> dict[str, str]:
    """The loops the manifests record as started: loop name -> item key, and nothing else of the records.

    Manifests are read one at a time and only the names are kept. As in
    :func:`~airflow_a2i.manifest.read_manifests`, the last record of an item wins.
    """
    from airflow_a2i.manifest import read_manifest

    name_of_item: dict[str, str | None] = {}
    for uri in manifest_uris:
        for item_key, record in read_manifest(s3_hook, uri).items():
            name_of_item[item_key] = record.human_loop_name if record.human_loop_started else None
    return {name: item_key for item_key, name in name_of_item.items() if name}


def unfinished_manifests(s3_hook: S3Hook, manifest_uris: Iterable[str]) -> list[str]:
    """The manifests without their ``_COMPLETE`` marker: their batch may still be starting loops."""
    from airflow_a2i.manifest import completion

    return [uri for uri in manifest_uris if completion(s3_hook, uri) is None]


def common_run_hash(names: Iterable[str]) -> str | None:
    """The run hash every name shares (deterministic names of one task in one run), else None."""
    found: str | None = None
    for name in names:
        parts = name.rsplit("-", 2)
        if len(parts) != 3 or not RUN_HASH_PATTERN.fullmatch(parts[1]) or found not in (None, parts[1]):
            return None
        found = parts[1]
    return found


class BatchLook:
    """
    A batch's loops as last seen, and what the next ``ListHumanLoops`` pages should ask for. No I/O.

    A look is :meth:`begin` (the listing's parameters), :meth:`take` for each listed summary until
    :attr:`all_seen`, :meth:`take_description` for each name of :meth:`unseen`, then :meth:`end`.

    A loop in a final state (Completed, Failed, Stopped, Missing) is not looked for again. The listing
    starts ``SKEW_SECONDS`` before the creation of the earliest loop still open — before
    ``earliest_creation_time`` while some loop was never seen — and stops as soon as it has shown every
    loop looked for. With no ``earliest_creation_time`` the first look lists newest first, without a
    lower bound, until it has seen every loop: it costs the pages of the loops created since the
    batch's earliest one, or the flow definition's whole history when a loop is missing.

    :param flow_definition_arn: the flow definition the batch's loops belong to.
    :param loops: loop name -> item key, as :func:`started_loops` returns.
    :param run_hash: the run hash of the names (see :mod:`airflow_a2i.names`); other names are ignored
        without a lookup. None: only the names in ``loops`` are kept.
    :param earliest_creation_time: epoch seconds at or before the creation of the batch's earliest loop.
    """

    def __init__(self, flow_definition_arn: str, loops: dict[str, str], *, run_hash: str | None = None,
                 earliest_creation_time: float | None = None) -> None:
        self.flow_definition_arn = flow_definition_arn
        self.loops = loops
        self.run_hash = run_hash
        self.earliest = earliest_creation_time
        self.states: dict[str, LoopState] = {}
        self.pages = 0
        self.describes = 0
        self._expected: set[str] = set()
        self._seen: set[str] = set()

    def open_names(self) -> list[str]:
        return [name for name in self.loops if name not in self.states or
                self.states[name].status not in FINAL_STATES]

    def begin(self) -> dict[str, Any] | None:
        """Start a look: the keyword arguments of the ``list_human_loops`` paginator, or None when no
        loop is left to look at."""
        self._expected = set(self.open_names())
        self._seen = set()
        self.pages = self.describes = 0
        if not self._expected:
            return None
        params: dict[str, Any] = {"FlowDefinitionArn": self.flow_definition_arn,
                                  "PaginationConfig": {"PageSize": PAGE_SIZE}}
        start = self._window_start()
        if start is None:
            params["SortOrder"] = "Descending"
        else:
            params["SortOrder"] = "Ascending"
            params["CreationTimeAfter"] = datetime.fromtimestamp(start - SKEW_SECONDS, tz=UTC)
        return params

    def _window_start(self) -> float | None:
        times = []
        for name in self._expected:
            state = self.states.get(name)
            if state is None or state.creation_time is None:
                return self.earliest
            times.append(state.creation_time)
        return min(times)

    def take(self, summary: dict) -> None:
        """One loop summary of the listing: kept when it is one of the loops this look is after."""
        name = summary.get("HumanLoopName", "")
        if (self.run_hash is None or has_run_hash(name, self.run_hash)) and name in self._expected:
            self.states[name] = LoopState.from_description(name, summary)
            self._seen.add(name)

    @property
    def all_seen(self) -> bool:
        """Whether the listing has shown every loop this look is after: no need for more pages."""
        return len(self._seen) == len(self._expected)

    def unseen(self) -> list[str]:
        """The loops the listing did not show: to describe one by one."""
        return sorted(self._expected - self._seen)

    def take_description(self, name: str, described: dict | None) -> None:
        """A loop's description (None: it does not exist, or was deleted)."""
        if described is not None and described.get("FlowDefinitionArn", self.flow_definition_arn) != \
                self.flow_definition_arn:
            raise A2IValidationError(
                f"Human loop {name!r} belongs to flow definition {described['FlowDefinitionArn']}, not to "
                f"{self.flow_definition_arn}: give the batch's own flow_definition_arn"
            )
        self.states[name] = LoopState.from_description(name, described)

    def end(self) -> list[LoopState]:
        """Close the look: every loop's state, in the manifests' order."""
        times = [state.creation_time for state in self.states.values() if state.creation_time is not None]
        if times:
            self.earliest = min(times) if self.earliest is None else min(self.earliest, *times)
        return [self.states[name] for name in self.loops]

    def progress(self, states: list[LoopState]) -> str:
        return (f"Batch of {len(states)} human loop(s): {counts(states)}; {len(self.open_names())} still open; "
                f"this look took {self.pages} ListHumanLoops page(s) and {self.describes} DescribeHumanLoop call(s)")


def batch_event(verdict: Verdict, states: list[LoopState], *, report_s3_uri: str | None,
                manifest_uris: list[str]) -> dict[str, Any]:
    """The trigger's one event, small whatever the batch's size: counts, and at most 100 names of a kind.

    ``report`` is what the sensor returns (its XCom): URIs and counts only.
    """
    timed_out = set(verdict.timed_out)
    failed = [state.name for state in states if state.status in FAILED_STATES and state.name not in timed_out]
    status_counts = counts(states)
    return {
        "status": verdict.outcome,
        "message": verdict.message,
        "counts": status_counts,
        "failed": failed[:EVENT_NAMES_LIMIT],
        "timed_out": verdict.timed_out[:EVENT_NAMES_LIMIT],
        "report": {
            "total": len(states),
            "counts": status_counts,
            "timed_out_count": len(verdict.timed_out),
            "report_s3_uri": report_s3_uri,
            "manifest_uris": list(manifest_uris),
        },
    }


def report_lines(loops: dict[str, str], states: list[LoopState], timed_out: list[str]) -> str:
    """Each loop's final state as JSON Lines: name, item key, status, times, failure, timed out."""
    overdue = set(timed_out)
    return "".join(
        json.dumps({"human_loop_name": state.name, "item_key": loops.get(state.name), **state.to_json(),
                    "timed_out": state.name in overdue}, sort_keys=True) + "\n"
        for state in states
    )


def write_report(s3_hook: S3Hook, report_s3_uri: str, loops: dict[str, str], states: list[LoopState],
                 timed_out: list[str]) -> None:
    s3_hook.load_string(report_lines(loops, states, timed_out), key=report_s3_uri, replace=True)


class A2IHumanLoopBatchTrigger(BaseTrigger):
    """
    Wait until every loop a batch's manifests record as started has ended, as the policies say.

    Its arguments hold the manifests' URIs and counts, never the loop names: it reads the manifests
    once when it starts (again after a triggerer restart). Each poll is one look of :class:`BatchLook`:
    ``ListHumanLoops`` pages over the batch's creation-time window, describes only for loops the
    listing did not show. Overdue loops are stopped under the ``stop_*`` review-timeout policies.

    Yields exactly one event: ``{"status": "success" | "failed" | "skipped" | "error", "message",
    "counts", "failed": [<= 100 names], "timed_out": [<= 100 names], "report": {"total", "counts",
    "timed_out_count", "report_s3_uri", "manifest_uris"}}`` (an ``error`` event has only ``status`` and
    ``message``). Before it, each loop's final state is written to ``report_s3_uri`` as JSON Lines.
    Throttling backs off and retries; any other error ends the wait with an ``error`` event. Loops are
    stopped from :meth:`on_kill` with ``stop_on_kill``, never from ``cleanup()``.

    :param manifest_uris: the batch's manifests (``s3://bucket/prefix``).
    :param flow_definition_arn: the flow definition of the batch's loops.
    :param run_hash: the run hash the loop names share, or None (see :func:`common_run_hash`).
    :param total_loops: how many started loops the manifests recorded when the wait began (a check).
    :param earliest_creation_time: epoch seconds at or before the batch's earliest loop creation; None
        makes the first look list newest first until it has seen every loop.
    :param report_s3_uri: where to write each loop's final state (JSON Lines); None: nowhere.
    :param poll_interval: seconds between two looks.
    :param review_timeout: seconds from each loop's creation after which it is overdue (None: no limit).
    :param on_loop_failure: ``fail`` | ``skip`` | ``continue``.
    :param on_review_timeout: ``fail`` | ``stop_and_fail`` | ``stop_and_continue`` | ``continue``.
    :param stop_on_kill: stop the open loops when a user kills the deferred task.
    :param aws_conn_id: the Airflow connection for AWS credentials.
    :param region_name: AWS Region.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (a dict).
    """

    def __init__(self, *, manifest_uris: list[str], flow_definition_arn: str, run_hash: str | None = None,
                 total_loops: int | None = None, earliest_creation_time: float | None = None,
                 report_s3_uri: str | None = None, poll_interval: float = 60.0,
                 review_timeout: float | None = None, on_loop_failure: str = "fail",
                 on_review_timeout: str = "fail", stop_on_kill: bool = False,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 verify: bool | str | None = None, botocore_config: dict | None = None) -> None:
        super().__init__()
        self.manifest_uris = list(manifest_uris)
        self.flow_definition_arn = flow_definition_arn
        self.run_hash = run_hash
        self.total_loops = total_loops
        self.earliest_creation_time = earliest_creation_time
        self.report_s3_uri = report_s3_uri
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
                "manifest_uris": self.manifest_uris,
                "flow_definition_arn": self.flow_definition_arn,
                "run_hash": self.run_hash,
                "total_loops": self.total_loops,
                "earliest_creation_time": self.earliest_creation_time,
                "report_s3_uri": self.report_s3_uri,
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

    def s3_hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                      config=self.botocore_config)

    async def _batch(self) -> BatchLook:
        """Read the manifests (in a thread: the S3 hook is synchronous) into a fresh look."""
        s3_hook = self.s3_hook()
        loops = await asyncio.to_thread(started_loops, s3_hook, self.manifest_uris)
        if self.total_loops is not None and len(loops) != self.total_loops:
            self.log.warning("The manifests now record %d started loop(s), not %d as when the wait began; "
                             "waiting on the %d they record", len(loops), self.total_loops, len(loops))
        return BatchLook(self.flow_definition_arn, loops, run_hash=self.run_hash,
                         earliest_creation_time=self.earliest_creation_time)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from botocore.exceptions import ClientError

        try:
            batch = await self._batch()
        except Exception as error:
            yield TriggerEvent({"status": "error", "message": f"Cannot read the batch's manifests "
                                f"{self.manifest_uris}: {error}"})
            return
        self.log.info("Waiting on %d human loop(s) recorded in %d manifest(s)", len(batch.loops),
                      len(self.manifest_uris))
        backoff = 1.0
        async with await self.hook().get_async_conn() as client:
            while True:
                try:
                    states = await self._look(client, batch)
                    verdict = decide(states, time.time(), on_loop_failure=self.on_loop_failure,
                                     on_review_timeout=self.on_review_timeout, review_timeout=self.review_timeout)
                    await self._stop(client, verdict.stop)
                except ClientError as error:
                    if _code(error) not in THROTTLED:
                        yield TriggerEvent({"status": "error", "message": str(error)})
                        return
                    self.log.warning("Throttled while polling the batch's human loops; backing off %.0f s", backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                except A2IValidationError as error:
                    yield TriggerEvent({"status": "error", "message": str(error)})
                    return
                backoff = 1.0
                self.log.info("%s", batch.progress(states))
                if verdict.done:
                    break
                await asyncio.sleep(self.poll_interval)
        try:
            if self.report_s3_uri:
                await asyncio.to_thread(write_report, self.s3_hook(), self.report_s3_uri, batch.loops, states,
                                        verdict.timed_out)
        except Exception as error:
            yield TriggerEvent({"status": "error", "message": f"The wait ended {verdict.outcome} ({verdict.message})"
                                f" but its report could not be written to {self.report_s3_uri}: {error}"})
            return
        yield TriggerEvent(batch_event(verdict, states, report_s3_uri=self.report_s3_uri,
                                       manifest_uris=self.manifest_uris))

    async def _look(self, client: Any, batch: BatchLook) -> list[LoopState]:
        """One look: listing pages until every open loop has been seen, then describes of the rest."""
        params = batch.begin()
        if params is not None:
            async for page in client.get_paginator("list_human_loops").paginate(**params):
                batch.pages += 1
                for summary in page["HumanLoopSummaries"]:
                    batch.take(summary)
                if batch.all_seen:
                    break
            limit = asyncio.Semaphore(CONCURRENT_DESCRIBES)

            async def describe(name: str) -> tuple[str, dict | None]:
                async with limit:
                    return name, await describe_or_none(client, name)

            unseen = batch.unseen()
            batch.describes = len(unseen)
            for name, described in await asyncio.gather(*(describe(name) for name in unseen)):
                batch.take_description(name, described)
        return batch.end()

    async def _stop(self, client: Any, names: list[str]) -> None:
        limit = asyncio.Semaphore(CONCURRENT_DESCRIBES)

        async def stop(name: str) -> None:
            async with limit:
                await stop_quietly(client, name)

        await asyncio.gather(*(stop(name) for name in names))
        if names:
            self.log.info("Stopped %d human loop(s) whose review time is up: %s%s", len(names),
                          ", ".join(names[:10]), " ..." if len(names) > 10 else "")

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop the batch's open loops when ``stop_on_kill`` asks for it."""
        if not self.stop_on_kill:
            return
        batch = await self._batch()
        async with await self.hook().get_async_conn() as client:
            open_loops = [state.name for state in await self._look(client, batch) if state.status == "InProgress"]
            await self._stop(client, open_loops)
        self.log.info("Stopped %d open human loop(s) because the task was killed", len(open_loops))
