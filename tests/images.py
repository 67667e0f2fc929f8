"""Images with recorded Rekognition moderation labels, in a bucket with the CORS rule A2I's worker UI needs."""

from __future__ import annotations

import json

import boto3

from airflow_a2i.preflight import CORS_RULE
from tests.conftest import unique


def labels(*found: tuple[str, str, float]) -> dict:
    return {"ModerationLabels": [{"Name": name, "ParentName": parent, "Confidence": confidence}
                                 for name, parent, confidence in found], "ModerationModelVersion": "7.0"}


# The DAG reviews an image when a label was reported with less than 90 % confidence.
IMAGES = {
    "inbox/beer.png": labels(("Alcohol", "", 99.1)),  # confident: no review
    "inbox/beach.jpg": labels(("Suggestive", "", 70.0), ("Female Swimwear Or Underwear", "Suggestive", 96.0)),
    "inbox/party.PNG": labels(("Alcohol", "", 60.0), ("Drugs", "", 55.0), ("Smoking", "", 40.0)),
    "inbox/garden.jpeg": labels(),  # nothing found
}


def upload_images(bucket: str, images: dict[str, dict]) -> None:
    """Images (any bytes) with the responses the local service answers for them, and files that are not images."""
    s3 = boto3.client("s3")
    for key, response in images.items():
        s3.put_object(Bucket=bucket, Key=key, Body=b"\xff\xd8 not really an image")
        s3.put_object(Bucket=bucket, Key=f"{key}.rekognition.json", Body=json.dumps(response).encode())
    s3.put_object(Bucket=bucket, Key="inbox/notes.txt", Body=b"not an image")


def make_images_bucket() -> str:
    bucket = unique("a2i-images")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    return bucket
