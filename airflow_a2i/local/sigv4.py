"""Verifying AWS Signature Version 4 on the requests the local service receives.

On loopback the local service answers any client, as moto does. Listening beyond loopback it must not: anyone who
reaches the port could read the documents in S3, answer or stop human loops. There it requires what AWS requires: each
request signed (SigV4) with one of the access keys it was configured with (``credentials.py``). :func:`verify`
checks one request, signed in the ``Authorization`` header or as a presigned URL (query parameters), and either
names who signed it (:class:`Verified`) or raises :class:`SignatureError` with AWS's own error code, message and HTTP
status, and the protocol whose error body the client parses (:func:`error_response` builds it).

The canonical request is rebuilt the way botocore builds it when it signs (``botocore/auth.py``: ``SigV4Auth``,
``S3SigV4Auth``, ``S3SigV4QueryAuth``), with botocore's helpers where they fit, but from the request as a WSGI
server received it: the path as sent on the wire (still percent-encoded: see :func:`raw_path_from_environ`), the raw
query string, the headers the client listed as signed. A WSGI application verifies with one call,
:func:`verify_environ`.

Pure: no I/O, no web framework.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeAlias
from urllib.parse import quote, unquote_to_bytes, urlsplit
from xml.sax.saxutils import escape as xml_escape

from botocore.auth import SIGV4_TIMESTAMP, UNSIGNED_PAYLOAD
from botocore.utils import normalize_url_path

from airflow_a2i.local.credentials import ACCESS_KEY_ID, Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=15)  # AWS refuses a request signed further than this from its own clock
MAX_PRESIGNED_SECONDS = 604_800  # a presigned URL lives at most a week
QUERY_AUTH_PARAMETERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                         "X-Amz-SignedHeaders", "X-Amz-Signature")
HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
SIGV4_DATE = re.compile(r"\d{8}T\d{6}Z")
# moto's request handler keeps the spelling of S3 metadata headers with underscores (werkzeug drops those) here.
MOTO_PRESERVED_HEADER_NAMES = "moto.preserved_header_names"

Protocol = Literal["s3", "json"]
ErrorResponse: TypeAlias = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Verified:
    """A request signed with a configured key: who signed it, and the credential scope it was signed for."""

    access_key_id: str
    region: str
    service: str
    signed_at: datetime
    presigned: bool


class SignatureError(Exception):
    """A request this service refuses, as AWS would: ``code``, ``message`` and ``status`` are AWS's own; ``protocol``
    says which error body the client parses (``"s3"``: S3's XML; ``"json"``: the JSON protocols' body).

    For a signature that does not match, ``canonical_request`` and ``string_to_sign`` are what this side computed
    (for a log: S3 returns them in its error, but they are not put in the bodies built here)."""

    def __init__(self, protocol: Protocol, code: str, message: str, status: int, *, canonical_request: str = "",
                 string_to_sign: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.protocol: Protocol = protocol
        self.code = code
        self.message = message
        self.status = status
        self.canonical_request = canonical_request
        self.string_to_sign = string_to_sign


@dataclass(frozen=True)
class _Auth:
    """What a request's signature claims: from the Authorization header or a presigned URL's parameters."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # the request's time as signed (SIGV4_TIMESTAMP), from X-Amz-Date or Date
    signed_at: datetime
    expires: int | None  # presigned URLs only: seconds after signed_at

    @property
    def protocol(self) -> Protocol:
        return "s3" if self.service == "s3" else "json"

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{SCOPE_TERMINATOR}"


# Verifying ------------------------------------------------------------------------------------------------------

def verify_environ(environ: Mapping[str, Any], body: bytes | None, credentials: Credentials,
                   now: datetime | None = None) -> Verified:
    """:func:`verify` for a WSGI request: the raw path, query string and headers taken from ``environ``."""
    return verify(str(environ.get("REQUEST_METHOD", "GET")), raw_path_from_environ(environ),
                  str(environ.get("QUERY_STRING", "")), headers_from_environ(environ), body, credentials, now)


