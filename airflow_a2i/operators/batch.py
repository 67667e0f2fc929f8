"""Start many human loops in one task, resumably: a manifest in S3 records every item as it goes."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from airflow_a2i.aws_errors import A2I_RETRYABLE, error_code
from airflow_a2i.batching import Progress, RateLimiter, call_with_backoff, run_bounded
from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.manifest import (
    ManifestRecord,
    ManifestWriter,
    batch_start_time,
    manifest_sources,
    read_manifest,
    task_manifest_uri,
)
from airflow_a2i.mixins import S3HookMixin
from airflow_a2i.names import deterministic_loop_name, run_hash
from airflow_a2i.s3_uris import split_s3_uri
from airflow_a2i.validation import (
    check_literal_part,
    is_templated,
    literal_entries,
    serialize_input,
    validate_content_classifiers,
    validate_flow_definition_arn,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

# ListHumanLoops looks back this far before the batch's first start, for clocks that disagree.
CREATION_SKEW_SECONDS = 300


def parse_items(items: Any, *, skip_templated: bool = False) -> list[dict[str, Any]]:
    """Items as ``{"item_key": str, "input": dict | JSON string}``; checked before any request.

    ``skip_templated``: at DAG parse time, leave out the items with a template or an XComArg in them.
    """
    if isinstance(items, str):
        items = json.loads(items)
    if not isinstance(items, list | tuple) and not hasattr(items, "__iter__"):
        raise A2IValidationError(f"items must be a list of {{'item_key', 'input'}} objects, not {type(items).__name__}")
    parsed = []
    for position, item in literal_entries(items) if skip_templated else enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("item_key"), str) or "input" not in item:
            raise A2IValidationError(
                f"items[{position}] must be {{'item_key': str, 'input': {{...}}}}, not {item!r:.200}")
        parsed.append(item)
    duplicates = sorted(_duplicates([item["item_key"] for item in parsed]))
    if duplicates:
        raise A2IValidationError(f"Item keys must be unique: each names one loop. Duplicated: {duplicates[:10]}")
    return parsed


def _duplicates(keys: list[str]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for key in keys:
        (repeated if key in seen else seen).add(key)
    return repeated


class A2IStartHumanLoopBatchOperator(S3HookMixin, AwsBaseOperator[A2IHook]):
    """
    Start a human loop for every item of a batch (custom task type), resumably.

    Each item's loop name depends on (DAG, run, task, item key) only, so a retry, a rechunked or
    reordered batch never renames or duplicates an item. The task writes a manifest under
    ``manifest_s3_uri`` as it goes (part files plus a ``_COMPLETE`` marker); a retry reads it, adopts
    loops started but not recorded, and starts only the rest. Requests run in a bounded pool, under a
    client-side rate limit, with backoff on ThrottlingException, ServiceQuotaExceededException and
    InternalServerException. XCom carries the manifest's URI and counts, never the items.

    :param flow_definition_arn: the flow definition ARN. (templated)
    :param items: ``[{"item_key": "...", "input": {...}}, ...]``, or an XCom of that. (templated)
    :param items_s3_uri: instead of ``items``: a JSON Lines object in S3 with one item per line. (templated)
    :param manifest_s3_uri: the prefix this task's manifest goes under (a mapped task adds ``/map-<index>``).
        (templated)
    :param content_classifiers: the content classifiers of every loop.
    :param max_concurrency: requests in flight at once. (default 8)
    :param requests_per_second: client-side limit on StartHumanLoop calls (default: none).
    :param fail_on_empty: fail when there are no items (default True: an empty batch is usually a mistake
        upstream; set False for days without documents).
    :param fail_on_item_error: after recording every item, fail when some could not start (default True;
        a retry starts only those).
    :return: ``{"manifest_uri", "flow_definition_arn", "run_hash", "items", "loops", "started", "adopted",
        "errors", "created_after"}``
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields(
        "flow_definition_arn", "items", "items_s3_uri", "manifest_s3_uri", "content_classifiers")
    ui_color = "#f0e4ff"

    def __init__(self, *, flow_definition_arn: str, manifest_s3_uri: str, items: Any = None,
                 items_s3_uri: str | None = None, content_classifiers: list[str] | None = None,
                 max_concurrency: int = 8, requests_per_second: float | None = None, fail_on_empty: bool = True,
                 fail_on_item_error: bool = True, flush_every: int = 200, flush_seconds: float = 10.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (items is None) == (items_s3_uri is None):
            raise A2IValidationError("Give exactly one of items (a list or an XCom) and items_s3_uri (JSON Lines)")
        self.flow_definition_arn = flow_definition_arn
        self.manifest_s3_uri = manifest_s3_uri
        self.items = items
        self.items_s3_uri = items_s3_uri
        self.content_classifiers = content_classifiers
        self.max_concurrency = max_concurrency
        self.requests_per_second = requests_per_second
        self.fail_on_empty = fail_on_empty
        self.fail_on_item_error = fail_on_item_error
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        if not is_templated(flow_definition_arn):
            validate_flow_definition_arn(flow_definition_arn)
        if isinstance(items, list | tuple):
            parse_items(items, skip_templated=True)
        check_literal_part(content_classifiers, validate_content_classifiers)

    def _load_items(self) -> list[dict[str, Any]]:
        if self.items_s3_uri is not None:
            bucket, key = split_s3_uri(self.items_s3_uri)
            text = self.s3_hook.read_key(key, bucket_name=bucket)
            return parse_items([json.loads(line) for line in text.splitlines() if line.strip()])
        return parse_items(list(self.items))

    def execute(self, context: Context) -> dict[str, Any]:
        validate_flow_definition_arn(self.flow_definition_arn)
        classifiers = validate_content_classifiers(self.content_classifiers)
        items = self._load_items()
        contents = {item["item_key"]: serialize_input(item["input"]) for item in items}  # all checked first
        if not items and self.fail_on_empty:
            raise A2IValidationError("The batch has no items: check the upstream task, or set fail_on_empty=False "
                                     "for days without documents")
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        manifest_uri = task_manifest_uri(self.manifest_s3_uri, map_index)
        names = {key: deterministic_loop_name(ti.dag_id, context["run_id"], ti.task_id, item_key=key)
                 for key in contents}
        recorded = read_manifest(self.s3_hook, manifest_uri)
        todo = [key for key in contents if not recorded.get(key, ManifestRecord(key)).human_loop_started]
        created_after = batch_start_time(recorded, CREATION_SKEW_SECONDS)
        self.log.info("%d items: %d already recorded in %s, %d to start", len(items), len(items) - len(todo),
                      manifest_uri, len(todo))
        writer = ManifestWriter(self.s3_hook, manifest_uri, flush_every=self.flush_every,
                                flush_seconds=self.flush_seconds, attempt=f"try{ti.try_number}")
        progress = Progress(len(todo), self.log, "loops")
        limiter = RateLimiter(self.requests_per_second)
        lock = threading.Lock()

        def start(key: str) -> ManifestRecord:
            record = self._start_one(key, names[key], contents[key], classifiers, limiter, created_after)
            with lock:
                writer.add(record)
            progress.count("error" if record.error else "adopted" if record.extra.get("adopted") else "started")
            return record

        results = run_bounded(start, todo, self.max_concurrency)
        progress.report()
        errors = [record for record in results if record.error]
        summary = self._summary(manifest_uri, items, recorded, results, created_after, ti.dag_id,
                                context["run_id"], ti.task_id)
        writer.complete(summary)
        if errors and self.fail_on_item_error:
            raise A2IValidationError(f"{len(errors)} item(s) could not start, recorded in {manifest_uri}; a retry "
                                     f"starts only those. First: {errors[0].item_key}: {errors[0].error}")
        return summary

    def _start_one(self, key: str, name: str, content: str, classifiers: list[str], limiter: RateLimiter,
                   created_after: float) -> ManifestRecord:
        record = ManifestRecord(item_key=key, human_loop_name=name, extra={"created_after": created_after})
        params: dict[str, Any] = {"HumanLoopName": name, "FlowDefinitionArn": self.flow_definition_arn,
                                  "HumanLoopInput": {"InputContent": content}}
        if classifiers:
            params["DataAttributes"] = {"ContentClassifiers": classifiers}

        def call() -> Any:
            limiter.acquire()
            return self.hook.conn.start_human_loop(**params)

        try:
            call_with_backoff(call, A2I_RETRYABLE)
            record.human_loop_started = True
        except ClientError as error:
            if error_code(error) != "ConflictException":
                record.error = str(error)
                return record
            adopted = self.hook.describe_human_loop(name)  # started by an earlier attempt
            if adopted is None or adopted["FlowDefinitionArn"] != self.flow_definition_arn:
                record.error = str(error)
                return record
            record.human_loop_started = True
            record.extra["adopted"] = True
        return record

    def _summary(self, manifest_uri: str, items: list, recorded: dict[str, ManifestRecord],
                 results: list[ManifestRecord], created_after: float, dag_id: str, run_id: str,
                 task_id: str) -> dict[str, Any]:
        final = {**recorded, **{record.item_key: record for record in results}}
        return {
            "manifest_uri": manifest_uri,
            "flow_definition_arn": self.flow_definition_arn,
            "run_hash": run_hash(dag_id, run_id, task_id),
            "items": len(items),
            "loops": sum(1 for record in final.values() if record.human_loop_started),
            "started": sum(1 for record in results if record.human_loop_started and not record.extra.get("adopted")),
            "adopted": sum(1 for record in results if record.extra.get("adopted")),
            "errors": sum(1 for record in results if record.error),
            "created_after": created_after,
        }


class A2IStopHumanLoopBatchOperator(S3HookMixin, AwsBaseOperator[A2IHook]):
    """
    Stop every loop of a batch that is still open, e.g. when the run is abandoned or past its deadline.

    Idempotent: loops already finished, stopped or deleted are counted, not errors.

    :param manifests: what the batch start tasks returned (summaries or manifest URIs), or their XCom.
        (templated)
    :param max_concurrency: StopHumanLoop calls in flight at once. (default 8)
    :return: ``{"stopped": n, "not_open": n}``
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields("manifests")

    def __init__(self, *, manifests: Any, max_concurrency: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manifests = manifests
        self.max_concurrency = max_concurrency
        # s3:// URIs or batch summaries: the literal ones checked at DAG parse time
        check_literal_part(manifests, lambda literal: manifest_sources(literal, "manifests"))

    def execute(self, context: Context) -> dict[str, int]:
        names = sorted({record.human_loop_name for uri in manifest_sources(self.manifests, "manifests").uris
                        for record in read_manifest(self.s3_hook, uri).values()
                        if record.human_loop_started and record.human_loop_name})
        progress = Progress(len(names), self.log, "loops")

        def stop(name: str) -> bool:
            stopped = call_with_backoff(lambda: self.hook.stop_human_loop(name), A2I_RETRYABLE)
            progress.count("stopped" if stopped else "not open")
            return stopped

        outcomes = run_bounded(stop, names, self.max_concurrency)
        progress.report()
        return {"stopped": sum(outcomes), "not_open": len(outcomes) - sum(outcomes)}
