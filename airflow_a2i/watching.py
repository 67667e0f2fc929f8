"""Airflow 3's asset watchers on A2I's status-change queue: a DAG scheduled on finished loops as they arrive.

An ``AssetWatcher`` runs a ``BaseEventTrigger`` on the triggerer, and every event it yields becomes an asset event
that schedules the DAGs on that asset. :func:`status_change_watcher` watches an SQS queue that an EventBridge rule
fills with A2I's "SageMaker A2I HumanLoop Status Change" events (``A2IEventsHook.create_status_change_queue``),
through the Amazon provider's ``SqsSensorTrigger``: each of its events carries one receive's messages
(``{"status": "success", "message_batch": [message, ...]}``), which Airflow stores in the asset event's
``extra["payload"]``. :func:`finished_loop_names` reads the loop names back from a run's triggering asset events.

The trigger deletes what it receives: give the watcher a queue of its own (EventBridge delivers each event to every
matching rule's target, so the waits' queue and the watcher's each get every event), never the queue that
``completion="events"`` waits share. Events are hints: whoever acts on them describes each loop first.

Only ``AssetWatcher`` differs between Airflow lines here (Airflow 2 has none): :func:`asset_watcher_class` is the
one place that looks for it. Cheap to import: DAG files call this module at parse time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.validation import is_sqs_queue_url  # the waits' rule of what an SQS queue URL is
from airflow_a2i.waiting.completion import status_hint

# The watcher's SQS settings. One receive takes up to 10 messages (SQS's maximum) and waits up to 20 s for them
# (SQS's longest long poll: an idle queue costs 3 receives a minute); the trigger then ends with its batch and the
# triggerer starts it again at its next loop (about a second). After an empty receive it sleeps WAITER_DELAY.
RECEIVE_MAX_MESSAGES = 10
RECEIVE_WAIT_SECONDS = 20
WAITER_DELAY_SECONDS = 1


def asset_watcher_class() -> type | None:
    """``airflow.sdk.AssetWatcher`` (Airflow 3), or None where Airflow has no asset watchers (Airflow 2)."""
    try:
        from airflow.sdk import AssetWatcher
    except ImportError:
        return None
    return AssetWatcher


def validate_watcher_queue_url(queue_url: object) -> str:
    if not is_sqs_queue_url(queue_url):
        raise A2IValidationError(f"queue_url={queue_url!r:.200} is not an SQS queue URL: give the "
                                 "QueueUrl that A2ICreateEventQueueOperator or A2IEventsHook.create_status_change_queue"
                                 " returned for the watcher's own queue (https://sqs.<region>.amazonaws.com/<account>"
                                 "/<name>)")
    return queue_url


def status_change_watcher(queue_url: str, *, name: str = "a2i_status_changes", aws_conn_id: str | None = "aws_default",
                          region_name: str | None = None) -> Any:
    """
    An ``AssetWatcher`` of the SQS queue that A2I's status-change events reach, or None on Airflow 2.

    :param queue_url: the watcher's own queue (the trigger deletes every message it receives).
    :param name: the watcher's name, unique within its asset.
    :param aws_conn_id: the AWS connection the triggerer reads SQS with.
    :param region_name: the queue's Region (default: the connection's).
    """
    watcher_class = asset_watcher_class()
    if watcher_class is None:
        return None
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

    trigger = SqsSensorTrigger(sqs_queue=validate_watcher_queue_url(queue_url), aws_conn_id=aws_conn_id,
                               region_name=region_name, max_messages=RECEIVE_MAX_MESSAGES, num_batches=1,
                               wait_time_seconds=RECEIVE_WAIT_SECONDS, waiter_delay=WAITER_DELAY_SECONDS)
    return watcher_class(name=name, trigger=trigger)


def _event_extras(asset_events: object) -> Iterable[Any]:
    """The ``extra`` of each event: of a run's ``triggering_asset_events`` (a mapping of asset to events), of a list
    of events, or of a list of extras (dicts)."""
    groups: Iterable[Any] = asset_events.values() if isinstance(asset_events, Mapping) else [asset_events]
    for events in groups:
        for event in events or ():
            yield event if isinstance(event, Mapping) else getattr(event, "extra", None)


def finished_loop_names(asset_events: object) -> list[str]:
    """
    The loop names of the A2I status-change events in asset events, each once, in order.

    Reads what :func:`status_change_watcher` puts there (``extra["payload"]["message_batch"][i]["Body"]``, the
    EventBridge event); anything else (events of other producers, messages that are not A2I's status changes) is
    skipped. The names are hints: describe each loop before acting on it.
    """
    names: dict[str, None] = {}
    for extra in _event_extras(asset_events):
        payload = extra.get("payload") if isinstance(extra, Mapping) else None
        batch = payload.get("message_batch") if isinstance(payload, Mapping) else None
        for message in batch if isinstance(batch, list) else ():
            hint = status_hint(str(message.get("Body", ""))) if isinstance(message, Mapping) else None
            if hint is not None:
                names[hint.human_loop_name] = None
    return list(names)
