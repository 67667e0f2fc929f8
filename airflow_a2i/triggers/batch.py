"""Deferrable wait on a whole batch of human loops, found through its manifests: one listing a poll.

The look itself is :class:`~airflow_a2i.waiting.batch.BatchLook` (no I/O), shared with the batch sensor;
this trigger drives it with aiobotocore.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from airflow_a2i.triggers.base import A2IBaseWaitTrigger, describe_all
from airflow_a2i.waiting.batch import BatchLook, started_loops, write_report
from airflow_a2i.waiting.events import BatchEvent, batch_event
from airflow_a2i.waiting.policies import LoopState, Verdict, WaitPolicy

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook


class A2IHumanLoopBatchTrigger(A2IBaseWaitTrigger):
    """
    Wait until every loop a batch's manifests record as started has ended, as the policy says.

    Its arguments hold the manifests' URIs and counts, never the loop names: it reads the manifests
    once when it starts (again after a triggerer restart). Each poll is one look of :class:`BatchLook`:
    ``ListHumanLoops`` pages over the batch's creation-time window, describes only for loops the
    listing did not show. Overdue loops are stopped under the ``stop_*`` review-timeout policies.

    Yields exactly one event, a :class:`~airflow_a2i.waiting.events.BatchEvent` (``{"status": "success" |
    "failed" | "skipped", "message", "counts", "failed": [<= 100 names], "timed_out": [<= 100 names],
    "report": {"total", "counts", "timed_out_count", "report_s3_uri", "manifest_uris"}}``) or an ``error``
    event. Before it, each loop's final state is written to ``report_s3_uri`` as JSON Lines.

    :param manifest_uris: the batch's manifests (``s3://bucket/prefix``).
    :param flow_definition_arn: the flow definition of the batch's loops.
    :param run_hash: the run hash the loop names share, or None (see
        :func:`~airflow_a2i.waiting.batch.common_run_hash`).
    :param total_loops: how many started loops the manifests recorded when the wait began (a check).
    :param earliest_creation_time: epoch seconds at or before the batch's earliest loop creation; None
        makes the first look list newest first until it has seen every loop.
    :param report_s3_uri: where to write each loop's final state (JSON Lines); None: nowhere.
    :param policy: the wait's :class:`~airflow_a2i.waiting.policies.WaitPolicy` (or its dict).
    :param aws_conn_id: the Airflow connection for AWS credentials.
    :param region_name: AWS Region.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (a dict).
    """

    def __init__(self, *, manifest_uris: list[str], flow_definition_arn: str, run_hash: str | None = None,
                 total_loops: int | None = None, earliest_creation_time: float | None = None,
                 report_s3_uri: str | None = None, policy: WaitPolicy | Mapping[str, Any] | None = None,
                 **aws_kwargs: Any) -> None:
        self.manifest_uris = list(manifest_uris)
        self.flow_definition_arn = flow_definition_arn
        self.run_hash = run_hash
        self.total_loops = total_loops
        self.earliest_creation_time = earliest_creation_time
        self.report_s3_uri = report_s3_uri
        super().__init__(
            serialized_fields={"manifest_uris": self.manifest_uris, "flow_definition_arn": flow_definition_arn,
                               "run_hash": run_hash, "total_loops": total_loops,
                               "earliest_creation_time": earliest_creation_time, "report_s3_uri": report_s3_uri},
            policy=policy, **aws_kwargs)
        self.batch: BatchLook | None = None

    def s3_hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                      config=self.botocore_config)

    async def prepare(self) -> None:
        """Read the manifests (in a thread: the S3 hook is synchronous) into a fresh look."""
        try:
            loops = await asyncio.to_thread(started_loops, self.s3_hook(), self.manifest_uris)
        except Exception as error:
            raise RuntimeError(f"Cannot read the batch's manifests {self.manifest_uris}: {error}") from error
        if self.total_loops is not None and len(loops) != self.total_loops:
            self.log.warning("The manifests now record %d started loop(s), not %d as when the wait began; "
                             "waiting on the %d they record", len(loops), self.total_loops, len(loops))
        self.batch = BatchLook(self.flow_definition_arn, loops, run_hash=self.run_hash,
                               earliest_creation_time=self.earliest_creation_time)
        self.log.info("Waiting on %d human loop(s) recorded in %d manifest(s)", len(loops), len(self.manifest_uris))

    def _batch_look(self) -> BatchLook:
        if self.batch is None:
            raise RuntimeError("prepare() reads the manifests before the first look")
        return self.batch

    async def look(self, client: Any) -> list[LoopState]:
        """One look: listing pages until every open loop has been seen, then describes of the rest."""
        batch = self._batch_look()
        params = batch.begin()
        if params is not None:
            async for page in client.get_paginator("list_human_loops").paginate(**params):
                batch.pages += 1
                for summary in page["HumanLoopSummaries"]:
                    batch.take(summary)
                if batch.all_seen:
                    break
            unseen = batch.unseen()
            batch.describes = len(unseen)
            for name, described in await describe_all(client, unseen):
                batch.take_description(name, described)
        return batch.end()

    def progress(self, states: list[LoopState]) -> str:
        return self._batch_look().progress(states)

    def waited_on(self) -> Collection[str]:
        return self._batch_look().loops

    def current_states(self) -> list[LoopState]:
        return self._batch_look().current()

    async def confirm(self, client: Any, names: Collection[str]) -> list[LoopState]:
        """Describe the loops events named, or list the open ones when that takes fewer calls (many events at once:
        a page shows 100 loops)."""
        batch = self._batch_look()
        if batch.confirms_by_listing(names):
            return await self.look(client)
        for name, described in await describe_all(client, names):
            batch.take_description(name, described)
        return batch.current()

    async def finish(self, verdict: Verdict, states: list[LoopState]) -> BatchEvent:
        if self.report_s3_uri:
            try:
                await asyncio.to_thread(write_report, self.s3_hook(), self.report_s3_uri, self._batch_look().loops,
                                        states, verdict.timed_out)
            except Exception as error:
                raise RuntimeError(f"its report could not be written to {self.report_s3_uri}: {error}") from error
        return batch_event(verdict, states, report_s3_uri=self.report_s3_uri, manifest_uris=self.manifest_uris)
