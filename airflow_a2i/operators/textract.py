"""Textract ``AnalyzeDocument`` with an optional A2I human loop (``HumanLoopConfig``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import TEXTRACT_RETRYABLE
from airflow_a2i.batching import Progress, RateLimiter, call_with_backoff, run_bounded
from airflow_a2i.documents import is_pdf, list_documents, read_chunk, write_pages
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.hooks.textract import TextractHook
from airflow_a2i.manifest import (
    ManifestRecord,
    ManifestWriter,
    batch_start_time,
    read_manifest,
    task_manifest_uri,
)
from airflow_a2i.mixins import S3HookMixin
from airflow_a2i.names import deterministic_loop_name, run_hash
from airflow_a2i.operators.batch import CREATION_SKEW_SECONDS
from airflow_a2i.operators.built_in import BuiltInAnalysisOperator, started_loop_activation
from airflow_a2i.preflight import check_cors, check_flow_definition, check_region
from airflow_a2i.request_sources import TEXTRACT_SOURCE
from airflow_a2i.s3_uris import split_s3_uri
from airflow_a2i.validation import (
    check_literal_part,
    is_templated,
    validate_content_classifiers,
    validate_flow_definition_arn,
)

if TYPE_CHECKING:
    from airflow.sdk import Context



def document_uris(documents: object) -> list[str]:
    """``documents`` (an ``s3://`` URI or a list of them) as a list, each checked."""
    listed = [documents] if isinstance(documents, str) else documents
    if isinstance(listed, Mapping) or not isinstance(listed, Iterable):
        raise A2IValidationError(f"documents must be a list of s3:// URIs, not {type(documents).__name__}")
    uris = list(listed)
    for uri in uris:
        try:
            split_s3_uri(uri)
        except ValueError as error:
            raise A2IValidationError(f"documents: {error}") from None
    return uris


class TextractAnalyzeDocumentOperator(BuiltInAnalysisOperator):
    """
    Analyse one single-page document in S3 with Textract; A2I starts a review when the conditions hold.

    Only the synchronous ``AnalyzeDocument`` takes a human loop, and it takes one page: split PDFs into
    pages first. The full response goes to ``analysis_output_s3_uri``; XCom gets ``HumanLoopStarted``,
    ``HumanLoopName``, ``HumanLoopArn``, ``HumanLoopActivationReasons``, ``AnalysisS3Uri`` and ``Document``.
    A retry adopts the loop its earlier attempt started.

    :param feature_types: Textract feature types (default ``["FORMS"]``; A2I reviews forms).

    See :class:`~airflow_a2i.operators.built_in.BuiltInAnalysisOperator` for the other parameters.
    """

    aws_hook_class = TextractHook
    service = "textract"
    request_source = TEXTRACT_SOURCE
    document_member = "Document"

    def __init__(self, *, feature_types: Sequence[str] = ("FORMS",), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_types = list(feature_types)

    def analyze(self, loop_config: dict[str, Any] | None) -> dict[str, Any]:
        request: dict[str, Any] = {"Document": {"S3Object": {"Bucket": self.s3_bucket, "Name": self.s3_key}},
                                   "FeatureTypes": self.feature_types}
        if loop_config:
            request["HumanLoopConfig"] = loop_config
        return self.hook.conn.analyze_document(**request)


class TextractAnalyzeDocumentBatchOperator(S3HookMixin, AwsBaseOperator[TextractHook]):
    """
    Analyse a batch of documents with Textract, each page with the flow definition's human loop config.

    Documents come from an input prefix, a chunk manifest (JSON Lines of ``{"document": "s3://..."}``,
    what dynamic task mapping should map over) or a list. Multi-page PDFs are split into single-page
    PDFs under ``work_s3_uri`` (never beside the input), since AnalyzeDocument takes one page; every
    page is one item, keyed ``s3://bucket/key#page=N``. Analyses go to ``<work_s3_uri>/analyses/``. A
    manifest records each item as it goes; a retry resumes from it and adopts loops that an earlier
    attempt started but did not record. XCom carries the manifest's URI and counts.

    :param flow_definition_arn: a Textract (``AWS/Textract/AnalyzeDocument/Forms/V1``) flow definition. (templated)
    :param work_s3_uri: the run's working prefix for pages and analyses. (templated)
    :param manifest_s3_uri: where this task's manifest goes (a mapped task adds ``/map-<index>``). (templated)
    :param input_s3_uri: a prefix to list documents under; or (templated)
    :param documents_s3_uri: a chunk manifest; or (templated)
    :param documents: a list of ``s3://`` URIs. (templated)
    :param feature_types: Textract feature types. (default ``["FORMS"]``)
    :param content_classifiers: for every loop.
    :param check_cors: check the input buckets' CORS rule for A2I's worker UI. (default True)
    :param max_concurrency: documents in flight at once. (default 4)
    :param requests_per_second: client-side limit on AnalyzeDocument calls. (default: none)
    :param fail_on_empty: fail when there are no documents. (default True)
    :param fail_on_item_error: after recording every item, fail when some could not be analysed. (default True)
    """

    aws_hook_class = TextractHook
    template_fields: Sequence[str] = aws_template_fields(
        "flow_definition_arn", "work_s3_uri", "manifest_s3_uri", "input_s3_uri", "documents_s3_uri", "documents",
        "content_classifiers")
    ui_color = "#f0e4ff"

    def __init__(self, *, flow_definition_arn: str, work_s3_uri: str, manifest_s3_uri: str,
                 input_s3_uri: str | None = None, documents_s3_uri: str | None = None, documents: Any = None,
                 feature_types: Sequence[str] = ("FORMS",), content_classifiers: list[str] | None = None,
                 check_cors: bool = True, max_concurrency: int = 4, requests_per_second: float | None = None,
                 fail_on_empty: bool = True, fail_on_item_error: bool = True, flush_every: int = 100,
                 flush_seconds: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if sum(source is not None for source in (input_s3_uri, documents_s3_uri, documents)) != 1:
            raise A2IValidationError("Give exactly one of input_s3_uri (a prefix), documents_s3_uri (a chunk "
                                     "manifest) and documents (a list of s3:// URIs)")
        self.flow_definition_arn = flow_definition_arn
        self.work_s3_uri = work_s3_uri
        self.manifest_s3_uri = manifest_s3_uri
        self.input_s3_uri = input_s3_uri
        self.documents_s3_uri = documents_s3_uri
        self.documents = documents
        self.feature_types = list(feature_types)
        self.content_classifiers = content_classifiers
        self.check_cors = check_cors
        self.max_concurrency = max_concurrency
        self.requests_per_second = requests_per_second
        self.fail_on_empty = fail_on_empty
        self.fail_on_item_error = fail_on_item_error
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        if not is_templated(flow_definition_arn):
            validate_flow_definition_arn(flow_definition_arn)
        check_literal_part(content_classifiers, validate_content_classifiers)
        if documents is not None:
            check_literal_part(documents, document_uris)

    @cached_property
    def a2i_hook(self) -> A2IHook:
        return A2IHook(**self._hook_parameters)

    def _documents(self) -> list[str]:
        if self.input_s3_uri is not None:
            return list_documents(self.s3_hook, self.input_s3_uri, skip_prefixes=(self.work_s3_uri,))
        if self.documents_s3_uri is not None:
            return read_chunk(self.s3_hook, self.documents_s3_uri)
        return document_uris(self.documents)

    def _preflight(self, documents: list[str], classifiers: list[str]) -> None:
        from airflow_a2i.hooks.a2i import A2IFlowDefinitionHook

        check_flow_definition(A2IFlowDefinitionHook(**self._hook_parameters).conn, self.flow_definition_arn,
                              classifiers, TEXTRACT_SOURCE)
        for bucket in sorted({split_s3_uri(document)[0] for document in documents}):
            check_region(self.s3_hook.conn, bucket, self.flow_definition_arn)
            if self.check_cors:
                check_cors(self.s3_hook.conn, bucket)

    def execute(self, context: Context) -> dict[str, Any]:
        validate_flow_definition_arn(self.flow_definition_arn)
        split_s3_uri(self.work_s3_uri)
        classifiers = validate_content_classifiers(self.content_classifiers)
        documents = self._documents()
        if not documents and self.fail_on_empty:
            raise A2IValidationError("No documents to analyse: check the input, or set fail_on_empty=False for "
                                     "days without documents")
        self._preflight(documents, classifiers)
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        manifest_uri = task_manifest_uri(self.manifest_s3_uri, map_index)
        recorded = read_manifest(self.s3_hook, manifest_uri)
        created_after = batch_start_time(recorded, CREATION_SKEW_SECONDS)
        existing = {loop["HumanLoopName"] for loop in self.a2i_hook.list_human_loops(
            self.flow_definition_arn, created_after=datetime.fromtimestamp(created_after, UTC))}
        writer = ManifestWriter(self.s3_hook, manifest_uri, flush_every=self.flush_every,
                                flush_seconds=self.flush_seconds, attempt=f"try{ti.try_number}")
        progress = Progress(len(documents), self.log, "documents")
        limiter = RateLimiter(self.requests_per_second)
        lock = threading.Lock()

        def name_of(item_key: str) -> str:
            return deterministic_loop_name(ti.dag_id, context["run_id"], ti.task_id, item_key=item_key)

        def process(document: str) -> list[ManifestRecord]:
            records = self._process(document, recorded, existing, name_of, classifiers, limiter, created_after)
            with lock:
                for record in records:
                    if record.item_key not in recorded or record.error:
                        writer.add(record)
            progress.count("error" if any(record.error for record in records) else "done")
            return records

        results = [record for records in run_bounded(process, documents, self.max_concurrency) for record in records]
        progress.report()
        summary = {
            "manifest_uri": manifest_uri, "flow_definition_arn": self.flow_definition_arn,
            "run_hash": run_hash(ti.dag_id, context["run_id"], ti.task_id), "documents": len(documents),
            "items": len(results), "loops": sum(1 for record in results if record.human_loop_started),
            "adopted": sum(1 for record in results if record.extra.get("adopted")),
            "errors": sum(1 for record in results if record.error), "created_after": created_after,
        }
        writer.complete(summary)
        errors = [record for record in results if record.error]
        if errors and self.fail_on_item_error:
            raise A2IValidationError(f"{len(errors)} page(s) could not be analysed, recorded in {manifest_uri}; a "
                                     f"retry analyses only those. First: {errors[0].item_key}: {errors[0].error}")
        return summary

    def _process(self, document: str, recorded: dict[str, ManifestRecord], existing: set[str],
                 name_of: Any, classifiers: list[str], limiter: RateLimiter,
                 created_after: float) -> list[ManifestRecord]:
        """Every page of one document: from the manifest when recorded, else analysed now."""
        done = [record for record in recorded.values() if record.document == document and not record.error]
        _, key = split_s3_uri(document)
        if done and (not is_pdf(key) or len(done) == done[0].extra.get("pages", len(done))):
            return done
        try:
            pages: list[dict[str, Any]] = write_pages(self.s3_hook, document, self.work_s3_uri) if is_pdf(key) \
                else [{"page": None, "s3_uri": document}]
        except Exception as error:  # an unreadable PDF is this document's problem, not the batch's
            return [ManifestRecord(item_key=document, document=document, error=f"cannot split: {error}")]
        records = []
        for page in pages:
            item_key = document if page["page"] is None else f"{document}#page={page['page']}"
            if item_key in recorded and not recorded[item_key].error:
                records.append(recorded[item_key])
                continue
            record = ManifestRecord(item_key=item_key, document=document, page=page["page"],
                                    extra={"created_after": created_after, "pages": len(pages)})
            records.append(self._analyze_page(record, page["s3_uri"], name_of(item_key), existing, classifiers,
                                              limiter))
        return records

    def _analyze_page(self, record: ManifestRecord, page_uri: str, name: str, existing: set[str],
                      classifiers: list[str], limiter: RateLimiter) -> ManifestRecord:
        bucket, key = split_s3_uri(page_uri)
        request: dict[str, Any] = {"Document": {"S3Object": {"Bucket": bucket, "Name": key}},
                                   "FeatureTypes": self.feature_types}
        adopted = name in existing  # an earlier attempt started it: never send the name again
        if not adopted:
            request["HumanLoopConfig"] = {"HumanLoopName": name, "FlowDefinitionArn": self.flow_definition_arn}
            if classifiers:
                request["HumanLoopConfig"]["DataAttributes"] = {"ContentClassifiers": classifiers}

        def call() -> dict[str, Any]:
            limiter.acquire()
            return self.hook.conn.analyze_document(**request)

        try:
            response = call_with_backoff(call, TEXTRACT_RETRYABLE)
        except ClientError as error:
            record.error = str(error)
            return record
        activation = started_loop_activation(response)
        work_bucket, work_prefix = split_s3_uri(self.work_s3_uri)
        record.analysis_s3_uri = f"s3://{work_bucket}/{work_prefix}/analyses/{name}.json"
        body = {field: value for field, value in response.items() if field != "ResponseMetadata"}
        self.s3_hook.load_string(json.dumps(body), key=record.analysis_s3_uri, replace=True)
        if activation or adopted:
            record.human_loop_name = name
            record.human_loop_started = True
            record.reasons = list((activation or {}).get("HumanLoopActivationReasons", []))
            record.extra["adopted"] = adopted
        return record
