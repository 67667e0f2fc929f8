"""The batch document review DAG end to end on the local service, with reviewers answering from ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from demo.dag_runner import load_dag_file
from demo.samples import corrected_blocks, load_ground_truth, upload_samples, write_samples
from tests.conftest import ROLE_ARN, unique, workteam_arn

ROOT = Path(__file__).resolve().parent.parent


def read_lines(s3, uri: str) -> list[dict]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]


@pytest.mark.timeout(240)
def test_the_batch_review_dag_reviews_the_uncertain_pages(airflow_dags, local_service, s3, tmp_path, capfd):
    samples = tmp_path / "samples"
    summary = write_samples(samples, count=14)
    bucket = unique("batch-review")
    upload_samples(s3, samples, bucket)
    flow_name = unique("batch-flow")
    dag = load_dag_file(ROOT / "dags" / "a2i_batch_document_review.py")
    # The reviewers: every loop of this flow definition answered from the ground truth by a simulated workforce.
    partial = dag.partial_subset(task_ids=["flow_definition"], include_upstream=True, include_downstream=False)
    conf = {"input_s3_uri": f"s3://{bucket}/input", "output_s3_uri": f"s3://{bucket}/output",
            "role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": flow_name, "chunk_size": 5,
            "poll_seconds": 0.5, "sampling_percentage": 40}
    flow_arn = airflow_dags.xcom(airflow_dags.run(partial, run_conf=conf), "flow_definition")
    truth = {f"s3://{bucket}/input/{record['document']}": record for record in load_ground_truth(samples)}
    AdminClient(local_service).request("PUT", "workforce/policies", {"flowDefinitionArn": flow_arn, "policy": {
        "delaySeconds": [0.2, 1.0], "answer": {"mode": "echo"}}})

    # The run is given the flow definition: it creates none (nor a task UI), though it names another.
    unused_name = unique("not-created")
    run = airflow_dags.run(dag, run_conf={**conf, "flow_definition_arn": flow_arn, "flow_definition_name": unused_name})
    states = airflow_dags.task_states(run)
    assert str(run.state) == "success", states
    assert airflow_dags.xcom(run, "flow_definition") == flow_arn
    sagemaker = boto3.client("sagemaker")
    for describe, argument in ((sagemaker.describe_flow_definition, "FlowDefinitionName"),
                               (sagemaker.describe_human_task_ui, "HumanTaskUiName")):
        with pytest.raises(sagemaker.exceptions.ResourceNotFound):
            describe(**{argument: unused_name})
    assert states["analyze"] == "success"
    results = airflow_dags.xcom(run, "results")
    lines = read_lines(s3, results["results_uri"])
    assert len(lines) == summary.pages  # one line per page, reviewed or not
    assert {line["document"] for line in lines} == set(truth)
    reviewed = [line for line in lines if line["human_loop_name"]]
    assert 0 < len(reviewed) < len(lines)
    assert all(line["status"] == "Completed" and line["answers"] for line in reviewed)
    assert all(line["fields"] is not None for line in lines)  # every page: machine values, merged with answers
    assert sum(bool(line["fields"]) for line in lines) > len(lines) // 2
    names = [loop["HumanLoopName"] for loop in boto3.client("sagemaker-a2i-runtime").list_human_loops(
        FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]]
    assert sorted(names) == sorted(line["human_loop_name"] for line in reviewed)  # one loop per reviewed page
    assert len(airflow_dags.xcom(run, "chunk_documents")) == 3  # 14 documents in chunks of 5
    totals = json.loads(s3.get_object(Bucket=bucket, Key=results["summary_uri"].split("/", 3)[3])["Body"].read())
    assert totals["documents"] == 14 and totals["items"] == summary.pages
    assert totals["documents_reviewed"] == len({line["document"] for line in reviewed})
    described = sagemaker.describe_flow_definition(FlowDefinitionName=flow_name)["HumanLoopActivationConfig"]
    assert json.loads(described["HumanLoopActivationConditionsConfig"]["HumanLoopActivationConditions"])[
        "Conditions"][1] == {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 40}}
    # Each loop says which conditions held; Sampling (40% here) drew some pages whatever their confidences.
    conditions_met = [[item["ConditionType"] for item in line["activation_results"]["Conditions"]
                       if item["EvaluationResult"]] for line in reviewed]
    assert all(conditions_met)
    assert [line["sampled"] for line in reviewed] == ["Sampling" in met for met in conditions_met]
    assert any(line["sampled"] for line in reviewed) and all(line["sampled"] is False for line in lines
                                                             if not line["human_loop_name"])
    report = airflow_dags.xcom(run, "report")
    assert report["report_uri"] == results["results_uri"].rsplit("/", 1)[0] + "/report/report.html"
    assert report["pages"] == len(lines) and report["sample"] > 0
    # Runs that succeed log no error (Airflow's task logs go to stdout): no task asks for an XCom that does not
    # exist, such as one past a mapped task's last.
    logged = "".join(capfd.readouterr())
    assert "XCom not found" not in logged, [line for line in logged.splitlines() if "XCom not found" in line][:3]


def test_corrected_blocks_set_values_to_the_truth():
    blocks = [{"blockType": "KEY_VALUE_SET", "id": "k", "entityTypes": ["KEY"],
               "relationships": [{"type": "CHILD", "ids": ["w1"]}, {"type": "VALUE", "ids": ["v"]}]},
              {"blockType": "KEY_VALUE_SET", "id": "v", "entityTypes": ["VALUE"],
               "relationships": [{"type": "CHILD", "ids": ["w2"]}]},
              {"blockType": "WORD", "id": "w1", "text": "Total:"}, {"blockType": "WORD", "id": "w2", "text": "12.5O"}]
    fixed = corrected_blocks(blocks, {"Total:": "12.50"})
    assert [block.get("text") for block in fixed if block["blockType"] == "WORD"] == ["Total:", "12.50"]
