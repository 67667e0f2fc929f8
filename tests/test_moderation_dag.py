"""The moderation review DAG end to end on the local service: images -> labels -> review of the uncertain ones
-> final labels; its AWS calls checked against the README's IAM table."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from tests.airflow_fixtures import load_dag_file
from tests.aws_calls import AwsCallRecorder, readme_iam_actions
from tests.conftest import ROLE_ARN, unique, workteam_arn
from tests.images import IMAGES, labels, make_images_bucket, upload_images
from tests.loops import reviewing

ROOT = Path(__file__).resolve().parent.parent
DAG_FILE = ROOT / "dags" / "a2i_moderation_review.py"
REKOGNITION = "AWS/Rekognition/DetectModerationLabels/Image/V3"
# The reviewer's judgement: of the labels in question, only "Alcohol" applies.
APPLIES = {"Alcohol"}
REVIEW_BELOW = 90  # the DAG's activation condition: a label below 90 % confidence is in question










def reviewer(flow_arn: str, output_s3_path: str, stop: threading.Event) -> None:
    """A moderator: answers each loop of the flow definition with the labels in question that apply.

    What the task shows (the labels below 90 %) is read from the analysis the DAG wrote for the loop.
    """
    a2i, s3 = boto3.client("sagemaker-a2i-runtime"), boto3.client("s3")
    bucket, prefix = output_s3_path.removeprefix("s3://").split("/", 1)
    answered: set[str] = set()
    while not stop.is_set():
        try:
            loops = a2i.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]
        except a2i.exceptions.ResourceNotFoundException:  # the DAG has not created the flow definition yet
            loops = []
        for loop in loops:
            name = loop["HumanLoopName"]
            if name in answered or loop["HumanLoopStatus"] != "InProgress":
                continue
            keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
                    if item["Key"].endswith(f"/analyses/{name}.json")]
            if not keys:  # the operator writes the analysis right after A2I started the loop
                continue
            response = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
            chosen = [{"name": label["Name"], "parentName": label["ParentName"]}
                      for label in response["ModerationLabels"]
                      if label["Confidence"] < REVIEW_BELOW and label["Name"] in APPLIES]
            AdminClient().answer(name, {"moderationLabels": chosen}, worker_id="moderator-1", time_spent=3.0)
            answered.add(name)
        time.sleep(0.1)


def run_moderation(airflow_dags, bucket: str, output_bucket: str):
    flow_name = unique("moderation")
    flow_arn = f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{flow_name}"
    output_s3_path = f"s3://{output_bucket}/{flow_name}"
    conf = {"role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": flow_name,
            "input_s3_uri": f"s3://{bucket}/inbox", "output_s3_path": output_s3_path, "poll_seconds": 0.3}
    dag = load_dag_file(DAG_FILE)
    with reviewing(lambda stop: reviewer(flow_arn, output_s3_path, stop)) as moderator, \
            AwsCallRecorder(ignored=moderator) as recorder:
        run = airflow_dags.run(dag, run_conf=conf)
    return dag, run, flow_arn, recorder


def read_lines(uri: str) -> list[dict]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def operator_names(dag) -> set[str]:
    """The operator classes of the DAG's tasks (a mapped task's own class, not MappedOperator)."""
    return {getattr(task, "operator_class", type(task)).__name__ for task in dag.tasks}


@pytest.mark.timeout(180)
def test_the_moderation_dag_reviews_the_uncertain_images(airflow_dags, local_service, output_bucket):
    bucket = make_images_bucket()
    upload_images(bucket, IMAGES)
    dag, run, flow_arn, recorder = run_moderation(airflow_dags, bucket, output_bucket)
    assert str(run.state) == "success", airflow_dags.task_states(run)
    assert airflow_dags.task_states(run) == {
        "task_ui": "success", "flow_definition": "success", "list_images": "success", "moderate": "success",
        "wait_for_reviews": "success", "final_labels": "success"}

    # Two uncertain images went to review, and only those.
    loops = boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]
    assert len(loops) == 2
    waited = airflow_dags.xcom(run, "wait_for_reviews")  # on what the Rekognition tasks returned: those loops
    assert (waited["counts"], waited["names_by_status"]) == (
        {"Completed": 2}, {"Completed": sorted(loop["HumanLoopName"] for loop in loops)})

    results = airflow_dags.xcom(run, "final_labels")
    assert (results["items"], results["loops"], results["statuses"]) == (4, 2, {"Completed": 2})
    rows = {row["item_key"].removeprefix(f"s3://{bucket}/"): row for row in read_lines(results["results_uri"])}
    assert sorted(rows) == sorted(IMAGES)  # the text file and the stored responses are not images
    assert {key: row["final_labels"] for key, row in rows.items()} == {
        "inbox/beer.png": ["Alcohol"],
        # "Suggestive" (70) was in question and not chosen; the swimwear label (96) was not in question.
        "inbox/beach.jpg": ["Female Swimwear Or Underwear"],
        # Both labels were in question; the reviewer kept "Alcohol". "Smoking" (40) is below MinConfidence 50.
        "inbox/party.PNG": ["Alcohol"],
        "inbox/garden.jpeg": [],
    }
    assert rows["inbox/party.PNG"]["labels"] == [
        {"name": "Alcohol", "parent_name": "", "machine_confidence": 60.0, "kept_by_reviewer": True},
        {"name": "Drugs", "parent_name": "", "machine_confidence": 55.0, "kept_by_reviewer": False}]
    assert [label["kept_by_reviewer"] for label in rows["inbox/beach.jpg"]["labels"]] == [False, None]
    assert rows["inbox/beer.png"]["labels"][0]["kept_by_reviewer"] is None
    for key, row in rows.items():
        assert row["request_source"] == REKOGNITION, key
        assert row["machine_result_s3_uri"].startswith(f"s3://{output_bucket}/"), key
        reviewed = key in ("inbox/beach.jpg", "inbox/party.PNG")
        assert (row["human_loop_name"] is not None, row["status"]) == \
            (reviewed, "Completed" if reviewed else None), key
        if reviewed:
            assert row["answers"][0]["worker_id"] == "moderator-1"

    # Runs unchanged on AWS: only public operations, none to the admin API, all listed in the README's IAM table
    # (and s3:ListBucket, which the DAG's docstring names, for listing the images).
    assert recorder.calls and all("/_a2i" not in endpoint for _, _, endpoint in recorder.calls)
    assert {"RekognitionDetectModerationLabelsOperator", "A2IHumanLoopSensor"} <= operator_names(dag)
    listed = readme_iam_actions(operator_names(dag)) | {"s3:ListBucket"}
    assert recorder.iam_actions() <= listed, recorder.iam_actions() - listed
    assert {"rekognition:DetectModerationLabels", "s3:GetBucketCors", "s3:GetBucketLocation",
            "sagemaker:CreateFlowDefinition", "sagemaker:DescribeHumanLoop", "s3:ListBucket"} <= recorder.iam_actions()


@pytest.mark.timeout(120)
def test_when_no_image_needs_review_there_is_nothing_to_wait_for(airflow_dags, local_service, output_bucket):
    bucket = make_images_bucket()
    upload_images(bucket, {"inbox/beer.png": IMAGES["inbox/beer.png"], "inbox/tree.jpg": labels()})
    _, run, flow_arn, _ = run_moderation(airflow_dags, bucket, output_bucket)
    states = airflow_dags.task_states(run)
    assert (states["wait_for_reviews"], states["final_labels"]) == ("success", "success")
    assert airflow_dags.xcom(run, "wait_for_reviews")["counts"] == {}
    assert boto3.client("sagemaker-a2i-runtime").list_human_loops(
        FlowDefinitionArn=flow_arn)["HumanLoopSummaries"] == []
    rows = read_lines(airflow_dags.xcom(run, "final_labels")["results_uri"])
    assert sorted((row["item_key"], row["final_labels"]) for row in rows) == [
        (f"s3://{bucket}/inbox/beer.png", ["Alcohol"]), (f"s3://{bucket}/inbox/tree.jpg", [])]
