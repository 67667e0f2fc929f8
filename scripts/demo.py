"""`make demo`: the seed page's custom-task example, corrected, run end to end against the local service.

Starts ``airflow-a2i local serve`` on a free port, creates the output bucket, task UI and flow definition
(reused on later runs: the state lives in .demo/a2i-local), starts a human loop with boto3 exactly as
the AWS page shows it once its defects are fixed, prints the loop's status, answers it as a worker with
``airflow-a2i local answer``, and prints where output.json is and what it holds. Leaves nothing running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / ".demo"
BUCKET = "a2i-demo-output"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # the local service's account (moto's default)


def fake_aws_environment(endpoint: str) -> None:
    """Plain boto3 reaches the local service through AWS_ENDPOINT_URL; nothing else changes."""
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(variable, None)
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
                       "AWS_DEFAULT_REGION": REGION})


def ensure_flow_definition(sagemaker, s3) -> str:
    if BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    try:
        return sagemaker.describe_flow_definition(FlowDefinitionName="demo-custom-review")["FlowDefinitionArn"]
    except sagemaker.exceptions.ResourceNotFound:
        pass
    template = (ROOT / "dags" / "templates" / "custom_review.liquid.html").read_text()
    ui_arn = sagemaker.create_human_task_ui(HumanTaskUiName="demo-custom-review",
                                            UiTemplate={"Content": template})["HumanTaskUiArn"]
    return sagemaker.create_flow_definition(
        FlowDefinitionName="demo-custom-review",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/a2i-demo",
        OutputConfig={"S3OutputPath": f"s3://{BUCKET}/a2i-output"},
        HumanLoopConfig={
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/demo-team",
            "HumanTaskUiArn": ui_arn,
            "TaskTitle": "Answer the question",
            "TaskDescription": "Read the question and type the answer",
            "TaskCount": 1,
        },
    )["FlowDefinitionArn"]


def main() -> int:
    from airflow_a2i.local.process import ServiceProcess

    with ServiceProcess(DEMO_DIR / "a2i-local") as service:
        fake_aws_environment(service.endpoint)
        import boto3

        print(f"Local A2I service: {service.endpoint} (state in {service.data_dir})")
        flow_definition_arn = ensure_flow_definition(boto3.client("sagemaker"), boto3.client("s3"))
        print(f"Flow definition: {flow_definition_arn}")

        # The seed page's boto3 example, corrected: a valid loop name, a created flow definition's ARN,
        # a JSON string as InputContent, and a list of content classifiers.
        a2i_runtime_client = boto3.client("sagemaker-a2i-runtime")
        human_loop_name = f"demo-loop-{time.strftime('%Y%m%d-%H%M%S')}"
        response = a2i_runtime_client.start_human_loop(
            HumanLoopName=human_loop_name,
            FlowDefinitionArn=flow_definition_arn,
            HumanLoopInput={"InputContent": '{"prompt":"What is the answer?"}'},
            DataAttributes={"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"]},
        )
        print(f"Started human loop: {response['HumanLoopArn']}")
        status = a2i_runtime_client.describe_human_loop(HumanLoopName=human_loop_name)["HumanLoopStatus"]
        print(f"Status: {status}")

        answer = ["airflow-a2i", "local", "answer", human_loop_name, "--answer", '{"answer": "42"}',
                  "--worker-id", "demo-worker", "--time-spent", "7.5"]
        print("A worker answers: " + " ".join(answer[:4]) + " --answer '{\"answer\": \"42\"}' ...")
        subprocess.run([sys.executable, "-m", "airflow_a2i.cli", *answer[1:]], check=True, stdout=subprocess.DEVNULL)

        described = a2i_runtime_client.describe_human_loop(HumanLoopName=human_loop_name)
        output_uri = described["HumanLoopOutput"]["OutputS3Uri"]
        bucket, key = output_uri.removeprefix("s3://").split("/", 1)
        output = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        local_copy = DEMO_DIR / "output.json"
        local_copy.write_text(json.dumps(output, indent=2) + "\n")
        print(f"Status: {described['HumanLoopStatus']}")
        print(f"output.json: {output_uri}")
        print(f"  (a copy: {local_copy}; the service writes outputs again when it restarts with the same "
              f"--data-dir {service.data_dir})")
        print(json.dumps(output, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
