"""The local service's wire format: how requests are read and answers written.

AWS's protocols (rest-json errors for the A2I runtime, json-protocol errors for SageMaker and the built-in
task types, S3's XML), the SigV4 credential scope that routes a request, strict JSON request bodies, and the
JSON views the admin API answers with.
"""

from __future__ import annotations

import re
import secrets
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


def credential_scope(request: Request) -> tuple[str | None, str]:
    """(service, region) from the SigV4 Authorization header or a presigned URL's X-Amz-Credential."""
    authorization = request.headers.get("Authorization", "")
    match = CREDENTIAL_SCOPE.search(authorization)
    if match is None and "X-Amz-Credential" in request.args:
        match = CREDENTIAL_SCOPE.search("Credential=" + request.args["X-Amz-Credential"])
    if match is None:
        return None, DEFAULT_REGION
    return match.group(2), match.group(1)


# Answers ------------------------------------------------------------------------------------------

def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A strict JSON response; RuntimeError (a bug, answered as a 500) when ``body`` holds NaN or Infinity."""
    try:
        text = strict_json.dumps(body)
    except ValueError as error:
        raise RuntimeError(f"the response would hold a non-finite number, which strict JSON cannot carry "
                           f"({error})") from None
    return Response(text, status=status, headers=headers or {}, content_type="application/json")


def runtime_error(error: ServiceError) -> Response:
    """rest-json: botocore reads the code from X-Amzn-ErrorType and the message from the body."""
    return json_response({"__type": error.code, "message": error.message}, error.status,
                         {"X-Amzn-ErrorType": f"{error.code}:"})


def json_protocol_error(error: ServiceError) -> Response:
    return json_response({"__type": error.code, "message": error.message}, error.status)


def s3_elsewhere(s3_endpoint: str) -> Response:
    """S3's XML error for an S3 request sent here in self-hosted mode, where S3 is an external store."""
    message = (f"This service keeps S3 at {s3_endpoint} (self-hosted mode): send S3 requests there, "
               f"e.g. AWS_ENDPOINT_URL_S3={s3_endpoint}")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRequest</Code>'
            f"<Message>{xml_escape(message)}</Message></Error>")
    return Response(body, status=400, content_type="application/xml")


def refusal_response(refusal: Refusal | SignatureError, environ: dict[str, Any]) -> Response:
    """A guard's or the signature check's refusal in the protocol of the request: S3's XML for S3, AWS's JSON
    error otherwise; no body for HEAD, as S3 answers those."""
    if isinstance(refusal, Refusal) and "HTTP_SEC_FETCH_MODE" in environ:  # a browser: a message it shows
        return Response(f"{refusal.code}: {refusal.message}\n", status=refusal.status,
                        content_type="text/plain; charset=utf-8", headers={"X-Content-Type-Options": "nosniff"})
    if isinstance(refusal, Refusal):
        protocol: Literal["s3", "json"] = "s3" if is_s3_request(environ) else "json"
        refusal = SignatureError(protocol, refusal.code, refusal.message, refusal.status)
    status, headers, body = error_response(refusal, secrets.token_hex(8))
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
