"""Hook for Amazon Textract."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class TextractHook(AwsBaseHook):
    """
    Interact with Amazon Textract.

    Thin wrapper around :external+boto3:py:class:`boto3.client("textract") <Textract.Client>`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "textract"
        super().__init__(*args, **kwargs)
