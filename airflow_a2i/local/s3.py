"""The service's own access to S3: buckets to restore, documents to read, outputs to write.

Two backends, one set of module-level functions:

- moto (the default): moto's in-process S3 backend, the same one clients reach through the service's endpoint.
  It lives in memory, so documents do not survive a restart.
- remote (self-hosted mode, ``airflow-a2i local serve --s3-endpoint URL``): any S3-compatible store (real S3,
  MinIO, a moto server) reached with a boto3 client. Credentials and Region come from boto3's usual chain in
  the service's environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, instance roles,
  ``AWS_REGION``/``AWS_DEFAULT_REGION``; us-east-1 when no Region is configured).

``configure(endpoint_url)`` picks one; ``configure(None)`` goes back to moto.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from airflow_a2i.aws_errors import error_code

ACCOUNT_ID = DEFAULT_ACCOUNT_ID  # S3, SQS, EventBridge and A2I all answer for moto's default account
DEFAULT_REGION = "us-east-1"  # S3's answer for a bucket created without a LocationConstraint
DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 stores for an object put without a Content-Type
MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
REFUSED_CODES = frozenset({"403", "AccessDenied", "AllAccessDisabled", "NoSuchBucket"})


class Backend(Protocol):
    def buckets(self) -> dict[str, str]: ...
    def bucket_exists(self, name: str) -> bool: ...
    def bucket_region(self, name: str) -> str: ...
    def ensure_bucket(self, name: str, region: str) -> None: ...
    def put_object(self, bucket: str, key: str, body: bytes) -> None: ...
    def get_object(self, bucket: str, key: str) -> bytes | None: ...
    def get_user_metadata(self, bucket: str, key: str) -> dict[str, str]: ...
    def object_response(self, bucket: str, key: str) -> tuple[bytes, str] | None: ...


def _user_metadata(headers: dict) -> dict[str, str]:
    """``x-amz-meta-*`` headers -> names lowercased without the prefix."""
    return {name.lower().removeprefix("x-amz-meta-"): str(value) for name, value in headers.items()
            if name.lower().startswith("x-amz-meta-")}


class MotoBackend:
    """moto's S3 backend in this process (the default: S3 lives in memory)."""

    @staticmethod
    def _backend():
        return s3_backends[ACCOUNT_ID]["aws"]

    def buckets(self) -> dict[str, str]:
        return {name: bucket.region_name for name, bucket in self._backend().buckets.items()}

    def bucket_exists(self, name: str) -> bool:
        return name in self._backend().buckets

    def bucket_region(self, name: str) -> str:
        return self._backend().buckets[name].region_name

    def ensure_bucket(self, name: str, region: str) -> None:
        if not self.bucket_exists(name):
            self._backend().create_bucket(name, region)

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self._backend().put_object(bucket, key, body)

    def _key(self, bucket: str, key: str):
        if not self.bucket_exists(bucket):  # moto raises for a missing bucket; the callers want None
            return None
        return self._backend().get_object(bucket, key)

    def get_object(self, bucket: str, key: str) -> bytes | None:
        found = self._key(bucket, key)
        return None if found is None else bytes(found.value)

    def get_user_metadata(self, bucket: str, key: str) -> dict[str, str]:
        found = self._key(bucket, key)
        return {} if found is None else _user_metadata(dict(found.metadata))

    def object_response(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        found = self._key(bucket, key)
        if found is None:
            return None
        return bytes(found.value), str(found.metadata.get("content-type") or DEFAULT_CONTENT_TYPE)


class RemoteBackend:
    """An external S3-compatible store at ``endpoint_url`` (self-hosted mode): what it holds survives restarts."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        session = boto3.session.Session()  # boto3's usual credential and Region chain
        # Path-style addressing: S3-compatible servers (MinIO, moto) rarely resolve bucket.host names.
        config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 5})
        self.client = session.client("s3", endpoint_url=endpoint_url, config=config,
                                     region_name=session.region_name or DEFAULT_REGION)
        self._regions: dict[str, str] = {}  # a bucket's Region never changes: ask once

    def buckets(self) -> dict[str, str]:
        """One ListBuckets and a HeadBucket per bucket not seen before (self-hosted mode never needs it at start)."""
        names = [bucket["Name"] for bucket in self.client.list_buckets().get("Buckets", [])]
        return {name: self.bucket_region(name) for name in names}

    def bucket_exists(self, name: str) -> bool:
        try:
            self._head_bucket(name)
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            if error_code(error) in ("403", "AccessDenied"):  # it exists but is not ours; a write will say so
                return True
            raise
        return True

    def bucket_region(self, name: str) -> str:
        if name not in self._regions:
            try:
                headers = self._head_bucket(name)
            except ClientError as error:  # S3 names the Region on 301 and 403 answers too
                headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                if "x-amz-bucket-region" not in headers:
                    raise
            region = headers.get("x-amz-bucket-region") or DEFAULT_REGION
            self._regions[name] = region
        return self._regions[name]

    def ensure_bucket(self, name: str, region: str) -> None:
        if self.bucket_exists(name):
            return
        params: dict = {"Bucket": name}
        if region != DEFAULT_REGION:
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**params)
        except ClientError as error:
            if error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        """LookupError when the store refuses (no such bucket, access denied), as A2I fails such a loop; other
        errors (the store unreachable, 5xx after retries) propagate, so the write can be tried again."""
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=body)
        except ClientError as error:
            if error_code(error) in REFUSED_CODES:
                raise LookupError(f"the S3 store at {self.endpoint_url} refused to write s3://{bucket}/{key}: "
                                  f"{error_code(error)} {error.response.get('Error', {}).get('Message', '')}".rstrip()
                                  ) from None
            raise

    def get_object(self, bucket: str, key: str) -> bytes | None:
        found = self.object_response(bucket, key)
        return None if found is None else found[0]

    def get_user_metadata(self, bucket: str, key: str) -> dict[str, str]:
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return {}
            raise
        return {name.lower(): str(value) for name, value in response.get("Metadata", {}).items()}

    def object_response(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return None
            raise
        with response["Body"] as body:
            return body.read(), response.get("ContentType") or DEFAULT_CONTENT_TYPE

    def _head_bucket(self, name: str) -> dict:
        response = self.client.head_bucket(Bucket=name)
        return response.get("ResponseMetadata", {}).get("HTTPHeaders", {})


_current: Backend = MotoBackend()
_endpoint: str | None = None


def configure(endpoint_url: str | None) -> None:
    """Keep S3 in an external store at ``endpoint_url`` (self-hosted mode), or in moto's memory with None."""
    global _current, _endpoint
    _current = MotoBackend() if endpoint_url is None else RemoteBackend(endpoint_url)
    _endpoint = endpoint_url


def is_external() -> bool:
    """True in self-hosted mode: S3 is an external store, not moto's memory."""
    return _endpoint is not None


def endpoint() -> str | None:
    """The external store's URL in self-hosted mode; None when S3 is moto's, behind the service's own endpoint."""
    return _endpoint


def buckets() -> dict[str, str]:
    """Bucket name -> Region of every bucket S3 holds now."""
    return _current.buckets()


def bucket_exists(name: str) -> bool:
    return _current.bucket_exists(name)


def bucket_region(name: str) -> str:
    return _current.bucket_region(name)


def ensure_bucket(name: str, region: str) -> None:
    _current.ensure_bucket(name, region)


def put_object(bucket: str, key: str, body: bytes) -> None:
    _current.put_object(bucket, key, body)


def get_object(bucket: str, key: str) -> bytes | None:
    """The object's body; None when the object or its bucket does not exist."""
    return _current.get_object(bucket, key)


def get_user_metadata(bucket: str, key: str) -> dict[str, str]:
    """An object's user metadata (``x-amz-meta-*``), names lowercased without the prefix; {} when it is missing."""
    return _current.get_user_metadata(bucket, key)


def object_response(bucket: str, key: str) -> tuple[bytes, str] | None:
    """(body, Content-Type) of an object, to serve it as it is (the portal shows documents); None when missing."""
    return _current.object_response(bucket, key)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` or an ``https://`` S3 URL -> (bucket, prefix without slashes at the ends)."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.strip("/")
    host = parsed.netloc
    if ".s3" in host and not host.startswith("s3."):  # virtual-hosted style: bucket.s3.<region>.amazonaws.com
        return host.split(".s3", 1)[0], parsed.path.strip("/")
    bucket, _, prefix = parsed.path.strip("/").partition("/")  # path style: s3.<region>.amazonaws.com/bucket
    return bucket, prefix.strip("/")
