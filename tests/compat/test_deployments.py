"""The custom review DAG on a real CeleryExecutor deployment of each Airflow line (``make test-compat``).

Per line of ``A2I_COMPAT_LINES``: PostgreSQL (a fresh database) as metadata database, Redis as broker, two Celery
workers, two triggerers, the scheduler and the HTTP server (plus a dag-processor on Airflow 3), every process
from ``.compat/LINE/bin/python`` -- Airflow under its constraints and the airflow-a2i *wheel*; the working tree is
kept off the processes' path. tests/airflow_deployment.py speaks each Airflow generation (3: api-server, REST API
v2; 2: webserver, REST API v1). The repository's ``dags/a2i_custom_review.py`` is copied into the DAGs folder;
the test answers the loop only once the ``review`` task is deferred and a triggerer runs its trigger, so the run
can only succeed through a real deferral and resume. One deployment at a time (2 cores): each is stopped, its
database dropped, before the next line starts.

PostgreSQL and Redis must be running (A2I_TEST_POSTGRES_URL, A2I_TEST_REDIS_URL): the tests skip without them,
and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.s3_uris import split_s3_uri
from tests.airflow_deployment import AirflowDeployment, CeleryBackends, celery_deployment
from tests.conftest import ROLE_ARN, unique, workteam_arn

ROOT = Path(__file__).resolve().parents[2]
LINES = os.environ.get("A2I_COMPAT_LINES", "").split()
DAG_ID = "a2i_custom_review"
TASKS = ("task_ui", "flow_definition", "review", "read_answer")
ANSWER = {"answer": "1,250.00 EUR"}
# The triggerer's line for the event: "Trigger <name> (ID n) fired: ..." on Airflow 2, "Trigger fired event" on 3.
TRIGGER_FIRED = re.compile(r"\bTrigger\b[^\n]*?\bfired\b")

pytestmark = [
    pytest.mark.skipif(not LINES, reason="the Airflow lines run under `make test-compat` (A2I_COMPAT_LINES)"),
    pytest.mark.parametrize("line", LINES),
    pytest.mark.timeout(600),
]


@pytest.fixture
def backends() -> CeleryBackends:
    return CeleryBackends.required()


@pytest.fixture
def line_deployment(line: str, session_dir: Path, local_service: str,
                    backends: CeleryBackends) -> Iterator[AirflowDeployment]:
    """The line's Celery deployment for one test, stopped (and its database dropped) when the test ends."""
    python = ROOT / ".compat" / line / "bin" / "python"
    if not python.exists():
        pytest.fail(f".compat/{line} does not exist: `make test-compat` builds it (compat/build-venv {line})")
    yield from celery_deployment(session_dir / "compat-deployments" / line,
                                 {"AWS_ENDPOINT_URL": local_service}, backends,
                                 triggerers=2, celery_workers=2, python=str(python), working_tree_on_path=False)


def review_conf(s3: Any) -> dict[str, Any]:
    bucket = unique("compat-deployed")
    s3.create_bucket(Bucket=bucket)
    flow_name = unique("compat-deployed")
    return {"role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": flow_name,
            "output_s3_path": f"s3://{bucket}/{flow_name}", "poll_seconds": 1}


def triggerer_job_of(deployment: AirflowDeployment, run_id: str) -> int | None:
    """The id of the triggerer job running the deferred review's trigger, once one has taken it."""
    instance = deployment.task_instance(DAG_ID, run_id, "review")
    if instance is None or instance["state"] != "deferred":
        pytest.fail(f"the review is not deferred: {instance}\n{deployment.logs()}")
    return (instance.get("trigger") or {}).get("triggerer_id")


def job_whose_trigger_logged(deployment: AirflowDeployment, run_id: str, text: str) -> int | None:
    """The id of a triggerer job whose run of the review's trigger logged ``text``
    (``attempt=1.log.trigger.<job id>.log``): the trigger may move to the other triggerer meanwhile."""
    folder = deployment.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=review"
    for path in sorted(folder.glob("attempt=1.log.trigger.*.log")):
        if text in path.read_text(errors="replace"):
            return int(path.name.removeprefix("attempt=1.log.trigger.").removesuffix(".log"))
    return None


