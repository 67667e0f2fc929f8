"""One vocabulary for every waiting operator, sensor and trigger: what ends a wait on human loops.

``on_loop_failure`` decides about loops that end Failed (Expired included) or Stopped, or that are
missing: ``fail`` the task, ``skip`` it (and its downstream) once the wait is over, or ``continue``
(succeed and report them). ``on_review_timeout`` decides about loops still open ``review_timeout``
seconds after their own creation: ``fail`` (leave them open), ``stop_and_fail``, ``stop_and_continue``
(stop them and stop waiting for them) or ``continue`` (leave them open and stop waiting for them).

Everything here is pure: the sensor (sync) and the trigger (async) share it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.waiting.arguments import (
    DEFAULT_RECONCILE_SECONDS,
    poll_seconds,
    reconcile_seconds,
    review_seconds,
    validate_completion,
    validate_policies,
)
from airflow_a2i.waiting.states import FAILED_STATES, MISSING, OPEN_STATES, STOPPED_STATES


@dataclass(frozen=True)
class WaitPolicy:
    """How a wait on human loops behaves: the one value operators, sensors and triggers pass along.

    Operators and sensors keep these as their own (templated) keyword arguments and build the policy when
    they run (:meth:`of`, after rendering); triggers serialize it as a dict (:meth:`to_dict`).

    :param on_loop_failure: ``fail`` | ``skip`` | ``continue`` for loops that end Failed, Stopped or missing.
    :param on_review_timeout: ``fail`` | ``stop_and_fail`` | ``stop_and_continue`` | ``continue``.
    :param review_timeout: seconds from each loop's creation after which it is overdue (None: no limit).
    :param poll_interval: seconds between two looks at the loops.
    :param stop_on_kill: stop the open loops when a user kills the waiting task.
    :param completion: ``poll``, or ``events``: take A2I's status-change events from ``events_queue_url``
        (see :mod:`airflow_a2i.waiting.completion`).
    :param events_queue_url: the SQS queue an EventBridge rule fills with A2I's status-change events.
    :param reconcile_interval: seconds between two full looks of an event-driven wait.
    """

    on_loop_failure: str = "fail"
    on_review_timeout: str = "fail"
    review_timeout: float | None = None
    poll_interval: float = 30.0
    stop_on_kill: bool = False
    completion: str = "poll"
    events_queue_url: str | None = None
    reconcile_interval: float = DEFAULT_RECONCILE_SECONDS

    def __post_init__(self) -> None:
        validate_policies(self.on_loop_failure, self.on_review_timeout, self.review_timeout)
        validate_completion(self.completion, self.events_queue_url, self.reconcile_interval)
        if not isinstance(self.poll_interval, int | float):  # a rendered template is converted by of()
            raise A2IValidationError(f"poll_interval={self.poll_interval!r} must be a number of seconds, 0 or more")
        poll_seconds(self.poll_interval)

    @classmethod
    def of(cls, *, on_loop_failure: str, on_review_timeout: str, review_timeout: object, poll_interval: object,
           stop_on_kill: bool = False, completion: str = "poll", events_queue_url: str | None = None,
           reconcile_interval: object = DEFAULT_RECONCILE_SECONDS) -> WaitPolicy:
        """The policy of an operator's rendered arguments (``review_timeout``, ``poll_interval`` and
        ``reconcile_interval`` may be rendered templates)."""
        return cls(on_loop_failure, on_review_timeout, review_seconds(review_timeout), poll_seconds(poll_interval),
                   bool(stop_on_kill), completion, events_queue_url or None, reconcile_seconds(reconcile_interval))

    @property
    def by_events(self) -> bool:
        return self.completion == "events" and bool(self.events_queue_url)

    @classmethod
    def from_dict(cls, value: WaitPolicy | Mapping[str, Any] | None) -> WaitPolicy:
        """A policy from what a trigger was serialized with (or the policy itself)."""
        if isinstance(value, WaitPolicy):
            return value
        return cls(**(value or {}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def decide(self, states: list[LoopState], now: float) -> Verdict:
        return decide(states, now, on_loop_failure=self.on_loop_failure, on_review_timeout=self.on_review_timeout,
                      review_timeout=self.review_timeout)


@dataclass(frozen=True, slots=True)
class LoopState:
    """What a wait needs of one loop; ``creation_time`` in epoch seconds."""

    name: str
    status: str
    creation_time: float | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    output_s3_uri: str | None = None
    arn: str | None = None

    @classmethod
    def from_description(cls, name: str, described: dict | None) -> LoopState:
        if described is None:
            return cls(name, MISSING)
        created = described.get("CreationTime")
        return cls(
            name=name,
            status=described["HumanLoopStatus"],
            creation_time=created.timestamp() if isinstance(created, datetime) else created,
            failure_code=described.get("FailureCode"),
            failure_reason=described.get("FailureReason"),
            output_s3_uri=(described.get("HumanLoopOutput") or {}).get("OutputS3Uri"),
            arn=described.get("HumanLoopArn"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "creation_time": self.creation_time, "failure_code": self.failure_code,
                "failure_reason": self.failure_reason, "output_s3_uri": self.output_s3_uri, "arn": self.arn}


@dataclass
class Verdict:
    """What a wait does after one look at its loops."""

    done: bool = False
    outcome: str = "waiting"  # waiting | success | failed | skipped
    message: str = ""
    stop: list[str] = field(default_factory=list)  # overdue loops to stop now
    timed_out: list[str] = field(default_factory=list)  # every loop whose review time is up


def decide(states: list[LoopState], now: float, *, on_loop_failure: str = "fail",
           on_review_timeout: str = "fail", review_timeout: float | None = None) -> Verdict:
    """Judge the loops as they are at ``now``.

    Nothing is remembered between looks: a loop whose review time is up is recognised again on every
    look by its creation time, and under ``stop_and_continue`` an overdue loop that is Stopping or
    Stopped counts as one this policy stopped, not as a failure.
    """
    overdue = [state for state in states if _is_overdue(state, now, review_timeout)]
    stopped_by_policy = on_review_timeout == "stop_and_continue"
    timed_out = sorted(state.name for state in overdue
                       if state.status in OPEN_STATES or (stopped_by_policy and state.status in STOPPED_STATES))
    open_overdue = sorted(state.name for state in overdue if state.status == "InProgress")
    failed = [state for state in states if state.status in FAILED_STATES and state.name not in timed_out]
    if failed and on_loop_failure == "fail":
        return Verdict(True, "failed", failure_message(failed), timed_out=timed_out)
    if open_overdue and on_review_timeout in ("fail", "stop_and_fail"):
        stop = open_overdue if on_review_timeout == "stop_and_fail" else []
        return Verdict(True, "failed", timeout_message(timed_out, review_timeout, stopped=bool(stop)), stop,
                       timed_out)
    stop = open_overdue if stopped_by_policy else []
    waiting = [state for state in states if state.status in OPEN_STATES and state.name not in timed_out]
    if waiting:
        return Verdict(False, "waiting", "", stop, timed_out)
    if failed and on_loop_failure == "skip":
        return Verdict(True, "skipped", failure_message(failed), stop, timed_out)
    return Verdict(True, "success", summary_message(states, timed_out), stop, timed_out)


def _is_overdue(state: LoopState, now: float, review_timeout: float | None) -> bool:
    return review_timeout is not None and state.creation_time is not None and now - state.creation_time >= \
        review_timeout


def counts(states: list[LoopState]) -> dict[str, int]:
    return dict(sorted(Counter(state.status for state in states).items()))


def failure_message(failed: list[LoopState]) -> str:
    shown = "; ".join(
        f"{state.name} {state.status}" + (f" ({state.failure_code}: {state.failure_reason})"
                                          if state.failure_code or state.failure_reason else "")
        for state in failed[:10]
    )
    more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
    return f"{len(failed)} human loop(s) did not complete: {shown}{more}"


def timeout_message(overdue: list[str], review_timeout: float | None, *, stopped: bool) -> str:
    names = ", ".join(overdue[:10]) + (f" and {len(overdue) - 10} more" if len(overdue) > 10 else "")
    action = "stopped" if stopped else "left open"
    return (f"{len(overdue)} human loop(s) were not reviewed within review_timeout={review_timeout}s of their "
            f"creation ({action}): {names}")


def summary_message(states: list[LoopState], timed_out: list[str]) -> str:
    text = f"{len(states)} human loop(s) done: {counts(states)}"
    return text + (f"; {len(timed_out)} gave up on after review_timeout" if timed_out else "")
