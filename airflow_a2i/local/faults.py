"""Injected faults: make an operation answer with one of its own errors, a number of times or at a rate."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from airflow_a2i.local.errors import ServiceError

# The HTTP status each error code has in the API that returns it.
ERROR_STATUS = {
    "ThrottlingException": 429,
    "ServiceQuotaExceededException": 402,
    "InternalServerException": 500,
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
}


@dataclass
class FaultRule:
    operation: str
    error: str
    count: int | None = None  # how many more requests fail; None = no limit
    rate: float = 1.0  # the share of requests that fail while the rule lasts

    def describe(self) -> dict:
        return {"operation": self.operation, "error": self.error, "count": self.count, "rate": self.rate}


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, rule: FaultRule) -> None:
        if rule.error not in ERROR_STATUS:
            raise ValueError(f"unknown error code '{rule.error}'; use one of {', '.join(sorted(ERROR_STATUS))}")
        if not 0 < rule.rate <= 1:
            raise ValueError(f"rate {rule.rate} is not in (0, 1]")
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def check(self, operation: str) -> None:
        """Raise the injected error for this request, if a rule says so."""
        with self._lock:
            for rule in self._rules:
                if rule.operation != operation or self._random.random() >= rule.rate:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                message = "Rate exceeded" if rule.error == "ThrottlingException" else "Injected fault"
                raise ServiceError(rule.error, message, ERROR_STATUS[rule.error])
