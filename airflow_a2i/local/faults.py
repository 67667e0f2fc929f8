"""Fault injection: request-rate quotas, modelled errors, added latency and lost responses, per operation.

Everything is set through one JSON shape, at start (``airflow-a2i local serve --faults FILE``) or at run
time through the admin API under ``/_a2i/faults``::

    {"rules": [{"operation": "StartHumanLoop", "error": "ThrottlingException", "rate": 0.2, "count": 5},
               {"operation": "DescribeHumanLoop", "latencySeconds": 0.5},
               {"operation": "StartHumanLoop", "lostResponse": true, "count": 1}],
     "quotas": {"StartHumanLoop": 50},
     "seed": 7}

The server calls ``before(operation)`` before it does a request's work and ``lose_response(operation)``
after it. An error rule may only name an error code its operation can return according to the botocore
service model, answered with that model's HTTP status, so clients meet exactly what AWS could send them.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

from airflow_a2i.local.errors import ServiceError
from airflow_a2i.local.sagemaker import OPERATIONS as SAGEMAKER_OPERATIONS
from airflow_a2i.local.strict_json import finite_float, shown

# The operations fault rules can name, by the botocore service that defines them. Textract and
# Rekognition are listed before the service serves them, so a faults file can already name them.
API_OPERATIONS: dict[str, tuple[str, ...]] = {
    "sagemaker-a2i-runtime": ("StartHumanLoop", "DescribeHumanLoop", "ListHumanLoops", "StopHumanLoop",
                              "DeleteHumanLoop"),
    "sagemaker": tuple(sorted(SAGEMAKER_OPERATIONS)),
    "textract": ("AnalyzeDocument",),
    "rekognition": ("DetectModerationLabels",),
}

# SageMaker's model lists only resource errors (none at all for the List operations), yet every call
# of that JSON API can also answer with AWS's common errors (SageMaker API Reference, "Common Errors");
# ValidationException is what SageMaker, and this service, answer for invalid parameters.
COMMON_ERRORS: dict[str, dict[str, int]] = {
    "sagemaker": {"ValidationException": 400, "ThrottlingException": 400, "InternalFailure": 500,
                  "ServiceUnavailable": 503},
}

# The error a client gets when the service did the work but the response never arrived.
INTERNAL_ERROR = {
    "sagemaker-a2i-runtime": "InternalServerException",
    "sagemaker": "InternalFailure",
    "textract": "InternalServerError",
    "rekognition": "InternalServerError",
}

THROTTLING = "ThrottlingException"
MAX_LATENCY_SECONDS = 300.0  # longer would only meet the client's own read timeout (60 s in botocore)
RULE_KEYS = ("operation", "error", "rate", "count", "latencySeconds", "lostResponse")
SPEC_KEYS = ("rules", "quotas", "seed")


@functools.cache
def error_table() -> dict[str, dict[str, int]]:
    """operation -> {error code: HTTP status} as the botocore models define them."""
    session = botocore.session.get_session()
    table: dict[str, dict[str, int]] = {}
    for service, operations in API_OPERATIONS.items():
        data = session.get_service_data(service)  # raw JSON: keeps the shapes' "fault" flag
        for operation in operations:
            errors = {error["shape"]: error_status(data["shapes"][error["shape"]], error["shape"])
                      for error in data["operations"][operation].get("errors", [])}
            table[operation] = {**COMMON_ERRORS.get(service, {}), **errors}
    return table


def error_status(shape: dict, code: str) -> int:
    """The HTTP status of an error shape: the model's own when given, else 500 for server faults, else 400."""
    status = shape.get("error", {}).get("httpStatusCode")
    if status is not None:
        return int(status)
    if shape.get("fault") or code.startswith("InternalServer"):
        return 500
    return 400


def service_of(operation: str) -> str:
    for service, operations in API_OPERATIONS.items():
        if operation in operations:
            return service
    raise ValueError(f"unknown operation '{operation}'; fault injection knows {', '.join(known_operations())}")


def known_operations() -> list[str]:
    return [operation for operations in API_OPERATIONS.values() for operation in operations]


def allowed_errors(operation: str) -> dict[str, int]:
    service_of(operation)  # a clear message for an unknown operation
    return error_table()[operation]


def service_error(operation: str, code: str, message: str) -> ServiceError:
    return ServiceError(code, message, allowed_errors(operation).get(code, 500))


def throttled(operation: str, message: str) -> ServiceError:
    # Every API concerned defines ThrottlingException (SageMaker among its common errors).
    return service_error(operation, THROTTLING, message)


