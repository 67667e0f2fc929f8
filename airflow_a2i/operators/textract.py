"""Textract ``AnalyzeDocument`` with an optional A2I human loop (``HumanLoopConfig``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_a2i.hooks.textract import TextractHook
from airflow_a2i.operators.built_in import BuiltInAnalysisOperator

TEXTRACT_SOURCE = "AWS/Textract/AnalyzeDocument/Forms/V1"


class TextractAnalyzeDocumentOperator(BuiltInAnalysisOperator):
    """
    Analyse one single-page document in S3 with Textract; A2I starts a review when the conditions hold.

    Only the synchronous ``AnalyzeDocument`` takes a human loop, and it takes one page: split PDFs into
    pages first. The full response goes to ``analysis_output_s3_uri``; XCom gets ``HumanLoopStarted``,
    ``HumanLoopName``, ``HumanLoopArn``, ``HumanLoopActivationReasons``, ``AnalysisS3Uri`` and ``Document``.
    A retry adopts the loop its earlier attempt started.

    :param feature_types: Textract feature types (default ``["FORMS"]``; A2I reviews forms).

    See :class:`~airflow_a2i.operators.built_in.BuiltInAnalysisOperator` for the other parameters.
    """

    aws_hook_class = TextractHook
    service = "textract"
    request_source = TEXTRACT_SOURCE
    document_member = "Document"

    def __init__(self, *, feature_types: Sequence[str] = ("FORMS",), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_types = list(feature_types)

    def analyze(self, loop_config: dict[str, Any] | None) -> dict[str, Any]:
        request: dict[str, Any] = {"Document": {"S3Object": {"Bucket": self.s3_bucket, "Name": self.s3_key}},
                                   "FeatureTypes": self.feature_types}
        if loop_config:
            request["HumanLoopConfig"] = loop_config
        return self.hook.conn.analyze_document(**request)
