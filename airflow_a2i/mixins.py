"""What this package's operators and sensors share beyond the Amazon provider's AWS base."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook


class S3HookMixin:
    """``s3_hook``: the task's one ``S3Hook``, on the same connection, Region, SSL and botocore settings as its
    main hook. Built on first use (DAG parsing never pays for S3Hook)."""

    if TYPE_CHECKING:
        _hook_parameters: dict[str, Any]

    @cached_property
    def s3_hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(**self._hook_parameters)


def aws_kwargs_of(task: Any) -> dict[str, Any]:
    """The AWS keyword arguments of a trigger or SQS client from the operator or sensor that makes it."""
    return {"aws_conn_id": task.aws_conn_id, "region_name": task.region_name, "verify": task.verify,
            "botocore_config": task.botocore_config}