def lost_response(operation: str) -> ServiceError:
    """What the client gets instead of the response of a request that was carried out."""
    code = INTERNAL_ERROR[service_of(operation)]
    return service_error(operation, code, f"Injected lost response: {operation} was carried out, but its "
                                          "response was lost; retry it (rule of /_a2i/faults)")


# Rules ----------------------------------------------------------------------------------------------

@dataclass
class FaultRule:
    """Affects ``rate`` of the requests to ``operation``, ``count`` of them at most (None: no limit)."""

    operation: str
    error: str | None = None
    rate: float = 1.0
    count: int | None = None
    latency: float = 0.0  # seconds; before the error or the work, after the work for a lost response
    lost_response: bool = False

    @classmethod
    def parse(cls, body: Any) -> FaultRule:
        if not isinstance(body, dict):
            raise ValueError(f"a fault rule must be a JSON object with the keys {', '.join(RULE_KEYS)}")
        unknown = sorted(set(body) - set(RULE_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} in fault rule; use {', '.join(RULE_KEYS)}")
        if not isinstance(body.get("operation"), str):
            raise ValueError(f"a fault rule needs 'operation', one of {', '.join(known_operations())}")
        if body.get("error") is not None and not isinstance(body["error"], str):
            raise ValueError(f"'error' must be an error code such as \"{THROTTLING}\" (or null), "
                             f"not {shown(body['error'])}")
        rule = cls(operation=body["operation"], error=body.get("error"),
                   rate=_number(body.get("rate", 1.0), "rate"),
                   count=_count(body.get("count")),
                   latency=_number(body.get("latencySeconds", 0.0), "latencySeconds"),
                   lost_response=_flag(body.get("lostResponse", False)))
        rule.check()
        return rule

    def check(self) -> None:
        allowed = allowed_errors(self.operation)
        if self.error is not None and self.error not in allowed:
            raise ValueError(f"{self.operation} cannot return '{self.error}'; according to its service model "
                             f"it can return {', '.join(sorted(allowed))}")
        if not 0 < self.rate <= 1:
            raise ValueError(f"rate {self.rate} is not a share of requests: give a number in (0, 1]")
        if not 0 <= self.latency <= MAX_LATENCY_SECONDS:
            raise ValueError(f"latencySeconds {self.latency} must be between 0 and {MAX_LATENCY_SECONDS:g}")
        if self.error is not None and self.lost_response:
            raise ValueError("a rule cannot have both 'error' (the request is refused) and 'lostResponse' "
                             "(the request is carried out): add two rules instead")
        if self.error is None and not self.lost_response and self.latency == 0:
            raise ValueError("a fault rule does nothing: give 'error', 'latencySeconds' or 'lostResponse': true")

    def describe(self) -> dict:
        return {"operation": self.operation, "error": self.error, "rate": self.rate, "count": self.count,
                "latencySeconds": self.latency, "lostResponse": self.lost_response}


def _number(value: Any, key: str) -> float:
    number = finite_float(value)
    if number is None:
        raise ValueError(f"'{key}' must be a finite number, not {shown(value)}")
    return number


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"'count' must be a whole number of requests >= 1 (or null: no limit), "
                         f"not {json.dumps(value)}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"'lostResponse' must be true or false, not {json.dumps(value)}")
    return value


# Quotas ---------------------------------------------------------------------------------------------

@dataclass
class TokenBucket:
    """``rate`` requests per second, with bursts of ``rate`` requests (at least 1); starts full."""

    rate: float
    updated: float  # the clock's time of the last refill
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate)

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def parse_quotas(body: Any) -> dict[str, float | None]:
    if not isinstance(body, dict):
        raise ValueError('quotas must be a JSON object of operation -> requests per second, such as '
                         '{"StartHumanLoop": 50}; null removes a quota')
    quotas: dict[str, float | None] = {}
    for operation, value in body.items():
        service_of(operation)
        if value is None:
            quotas[operation] = None
            continue
        rate = _number(value, f"quotas.{operation}")
        if rate <= 0:
            raise ValueError(f"the quota of {operation} must be > 0 requests per second, not {value:g}; "
                             "to refuse every request, add a rule with an error instead")
        quotas[operation] = rate
    return quotas


# The whole -------------------------------------------------------------------------------------------

