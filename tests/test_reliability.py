"""A 1,000-item batch under injected faults: every item started exactly once, waited on, and its result read.

StartHumanLoop meets ThrottlingException on 20% and InternalServerException on 5% of the calls, and lost
responses (carried out, answered with an InternalServerException); the wait and the reading meet
ThrottlingException on 20% of DescribeHumanLoop and ListHumanLoops calls. Each rule has a large ``count``
so that the test can read from the service how often it hit, and show that the faults were really met.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from types import SimpleNamespace

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor
from tests.conftest import unique

COUNT = 1000
BIG = 1_000_000  # a rule's count: never used up, and what is left of it tells how often it hit
ANSWER = {"answer": "reviewed"}
POOL = {"max_pool_connections": 64}  # a connection per thread, kept alive


def items(count: int) -> list[dict]:
    return [{"item_key": f"item-{index:05d}", "input": {"text": f"document {index}"}} for index in range(count)]


def hits(admin: AdminClient) -> Counter:
    """(operation, error or 'lost') -> how many requests each rule hit so far."""
    counts: Counter = Counter()
    for rule in admin.faults()["rules"]:
        if rule["count"] > BIG // 2:
            counts[(rule["operation"], rule["error"] or "lost")] += BIG - rule["count"]
    return counts


def loop_summaries(flow_arn: str) -> list[dict]:
    pages = boto3.client("sagemaker-a2i-runtime").get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=flow_arn)
    return [loop for page in pages for loop in page["HumanLoopSummaries"]]


@pytest.mark.timeout(600)
def test_a_thousand_items_under_faults_are_started_once_and_every_result_is_read(
        local_service, flow_definition_arn, output_bucket, s3):
    admin = AdminClient(local_service)
    admin.request("PUT", "workforce/policies", {"flowDefinitionArn": flow_definition_arn, "policy": {
        "delaySeconds": [0.0, 0.3], "answer": {"mode": "fixed", "answer": ANSWER}}})
    batch = items(COUNT)
    timings: dict[str, float] = {}
    try:
        admin.add_fault("StartHumanLoop", "ThrottlingException", rate=0.2, count=BIG)
        admin.add_fault("StartHumanLoop", "InternalServerException", rate=0.05, count=BIG)
        admin.add_fault("StartHumanLoop", lost_response=True, rate=0.03, count=BIG)
        started_at = time.monotonic()
        start = A2IStartHumanLoopBatchOperator(task_id="start", flow_definition_arn=flow_definition_arn, items=batch,
                                           manifest_s3_uri=f"s3://{output_bucket}/{unique('reliability')}/manifest",
                                           max_concurrency=64, botocore_config=POOL, aws_conn_id=None)
        ti = SimpleNamespace(dag_id="reliability", task_id="start", map_index=-1, try_number=1)
        summary = start.execute({"ti": ti, "run_id": "reliability-run"})
        timings["start"] = time.monotonic() - started_at
        start_hits = hits(admin)

        admin.add_fault("DescribeHumanLoop", "ThrottlingException", rate=0.2, count=BIG)
        admin.add_fault("ListHumanLoops", "ThrottlingException", count=1)  # the first look is throttled for sure
        admin.add_fault("ListHumanLoops", "ThrottlingException", rate=0.2, count=BIG)
        started_at = time.monotonic()
        sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=[summary], poke_interval=0.2,
                                         aws_conn_id=None)
        # A backstop, not the assertion (a busy machine may take minutes): the counts below say what happened.
        deadline = time.monotonic() + 480
        pokes = 0
        while not (result := sensor.poke({})).is_done:
            pokes += 1
            assert time.monotonic() < deadline, f"the batch was not done after {pokes} pokes"
            time.sleep(0.2)
        timings["wait"] = time.monotonic() - started_at

        started_at = time.monotonic()
        # The describe path, which meets the DescribeHumanLoop throttles above; the listing path gives the same
        # results (test_results_listing.py) and calls DescribeHumanLoop only for loops without an output.
        reader = A2IHumanLoopResultsOperator(task_id="results", manifests=[summary], fail_on_missing_output=True,
                                             output_s3_uri=f"s3://{output_bucket}/{unique('results')}",
                                             max_concurrency=64, botocore_config=POOL, aws_conn_id=None,
                                             output_lookup="describe")
        written = reader.execute({})
        timings["read"] = time.monotonic() - started_at
        read_hits = hits(admin)
        assert not [rule for rule in admin.faults()["rules"] if rule["count"] == 1], "the wait listed no loops"
    finally:
        admin.clear_faults()
        admin.request("PUT", "workforce/policies", {"flowDefinitionArn": flow_definition_arn,
                                                    "policy": {"delaySeconds": [3600.0, 3600.0]}})
    print(f"\n{COUNT} items: timings {timings}; fault hits {dict(read_hits)}")

    # The faults were met: each rule hit a share of its calls close to its rate.
    assert start_hits[("StartHumanLoop", "ThrottlingException")] >= 0.1 * COUNT
    assert start_hits[("StartHumanLoop", "InternalServerException")] >= 0.02 * COUNT
    assert start_hits[("StartHumanLoop", "lost")] >= 0.01 * COUNT
    assert read_hits[("DescribeHumanLoop", "ThrottlingException")] >= 0.1 * COUNT

    # Every item started exactly once: one loop per item, no second loop under any name.
    assert {key: summary[key] for key in ("items", "loops", "errors")} == {"items": COUNT, "loops": COUNT,
                                                                            "errors": 0}
    assert summary["started"] + summary["adopted"] == COUNT
    loops = loop_summaries(flow_definition_arn)
    assert len(loops) == len({loop["HumanLoopName"] for loop in loops}) == COUNT
    assert Counter(loop["HumanLoopStatus"] for loop in loops) == {"Completed": COUNT}

    # The wait saw every loop completed.
    assert result.xcom_value["total"] == COUNT and result.xcom_value["counts"] == {"Completed": COUNT}

    # Every result read: each item exactly once, with its loop Completed and its answer read from output.json.
    assert written["items"] == written["loops"] == COUNT and written["statuses"] == {"Completed": COUNT}
    bucket, key = written["results_uri"].removeprefix("s3://").split("/", 1)
    rows = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]
    assert sorted(row["item_key"] for row in rows) == [item["item_key"] for item in batch]
    assert {row["human_loop_name"] for row in rows} == {loop["HumanLoopName"] for loop in loops}
    for row in rows:
        assert (row["status"], row["output_error"]) == ("Completed", None), row
        assert [answer["answer"] for answer in row["answers"]] == [ANSWER] and row["consolidated_answer"] == ANSWER
