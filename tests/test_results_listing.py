"""Reading a batch's results by listing its output prefix instead of describing every loop: the same JSON Lines as
the describe path, with a describe only for the loops without an output."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import boto3
import pytest

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.results import listing
from airflow_a2i.results.listing import human_loop_arn, listing_start, loop_name_of, output_prefix
from tests.aws_calls import AwsCallRecorder
from tests.conftest import unique

FLOW = "arn:aws:sagemaker:eu-west-1:123456789012:flow-definition/invoices"


def test_the_output_prefix_of_a_flow_definition() -> None:
    assert output_prefix("s3://bucket/a2i/out/", FLOW) == ("bucket", "a2i/out/invoices/")
    assert output_prefix("s3://bucket", FLOW) == ("bucket", "invoices/")


def test_the_listing_starts_before_the_batchs_first_loop() -> None:
    # 2026-12-03 21:15:00 UTC, less the skew for the service's clock
    assert listing_start("out/invoices/", 1796332500.0) == "out/invoices/2026/12/03/21/10/00"


@pytest.mark.parametrize(("key", "name"), [
    ("out/invoices/2026/12/03/21/15/07/invoice-7-abc/output.json", "invoice-7-abc"),
    ("out/invoices/2026/12/03/21/15/07/invoice-7-abc/other.json", None),
    ("out/invoices/2026/12/03/21/15/invoice-7-abc/output.json", None),
    ("out/invoices/2026/12/03/21/15/xx/invoice-7-abc/output.json", None),
    ("out/other/2026/12/03/21/15/07/invoice-7-abc/output.json", None),
])
def test_the_loop_of_an_output_key(key: str, name: str | None) -> None:
    assert loop_name_of(key, "out/invoices/") == name


def test_a_loops_arn_is_formed_as_a2i_forms_it() -> None:
    assert human_loop_arn(FLOW, "loop-1") == "arn:aws:sagemaker:eu-west-1:123456789012:human-loop/loop-1"
    assert human_loop_arn(FLOW.replace("arn:aws:", "arn:aws-cn:"), "l").startswith("arn:aws-cn:sagemaker:")


def test_listing_needs_manifests() -> None:
    with pytest.raises(A2IValidationError, match="output_lookup='listing' needs manifests"):
        A2IHumanLoopResultsOperator(task_id="r", human_loops=["a"], output_s3_uri="s3://b/p", output_lookup="listing")
    with pytest.raises(A2IValidationError, match="is not one of"):
        A2IHumanLoopResultsOperator(task_id="r", human_loops=["a"], output_s3_uri="s3://b/p", output_lookup="list")


def read_lines(s3, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_the_listing_path_gives_the_describe_paths_results_with_fewer_calls(local_service, flow_definition_arn,
                                                                           output_bucket, s3, monkeypatch):
    monkeypatch.setattr(listing, "LIST_PAGE_SIZE", 7)  # several pages of outputs
    items = [{"item_key": f"doc-{index:03d}", "input": {"text": f"document {index}"}} for index in range(24)]
    start = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn, items=items,
                                           manifest_s3_uri=f"s3://{output_bucket}/{unique('m')}", aws_conn_id=None)
    ti = SimpleNamespace(dag_id="listing_dag", task_id="start", map_index=-1, try_number=1)
    summary = start.execute({"ti": ti, "run_id": unique("run")})
    runtime = boto3.client("sagemaker-a2i-runtime")
    names = sorted(loop["HumanLoopName"] for loop in runtime.list_human_loops(
        FlowDefinitionArn=flow_definition_arn, MaxResults=100)["HumanLoopSummaries"])
    assert len(names) == 24
    admin = AdminClient(local_service)
    for index, name in enumerate(names[:20]):
        admin.answer(name, {"label": "yes" if index % 3 else "no", "note": f"n{index}"})
    for name in names[20:22]:
        runtime.stop_human_loop(HumanLoopName=name)  # two Stopped, two left open

    def results(lookup: str) -> tuple[dict, list[tuple[str, str, str]]]:
        operator = A2IHumanLoopResultsOperator(task_id="results", manifests=[summary], output_lookup=lookup,
                                               output_s3_uri=f"s3://{output_bucket}/{unique(lookup)}",
                                               aws_conn_id=None)
        with AwsCallRecorder(threading.Thread()) as recorder:
            written = operator.execute({})
        return written, recorder.calls

    described, describe_calls = results("describe")
    listed, listing_calls = results("listing")
    assert read_lines(s3, listed["results_uri"]) == read_lines(s3, described["results_uri"])
    assert {**json.loads(read_lines(s3, listed["summary_uri"])), "results_uri": None} == \
        {**json.loads(read_lines(s3, described["summary_uri"])), "results_uri": None}
    assert described["statuses"] == {"Completed": 20, "InProgress": 2, "Stopped": 2}

    def count(calls: list, operation: str) -> int:
        return sum(1 for _, called, _ in calls if called == operation)

    assert count(describe_calls, "DescribeHumanLoop") == 24
    assert count(listing_calls, "DescribeHumanLoop") == 4  # the loops without an output
    # beside the manifest's listing, both paths': 20 outputs, 7 a page
    assert count(listing_calls, "ListObjectsV2") == count(describe_calls, "ListObjectsV2") + 3
    assert count(listing_calls, "DescribeFlowDefinition") == 1
    assert count(listing_calls, "GetObject") == count(describe_calls, "GetObject")
