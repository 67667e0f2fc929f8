"""Starting many loops in one task: manifests, resumption after a crash, faults, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.manifest import completion, read_manifest
from airflow_a2i.names import deterministic_loop_name
from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator
from tests.conftest import unique


def loop_names(flow_arn: str) -> list[str]:
    pages = boto3.client("sagemaker-a2i-runtime").get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=flow_arn)
    return [loop["HumanLoopName"] for page in pages for loop in page["HumanLoopSummaries"]]


def items(count: int, prefix: str = "doc") -> list[dict]:
    return [{"item_key": f"{prefix}-{index:05d}", "input": {"text": f"document {index}"}} for index in range(count)]


def run_operator(operator: A2IStartHumanLoopBatchOperator, run_id: str, try_number: int = 1) -> dict:
    ti = SimpleNamespace(dag_id="batch_dag", task_id=operator.task_id, map_index=-1, try_number=try_number)
    return operator.execute({"ti": ti, "run_id": run_id})


def test_a_batch_starts_one_loop_per_item_and_records_them(local_service, flow_definition_arn, output_bucket):
    manifest = f"s3://{output_bucket}/{unique('batch')}/manifest"
    operator = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn,
                                          items=items(40), manifest_s3_uri=manifest, flush_every=15,
                                          aws_conn_id=None)
    summary = run_operator(operator, "run-1")
    assert {key: summary[key] for key in ("items", "loops", "started", "adopted", "errors")} == {
        "items": 40, "loops": 40, "started": 40, "adopted": 0, "errors": 0}
    records = read_manifest(S3Hook(aws_conn_id=None), manifest)
    assert sorted(records) == [item["item_key"] for item in items(40)]
    assert {record.human_loop_name for record in records.values()} == set(loop_names(flow_definition_arn))
    assert records["doc-00007"].human_loop_name == deterministic_loop_name("batch_dag", "run-1", "start",
                                                                             item_key="doc-00007")
    assert completion(S3Hook(aws_conn_id=None), manifest)["loops"] == 40
    again = run_operator(operator, "run-1", try_number=2)  # a retry of a finished batch starts nothing
    assert (again["started"], again["loops"]) == (0, 40)
    assert len(loop_names(flow_definition_arn)) == 40


def test_rechunking_keeps_every_items_name(local_service, flow_definition_arn, output_bucket):
    batch = items(10)
    first = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn, items=batch[:5],
                                       manifest_s3_uri=f"s3://{output_bucket}/{unique('a')}", aws_conn_id=None)
    second = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn,
                                        items=batch[::-1], manifest_s3_uri=f"s3://{output_bucket}/{unique('b')}",
                                        aws_conn_id=None)
    run_operator(first, "run-x")
    run_operator(second, "run-x")  # the same items in other chunks and order: the first five are not new loops
    assert len(loop_names(flow_definition_arn)) == 10


@pytest.mark.timeout(180)
def test_a_crash_mid_batch_loses_and_duplicates_nothing(local_service, flow_definition_arn, output_bucket, s3):
    count = 1000
    prefix = unique("crash")
    s3.put_object(Bucket=output_bucket, Key=f"{prefix}/items.jsonl",
                  Body="".join(json.dumps(item) + "\n" for item in items(count)).encode())
    arguments = {"task_id": "start", "dag_id": "batch_dag", "run_id": "crash-run", "try_number": 1,
                 "flow_definition_arn": flow_definition_arn, "items_s3_uri": f"s3://{output_bucket}/{prefix}/items.jsonl",
                 "manifest_s3_uri": f"s3://{output_bucket}/{prefix}/manifest", "flush_every": 50, "max_concurrency": 4}
    process = subprocess.Popen([sys.executable, "-m", "tests.run_batch_start", json.dumps(arguments)],
                               env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(loop_names(flow_definition_arn)) < 150 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    started_before = set(loop_names(flow_definition_arn))
    recorded_before = read_manifest(S3Hook(aws_conn_id=None), arguments["manifest_s3_uri"])
    assert 0 < len(recorded_before) < count and len(started_before) < count  # killed in the middle
    assert completion(S3Hook(aws_conn_id=None), arguments["manifest_s3_uri"]) is None

    retry = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn,
                                       items_s3_uri=arguments["items_s3_uri"],
                                       manifest_s3_uri=arguments["manifest_s3_uri"], aws_conn_id=None)
    summary = run_operator(retry, "crash-run", try_number=2)
    names = loop_names(flow_definition_arn)
    assert len(names) == len(set(names)) == count  # no duplicate, no lost item
    records = read_manifest(S3Hook(aws_conn_id=None), arguments["manifest_s3_uri"])
    assert len(records) == count and all(record.human_loop_started for record in records.values())
    assert {record.human_loop_name for record in records.values()} == set(names)
    assert summary["loops"] == count and summary["errors"] == 0


def test_throttling_and_lost_responses_are_absorbed(local_service, flow_definition_arn, output_bucket):
    admin = AdminClient(local_service)
    admin.add_fault("StartHumanLoop", "ThrottlingException", rate=0.3, count=30)
    admin.add_fault("StartHumanLoop", lost_response=True, rate=0.2, count=10)
    try:
        operator = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn,
                                              items=items(60), manifest_s3_uri=f"s3://{output_bucket}/{unique('f')}",
                                              aws_conn_id=None)
        summary = run_operator(operator, "fault-run")
    finally:
        admin.clear_faults()
    names = loop_names(flow_definition_arn)
    assert len(names) == len(set(names)) == 60
    assert summary["loops"] == 60 and summary["errors"] == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"items": [{"item_key": "a", "input": {}}, {"item_key": "a", "input": {}}]}, r"Duplicated: \['a'\]"),
        ({"items": [{"key": "a"}]}, "must be {'item_key': str, 'input'"),
        ({"items": [], "items_s3_uri": "s3://b/k"}, "exactly one of items"),
        ({"items": [{"item_key": "a", "input": {}}], "flow_definition_arn": "arn:aws:sagemaker:x"}, "ARN"),
    ],
)
def test_bad_batches_fail_before_any_request(arguments, message):
    defaults = {"task_id": "start", "manifest_s3_uri": "s3://bucket/manifest",
                "flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f"}
    with pytest.raises(A2IValidationError, match=message):
        A2IStartHumanLoopBatchOperator(**{**defaults, **arguments})


def test_an_empty_batch_fails_unless_allowed(local_service, flow_definition_arn, output_bucket):
    operator = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn, items=[],
                                          manifest_s3_uri=f"s3://{output_bucket}/{unique('e')}", aws_conn_id=None)
    with pytest.raises(A2IValidationError, match="fail_on_empty=False"):
        run_operator(operator, "empty-run")
    operator.fail_on_empty = False
    assert run_operator(operator, "empty-run")["loops"] == 0


def test_stop_every_open_loop_of_a_batch(local_service, flow_definition_arn, output_bucket):
    from airflow_a2i.operators.batch import A2IStopHumanLoopBatchOperator

    start = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn, items=items(6),
                                       manifest_s3_uri=f"s3://{output_bucket}/{unique('s')}", aws_conn_id=None)
    summary = run_operator(start, "stop-run")
    done = loop_names(flow_definition_arn)[0]
    AdminClient(local_service).answer(done, {"ok": True})
    stop = A2IStopHumanLoopBatchOperator(task_id="stop", manifests=[summary], aws_conn_id=None)
    assert stop.execute({}) == {"stopped": 5, "not_open": 1}
    statuses = {loop["HumanLoopStatus"] for loop in boto3.client("sagemaker-a2i-runtime").list_human_loops(
        FlowDefinitionArn=flow_definition_arn)["HumanLoopSummaries"]}
    assert statuses <= {"Completed", "Stopping", "Stopped"} and "Completed" in statuses
    assert stop.execute({}) == {"stopped": 0, "not_open": 6}  # idempotent


def test_results_of_a_batch_and_retention(local_service, flow_definition_arn, output_bucket, s3):
    from airflow_a2i.operators.results import A2IHumanLoopResultsOperator

    start = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn, items=items(3),
                                       manifest_s3_uri=f"s3://{output_bucket}/{unique('r')}", aws_conn_id=None)
    summary = run_operator(start, "retention-run")
    first, second, _ = sorted(loop_names(flow_definition_arn))
    admin = AdminClient(local_service)
    admin.answer(first, {"ok": 1})
    admin.answer(second, {"ok": 2})
    results = A2IHumanLoopResultsOperator(task_id="results", manifests=[summary], delete_finished_loops=True,
                                          output_s3_uri=f"s3://{output_bucket}/{unique('results')}",
                                          aws_conn_id=None)
    written = results.execute({})
    bucket, key = written["results_uri"].removeprefix("s3://").split("/", 1)
    lines = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]
    assert sorted(line["item_key"] for line in lines) == [item["item_key"] for item in items(3)]
    assert sorted(line["status"] for line in lines) == ["Completed", "Completed", "InProgress"]
    assert len(loop_names(flow_definition_arn)) == 1  # the two finished loops are deleted, the open one kept
