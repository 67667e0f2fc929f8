"""Read the outputs of human loops and write them to S3 as JSON Lines, with a summary."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException
from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import S3_NOT_FOUND_CODES, error_code
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.mixins import S3HookMixin
from airflow_a2i.names import validate_human_loop_name
from airflow_a2i.s3_uris import S3_BUCKET, split_s3_uri
from airflow_a2i.validation import check_known_part, check_literal_part, is_templated, literal_entries
from airflow_a2i.waiting.policies import MISSING, OPEN_STATES
from airflow_a2i.xcom_values import plain_lists

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.common.compat.sdk import Asset
    from airflow.sdk import Context, XComArg

    from airflow_a2i.results import HumanLoopOutput

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
#: Version of the results and summary layout, written into the summary; bumped on incompatible changes.
RESULTS_FORMAT = "airflow-a2i.results/1"
OUTPUT_URI_EXAMPLE = "s3://my-bucket/a2i-results/{{ run_id }}"


@dataclass(frozen=True)
class ResultItem:
    """One reviewed item: its key, the loop that reviewed it (None when it needed no review) and, for built-in
    task types, where the machine's full result is (``AnalysisS3Uri`` of the Textract and Rekognition
    operators)."""

    item_key: str | None
    human_loop_name: str | None
    machine_result_s3_uri: str | None = None
    # From a batch's manifest: the document, the page of it, and why A2I started the loop.
    document: str | None = None
    page: int | None = None
    review_reasons: tuple[str, ...] | None = None

    @classmethod
    def from_manifest(cls, record: Any) -> ResultItem:
        started = record.human_loop_started and record.human_loop_name
        return cls(item_key=record.item_key, human_loop_name=record.human_loop_name if started else None,
                   machine_result_s3_uri=record.analysis_s3_uri, document=record.document, page=record.page,
                   review_reasons=tuple(record.reasons) if started else None)


def parse_output_s3_uri(uri: object) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (trailing slashes dropped), or a clear error."""
    if not isinstance(uri, str) or not uri:
        raise A2IValidationError(f"output_s3_uri must be an s3:// URI such as {OUTPUT_URI_EXAMPLE!r}, "
                                 f"not {uri!r}")
    if not uri.startswith("s3://"):
        raise A2IValidationError(f"output_s3_uri {uri!r} must start with 's3://': give a bucket and a prefix "
                                 f"such as {OUTPUT_URI_EXAMPLE!r}")
    bucket, prefix = split_s3_uri(uri, "output_s3_uri")
    if not S3_BUCKET.fullmatch(bucket):
        raise A2IValidationError(f"output_s3_uri {uri!r}: {bucket!r} is not an S3 bucket name (3 to 63 lowercase "
                                 "letters, digits, dots and hyphens)")
    if not prefix:
        raise A2IValidationError(
            f"output_s3_uri {uri!r} has no prefix: add one, so that runs do not overwrite each other's "
            f"{RESULTS_FILE} and {SUMMARY_FILE} (for example {OUTPUT_URI_EXAMPLE!r})"
        )
    return bucket, prefix


def _loop_name(name: object, where: str) -> str:
    try:
        return validate_human_loop_name(name)
    except A2IValidationError as error:
        raise A2IValidationError(f"{where}: {error}") from None


