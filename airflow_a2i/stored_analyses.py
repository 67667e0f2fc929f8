"""Where a document's recorded analysis lies for the local service: beside the document, one naming for all.

The local service answers Textract and Rekognition with responses recorded in S3 beside each object:
``<key>.textract.json`` or ``<key>.rekognition.json``; for a page the pipeline split from a PDF (its S3 metadata
``a2i-source-document`` and ``a2i-source-page``), ``<source key>.page-PPPP.textract.json`` beside the source
document. Document listings skip these files. Pure: the demo's samples, the pipeline's page splitting and the
local service all name them through here.
"""

from __future__ import annotations

ANALYSIS_SUFFIX = {"textract": ".textract.json", "rekognition": ".rekognition.json"}
ANALYSIS_SUFFIXES = tuple(ANALYSIS_SUFFIX.values())
# S3 user metadata of a page split from a document: which document, which page (1-based).
SOURCE_DOCUMENT = "a2i-source-document"
SOURCE_PAGE = "a2i-source-page"


def whole_document_analysis_key(document_key: str, service: str = "textract") -> str:
    return document_key + ANALYSIS_SUFFIX[service]


def page_analysis_key(document_key: str, page_number: int, service: str = "textract") -> str:
    """The analysis of page ``page_number`` (1-based) of a document split into pages."""
    if page_number < 1:
        raise ValueError(f"page numbers start at 1, not {page_number}")
    return f"{document_key}.page-{page_number:04d}{ANALYSIS_SUFFIX[service]}"
