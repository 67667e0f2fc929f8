"""A small client of the local service's admin API (``/_a2i/``), found through ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote


class AdminError(RuntimeError):
    """The admin API refused a request; the message says why."""


def resolve_endpoint(endpoint: str | None = None) -> str:
    found = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if not found:
        raise AdminError("No local service endpoint: pass --endpoint URL or set AWS_ENDPOINT_URL "
                         "(the address 'airflow-a2i local serve' printed, such as http://127.0.0.1:4566)")
    return found.rstrip("/")


ADMIN_TOKEN_VARIABLE = "AIRFLOW_A2I_ADMIN_TOKEN"
# Every admin request carries it: a browser cannot add a header to a cross-site request without a CORS preflight,
# which the service never grants, so on loopback (no token) a web page still cannot drive the admin API.
ADMIN_HEADER = "X-Airflow-A2I-Admin"


class AdminClient:
    """``token``: the admin token a service listening beyond loopback requires (default $AIRFLOW_A2I_ADMIN_TOKEN)."""

    def __init__(self, endpoint: str | None = None, timeout: float = 30.0, token: str | None = None) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self.timeout = timeout
        self.token = token or os.environ.get(ADMIN_TOKEN_VARIABLE)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", ADMIN_HEADER: "1"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.endpoint}/_a2i/{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise AdminError(f"{method} /_a2i/{path} failed ({error.code}): {detail}") from None
        except urllib.error.URLError as error:
            raise AdminError(f"Cannot reach the local service at {self.endpoint}: {error.reason}; "
                             "is 'airflow-a2i local serve' running there?") from None

    def answer(self, loop_name: str, answer: dict, *, worker_id: str | None = None, region: str | None = None,
               time_spent: float = 0.0) -> dict:
        body: dict[str, Any] = {"answer": answer, "timeSpentInSeconds": time_spent}
        if worker_id:
            body["workerId"] = worker_id
        if region:
            body["region"] = region
        return self.request("POST", f"human-loops/{quote(loop_name, safe='')}/answers", body)

    def add_worker(self, name: str, team: str) -> dict:
        """A portal worker: {"name", "team", "workerId", "credential"}; the credential is shown this once."""
        return self.request("POST", "workers", {"name": name, "team": team})

    def faults(self) -> dict:
        """{"rules": [...], "quotas": {...}}: the faults in force."""
        return self.request("GET", "faults")

    def add_fault(self, operation: str, error: str | None = None, *, count: int | None = None, rate: float = 1.0,
                  latency_seconds: float | None = None, lost_response: bool = False) -> dict:
        """Add a rule: an error the operation's model defines, added latency, and/or a lost response."""
        rule: dict[str, Any] = {"operation": operation, "count": count, "rate": rate}
        if error is not None:
            rule["error"] = error
        if latency_seconds is not None:
            rule["latencySeconds"] = latency_seconds
        if lost_response:
            rule["lostResponse"] = True
        return self.request("POST", "faults", rule)

    def set_quotas(self, quotas: dict[str, float | None]) -> dict:
        """Requests per second per operation, such as {"StartHumanLoop": 50}; None removes a quota."""
        return self.request("PUT", "faults/quotas", quotas)

    def clear_faults(self) -> dict:
        """Remove every rule and quota."""
        return self.request("DELETE", "faults")

    def configure(self, **settings: Any) -> dict:
        return self.request("PUT", "config", settings)
