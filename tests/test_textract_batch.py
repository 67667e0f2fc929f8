"""Textract over a batch: listing, PDF pages, the manifest, adoption on retry."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from pypdf import PdfReader, PdfWriter

from airflow_a2i.documents import list_documents, write_chunks
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.manifest import read_manifest
from airflow_a2i.operators.textract import TextractAnalyzeDocumentBatchOperator
from tests.conftest import ROLE_ARN, unique, workteam_arn

RESPONSE = (Path(__file__).parent / "fixtures" / "textract-employment-application.json").read_text()
CORS = {"CORSRules": [{"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}]}
EVERY_KEY = {"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck",
                             "ConditionParameters": {"ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 100}}]}


def pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def textract_flow(sagemaker, output_bucket) -> str:
    return textract_flow_with(sagemaker, output_bucket, EVERY_KEY)


def textract_flow_with(sagemaker, output_bucket: str, conditions: dict) -> str:
    ui = sagemaker.create_human_task_ui(HumanTaskUiName=unique("ui"), UiTemplate={"Content": "<crowd-form/>"})
    return sagemaker.create_flow_definition(
        FlowDefinitionName=unique("textract"), RoleArn=ROLE_ARN,
        OutputConfig={"S3OutputPath": f"s3://{output_bucket}/a2i"},
        HumanLoopConfig={"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui["HumanTaskUiArn"], "TaskTitle": "t",
                         "TaskDescription": "d", "TaskCount": 1},
        HumanLoopRequestSource={"AwsManagedHumanLoopRequestSource": "AWS/Textract/AnalyzeDocument/Forms/V1"},
        HumanLoopActivationConfig={"HumanLoopActivationConditionsConfig": {
            "HumanLoopActivationConditions": json.dumps(conditions)}},
    )["FlowDefinitionArn"]


@pytest.fixture
def documents(s3) -> str:
    """A bucket with a 3-page PDF, a 1-page PNG, their stored analyses, and the CORS rule A2I needs."""
    bucket = unique("input-docs")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    s3.put_object(Bucket=bucket, Key="in/contract.pdf", Body=pdf(3))
    for page in (1, 2, 3):
        s3.put_object(Bucket=bucket, Key=f"in/contract.pdf.page-{page:04d}.textract.json", Body=RESPONSE.encode())
    s3.put_object(Bucket=bucket, Key="in/form.png", Body=b"\x89PNG")
    s3.put_object(Bucket=bucket, Key="in/form.png.textract.json", Body=RESPONSE.encode())
    return bucket


def run(operator, run_id: str = "run-1", try_number: int = 1) -> dict:
    ti = SimpleNamespace(dag_id="textract_batch", task_id=operator.task_id, map_index=-1, try_number=try_number)
    return operator.execute({"ti": ti, "run_id": run_id})


def test_listing_skips_analyses_and_the_working_prefix(s3, documents):
    s3.put_object(Bucket=documents, Key="in/work/pages/x.pdf", Body=b"x")
    listed = list_documents(S3Hook(aws_conn_id=None), f"s3://{documents}/in",
                            skip_prefixes=(f"s3://{documents}/in/work",))
    assert listed == [f"s3://{documents}/in/contract.pdf", f"s3://{documents}/in/form.png"]


def test_pdfs_are_split_into_pages_and_each_page_gets_its_loop(local_service, s3, documents, textract_flow):
    operator = TextractAnalyzeDocumentBatchOperator(
        task_id="analyze", flow_definition_arn=textract_flow, input_s3_uri=f"s3://{documents}/in",
        work_s3_uri=f"s3://{documents}/work/run-1", manifest_s3_uri=f"s3://{documents}/work/run-1/manifest",
        aws_conn_id=None)
    summary = run(operator)
    assert {key: summary[key] for key in ("documents", "items", "loops", "errors")} == {
        "documents": 2, "items": 4, "loops": 4, "errors": 0}
    records = read_manifest(S3Hook(aws_conn_id=None), summary["manifest_uri"])
    assert sorted(records) == [f"s3://{documents}/in/contract.pdf#page={page}" for page in (1, 2, 3)] + [
        f"s3://{documents}/in/form.png"]
    pages = s3.list_objects_v2(Bucket=documents, Prefix="work/run-1/pages/")["Contents"]
    assert len(pages) == 3
    first = s3.get_object(Bucket=documents, Key=pages[0]["Key"])
    assert len(PdfReader(io.BytesIO(first["Body"].read())).pages) == 1
    assert first["Metadata"]["a2i-source-document"] == f"s3://{documents}/in/contract.pdf"
    assert not any(key.startswith("in/") and "page-" in key and key.endswith(".pdf")
                   for key in [item["Key"] for item in s3.list_objects_v2(Bucket=documents)["Contents"]])
    analysis = json.loads(s3.get_object(Bucket=documents, Key=records[f"s3://{documents}/in/form.png"]
                                        .analysis_s3_uri.split("/", 3)[3])["Body"].read())
    assert analysis["HumanLoopActivationOutput"]["HumanLoopActivationReasons"] == ["ConditionsEvaluation"]


def test_conditions_that_do_not_hold_start_no_loop(local_service, s3, sagemaker, output_bucket, documents):
    """Textract answers HumanLoopActivationOutput without HumanLoopArn then: the operator records no loop."""
    never = {"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck",
                             "ConditionParameters": {"ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 0}}]}
    flow = textract_flow_with(sagemaker, output_bucket, never)
    summary = run(TextractAnalyzeDocumentBatchOperator(
        task_id="analyze", flow_definition_arn=flow, input_s3_uri=f"s3://{documents}/in",
        work_s3_uri=f"s3://{documents}/work/run-4", manifest_s3_uri=f"s3://{documents}/work/run-4/manifest",
        aws_conn_id=None), "run-4")
    assert {key: summary[key] for key in ("items", "loops", "errors")} == {"items": 4, "loops": 0, "errors": 0}
    records = read_manifest(S3Hook(aws_conn_id=None), summary["manifest_uri"])
    assert [(record.human_loop_started, record.human_loop_name) for record in records.values()] == [(False, None)] * 4
    analysis = json.loads(s3.get_object(Bucket=documents, Key=records[f"s3://{documents}/in/form.png"]
                                        .analysis_s3_uri.split("/", 3)[3])["Body"].read())
    assert set(analysis["HumanLoopActivationOutput"]) == {"HumanLoopActivationConditionsEvaluationResults"}
    assert boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=flow)["HumanLoopSummaries"] == []


def test_a_retry_adopts_loops_started_but_not_recorded(local_service, s3, documents, textract_flow):
    arguments = {"task_id": "analyze", "flow_definition_arn": textract_flow, "input_s3_uri": f"s3://{documents}/in",
                 "work_s3_uri": f"s3://{documents}/work/run-2", "aws_conn_id": None,
                 "manifest_s3_uri": f"s3://{documents}/work/run-2/manifest"}
    run(TextractAnalyzeDocumentBatchOperator(**arguments), "run-2")
    # The attempt died before its manifest reached S3: the loops exist, nothing records them.
    for item in s3.list_objects_v2(Bucket=documents, Prefix="work/run-2/manifest/")["Contents"]:
        s3.delete_object(Bucket=documents, Key=item["Key"])
    # Reviewers finish them meanwhile: sending a finished loop's name again would be refused by A2I.
    for loop in boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=textract_flow)[
            "HumanLoopSummaries"]:
        AdminClient(local_service).answer(loop["HumanLoopName"], {"blocks": []})
    summary = run(TextractAnalyzeDocumentBatchOperator(**arguments), "run-2", try_number=2)
    loops = boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=textract_flow)
    names = [loop["HumanLoopName"] for loop in loops["HumanLoopSummaries"]]
    assert len(names) == len(set(names)) == 4
    assert summary["loops"] == 4 and summary["adopted"] == 4 and summary["errors"] == 0
    records = read_manifest(S3Hook(aws_conn_id=None), arguments["manifest_s3_uri"])
    assert {record.human_loop_name for record in records.values()} == set(names)


def test_chunk_manifests_drive_mapped_tasks(local_service, s3, documents, textract_flow):
    hook = S3Hook(aws_conn_id=None)
    chunks = write_chunks(hook, list_documents(hook, f"s3://{documents}/in"), f"s3://{documents}/chunks", 1)
    assert len(chunks) == 2
    summary = run(TextractAnalyzeDocumentBatchOperator(
        task_id="analyze", flow_definition_arn=textract_flow, documents_s3_uri=chunks[1],
        work_s3_uri=f"s3://{documents}/work/run-3", manifest_s3_uri=f"s3://{documents}/work/run-3/manifest",
        aws_conn_id=None), "run-3")
    assert (summary["documents"], summary["items"]) == (1, 1)
