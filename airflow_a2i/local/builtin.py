"""Textract ``AnalyzeDocument`` and Rekognition ``DetectModerationLabels`` with ``HumanLoopConfig``.

The analysis itself comes from a pluggable analyzer: by default, a response stored beside the object
(``<key>.textract.json``, ``<key>.rekognition.json``). A2I's part is real: the flow definition's
activation conditions are evaluated with :mod:`airflow_a2i.activation`, and when they hold a loop
starts whose input is what A2I gives workers.

A request with ``HumanLoopConfig`` always gets ``HumanLoopActivationOutput`` back: the API reference says
"If there is no HumanLoopArn, the input did not trigger human review", so when the conditions do not hold the
member carries the evaluation results alone (no ``HumanLoopArn``, and no ``HumanLoopActivationReasons``: that
list has at least one item and says why a loop started). No recorded AWS response without a loop was at hand
to confirm it (the recorded Textract response was made without HumanLoopConfig): this is the documented reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import botocore.session

from airflow_a2i.activation import ActivationResult, evaluate_flow_definition
from airflow_a2i.local import s3, strict_json
from airflow_a2i.local.errors import ServiceError
from airflow_a2i.local.runtime import A2IRuntime
from airflow_a2i.local.store import HumanLoop, NamedResource
from airflow_a2i.model_validation import summarize, validate_input
from airflow_a2i.request_sources import REKOGNITION_SOURCE as REKOGNITION
from airflow_a2i.request_sources import TEXTRACT_SOURCE as TEXTRACT
from airflow_a2i.s3_uris import split_s3_uri
from airflow_a2i.stored_analyses import SOURCE_DOCUMENT, SOURCE_PAGE, page_analysis_key, whole_document_analysis_key

OPERATIONS = {"Textract.AnalyzeDocument": ("textract", "AnalyzeDocument"),
              "RekognitionService.DetectModerationLabels": ("rekognition", "DetectModerationLabels")}
DEFAULT_MIN_CONFIDENCE = 50.0

_SESSION = botocore.session.get_session()


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400)


class Analyzer(Protocol):
    """Where analyses come from: ``analyze("textract" | "rekognition", bucket, key)`` -> the service's response."""

    def analyze(self, service: str, bucket: str, key: str) -> dict: ...


class StoredResponseAnalyzer:
    """Reads the response recorded beside the object: ``<key>.textract.json`` or ``<key>.rekognition.json``."""

    def analyze(self, service: str, bucket: str, key: str) -> dict:
        candidates = [(bucket, whole_document_analysis_key(key, service)),
                      *self._source_page_analyses(service, bucket, key)]
        for where, path in candidates:
            body = s3.get_object(where, path)
            if body is not None:
                return self._parse(service, where, path, body)
        looked = " or ".join(f"s3://{where}/{path}" for where, path in candidates)
        raise ServiceError("UnsupportedDocumentException",
                           f"The local service has no analysis for s3://{bucket}/{key}: it looked for {looked} "
                           f"(a {service} response in JSON)", 400)

    @staticmethod
    def _source_page_analyses(service: str, bucket: str, key: str) -> list[tuple[str, str]]:
        """A page split from a document (its metadata says which) uses the analysis stored for that page."""
        metadata = s3.get_user_metadata(bucket, key)
        source, page = metadata.get(SOURCE_DOCUMENT, ""), metadata.get(SOURCE_PAGE, "")
        if not source.startswith("s3://") or not page.isdigit():
            return []
        source_bucket, source_key = split_s3_uri(source)
        pages = [(source_bucket, page_analysis_key(source_key, int(page), service))]
        if int(page) == 1:  # a single-page document's analysis may be stored for the whole document
            pages.append((source_bucket, whole_document_analysis_key(source_key, service)))
        return pages

    @staticmethod
    def _parse(service: str, bucket: str, path: str, body: bytes) -> dict:
        """The stored response, checked enough that serving it cannot fail: else UnsupportedDocumentException."""
        try:
            analysis = strict_json.loads(body)
        except ValueError as error:
            raise ServiceError("UnsupportedDocumentException",
                               f"s3://{bucket}/{path} is not a JSON {service} response: {error}", 400) from None
        problem = _shape_problem(service, analysis)
        if problem:
            raise ServiceError("UnsupportedDocumentException", f"s3://{bucket}/{path} is not a {service} response in "
                               f"the API's PascalCase shape: {problem}", 400)
        return analysis