def _machine_uri(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    uri = entry.get(key)
    if uri is not None and (not isinstance(uri, str) or not uri.startswith("s3://")):
        raise A2IValidationError(f"{where}.{key} must be an s3:// URI of the machine's result, not {uri!r}")
    return uri


def _item(entry: object, index: int) -> ResultItem:
    where = f"human_loops[{index}]"
    if isinstance(entry, str):
        return ResultItem(item_key=entry, human_loop_name=_loop_name(entry, where))
    if isinstance(entry, Mapping):
        machine = None
        if "human_loop_name" in entry:
            name = entry["human_loop_name"]
            item_key = entry.get("item_key")
            if name is None and item_key is None:
                raise A2IValidationError(f"{where} has neither an item_key nor a human_loop_name: give at least "
                                         "one (human_loop_name None means the item needed no review)")
            name = None if name is None else _loop_name(name, where)
            machine = _machine_uri(entry, "machine_result_s3_uri", where)
        elif "HumanLoopName" in entry:  # what A2IStartHumanLoopOperator, or a built-in operator, returns
            name = entry["HumanLoopName"]
            # The Textract and Rekognition operators: HumanLoopName None when A2I started no loop.
            item_key = entry.get("item_key", entry.get("Document", name))
            if name is None and item_key is None:
                raise A2IValidationError(f"{where} has HumanLoopName None and no Document or item_key: nothing "
                                         "identifies the item")
            name = None if name is None else _loop_name(name, where)
            machine = _machine_uri(entry, "AnalysisS3Uri", where)
        else:
            raise A2IValidationError(f"{where} is a dict without 'human_loop_name' or 'HumanLoopName' "
                                     f"(it has {sorted(map(str, entry))}); give "
                                     "{'item_key': ..., 'human_loop_name': ...}")
        if item_key is not None and not isinstance(item_key, str | int):
            raise A2IValidationError(f"{where}: item_key must be a string, not {type(item_key).__name__}")
        return ResultItem(item_key=None if item_key is None else str(item_key), human_loop_name=name,
                          machine_result_s3_uri=machine)
    raise A2IValidationError(
        f"{where} is {type(entry).__name__}: each entry is a loop name, a dict "
        "{'item_key': ..., 'human_loop_name': ..., 'machine_result_s3_uri'?: ...}, or what an A2I start, "
        "Textract or Rekognition operator returned (with HumanLoopName)"
    )


def parse_human_loops(human_loops: object, *, skip_templated: bool = False) -> list[ResultItem]:
    """The items of ``human_loops``: a list (or any sequence, such as a mapped task's XCom) of entries.

    ``skip_templated``: at DAG parse time, leave out the entries with a template or an XComArg in them.
    """
    human_loops = plain_lists(human_loops)  # a mapped task's output: read in one request, not item by item
    if isinstance(human_loops, str):
        try:
            decoded = json.loads(human_loops)
        except ValueError:
            decoded = None
        if not isinstance(decoded, list):
            raise A2IValidationError(
                f"human_loops must be a list, not the string {human_loops[:80]!r}: pass [name, ...] or a task's "
                "output (start_task.output); a Jinja template renders to a string unless the DAG has "
                "render_template_as_native_obj=True"
            )
        human_loops = decoded
    if isinstance(human_loops, Mapping) or not isinstance(human_loops, Iterable):
        raise A2IValidationError(f"human_loops must be a list of loop names or of dicts, not "
                                 f"{type(human_loops).__name__}: wrap a single entry in a list")
    entries = literal_entries(human_loops) if skip_templated else enumerate(human_loops)
    return [_item(entry, index) for index, entry in entries]


def answer_field_names(fields: object) -> list[str]:
    """``expected_answer_fields`` as a list of the template's form field names, or a clear error."""
    names = [] if isinstance(fields, str) or not isinstance(fields, Iterable) else list(fields)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise A2IValidationError(f"expected_answer_fields must be a non-empty list of the template's form field "
                                 f"names, such as template_field_names(template), not {fields!r}")
    return names


def _airflow_refuses_inactive_outlets() -> bool:
    """Airflow 3 fails a task whose static outlet asset is not active; Airflow 2 has no such check."""
    from airflow import __version__

    return int(__version__.split(".")[0]) >= 3


def _is_asset_alias(outlet: object) -> bool:
    from airflow.providers.common.compat.sdk import AssetAlias  # DatasetAlias on Airflow 2

    return isinstance(outlet, AssetAlias)


def check_results_asset(outlets: Iterable[object] | None, results_asset: object) -> None:
    """``results_asset`` is an asset, announced through an alias outlet; an alias outlet has an asset to announce."""
    from airflow.providers.common.compat.sdk import Asset  # Dataset on Airflow 2

    aliases = [outlet for outlet in outlets or [] if _is_asset_alias(outlet)]
    if results_asset is not None and not isinstance(results_asset, Asset):
        raise A2IValidationError(f"results_asset must be an Asset, such as Asset(uri='s3://bucket/reviewed'), not "
                                 f"{results_asset!r:.200}")
    if results_asset is not None and not aliases:
        raise A2IValidationError("results_asset is announced through an AssetAlias outlet: add "
                                 "outlets=[AssetAlias(name='...')], a name downstream DAGs can also schedule on")
    if aliases and results_asset is None:
        raise A2IValidationError(f"The outlet AssetAlias {getattr(aliases[0], 'name', aliases[0])!r} has no asset to "
                                 "announce the results as: give results_asset=Asset(uri='s3://...')")


class A2IHumanLoopResultsOperator(S3HookMixin, AwsBaseOperator[A2IHook]):
    """
    Read the output.json of human loops and write the results to S3: JSON Lines and a summary.

    Each item gives one line of ``<output_s3_uri>/results.jsonl``: ``item_key``, ``human_loop_name``,
    ``human_loop_arn``, ``status`` (A2I's, or ``Missing`` when no loop of that name exists),
    ``failure_code``, ``failure_reason``, ``output_s3_uri``, ``output_error`` (why a Completed loop's
    output could not be read), ``answers`` (``worker_id``, ``submission_time``, ``time_spent_in_seconds``,
    ``answer``), ``consolidated_answer`` (majority per answer field), ``agreement`` and ``ties``. The loop
    columns are null for an item that needed no loop. ``<output_s3_uri>/summary.json`` holds the counts.
    Only the URIs and counts go to XCom.

    Built-in task types (Textract ``AnalyzeDocument``, Rekognition ``DetectModerationLabels``) get the
    people's corrections merged into the machine's result, in more columns (null otherwise):
    ``request_source`` (the loop's ``awsManagedHumanLoopRequestSource``, or the analysis' kind),
    ``machine_result_s3_uri`` (the item's ``AnalysisS3Uri``), for Textract ``fields`` (see
    :func:`airflow_a2i.results.textract_fields`: ``key``, ``machine_value``, ``machine_confidence``,
    ``human_value``, ``reviewed``, ``corrected``), for Rekognition ``labels`` (see
    :func:`airflow_a2i.results.moderation_labels`: ``name``, ``parent_name``, ``machine_confidence``,
    ``kept_by_reviewer``) and ``final_labels`` (the names that stand). The machine's result is the
    loop's ``aiServiceResponse``, or, for items without a (completed) loop, the JSON at
    ``machine_result_s3_uri``. The consolidated answer (majority of the workers) is what is merged.

    :param human_loops: the loops to read: a list of loop names, of dicts ``{"item_key", "human_loop_name",
        "machine_result_s3_uri"?}`` (``human_loop_name`` None for an item that needed no review), or of what
        ``A2IStartHumanLoopOperator``, ``TextractAnalyzeDocumentOperator`` or
        ``RekognitionDetectModerationLabelsOperator`` returned (dicts with ``HumanLoopName``; for the last two
        the item key is the ``Document`` and the machine's result its ``AnalysisS3Uri``). (templated)
    :param manifests: instead of ``human_loops``, a batch: what ``A2IStartHumanLoopBatchOperator`` or
        ``TextractAnalyzeDocumentBatchOperator`` returned (a summary, or a mapped task's list of them) or manifest
        URIs. One line per item (a page), items without a loop included, with ``document``, ``page`` and
        ``review_reasons``. (templated)
    :param output_s3_uri: the prefix to write to, ``s3://bucket/prefix``; include the run in it
        (``{{ run_id }}``) so that runs do not overwrite each other. (templated)
    :param delete_finished_loops: retention: once the results are written, delete the loops that are
        finished and read (Completed with a readable output, Failed, Stopped). Their output.json stays in S3.
    :param fail_on_missing_output: fail the task (after writing the results) when a loop is missing, still
        open, or Completed without a readable output.json. Failed and Stopped loops never fail it.
        (default False: they are reported)
    :param expected_answer_fields: the worker template's form field names (``template_field_names(template)``):
        a custom task's answer with another top-level field gets an ``output_error`` naming it (its answers
        are kept), e.g. when the loop was reviewed with another template. (default None: not checked; templated)
    :param max_concurrency: loops read at once (DescribeHumanLoop and the output.json), with backoff on
        throttling. (default 8)
    :param results_asset: an ``Asset`` to announce the results as, through the task's ``AssetAlias`` outlet
        (``outlets=[AssetAlias(name=...)]``): its event gets ``results_uri``, ``items`` and ``loops`` as extra,
        as a static outlet asset's does. Use it for an asset whose URI comes from configuration: Airflow fails
        a task whose static outlet asset is not active yet, as under ``airflow dags test``, where no DAG
        processor activated it (apache/airflow#51644), or after the URI changed; an alias is resolved when the
        event is emitted. Downstream DAGs schedule on the asset or on the alias. On Airflow 2, which checks no
        outlet, the asset replaces the alias as a static outlet. (default None)
    :return: ``{"results_uri", "summary_uri", "items", "loops", "statuses", "answers"}``
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields("human_loops", "manifests", "output_s3_uri",
                                                         "expected_answer_fields")
    template_fields_renderers: ClassVar[dict] = {"human_loops": "json"}
    ui_color = "#e4f0ff"

    def __init__(
        self,
        *,
        output_s3_uri: str,
        human_loops: Sequence[str | Mapping[str, Any]] | str | XComArg | None = None,
        manifests: Any = None,
        fail_on_missing_output: bool = False,
        delete_finished_loops: bool = False,
        max_concurrency: int = 8,
        expected_answer_fields: Sequence[str] | None = None,
        results_asset: Asset | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_results_asset(self.outlets, results_asset)
        self.results_asset = results_asset
        if results_asset is not None and not _airflow_refuses_inactive_outlets():
            # Airflow 2 never refuses a static outlet, and its `airflow dags test` cannot announce through an
            # alias it has not registered: there the asset is the outlet, as it always was.
            self.outlets = [results_asset if _is_asset_alias(outlet) else outlet for outlet in self.outlets]
        self.delete_finished_loops = delete_finished_loops
        self.max_concurrency = max_concurrency
        self.expected_answer_fields = expected_answer_fields
        if (human_loops is None) == (manifests is None):
            raise A2IValidationError("Give exactly one of human_loops (loops or start results) and manifests (what "
                                     "batch start tasks return, or manifest URIs)")
        self.human_loops = human_loops
        self.manifests = manifests
        self.output_s3_uri = output_s3_uri
        self.fail_on_missing_output = fail_on_missing_output
        self._validate(rendered=False)

    def _validate(self, *, rendered: bool) -> tuple[list[ResultItem] | None, tuple[str, str] | None]:
        """Check what can be checked: everything once rendered; at DAG parse time the literal values, and the
        literal members of lists."""
        items = uri = None
        if self.manifests is not None:
            if rendered:
                items = self._manifest_items()
            else:
                from airflow_a2i.manifest import manifest_sources  # only batch DAGs pay for it at parse time

                check_literal_part(self.manifests, lambda literal: manifest_sources(literal, "manifests"))
        elif rendered:
            items = parse_human_loops(self.human_loops)
        elif not is_templated(self.human_loops):
            parse_human_loops(self.human_loops, skip_templated=True)
        if self.expected_answer_fields is not None:
            check_known_part(self.expected_answer_fields, answer_field_names, rendered=rendered)
        if rendered or not is_templated(self.output_s3_uri):
            uri = parse_output_s3_uri(self.output_s3_uri)
        return items, uri

    def _manifest_items(self) -> list[ResultItem]:
        from airflow_a2i.manifest import manifest_sources, read_manifests

        records = read_manifests(self.s3_hook, manifest_sources(self.manifests, "manifests").uris)
        return [ResultItem.from_manifest(record) for _, record in sorted(records.items())]

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_a2i.batching import Progress, run_bounded  # run time only: DAG parsing does not pay for it

        items, uri = self._validate(rendered=True)
        assert items is not None and uri is not None
        if self.expected_answer_fields is not None:
            self.expected_answer_fields = answer_field_names(self.expected_answer_fields)
        bucket, prefix = uri
        s3 = self.s3_hook
        loops = list(dict.fromkeys(item.human_loop_name for item in items if item.human_loop_name))
        self.log.info("Reading the results of %d item(s), %d human loop(s)", len(items), len(loops))
        outputs: dict[str, HumanLoopOutput] = {}  # loop name -> its parsed output.json, when read
        progress = Progress(len(loops), self.log, "human loops read")
        s3.get_conn(), self.hook.conn  # the (thread-safe) clients, made once before the pool uses them

        def read_loop(name: str) -> dict[str, Any]:
            columns = self._loop_columns(name, s3, outputs)
            progress.count(str(columns["status"]))
            return columns

        # loop name -> its columns (a name may appear twice in the items)
        read = dict(zip(loops, run_bounded(read_loop, loops, self.max_concurrency), strict=True))
        progress.report()
        rows: list[dict[str, Any]] = []
        results_key, summary_key = f"{prefix}/{RESULTS_FILE}", f"{prefix}/{SUMMARY_FILE}"
        with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as results:
            for item in items:
                name = item.human_loop_name
                row = {"item_key": item.item_key, "human_loop_name": name,
                       **(read[name] if name is not None else _no_loop_columns())}
                if item.document is not None:
                    row.update(document=item.document, page=item.page,
                               review_reasons=list(item.review_reasons) if item.review_reasons else None)
                row.update(self._built_in_columns(item, row, outputs.get(name) if name else None, s3))
                results.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
                rows.append(_summary_facts(row))
            results.flush()
            s3.load_file(results.name, key=results_key, bucket_name=bucket, replace=True)
        results_uri, summary_uri = f"s3://{bucket}/{results_key}", f"s3://{bucket}/{summary_key}"
        summary = summarize(rows, results_uri)
        s3.load_string(json.dumps(summary, indent=2), key=summary_key, bucket_name=bucket, replace=True)
        self.log.info("Wrote %s and %s: %s", results_uri, summary_uri, summary["statuses"])
        self._announce(context, results_uri, summary)
        if self.delete_finished_loops:
            self._delete_finished(rows)
        self._fail_on_missing(rows)
        return {"results_uri": results_uri, "summary_uri": summary_uri, "items": summary["items"],
                "loops": summary["loops"], "statuses": summary["statuses"], "answers": summary["answers"]}

    def _delete_finished(self, rows: list[dict[str, Any]]) -> None:
        """Retention: delete the loops whose results are now in S3 (their output.json stays where A2I wrote it)."""
        finished = sorted({row["human_loop_name"] for row in rows if row["human_loop_name"] and (
            row["status"] in ("Failed", "Stopped") or (row["status"] == "Completed" and row["output_error"] is None))})
        deleted = sum(self.hook.delete_human_loop(name) for name in finished)
        self.log.info("Deleted %d finished human loop(s) after reading their results", deleted)

    def _announce(self, context: Context, results_uri: str, summary: dict[str, Any]) -> None:
        """Tell downstream DAGs where this run's results are: in the event of each outlet asset, and of
        ``results_asset`` through each alias outlet."""
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        extra = {"results_uri": results_uri, "items": summary["items"], "loops": summary["loops"]}
        for outlet in getattr(self, "outlets", None) or []:
            if _is_asset_alias(outlet):
                if self.results_asset is not None:  # checked at construction: an alias outlet has one
                    events[outlet].add(self.results_asset, extra=extra)
            else:
                events[outlet].extra = extra

    def _loop_columns(self, name: str, s3: S3Hook, outputs: dict[str, HumanLoopOutput]) -> dict[str, Any]:
        from airflow_a2i.aws_errors import A2I_RETRYABLE
        from airflow_a2i.batching import call_with_backoff
        from airflow_a2i.results import OutputParseError, parse_output_json, unexpected_answer_fields

        described = call_with_backoff(lambda: self.hook.describe_human_loop(name), A2I_RETRYABLE)
        if described is None:
            return {**_no_loop_columns(), "status": MISSING}
        columns = {**_no_loop_columns(), "human_loop_arn": described.get("HumanLoopArn"),
                   "status": described["HumanLoopStatus"], "failure_code": described.get("FailureCode"),
                   "failure_reason": described.get("FailureReason"),
                   "output_s3_uri": (described.get("HumanLoopOutput") or {}).get("OutputS3Uri")}
        if columns["status"] != "Completed":
            return columns
        if not columns["output_s3_uri"]:
            columns["output_error"] = "DescribeHumanLoop gave no HumanLoopOutput.OutputS3Uri for a Completed loop"
            self.log.warning("Human loop %s: %s", name, columns["output_error"])
            return columns
        try:
            output = parse_output_json(self._read(s3, columns["output_s3_uri"]), columns["output_s3_uri"])
        except (FileNotFoundError, OutputParseError) as error:
            columns["output_error"] = str(error)
            self.log.warning("Human loop %s: %s", name, error)
            return columns
        if output.human_loop_name != name:  # a foreign output.json: another loop's, copied or misplaced
            columns["output_error"] = (f"the output {columns['output_s3_uri']} is that of human loop "
                                       f"{output.human_loop_name!r}, not of {name!r}: check the flow definition's "
                                       "S3OutputPath and what else writes under it")
            self.log.warning("Human loop %s: %s", name, columns["output_error"])
            return columns
        outputs[name] = output
        consolidation = output.consolidate()
        columns.update(
            answers=[{"worker_id": answer.worker_id, "submission_time": answer.submission_time,
                      "time_spent_in_seconds": answer.time_spent_in_seconds, "answer": answer.answer_content}
                     for answer in output.human_answers],
            consolidated_answer=consolidation.consolidated,
            agreement=consolidation.agreement,
            ties=consolidation.ties,
        )
        unexpected = unexpected_answer_fields(output, list(self.expected_answer_fields or [])) \
            if self.expected_answer_fields else []
        if unexpected:
            columns["output_error"] = (f"the answers have field(s) {unexpected} that the worker template does not "
                                       f"have (expected_answer_fields {self.expected_answer_fields}): the loop was "
                                       "answered with another template, or expected_answer_fields is out of date")
            self.log.warning("Human loop %s: %s", name, columns["output_error"])
        return columns

    def _built_in_columns(self, item: ResultItem, row: dict[str, Any], output: HumanLoopOutput | None,
                          s3: S3Hook) -> dict[str, Any]:
        """``request_source``, ``machine_result_s3_uri``, ``fields``, ``labels``, ``final_labels`` of one item."""
        from airflow_a2i.request_sources import REKOGNITION_SOURCE, TEXTRACT_SOURCE
        from airflow_a2i.results import (
            built_in_answer,
            final_labels,
            moderation_labels,
            response_source,
            textract_fields,
        )

        columns: dict[str, Any] = {"request_source": None, "machine_result_s3_uri": item.machine_result_s3_uri,
                                   "fields": None, "labels": None, "final_labels": None}
        machine, answer, shown = None, None, None
        if output is not None and output.ai_service_response is not None:
            columns["request_source"] = output.aws_managed_human_loop_request_source
            machine, shown = output.ai_service_response, output.selected_ai_service_response
        elif output is not None:
            columns["request_source"] = output.aws_managed_human_loop_request_source
        if machine is None and item.machine_result_s3_uri:
            try:
                machine = json.loads(self._read(s3, item.machine_result_s3_uri))
            except (FileNotFoundError, ValueError) as error:
                problem = f"the machine result {item.machine_result_s3_uri} could not be read: {error}"
                self.log.warning("Item %s: %s", item.item_key, problem)
                return {**columns, "output_error": row["output_error"] or problem}
        source = columns["request_source"] or response_source(machine)
        if machine is None or not isinstance(machine, dict) or source not in (TEXTRACT_SOURCE, REKOGNITION_SOURCE):
            return columns
        columns["request_source"] = source
        if output is not None and row["consolidated_answer"] is not None:
            answer = built_in_answer(row["consolidated_answer"], source)
        if source == TEXTRACT_SOURCE:
            columns["fields"] = textract_fields(machine, answer)
        else:
            labels = moderation_labels(machine, answer, shown)
            columns.update(labels=labels, final_labels=final_labels(labels))
        return columns

    @staticmethod
    def _read(s3: S3Hook, uri: str) -> bytes:
        """The object's bytes, through the S3 client (thread-safe, unlike the hook's resource); not decoded
        here, so that an object that is not UTF-8 is reported by the JSON parsers like any unreadable one."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        bucket, key = S3Hook.parse_s3_url(uri)
        try:
            return s3.get_conn().get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error_code(error) in S3_NOT_FOUND_CODES:
                raise FileNotFoundError(f"the output {uri} does not exist") from None
            raise

    def _fail_on_missing(self, rows: list[dict[str, Any]]) -> None:
        if not self.fail_on_missing_output:
            return
        lacking = list(dict.fromkeys(_lacking(row) for row in rows if row["lacks_output"]))
        if lacking:
            shown = "; ".join(lacking[:20]) + (f"; and {len(lacking) - 20} more" if len(lacking) > 20 else "")
            raise AirflowException(f"{len(lacking)} human loop(s) have no readable output "
                                   f"(fail_on_missing_output=True): {shown}")


