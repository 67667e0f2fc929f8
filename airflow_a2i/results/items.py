"""What the results operator reads: the items (a loop name, or what a start task returned, or a manifest record)
and where the results go; checked at parse time for literals and once rendered for templates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.names import validate_human_loop_name
from airflow_a2i.s3_uris import S3_BUCKET, split_s3_uri
from airflow_a2i.validation import literal_entries
from airflow_a2i.xcom_values import plain_lists

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
OUTPUT_URI_EXAMPLE = "s3://my-bucket/a2i-results/{{ run_id }}"

# A NamedTuple rather than a frozen dataclass: the results operator checks its items when a DAG file is parsed,
# and defining a dataclass costs that parse about 0.4 ms more.
class ResultItem(NamedTuple):
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


def parse_output_s3_uri(uri: object, what: str = "output_s3_uri") -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (trailing slashes dropped), or an error naming ``what``, the
    parameter the URI was given as."""
    if not isinstance(uri, str) or not uri:
        raise A2IValidationError(f"{what} must be an s3:// URI such as {OUTPUT_URI_EXAMPLE!r}, "
                                 f"not {uri!r}")
    if not uri.startswith("s3://"):
        raise A2IValidationError(f"{what} {uri!r} must start with 's3://': give a bucket and a prefix "
                                 f"such as {OUTPUT_URI_EXAMPLE!r}")
    bucket, prefix = split_s3_uri(uri, what)
    if not re.fullmatch(S3_BUCKET, bucket):
        raise A2IValidationError(f"{what} {uri!r}: {bucket!r} is not an S3 bucket name (3 to 63 lowercase "
                                 "letters, digits, dots and hyphens)")
    if not prefix:
        raise A2IValidationError(
            f"{what} {uri!r} has no prefix: add one, such as {OUTPUT_URI_EXAMPLE!r}, so that what the task "
            "writes there (results, summary, or one object per loop) stays apart from the rest of the bucket"
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
