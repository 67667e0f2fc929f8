"""Read the outputs of human loops and write them to S3 as JSON Lines, with a summary."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException
from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import S3_NOT_FOUND_CODES, error_code
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.mixins import S3HookMixin
from airflow_a2i.results.items import (
    RESULTS_FILE,
    SUMMARY_FILE,
    ResultItem,
    answer_field_names,
    parse_human_loops,
    parse_output_s3_uri,
)
from airflow_a2i.validation import check_known_part, check_literal_part, is_templated

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.common.compat.sdk import Asset
    from airflow.sdk import Context, XComArg

    from airflow_a2i.hooks.a2i import A2IFlowDefinitionHook
    from airflow_a2i.results.output import HumanLoopOutput



OUTPUT_LOOKUPS = ("auto", "listing", "describe")
CHUNK_ITEMS = 1000  # items read, merged and written at a time: memory stays bounded whatever the batch's size


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
    ``answer``), ``consolidated_answer`` (majority per answer field), ``agreement``, ``ties``,
    ``activation_results`` (built-in task types: the ``humanTaskActivationConditionResults`` A2I wrote, which
    conditions held) and ``sampled`` (a top-level ``Sampling`` condition started the loop: reviewed by chance;
    false without a loop, null when not known, as for custom task types). The loop columns are null for an item
    that needed no loop. ``<output_s3_uri>/summary.json`` holds the counts.
    Only the URIs and counts go to XCom.

    Built-in task types (Textract ``AnalyzeDocument``, Rekognition ``DetectModerationLabels``) get the
    people's corrections merged into the machine's result, in more columns (null otherwise):
    ``request_source`` (the loop's ``awsManagedHumanLoopRequestSource``, or the analysis' kind),
    ``machine_result_s3_uri`` (the item's ``AnalysisS3Uri``), for Textract ``fields`` (see
    :func:`airflow_a2i.results.built_in.textract_fields`: ``key``, ``machine_value``, ``machine_confidence``,
    ``human_value``, ``reviewed``, ``corrected``, ``added_by_reviewer``), for Rekognition ``labels`` (see
    :func:`airflow_a2i.results.built_in.moderation_labels`: ``name``, ``parent_name``, ``machine_confidence``,
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
    :param output_lookup: how the loops' outputs are found: ``describe`` (one ``DescribeHumanLoop`` per loop),
        ``listing`` (list the flow definition's output prefix from the batch's start, ~1 ``ListObjectsV2`` per
        1,000 loops, and describe only the loops not found there: needs ``manifests`` as batch start tasks return
        them, with their flow definition and start time), or ``auto`` (listing when it can, else describe).
        Both give the same results. (default ``auto``)
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
    output_uri_argument = "output_s3_uri"  # the parameter its errors name (a subclass may call it otherwise)

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
        output_lookup: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if output_lookup not in OUTPUT_LOOKUPS:
            raise A2IValidationError(f"output_lookup={output_lookup!r} is not one of {list(OUTPUT_LOOKUPS)}")
        if output_lookup == "listing" and manifests is None:
            raise A2IValidationError("output_lookup='listing' needs manifests (what batch start tasks return): the "
                                     "listing starts at their loops' creation, in their flow definition's output")
        self.output_lookup = output_lookup
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
        self._check_literals()

    def _check_literals(self) -> None:
        """At DAG parse time: the literal values, and the literal members of lists (templated ones once rendered)."""
        if self.manifests is not None:
            from airflow_a2i.manifest import manifest_sources  # only batch DAGs pay for it at parse time

            check_literal_part(self.manifests, lambda literal: manifest_sources(literal, "manifests"))
        elif not is_templated(self.human_loops):
            parse_human_loops(self.human_loops, skip_templated=True)
        if self.expected_answer_fields is not None:
            check_known_part(self.expected_answer_fields, answer_field_names, rendered=False)
        if not is_templated(self.output_s3_uri):
            parse_output_s3_uri(self.output_s3_uri, self.output_uri_argument)

    def _rendered_inputs(self) -> tuple[list[ResultItem], tuple[str, str]]:
        """Once rendered, everything checked before any request: the loops to read, and the results' bucket and
        prefix."""
        if self.expected_answer_fields is not None:
            check_known_part(self.expected_answer_fields, answer_field_names, rendered=True)
        uri = parse_output_s3_uri(self.output_s3_uri, self.output_uri_argument)
        items = self._manifest_items() if self.manifests is not None else parse_human_loops(self.human_loops)
        return items, uri

    def _manifest_items(self) -> list[ResultItem]:
        from airflow_a2i.manifest import manifest_sources, read_manifests

        records = read_manifests(self.s3_hook, manifest_sources(self.manifests, "manifests").uris)
        return [ResultItem.from_manifest(record) for _, record in sorted(records.items())]

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_a2i.batching import Progress  # run time only: DAG parsing does not pay for them
        from airflow_a2i.results.summary import summarize, summary_facts

        items, uri = self._rendered_inputs()
        if self.expected_answer_fields is not None:
            self.expected_answer_fields = answer_field_names(self.expected_answer_fields)
        bucket, prefix = uri
        s3 = self.s3_hook
        loops = list(dict.fromkeys(item.human_loop_name for item in items if item.human_loop_name))
        self.log.info("Reading the results of %d item(s), %d human loop(s)", len(items), len(loops))
        listed = self._listed_columns(loops)
        progress = Progress(len(loops), self.log, "human loops read")
        s3.get_conn(), self.hook.conn  # the (thread-safe) clients, made once before the pool uses them
        rows: list[dict[str, Any]] = []
        results_key, summary_key = f"{prefix}/{RESULTS_FILE}", f"{prefix}/{SUMMARY_FILE}"
        with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as results:
            for start in range(0, len(items), CHUNK_ITEMS):
                chunk = items[start:start + CHUNK_ITEMS]
                for row in self._chunk_rows(chunk, s3, listed, progress):
                    results.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
                    rows.append(summary_facts(row))
            progress.report()
            results.flush()
            s3.load_file(results.name, key=results_key, bucket_name=bucket, replace=True)  # multipart when large
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

    def _chunk_rows(self, chunk: list[ResultItem], s3: S3Hook, listed: dict[str, dict[str, Any]],
                    progress: Any) -> list[dict[str, Any]]:
        """The result lines of some items: their loops read at once (bounded), their outputs dropped after."""
        from airflow_a2i.batching import run_bounded
        from airflow_a2i.results.built_in import sampled_by_condition_results

        outputs: dict[str, HumanLoopOutput] = {}  # loop name -> its parsed output.json, when read

        def read_loop(name: str) -> dict[str, Any]:
            columns = self._loop_columns(name, s3, outputs, listed.get(name))
            progress.count(str(columns["status"]))
            return columns

        names = list(dict.fromkeys(item.human_loop_name for item in chunk if item.human_loop_name))
        read = dict(zip(names, run_bounded(read_loop, names, self.max_concurrency), strict=True))
        rows = []
        for item in chunk:
            name = item.human_loop_name
            row = {"item_key": item.item_key, "human_loop_name": name,
                   **(read[name] if name is not None else _no_loop_columns())}
            if item.document is not None:
                row.update(document=item.document, page=item.page,
                           review_reasons=list(item.review_reasons) if item.review_reasons else None)
            row.update(self._built_in_columns(item, row, outputs.get(name) if name else None, s3))
            # An item without a loop was not drawn by Sampling either; a loop says so in its condition results.
            row["sampled"] = False if name is None else sampled_by_condition_results(row["activation_results"])
            rows.append(row)
        return rows

    def _listed_columns(self, loops: list[str]) -> dict[str, dict[str, Any]]:
        """The columns of the loops whose output a listing of the batch's output prefix found (Completed); the
        others are described one by one. Empty when the lookup is ``describe`` or the batch cannot be listed."""
        from airflow_a2i.manifest import manifest_sources
        from airflow_a2i.results.listing import human_loop_arn, list_outputs

        if self.output_lookup == "describe" or self.manifests is None or not loops:
            return {}
        sources = manifest_sources(self.manifests, "manifests")
        if not sources.flow_definition_arns or sources.created_after is None:
            if self.output_lookup == "listing":
                raise A2IValidationError("output_lookup='listing' needs manifests as batch start tasks return them "
                                         "(with flow_definition_arn and created_after), not bare manifest URIs")
            self.log.info("Describing each loop: the manifests do not say their flow definition and start time")
            return {}
        columns: dict[str, dict[str, Any]] = {}
        for arn in sorted(sources.flow_definition_arns):
            output_path = self.flow_definition_hook.output_path(arn)
            found = list_outputs(self.s3_hook.get_conn(), output_path, arn, sources.created_after,
                                 [name for name in loops if name not in columns])
            self.log.info("Listing %s found the outputs of %d of %d loop(s) in %d page(s); describing the rest",
                          output_path, len(found.uris), len(loops), found.pages)
            for name, output_uri in found.uris.items():
                columns[name] = {**_no_loop_columns(), "human_loop_arn": human_loop_arn(arn, name),
                                 "status": "Completed", "output_s3_uri": output_uri}
        return columns

    @property
    def flow_definition_hook(self) -> A2IFlowDefinitionHook:
        from airflow_a2i.hooks.a2i import A2IFlowDefinitionHook

        return A2IFlowDefinitionHook(**self._hook_parameters)

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

    def _described_columns(self, name: str) -> dict[str, Any]:
        from airflow_a2i.aws_errors import A2I_RETRYABLE
        from airflow_a2i.batching import call_with_backoff
        from airflow_a2i.waiting.states import MISSING

        described = call_with_backoff(lambda: self.hook.describe_human_loop(name), A2I_RETRYABLE)
        if described is None:
            return {**_no_loop_columns(), "status": MISSING}
        return {**_no_loop_columns(), "human_loop_arn": described.get("HumanLoopArn"),
                "status": described["HumanLoopStatus"], "failure_code": described.get("FailureCode"),
                "failure_reason": described.get("FailureReason"),
                "output_s3_uri": (described.get("HumanLoopOutput") or {}).get("OutputS3Uri")}

    def _loop_columns(self, name: str, s3: S3Hook, outputs: dict[str, HumanLoopOutput],
                      listed: dict[str, Any] | None = None) -> dict[str, Any]:
        """A loop's columns: from the listing when it found the loop's output, else from a describe."""
        from airflow_a2i.results.output import OutputParseError, parse_output_json, unexpected_answer_fields

        columns = dict(listed) if listed is not None else self._described_columns(name)
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
            activation_results=output.human_task_activation_condition_results,
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
        from airflow_a2i.results.built_in import (
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
            "agreement": None, "ties": None, "activation_results": None}
