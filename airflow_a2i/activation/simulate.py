"""Simulation over recorded responses (``airflow-a2i activation simulate``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from airflow_a2i.activation.evaluate import ActivationResult, evaluate
from airflow_a2i.activation.model import _TYPES, REKOGNITION, TEXTRACT, ActivationConditionError, Conditions
from airflow_a2i.activation.parse import _kind, parse_conditions
from airflow_a2i.exceptions import A2IValidationError


@dataclass
class ResponseDocument:
    """One recorded response: a raw Textract/Rekognition response, or an A2I output.json (its aiServiceResponse)."""

    name: str
    response: dict[str, Any]
    request: dict[str, Any] | None = None
    request_source: str | None = None


def response_source(response: Mapping[str, Any]) -> str | None:
    if "Blocks" in response or "blocks" in response:
        return TEXTRACT
    if "ModerationLabels" in response or "moderationLabels" in response:
        return REKOGNITION
    return None


def read_response_document(name: str, data: object) -> ResponseDocument:
    """Unwrap a recorded response; raises ValueError saying why it is not one."""
    if not isinstance(data, dict):
        raise ValueError(f"is {_kind(data)}, not a JSON object")
    nested = data.get("inputContent")
    content: dict[str, Any] = nested if isinstance(nested, dict) else data
    if isinstance(content.get("aiServiceResponse"), dict):
        request = content.get("aiServiceRequest")
        response = content["aiServiceResponse"]
        return ResponseDocument(name, response, request if isinstance(request, dict) else None,
                                response_source(response))
    source = response_source(data)
    if source is None:
        raise ValueError("is neither a Textract AnalyzeDocument response (Blocks), a Rekognition "
                         "DetectModerationLabels response (ModerationLabels) nor an A2I output.json")
    return ResponseDocument(name, data, None, source)


def load_response_documents(location: str) -> tuple[list[ResponseDocument], list[tuple[str, str]]]:
    """The *.json responses under a directory (recursively) or an ``s3://bucket/prefix`` (boto3, which honours
    ``AWS_ENDPOINT_URL``); returns the documents and the skipped files with the reason."""
    documents: list[ResponseDocument] = []
    skipped: list[tuple[str, str]] = []
    for name, text in _read_json_files(location):
        try:
            documents.append(read_response_document(name, json.loads(text)))
        except ValueError as error:  # JSONDecodeError is a ValueError
            skipped.append((name, str(error) if not isinstance(error, json.JSONDecodeError)
                            else f"is not valid JSON ({error})"))
    return documents, skipped


def _read_json_files(location: str) -> Iterable[tuple[str, str | bytes]]:
    if location.startswith("s3://"):
        import boto3  # only for s3:// locations: keeps this module cheap to import

        from airflow_a2i.s3_uris import split_s3_uri

        bucket, prefix = split_s3_uri(location)
        client = boto3.client("s3")
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".json"):
                    body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    yield f"s3://{bucket}/{item['Key']}", body
        return
    root = Path(location)
    if not root.is_dir():
        raise FileNotFoundError(f"{location} is not a directory; give a directory of *.json responses or "
                                "s3://bucket/prefix")
    for path in sorted(root.rglob("*.json")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes()


@dataclass
class SimulationReport:
    conditions: Conditions
    results: list[tuple[ResponseDocument, ActivationResult]]
    skipped: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        total = len(self.results)
        activated = [document.name for document, result in self.results if result.activated]
        per_condition = []
        for index, item in enumerate(self.conditions.items):
            names = [document.name for document, result in self.results if result.top_level_results[index]]
            per_condition.append({"index": index, "path": item.path, "summary": item.summary(),
                                  "activated": len(names), "share": _share(len(names), total), "documents": names})
        return {
            "requestSource": self.conditions.request_source,
            "documents": total,
            "activated": len(activated),
            "share": _share(len(activated), total),
            "conditions": per_condition,
            "results": [{"document": document.name, "activated": result.activated, "reasons": result.reasons,
                         "conditions": result.top_level_results} for document, result in self.results],
            "skipped": [{"document": name, "reason": reason} for name, reason in self.skipped],
        }

    def to_text(self) -> str:
        report = self.to_dict()
        total = report["documents"]
        lines = [f"Request source: {report['requestSource']}",
                 f"Would go to human review: {report['activated']} of {total} documents ({_percent(report['share'])})",
                 "", "Per top-level condition (a document can meet several):"]
        for condition in report["conditions"]:
            summary = condition["summary"] if len(condition["summary"]) <= 100 else condition["summary"][:97] + "..."
            lines.append(f"  [{condition['index']}] {summary}: {condition['activated']} of {total} "
                         f"({_percent(condition['share'])})")
        lines += ["", "Documents that would go to review:"]
        chosen = [result for result in report["results"] if result["activated"]]
        for result in chosen:
            met = ", ".join(str(index) for index, value in enumerate(result["conditions"]) if value)
            lines.append(f"  {result['document']}  (conditions {met})")
        if not chosen:
            lines.append("  none")
        if report["skipped"]:
            lines += ["", "Skipped:"] + [f"  {item['document']}: {item['reason']}" for item in report["skipped"]]
        return "\n".join(lines)


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def simulate(conditions: Conditions, documents: Iterable[ResponseDocument]) -> SimulationReport:
    """Evaluate the conditions on each recorded response of the conditions' request source."""
    results = []
    skipped = []
    for document in documents:
        if document.request_source != conditions.request_source:
            skipped.append((document.name, f"is a {document.request_source or 'unknown'} response, not "
                                           f"{conditions.request_source}"))
            continue
        try:
            results.append((document, evaluate(conditions, document.response, request=document.request)))
        except A2IValidationError as error:
            skipped.append((document.name, str(error)))
    return SimulationReport(conditions, results, skipped)