def read_s3(s3: Any, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def test_the_custom_review_dag_defers_on_a_real_triggerer_and_reads_the_answer(
        line: str, line_deployment: AirflowDeployment, local_service: str) -> None:
    deployment = line_deployment
    assert deployment.airflow_version.startswith(f"{line}."), deployment.airflow_version
    s3 = boto3.client("s3", endpoint_url=local_service)
    runtime = boto3.client("sagemaker-a2i-runtime", endpoint_url=local_service)
    shutil.copytree(ROOT / "dags" / "templates", deployment.dags_folder / "templates", dirs_exist_ok=True)
    assert deployment.add_dag_file(ROOT / "dags" / f"{DAG_ID}.py", unpause=False) == [DAG_ID]
    conf = review_conf(s3)
    # The DAG is @daily with max_active_runs=1: the run stands for the interval the scheduler would start on
    # unpausing, so no scheduled run with empty params competes with it.
    logical_date = (deployment.dag(DAG_ID) or {}).get("next_dagrun_logical_date")
    started = time.monotonic()
    run_id = deployment.trigger_dag(DAG_ID, conf=conf, logical_date=logical_date)
    deployment.unpause(DAG_ID)
    try:
        deployment.wait_for_task_state(DAG_ID, run_id, "review", "deferred", timeout=240)
        deployment.poll(lambda: triggerer_job_of(deployment, run_id), 60, "a triggerer to take the trigger")
        # A triggerer runs the trigger: it has looked at the loop, still open, before anyone answers.
        job_id = deployment.poll(lambda: job_whose_trigger_logged(deployment, run_id, "Human loops: {'InProgress': 1}"),
                                 120, "a triggerer's run of the trigger to look at the loop")
        triggerer = deployment.job(job_id)["hostname"]
        flow_arn = deployment.xcom(DAG_ID, run_id, "flow_definition")
        [loop] = runtime.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]
        assert loop["HumanLoopStatus"] == "InProgress"
        AdminClient(local_service).answer(loop["HumanLoopName"], ANSWER)
        state = deployment.wait_for_run(DAG_ID, run_id, timeout=240)
    finally:
        deployment.pause(DAG_ID)
    elapsed = time.monotonic() - started
    instances = {ti["task_id"]: ti for ti in deployment.task_instances(DAG_ID, run_id)}
    assert state == "success", f"{instances}\n{deployment.logs(80)}"
    # Each task's first try: the review was deferred and resumed within try 1, not retried.
    assert {task: (ti["state"], ti["try_number"]) for task, ti in instances.items()} == {
        task: ("success", 1) for task in TASKS}, instances
    assert triggerer in deployment.names("triggerer"), triggerer
    assert {ti["hostname"] for ti in instances.values()} <= set(deployment.names("celery-worker")), instances

    # Try 1's log, as the HTTP server serves it (the worker's file and the triggerer's): deferred once, the
    # trigger fired once, and the resumed task (execute_complete, on a worker) read the event once.
    review_log = deployment.task_log(DAG_ID, run_id, "review", 1)
    assert review_log.count("Pausing task as DEFERRED.") == 1, review_log
    assert len(TRIGGER_FIRED.findall(review_log)) == 1, review_log
    assert review_log.count("Human loop wait ended success") == 1, review_log
    review = deployment.xcom(DAG_ID, run_id, "review")
    assert (review["HumanLoopName"], review["HumanLoopStatus"]) == (loop["HumanLoopName"], "Completed"), review

    read = deployment.xcom(DAG_ID, run_id, "read_answer")
    assert (read["items"], read["loops"], read["statuses"]) == (1, 1, {"Completed": 1}), read
    [row] = [json.loads(text) for text in read_s3(s3, read["results_uri"]).splitlines()]
    assert row["consolidated_answer"] == ANSWER, row
    print(f"\nAirflow {deployment.airflow_version} on Celery: deployment started in {deployment.start_seconds:.1f}s; "
          f"the review deferred on {triggerer} and the run ended {elapsed:.1f}s after the trigger")
