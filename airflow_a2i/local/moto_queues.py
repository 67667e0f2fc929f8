"""moto's SQS queues and EventBridge delivery, made safe and fast for many status-change events.

The local service routes every finished loop's event through moto's EventBridge to SQS. moto's standard queue is
written for a handful of messages; under thousands it goes wrong in two ways, both fixed here:

- **Every call costs the whole queue.** ReceiveMessage checks each message it returns against the retention period
  through GetQueueAttributes, which counts the queue three times per attribute it reads (a clock read per message
  for each): with a backlog of 10,000 events a wait took less than one a second, and its reconcile found loops done
  whose events were still queued (a fifth of them in the 10,000-loop scale run). SendMessage counts the queue three
  times too, ReceiveMessage lists every visible message before taking ten, Delete and ChangeMessageVisibility look
  for their receipt handle message by message, and EventBridge builds a JSONPath parser (yacc tables included) for
  eight paths of every event it routes.
- **A message can be lost.** ``Queue.delete_message`` rebuilds the message list without the queue's lock: a message
  another thread appends between the rebuild and its assignment (an event published while a wait deletes the ones
  it took) is dropped without a trace.

What changes, for standard queues (FIFO queues keep moto's own code): receipt handles are indexed as moto makes
them; deletion happens under the queue's lock and finds its message through that index; ReceiveMessage walks the
queue lazily with one clock read, stopping once it has its messages, and reads the retention period directly;
SendMessage skips counts it does not read; the counts GetQueueAttributes reports take one clock read a count;
JSONPath expressions are parsed once. What a client sees is unchanged: the same messages, bodies, attributes,
visibility and errors. :func:`install` applies it once per process (the service's, never the tests' or Airflow's).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Iterator
from typing import Any

_installed = False
_install_lock = threading.Lock()
# Every receipt handle moto gave a message that is still alive -> the message (handles of deleted, collected
# messages vanish with them).
_RECEIPTS: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_sending = threading.local()  # set while this thread's SendMessage runs: its queue's counts are not read


class VisibleMessages:
    """A queue's visible, undelayed messages in order, found as they are asked for (moto lists them all).

    :param queue: a moto ``Queue``.
    """

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __iter__(self) -> Iterator[Any]:
        from moto.core.utils import unix_time_millis

        now = unix_time_millis()  # one clock read a walk, not two a message
        # Iterating the live list is safe in CPython while other threads append; a message removed meanwhile may be
        # skipped by this walk and is found by the next.
        for message in self._queue._messages:
            if now > message.visible_at and not now < message.delayed_until:
                yield message

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None

    def __len__(self) -> int:
        return sum(1 for _ in self)


def install() -> None:
    """Patch moto's SQS and EventBridge models in this process (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _patch_sqs()
        _patch_event_templates()
        _installed = True


def _patch_sqs() -> None:
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs import models
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

    # Any: their methods are replaced below, which the models' own types do not allow
    queue_class: Any = models.Queue
    message_class: Any = models.Message
    backend_class: Any = models.SQSBackend
    original_messages = queue_class.messages
    original_attributes = queue_class.attributes
    original_delete = queue_class.delete_message
    original_mark_received = message_class.mark_received
    original_send = backend_class.send_message
    original_change_visibility = backend_class.change_message_visibility

    def messages(self: Any) -> Any:
        return original_messages.fget(self) if self.fifo_queue else VisibleMessages(self)

    def attributes(self: Any) -> dict[str, Any]:
        # A standard queue's SendMessage reads only ContentBasedDeduplication, which such a queue never has.
        if not self.fifo_queue and getattr(_sending, "queue", None) is self:
            return {}
        return original_attributes.fget(self)

    def mark_received(self: Any, visibility_timeout: int | None = None) -> None:
        original_mark_received(self, visibility_timeout)
        _RECEIPTS[self.receipt_handle] = self

    def delete_message(self: Any, receipt_handle: str) -> None:
        if self.fifo_queue:
            with self._messages_lock:
                return original_delete(self, receipt_handle)
        if receipt_handle in self.deleted_messages:  # deleted already: as moto, no error
            return None
        message = _RECEIPTS.get(receipt_handle)
        with self._messages_lock:  # add_message appends under this lock: no append is lost
            if message is None or message not in self._messages:  # Message has no __eq__: identity, in C
                raise ReceiptHandleIsInvalid()
            self._messages.remove(message)
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
        return None

    def send_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        _sending.queue = self.get_queue(queue_name)
        try:
            return original_send(self, queue_name, *args, **kwargs)
        finally:
            _sending.queue = None

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        message = _RECEIPTS.get(receipt_handle)
        if queue.fifo_queue or message is None or message not in queue._messages:
            return original_change_visibility(self, queue_name, receipt_handle, visibility_timeout)
        # moto's own steps, for the message the index found
        if unix_time_millis() + int(visibility_timeout) * 1000 - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]")
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)
        return None

    def approximate_delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for message in list(self._messages) if now < message.delayed_until)

    def approximate_not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for message in list(self._messages) if not now > message.visible_at)

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        # moto reads the period through GetQueueAttributes, counting the whole queue three times a message
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    queue_class.messages = property(messages)
    queue_class.approximate_number_of_messages_delayed = property(approximate_delayed)
    queue_class.approximate_number_of_messages_not_visible = property(approximate_not_visible)
    backend_class.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    queue_class.attributes = property(attributes)
    queue_class.delete_message = delete_message
    message_class.mark_received = mark_received
    backend_class.send_message = send_message
    backend_class.change_message_visibility = change_message_visibility


def _patch_event_templates() -> None:
    """moto builds a JSONPath parser (yacc tables included) for each of eight paths of every event it routes."""
    import jsonpath_ng.ext

    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)