class Faults:
    """The fault rules and quotas of one service; thread-safe, deterministic under a seed."""

    def __init__(self, seed: int = 0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._rules: list[FaultRule] = []
        self._quotas: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._clock = clock
        self._sleep = sleep

    # Settings --------------------------------------------------------------------------------------

    def load(self, spec: Any) -> None:
        """Replace everything with a faults JSON document ({"rules", "quotas", "seed"}), all or nothing."""
        if not isinstance(spec, dict):
            raise ValueError('faults must be a JSON object such as {"rules": [...], "quotas": {...}}')
        unknown = sorted(set(spec) - set(SPEC_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} in faults; use {', '.join(SPEC_KEYS)}")
        rules_body = spec.get("rules", [])
        if not isinstance(rules_body, list):
            raise ValueError("'rules' must be a JSON list of fault rules")
        rules = []
        for index, body in enumerate(rules_body):
            try:
                rules.append(FaultRule.parse(body))
            except ValueError as error:
                raise ValueError(f"rules[{index}]: {error}") from None
        now = self._clock()
        quotas = {op: TokenBucket(rate, now) for op, rate in parse_quotas(spec.get("quotas", {})).items()
                  if rate is not None}
        seed = spec.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"'seed' must be a whole number, not {json.dumps(seed)}")
        with self._lock:
            self._rules, self._quotas = rules, quotas
            if seed is not None:
                self._random.seed(seed)

    def add(self, rule: FaultRule) -> None:
        rule.check()
        with self._lock:
            self._rules.append(rule)

    def set_quotas(self, quotas: dict[str, float | None]) -> None:
        with self._lock:
            for operation, rate in quotas.items():
                if rate is None:
                    self._quotas.pop(operation, None)
                else:
                    self._quotas[operation] = TokenBucket(rate, self._clock())

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._quotas.clear()

    def state(self) -> dict:
        with self._lock:
            return {"rules": [rule.describe() for rule in self._rules],
                    "quotas": {operation: bucket.rate for operation, bucket in self._quotas.items()}}

    # Requests ----------------------------------------------------------------------------------------

    def before(self, operation: str) -> None:
        """Before the work: throttle over the quota, wait for added latency, raise an injected error."""
        with self._lock:
            bucket = self._quotas.get(operation)
            over_quota = bucket is not None and not bucket.take(self._clock())
            hits = [] if over_quota else self._hits(operation, lost_response=False)
        if over_quota:
            assert bucket is not None
            raise throttled(operation, f"Rate exceeded: the local service's quota allows {bucket.rate:g} "
                                       f"{operation} requests per second (set in /_a2i/faults/quotas)")
        delay = sum(rule.latency for rule in hits)
        if delay:
            self._sleep(delay)
        error = next((rule.error for rule in hits if rule.error is not None), None)
        if error is not None:
            message = "Rate exceeded" if error == THROTTLING else f"Injected fault: {error}"
            raise service_error(operation, error, f"{message} (rule of /_a2i/faults on {operation})")

    def lose_response(self, operation: str) -> bool:
        """After the work: whether to drop the response (the caller then answers with ``lost_response``)."""
        with self._lock:
            hits = self._hits(operation, lost_response=True)
        if not hits:
            return False
        if hits[0].latency:
            self._sleep(hits[0].latency)  # the client waited before its connection failed
        return True

    def _hits(self, operation: str, *, lost_response: bool) -> list[FaultRule]:
        """The rules that affect this request, in the order added, up to the first that ends it."""
        hits = []
        for rule in list(self._rules):
            if rule.operation != operation or rule.lost_response != lost_response:
                continue
            if rule.rate < 1 and self._random.random() >= rule.rate:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self._rules.remove(rule)
            hits.append(rule)
            if rule.error is not None or rule.lost_response:
                break
        return hits

    # Admin API (/_a2i/faults) ----------------------------------------------------------------------

    def admin(self, method: str, path: list[str], body: Any) -> dict:
        """Answer an admin request below /_a2i/faults; ValueError for a bad body, ServiceError 404 otherwise."""
        if path == [] and method == "POST":
            self.add(FaultRule.parse(body))
        elif path == [] and method == "DELETE":
            self.clear()
        elif path == ["quotas"] and method == "PUT":
            self.set_quotas(parse_quotas(body))
        elif method != "GET" or path not in ([], ["quotas"]):
            raise ServiceError("NotFound", f"{method} /_a2i/faults/{'/'.join(path)} is not part of the admin "
                                           "API; use GET, POST or DELETE /_a2i/faults, PUT /_a2i/faults/quotas",
                               404)
        return self.state()


def read_faults_file(path: Path) -> dict:
    """The faults JSON of ``--faults FILE``, checked in full; ValueError says what to change."""
    try:
        spec = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"--faults: cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise ValueError(f"--faults: {path} is not valid JSON: {error}") from None
    try:
        Faults().load(spec)
    except ValueError as error:
        raise ValueError(f"--faults: {path}: {error}") from None
    return spec
