"""The wait-policy arguments of operators and sensors and their rules: what users pass, checked at DAG parse
time for literal values and once rendered for templates. The policies themselves (``policies.py``: the decision,
its dataclasses) are not needed to parse a DAG, so this module does not import them at its top."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.validation import is_sqs_queue_url, is_templated

if TYPE_CHECKING:
    from airflow_a2i.waiting.policies import WaitPolicy

ON_LOOP_FAILURE = ("fail", "skip", "continue")
ON_REVIEW_TIMEOUT = ("fail", "stop_and_fail", "stop_and_continue", "continue")
COMPLETIONS = ("poll", "events")
DEFAULT_RECONCILE_SECONDS = 300.0
INLINE_NAMES_LIMIT = 100  # a wait's report carries this many loops inline; more need report_s3_uri


def _seconds(name: str, value: object, rule: str) -> float:
    """``value`` (a number, or a rendered template such as ``"0.5"``) as seconds; an error naming ``rule``."""
    if isinstance(value, bool):
        raise A2IValidationError(f"{name}={value!r} must be {rule}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise A2IValidationError(f"{name}={value!r} is not a number of seconds") from None


def review_seconds(review_timeout: object) -> float | None:
    """A review timeout as seconds; None for no limit."""
    if review_timeout is None or review_timeout == "" or review_timeout == "None":
        return None
    rule = "a positive number of seconds, or None to wait as long as A2I keeps the loops"
    seconds = _seconds("review_timeout", review_timeout, rule)
    if not 0 < seconds < float("inf"):
        raise A2IValidationError(f"review_timeout={review_timeout!r} must be {rule}")
    return seconds


def poll_seconds(poll_interval: object) -> float:
    """A poll interval as seconds."""
    rule = "a number of seconds, 0 or more"
    seconds = _seconds("poll_interval", poll_interval, rule)
    if not 0 <= seconds < float("inf"):
        raise A2IValidationError(f"poll_interval={poll_interval!r} must be {rule}")
    return seconds


def validate_policies(on_loop_failure: str, on_review_timeout: str, review_timeout: object) -> None:
    if on_loop_failure not in ON_LOOP_FAILURE:
        raise A2IValidationError(f"on_loop_failure={on_loop_failure!r} is not one of {list(ON_LOOP_FAILURE)}: "
                                 "fail the task, skip it, or continue and report the failed loops")
    if on_review_timeout not in ON_REVIEW_TIMEOUT:
        raise A2IValidationError(f"on_review_timeout={on_review_timeout!r} is not one of "
                                 f"{list(ON_REVIEW_TIMEOUT)}")
    if not is_templated(review_timeout):  # templates are checked once rendered
        review_seconds(review_timeout)


def reconcile_seconds(reconcile_interval: object) -> float:
    """Seconds between two full looks of an event-driven wait."""
    rule = "a positive number of seconds"
    seconds = _seconds("reconcile_interval", reconcile_interval, rule)
    if not 0 < seconds < float("inf"):
        raise A2IValidationError(f"reconcile_interval={reconcile_interval!r} must be {rule}")
    return seconds


def validate_completion(completion: object, events_queue_url: object, reconcile_interval: object) -> None:
    """``completion="poll"``, or ``"events"`` with the SQS queue an EventBridge rule fills with A2I's events.
    Templated values are checked once rendered."""
    if completion not in COMPLETIONS:
        raise A2IValidationError(f"completion={completion!r} is not one of {list(COMPLETIONS)}: poll A2I, or take "
                                 "its status-change events from an SQS queue (events_queue_url)")
    if completion == "events" and not events_queue_url:
        raise A2IValidationError("completion='events' needs events_queue_url: the URL of the SQS queue an EventBridge "
                                 "rule fills with A2I's status-change events (A2ICreateEventQueueOperator sets one up)")
    if events_queue_url and not is_templated(events_queue_url) and not is_sqs_queue_url(events_queue_url):
        raise A2IValidationError(f"events_queue_url={events_queue_url!r:.200} is not an SQS queue URL: give "
                                 "https://sqs.<region>.amazonaws.com/<account id>/<queue name>, as CreateQueue returns")
    if not is_templated(reconcile_interval):
        reconcile_seconds(reconcile_interval)


class WaitPolicyArguments:
    """The wait-policy keyword arguments of an operator or sensor, kept as its own (templated) attributes until
    it runs; :meth:`wait_policy` is the one value it passes to the sync look and to its trigger."""

    on_loop_failure: str
    on_review_timeout: str
    review_timeout: float | str | None
    poll_interval: float | str | None
    stop_on_kill: bool
    completion: str
    events_queue_url: str | None
    reconcile_interval: float | str

    def init_wait_policy(self, *, on_loop_failure: str, on_review_timeout: str, review_timeout: float | str | None,
                         poll_interval: float | str | None, stop_on_kill: bool, completion: str = "poll",
                         events_queue_url: str | None = None,
                         reconcile_interval: float | str = DEFAULT_RECONCILE_SECONDS) -> None:
        validate_policies(on_loop_failure, on_review_timeout, review_timeout)
        validate_completion(completion, events_queue_url, reconcile_interval)
        if poll_interval is not None and not is_templated(poll_interval):  # templates are checked once rendered
            poll_seconds(poll_interval)
        self.on_loop_failure = on_loop_failure
        self.on_review_timeout = on_review_timeout
        self.review_timeout = review_timeout
        self.poll_interval = poll_interval
        self.stop_on_kill = stop_on_kill
        self.completion = completion
        self.events_queue_url = events_queue_url
        self.reconcile_interval = reconcile_interval

    def wait_poll_interval(self) -> float:
        """Seconds between two looks: ``poll_interval`` once rendered; a sensor given none uses its
        ``poke_interval``."""
        if self.poll_interval is None:
            return float(self.poke_interval)  # type: ignore[attr-defined]
        return poll_seconds(self.poll_interval)

    def wait_policy(self) -> WaitPolicy:
        """The policy of the rendered arguments."""
        from airflow_a2i.waiting.policies import WaitPolicy

        return WaitPolicy.of(on_loop_failure=self.on_loop_failure, on_review_timeout=self.on_review_timeout,
                             review_timeout=self.review_timeout, poll_interval=self.wait_poll_interval(),
                             stop_on_kill=self.stop_on_kill, completion=self.completion,
                             events_queue_url=self.events_queue_url, reconcile_interval=self.reconcile_interval)