def _lacking(row: dict[str, Any]) -> str:
    reason = f": {row['output_error']}" if row["output_error"] else ""
    return f"{row['human_loop_name']} ({row['status']}{reason})"


def _no_loop_columns() -> dict[str, Any]:
    return {"human_loop_arn": None, "status": None, "failure_code": None, "failure_reason": None,
            "output_s3_uri": None, "output_error": None, "answers": None, "consolidated_answer": None,
            "agreement": None, "ties": None}


def _summary_facts(row: dict[str, Any]) -> dict[str, Any]:
    """What the summary needs of a row (kept instead of the row, whose answers can be large)."""
    answers = row["answers"] or []
    status = row["status"]
    return {
        "human_loop_name": row["human_loop_name"], "status": status, "output_error": row["output_error"],
        "agreement": row["agreement"], "tied": bool(row["ties"]), "answers": len(answers),
        "workers": [answer["worker_id"] for answer in answers],
        "time_spent": [answer["time_spent_in_seconds"] for answer in answers
                       if answer["time_spent_in_seconds"] is not None],
        "document": row.get("document"),
        "fields": len(row.get("fields") or []),
        "fields_corrected": sum(1 for field in row.get("fields") or [] if field.get("corrected")),
        "fields_reviewed": sum(1 for field in row.get("fields") or [] if field.get("reviewed")),
        "lacks_output": row["human_loop_name"] is not None and (
            status == MISSING or status in OPEN_STATES or (status == "Completed" and row["answers"] is None)),
    }