def _infer_source_from_conditions(data: object) -> str | None:
    found: set[str] = set()

    def visit(value: object) -> None:
        if isinstance(value, dict):
            condition_type = value.get("ConditionType")
            for source, types in _TYPES.items():
                if condition_type in types and condition_type != "Sampling":
                    found.add(source)
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(data)
    return found.pop() if len(found) == 1 else None


_SHORT_SOURCES = {"textract": TEXTRACT, "rekognition": REKOGNITION}


def run_simulate(conditions_file: str | Path, responses: str, request_source: str | None = None,
                 as_json: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``airflow-a2i activation simulate``: 0 done, 1 nothing to evaluate or responses unreadable, 2 bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        text = Path(conditions_file).read_text(encoding="utf-8")
    except OSError as error:
        print(f"Cannot read the conditions file: {error}", file=err)
        return 2
    source = _SHORT_SOURCES.get(request_source or "", request_source)
    document: str | dict[str, Any] = text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "HumanLoopActivationConfig" in data:  # a whole flow definition
        source = source or (data.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
        try:
            document = data["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"][
                "HumanLoopActivationConditions"]
        except (KeyError, TypeError):
            print("Invalid activation conditions: the flow definition's HumanLoopActivationConfig has no "
                  "HumanLoopActivationConditionsConfig.HumanLoopActivationConditions", file=err)
            return 2
        data = json.loads(document) if isinstance(document, str) and _is_json(document) else document
    try:
        documents, skipped = load_response_documents(responses)
    except FileNotFoundError as error:
        print(str(error), file=err)
        return 2
    except Exception as error:  # botocore's errors (no bucket, no credentials), without importing botocore here
        print(f"Cannot read the responses at {responses}: {error}", file=err)
        return 1
    source = source or _infer_source_from_conditions(data) or next(
        (item.request_source for item in documents if item.request_source), None)
    if source is None:
        print("Cannot tell the request source: give --request-source textract or rekognition", file=err)
        return 2
    try:
        conditions = parse_conditions(document, source)
    except ActivationConditionError as error:
        print(f"Invalid activation conditions in {conditions_file}: {error}", file=err)
        return 2
    report = simulate(conditions, documents)
    report.skipped = skipped + report.skipped
    if as_json:  # the text report lists them itself
        for name, reason in report.skipped:
            print(f"Skipped {name}: {reason}", file=err)
    print(json.dumps(report.to_dict(), indent=2) if as_json else report.to_text(), file=out)
    if not report.results:
        print(f"No {conditions.request_source} responses to evaluate under {responses}", file=err)
        return 1
    return 0


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
