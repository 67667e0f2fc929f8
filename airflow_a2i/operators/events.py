"""Set up the SQS queue that event-driven waits read (``completion="events"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_a2i.hooks.events import (
    DEFAULT_RETENTION_SECONDS,
    A2IEventsHook,
    validate_queue_name,
    validate_retention,
    validate_rule_name,
)
from airflow_a2i.validation import is_templated, validate_flow_definition_arn

if TYPE_CHECKING:
    from airflow.sdk import Context


class A2ICreateEventQueueOperator(AwsBaseOperator[A2IEventsHook]):
    """
    Create (or bring up to date) an SQS queue that an EventBridge rule fills with A2I's human loop status-change
    events, for waits with ``completion="events"``. Idempotent: a second run changes nothing that is right.

    The queue's policy lets the rule, and only it, send to the queue (``sqs:SendMessage`` with ``aws:SourceArn`` of
    the rule). IAM: ``sqs:CreateQueue``, ``sqs:GetQueueUrl``, ``sqs:GetQueueAttributes``, ``sqs:SetQueueAttributes``,
    ``events:PutRule``, ``events:PutTargets``.

    :param queue_name: the SQS queue; one per flow definition is the natural set-up. (templated)
    :param flow_definition_arn: route only this flow definition's loops; None: every A2I loop of the account and
        Region. (templated)
    :param rule_name: the EventBridge rule on the default bus (default: the queue's name). (templated)
    :param message_retention_seconds: how long a message nobody takes stays in the queue (default one day).
    :return: the queue's URL: give it to the waits' ``events_queue_url`` (``events_queue_url=queue.output``).
    """

    aws_hook_class = A2IEventsHook
    template_fields: Sequence[str] = aws_template_fields("queue_name", "flow_definition_arn", "rule_name")
    ui_color = "#f0e4ff"

    def __init__(self, *, queue_name: str, flow_definition_arn: str | None = None, rule_name: str | None = None,
                 message_retention_seconds: int = DEFAULT_RETENTION_SECONDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queue_name = queue_name
        self.flow_definition_arn = flow_definition_arn
        self.rule_name = rule_name
        self.message_retention_seconds = validate_retention(message_retention_seconds)
        self._validate(rendered=False)

    def _validate(self, *, rendered: bool) -> None:
        """Literal values at parse time, templated ones once rendered."""
        checks = ((self.queue_name, validate_queue_name), (self.rule_name, validate_rule_name),
                  (self.flow_definition_arn, validate_flow_definition_arn))
        for value, check in checks:
            if value is not None and (rendered or not is_templated(value)):
                check(value)

    def execute(self, context: Context) -> str:
        self._validate(rendered=True)
        return self.hook.create_status_change_queue(
            self.queue_name, flow_definition_arn=self.flow_definition_arn or None, rule_name=self.rule_name or None,
            message_retention_seconds=self.message_retention_seconds)["QueueUrl"]
