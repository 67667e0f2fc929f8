"""The local service's wire format: how requests are read and answers written.

AWS's protocols (rest-json for the A2I runtime, the JSON protocol 1.1 for SageMaker and the built-in task types,
S3's XML), each with AWS's content type and request id header on successes and errors alike (botocore reads
``ResponseMetadata.RequestId`` from them), the SigV4 credential scope that routes a request, strict JSON request
bodies, and the JSON views the admin API answers with (no AWS headers: it is no AWS API).
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal
from xml.sax.saxutils import escape as xml_escape

from werkzeug.wrappers import Request, Response

from airflow_a2i.local import strict_json
from airflow_a2i.local.errors import ServiceError, validation_error
from airflow_a2i.local.guard import Refusal, is_s3_request
from airflow_a2i.local.sigv4 import SignatureError, error_response
from airflow_a2i.local.store import Worker

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
DEFAULT_REGION = "us-east-1"
PORTAL_HEADER = "X-Airflow-A2I-Portal"
# Content types AWS answers with: rest-json (the A2I runtime) and the JSON protocol (SageMaker, Textract, Rekognition,
# EventBridge: 1.1; a JSON-protocol request names its version in its own Content-Type, and the answer repeats it).
REST_JSON = "application/json"
JSON_1_1 = "application/x-amz-json-1.1"
JSON_PROTOCOL_PREFIX = "application/x-amz-json-"
REQUEST_ID_HEADER = "x-amzn-RequestId"  # the JSON protocols'
S3_REQUEST_ID_HEADER, S3_HOST_ID_HEADER = "x-amz-request-id", "x-amz-id-2"


def credential_scope(request: Request) -> tuple[str | None, str]:
    """(service, region) from the SigV4 Authorization header or a presigned URL's X-Amz-Credential."""
    authorization = request.headers.get("Authorization", "")
    match = CREDENTIAL_SCOPE.search(authorization)
    if match is None and "X-Amz-Credential" in request.args:
        match = CREDENTIAL_SCOPE.search("Credential=" + request.args["X-Amz-Credential"])
    if match is None:
        return None, DEFAULT_REGION
    return match.group(2), match.group(1)


# Request ids ----------------------------------------------------------------------------------------

def new_request_id() -> str:
    """A JSON-protocol request id, a UUID as AWS's are."""
    return str(uuid.uuid4())


def s3_request_ids() -> dict[str, str]:
    """S3's pair: ``x-amz-request-id`` (16 upper-case hex digits) and ``x-amz-id-2`` (an opaque base64 host id)."""
    return {S3_REQUEST_ID_HEADER: secrets.token_hex(8).upper(),
            S3_HOST_ID_HEADER: base64.b64encode(secrets.token_bytes(48)).decode()}


# Answers ------------------------------------------------------------------------------------------

def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = REST_JSON) -> Response:
    """A strict JSON response; RuntimeError (a bug, answered as a 500) when ``body`` holds NaN or Infinity."""
    try:
        text = strict_json.dumps(body)
    except ValueError as error:
        raise RuntimeError(f"the response would hold a non-finite number, which strict JSON cannot carry "
                           f"({error})") from None
    return Response(text, status=status, headers=headers or {}, content_type=content_type)


def aws_json_response(body: Any, content_type: str, status: int = 200,
                      headers: dict[str, str] | None = None) -> Response:
    """An AWS API's JSON answer: its content type and a request id of its own."""
    return json_response(body, status, {REQUEST_ID_HEADER: new_request_id(), **(headers or {})}, content_type)


def runtime_response(body: Any, headers: dict[str, str] | None = None) -> Response:
    """The A2I runtime's (rest-json) success."""
    return aws_json_response(body, REST_JSON, headers=headers)


def json_protocol_response(body: Any, headers: dict[str, str] | None = None) -> Response:
    """SageMaker's, Textract's and Rekognition's (JSON protocol 1.1) success."""
    return aws_json_response(body, JSON_1_1, headers=headers)


def runtime_error(error: ServiceError) -> Response:
    """rest-json: botocore reads the code from X-Amzn-ErrorType and the message from the body."""
    return aws_json_response({"__type": error.code, "message": error.message}, REST_JSON, error.status,
                             {"X-Amzn-ErrorType": f"{error.code}:"})


def json_protocol_error(error: ServiceError) -> Response:
    return aws_json_response({"__type": error.code, "message": error.message}, JSON_1_1, error.status)


def s3_elsewhere(s3_endpoint: str) -> Response:
    """S3's XML error for an S3 request sent here in self-hosted mode, where S3 is an external store."""
    message = (f"This service keeps S3 at {s3_endpoint} (self-hosted mode): send S3 requests there, "
               f"e.g. AWS_ENDPOINT_URL_S3={s3_endpoint}")
    ids = s3_request_ids()
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRequest</Code>'
            f"<Message>{xml_escape(message)}</Message><RequestId>{ids[S3_REQUEST_ID_HEADER]}</RequestId>"
            f"<HostId>{ids[S3_HOST_ID_HEADER]}</HostId></Error>")
    return Response(body, status=400, headers=ids, content_type="application/xml")


