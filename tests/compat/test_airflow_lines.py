"""What differs between Airflow lines, checked in each line's own venv (``make test-compat``).

Each venv ``.compat/LINE`` holds only what a deployment of that line holds: Airflow under its constraints, the
Amazon provider and the airflow-a2i wheel (compat/build-venv; it also proves installing the wheel moved nothing).
This test process (the main ``.venv``) runs the local service and prepares S3; the line's venv does the Airflow
part through its ``airflow`` CLI and compat/probe.py, and this process checks what they print.

Run by ``make test-compat`` (``A2I_COMPAT_LINES="2.11 3.0 ..."``); under plain ``make test`` these tests skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import boto3
import pytest

from airflow_a2i.preflight import CORS_RULE
from demo.samples import upload_samples, write_samples
from demo.service import ServiceProcess
from tests.conftest import ROLE_ARN, unique, workteam_arn
from tests.images import IMAGES, make_images_bucket, upload_images

ROOT = Path(__file__).resolve().parents[2]
LINES = os.environ.get("A2I_COMPAT_LINES", "").split()
# Airflow's own Fernet key format: trigger kwargs are stored encrypted, as in a real deployment.
FERNET_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="

pytestmark = [
    pytest.mark.skipif(not LINES, reason="the Airflow lines run under `make test-compat` (A2I_COMPAT_LINES)"),
    pytest.mark.parametrize("line", LINES),
]


class AirflowLine:
    """One line's venv with its own AIRFLOW_HOME (SQLite), pointed at the session's compat service."""

    def __init__(self, line: str, home: Path, endpoint: str) -> None:
        self.line = line
        self.bin = ROOT / ".compat" / line / "bin"
        if not (self.bin / "python").exists():
            pytest.fail(f".compat/{line} does not exist: `make test-compat` builds it (compat/build-venv {line})")
        self.home = home
        self.env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
                    "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": "",
                    # The watcher example defines its asset-watcher DAG only with a queue to watch (never read here).
                    "A2I_WATCHER_QUEUE_URL": f"{endpoint}/123456789012/a2i-watcher"}
        home.mkdir(parents=True, exist_ok=True)
        self.run("airflow", "db", "migrate", timeout=300)

    def run(self, program: str, *args: str, timeout: float = 300) -> str:
        """Run a program of the venv; its stdout (fails the test with its output when it exits non-zero)."""
        command = [str(self.bin / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=self.home)
        if result.returncode != 0:
            pytest.fail(f"Airflow {self.line}: {' '.join(args)} exited {result.returncode}:\n"
                        f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
        return result.stdout

    def json(self, *args: str) -> object:
        """A CLI command's ``--output json`` (Airflow may log lines before it)."""
        lines = self.run("airflow", *args, "--output", "json").splitlines()
        start = max(number for number, text in enumerate(lines) if text.startswith(("[", "{")))
        return json.loads("\n".join(lines[start:]))

    def probe(self, *args: str) -> dict:
        return json.loads(self.run("python", str(ROOT / "compat" / "probe.py"), *args).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compat_service(session_dir: Path) -> Iterator[str]:
    """A local service whose simulated workforce answers every loop (echo), so the example DAGs run alone."""
    with ServiceProcess(session_dir / "compat-service", "--workforce", "auto", "--workforce-delay", "0.2", "1",
                        "--stop-delay", "0.2") as service:
        os.environ["AWS_ENDPOINT_URL"] = service.endpoint
        yield service.endpoint
        os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def airflow_line(line: str, session_dir: Path, compat_service: str) -> AirflowLine:
    return _airflow_line(line, session_dir, compat_service)


@cache
def _airflow_line(line: str, session_dir: Path, endpoint: str) -> AirflowLine:
    return AirflowLine(line, session_dir / "compat" / line, endpoint)


@pytest.mark.timeout(600)
def test_airflow_registers_the_provider(airflow_line: AirflowLine):
    providers = {entry["package_name"]: entry for entry in airflow_line.json("providers", "list")}
    assert "airflow-a2i" in providers, sorted(providers)
    links = airflow_line.run("airflow", "providers", "links")
    assert "airflow_a2i.links.a2i.A2IHumanLoopLink" in links and "airflow_a2i.links.a2i.A2IPortalLink" in links
    triggers = {entry["class"] for entry in airflow_line.json("providers", "triggers")
                if entry["package_name"] == "airflow-a2i"}
    assert triggers == {"airflow_a2i.triggers.human_loop", "airflow_a2i.triggers.batch"}
    # The hooks use the Amazon provider's `aws` connection type, which must be registered on every line.
    hooks = airflow_line.json("providers", "hooks")
    connection_types = {entry["connection_type"]: entry["package_name"] for entry in hooks}
    assert connection_types.get("aws") == "apache-airflow-providers-amazon", connection_types


@pytest.mark.timeout(600)
def test_the_example_dags_parse_without_errors(airflow_line: AirflowLine):
    # Parse the DAGs folder as a DAG processor does (Airflow 3's CLI reads DAGs and import errors from the DB).
    airflow_line.run("airflow", "dags", "reserialize")
    assert airflow_line.json("dags", "list-import-errors") in ([], {})
    dag_ids = {entry["dag_id"] for entry in airflow_line.json("dags", "list")}
    assert {"a2i_custom_review", "a2i_batch_document_review", "a2i_moderation_review",
            "a2i_review_events_reconcile"} <= dag_ids
    # Asset watchers are Airflow 3's: on Airflow 2 the watcher DAG is left out (a log line says why), not an error.
    assert ("a2i_review_events_watcher" in dag_ids) == (not airflow_line.line.startswith("2.")), dag_ids


@pytest.mark.timeout(300)
def test_everything_outside_local_imports_with_the_base_dependencies_only(airflow_line: AirflowLine):
    # The line's venv holds Airflow, the Amazon provider and the wheel, not the [local] extra (no liquid, no moto).
    report = airflow_line.probe("imports")
    assert report["installed_from"].startswith(str(ROOT / ".compat" / airflow_line.line)), report
    assert report["failed"] == {}, report["failed"]
    assert {"airflow_a2i.operators.human_loop", "airflow_a2i.sensors.batch", "airflow_a2i.triggers.batch",
            "airflow_a2i.waiting.policies", "airflow_a2i.cli"} <= set(report["imported"]), report["imported"]
    # ... while the local service needs the extra, and says so by failing to import without it.
    assert report["local_without_extra"] and "ModuleNotFoundError" in report["local_without_extra"], report


@pytest.mark.timeout(600)
def test_triggers_survive_airflows_stored_form(airflow_line: AirflowLine):
    report = airflow_line.probe("triggers")
    assert set(report) == {"airflow_a2i.triggers.human_loop.A2IHumanLoopTrigger",
                           "airflow_a2i.triggers.batch.A2IHumanLoopBatchTrigger"}
    for classpath, trip in report.items():
        assert trip["classpath"] == classpath
        assert trip["rebuilt"] == trip["first"], classpath


@pytest.mark.timeout(600)
def test_the_custom_review_dag_runs(airflow_line: AirflowLine):
    bucket = _bucket("compat-custom")
    conf = {"role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "output_s3_path": f"s3://{bucket}/out",
            "flow_definition_name": unique("compat-custom"), "poll_seconds": 0.5}
    run = airflow_line.probe("run-dag", str(ROOT / "dags" / "a2i_custom_review.py"), "--conf", json.dumps(conf),
                             "--xcom", "read_answer")
    assert run["state"] == "success", run
    assert run["xcom"]["read_answer"]["statuses"] == {"Completed": 1}, run["xcom"]


@pytest.mark.timeout(600)
def test_the_batch_document_review_dag_runs(airflow_line: AirflowLine, tmp_path: Path):
    summary = write_samples(tmp_path / "samples", count=6)
    bucket = unique("compat-batch")
    upload_samples(boto3.client("s3"), tmp_path / "samples", bucket)
    conf = {"input_s3_uri": f"s3://{bucket}/input", "output_s3_uri": f"s3://{bucket}/output",
            "role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": unique("compat-batch"),
            "chunk_size": 3, "poll_seconds": 0.5}
    run = airflow_line.probe("run-dag", str(ROOT / "dags" / "a2i_batch_document_review.py"),
                             "--conf", json.dumps(conf), "--xcom", "results")
    assert run["state"] == "success", run
    assert run["xcom"]["results"]["items"] == summary.pages, run["xcom"]["results"]


@pytest.mark.timeout(600)
def test_the_moderation_review_dag_runs(airflow_line: AirflowLine):
    images = make_images_bucket()
    upload_images(images, IMAGES)
    bucket = _bucket("compat-moderation")
    conf = {"role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": unique("compat-mod"),
            "input_s3_uri": f"s3://{images}/inbox", "output_s3_path": f"s3://{bucket}/out",
            "poll_seconds": 0.5}
    run = airflow_line.probe("run-dag", str(ROOT / "dags" / "a2i_moderation_review.py"), "--conf", json.dumps(conf),
                             "--xcom", "final_labels")
    assert run["state"] == "success", run
    assert run["xcom"]["final_labels"]["items"] == len(IMAGES), run["xcom"]


@pytest.mark.timeout(600)
def test_the_watcher_examples_reconcile_appends_finished_loops(airflow_line: AirflowLine):
    """The hourly reconcile of dags/a2i_review_events_watcher.py, the file's only DAG on Airflow 2 (no asset
    watchers there): it appends each finished loop of the flow definition once, and nothing on a second run."""
    from tests.flows import create_flow

    bucket = _bucket("compat-watcher")
    flow = create_flow(boto3.client("sagemaker"), output_path=f"s3://{bucket}/a2i-output",
                       workteam_arn=workteam_arn())
    runtime = boto3.client("sagemaker-a2i-runtime")
    names = [unique("compat-watched") for _ in range(3)]
    for name in names:
        runtime.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow,
                                 HumanLoopInput={"InputContent": json.dumps({"text": name})})
    deadline = time.monotonic() + 60  # the compat service's simulated workforce answers every loop
    while {runtime.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] for name in names} != {"Completed"}:
        assert time.monotonic() < deadline, "the loops were not answered"
        time.sleep(0.2)
    conf = json.dumps({"results_s3_uri": f"s3://{bucket}/reviewed", "flow_definition_arn": flow})
    runs = [airflow_line.probe("run-dag", str(ROOT / "dags" / "a2i_review_events_watcher.py"), "--attribute",
                               "reconcile_dag", "--conf", conf, "--xcom", "reconcile") for _ in range(2)]
    assert [run["state"] for run in runs] == ["success", "success"], runs
    assert [(run["xcom"]["reconcile"]["appended"], run["xcom"]["reconcile"]["already_appended"]) for run in runs] \
        == [(3, 0), (0, 3)], runs
    keys = [entry["Key"] for entry in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="reviewed/loops/")
            .get("Contents", [])]
    assert sorted(keys) == sorted(f"reviewed/loops/{name}.jsonl" for name in names)


def _bucket(prefix: str) -> str:
    name = unique(prefix)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [CORS_RULE]})
    return name
