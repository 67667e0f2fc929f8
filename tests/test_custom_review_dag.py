"""The custom review DAG end to end on the local service, and what makes it run unchanged on AWS."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from tests.airflow_fixtures import load_dag_file
from tests.aws_calls import AwsCallRecorder, readme_iam_actions
from tests.conftest import ROLE_ARN, unique, workteam_arn
from tests.loops import reviewing

ROOT = Path(__file__).resolve().parent.parent
DAG_FILE = ROOT / "dags" / "a2i_custom_review.py"






def answer_when_started(flow_arn: str, answer: dict, stop: threading.Event) -> None:
    """A reviewer: waits for the flow definition's first loop and answers it."""
    a2i = boto3.client("sagemaker-a2i-runtime")
    while not stop.is_set():
        try:
            loops = a2i.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]
        except a2i.exceptions.ResourceNotFoundException:
            loops = []
        if loops:
            AdminClient().answer(loops[0]["HumanLoopName"], answer, worker_id="reviewer-1", time_spent=42.0)
            return
        time.sleep(0.1)


@pytest.mark.timeout(180)
def test_the_custom_review_dag_runs_end_to_end(airflow_dags, local_service, output_bucket, s3):
    dag = load_dag_file(DAG_FILE)
    flow_name = unique("custom-review")
    flow_arn = f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{flow_name}"
    conf = {"role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": flow_name,
            "output_s3_path": f"s3://{output_bucket}/{flow_name}", "text": "Total: 99.50 EUR",
            "poll_seconds": 0.3}
    with reviewing(lambda stop: answer_when_started(flow_arn, {"answer": "99.50 EUR"}, stop)) as reviewer, \
            AwsCallRecorder(ignored=reviewer) as recorder:
        run = airflow_dags.run(dag, run_conf=conf)
    assert airflow_dags.task_states(run) == {"task_ui": "success", "flow_definition": "success",
                                             "review": "success", "read_answer": "success"}
    review = airflow_dags.xcom(run, "review")
    assert review["HumanLoopStatus"] == "Completed"
    results = airflow_dags.xcom(run, "read_answer")
    bucket, key = results["results_uri"].removeprefix("s3://").split("/", 1)
    [line] = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    row = json.loads(line)
    assert row["human_loop_name"] == review["HumanLoopName"]
    assert row["consolidated_answer"] == {"answer": "99.50 EUR"}
    assert row["answers"][0]["worker_id"] == "reviewer-1"

    # Runs unchanged on AWS: only public operations, none to the admin API, all listed in the README's IAM table.
    assert recorder.calls and all("/_a2i" not in endpoint for _, _, endpoint in recorder.calls)
    used = {type(task).__name__ for task in dag.tasks}
    listed = readme_iam_actions(used)
    assert recorder.iam_actions() <= listed, recorder.iam_actions() - listed
    assert {"sagemaker:CreateFlowDefinition", "sagemaker:StartHumanLoop", "sagemaker:DescribeHumanLoop",
            "s3:PutObject"} <= recorder.iam_actions()


def test_a_second_run_reuses_the_task_ui_and_flow_definition(airflow_dags, local_service, output_bucket,
                                                               sagemaker):
    dag = load_dag_file(DAG_FILE)
    flow_name = unique("custom-review")
    conf = {"role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": flow_name,
            "output_s3_path": f"s3://{output_bucket}/{flow_name}"}
    partial = dag.partial_subset(task_ids=["task_ui", "flow_definition"], include_upstream=True,
                                 include_downstream=False)
    first = airflow_dags.run(partial, run_conf=conf)
    second = airflow_dags.run(partial, run_conf=conf)
    assert airflow_dags.task_states(first) == airflow_dags.task_states(second) == {
        "task_ui": "success", "flow_definition": "success"}
    assert airflow_dags.xcom(first, "flow_definition") == airflow_dags.xcom(second, "flow_definition")
    flows = [flow["FlowDefinitionName"] for page in sagemaker.get_paginator("list_flow_definitions").paginate()
             for flow in page["FlowDefinitionSummaries"]]
    assert flows.count(flow_name) == 1


def test_no_dag_names_an_endpoint_or_an_account():
    for path in (ROOT / "dags").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"https?://|localhost|127\.0\.0\.1|:4566", text), path
        assert not re.search(r"\b\d{12}\b", text), path


def test_parsing_the_dag_reads_no_service_model_and_imports_no_run_time_module():
    """What the DAG processor pays for the file: no botocore service model is loaded (a SageMaker model takes
    about 0.1 s), and the modules only a task run needs are not imported (benchmarks: DAG file parse time)."""
    code = f"""
import json, sys
import botocore.loaders
loaded = []
original = botocore.loaders.Loader.load_service_model
def load_service_model(self, service_name, *args, **kwargs):
    loaded.append(service_name)
    return original(self, service_name, *args, **kwargs)
botocore.loaders.Loader.load_service_model = load_service_model
import runpy
dag = runpy.run_path({str(DAG_FILE)!r})["dag"]
print(json.dumps({{"tasks": len(dag.tasks), "loaded": loaded, "imported": sorted(
    name for name in ("airflow_a2i.results.output", "airflow_a2i.results.built_in", "airflow_a2i.batching",
                      "airflow_a2i.sensors.batch",
                      "airflow_a2i.manifest", "airflow_a2i.model_validation", "airflow_a2i.waiting.sync",
                      "airflow_a2i.waiting.batch", "airflow_a2i.triggers.base",
                      "airflow_a2i.triggers.human_loop", "airflow.providers.amazon.aws.hooks.s3")
    if name in sys.modules)}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"tasks": 4, "loaded": [], "imported": []}
