"""State survives a restart of the local service: loops, answers, buckets (with Regions) and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from airflow_a2i.local.admin_client import AdminClient
from demo.service import ServiceProcess
from tests.conftest import ROLE_ARN, workteam_arn

pytestmark = pytest.mark.service  # starts processes of its own (see TIERS in tests/conftest.py)

INPUT = json.dumps({"prompt": "restart?"})


def clients(endpoint: str) -> dict:
    return {name: boto3.client(name, endpoint_url=endpoint)
            for name in ("s3", "sagemaker", "sagemaker-a2i-runtime")}


def start(a2i, flow: str, name: str) -> None:
    a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow, HumanLoopInput={"InputContent": INPUT})


def read(s3, uri: str) -> dict:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.mark.timeout(180)
def test_state_survives_a_restart(tmp_path: Path):
    service = ServiceProcess(tmp_path / "service", "--stop-delay", "0")
    endpoint = service.start()
    try:
        c = clients(endpoint)
        c["s3"].create_bucket(Bucket="outputs-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        c["s3"].create_bucket(Bucket="scratch")
        c["s3"].put_object(Bucket="scratch", Key="note.txt", Body=b"kept in memory only")
        c["s3"].create_bucket(Bucket="removed-again")
        c["s3"].delete_bucket(Bucket="removed-again")
        ui = c["sagemaker"].create_human_task_ui(HumanTaskUiName="ui", UiTemplate={"Content": "<crowd-form/>"})
        flows = {}
        for count in (1, 2):
            flows[count] = c["sagemaker"].create_flow_definition(
                FlowDefinitionName=f"flow-{count}", RoleArn=ROLE_ARN,
                OutputConfig={"S3OutputPath": "s3://outputs-eu/reviews"},
                HumanLoopConfig={"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui["HumanTaskUiArn"],
                                 "TaskTitle": "t", "TaskDescription": "d", "TaskCount": count},
            )["FlowDefinitionArn"]
        a2i, admin = c["sagemaker-a2i-runtime"], AdminClient(endpoint)
        for name, flow in (("done", 1), ("half-answered", 2), ("stopped", 1), ("done-then-deleted", 1)):
            start(a2i, flows[flow], name)
        admin.answer("done", {"answer": "yes"}, worker_id="w1")
        admin.answer("half-answered", {"answer": "first"}, worker_id="w1")
        admin.answer("done-then-deleted", {"answer": "gone"}, worker_id="w1")
        deleted_output = a2i.describe_human_loop(HumanLoopName="done-then-deleted")["HumanLoopOutput"]["OutputS3Uri"]
        a2i.delete_human_loop(HumanLoopName="done-then-deleted")
        a2i.stop_human_loop(HumanLoopName="stopped")
        before = {name: a2i.describe_human_loop(HumanLoopName=name) for name in ("done", "half-answered")}
    finally:
        service.stop()

    endpoint = service.start()
    try:
        c = clients(endpoint)
        a2i, s3 = c["sagemaker-a2i-runtime"], c["s3"]
        assert "restored 2 bucket(s) and 2 output.json" in service.log_path.read_text()
        buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
        assert buckets == {"outputs-eu", "scratch"}
        assert s3.get_bucket_location(Bucket="outputs-eu")["LocationConstraint"] == "eu-west-1"
        with pytest.raises(ClientError):  # only outputs are written again; other objects lived in memory
            s3.get_object(Bucket="scratch", Key="note.txt")

        done = a2i.describe_human_loop(HumanLoopName="done")
        assert done["HumanLoopStatus"] == "Completed"
        assert done["CreationTime"] == before["done"]["CreationTime"]
        assert read(s3, done["HumanLoopOutput"]["OutputS3Uri"])["humanAnswers"][0]["answerContent"] == {"answer": "yes"}
        assert read(s3, deleted_output)["humanLoopName"] == "done-then-deleted"
        with pytest.raises(ClientError, match="ResourceNotFound"):
            a2i.describe_human_loop(HumanLoopName="done-then-deleted")
        assert a2i.describe_human_loop(HumanLoopName="stopped")["HumanLoopStatus"] == "Stopped"
        assert c["sagemaker"].describe_flow_definition(FlowDefinitionName="flow-2")["HumanLoopConfig"]["TaskCount"] == 2

        assert a2i.describe_human_loop(HumanLoopName="half-answered")["HumanLoopStatus"] == "InProgress"
        AdminClient(endpoint).answer("half-answered", {"answer": "second"}, worker_id="w2")
        finished = a2i.describe_human_loop(HumanLoopName="half-answered")
        assert finished["HumanLoopStatus"] == "Completed"
        answers = read(s3, finished["HumanLoopOutput"]["OutputS3Uri"])["humanAnswers"]
        assert [answer["answerContent"]["answer"] for answer in answers] == ["first", "second"]
        listed = a2i.list_human_loops(FlowDefinitionArn=flows[1], SortOrder="Ascending")["HumanLoopSummaries"]
        assert [loop["HumanLoopName"] for loop in listed] == ["done", "stopped"]
    finally:
        service.stop()
