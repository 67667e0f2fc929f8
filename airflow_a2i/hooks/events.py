"""The SQS queue that event-driven waits read: A2I's status-change events, routed there by an EventBridge rule."""

from __future__ import annotations

import json
import re
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import error_code
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.validation import validate_flow_definition_arn

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
RULE_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
TARGET_ID = "a2i-status-change-queue"
POLICY_SID = "AllowA2IStatusChangeRule"
DEFAULT_RETENTION_SECONDS = 86_400  # messages of loops nobody waits on leave the queue after a day


def validate_queue_name(name: object) -> str:
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
        raise A2IValidationError(f"queue_name={name!r:.200} is not an SQS queue name: use 1 to 80 letters, digits, "
                                 "hyphens or underscores (a standard queue, not .fifo)")
    return name


def validate_rule_name(name: object) -> str:
    if not isinstance(name, str) or not RULE_NAME.fullmatch(name):
        raise A2IValidationError(f"rule_name={name!r:.200} is not an EventBridge rule name: use 1 to 64 letters, "
                                 "digits, dots, hyphens or underscores")
    return name


def validate_retention(seconds: object) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 60 <= seconds <= 1_209_600:
        raise A2IValidationError(f"message_retention_seconds={seconds!r} must be whole seconds from 60 to 1209600 "
                                 "(14 days), SQS's limits")
    return seconds


def status_change_pattern(flow_definition_arn: str | None) -> dict[str, Any]:
    """The rule's event pattern: A2I's status changes, of one flow definition when given."""
    from airflow_a2i.waiting.completion import DETAIL_TYPE, SOURCE  # the waits' own reading; DAG parsing skips it

    pattern: dict[str, Any] = {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}
    if flow_definition_arn:
        pattern["detail"] = {"flowDefinitionArn": [flow_definition_arn]}
    return pattern


def queue_policy(existing: str | None, queue_arn: str, rule_arn: str) -> str:
    """The queue's policy with one statement letting the rule (and only it) send to the queue: EventBridge needs
    ``sqs:SendMessage`` with ``aws:SourceArn`` of the rule. Other statements are kept; ours is replaced."""
    policy: dict[str, Any] = json.loads(existing) if existing else {"Version": "2012-10-17", "Statement": []}
    kept = policy.get("Statement", [])
    kept = kept if isinstance(kept, list) else [kept]  # a policy may hold one statement object
    statements = [statement for statement in kept if statement.get("Sid") != POLICY_SID]
    statements.append({"Sid": POLICY_SID, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": queue_arn,
                       "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}})
    return json.dumps({**policy, "Statement": statements})


class A2IEventsHook(AwsBaseHook):
    """
    Set up what event-driven waits read: an SQS queue that an EventBridge rule fills with A2I's
    "SageMaker A2I HumanLoop Status Change" events.

    Uses SQS and EventBridge clients (``conn`` is the SQS one); additional arguments (such as ``aws_conn_id``) are
    passed to :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sqs"
        super().__init__(*args, **kwargs)

    def create_status_change_queue(self, queue_name: str, *, flow_definition_arn: str | None = None,
                                   rule_name: str | None = None,
                                   message_retention_seconds: int = DEFAULT_RETENTION_SECONDS) -> dict[str, str]:
        """
        Create (or bring up to date) the queue, the rule on the default event bus, its target and the queue's
        policy. Idempotent: running it again changes nothing that is already right.

        :param queue_name: the SQS queue (one per flow definition is the natural set-up).
        :param flow_definition_arn: route only this flow definition's loops; None: every loop of the account and
            Region.
        :param rule_name: the EventBridge rule (default: the queue's name).
        :param message_retention_seconds: how long a message nobody takes stays (SQS's MessageRetentionPeriod).
        :return: ``{"QueueUrl", "QueueArn", "RuleArn"}``
        """
        validate_queue_name(queue_name)
        rule_name = validate_rule_name(rule_name or queue_name)
        validate_retention(message_retention_seconds)
        if flow_definition_arn is not None:
            validate_flow_definition_arn(flow_definition_arn)
        queue_url = self._queue(queue_name, {"MessageRetentionPeriod": str(message_retention_seconds)})
        attributes = self.conn.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])
        queue_arn = attributes["Attributes"]["QueueArn"]
        events = self._event_bridge()
        rule_arn = events.put_rule(Name=rule_name, EventPattern=json.dumps(status_change_pattern(flow_definition_arn)),
                                   State="ENABLED",
                                   Description="A2I human loop status changes for airflow-a2i's waits")["RuleArn"]
        events.put_targets(Rule=rule_name, Targets=[{"Id": TARGET_ID, "Arn": queue_arn}])
        self.conn.set_queue_attributes(QueueUrl=queue_url, Attributes={
            "Policy": queue_policy(attributes["Attributes"].get("Policy"), queue_arn, rule_arn)})
        self.log.info("Queue %s receives A2I's status changes%s through rule %s", queue_url,
                      f" of {flow_definition_arn}" if flow_definition_arn else "", rule_arn)
        return {"QueueUrl": queue_url, "QueueArn": queue_arn, "RuleArn": rule_arn}

    def _event_bridge(self) -> Any:
        """The EventBridge client of the same connection, through the Amazon provider's hook."""
        from airflow.providers.amazon.aws.hooks.eventbridge import EventBridgeHook

        return EventBridgeHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                               config=self.config).conn

    def _queue(self, queue_name: str, attributes: dict[str, str]) -> str:
        """The queue's URL, created with ``attributes`` or brought up to them."""
        try:
            return self.conn.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        except ClientError as error:
            if error_code(error) not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
        queue_url = self.conn.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.conn.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
        return queue_url
