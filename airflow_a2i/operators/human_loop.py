"""Start, stop and delete A2I human loops of custom task types (``StartHumanLoop``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException, conf

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.links.a2i import A2IHumanLoopLink, A2IPortalLink
from airflow_a2i.mixins import S3HookMixin, aws_kwargs_of
from airflow_a2i.names import deterministic_loop_name, validate_human_loop_name, validate_human_loop_names
from airflow_a2i.validation import (
    check_known_part,
    check_literal_part,
    flow_definition_name,
    serialize_input,
    validate_content_classifiers,
    validate_flow_definition_arn,
)
from airflow_a2i.waiting.arguments import WaitPolicyArguments, review_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_a2i.triggers.human_loop import A2IHumanLoopTrigger

# Extra time a deferral may take beyond the review timeout: the trigger enforces the review timeout
# itself, the deferral timeout is only a backstop against a lost trigger.
DEFERRAL_GRACE_SECONDS = 600


class HumanLoopWaitMixin(WaitPolicyArguments):
    """Waiting on the one loop an operator started: blocking, or deferred to the trigger, with the policy.

    The operator sets ``wait_for_completion``, ``deferrable``, ``poll_interval`` and the policy's arguments (see
    :meth:`init_wait`).
    """

    if TYPE_CHECKING:
        log: Any
        aws_conn_id: str | None
        region_name: str | None
        verify: bool | str | None
        botocore_config: dict | None
        _hook_parameters: dict[str, Any]

    def init_wait(self, *, wait_for_completion: bool, deferrable: bool, poll_interval: float | str,
                  review_timeout: float | str | None, on_loop_failure: str, on_review_timeout: str,
                  stop_on_kill: bool, completion: str = "poll", events_queue_url: str | None = None,
                  reconcile_interval: float | str = 300) -> None:
        self.init_wait_policy(on_loop_failure=on_loop_failure, on_review_timeout=on_review_timeout,
                              review_timeout=review_timeout, poll_interval=poll_interval, stop_on_kill=stop_on_kill,
                              completion=completion, events_queue_url=events_queue_url,
                              reconcile_interval=reconcile_interval)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self._started: str | None = None

    @cached_property
    def a2i_hook(self) -> A2IHook:
        return A2IHook(**self._hook_parameters)

    def wait_for_loop(self, name: str, result: dict[str, Any]) -> dict[str, Any]:
        """Wait until the loop ends as the policy says; ``result`` is returned with its final status. A throttled
        look is looked at again after a backoff, as the trigger does; with ``completion="events"`` the looks between
        full ones take events (:class:`~airflow_a2i.waiting.sync.BlockingWait`)."""
        # Run time only (as the trigger): DAG parsing does not pay for these.
        from airflow_a2i.waiting.sync import Backoff, BlockingWait, NamedLoops, sqs_client_factory, unless_throttled

        self._started = name
        wait = BlockingWait(self.a2i_hook, NamedLoops(self.a2i_hook, [name]), self.wait_policy(), self.log,
                            sqs_client_factory(**aws_kwargs_of(self)))
        backoff = Backoff()
        judged = unless_throttled(wait.judge, self.log)
        if (judged is None or not judged[0].done) and self.deferrable:
            self.defer(trigger=self._trigger([name]), method_name="execute_complete",  # type: ignore[attr-defined]
                       timeout=self._deferral_timeout(), kwargs={"result": result})
        while judged is None or not judged[0].done:
            if judged is not None and wait.pause:
                self.log.info("Human loop %s is %s; next look in %s s", name, judged[1][0].status, wait.pause)
                time.sleep(wait.pause)
            judged = unless_throttled(wait.judge, self.log, backoff)
        verdict, states = judged
        return self._finish(verdict.outcome, verdict.message, {s.name: s.to_json() for s in states}, result)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         result: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        return self._finish(event["status"], event.get("message", ""), event.get("loops", {}), result or {})

    def _finish(self, outcome: str, message: str, loops: dict[str, dict], result: dict[str, Any]) -> dict[str, Any]:
        from airflow_a2i.waiting.sync import raise_for_outcome

        self.log.info("Human loop wait ended %s: %s", outcome, message)
        raise_for_outcome(outcome, message)
        [(name, state)] = loops.items()
        finished = {**result, "HumanLoopName": name, "HumanLoopArn": state.get("arn") or result.get("HumanLoopArn"),
                    "HumanLoopStatus": state["status"]}
        if state.get("output_s3_uri"):
            finished["OutputS3Uri"] = state["output_s3_uri"]
        return finished

    def _trigger(self, names: list[str]) -> A2IHumanLoopTrigger:
        from airflow_a2i.triggers.human_loop import A2IHumanLoopTrigger

        return A2IHumanLoopTrigger(human_loop_names=names, policy=self.wait_policy(), **aws_kwargs_of(self))

    def _deferral_timeout(self) -> timedelta | None:
        seconds = review_seconds(self.review_timeout)
        if seconds is None:
            return None
        return timedelta(seconds=seconds + max(DEFERRAL_GRACE_SECONDS, 3 * self.wait_poll_interval()))

    def on_kill(self) -> None:
        """A user killed the task while it waited on its worker: stop the loop if ``stop_on_kill``."""
        if self.stop_on_kill and self._started:
            self.a2i_hook.stop_human_loop(self._started)


class A2IStartHumanLoopOperator(HumanLoopWaitMixin, S3HookMixin, AwsBaseOperator[A2IHook]):
    """
    Start an A2I human loop for a custom task type and, optionally, wait until people have reviewed it.

    The loop name is deterministic per (DAG, run, task, item key or map index) unless given, and a start
    first looks the name up: a retried task adopts the loop its earlier attempt started, it never starts
    a second one.

    :param flow_definition_arn: the flow definition (human review workflow) ARN. (templated)
    :param human_loop_input: the task input: a dict, a JSON object as a string, or the ``s3://`` URI of a
        JSON object (read at execution, so large or sensitive inputs stay out of rendered fields).
        At most 3,145,728 characters as JSON. (templated)
    :param human_loop_name: the loop's name (1 to 63 of ``[a-z0-9-]``); default: deterministic. (templated)
    :param item_key: what identifies the reviewed item; the default name depends on it instead of the
        map index. (templated)
    :param content_classifiers: ``FreeOfPersonallyIdentifiableInformation`` and/or ``FreeOfAdultContent``.
    :param wait_for_completion: wait until the loop ends. (default True)
    :param deferrable: wait on the triggerer, freeing the worker slot. (default: ``[operators]
        default_deferrable``)
    :param poll_interval: seconds between two looks at the loop. (default 30; templated)
    :param review_timeout: seconds from the loop's creation after which the review is overdue. (default None;
        templated)
    :param on_loop_failure: ``fail`` | ``skip`` | ``continue`` for a Failed (or Expired) or Stopped loop.
    :param on_review_timeout: ``fail`` | ``stop_and_fail`` | ``stop_and_continue`` | ``continue``.
    :param stop_on_kill: stop the loop when a user kills the task. (default False: people's work is kept)
    :param completion: ``poll`` (default) or ``events``: take A2I's status-change events from ``events_queue_url``
        between full looks (see the README's "Event-driven completion").
    :param events_queue_url: the SQS queue an EventBridge rule fills with A2I's status-change events
        (:class:`~airflow_a2i.operators.events.A2ICreateEventQueueOperator` sets one up). (templated)
    :param reconcile_interval: seconds between two full looks of an event-driven wait. (default 300; templated)
    :return: ``{"HumanLoopName", "HumanLoopArn", "HumanLoopStatus"}`` and, once completed, ``"OutputS3Uri"``.
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields(
        "flow_definition_arn", "human_loop_input", "human_loop_name", "item_key", "content_classifiers",
        "review_timeout", "poll_interval", "events_queue_url", "reconcile_interval",
    )
    template_fields_renderers: ClassVar[dict] = {"human_loop_input": "json"}
    operator_extra_links = (A2IHumanLoopLink(), A2IPortalLink())
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        flow_definition_arn: str,
        human_loop_input: dict | str,
        human_loop_name: str | None = None,
        item_key: str | None = None,
        content_classifiers: list[str] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | str = 30,
        review_timeout: float | str | None = None,
        on_loop_failure: str = "fail",
        on_review_timeout: str = "fail",
        stop_on_kill: bool = False,
        completion: str = "poll",
        events_queue_url: str | None = None,
        reconcile_interval: float | str = 300,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.flow_definition_arn = flow_definition_arn
        self.human_loop_input = human_loop_input
        self.human_loop_name = human_loop_name
        self.item_key = item_key
        self.content_classifiers = content_classifiers
        self.init_wait(wait_for_completion=wait_for_completion, deferrable=deferrable, poll_interval=poll_interval,
                       review_timeout=review_timeout, on_loop_failure=on_loop_failure,
                       on_review_timeout=on_review_timeout, stop_on_kill=stop_on_kill,
                       completion=completion, events_queue_url=events_queue_url, reconcile_interval=reconcile_interval)
        self._validate(rendered=False)

    def _validate(self, *, rendered: bool) -> None:
        """Check what can be checked: everything once rendered; at DAG parse time the literal values, and the
        literal members of lists and dicts."""
        check_known_part(self.flow_definition_arn, validate_flow_definition_arn, rendered=rendered)
        if self.human_loop_name is not None:
            check_known_part(self.human_loop_name, validate_human_loop_name, rendered=rendered)
        if not isinstance(self.content_classifiers, str):
            check_known_part(self.content_classifiers, validate_content_classifiers, rendered=rendered)
        if not _is_s3_uri(self.human_loop_input):
            check_known_part(self.human_loop_input, serialize_input, rendered=rendered)

    def loop_name(self, context: Context) -> str:
        if self.human_loop_name:
            return self.human_loop_name
        ti = context["ti"]
        return deterministic_loop_name(ti.dag_id, context["run_id"], ti.task_id, item_key=self.item_key,
                                       map_index=getattr(ti, "map_index", -1))

    def _input_content(self) -> str:
        if _is_s3_uri(self.human_loop_input):
            text = self.s3_hook.read_key(str(self.human_loop_input))
            return serialize_input(text)
        return serialize_input(self.human_loop_input)

    def execute(self, context: Context) -> dict[str, Any]:
        self._validate(rendered=True)
        self.review_timeout = review_seconds(self.review_timeout)
        classifiers = validate_content_classifiers(self.content_classifiers)
        name = self.loop_name(context)
        started = self.hook.start_human_loop(name, self.flow_definition_arn, self._input_content(), classifiers)
        A2IHumanLoopLink.persist(context=context, operator=self, region_name=self.hook.conn_region_name,
                                 aws_partition=self.hook.conn_partition, human_loop_name=name,
                                 flow_definition_name=flow_definition_name(self.flow_definition_arn))
        if started.get("PortalUrl"):
            A2IPortalLink.persist(context=context, operator=self, region_name=self.hook.conn_region_name,
                                  aws_partition=self.hook.conn_partition, human_loop_name=name,
                                  portal_url=started["PortalUrl"])
        result = {key: started[key] for key in ("HumanLoopName", "HumanLoopArn", "HumanLoopStatus")}
        if not self.wait_for_completion:
            return result
        return self.wait_for_loop(name, result)


class _LoopNamesOperator(AwsBaseOperator[A2IHook]):
    """Base of operators acting on loops given by name (one, or a list)."""

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields("human_loop_names")

    def __init__(self, *, human_loop_names: str | list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.human_loop_names = human_loop_names
        check_literal_part(human_loop_names, validate_human_loop_names)

    def _names(self) -> list[str]:
        return validate_human_loop_names(self.human_loop_names)


class A2IStopHumanLoopOperator(_LoopNamesOperator):
    """
    Stop human loops. Idempotent: a loop already finished, stopped or missing is not an error.

    :param human_loop_names: a loop name or a list of them. (templated)
    :param fail_if_not_stoppable: fail when a loop was missing or no longer InProgress. (default False)
    :return: ``{"stopped": [...], "not_stoppable": [...]}``
    """

    def __init__(self, *, human_loop_names: str | list[str], fail_if_not_stoppable: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(human_loop_names=human_loop_names, **kwargs)
        self.fail_if_not_stoppable = fail_if_not_stoppable

    def execute(self, context: Context) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {"stopped": [], "not_stoppable": []}
        for name in self._names():
            result["stopped" if self.hook.stop_human_loop(name) else "not_stoppable"].append(name)
        self.log.info("Stopped %d human loop(s); %d were not InProgress", len(result["stopped"]),
                      len(result["not_stoppable"]))
        if result["not_stoppable"] and self.fail_if_not_stoppable:
            raise AirflowFailException(f"Not InProgress, so not stopped: {result['not_stoppable']}")
        return result


class A2IDeleteHumanLoopOperator(_LoopNamesOperator):
    """
    Delete finished human loops (their output in S3 stays). Idempotent: a missing loop is not an error.

    :param human_loop_names: a loop name or a list of them. (templated)
    :param stop_if_open: stop a loop still InProgress and wait until it is Stopped before deleting it;
        without it such a loop fails the task. (default False)
    :param fail_if_missing: fail when a loop does not exist. (default False)
    :param poll_interval: seconds between looks while a stopped loop is Stopping. (default 5)
    :return: ``{"deleted": [...], "missing": [...]}``
    """

    def __init__(self, *, human_loop_names: str | list[str], stop_if_open: bool = False,
                 fail_if_missing: bool = False, poll_interval: float = 5, **kwargs: Any) -> None:
        super().__init__(human_loop_names=human_loop_names, **kwargs)
        self.stop_if_open = stop_if_open
        self.fail_if_missing = fail_if_missing
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {"deleted": [], "missing": []}
        for name in self._names():
            described = self.hook.describe_human_loop(name)
            if described is None:
                result["missing"].append(name)
                continue
            if described["HumanLoopStatus"] in ("InProgress", "Stopping"):
                self._stop_and_wait(name, described["HumanLoopStatus"])
            result["deleted" if self.hook.delete_human_loop(name) else "missing"].append(name)
        self.log.info("Deleted %d human loop(s); %d did not exist", len(result["deleted"]), len(result["missing"]))
        if result["missing"] and self.fail_if_missing:
            raise AirflowFailException(f"These human loops do not exist: {result['missing']}")
        return result

    def _stop_and_wait(self, name: str, status: str) -> None:
        if not self.stop_if_open:
            raise A2IValidationError(f"Human loop {name} is {status}; only finished loops can be deleted. "
                                     "Stop it first, or set stop_if_open=True")
        if status == "InProgress":
            self.hook.stop_human_loop(name)
        while (self.hook.describe_human_loop(name) or {}).get("HumanLoopStatus") == "Stopping":
            time.sleep(self.poll_interval)


def _is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith("s3://")