def verify(method: str, raw_path: str, query_string: str, headers: Mapping[str, str], body: bytes | None,
           credentials: Credentials, now: datetime | None = None) -> Verified:
    """Check a request's SigV4 signature against ``credentials`` (access key id -> secret) at ``now`` (UTC).

    :param raw_path: the path exactly as sent on the wire, still percent-encoded, without the query: see
        :func:`raw_path_from_environ`. (A percent-decoded path verifies S3 requests but not the other services'.)
    :param query_string: the query as sent, without ``?`` (WSGI's ``QUERY_STRING``).
    :param headers: the request's headers; names are looked up case-insensitively.
    :param body: the request body; ``None`` when it was not read: its hash is then not checked against a hex
        ``x-amz-content-sha256``, and counts as empty where the signature covers the body itself (no such header).
    :returns: who signed the request, and for which region and service.
    :raises SignatureError: the request is not signed, or not validly, by one of ``credentials``.
    """
    lowered = _lowercase(headers)
    pairs = _query_pairs(query_string)
    auth = _authentication(raw_path, lowered, pairs)
    secret = credentials.get(auth.access_key_id)
    if secret is None:
        raise _unknown_key(auth.protocol)
    _check_time(auth, _utc(now))
    payload_hash = _payload_hash(auth, lowered, body)
    if auth.expires is not None:  # a presigned URL's signature is not part of what it signs
        pairs = [(key, value) for key, value in pairs if key != b"X-Amz-Signature"]
    canonical = "\n".join([method.upper(), canonical_path(raw_path, auth.service), canonical_query(pairs),
                           canonical_headers(lowered, auth.signed_headers) + "\n", ";".join(auth.signed_headers),
                           payload_hash])
    string_to_sign = "\n".join([ALGORITHM, auth.amz_date, auth.scope,
                                hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    expected = hmac.new(signing_key(secret, auth.scope_date, auth.region, auth.service),
                        string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    # Constant time, on ASCII only: anything but 64 lowercase hex digits (a non-ASCII value too) simply differs.
    if not (HEX_SHA256.fullmatch(auth.signature)
            and hmac.compare_digest(expected.encode("ascii"), auth.signature.encode("ascii"))):
        raise _mismatch(auth.protocol, canonical, string_to_sign)
    return Verified(auth.access_key_id, auth.region, auth.service, auth.signed_at, auth.expires is not None)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's signing key: the HMAC-SHA256 chain from ``AWS4`` + secret over the credential scope."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, SCOPE_TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


# The canonical request ------------------------------------------------------------------------------------------

def canonical_path(raw_path: str, service: str) -> str:
    """The canonical URI of a path as sent on the wire (percent-encoded once, as clients send it)."""
    if service == "s3":
        # S3 signs the path encoded once and never normalized ('//', '.' and '..' can be part of a key): decoded and
        # encoded again, as S3 does, so that any client's encoding of the same key gives the same form.
        return quote(unquote_to_bytes(raw_path or "/"), safe="/~")
    # botocore's SigV4Auth._normalize_url_path over the encoded path: dot segments and empty segments removed, then
    # encoded again, so each segment ends up encoded twice, as AWS specifies for every service but S3.
    return quote(normalize_url_path(raw_path), safe="/~")


def canonical_query(pairs: Sequence[tuple[bytes, bytes]]) -> str:
    """The canonical query string of decoded (name, value) pairs: each encoded as SigV4 encodes (only A-Z a-z 0-9
    ``-_.~`` left as they are, a space as ``%20``), sorted by name then value (botocore's
    ``canonical_query_string``)."""
    encoded = sorted((quote(key, safe="-_.~"), quote(value, safe="-_.~")) for key, value in pairs)
    return "&".join(f"{key}={value}" for key, value in encoded)


def canonical_headers(headers: Mapping[str, str], signed_headers: Sequence[str]) -> str:
    """``name:value`` lines of the signed headers (lowercase names, sorted), each value trimmed and its runs of
    whitespace made one space (botocore's ``canonical_headers``); ``headers`` has lowercase names."""
    return "\n".join(f"{name}:{' '.join(headers.get(name, '').split())}" for name in signed_headers)


# From a WSGI environ --------------------------------------------------------------------------------------------

def raw_path_from_environ(environ: Mapping[str, Any]) -> str:
    """The request's path as sent on the wire, still percent-encoded.

    From the request target as received: werkzeug's development server (and moto's, which extends it) and gunicorn
    put it in ``RAW_URI``, werkzeug, mod_wsgi and uWSGI in ``REQUEST_URI``; ``PATH_INFO`` is already percent-decoded
    (and ``%2F`` in it is indistinguishable from ``/``), so it is only the last resort, encoded again: enough for S3,
    not for every path of the other services."""
    target = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if target.startswith("/"):
        # Origin form. Not urlsplit: a path that starts with '//' (an S3 key starting with '/') is no host.
        return target.split("?", 1)[0].split("#", 1)[0]
    if "://" in target:  # absolute form, as sent to a proxy
        return urlsplit(target).path or "/"
    decoded = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    # WSGI strings carry bytes as latin-1; clients encode paths as UTF-8.
    return quote(decoded.encode("latin-1", "replace"), safe="/~") or "/"


def headers_from_environ(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers (lowercase names) from a WSGI environ's ``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``.

    WSGI spells ``X-Foo`` as ``HTTP_X_FOO``, so names come back with ``-``; moto's request handler records the
    original spelling of the S3 metadata headers that hold ``_`` (werkzeug itself drops every such header)."""
    preserved = environ.get(MOTO_PRESERVED_HEADER_NAMES) or {}
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if not isinstance(value, str) or not (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")):
            continue
        name = preserved.get(key) or key.removeprefix("HTTP_").replace("_", "-")
        headers[name.lower()] = value
    return headers


# Reading what the request claims --------------------------------------------------------------------------------

def _lowercase(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value  # repeated headers, as HTTP joins them
    return lowered


def _query_pairs(query_string: str) -> list[tuple[bytes, bytes]]:
    """Decoded (name, value) pairs, as bytes: a value that is no UTF-8 keeps its exact bytes when encoded again."""
    pairs = []
    for part in query_string.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote_to_bytes(key), unquote_to_bytes(value)))  # '+' is a plus: SigV4 encodes a space
    return pairs


def _authentication(raw_path: str, headers: Mapping[str, str], pairs: Sequence[tuple[bytes, bytes]]) -> _Auth:
    presigned = any(key.decode("latin-1") in QUERY_AUTH_PARAMETERS for key, _ in pairs)
    authorization = headers.get("authorization")
    if authorization is not None and presigned:
        raise _malformed(_protocol_without_scope(raw_path, headers), "Only one auth mechanism allowed; only the "
                         "X-Amz-Algorithm query parameter or the Authorization header should be specified", False)
    if authorization is not None:
        return _header_auth(authorization, raw_path, headers)
    if presigned:
        return _query_auth(pairs, raw_path, headers)
    names = {key for key, _ in pairs}
    if {b"AWSAccessKeyId", b"Signature"} <= names:  # SigV2's query auth: S3's answer where only SigV4 is taken
        raise _unsupported(_protocol_without_scope(raw_path, headers))
    raise _missing(_protocol_without_scope(raw_path, headers))


def _header_auth(authorization: str, raw_path: str, headers: Mapping[str, str]) -> _Auth:
    scheme, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, value.strip())
    protocol = _protocol_of(fields.get("Credential", ""), raw_path, headers)
    if scheme != ALGORITHM:
        raise _unsupported(protocol)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise _malformed(protocol, " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
                         False)
    amz_date, signed_at = _header_date(headers, protocol)
    return _claims(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date, signed_at, None,
                   protocol, False)


def _query_auth(pairs: Sequence[tuple[bytes, bytes]], raw_path: str, headers: Mapping[str, str]) -> _Auth:
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key.decode("utf-8", "replace"), []).append(value.decode("utf-8", "replace"))
    protocol = _protocol_of((params.get("X-Amz-Credential") or [""])[0], raw_path, headers)
    if any(len(params.get(name, [])) != 1 for name in QUERY_AUTH_PARAMETERS):
        raise _malformed(protocol, "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                         "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires "
                         "parameters, each once.", True)
    given = {name: params[name][0] for name in QUERY_AUTH_PARAMETERS}
    if given["X-Amz-Algorithm"] != ALGORITHM:
        raise _malformed(protocol, f'X-Amz-Algorithm only supports "{ALGORITHM}"', True)
    expires = given["X-Amz-Expires"]
    if not expires.isascii() or not expires.isdigit():
        raise _malformed(protocol, "X-Amz-Expires should be a number", True)
    if int(expires) > MAX_PRESIGNED_SECONDS:
        raise _malformed(protocol, f"X-Amz-Expires must be less than a week (in seconds) that is "
                         f"{MAX_PRESIGNED_SECONDS}", True)
    signed_at = _parse_amz_date(given["X-Amz-Date"])
    if signed_at is None:
        raise _malformed(protocol, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", True)
    return _claims(given["X-Amz-Credential"], given["X-Amz-SignedHeaders"], given["X-Amz-Signature"],
                   given["X-Amz-Date"], signed_at, int(expires), protocol, True)


def _claims(credential: str, signed_headers: str, signature: str, amz_date: str, signed_at: datetime,
            expires: int | None, protocol: Protocol, presigned: bool) -> _Auth:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts) or not ACCESS_KEY_ID.fullmatch(parts[0]) or parts[4] != SCOPE_TERMINATOR:
        raise _malformed(protocol, 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
                         f'{SCOPE_TERMINATOR}".', presigned)
    key_id, scope_date, region, service, _ = parts
    if scope_date != amz_date[:8]:
        raise _malformed(protocol, f"Invalid credential date. Date in Credential scope ({scope_date[:8]!r}) is not "
                         f"the same as the request's date ({amz_date[:8]!r}).", presigned)
    names = tuple(sorted({name.strip().lower() for name in signed_headers.split(";")}))
    if "host" not in names:
        raise _malformed(protocol, "'Host' must be a 'SignedHeader' in the AWS Authorization.", presigned)
    return _Auth(key_id, scope_date, region, service, names, signature, amz_date, signed_at, expires)


def _header_date(headers: Mapping[str, str], protocol: Protocol) -> tuple[str, datetime]:
    """The request's time, as signed: X-Amz-Date, else Date (botocore signs with one or the other)."""
    if "x-amz-date" in headers:
        signed_at = _parse_amz_date(headers["x-amz-date"].strip())
        if signed_at is not None:
            return headers["x-amz-date"].strip(), signed_at
    elif "date" in headers:
        try:
            signed_at = parsedate_to_datetime(headers["date"]).astimezone(UTC)
        except (TypeError, ValueError):
            pass
        else:
            return signed_at.strftime(SIGV4_TIMESTAMP), signed_at
    if protocol == "s3":
        raise SignatureError(protocol, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date "
                             "header", 403)
    raise _malformed(protocol, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                     "header.", False)


def _parse_amz_date(value: str) -> datetime | None:
    if not SIGV4_DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:  # e.g. month 13
        return None


def _protocol_of(credential: str, raw_path: str, headers: Mapping[str, str]) -> Protocol:
    """The protocol of the credential scope's service when the credential names one, else a guess."""
    parts = credential.split("/")
    if len(parts) == 5:
        return "s3" if parts[3] == "s3" else "json"
    return _protocol_without_scope(raw_path, headers)


def _protocol_without_scope(raw_path: str, headers: Mapping[str, str]) -> Protocol:
    """With no credential scope to say: the JSON protocols name their operation (X-Amz-Target) or send JSON, the A2I
    runtime (rest-json) lives under /human-loops; the rest looks like S3 (a path of bucket and key)."""
    path = raw_path.split("?", 1)[0]
    if ("x-amz-target" in headers or "json" in headers.get("content-type", "")
            or path == "/human-loops" or path.startswith("/human-loops/")):
        return "json"
    return "s3"


def _check_time(auth: _Auth, now: datetime) -> None:
    if auth.expires is not None:  # a presigned URL: good from its date (give or take the skew) until it expires
        if now > auth.signed_at + timedelta(seconds=auth.expires):
            raise _expired(auth, now)
        if auth.signed_at - now > MAX_SKEW:
            raise _not_yet_valid(auth, now)
    elif abs(now - auth.signed_at) > MAX_SKEW:
        raise _skewed(auth, now)


def _payload_hash(auth: _Auth, headers: Mapping[str, str], body: bytes | None) -> str:
    """The payload's hash in the canonical request: x-amz-content-sha256 when sent (S3 always sends it), else
    UNSIGNED-PAYLOAD for an S3 presigned URL, else the body's own hash (botocore's ``SigV4Auth.payload``)."""
    declared = headers.get("x-amz-content-sha256")
    if declared is None:
        if auth.expires is not None and auth.service == "s3":
            return UNSIGNED_PAYLOAD
        return hashlib.sha256(body or b"").hexdigest()
    declared = declared.strip()
    if declared == UNSIGNED_PAYLOAD or declared.startswith("STREAMING-"):
        return declared  # the body is not signed (or is signed chunk by chunk, which is not checked here)
    if not HEX_SHA256.fullmatch(declared):
        if auth.protocol == "s3":
            raise SignatureError("s3", "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or a "
                                 "valid sha256 value.", 400)
        raise _mismatch("json")
    if body is not None and hashlib.sha256(body).hexdigest() != declared:
        if auth.protocol == "s3":
            raise SignatureError("s3", "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header "
                                 "does not match what was computed.", 400)
        raise _mismatch("json")
    return declared


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


# AWS's errors ---------------------------------------------------------------------------------------------------

def _missing(protocol: Protocol) -> SignatureError:
    if protocol == "s3":
        return SignatureError(protocol, "AccessDenied", "Anonymous access is forbidden: this service requires "
                              "requests signed with AWS Signature Version 4", 403)
    return SignatureError(protocol, "MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def _unknown_key(protocol: Protocol) -> SignatureError:
    if protocol == "s3":
        return SignatureError(protocol, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in "
                              "our records.", 403)
    return SignatureError(protocol, "UnrecognizedClientException", "The security token included in the request is "
                          "invalid.", 403)


def _mismatch(protocol: Protocol, canonical_request: str = "", string_to_sign: str = "") -> SignatureError:
    if protocol == "s3":
        return SignatureError(protocol, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                              "the signature you provided. Check your key and signing method.", 403,
                              canonical_request=canonical_request, string_to_sign=string_to_sign)
    return SignatureError(protocol, "InvalidSignatureException", "The request signature we calculated does not match "
                          "the signature you provided. Check your AWS Secret Access Key and signing method.", 403,
                          canonical_request=canonical_request, string_to_sign=string_to_sign)


def _malformed(protocol: Protocol, detail: str, presigned: bool) -> SignatureError:
    if protocol == "json":
        return SignatureError(protocol, "IncompleteSignatureException", detail, 403)
    if presigned:
        return SignatureError(protocol, "AuthorizationQueryParametersError", detail, 400)
    return SignatureError(protocol, "AuthorizationHeaderMalformed", f"The authorization header is malformed; {detail}",
                          400)


def _unsupported(protocol: Protocol) -> SignatureError:
    message = f"The authorization mechanism you have provided is not supported. Please use {ALGORITHM}."
    if protocol == "s3":
        return SignatureError(protocol, "InvalidRequest", message, 400)
    return SignatureError(protocol, "IncompleteSignatureException", message, 403)


def _skewed(auth: _Auth, now: datetime) -> SignatureError:
    if auth.protocol == "s3":
        return SignatureError("s3", "RequestTimeTooSkewed", "The difference between the request time and the "
                              "current time is too large.", 403)
    if auth.signed_at < now:
        message = (f"Signature expired: {auth.amz_date} is now earlier than {_stamp(now - MAX_SKEW)} "
                   f"({_stamp(now)} - 15 min.)")
    else:
        message = (f"Signature not yet current: {auth.amz_date} is still later than {_stamp(now + MAX_SKEW)} "
                   f"({_stamp(now)} + 15 min.)")
    return SignatureError("json", "InvalidSignatureException", message, 403)


def _expired(auth: _Auth, now: datetime) -> SignatureError:
    if auth.protocol == "s3":
        return SignatureError("s3", "AccessDenied", "Request has expired", 403)
    expiry = auth.signed_at + timedelta(seconds=auth.expires or 0)
    return SignatureError("json", "InvalidSignatureException", f"Signature expired: {auth.amz_date} + "
                          f"{auth.expires} s. ({_stamp(expiry)}) is now earlier than {_stamp(now)}", 403)


def _not_yet_valid(auth: _Auth, now: datetime) -> SignatureError:
    if auth.protocol == "s3":
        return SignatureError("s3", "AccessDenied", "Request is not valid yet", 403)
    return SignatureError("json", "InvalidSignatureException", f"Signature not yet current: {auth.amz_date} is "
                          f"still later than {_stamp(now + MAX_SKEW)} ({_stamp(now)} + 15 min.)", 403)


def _stamp(moment: datetime) -> str:
    return moment.strftime(SIGV4_TIMESTAMP)


# Error responses ------------------------------------------------------------------------------------------------

def error_response(error: SignatureError, request_id: str) -> ErrorResponse:
    """(status, headers, body) of the error in its protocol: :func:`s3_error_response` or :func:`json_error_response`.
    (For a HEAD request, send no body: S3 answers those with the status alone.)"""
    if error.protocol == "s3":
        return s3_error_response(error, request_id)
    return json_error_response(error, request_id)


def s3_error_response(error: SignatureError, request_id: str) -> ErrorResponse:
    """S3's XML error (rest-xml), which botocore reads into ``ClientError``'s ``Error.Code`` and ``Error.Message``."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{xml_escape(error.code)}</Code><Message>{xml_escape(error.message)}</Message>"
            f"<RequestId>{xml_escape(request_id)}</RequestId></Error>")
    return error.status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode("utf-8")


def json_error_response(error: SignatureError, request_id: str) -> ErrorResponse:
    """The JSON protocols' error: botocore reads the code from ``__type`` (json) or ``x-amzn-ErrorType``
    (rest-json, the A2I runtime)."""
    body = json.dumps({"__type": error.code, "message": error.message})
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": error.code,
               "x-amzn-RequestId": request_id}
    return error.status, headers, body.encode("utf-8")
