"""AWS's headers on every answer of the local service, read by boto3 over HTTP as from AWS.

botocore fills ``ResponseMetadata.RequestId`` from ``x-amzn-RequestId`` (the JSON protocols) or ``x-amz-request-id``
(S3, with ``x-amz-id-2`` as ``HostId``), for errors as for successes. The content types are AWS's: rest-json
(the A2I runtime) ``application/json``; the JSON protocol ``application/x-amz-json-1.1`` (SageMaker, Textract,
Rekognition, EventBridge) or the version the request was sent with (SQS: 1.0); S3's errors ``application/xml``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.builtin_analyses import EMPLOYMENT, FULL_NAME_BELOW_90, TEXTRACT, analyze
from tests.conftest import unique, workteam_arn
from tests.flows import create_flow

FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/absent"
REST_JSON, JSON_1_0, JSON_1_1 = "application/json", "application/x-amz-json-1.0", "application/x-amz-json-1.1"
UUID_LENGTH = 36


def metadata_of(call: Callable[[], Any]) -> dict:
    """``ResponseMetadata`` of a call, whether it succeeded or raised ClientError."""
    try:
        return call()["ResponseMetadata"]
    except ClientError as error:
        return error.response["ResponseMetadata"]


@pytest.fixture(scope="module")
def documents(local_service: str) -> str:
    """A bucket with a document and its stored Textract analysis, an image with its moderation labels."""
    s3 = boto3.client("s3")
    bucket = unique("wire-documents")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="form.png", Body=b"\x89PNG")
    s3.put_object(Bucket=bucket, Key="form.png.textract.json", Body=json.dumps(EMPLOYMENT).encode())
    s3.put_object(Bucket=bucket, Key="image.png", Body=b"\x89PNG")
    s3.put_object(Bucket=bucket, Key="image.png.rekognition.json", Body=b'{"ModerationLabels": []}')
    return bucket


@pytest.fixture(scope="module")
def built_in_flow(local_service: str, output_bucket: str) -> str:
    return create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/wire", workteam_arn=workteam_arn(),
                       source=TEXTRACT, conditions=[FULL_NAME_BELOW_90])


def calls(documents: str, built_in_flow: str) -> dict[str, tuple[Callable[[], Any], str, int]]:
    """name: (call, content type AWS answers it with, HTTP status)."""
    a2i, sagemaker = boto3.client("sagemaker-a2i-runtime"), boto3.client("sagemaker")
    textract, rekognition = boto3.client("textract"), boto3.client("rekognition")
    events, sqs = boto3.client("events"), boto3.client("sqs")
    image = {"S3Object": {"Bucket": documents, "Name": "image.png"}}
    return {
        "a2i-runtime success": (lambda: a2i.list_human_loops(FlowDefinitionArn=built_in_flow), REST_JSON, 200),
        "a2i-runtime start": (lambda: a2i.start_human_loop(
            HumanLoopName=unique("loop"), FlowDefinitionArn=built_in_flow,
            HumanLoopInput={"InputContent": "{}"}), REST_JSON, 200),
        "a2i-runtime error": (lambda: a2i.describe_human_loop(HumanLoopName=unique("absent")), REST_JSON, 404),
        "a2i-runtime validation": (lambda: a2i.start_human_loop(
            HumanLoopName="not_a_loop_name", FlowDefinitionArn=built_in_flow,
            HumanLoopInput={"InputContent": "{}"}), REST_JSON, 400),
        "sagemaker success": (lambda: sagemaker.describe_flow_definition(
            FlowDefinitionName=built_in_flow.rsplit("/", 1)[1]), JSON_1_1, 200),
        "sagemaker error": (lambda: sagemaker.describe_flow_definition(FlowDefinitionName=unique("absent")),
                            JSON_1_1, 400),
        "sagemaker through moto": (lambda: sagemaker.list_models(), JSON_1_1, 200),
        "sagemaker unknown operation": (lambda: sagemaker.list_workteams(), JSON_1_1, 400),  # moto has none
        "textract success": (lambda: analyze(textract, documents, "form.png"), JSON_1_1, 200),
        "textract with a loop": (lambda: analyze(textract, documents, "form.png", built_in_flow), JSON_1_1, 200),
        "textract error": (lambda: analyze(textract, documents, "absent.png"), JSON_1_1, 400),
        "rekognition success": (lambda: rekognition.detect_moderation_labels(Image=image), JSON_1_1, 200),
        "rekognition error": (lambda: rekognition.detect_moderation_labels(
            Image={"S3Object": {"Bucket": documents, "Name": "absent.png"}}), JSON_1_1, 400),
        "eventbridge success": (lambda: events.list_rules(), JSON_1_1, 200),
        "eventbridge error": (lambda: events.describe_rule(Name=unique("absent")), JSON_1_1, 400),
        "sqs success": (lambda: sqs.list_queues(), JSON_1_0, 200),
        "sqs error": (lambda: sqs.get_queue_url(QueueName=unique("absent")), JSON_1_0, 400),
    }


CALLS = list(calls("bucket", FLOW))


@pytest.mark.parametrize("name", CALLS)
def test_json_answers_carry_a_request_id_and_aws_content_type(name: str, documents: str, built_in_flow: str) -> None:
    call, content_type, status = calls(documents, built_in_flow)[name]
    first, second = metadata_of(call), metadata_of(call)
    assert first["HTTPStatusCode"] == status, first
    assert first["HTTPHeaders"]["content-type"] == content_type
    assert first["RequestId"] and second["RequestId"] and first["RequestId"] != second["RequestId"]
    assert first["HTTPHeaders"]["x-amzn-requestid"] == first["RequestId"]


@pytest.mark.parametrize("name", ["sagemaker success", "sagemaker error", "a2i-runtime success",
                                  "a2i-runtime error", "textract success", "textract error"])
def test_the_service_s_own_request_ids_are_uuids(name: str, documents: str, built_in_flow: str) -> None:
    call, _, _ = calls(documents, built_in_flow)[name]
    request_id = metadata_of(call)["RequestId"]
    assert len(request_id) == UUID_LENGTH and request_id.count("-") == 4


def s3_calls(documents: str) -> dict[str, tuple[Callable[[], Any], int]]:
    s3 = boto3.client("s3")
    return {
        "list buckets": (lambda: s3.list_buckets(), 200),
        "put object": (lambda: s3.put_object(Bucket=documents, Key="put.txt", Body=b"x"), 200),
        "get object": (lambda: s3.get_object(Bucket=documents, Key="form.png"), 200),
        "missing key": (lambda: s3.get_object(Bucket=documents, Key="absent"), 404),
        "missing bucket, HEAD": (lambda: s3.head_bucket(Bucket=unique("absent")), 404),
        "missing bucket": (lambda: s3.list_objects_v2(Bucket=unique("absent")), 404),
    }


@pytest.mark.parametrize("name", list(s3_calls("bucket")))
def test_s3_answers_carry_s3_s_request_id_pair(name: str, documents: str) -> None:
    call, status = s3_calls(documents)[name]
    first, second = metadata_of(call), metadata_of(call)
    assert first["HTTPStatusCode"] == status, first
    headers = first["HTTPHeaders"]
    assert first["RequestId"] == headers["x-amz-request-id"] != second["RequestId"]
    assert len(first["RequestId"]) == 16 and first["RequestId"] == first["RequestId"].upper()
    assert first["HostId"] == headers["x-amz-id-2"] != second["HostId"]
    assert "x-amzn-requestid" not in headers  # S3 sends none; botocore would read it first
    if status >= 400:
        assert headers["content-type"] == "application/xml"
    if name == "get object":
        assert headers["content-type"] == "binary/octet-stream"  # the object's, as S3 answers


def test_s3_error_bodies_say_the_same_ids_as_the_headers(documents: str) -> None:
    """S3's XML error names its RequestId and HostId: the ones of the headers (moto writes ids of its own)."""
    signed = boto3.client("s3", config=Config(signature_version="s3v4"))
    url = signed.generate_presigned_url("get_object", Params={"Bucket": documents, "Key": "absent"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url)
    headers, body = raised.value.headers, raised.value.read().decode()
    assert (raised.value.code, headers["Content-Type"]) == (404, "application/xml")
    assert f"<RequestId>{headers['x-amz-request-id']}</RequestId>" in body
    assert f"<HostId>{headers['x-amz-id-2']}</HostId>" in body
    assert int(headers["Content-Length"]) == len(body.encode())


def test_anonymous_s3_requests_get_s3_s_pair_too(documents: str) -> None:
    anonymous = boto3.client("s3", config=Config(signature_version=UNSIGNED))
    metadata = metadata_of(lambda: anonymous.get_object(Bucket=documents, Key="absent"))
    assert metadata["HTTPStatusCode"] in (403, 404)
    assert metadata["RequestId"] == metadata["HTTPHeaders"]["x-amz-request-id"] and metadata["HostId"]


def add_origin(request: Any, **_: Any) -> None:
    request.headers["Origin"] = "https://elsewhere.example"


@pytest.mark.parametrize(("service", "call", "content_type"), [
    ("sagemaker-a2i-runtime", lambda client: client.list_human_loops(FlowDefinitionArn=FLOW), REST_JSON),
    ("sagemaker", lambda client: client.list_flow_definitions(), JSON_1_1),
    ("textract", lambda client: client.analyze_document(
        Document={"S3Object": {"Bucket": "bucket", "Name": "key"}}, FeatureTypes=["FORMS"]), JSON_1_1),
    ("sqs", lambda client: client.list_queues(), JSON_1_0),
])
def test_refusals_carry_a_request_id_and_the_protocol_s_content_type(local_service: str, service: str,
                                                                    call: Callable[[Any], Any],
                                                                    content_type: str) -> None:
    """The guard refuses a browser on the API port before any routing: still in the request's protocol."""
    client = boto3.client(service)
    client.meta.events.register("before-sign.*", add_origin)
    first, second = metadata_of(lambda: call(client)), metadata_of(lambda: call(client))
    assert first["HTTPStatusCode"] == 403
    assert first["HTTPHeaders"]["content-type"] == content_type
    assert first["RequestId"] and first["RequestId"] != second["RequestId"]


def test_s3_refusals_carry_s3_s_request_id_pair(local_service: str) -> None:
    s3 = boto3.client("s3")
    s3.meta.events.register("before-sign.*", add_origin)
    with pytest.raises(ClientError) as raised:
        s3.list_objects_v2(Bucket="bucket")
    response = raised.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert response["ResponseMetadata"]["RequestId"] == response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert response["ResponseMetadata"]["HostId"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/xml"


def test_the_admin_api_is_no_aws_api(local_service: str) -> None:
    with urllib.request.urlopen(f"{local_service}/_a2i/health") as answer:
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["x-amzn-RequestId"] is None
