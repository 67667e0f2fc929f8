"""Documents of a batch: listing an input prefix, chunk manifests for mapping, splitting PDFs into pages.

Listings skip the local service's stored analyses (``*.textract.json``, ``*.rekognition.json``) and the
run's working prefix, so a rerun or the next day's run never takes them for documents.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from airflow_a2i.s3_uris import join_s3_uri, split_s3_uri
from airflow_a2i.stored_analyses import ANALYSIS_SUFFIXES, SOURCE_DOCUMENT, SOURCE_PAGE

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

# Where a page came from, on every page object the splitter writes (the local service reads it too).


def list_documents(s3_hook: S3Hook, input_s3_uri: str, *, skip_prefixes: tuple[str, ...] = ()) -> list[str]:
    """``s3://`` URIs of the documents under a prefix, sorted, without analyses or working files."""
    bucket, prefix = split_s3_uri(input_s3_uri)
    keys = s3_hook.list_keys(bucket_name=bucket, prefix=f"{prefix}/" if prefix else "") or []
    skipped = tuple(split_s3_uri(uri)[1] + "/" for uri in skip_prefixes if split_s3_uri(uri)[0] == bucket)
    return [f"s3://{bucket}/{key}" for key in sorted(keys)
            if not key.endswith(ANALYSIS_SUFFIXES) and not key.endswith("/") and not key.startswith(skipped)]


def write_chunks(s3_hook: S3Hook, documents: list[str], chunks_s3_uri: str, chunk_size: int) -> list[str]:
    """Write the documents as JSON Lines chunk manifests (``chunk-00000.jsonl``...); returns their URIs."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    uris = []
    for number, start in enumerate(range(0, len(documents), chunk_size)):
        uri = join_s3_uri(chunks_s3_uri, f"chunk-{number:05d}.jsonl")
        body = "".join(json.dumps({"document": document}) + "\n" for document in documents[start:start + chunk_size])
        s3_hook.load_string(body, key=uri, replace=True)
        uris.append(uri)
    return uris


def read_chunk(s3_hook: S3Hook, chunk_s3_uri: str) -> list[str]:
    bucket, key = split_s3_uri(chunk_s3_uri)
    return [json.loads(line)["document"] for line in s3_hook.read_key(key, bucket_name=bucket).splitlines()
            if line.strip()]


def is_pdf(key: str) -> bool:
    return key.lower().endswith(".pdf")


def split_pdf(data: bytes) -> list[bytes]:
    """Each page of a PDF as a PDF of its own."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(data))
    pages = []
    for page in reader.pages:
        writer = PdfWriter()
        writer.add_page(page)
        buffer = io.BytesIO()
        writer.write(buffer)
        pages.append(buffer.getvalue())
    return pages


def page_key(work_prefix: str, document_uri: str, page: int) -> str:
    """Where page ``page`` (1-based) of a document goes under the working prefix."""
    bucket, key = split_s3_uri(document_uri)
    return f"{work_prefix.strip('/')}/pages/{bucket}/{key}/page-{page:04d}.pdf"


def write_pages(s3_hook: S3Hook, document_uri: str, work_s3_uri: str) -> list[dict[str, Any]]:
    """Split a PDF into single-page PDFs under the working prefix; returns ``[{"page", "s3_uri"}]``."""
    bucket, key = split_s3_uri(document_uri)
    work_bucket, work_prefix = split_s3_uri(work_s3_uri)
    data = s3_hook.get_key(key, bucket_name=bucket).get()["Body"].read()
    pages = []
    for number, body in enumerate(split_pdf(data), start=1):
        target = page_key(work_prefix, document_uri, number)
        s3_hook.get_conn().put_object(Bucket=work_bucket, Key=target, Body=body, ContentType="application/pdf",
                                      Metadata={SOURCE_DOCUMENT: document_uri, SOURCE_PAGE: str(number)})
        pages.append({"page": number, "s3_uri": f"s3://{work_bucket}/{target}"})
    return pages
