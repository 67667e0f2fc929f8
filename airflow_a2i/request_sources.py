"""The built-in task types A2I integrates with (``HumanLoopRequestSource.AwsManagedHumanLoopRequestSource``)."""

from __future__ import annotations

TEXTRACT_SOURCE = "AWS/Textract/AnalyzeDocument/Forms/V1"
REKOGNITION_SOURCE = "AWS/Rekognition/DetectModerationLabels/Image/V3"
BUILT_IN_REQUEST_SOURCES = (TEXTRACT_SOURCE, REKOGNITION_SOURCE)
