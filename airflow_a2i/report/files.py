"""The review report's I/O: results read from local files or S3, the page and figures written out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from airflow_a2i.results.items import RESULTS_FILE

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"


def results_location(source: object) -> str:
    """A results file's location from what a user or the results operator gives: a path or ``s3://`` URI of
    ``results.jsonl``, its folder or prefix, or the results operator's return value (``results_uri``)."""
    if isinstance(source, Mapping):
        source = source.get("results_uri")
    if not isinstance(source, str) or not source:
        raise ValueError(f"a results location is a path or s3:// URI of {RESULTS_FILE} (or its folder), or what "
                         f"A2IHumanLoopResultsOperator returned, not {source!r:.200}")
    if source.endswith(".jsonl") or source.endswith(".json"):
        return source
    return f"{source.rstrip('/')}/{RESULTS_FILE}"


def parse_lines(lines: Iterable[str | bytes], where: str) -> Iterator[dict[str, Any]]:
    """The rows of a results file's lines, one at a time (a batch's results can be large)."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise ValueError(f"{where} line {number} is not JSON ({error}): give the results.jsonl of "
                             "A2IHumanLoopResultsOperator") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where} line {number} is not a JSON object")
        yield row


def iter_rows(locations: Iterable[str], open_s3: Callable[[str], Iterable[bytes]] | None = None
              ) -> Iterator[dict[str, Any]]:
    """The rows of every results file, in order (several runs combine), read as they are used. ``open_s3``
    gives an ``s3://`` URI's lines (default: boto3, which honours ``AWS_ENDPOINT_URL``)."""
    for location in locations:
        if location.startswith("s3://"):
            yield from parse_lines((open_s3 or _boto3_lines())(location), location)
            continue
        path = Path(location)
        if not path.is_file():
            raise FileNotFoundError(f"{location} does not exist: give a results.jsonl (or its folder)")
        with path.open("rb") as lines:
            yield from parse_lines(lines, location)


def _boto3_lines() -> Callable[[str], Iterable[bytes]]:
    import boto3

    from airflow_a2i.s3_uris import split_s3_uri

    client = boto3.client("s3")

    def lines(uri: str) -> Iterable[bytes]:
        bucket, key = split_s3_uri(uri)
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"{uri} does not exist: give a results.jsonl (or its prefix)") from None
        return body.iter_lines()

    return lines


def report_files(report: Mapping[str, Any], plots: bool | None = None) -> dict[str, str]:
    """The files' contents by name: the page and the figures."""
    from airflow_a2i.report.render import render_html

    return {REPORT_HTML: render_html(report, plots=plots), REPORT_JSON: json.dumps(report, indent=2) + "\n"}


def write_local(directory: str | Path, files: Mapping[str, str]) -> dict[str, Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, content in files.items():
        (out / name).write_text(content, encoding="utf-8")
        written[name] = out / name
    return written
