"""A batch's loops, found through its manifests, looked at one listing a poll: :class:`BatchLook`, no I/O.

A batch may hold thousands of loops: describing each on every poll would cost thousands of calls. A
look lists the flow definition's loops instead (``ListHumanLoops``, 100 a page) over the batch's
creation-time window, keeps the batch's own loops (the run hash in their names, then the names its
manifests record), and describes one by one only the loops the listing did not show (a deleted loop is
reported ``Missing``). A look of N open loops therefore costs about ``ceil(N / 100)`` calls.

The batch sensor drives :class:`BatchLook` with the sync hook, the batch trigger with aiobotocore.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.names import has_run_hash, run_hash_of
from airflow_a2i.waiting.policies import LoopState, counts
from airflow_a2i.waiting.states import FINAL_STATES

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

PAGE_SIZE = 100  # ListHumanLoops' maximum
# The listing starts this long before the earliest loop it looks for: creation times are the service's,
# with millisecond precision, and CreationTimeAfter is exclusive.
SKEW_SECONDS = 300.0


def started_loops(s3_hook: S3Hook, manifest_uris: Iterable[str]) -> dict[str, str]:
    """The loops the manifests record as started: loop name -> item key, and nothing else of the records.

    Manifests are read one at a time and only the names are kept. As in
    :func:`~airflow_a2i.manifest.read_manifests`, the last record of an item wins.
    """
    from airflow_a2i.manifest import read_manifest

    name_of_item: dict[str, str | None] = {}
    for uri in manifest_uris:
        for item_key, record in read_manifest(s3_hook, uri).items():
            name_of_item[item_key] = record.human_loop_name if record.human_loop_started else None
    return {name: item_key for item_key, name in name_of_item.items() if name}


def unfinished_manifests(s3_hook: S3Hook, manifest_uris: Iterable[str]) -> list[str]:
    """The manifests without their ``_COMPLETE`` marker: their batch may still be starting loops."""
    from airflow_a2i.manifest import completion

    return [uri for uri in manifest_uris if completion(s3_hook, uri) is None]


def common_run_hash(names: Iterable[str]) -> str | None:
    """The run hash every name shares (deterministic names of one task in one run), else None."""
    hashes = {run_hash_of(name) for name in names}
    return hashes.pop() if len(hashes) == 1 else None


class BatchLook:
    """
    A batch's loops as last seen, and what the next ``ListHumanLoops`` pages should ask for. No I/O.

    A look is :meth:`begin` (the listing's parameters), :meth:`take` for each listed summary until
    :attr:`all_seen`, :meth:`take_description` for each name of :meth:`unseen`, then :meth:`end`.

    A loop in a final state (Completed, Failed, Stopped, Missing) is not looked for again. The listing
    starts ``SKEW_SECONDS`` before the creation of the earliest loop still open — before
    ``earliest_creation_time`` while some loop was never seen — and stops as soon as it has shown every
    loop looked for. With no ``earliest_creation_time`` the first look lists newest first, without a
    lower bound, until it has seen every loop: it costs the pages of the loops created since the
    batch's earliest one, or the flow definition's whole history when a loop is missing.

    :param flow_definition_arn: the flow definition the batch's loops belong to.
    :param loops: loop name -> item key, as :func:`started_loops` returns.
    :param run_hash: the run hash of the names (see :mod:`airflow_a2i.names`); other names are ignored
        without a lookup. None: only the names in ``loops`` are kept.
    :param earliest_creation_time: epoch seconds at or before the creation of the batch's earliest loop.
    """

    def __init__(self, flow_definition_arn: str, loops: dict[str, str], *, run_hash: str | None = None,
                 earliest_creation_time: float | None = None) -> None:
        self.flow_definition_arn = flow_definition_arn
        self.loops = loops
        self.run_hash = run_hash
        self.earliest = earliest_creation_time
        self.states: dict[str, LoopState] = {}
        self.pages = 0
        self.describes = 0
        self._expected: set[str] = set()
        self._seen: set[str] = set()

    def open_names(self) -> list[str]:
        return [name for name in self.loops if name not in self.states or
                self.states[name].status not in FINAL_STATES]

    def confirms_by_listing(self, names: Collection[str]) -> bool:
        """Whether confirming ``names`` (loops events say ended) takes fewer calls as a look (a listing page shows
        100 open loops) than as one describe each."""
        return len(names) > math.ceil(len(self.open_names()) / PAGE_SIZE)

    def begin(self) -> dict[str, Any] | None:
        """Start a look: the keyword arguments of the ``list_human_loops`` paginator, or None when no
        loop is left to look at."""
        self._expected = set(self.open_names())
        self._seen = set()
        self.pages = self.describes = 0
        if not self._expected:
            return None
        params: dict[str, Any] = {"FlowDefinitionArn": self.flow_definition_arn,
                                  "PaginationConfig": {"PageSize": PAGE_SIZE}}
        start = self._window_start()
        if start is None:
            params["SortOrder"] = "Descending"
        else:
            params["SortOrder"] = "Ascending"
            params["CreationTimeAfter"] = datetime.fromtimestamp(start - SKEW_SECONDS, tz=UTC)
        return params

    def _window_start(self) -> float | None:
        times = []
        for name in self._expected:
            state = self.states.get(name)
            if state is None or state.creation_time is None:
                return self.earliest
            times.append(state.creation_time)
        return min(times)

    def take(self, summary: dict) -> None:
        """One loop summary of the listing: kept when it is one of the loops this look is after."""
        name = summary.get("HumanLoopName", "")
        if (self.run_hash is None or has_run_hash(name, self.run_hash)) and name in self._expected:
            self.states[name] = LoopState.from_description(name, summary)
            self._seen.add(name)

    @property
    def all_seen(self) -> bool:
        """Whether the listing has shown every loop this look is after: no need for more pages."""
        return len(self._seen) == len(self._expected)

    def unseen(self) -> list[str]:
        """The loops the listing did not show: to describe one by one."""
        return sorted(self._expected - self._seen)

    def take_description(self, name: str, described: dict | None) -> None:
        """A loop's description (None: it does not exist, or was deleted)."""
        if described is not None and described.get("FlowDefinitionArn", self.flow_definition_arn) != \
                self.flow_definition_arn:
            raise A2IValidationError(
                f"Human loop {name!r} belongs to flow definition {described['FlowDefinitionArn']}, not to "
                f"{self.flow_definition_arn}: give the batch's own flow_definition_arn"
            )
        self.states[name] = LoopState.from_description(name, described)

    def end(self) -> list[LoopState]:
        """Close the look: every loop's state, in the manifests' order."""
        times = [state.creation_time for state in self.states.values() if state.creation_time is not None]
        if times:
            self.earliest = min(times) if self.earliest is None else min(self.earliest, *times)
        return self.current()

    def current(self) -> list[LoopState]:
        """Every loop's state as last seen, in the manifests' order (after the first look, every loop has one)."""
        return [self.states[name] for name in self.loops if name in self.states]

    def progress(self, states: list[LoopState]) -> str:
        return (f"Batch of {len(states)} human loop(s): {counts(states)}; {len(self.open_names())} still open; "
                f"this look took {self.pages} ListHumanLoops page(s) and {self.describes} DescribeHumanLoop call(s)")


def report_lines(loops: dict[str, str], states: list[LoopState], timed_out: list[str]) -> str:
    """Each loop's final state as JSON Lines: name, item key, status, times, failure, timed out."""
    overdue = set(timed_out)
    return "".join(
        json.dumps({"human_loop_name": state.name, "item_key": loops.get(state.name), **state.to_json(),
                    "timed_out": state.name in overdue}, sort_keys=True) + "\n"
        for state in states
    )


def write_report(s3_hook: S3Hook, report_s3_uri: str, loops: dict[str, str], states: list[LoopState],
                 timed_out: list[str]) -> None:
    s3_hook.load_string(report_lines(loops, states, timed_out), key=report_s3_uri, replace=True)
