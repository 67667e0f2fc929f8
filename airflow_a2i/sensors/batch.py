"""Wait on a whole batch of human loops, found through its manifests: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import PokeReturnValue, conf

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.manifest import manifest_sources
from airflow_a2i.mixins import S3HookMixin, aws_kwargs_of
from airflow_a2i.s3_uris import join_s3_uri
from airflow_a2i.validation import check_literal_part, has_template, is_templated, validate_flow_definition_arn
from airflow_a2i.waiting.arguments import WaitPolicyArguments

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_a2i.waiting.batch import BatchLook
    from airflow_a2i.waiting.policies import LoopState
    from airflow_a2i.waiting.sync import BlockingWait

DEFAULT_REPORT_NAME = "wait-report.jsonl"


class A2IHumanLoopBatchSensor(WaitPolicyArguments, S3HookMixin, AwsBaseSensor[A2IHook]):
    """
    Wait until every loop a batch's manifests record as started has ended, as the policies say.

    Built for thousands of loops: each look lists the flow definition's loops 100 a call over the
    batch's creation-time window (see :class:`~airflow_a2i.triggers.batch.BatchLook`) and describes
    only the loops the listing does not show (a deleted loop is ``Missing``, a failure under
    ``on_loop_failure``). The first look starts from the ``created_after`` the batch start tasks
    returned; without it (plain URIs) it lists newest first until it has seen every loop of the batch.
    Later looks start from the earliest loop still open, and stop paging once they have seen every open
    loop; loops already ended are not looked at again (in ``reschedule`` mode, where each poke is a new
    sensor instance, every poke reads the manifests and looks at every loop). With ``completion="events"`` the
    looks between full ones take events instead (in ``reschedule`` mode, see the README's "Event-driven
    completion").

    In deferrable mode the sensor looks once on the worker, then defers with the earliest creation time
    it found, the manifests' URIs and the counts (never the names), passing its ``timeout`` to the
    deferral. Each loop's final state is written to ``report_s3_uri`` whatever the outcome.

    :param manifest_uris: the batch's manifests: an ``s3://bucket/prefix`` URI, a list of them, or what
        a batch start task returns (a dict with ``"manifest_uri"``, or a mapped task's list of such
        dicts). (templated)
    :param flow_definition_arn: the flow definition the batch's loops were started in; default: the one
        the batch start tasks returned with their manifests. (templated)
    :param report_s3_uri: where to write each loop's final state as JSON Lines (``human_loop_name``,
        ``item_key``, ``status``, ``creation_time``, ``failure_code``, ``failure_reason``,
        ``output_s3_uri``, ``arn``, ``timed_out``; fields the listing does not give are null). Default:
        ``wait-report.jsonl`` beside the first manifest's parts. (templated)
    :param on_loop_failure: ``fail`` | ``skip`` | ``continue`` for Failed (or Expired), Stopped or missing loops.
    :param on_review_timeout: ``fail`` | ``stop_and_fail`` | ``stop_and_continue`` | ``continue``.
    :param review_timeout: seconds from each loop's creation after which its review is overdue. (templated)
    :param poll_interval: seconds between two looks, in place of ``poke_interval`` (which Airflow does not
        template), e.g. ``"{{ params.poll_seconds }}"``; None: ``poke_interval``. (templated)
    :param completion: ``poll`` (default) or ``events``: take A2I's status-change events from ``events_queue_url``
        between full looks (see the README's "Event-driven completion").
    :param events_queue_url: the SQS queue an EventBridge rule fills with A2I's status-change events
        (:class:`~airflow_a2i.operators.events.A2ICreateEventQueueOperator` sets one up). (templated)
    :param reconcile_interval: seconds between two full looks of an event-driven wait. (default 300; templated)
    :param stop_on_kill: stop the batch's open loops when a user kills the deferred task.
    :param deferrable: wait on the triggerer. (default: ``[operators] default_deferrable``)
    :return: ``{"total": n, "counts": {status: n}, "timed_out_count": n, "report_s3_uri": uri,
        "manifest_uris": [...]}``: URIs and counts only, whatever the batch's size.
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields("manifest_uris", "flow_definition_arn", "report_s3_uri",
                                                         "review_timeout", "poll_interval", "events_queue_url",
                                                         "reconcile_interval")
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        manifest_uris: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any] | None] | Any,
        flow_definition_arn: str | None = None,
        report_s3_uri: str | None = None,
        on_loop_failure: str = "fail",
        on_review_timeout: str = "fail",
        review_timeout: float | str | None = None,
        poll_interval: float | str | None = None,
        stop_on_kill: bool = False,
        completion: str = "poll",
        events_queue_url: str | None = None,
        reconcile_interval: float | str = 300,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_uris = manifest_uris
        self.flow_definition_arn = flow_definition_arn
        self.report_s3_uri = report_s3_uri
        self.init_wait_policy(on_loop_failure=on_loop_failure, on_review_timeout=on_review_timeout,
                              review_timeout=review_timeout, poll_interval=poll_interval,
                              stop_on_kill=stop_on_kill, completion=completion,
                              events_queue_url=events_queue_url, reconcile_interval=reconcile_interval)
        self.deferrable = deferrable
        self._batch_look: BatchLook | None = None
        self._wait: BlockingWait | None = None
        check_literal_part(manifest_uris, manifest_sources)
        if flow_definition_arn is not None and not is_templated(flow_definition_arn):
            validate_flow_definition_arn(flow_definition_arn)
        if not has_template(manifest_uris) and not has_template(flow_definition_arn):
            self._flow_definition_arn()
        if report_s3_uri is not None and not is_templated(report_s3_uri) and not report_s3_uri.startswith("s3://"):
            raise A2IValidationError(f"report_s3_uri={report_s3_uri!r} must be an s3://bucket/key URI")

    def _uris(self) -> list[str]:
        return manifest_sources(self.manifest_uris).uris

    def _flow_definition_arn(self) -> str:
        """``flow_definition_arn``, else the one the batch start tasks returned."""
        told = manifest_sources(self.manifest_uris).flow_definition_arns
        if self.flow_definition_arn is not None:
            other = sorted(told - {self.flow_definition_arn})
            if other:
                raise A2IValidationError(f"flow_definition_arn is {self.flow_definition_arn} but the batch start "
                                         f"task(s) started their loops in {other}")
            return validate_flow_definition_arn(self.flow_definition_arn)
        if len(told) != 1:
            raise A2IValidationError("Give flow_definition_arn: the manifests' sources name "
                                     + (f"several flow definitions {sorted(told)}" if told else "none"))
        return validate_flow_definition_arn(next(iter(told)))

    def _report_uri(self) -> str:
        return self.report_s3_uri or join_s3_uri(self._uris()[0], DEFAULT_REPORT_NAME)

    def _batch(self) -> BatchLook:
        """The batch's loops, read from the manifests on the first poke (kept while the sensor instance lives)."""
        # Run time only, as the waits' other parts below: DAG parsing does not pay for them.
        from airflow_a2i.waiting.batch import BatchLook, common_run_hash, started_loops, unfinished_manifests

        if self._batch_look is None:
            uris = self._uris()
            s3_hook = self.s3_hook
            unfinished = unfinished_manifests(s3_hook, uris)
            if unfinished:
                self.log.warning("%d manifest(s) have no _COMPLETE marker (%s): their batch may still be starting "
                                 "loops, or was interrupted; waiting on the loops they record now",
                                 len(unfinished), ", ".join(unfinished[:5]))
            loops = started_loops(s3_hook, uris)
            self._batch_look = BatchLook(self._flow_definition_arn(), loops, run_hash=common_run_hash(loops),
                                         earliest_creation_time=manifest_sources(self.manifest_uris).created_after)
            self.log.info("Waiting on %d human loop(s) recorded in %d manifest(s)", len(loops), len(uris))
        return self._batch_look

    def execute(self, context: Context) -> Any:
        self.poke_interval = self.wait_poll_interval()  # a rendered poll_interval paces the pokes too
        if not self.deferrable:
            return super().execute(context=context)
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        from airflow_a2i.triggers.batch import A2IHumanLoopBatchTrigger  # only a deferral pays for the triggers

        batch = self._batch()
        self.defer(
            trigger=A2IHumanLoopBatchTrigger(
                manifest_uris=self._uris(), flow_definition_arn=batch.flow_definition_arn,
                run_hash=batch.run_hash, total_loops=len(batch.loops), earliest_creation_time=batch.earliest,
                report_s3_uri=self._report_uri(), policy=self.wait_policy(), **aws_kwargs_of(self),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_a2i.waiting.batch import write_report
        from airflow_a2i.waiting.events import batch_event
        from airflow_a2i.waiting.sync import judge_poke

        wait = self._blocking_wait()
        judged = judge_poke(self, wait, context)
        if judged is None:
            return PokeReturnValue(is_done=False)
        verdict, states = judged
        self.log.info("%s", wait.progress(states))
        if not verdict.done:
            return PokeReturnValue(is_done=False)
        report_uri = self._report_uri()
        write_report(self.s3_hook, report_uri, self._batch().loops, states, verdict.timed_out)
        event = batch_event(verdict, states, report_s3_uri=report_uri, manifest_uris=self._uris())
        return PokeReturnValue(is_done=True, xcom_value=self._finish(event))

    def _blocking_wait(self) -> BlockingWait:
        """The looks of this sensor instance (in ``poke`` mode it lives across pokes; in ``reschedule`` mode each
        poke is a new instance, which reads the manifests again)."""
        from airflow_a2i.waiting.sync import BlockingWait, sqs_client_factory

        if self._wait is None:
            self._wait = BlockingWait(self.hook, ListedLoops(self.hook, self._batch()), self.wait_policy(), self.log,
                                      sqs_client_factory(**aws_kwargs_of(self)))
        return self._wait

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._finish(validate_execute_complete_event(event))

    def _finish(self, event: Mapping[str, Any]) -> Any:
        from airflow_a2i.waiting.sync import raise_for_outcome

        self.log.info("Batch wait ended %s: %s", event["status"], event.get("message", ""))
        if event.get("failed"):
            self.log.info("Loops that did not complete (first %d): %s", len(event["failed"]),
                          ", ".join(event["failed"]))
        if event.get("timed_out"):
            self.log.info("Loops whose review time is up (first %d): %s", len(event["timed_out"]),
                          ", ".join(event["timed_out"]))
        raise_for_outcome(event["status"], event.get("message", ""))
        return event["report"]


class ListedLoops:
    """A batch's loops looked at with the sync hook, as the batch trigger looks with aiobotocore: a look is
    ``ListHumanLoops`` pages until every open loop has been seen, then describes of the rest."""

    def __init__(self, hook: A2IHook, batch: BatchLook) -> None:
        self.hook = hook
        self.batch = batch

    def look(self) -> list[LoopState]:
        batch = self.batch
        params = batch.begin()
        if params is not None:
            for page in self.hook.conn.get_paginator("list_human_loops").paginate(**params):
                batch.pages += 1
                for summary in page["HumanLoopSummaries"]:
                    batch.take(summary)
                if batch.all_seen:
                    break
            unseen = batch.unseen()
            batch.describes = len(unseen)
            for name in unseen:
                batch.take_description(name, self.hook.describe_human_loop(name))
        return batch.end()

    def waited_on(self) -> Collection[str]:
        return self.batch.loops

    def current_states(self) -> list[LoopState]:
        return self.batch.current()

    def confirm(self, names: Collection[str]) -> list[LoopState]:
        """Describe the loops events named, or look at every open one when that takes fewer calls."""
        if self.batch.confirms_by_listing(names):
            return self.look()
        for name in names:
            self.batch.take_description(name, self.hook.describe_human_loop(name))
        return self.batch.current()

    def progress(self, states: list[LoopState]) -> str:
        return self.batch.progress(states)