def _shape_problem(service: str, analysis: Any) -> str | None:
    if not isinstance(analysis, dict):
        return "it is not a JSON object"
    member = "Blocks" if service == "textract" else "ModerationLabels"
    items = analysis.get(member, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return f"{member} must be a list of objects"
    if service == "rekognition" and not all(isinstance(label.get("Confidence", 0), int | float)
                                            and not isinstance(label.get("Confidence", 0), bool) for label in items):
        return "every label's Confidence must be a number"
    return None


def evaluation_results(result: ActivationResult) -> str:
    """HumanLoopActivationConditionsEvaluationResults: the conditions with their EvaluationResult, as a JSON string."""
    return json.dumps(result.condition_results, separators=(",", ":"))


def activation_output(result: ActivationResult, human_loop_arn: str) -> dict:
    """HumanLoopActivationOutput of a started loop: its ARN, why it started and the evaluation results."""
    return {"HumanLoopArn": human_loop_arn, "HumanLoopActivationReasons": list(result.reasons),
            "HumanLoopActivationConditionsEvaluationResults": evaluation_results(result)}


def camel_case(value: Any) -> Any:
    """A2I writes AI service requests and responses with camelCase keys (``BlockType`` -> ``blockType``)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: camel_case(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel_case(item) for item in value]
    return value


@dataclass(frozen=True)
class Service:
    name: str  # textract | rekognition
    operation: str
    request_source: str
    document_member: str  # Document | Image


SERVICES = {
    "textract": Service("textract", "AnalyzeDocument", TEXTRACT, "Document"),
    "rekognition": Service("rekognition", "DetectModerationLabels", REKOGNITION, "Image"),
}


class BuiltInTasks:
    def __init__(self, runtime: A2IRuntime, analyzer: Analyzer | None = None) -> None:
        self.runtime = runtime
        self.analyzer = analyzer or StoredResponseAnalyzer()

    def handle(self, service_name: str, region: str, params: dict) -> dict:
        service = SERVICES[service_name]
        model = _SESSION.get_service_model(service.name).operation_model(service.operation)
        problems = validate_input(model, params)
        if problems:
            raise invalid(summarize(problems))
        bucket, key = self._s3_object(service, params)
        response = self._analysis(service, bucket, key, params)
        loop_config = params.get("HumanLoopConfig")
        if loop_config:
            response["HumanLoopActivationOutput"] = self._human_loop(service, region, s3.bucket_region(bucket),
                                                                     params, response, loop_config)
        return response

    @staticmethod
    def _s3_object(service: Service, params: dict) -> tuple[str, str]:
        s3_object = params[service.document_member].get("S3Object")
        if not s3_object or "Bucket" not in s3_object or "Name" not in s3_object:
            raise invalid(f"{service.document_member}.S3Object with Bucket and Name is required: the local service "
                          "analyses documents stored in S3, not Bytes")
        bucket, key = s3_object["Bucket"], s3_object["Name"]
        if not s3.bucket_exists(bucket) or s3.get_object(bucket, key) is None:
            raise ServiceError("InvalidS3ObjectException", f"Unable to get object metadata from S3: "
                               f"s3://{bucket}/{key} does not exist. Check the bucket, the key and the Region", 400)
        return bucket, key

    def _analysis(self, service: Service, bucket: str, key: str, params: dict) -> dict:
        analysis = self.analyzer.analyze(service.name, bucket, key)
        if service.name == "textract":
            blocks = analysis.get("Blocks", [])
            pages = sum(1 for block in blocks if block.get("BlockType") == "PAGE") or 1
            return {"DocumentMetadata": analysis.get("DocumentMetadata", {"Pages": pages}), "Blocks": blocks,
                    "AnalyzeDocumentModelVersion": analysis.get("AnalyzeDocumentModelVersion", "1.0")}
        minimum = float(params.get("MinConfidence", DEFAULT_MIN_CONFIDENCE))
        labels = [label for label in analysis.get("ModerationLabels", [])
                  if float(label.get("Confidence", 0)) >= minimum]
        return {"ModerationLabels": labels,
                "ModerationModelVersion": analysis.get("ModerationModelVersion", "7.0")}

    # A2I's part ------------------------------------------------------------------------------

    def _human_loop(self, service: Service, region: str, bucket_region: str, params: dict, response: dict,
                    loop_config: dict) -> dict:
        """The response's HumanLoopActivationOutput: with the started (or retried) loop's ARN when the conditions
        hold, else the evaluation results alone."""
        flow = self._flow_definition(service, region, loop_config["FlowDefinitionArn"], bucket_region)
        name = loop_config["HumanLoopName"]
        result = self._activation(flow, response, params, name)
        if not result.activated:
            return {"HumanLoopActivationConditionsEvaluationResults": evaluation_results(result)}
        request = camel_case(params)
        with self.runtime.store.transaction() as db:
            existing = self.runtime.store.get_loop(region, name)
            if existing is not None:
                return self._replay(existing, flow, request, result)
            self.runtime.check_quota(db, region, "HumanLoopQuotaExceededException")
            content = self._loop_input(service, request, response, result)
            arn = self.runtime.insert_loop(db, region, name, flow, json.dumps(content),
                                           loop_config.get("DataAttributes"))
        self.runtime.announce_start(region, name)
        return activation_output(result, arn)

    def _flow_definition(self, service: Service, region: str, arn: str, bucket_region: str) -> NamedResource:
        try:
            flow = self.runtime.flow_definition(region, arn)
        except ServiceError as error:
            raise invalid(error.message) from None
        source = (flow.body.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
        if source != service.request_source:
            raise invalid(f"Flow definition {arn} is not for {service.request_source} "
                          f"({'a custom task type' if source is None else source}); create one with "
                          f"HumanLoopRequestSource {service.request_source}")
        if bucket_region != region:
            raise invalid(f"The S3 bucket is in {bucket_region} but flow definition {arn} is in {region}: A2I needs "
                          "them in the same Region; copy the documents to a bucket in the flow definition's Region")
        return flow

    @staticmethod
    def _activation(flow: NamedResource, response: dict, params: dict, name: str) -> ActivationResult:
        if "HumanLoopActivationConfig" not in flow.body:  # no conditions: every document goes to review
            return ActivationResult(True, ["ConditionsEvaluation"], {"Conditions": []}, response)
        return evaluate_flow_definition(flow.body, response, request=params, human_loop_name=name)

    @staticmethod
    def _loop_input(service: Service, request: dict, response: dict, result: ActivationResult) -> dict:
        content = {
            "aiServiceRequest": request,
            "aiServiceResponse": camel_case(response),
            "humanTaskActivationConditionResults": result.condition_results,
            "selectedAiServiceResponse": camel_case(result.selected_response),
        }
        if service.name == "textract":
            content["humanLoopContext"] = {"importantFormKeys": result.important_form_keys or []}
        return content

    @staticmethod
    def _replay(existing: HumanLoop, flow: NamedResource, request: dict, result: ActivationResult) -> dict:
        # A2I says a finished loop's name is taken. UNCONFIRMED AWS behaviour, chosen reading: an open loop
        # of the same flow definition and request is the client's retry after a lost response, so it gets
        # that loop's activation output again instead of an error.
        if existing.status not in ("InProgress", "Stopping"):
            raise invalid(f"HumanLoop '{existing.name}' already exists and is finished")
        same_request = json.loads(existing.input_content).get("aiServiceRequest") == request
        if existing.flow_definition_arn != flow.arn or not same_request:
            raise invalid(f"HumanLoop '{existing.name}' already exists for another request; choose another "
                          "HumanLoopName")
        return activation_output(result, existing.arn)