def summarize(rows: list[dict[str, Any]], results_uri: str) -> dict[str, Any]:
    """The summary: counts by status, items, loops, answers, mean agreement, total time spent.

    Loop counts are per loop: a loop listed for two items counts once.
    """
    loops = {row["human_loop_name"]: row for row in rows if row["human_loop_name"] is not None}.values()
    agreements = [row["agreement"] for row in loops if row["agreement"] is not None]
    return {
        "format": RESULTS_FORMAT,
        "results_uri": results_uri,
        "items": len(rows),
        "items_without_loop": sum(1 for row in rows if row["human_loop_name"] is None),
        "loops": len(loops),
        "statuses": dict(sorted(Counter(row["status"] for row in loops).items())),
        "outputs_read": sum(1 for row in loops if row["status"] == "Completed" and row["output_error"] is None),
        "output_errors": sum(1 for row in loops if row["output_error"] is not None),
        "answers": sum(row["answers"] for row in loops),
        "workers": len({worker for row in loops for worker in row["workers"]}),
        "mean_agreement": sum(agreements) / len(agreements) if agreements else None,
        "loops_with_ties": sum(1 for row in loops if row["tied"]),
        "time_spent_in_seconds": round(sum(spent for row in loops for spent in row["time_spent"]), 3),
        "time_spent_percentiles": percentiles([spent for row in loops for spent in row["time_spent"]]),
        # a batch's pages grouped back per document
        "documents": len({row["document"] for row in rows if row.get("document")}),
        "documents_reviewed": len({row["document"] for row in rows if row.get("document") and row["human_loop_name"]}),
        "fields": sum(row.get("fields", 0) for row in rows),
        "fields_reviewed": sum(row.get("fields_reviewed", 0) for row in rows),
        "fields_corrected": sum(row.get("fields_corrected", 0) for row in rows),
    }


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50, p90 and p99 of the review times (nearest rank), or None without any."""
    if not values:
        return None
    ordered = sorted(values)
    return {f"p{rank}": round(ordered[min(len(ordered) - 1, max(0, -(-rank * len(ordered) // 100) - 1))], 3)
            for rank in (50, 90, 99)}
