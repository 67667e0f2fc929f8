"""Loops on a local service, as the tests start and answer them: the one definition of each helper."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from airflow_a2i.local.admin_client import AdminClient
from tests.conftest import unique


def start_loop(flow_arn: str, content: Any = None, *, client: Any = None, prefix: str = "loop", **extra: Any) -> str:
    """Start a loop of a custom task type with ``content`` as its input (default ``{}``); returns its name.

    :param client: an ``sagemaker-a2i-runtime`` client (default: one for ``AWS_ENDPOINT_URL``, the session's
        service); give one for a service a test started itself.
    """
    name = unique(prefix)
    (client or boto3.client("sagemaker-a2i-runtime")).start_human_loop(
        HumanLoopName=name, FlowDefinitionArn=flow_arn,
        HumanLoopInput={"InputContent": json.dumps({} if content is None else content)}, **extra)
    return name


def set_policy(endpoint: str, flow_arn: str, **policy: Any) -> dict:
    """The simulated workforce's policy for one flow definition (``PUT /_a2i/workforce/policies``)."""
    return AdminClient(endpoint).request("PUT", "workforce/policies", {"flowDefinitionArn": flow_arn,
                                                                       "policy": policy})


@contextmanager
def reviewing(review: Callable[[threading.Event], None]) -> Iterator[threading.Thread]:
    """``review(stop)`` in a thread while the block runs (people answering loops as they appear); then ``stop``
    is set and the thread joined. The thread is yielded, so that call recorders can leave out its calls."""
    stop = threading.Event()
    reviewer = threading.Thread(target=review, args=(stop,), daemon=True)
    reviewer.start()
    try:
        yield reviewer
    finally:
        stop.set()
        reviewer.join(timeout=60)
