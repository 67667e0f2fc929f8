"""The synchronous side of waiting on loops (blocking operators, poke and reschedule sensors)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_a2i.aws_errors import is_throttling
from airflow_a2i.waiting.policies import LoopState, Verdict, WaitPolicy, counts

if TYPE_CHECKING:
    from airflow_a2i.hooks.a2i import A2IHook

INLINE_NAMES_LIMIT = 100
MAX_BACKOFF_SECONDS = 60.0
T = TypeVar("T")


class Backoff:
    """Seconds to wait after each throttled look: 1, 2, 4 ... up to 60; back to 1 after a look that went through."""

    def __init__(self, first: float = 1.0, most: float = MAX_BACKOFF_SECONDS) -> None:
        self.first, self.most = first, most
        self.delay = first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first


def raise_for_outcome(outcome: str, message: str) -> None:
    """Turn a wait's outcome into the task's state: a human loop's failure is not cured by a retry."""
    from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, AirflowSkipException

    if outcome == "failed":
        raise AirflowFailException(message)
    if outcome == "skipped":
        raise AirflowSkipException(message)
    if outcome == "error":
        raise AirflowException(message)


def look(hook: A2IHook, names: list[str]) -> list[LoopState]:
    return [LoopState.from_description(name, hook.describe_human_loop(name)) for name in names]


def judge(hook: A2IHook, names: list[str], policy: WaitPolicy) -> tuple[Verdict, list[LoopState]]:
    """One look at the loops, the policy's verdict, and the stops the verdict asks for."""
    states = look(hook, names)
    verdict = policy.decide(states, time.time())
    for name in verdict.stop:
        hook.stop_human_loop(name)
    return verdict, states


def unless_throttled(judge_once: Callable[[], T], log: Any, backoff: Backoff | None = None) -> T | None:
    """``judge_once()``; None when A2I throttled it (logged, and with ``backoff`` slept off), so the caller looks
    again later, as the triggers do. Any other error propagates."""
    from botocore.exceptions import ClientError

    try:
        result = judge_once()
    except ClientError as error:
        if not is_throttling(error):
            raise
        delay = backoff.next() if backoff is not None else None
        log.warning("Throttled while looking at the human loops (%s); looking again %s", error,
                    f"in {delay:.0f} s" if delay is not None else "at the next poke")
        if delay is not None:
            time.sleep(delay)
        return None
    if backoff is not None:
        backoff.reset()
    return result


def names_by_status(loops: dict[str, dict]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, state in loops.items():
        grouped.setdefault(state["status"], []).append(name)
    return {status: sorted(names) for status, names in sorted(grouped.items())}


def wait_report(loops: dict[str, dict], timed_out: list[str], report_s3_uri: str | None,
                write_report: Any = None) -> dict[str, Any]:
    """Counts per status, and the names per status inline up to 100 loops, else in a JSON object in S3."""
    report: dict[str, Any] = {"counts": dict(sorted(counts_of(loops).items())), "timed_out_count": len(timed_out)}
    detail = {"names_by_status": names_by_status(loops), "timed_out": sorted(timed_out)}
    if len(loops) <= INLINE_NAMES_LIMIT:
        return {**report, **detail}
    if report_s3_uri is None or write_report is None:
        raise ValueError("more than 100 loops need report_s3_uri to write their names to")
    write_report(report_s3_uri, json.dumps({**detail, "loops": loops}, indent=1))
    return {**report, "report_s3_uri": report_s3_uri}


def counts_of(loops: dict[str, dict]) -> dict[str, int]:
    return counts([LoopState(name, state["status"]) for name, state in loops.items()])
