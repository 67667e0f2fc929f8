"""S3 locations as users give them (``s3://bucket/key-or-prefix``): the one parser and joiner. Pure."""

from __future__ import annotations

from airflow_a2i.exceptions import A2IValidationError

S3_BUCKET = r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"  # compiled at first use (re caches it)


def is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith("s3://") and bool(value[5:].split("/", 1)[0])


def split_s3_uri(uri: object, what: str | None = None) -> tuple[str, str]:
    """``(bucket, key or prefix without slashes at the ends)`` of ``s3://bucket/...``, or an error saying what to give.

    :param what: the parameter the URI was given as, named in the error; None names the value only.
    """
    if not is_s3_uri(uri):
        if what is None:
            raise A2IValidationError(f"{uri!r} is not an S3 location: give it as s3://bucket/prefix")
        raise A2IValidationError(f"{what} must be an s3://bucket/prefix URI, not {uri!r}")
    bucket, _, rest = str(uri)[5:].partition("/")
    return bucket, rest.strip("/")


def join_s3_uri(uri: str, *parts: str) -> str:
    """``s3://bucket/prefix`` and parts, one slash between each."""
    return "/".join([uri.rstrip("/"), *(part.strip("/") for part in parts)])