def json_protocol_content_type(environ: dict[str, Any]) -> str | None:
    """The JSON protocol's content type (with its version) a request was sent with, else None."""
    sent = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    return sent if sent.startswith(JSON_PROTOCOL_PREFIX) else None


def with_aws_headers(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Any, *,
                     s3_request: bool) -> Iterable[bytes]:
    """Run ``app`` (moto) and give its answer the headers AWS's carries where moto's differ: S3's are
    :func:`_s3_answer`'s; the other services' get ``x-amzn-RequestId`` and, for a JSON-protocol request, that
    protocol's content type (moto answers some with text/html or application/json)."""
    if s3_request:
        return _s3_answer(app, environ, start_response)
    json_type = json_protocol_content_type(environ)

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        added = {} if _has(headers, REQUEST_ID_HEADER) else {REQUEST_ID_HEADER: new_request_id()}
        if json_type is not None:
            headers = _without(headers, {"content-type"})
            added["Content-Type"] = json_type
        return start_response(status, [*headers, *added.items()], exc_info)

    return app(environ, start)


def _s3_answer(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """S3's request id pair instead of moto's ``x-amzn-RequestId`` (which botocore would read first); an error also
    says them in its XML body, as S3's do (moto writes ids of its own there), and is application/xml (moto answers a
    HEAD's with text/html)."""
    captured: list[Any] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured[:] = [status, headers, exc_info]
        return _no_write

    chunks = app(environ, capture)
    if not captured:  # a lazy start: the body decides (moto starts before it returns)
        chunks = [b"".join(chunks)]
    status, headers, exc_info = captured
    ids = s3_request_ids()
    headers = _without(headers, {REQUEST_ID_HEADER.lower(), S3_REQUEST_ID_HEADER, S3_HOST_ID_HEADER})
    if int(status.split()[0]) < 400:
        start_response(status, [*headers, *ids.items()], exc_info)
        return chunks
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    for tag, value in (("RequestId", ids[S3_REQUEST_ID_HEADER]), ("HostId", ids[S3_HOST_ID_HEADER])):
        body = re.sub(rf"<{tag}>[^<]*</{tag}>".encode(), f"<{tag}>{value}</{tag}>".encode(), body, count=1)
    headers = _without(headers, {"content-type"})
    if environ.get("REQUEST_METHOD") != "HEAD":  # a HEAD's Content-Length is the one a GET's body would have
        headers = [*_without(headers, {"content-length"}), ("Content-Length", str(len(body)))]
    start_response(status, [*headers, *ids.items(), ("Content-Type", "application/xml")], exc_info)
    return [body]


def _no_write(data: bytes) -> None:
    raise RuntimeError("moto wrote its body through WSGI's write(), which this wrapper does not pass on")


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(given.lower() == name.lower() for given, _ in headers)


def _without(headers: list[tuple[str, str]], names: set[str]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() not in names]


def refusal_response(refusal: Refusal | SignatureError, environ: dict[str, Any]) -> Response:
    """A guard's or the signature check's refusal in the protocol of the request: S3's XML for S3, AWS's JSON
    error otherwise; no body for HEAD, as S3 answers those."""
    if isinstance(refusal, Refusal) and "HTTP_SEC_FETCH_MODE" in environ:  # a browser: a message it shows
        return Response(f"{refusal.code}: {refusal.message}\n", status=refusal.status,
                        content_type="text/plain; charset=utf-8", headers={"X-Content-Type-Options": "nosniff"})
    if isinstance(refusal, Refusal):
        protocol: Literal["s3", "json"] = "s3" if is_s3_request(environ) else "json"
        refusal = SignatureError(protocol, refusal.code, refusal.message, refusal.status)
    if refusal.protocol == "s3":
        ids = s3_request_ids()
        status, headers, body = error_response(refusal, ids[S3_REQUEST_ID_HEADER])
        headers = {**headers, **ids}
    else:  # rest-json (the A2I runtime) answers application/json; the JSON protocol its request's version
        status, headers, body = error_response(refusal, new_request_id())
        headers = {**headers, "Content-Type": json_protocol_content_type(environ) or REST_JSON}
    return Response(b"" if environ.get("REQUEST_METHOD") == "HEAD" else body, status=status, headers=headers)


def worker_view(worker: Worker) -> dict:
    return {"name": worker.name, "team": worker.team, "workerId": worker.worker_id}


def loop_view(loop: Any) -> dict:
    return {
        "humanLoopName": loop.name, "humanLoopArn": loop.arn, "region": loop.region,
        "humanLoopStatus": loop.status, "flowDefinitionArn": loop.flow_definition_arn,
        "failureCode": loop.failure_code, "failureReason": loop.failure_reason,
        "outputS3Uri": loop.output_s3_uri,
    }


# Requests -----------------------------------------------------------------------------------------

def json_body(request: Request, *, drop_nulls: bool = False) -> dict:
    """The request's JSON object (strict: finite numbers, Unicode text, bounded nesting); {} for no body."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        body = strict_json.loads(raw, drop_nulls=drop_nulls)
    except ValueError as error:
        raise validation_error(f"The request body {error}") from None
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object")
    return body


def aws_params(request: Request) -> dict:
    """An AWS API request's parameters: a null member is an absent one, at any depth (botocore never sends null)."""
    return json_body(request, drop_nulls=True)
