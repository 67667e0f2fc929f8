"""Rekognition ``DetectModerationLabels`` with an optional A2I human loop (``HumanLoopConfig``)."""

from __future__ import annotations

from typing import Any

from airflow_a2i.hooks.rekognition import RekognitionHook
from airflow_a2i.operators.built_in import BuiltInAnalysisOperator
from airflow_a2i.request_sources import REKOGNITION_SOURCE


class RekognitionDetectModerationLabelsOperator(BuiltInAnalysisOperator):
    """
    Detect moderation labels in one image in S3; A2I starts a review when the conditions hold.

    The full response goes to ``analysis_output_s3_uri``; XCom gets ``HumanLoopStarted``,
    ``HumanLoopName``, ``HumanLoopArn``, ``HumanLoopActivationReasons``, ``AnalysisS3Uri`` and ``Document``.

    :param min_confidence: the lowest label confidence Rekognition returns (default 50).

    See :class:`~airflow_a2i.operators.built_in.BuiltInAnalysisOperator` for the other parameters.
    """

    aws_hook_class = RekognitionHook
    service = "rekognition"
    request_source = REKOGNITION_SOURCE
    document_member = "Image"

    def __init__(self, *, min_confidence: float = 50.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_confidence = min_confidence

    def analyze(self, loop_config: dict[str, Any] | None) -> dict[str, Any]:
        request: dict[str, Any] = {"Image": {"S3Object": {"Bucket": self.s3_bucket, "Name": self.s3_key}},
                                   "MinConfidence": self.min_confidence}
        if loop_config:
            request["HumanLoopConfig"] = loop_config
        return self.hook.conn.detect_moderation_labels(**request)
