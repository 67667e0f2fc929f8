"""SigV4 verification (airflow_a2i/local/sigv4.py) against requests botocore itself signs.

Each request is built by a real botocore client and caught just before it would be sent (``before-send``), then
verified as the service would receive it: method, path as on the wire, query, headers (with the Host the HTTP client
adds), body. Covered: every service the local service answers, S3's awkward keys and presigned URLs, and each way a
request is refused, with the error botocore itself then reads. No network, no service.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import io
import re
import string
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_a2i.local import credentials, sigv4
from airflow_a2i.local.sigv4 import SignatureError, Verified, verify

KEY_ID = "AKIDLOCALTESTS"
SECRET = "local/Secret+Key=0123456789"
CREDENTIALS = {KEY_ID: SECRET, "AKIDSECOND": "second-secret"}
ENDPOINT = "http://127.0.0.1:4566"
FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/tests"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@dataclasses.dataclass(frozen=True)
class Wire:
    """A request as the service receives it."""

    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes | None

    def verify(self, credentials: dict[str, str] = CREDENTIALS, now: datetime | None = None) -> Verified:
        return verify(self.method, self.raw_path, self.query, self.headers, self.body, credentials, now)

    def refused(self, credentials: dict[str, str] = CREDENTIALS, now: datetime | None = None) -> SignatureError:
        with pytest.raises(SignatureError) as raised:
            self.verify(credentials, now)
        return raised.value

    def header(self, name: str) -> str:
        return next(value for key, value in self.headers.items() if key.lower() == name.lower())

    def with_header(self, name: str, value: str | None) -> Wire:
        headers = {key: item for key, item in self.headers.items() if key.lower() != name.lower()}
        if value is not None:
            headers[name] = value
        return dataclasses.replace(self, headers=headers)

    def with_param(self, name: str, value: str) -> Wire:
        """The query with ``name`` set to ``value`` (given percent-encoded, as on the wire)."""
        pairs = [pair for pair in self.query.split("&") if pair and pair.partition("=")[0] != name]
        return dataclasses.replace(self, query="&".join([*pairs, f"{name}={value}"]))

    def param(self, name: str) -> str:
        return next(pair.partition("=")[2] for pair in self.query.split("&") if pair.partition("=")[0] == name)

    def signed_at(self) -> datetime:
        stamp = self.param("X-Amz-Date") if "X-Amz-Date=" in self.query else self.header("X-Amz-Date")
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def on_the_wire(url: str, method: str = "GET", headers: dict[str, Any] | None = None, body: Any = None) -> Wire:
    parts = urlsplit(url)
    # HTTP carries header values as bytes; the server reads them as latin-1 (http.server, so werkzeug).
    received = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                for name, value in (headers or {}).items()}
    received["Host"] = parts.netloc  # added by the HTTP client, signed from the URL by botocore
    if hasattr(body, "read"):
        body = body.read()
    elif isinstance(body, str):
        body = body.encode("utf-8")
    return Wire(method, parts.path, parts.query, received, body or b"")


class Sent(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("caught before sending")
        self.request = request


def _catch(request: Any, **_: Any) -> None:
    raise Sent(request)


@functools.cache
def _session() -> Any:
    return botocore.session.get_session()


def new_client(service: str, *, endpoint: str = ENDPOINT, region: str = "us-east-1", key_id: str = KEY_ID,
               secret: str = SECRET, signature_version: str | None = None) -> Any:
    config = Config(retries={"max_attempts": 0}, signature_version=signature_version)
    return _session().create_client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id=key_id,
                                    aws_secret_access_key=secret, config=config)


@functools.cache
def catching_client(service: str, endpoint: str = ENDPOINT, region: str = "us-east-1", key_id: str = KEY_ID,
                    secret: str = SECRET, signature_version: str | None = None) -> Any:
    client = new_client(service, endpoint=endpoint, region=region, key_id=key_id, secret=secret,
                        signature_version=signature_version)
    client.meta.events.register("before-send.*", _catch)
    return client


def sent(service: str, operation: str, *, endpoint: str = ENDPOINT, region: str = "us-east-1", key_id: str = KEY_ID,
         secret: str = SECRET, **params: Any) -> Wire:
    """The request a botocore client sends for ``operation``, as the service receives it."""
    client = catching_client(service, endpoint, region, key_id, secret)
    with pytest.raises(Sent) as caught:
        getattr(client, operation)(**params)
    request = caught.value.request
    return on_the_wire(request.url, request.method, dict(request.headers.items()), request.body)


def presigned(operation: str = "get_object", expires: int = 3600, *, secret: str = SECRET, **params: Any) -> Wire:
    params = params or {"Bucket": "documents", "Key": "in put/ü+=%~.png"}
    # s3v4: in the regions that still take SigV2 (us-east-1 among them), botocore presigns S3 URLs with SigV2 unless
    # told otherwise (see test_a_sigv2_presigned_url_is_refused).
    client = catching_client("s3", secret=secret, signature_version="s3v4")
    url = client.generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    return on_the_wire(url)


def s3_put(key: str = "doc.pdf", body: bytes = b"%PDF-1.7 hello") -> Wire:
    return sent("s3", "put_object", Bucket="documents", Key=key, Body=body)


def sagemaker_call() -> Wire:
    return sent("sagemaker", "describe_flow_definition", FlowDefinitionName="tests")


# Every service the local service answers ------------------------------------------------------------------------

@pytest.mark.parametrize(("service", "operation", "params", "scope"), [
    ("sagemaker", "describe_flow_definition", {"FlowDefinitionName": "tests"}, "sagemaker"),
    ("sagemaker", "create_human_task_ui", {"HumanTaskUiName": "ui", "UiTemplate": {"Content": "<p>é {{ x }}</p>"}},
     "sagemaker"),
    ("sagemaker-a2i-runtime", "start_human_loop",
     {"HumanLoopName": "loop-1", "FlowDefinitionArn": FLOW, "HumanLoopInput": {"InputContent": '{"text": "ü"}'}},
     "sagemaker"),
    ("sagemaker-a2i-runtime", "describe_human_loop", {"HumanLoopName": "loop-1"}, "sagemaker"),
    ("sagemaker-a2i-runtime", "stop_human_loop", {"HumanLoopName": "loop-1"}, "sagemaker"),
    ("sagemaker-a2i-runtime", "list_human_loops",
     {"FlowDefinitionArn": FLOW, "CreationTimeAfter": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
      "NextToken": "a+b/c=d:e f", "SortOrder": "Ascending", "MaxResults": 10}, "sagemaker"),
    ("textract", "analyze_document", {"Document": {"Bytes": PNG}, "FeatureTypes": ["FORMS"]}, "textract"),
    ("rekognition", "detect_moderation_labels", {"Image": {"Bytes": PNG}, "MinConfidence": 50}, "rekognition"),
    ("sqs", "send_message", {"QueueUrl": f"{ENDPOINT}/123456789012/q", "MessageBody": "hello + world"}, "sqs"),
    ("events", "put_events", {"Entries": [{"Source": "a2i", "DetailType": "x", "Detail": '{"a": 1}'}]}, "events"),
])
def test_requests_botocore_signs_verify(service: str, operation: str, params: dict[str, Any], scope: str) -> None:
    verified = sent(service, operation, region="eu-west-1", **params).verify()
    assert verified == Verified(KEY_ID, "eu-west-1", scope, verified.signed_at, presigned=False)
    assert abs(verified.signed_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_a2i_runtime_query_keeps_colons_and_pluses() -> None:
    request = sent("sagemaker-a2i-runtime", "list_human_loops", FlowDefinitionArn=FLOW, NextToken="a+b:c",
                   CreationTimeAfter=datetime(2026, 1, 2, tzinfo=UTC))
    assert request.raw_path == "/human-loops"
    assert "NextToken=a%2Bb%3Ac" in request.query and "CreationTimeAfter=2026-01-02T00%3A00%3A00Z" in request.query
    assert request.verify().service == "sagemaker"


@pytest.mark.parametrize("key", ["in put/report 1.pdf", "ünïcødé/漢字 😀.png", "a+b=c.txt", "100%/done%20.txt",
                                 "~home/~x", "double//slash//", "/leading", "dots/./and/../kept", "q?x=1&y#z",
                                 "!$&'()*,;:@[]"])
def test_s3_keys_verify(key: str) -> None:
    put = s3_put(key)
    assert put.verify().service == "s3"
    get = sent("s3", "get_object", Bucket="documents", Key=key)
    assert get.method == "GET" and get.verify().service == "s3"


def test_s3_list_with_query_params_verifies() -> None:
    request = sent("s3", "list_objects_v2", Bucket="documents", Prefix="in put/ü+=", StartAfter="a:b&c=d%",
                   MaxKeys=5)
    assert "prefix=in%20put%2F%C3%BC%2B%3D" in request.query
    assert request.verify().service == "s3"


def test_s3_streaming_upload_verifies_on_its_declared_payload_hash() -> None:
    request = sent("s3", "put_object", endpoint="https://127.0.0.1:4566", Bucket="documents", Key="k", Body=b"x" * 10)
    assert request.header("X-Amz-Content-SHA256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert request.verify().service == "s3"
    assert dataclasses.replace(request, body=b"anything else").verify().service == "s3"  # chunks are not checked


@pytest.mark.parametrize("declared", ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
def test_a_declared_payload_hash_is_signed_as_declared(declared: str) -> None:
    request = s3_put().with_header("x-amz-content-sha256", declared)
    error = request.refused()  # botocore signed the body's hash, not this: the canonical request differs
    assert error.code == "SignatureDoesNotMatch"
    assert error.canonical_request.endswith("\n" + declared)


def test_a_date_header_instead_of_x_amz_date() -> None:
    client = new_client("sagemaker")
    client.meta.events.register("before-sign.*", lambda request, **_: request.headers.__setitem__("Date", "now"))
    client.meta.events.register("before-send.*", _catch)
    with pytest.raises(Sent) as caught:
        client.describe_flow_definition(FlowDefinitionName="tests")
    request = caught.value.request
    wire = on_the_wire(request.url, request.method, dict(request.headers.items()), request.body)
    assert "X-Amz-Date" not in request.headers and wire.header("Date").endswith(" -0000")
    assert wire.verify().service == "sagemaker"


def test_header_names_are_case_insensitive_and_values_are_trimmed() -> None:
    request = sent("s3", "put_object", Bucket="documents", Key="k", Body=b"x", Metadata={"note": "a    b  c"})
    assert request.header("x-amz-meta-note") == "a    b  c"
    shouted = dataclasses.replace(request, headers={name.upper(): value for name, value in request.headers.items()})
    assert shouted.verify().service == "s3"
    assert request.with_header("x-amz-meta-note", "  a b   c ").verify().service == "s3"


def test_an_unsigned_header_may_change() -> None:
    assert sagemaker_call().with_header("User-Agent", "something else").verify().service == "sagemaker"


def test_aws_test_suite_vectors() -> None:
    """AWS's own SigV4 test suite (get-vanilla, get-vanilla-query-order-key-case)."""
    credentials = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    now = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
    for query, signature in [("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
                             ("Param2=value2&Param1=value1",
                              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")]:
        headers = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z", "Authorization":
                   "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                   f"SignedHeaders=host;x-amz-date, Signature={signature}"}
        assert verify("GET", "/", query, headers, b"", credentials, now).service == "service"


def test_canonical_paths() -> None:
    assert sigv4.canonical_path("/b/a%20b//c/./d/../%7Ee", "s3") == "/b/a%20b//c/./d/../~e"
    assert sigv4.canonical_path("/human-loops/a%2Fb//./c/../d", "sagemaker") == "/human-loops/a%252Fb/d"
    assert sigv4.canonical_path("", "sagemaker") == "/"


# Presigned URLs -------------------------------------------------------------------------------------------------

def test_a_presigned_get_verifies() -> None:
    url = presigned()
    assert url.header("Host") == "127.0.0.1:4566" and "X-Amz-Signature=" in url.query
    verified = url.verify()
    assert (verified.service, verified.region, verified.presigned) == ("s3", "us-east-1", True)
    assert url.verify(now=url.signed_at() + timedelta(seconds=3599)).presigned


def test_an_expired_presigned_url_is_refused() -> None:
    url = presigned(expires=60)
    error = url.refused(now=url.signed_at() + timedelta(seconds=61))
    assert (error.code, error.status, error.message, error.protocol) == ("AccessDenied", 403, "Request has expired",
                                                                          "s3")


def test_a_presigned_url_from_the_future_is_refused() -> None:
    url = presigned()
    assert url.verify(now=url.signed_at() - timedelta(minutes=14)).presigned
    error = url.refused(now=url.signed_at() - timedelta(minutes=20))
    assert (error.code, error.message) == ("AccessDenied", "Request is not valid yet")


def test_a_presigned_url_of_another_service_verifies() -> None:
    # GET, as EKS tokens are made: a presigned URL signs its method too (STS's operations are POSTs).
    sts = catching_client("sts")
    url = on_the_wire(sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET"))
    verified = url.verify()
    assert (verified.service, verified.presigned) == ("sts", True)


@pytest.mark.parametrize(("change", "code"), [
    (lambda url: url.with_param("X-Amz-Expires", "7200"), "SignatureDoesNotMatch"),
    (lambda url: url.with_param("X-Amz-Date", "20260101T000000Z"), "AuthorizationQueryParametersError"),
    (lambda url: dataclasses.replace(url, raw_path=url.raw_path + "x"), "SignatureDoesNotMatch"),
    (lambda url: url.with_param("response-content-type", "text%2Fhtml"), "SignatureDoesNotMatch"),
    (lambda url: url.with_param("X-Amz-Signature", "%C3%A9" * 64), "SignatureDoesNotMatch"),
    (lambda url: url.with_param("X-Amz-Signature", "0" * 64), "SignatureDoesNotMatch"),
    (lambda url: url.with_param("X-Amz-Expires", "soon"), "AuthorizationQueryParametersError"),
    (lambda url: url.with_param("X-Amz-Expires", "604801"), "AuthorizationQueryParametersError"),
    (lambda url: url.with_param("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256"), "AuthorizationQueryParametersError"),
    (lambda url: url.with_param("X-Amz-Credential", "AKIDLOCALTESTS%2F2026"), "AuthorizationQueryParametersError"),
    (lambda url: dataclasses.replace(url, query=url.query.replace("&X-Amz-Expires=3600", "")),
     "AuthorizationQueryParametersError"),
    (lambda url: dataclasses.replace(url, query=url.query + "&X-Amz-Signature=" + "0" * 64),
     "AuthorizationQueryParametersError"),
    (lambda url: url.with_header("Authorization", "AWS4-HMAC-SHA256 Credential=x"), "AuthorizationHeaderMalformed"),
])
def test_a_changed_presigned_url_is_refused(change: Callable[[Wire], Wire], code: str) -> None:
    error = change(presigned()).refused()
    assert (error.code, error.protocol) == (code, "s3")
    assert error.status == (403 if code == "SignatureDoesNotMatch" else 400)


def test_a_sigv2_presigned_url_is_refused() -> None:
    url = on_the_wire(catching_client("s3").generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}))
    assert "AWSAccessKeyId=" in url.query and "X-Amz-Signature" not in url.query
    error = url.refused()
    assert (error.code, error.status, error.protocol) == ("InvalidRequest", 400, "s3")
    assert "Please use AWS4-HMAC-SHA256" in error.message


def test_a_presigned_url_with_a_wrong_secret_is_refused() -> None:
    assert presigned(secret="wrong").refused().code == "SignatureDoesNotMatch"


# Refusals: each in the protocol's own words ----------------------------------------------------------------------

REQUESTS: dict[str, Callable[[], Wire]] = {
    "s3": s3_put,
    "s3-get": lambda: sent("s3", "get_object", Bucket="documents", Key="a b.pdf"),
    "sagemaker": sagemaker_call,
    "a2i-runtime": lambda: sent("sagemaker-a2i-runtime", "describe_human_loop", HumanLoopName="loop-1"),
    "textract": lambda: sent("textract", "analyze_document", Document={"Bytes": PNG}, FeatureTypes=["FORMS"]),
}
JSON_REQUESTS = ["sagemaker", "a2i-runtime", "textract"]


def _expected(name: str, s3: tuple[str, int], json: tuple[str, int]) -> tuple[str, int, str]:
    return (*s3, "s3") if name.startswith("s3") else (*json, "json")


@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_wrong_secret_is_refused(name: str) -> None:
    error = REQUESTS[name]().refused({KEY_ID: "not the secret"})
    assert (error.code, error.status, error.protocol) == _expected(
        name, ("SignatureDoesNotMatch", 403), ("InvalidSignatureException", 403))
    assert error.string_to_sign.startswith("AWS4-HMAC-SHA256\n") and error.canonical_request


@pytest.mark.parametrize("name", list(REQUESTS))
def test_an_unknown_key_is_refused(name: str) -> None:
    error = REQUESTS[name]().refused({"AKIDSOMEONEELSE": SECRET})
    assert (error.code, error.status, error.protocol) == _expected(
        name, ("InvalidAccessKeyId", 403), ("UnrecognizedClientException", 403))


@pytest.mark.parametrize("name", list(REQUESTS))
def test_no_authentication_is_refused(name: str) -> None:
    error = REQUESTS[name]().with_header("Authorization", None).refused()
    assert (error.code, error.status, error.protocol) == _expected(
        name, ("AccessDenied", 403), ("MissingAuthenticationTokenException", 403))
    if error.protocol == "json":
        assert error.message == "Missing Authentication Token"


@pytest.mark.parametrize("name", list(REQUESTS))
@pytest.mark.parametrize("minutes", [20, -20])
def test_a_request_too_far_from_now_is_refused(name: str, minutes: int) -> None:
    request = REQUESTS[name]()
    assert request.verify(now=request.signed_at() + timedelta(minutes=14, seconds=59)).service
    error = request.refused(now=request.signed_at() + timedelta(minutes=minutes))
    assert (error.code, error.status) == _expected(
        name, ("RequestTimeTooSkewed", 403), ("InvalidSignatureException", 403))[:2]
    if error.protocol == "json":
        assert error.message.startswith("Signature expired" if minutes > 0 else "Signature not yet current")


@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_non_ascii_signature_is_refused_cleanly(name: str) -> None:
    request = REQUESTS[name]()
    authorization = request.header("Authorization")
    forged = authorization[:authorization.index("Signature=") + len("Signature=")] + "é" * 64
    error = request.with_header("Authorization", forged).refused()
    assert error.code in ("SignatureDoesNotMatch", "InvalidSignatureException")


MALFORMED = {
    "credential": "AWS4-HMAC-SHA256 Credential=garbage, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "no signature": "AWS4-HMAC-SHA256 Credential=AKIDLOCALTESTS/20261203/us-east-1/{service}/aws4_request",
    "empty fields": "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
    "terminator": "AWS4-HMAC-SHA256 Credential=AKIDLOCALTESTS/{date}/us-east-1/{service}/aws5_request, "
                  "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "scope date": "AWS4-HMAC-SHA256 Credential=AKIDLOCALTESTS/20000101/us-east-1/{service}/aws4_request, "
                  "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "host unsigned": "AWS4-HMAC-SHA256 Credential=AKIDLOCALTESTS/{date}/us-east-1/{service}/aws4_request, "
                     "SignedHeaders=x-amz-date, Signature=" + "0" * 64,
}


@pytest.mark.parametrize("name", ["s3", "sagemaker", "a2i-runtime"])
@pytest.mark.parametrize("malformed", list(MALFORMED))
def test_a_malformed_authorization_header_is_refused(name: str, malformed: str) -> None:
    request = REQUESTS[name]()
    service = "s3" if name == "s3" else "sagemaker"
    value = MALFORMED[malformed].format(service=service, date=request.header("X-Amz-Date")[:8])
    error = request.with_header("Authorization", value).refused()
    assert (error.code, error.status, error.protocol) == _expected(
        name, ("AuthorizationHeaderMalformed", 400), ("IncompleteSignatureException", 403))


@pytest.mark.parametrize("name", ["s3", "sagemaker"])
@pytest.mark.parametrize("value", ["AWS AKIDLOCALTESTS:c2lnbmF0dXJl", "Bearer token", "", "AWS4-ECDSA-P256-SHA256 x"])
def test_another_authorization_scheme_is_refused(name: str, value: str) -> None:
    error = REQUESTS[name]().with_header("Authorization", value).refused()
    expected = _expected(name, ("InvalidRequest", 400), ("IncompleteSignatureException", 403))
    assert (error.code, error.status, error.protocol) == expected


@pytest.mark.parametrize("date", ["yesterday", "20261340T000000Z", None])
def test_a_request_without_a_valid_date_is_refused(date: str | None) -> None:
    s3_error = s3_put().with_header("X-Amz-Date", date).refused()
    assert (s3_error.code, s3_error.status) == ("AccessDenied", 403)
    json_error = sagemaker_call().with_header("X-Amz-Date", date).refused()
    assert (json_error.code, json_error.status) == ("IncompleteSignatureException", 403)


def test_a_tampered_s3_body_is_refused() -> None:
    request = s3_put(body=b"the document")
    error = dataclasses.replace(request, body=b"another document").refused()
    assert (error.code, error.status) == ("XAmzContentSHA256Mismatch", 400)
    # Not given (not read), the body is not checked: the signature covers the declared hash.
    assert dataclasses.replace(request, body=None).verify().service == "s3"
    error = request.with_header("X-Amz-Content-SHA256", "not a hash").refused()
    assert (error.code, error.status) == ("InvalidArgument", 400)


@pytest.mark.parametrize("name", [*JSON_REQUESTS, "s3"])
def test_a_json_body_changed_after_signing_is_refused(name: str) -> None:
    request = REQUESTS[name]()
    error = dataclasses.replace(request, body=(request.body or b"") + b" ").refused()
    assert error.code == ("XAmzContentSHA256Mismatch" if name == "s3" else "InvalidSignatureException")


@pytest.mark.parametrize(("name", "header", "value"), [
    ("sagemaker", "X-Amz-Target", "SageMaker.DeleteFlowDefinition"),
    ("sagemaker", "Content-Type", "application/json"),
    ("sagemaker", "Host", "127.0.0.1:4567"),
    ("s3", "x-amz-checksum-crc32", "AAAAAA=="),
    ("s3", "X-Amz-Date", "20261203T000000Z"),
])
def test_a_changed_signed_header_is_refused(name: str, header: str, value: str) -> None:
    request = REQUESTS[name]()
    changed = request.with_header(header, value)
    error = changed.refused(now=changed.signed_at() if header == "X-Amz-Date" else None)
    assert error.code in ("SignatureDoesNotMatch", "InvalidSignatureException", "AuthorizationHeaderMalformed")


@pytest.mark.parametrize(("request_", "change", "code"), [
    (lambda: sent("s3", "list_objects_v2", Bucket="documents", Prefix="in/"),
     lambda request: request.with_param("prefix", "out%2F"), "SignatureDoesNotMatch"),
    (lambda: sent("s3", "list_objects_v2", Bucket="documents", Prefix="in/"),
     lambda request: request.with_param("delimiter", "%2F"), "SignatureDoesNotMatch"),
    (lambda: sent("sagemaker-a2i-runtime", "list_human_loops", FlowDefinitionArn=FLOW, MaxResults=5),
     lambda request: request.with_param("MaxResults", "100"), "InvalidSignatureException"),
    (lambda: sent("sagemaker-a2i-runtime", "describe_human_loop", HumanLoopName="loop-1"),
     lambda request: dataclasses.replace(request, raw_path="/human-loops/loop-2"), "InvalidSignatureException"),
    (lambda: sent("sagemaker-a2i-runtime", "describe_human_loop", HumanLoopName="loop-1"),
     lambda request: dataclasses.replace(request, method="DELETE"), "InvalidSignatureException"),
])
def test_a_changed_request_line_is_refused(request_: Callable[[], Wire], change: Callable[[Wire], Wire],
                                           code: str) -> None:
    assert change(request_()).refused().code == code


@pytest.mark.parametrize(("path", "headers", "protocol"), [
    ("/documents/a.pdf", {}, "s3"),
    ("/", {}, "s3"),
    ("/human-loops/loop-1", {}, "json"),
    ("/", {"X-Amz-Target": "SageMaker.ListWorkteams"}, "json"),
    ("/", {"Content-Type": "application/x-amz-json-1.1"}, "json"),
])
def test_without_a_credential_scope_the_protocol_is_guessed(path: str, headers: dict[str, str], protocol: str) -> None:
    error = Wire("GET", path, "", {"Host": "127.0.0.1:4566", **headers}, b"").refused()
    assert error.protocol == protocol


# The property: any key, any query value round-trips ---------------------------------------------------------------

TEXT = st.text(alphabet=st.sampled_from([*string.ascii_letters, *string.digits, *string.punctuation, " ", "ü", "é",
                                         "漢", "😀", "\u00a0", "\u2028"]), max_size=30)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(key=TEXT.filter(bool), prefix=TEXT, start_after=TEXT, token=TEXT.filter(bool))
def test_any_key_and_query_values_round_trip(key: str, prefix: str, start_after: str, token: str) -> None:
    assert s3_put(key).verify().service == "s3"
    assert sent("s3", "list_objects_v2", Bucket="documents", Prefix=prefix, StartAfter=start_after).verify()
    assert sent("sagemaker-a2i-runtime", "list_human_loops", FlowDefinitionArn=FLOW, NextToken=token).verify()
    url = presigned(Bucket="documents", Key=key, ResponseContentDisposition=f"attachment; filename={prefix}")
    assert url.verify().presigned


# From a WSGI server ---------------------------------------------------------------------------------------------

def wsgi_environ(request: Wire) -> dict[str, Any]:
    """The environ the service's own request handler (moto's, over werkzeug's development server) makes of the
    request's bytes: the request line, the header block, as the HTTP client sends them."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    target = request.raw_path + (f"?{request.query}" if request.query else "")
    head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    raw = f"{request.method} {target} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + (request.body or b"")
    handler = MotoRequestHandler.__new__(MotoRequestHandler)
    handler.rfile, handler.wfile = io.BytesIO(raw), io.BytesIO()
    handler.raw_requestline = handler.rfile.readline()
    handler.client_address = ("127.0.0.1", 50000)
    handler.request_version = "HTTP/1.1"
    handler.close_connection = True
    handler.connection = types.SimpleNamespace(getpeercert=lambda binary_form: None)
    handler.server = types.SimpleNamespace(ssl_context=None, multithread=True, multiprocess=False,
                                           server_address=("127.0.0.1", 4566), _server_version="tests")
    assert handler.parse_request()
    assert isinstance(handler.headers, http.client.HTTPMessage)
    return handler.make_environ()


@pytest.mark.parametrize("request_", [
    lambda: s3_put("in put/ü+=%~//x.png"),
    lambda: sent("s3", "put_object", Bucket="documents", Key="k", Body=b"x", Metadata={"my_key": "v", "n": "a  b"}),
    lambda: sent("s3", "list_objects_v2", Bucket="documents", Prefix="in put/ü+="),
    presigned,
    sagemaker_call,
    lambda: sent("sagemaker-a2i-runtime", "describe_human_loop", HumanLoopName="loop-1"),
    lambda: sent("sagemaker-a2i-runtime", "list_human_loops", FlowDefinitionArn=FLOW, NextToken="a+b:c"),
])
def test_verify_environ_from_the_development_server(request_: Callable[[], Wire]) -> None:
    request = request_()
    environ = wsgi_environ(request)
    assert environ["RAW_URI"].split("?")[0] == request.raw_path
    assert sigv4.verify_environ(environ, request.body, CREDENTIALS).access_key_id == KEY_ID


def test_a_percent_decoded_path_is_not_the_raw_path() -> None:
    request = sent("s3", "get_object", Bucket="documents", Key="a b+c.pdf")
    environ = wsgi_environ(request)
    assert environ["PATH_INFO"] == "/documents/a b+c.pdf"
    assert verify("GET", environ["PATH_INFO"], request.query, request.headers, b"", CREDENTIALS).service == "s3"
    del environ["RAW_URI"], environ["REQUEST_URI"]  # the last resort: PATH_INFO, encoded again
    assert sigv4.raw_path_from_environ(environ) == "/documents/a%20b%2Bc.pdf"


@pytest.mark.parametrize(("environ", "path"), [
    ({"RAW_URI": "/b/a%20b?x=1", "PATH_INFO": "/b/a b"}, "/b/a%20b"),
    ({"REQUEST_URI": "//key%2Fwith?x=1"}, "//key%2Fwith"),
    ({"RAW_URI": "http://127.0.0.1:4566/b/k%2B?x"}, "/b/k%2B"),
    ({"PATH_INFO": "/b/\u00c3\u00bc k", "SCRIPT_NAME": "/api"}, "/api/b/%C3%BC%20k"),
    ({}, "/"),
])
def test_raw_path_from_environ(environ: dict[str, str], path: str) -> None:
    assert sigv4.raw_path_from_environ(environ) == path


def test_headers_from_environ() -> None:
    environ = {"HTTP_X_AMZ_DATE": "d", "CONTENT_TYPE": "t", "CONTENT_LENGTH": "3", "HTTP_X_AMZ_META_MY_KEY": "v",
               "moto.preserved_header_names": {"HTTP_X_AMZ_META_MY_KEY": "X-Amz-Meta-My_Key"}, "wsgi.input": None}
    assert sigv4.headers_from_environ(environ) == {"x-amz-date": "d", "content-type": "t", "content-length": "3",
                                                   "x-amz-meta-my_key": "v"}


# Error responses, as botocore reads them ------------------------------------------------------------------------

class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def guarded_client(service: str, credentials: dict[str, str], **client: Any) -> Any:
    """A client whose requests are answered by verify(): its error response, else a 'sent' marker."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        wire = on_the_wire(request.url, request.method, dict(request.headers.items()), request.body)
        try:
            wire.verify(credentials)
        except SignatureError as error:
            status, headers, body = sigv4.error_response(error, "request-1")
            return AWSResponse(request.url, status, headers, _Raw(body))
        raise Sent(request)

    guarded = new_client(service, **client)
    guarded.meta.events.register("before-send.*", answer)
    return guarded


@pytest.mark.parametrize(("service", "call", "credentials", "code", "status"), [
    ("s3", lambda c: c.get_object(Bucket="documents", Key="a b"), {"AKIDX": "x"}, "InvalidAccessKeyId", 403),
    ("s3", lambda c: c.put_object(Bucket="documents", Key="k", Body=b"x"), {KEY_ID: "other"},
     "SignatureDoesNotMatch", 403),
    ("sagemaker", lambda c: c.describe_flow_definition(FlowDefinitionName="f"), {"AKIDX": "x"},
     "UnrecognizedClientException", 403),
    ("sagemaker", lambda c: c.describe_flow_definition(FlowDefinitionName="f"), {KEY_ID: "other"},
     "InvalidSignatureException", 403),
    ("sagemaker-a2i-runtime", lambda c: c.describe_human_loop(HumanLoopName="loop"), {KEY_ID: "other"},
     "InvalidSignatureException", 403),
    ("sagemaker-a2i-runtime", lambda c: c.list_human_loops(FlowDefinitionArn=FLOW), {"AKIDX": "x"},
     "UnrecognizedClientException", 403),
    ("textract", lambda c: c.detect_document_text(Document={"Bytes": PNG}), {KEY_ID: "other"},
     "InvalidSignatureException", 403),
])
def test_botocore_reads_the_errors(service: str, call: Callable[[Any], Any], credentials: dict[str, str], code: str,
                                   status: int) -> None:
    with pytest.raises(ClientError) as raised:
        call(guarded_client(service, credentials))
    response = raised.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert response["Error"]["Message"].startswith("The ")
    assert response["ResponseMetadata"]["RequestId"] == "request-1"


def test_the_error_bodies() -> None:
    error = SignatureError("s3", "AccessDenied", "a <b> & c", 403)
    assert sigv4.error_response(error, "r1") == (403, {"Content-Type": "application/xml", "x-amz-request-id": "r1"}, (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>a &lt;b&gt; &amp; c</Message><RequestId>r1</RequestId></Error>"))
    error = SignatureError("json", "MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    status, headers, body = sigv4.error_response(error, "r2")
    assert (status, headers["x-amzn-ErrorType"], headers["Content-Type"]) == (
        403, "MissingAuthenticationTokenException", "application/x-amz-json-1.1")
    assert body == b'{"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}'


# Credentials ----------------------------------------------------------------------------------------------------

def test_a_credentials_file() -> None:
    text = "# who may call\n\nAKIDONE secret/one+=\n  AKIDTWO:secret:two  \n\tAKIDTHREE\t s3\n"
    assert credentials.parse_credentials(text, "keys.txt") == {"AKIDONE": "secret/one+=", "AKIDTWO": "secret:two",
                                                         "AKIDTHREE": "s3"}


def test_a_credentials_variable() -> None:
    assert credentials.parse_credentials("AKIDONE:one, AKIDTWO:two,", "A2I_CREDENTIALS") == {"AKIDONE": "one",
                                                                                         "AKIDTWO": "two"}


@pytest.mark.parametrize(("text", "where"), [
    ("AKIDONE one\nAKIDTWO two extra-secret\n", "keys.txt, line 2: expected 'ACCESS_KEY_ID SECRET'"),
    ("AKIDONE\n", "keys.txt, line 1: expected"),
    ("AKIDONE:\n", "keys.txt, line 1: expected"),
    ("AKIDONE:one,no-colon-secret\n", "keys.txt, line 1, entry 2: expected"),
    ("bad/key:extra-secret\n", "keys.txt, line 1: an access key id holds"),
    ("AKIDONE one\nAKIDONE extra-secret\n", "keys.txt, line 2: the access key id 'AKIDONE' is given twice"),
])
def test_a_bad_credentials_line(text: str, where: str) -> None:
    with pytest.raises(ValueError, match="^" + where) as raised:
        credentials.parse_credentials(text, "keys.txt")
    assert "extra-secret" not in str(raised.value) and "no-colon-secret" not in str(raised.value)


def test_load_credentials(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("AKIDONE one\n", encoding="utf-8")
    assert credentials.load_credentials(path, "AKIDTWO:two") == {"AKIDONE": "one", "AKIDTWO": "two"}
    assert credentials.load_credentials(value="AKIDONE:one") == {"AKIDONE": "one"}
    with pytest.raises(ValueError, match="another secret"):
        credentials.load_credentials(path, "AKIDONE:other")
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"no access key in {re.escape(str(path))}"):
        credentials.load_credentials(path)
    with pytest.raises(ValueError, match="no access key in nothing given"):
        credentials.load_credentials()
