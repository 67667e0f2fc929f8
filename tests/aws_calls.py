"""Which AWS calls a DAG run made (recorded at botocore), and the IAM actions the README lists for each operator."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import botocore.client
from aiobotocore.client import AioBaseClient

ROOT = Path(__file__).resolve().parent.parent
S3_ACTIONS = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
              "ListObjectsV2": "s3:ListBucket", "GetBucketLocation": "s3:GetBucketLocation",
              "GetBucketCors": "s3:GetBucketCors"}


#: Services whose IAM namespace is their own name; the rest (SageMaker and the A2I runtime) are ``sagemaker:``.
OWN_NAMESPACE = ("s3", "textract", "rekognition")


class AwsCallRecorder:
    """The AWS calls the DAG run makes, sync and async, as (service, operation, endpoint).

    The calls still go out: this records, it does not stub. Calls from ``ignored`` threads (the test's own
    reviewer) are left out; S3 uploads run in s3transfer's threads, so threads are not filtered otherwise.
    """

    def __init__(self, ignored: threading.Thread) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.ignored = ignored

    def __enter__(self) -> AwsCallRecorder:
        recorder = self
        self._sync, self._async = botocore.client.BaseClient._make_api_call, AioBaseClient._make_api_call

        def record(client, operation_name: str) -> None:
            if threading.current_thread() is recorder.ignored:
                return
            if operation_name not in client.meta.service_model.operation_names:
                raise AssertionError(f"{operation_name} is not a public operation of {client.meta.service_model}")
            recorder.calls.append((client.meta.service_model.service_name, operation_name, client.meta.endpoint_url))

        def sync_call(client, operation_name, api_params):
            record(client, operation_name)
            return recorder._sync(client, operation_name, api_params)

        async def async_call(client, operation_name, api_params):
            record(client, operation_name)
            return await recorder._async(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = sync_call
        AioBaseClient._make_api_call = async_call
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._sync
        AioBaseClient._make_api_call = self._async

    def iam_actions(self) -> set[str]:
        actions = set()
        for service, operation, _ in self.calls:
            if service == "s3":
                actions.add(S3_ACTIONS[operation])
            else:
                actions.add(f"{service if service in OWN_NAMESPACE else 'sagemaker'}:{operation}")
        return actions


def readme_iam_actions(class_names: set[str]) -> set[str]:
    """The IAM actions the README lists for these classes."""
    table = (ROOT / "README.md").read_text().split("<!-- iam-table", 1)[1].split("-->", 1)[1].strip()
    table = table.split("\n\n", 1)[0]
    actions = set()
    for line in table.splitlines():
        match = re.match(r"\| `(\w+)` \| (.*) \|$", line)
        if match and match.group(1) in class_names:
            actions |= set(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", match.group(2)))
    return actions
