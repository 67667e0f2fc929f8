"""Starting many loops at once: a bounded pool of requests, a client-side rate limit, backoff, progress logs."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import error_code

PROGRESS_SECONDS = 10.0

T = TypeVar("T")
R = TypeVar("R")


class RateLimiter:
    """At most ``per_second`` calls a second across threads (a token bucket with a burst of one second)."""

    def __init__(self, per_second: float | None) -> None:
        self.per_second = per_second
        self._tokens = per_second or 0.0
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.per_second:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.per_second, self._tokens + (now - self._updated) * self.per_second)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.per_second
            time.sleep(wait)


def call_with_backoff(call: Callable[[], T], retryable: frozenset[str], *, attempts: int = 8,
                      base_delay: float = 0.5, max_delay: float = 20.0) -> T:
    """Call, retrying the API's retryable errors with exponential backoff and full jitter."""
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as error:
            if error_code(error) not in retryable or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, min(max_delay, base_delay * 2 ** attempt)))
    raise AssertionError("unreachable")


@dataclass
class Progress:
    """Counts of a long batch, logged at least every ``PROGRESS_SECONDS``."""

    total: int
    log: logging.Logger | Any
    what: str = "items"
    counts: dict[str, int] = field(default_factory=dict)
    _started: float = field(default_factory=time.monotonic)
    _logged: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def count(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            if time.monotonic() - self._logged >= PROGRESS_SECONDS:
                self._logged = time.monotonic()
                self.report()

    def report(self) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.log.info("%d of %d %s done (%s), %d left, %.1f/s", self.done, self.total, self.what,
                      ", ".join(f"{name} {count}" for name, count in sorted(self.counts.items())),
                      self.total - self.done, self.done / elapsed)


def run_bounded(work: Callable[[T], R], items: Iterable[T], max_concurrency: int) -> list[R]:
    """Run ``work`` over ``items`` with at most ``max_concurrency`` at a time; results in input order."""
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="a2i-batch") as pool:
        return list(pool.map(work, items))
