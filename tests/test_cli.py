"""``airflow-a2i local answer``, ``airflow-a2i local serve --help``, and the commands needing the `[local]` extra
without it: run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from tests.conftest import unique, workteam_arn
from tests.flows import create_flow
from tests.loops import start_loop

ANSWER = {"label": "yes", "score": 3}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airflow_a2i.cli", *args], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy() if env is None else env)


def env_without_endpoint() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"}


def read_output(s3, uri: str) -> dict:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_answer_completes_the_loop(a2i, s3, flow_definition_arn: str) -> None:
    name = start_loop(flow_definition_arn, {"prompt": "What is the answer?"}, client=a2i)
    result = cli("local", "answer", name, "--answer", json.dumps(ANSWER), "--worker-id", "worker-7")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["humanLoopStatus"] == "Completed"
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed"
    output = read_output(s3, described["HumanLoopOutput"]["OutputS3Uri"])
    assert output["humanAnswers"][0]["answerContent"] == ANSWER
    assert output["humanAnswers"][0]["workerId"] == "worker-7"


def test_endpoint_option_replaces_the_environment(local_service: str, a2i, flow_definition_arn: str) -> None:
    name = start_loop(flow_definition_arn, {"prompt": "What is the answer?"}, client=a2i)
    result = cli("local", "answer", name, "--answer", json.dumps(ANSWER), "--endpoint", local_service,
                 env=env_without_endpoint())
    assert result.returncode == 0, result.stderr
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "Completed"


def test_answer_without_an_endpoint_says_how_to_give_one() -> None:
    result = cli("local", "answer", unique("loop"), "--answer", json.dumps(ANSWER),
                 env=env_without_endpoint())
    assert result.returncode != 0
    assert "AWS_ENDPOINT_URL" in result.stderr
    assert "--endpoint" in result.stderr


def test_answer_that_is_not_json_exits_2(local_service: str, a2i, flow_definition_arn: str) -> None:
    name = start_loop(flow_definition_arn, {"prompt": "What is the answer?"}, client=a2i)
    result = cli("local", "answer", name, "--answer", "yes please")
    assert result.returncode == 2
    assert "--answer is not valid JSON" in result.stderr
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"


def test_answering_a_missing_loop_exits_1(local_service: str) -> None:
    name = unique("missing")
    result = cli("local", "answer", name, "--answer", json.dumps(ANSWER))
    assert result.returncode == 1
    assert f"'{name}' does not exist" in result.stderr


def test_answering_a_completed_loop_again_fails(a2i, flow_definition_arn: str) -> None:
    name = start_loop(flow_definition_arn, {"prompt": "What is the answer?"}, client=a2i)
    assert cli("local", "answer", name, "--answer", json.dumps(ANSWER)).returncode == 0
    again = cli("local", "answer", name, "--answer", json.dumps(ANSWER), "--worker-id", "another-worker")
    assert again.returncode == 1
    assert f"'{name}' is Completed" in again.stderr
    assert "only a loop that is InProgress takes answers" in again.stderr


def test_serve_help_lists_its_options() -> None:
    result = cli("local", "serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--port", "--data-dir", "--ready-file"):
        assert option in result.stdout


# Runs the CLI as if the `[local]` extra were not installed: its packages cannot be imported.
WITHOUT_LOCAL_EXTRA = """
import sys

import pytest
from importlib.abc import MetaPathFinder

class WithoutLocalExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("moto", "liquid", "werkzeug"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, WithoutLocalExtra())
from airflow_a2i.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [
    ["local", "serve", "--port", "0"],
    ["template", "render", "--template", "any.liquid.html", "--input", "{}"],
])
def test_a_command_needing_the_local_extra_says_how_to_install_it(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_LOCAL_EXTRA, *command], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 3
    assert "pip install 'airflow-a2i[local]'" in result.stderr
    assert f"'airflow-a2i {command[0]} {command[1]}' needs the [local] extra" in result.stderr
    assert "Traceback" not in result.stderr and "ModuleNotFoundError" not in result.stderr


def test_commands_talking_to_a_running_service_do_not_need_the_local_extra() -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_LOCAL_EXTRA, "local", "worker", "list", "--endpoint",
                             "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Cannot reach the local service" in result.stderr
    assert "[local] extra" not in result.stderr


def test_answering_a_loop_that_then_fails_exits_1_with_the_reason(a2i) -> None:
    missing_bucket = unique("no-such-bucket")
    flow = create_flow(boto3.client("sagemaker"), output_path=f"s3://{missing_bucket}/a2i-output",
                       workteam_arn=workteam_arn())
    name = start_loop(flow, {"prompt": "What is the answer?"}, client=a2i)
    result = cli("local", "answer", name, "--answer", json.dumps(ANSWER))
    assert result.returncode == 1
    assert json.loads(result.stdout)["humanLoopStatus"] == "Failed"
    assert f"human loop '{name}' failed (InternalError)" in result.stderr
    assert f"the output bucket '{missing_bucket}' of the flow definition does not exist" in result.stderr
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "Failed"
