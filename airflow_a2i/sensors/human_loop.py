"""Wait on human loops started elsewhere: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import PokeReturnValue, conf

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.mixins import S3HookMixin, aws_kwargs_of
from airflow_a2i.names import human_loop_names_of
from airflow_a2i.validation import check_literal_part, is_templated
from airflow_a2i.waiting.arguments import INLINE_NAMES_LIMIT, WaitPolicyArguments

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_a2i.waiting.sync import BlockingWait


class A2IHumanLoopSensor(WaitPolicyArguments, S3HookMixin, AwsBaseSensor[A2IHook]):
    """
    Wait until one human loop, or each of a list, has ended as the policies say.

    In deferrable mode it looks once on the worker and defers only when the loops are still open,
    passing its ``timeout`` to the deferral. With ``completion="events"`` every mode takes events between full
    looks (``reschedule`` mode, which keeps nothing between pokes: see the README's "Event-driven completion").
    ``review_timeout`` is enforced by the sensor and the trigger themselves, per loop, from its creation time; the
    sensor's ``timeout`` is a backstop.

    :param human_loop_names: a loop name, a list of them, or what the A2I start, Textract and Rekognition
        operators return (their ``.output``; a mapped task's list of results): items for which A2I started no
        loop are left out, and with none left the wait succeeds at once. (templated)
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
    :param report_s3_uri: where to write the names per status when there are more than 100 loops
        (an ``s3://bucket/key.json`` URI). (templated)
    :param deferrable: wait on the triggerer. (default: ``[operators] default_deferrable``)
    :return: ``{"counts": {status: n}, "names_by_status": {...}, "timed_out": [...]}``, or
        ``"report_s3_uri"`` in place of the names beyond 100 loops.
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields("human_loop_names", "report_s3_uri", "review_timeout",
                                                         "poll_interval", "events_queue_url", "reconcile_interval")
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        human_loop_names: str | list[str] | Any,
        on_loop_failure: str = "fail",
        on_review_timeout: str = "fail",
        review_timeout: float | str | None = None,
        poll_interval: float | str | None = None,
        report_s3_uri: str | None = None,
        completion: str = "poll",
        events_queue_url: str | None = None,
        reconcile_interval: float | str = 300,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.human_loop_names = human_loop_names
        self.init_wait_policy(on_loop_failure=on_loop_failure, on_review_timeout=on_review_timeout,
                              review_timeout=review_timeout, poll_interval=poll_interval,
                              stop_on_kill=False, completion=completion,
                              events_queue_url=events_queue_url, reconcile_interval=reconcile_interval)
        self.report_s3_uri = report_s3_uri
        self.deferrable = deferrable
        self._wait: BlockingWait | None = None
        check_literal_part(human_loop_names, self._checked_names)

    def _names(self) -> list[str]:
        names = self._checked_names(self.human_loop_names, at_parse_time=False)
        if not names:
            self.log.info("No human loop to wait on: A2I started none for these items")
        return names

    def _checked_names(self, human_loop_names: object, *, at_parse_time: bool = True) -> list[str]:
        names = human_loop_names_of(human_loop_names)
        if not names and at_parse_time:
            raise A2IValidationError("human_loop_names is empty: give at least one loop name, or a task's output")
        report_uri = self.report_s3_uri or ""
        if len(names) > INLINE_NAMES_LIMIT and not (is_templated(report_uri) or report_uri.startswith("s3://")):
            raise A2IValidationError(f"{len(names)} loops are more than {INLINE_NAMES_LIMIT} to report inline: "
                                     "give report_s3_uri='s3://bucket/key.json' for their names")
        return names

    def execute(self, context: Context) -> Any:
        self.poke_interval = self.wait_poll_interval()  # a rendered poll_interval paces the pokes too
        if not self.deferrable:
            return super().execute(context=context)
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        from airflow_a2i.triggers.human_loop import A2IHumanLoopTrigger  # only a deferral pays for the triggers

        self.defer(
            trigger=A2IHumanLoopTrigger(human_loop_names=self._names(), policy=self.wait_policy(),
                                        **aws_kwargs_of(self)),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_a2i.waiting.sync import judge_poke  # run time only, as the waits: DAG parsing skips them

        wait = self._blocking_wait()
        judged = judge_poke(self, wait, context)
        if judged is None:
            return PokeReturnValue(is_done=False)
        verdict, states = judged
        loops = {state.name: state.to_json() for state in states}
        if not verdict.done:
            self.log.info("%s", wait.progress(states))
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._finish(verdict.outcome, verdict.message, loops,
                                                                     verdict.timed_out))

    def _blocking_wait(self) -> BlockingWait:
        """The looks of this sensor instance (in ``poke`` mode it lives across pokes; in ``reschedule`` mode each
        poke is a new instance)."""
        from airflow_a2i.waiting.sync import BlockingWait, NamedLoops, sqs_client_factory

        if self._wait is None:
            self._wait = BlockingWait(self.hook, NamedLoops(self.hook, self._names()), self.wait_policy(), self.log,
                                      sqs_client_factory(**aws_kwargs_of(self)))
        return self._wait

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        return self._finish(event["status"], event.get("message", ""), event.get("loops", {}),
                            event.get("timed_out", []))

    def _finish(self, outcome: str, message: str, loops: dict[str, dict], timed_out: list[str]) -> dict[str, Any]:
        from airflow_a2i.waiting.sync import raise_for_outcome, wait_report

        self.log.info("Human loop wait ended %s: %s", outcome, message)
        raise_for_outcome(outcome, message)
        return wait_report(loops, timed_out, self.report_s3_uri, self._write_report)

    def _write_report(self, uri: str, body: str) -> None:
        self.s3_hook.load_string(body, key=uri, replace=True)

