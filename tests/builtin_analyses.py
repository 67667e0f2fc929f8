"""Recorded Textract and Rekognition analyses the tests put beside their documents, and how they ask for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import unique

TEXTRACT = "AWS/Textract/AnalyzeDocument/Forms/V1"


FIXTURES = Path(__file__).parent / "fixtures"


# A real Textract response (PascalCase); its form keys and key-value confidences: "Home Address:" 95,
# "Mailing Address:" 92, "Phone Number:" 91, "Full Name:" 87 (its words and value words all >= 99).
EMPLOYMENT = json.loads((FIXTURES / "textract-employment-application.json").read_text())


def key_check(key: str, **thresholds: float) -> dict:
    return {"ConditionType": "ImportantFormKeyConfidenceCheck",
            "ConditionParameters": {"ImportantFormKey": key, **thresholds}}


FULL_NAME_BELOW_90 = key_check("Full Name:", KeyValueBlockConfidenceLessThan=90)  # 87: holds


def analyze(textract, bucket: str, key: str, flow: str | None = None, name: str | None = None, **extra: Any) -> dict:
    params: dict[str, Any] = {"Document": {"S3Object": {"Bucket": bucket, "Name": key}}, "FeatureTypes": ["FORMS"],
                              **extra}
    if flow is not None:
        params["HumanLoopConfig"] = {"HumanLoopName": name or unique("loop"), "FlowDefinitionArn": flow}
    return textract.analyze_document(**params)


def error_of(call, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]
