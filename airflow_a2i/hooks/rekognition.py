"""Hook for Amazon Rekognition."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class RekognitionHook(AwsBaseHook):
    """
    Interact with Amazon Rekognition.

    Thin wrapper around :external+boto3:py:class:`boto3.client("rekognition") <Rekognition.Client>`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "rekognition"
        super().__init__(*args, **kwargs)
