"""The synchronous side of waiting on loops (blocking operators, poke and reschedule sensors)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from airflow_a2i.policies import LoopState, Verdict, counts, decide

if TYPE_CHECKING:
    from airflow_a2i.hooks.a2i import A2IHook

INLINE_NAMES_LIMIT = 100


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


def judge(hook: A2IHook, names: list[str], *, on_loop_failure: str, on_review_timeout: str,
          review_timeout: float | None) -> tuple[Verdict, list[LoopState]]:
    """One look at the loops, the policies' verdict, and the stops the verdict asks for."""
    states = look(hook, names)
    verdict = decide(states, time.time(), on_loop_failure=on_loop_failure, on_review_timeout=on_review_timeout,
                     review_timeout=review_timeout)
    for name in verdict.stop:
        hook.stop_human_loop(name)
    return verdict, states


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
