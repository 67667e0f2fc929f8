"""The service's own access to moto's in-process S3 backend: buckets to restore, outputs to write."""

from __future__ import annotations

from urllib.parse import urlparse

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

ACCOUNT_ID = DEFAULT_ACCOUNT_ID  # S3, SQS, EventBridge and A2I all answer for moto's default account


def _backend():
    return s3_backends[ACCOUNT_ID]["aws"]


def buckets() -> dict[str, str]:
    """Bucket name -> Region of every bucket S3 holds now."""
    return {name: bucket.region_name for name, bucket in _backend().buckets.items()}


def bucket_exists(name: str) -> bool:
    return name in _backend().buckets


def bucket_region(name: str) -> str:
    return _backend().buckets[name].region_name


def ensure_bucket(name: str, region: str) -> None:
    if not bucket_exists(name):
        _backend().create_bucket(name, region)


def put_object(bucket: str, key: str, body: bytes) -> None:
    _backend().put_object(bucket, key, body)


def get_object(bucket: str, key: str) -> bytes | None:
    found = _backend().get_object(bucket, key)
    return None if found is None else bytes(found.value)


def get_user_metadata(bucket: str, key: str) -> dict[str, str]:
    """An object's user metadata (``x-amz-meta-*``), names lowercased without the prefix."""
    found = _backend().get_object(bucket, key)
    if found is None:
        return {}
    return {name.lower().removeprefix("x-amz-meta-"): str(value) for name, value in found.metadata.items()
            if name.lower().startswith("x-amz-meta-")}


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
