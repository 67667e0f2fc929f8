"""The one event a wait's trigger yields, typed: what the deferred task's ``execute_complete`` reads."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from airflow_a2i.waiting.policies import LoopState, Verdict, counts
from airflow_a2i.waiting.states import FAILED_STATES

EVENT_NAMES_LIMIT = 100  # names of a kind a batch event carries; the rest are in the report


class LoopsEvent(TypedDict):
    """The end of a wait on named loops (:class:`~airflow_a2i.triggers.human_loop.A2IHumanLoopTrigger`)."""

    status: Literal["success", "failed", "skipped"]
    message: str
    counts: dict[str, int]
    loops: dict[str, dict[str, Any]]  # name -> LoopState.to_json()
    timed_out: list[str]


class BatchReport(TypedDict):
    """What the batch sensor returns (its XCom): URIs and counts only, whatever the batch's size."""

    total: int
    counts: dict[str, int]
    timed_out_count: int
    report_s3_uri: str | None
    manifest_uris: list[str]


class BatchEvent(TypedDict):
    """The end of a wait on a batch (:class:`~airflow_a2i.triggers.batch.A2IHumanLoopBatchTrigger`)."""

    status: Literal["success", "failed", "skipped"]
    message: str
    counts: dict[str, int]
    failed: list[str]  # at most EVENT_NAMES_LIMIT
    timed_out: list[str]  # at most EVENT_NAMES_LIMIT
    report: BatchReport


class ErrorEvent(TypedDict):
    """A wait that could not go on (an AWS error other than throttling, unreadable manifests)."""

    status: Literal["error"]
    message: str


def error_event(message: str) -> ErrorEvent:
    return {"status": "error", "message": message}


def loops_event(verdict: Verdict, states: list[LoopState]) -> LoopsEvent:
    return {
        "status": verdict.outcome,  # type: ignore[typeddict-item]
        "message": verdict.message,
        "counts": counts(states),
        "loops": {state.name: state.to_json() for state in states},
        "timed_out": verdict.timed_out,
    }


def batch_event(verdict: Verdict, states: list[LoopState], *, report_s3_uri: str | None,
                manifest_uris: list[str]) -> BatchEvent:
    """A batch's event, small whatever its size: counts, and at most 100 names of a kind."""
    timed_out = set(verdict.timed_out)
    failed = [state.name for state in states if state.status in FAILED_STATES and state.name not in timed_out]
    status_counts = counts(states)
    return {
        "status": verdict.outcome,  # type: ignore[typeddict-item]
        "message": verdict.message,
        "counts": status_counts,
        "failed": failed[:EVENT_NAMES_LIMIT],
        "timed_out": verdict.timed_out[:EVENT_NAMES_LIMIT],
        "report": {
            "total": len(states),
            "counts": status_counts,
            "timed_out_count": len(verdict.timed_out),
            "report_s3_uri": report_s3_uri,
            "manifest_uris": list(manifest_uris),
        },
    }
