"""A resumed deferred try killed on a real deployment: the retry adopts the same loops, and the run ends once.

Airflow's stale-executor-event race (apache/airflow#67287, #72716) fails a deferred task that resumes within
seconds: the attempt ends failed, and Airflow retries it if it may. Here the same end is forced for real: each
item's first try starts its loop and defers, the test answers the loops, and when the trigger has fired and the
try runs again (``execute_complete``, held open by the test DAG) its task process is killed with SIGKILL. The
supervisor then reports the attempt failed with retries left (``up_for_retry``), the end the scheduler gives it in
the race, and the retry runs ``execute`` from the start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

from airflow_a2i.local.admin_client import AdminClient
from tests.airflow_deployment import AirflowDeployment, DeploymentError

DAGS = Path(__file__).parent / "deployment_dags"
DAG_ID = "deployment_killed_resume"
ITEM_COUNT = 3  # ITEMS in deployment_killed_resume.py
# Before the test kills them, no item may end at all: every one must defer, then resume.
ENDED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

pytestmark = pytest.mark.timeout(300)


def review_instances(deployment: AirflowDeployment, run_id: str) -> list[dict[str, Any]]:
    """The mapped ``review`` task instances of the run, by map index."""
    mapped = [ti for ti in deployment.task_instances(DAG_ID, run_id) if ti["task_id"] == "review"
              and ti["map_index"] >= 0]
    return sorted(mapped, key=lambda ti: ti["map_index"])


def wait_until_every_item_is(deployment: AirflowDeployment, run_id: str, state: str) -> list[dict[str, Any]]:
    """Until every item's task instance is in ``state``; fails at once if one ends another way."""

    def reached() -> list[dict[str, Any]] | None:
        deployment.check_processes()
        instances = review_instances(deployment, run_id)
        ended = [ti for ti in instances if ti["state"] in ENDED_STATES]
        if ended:
            raise DeploymentError(f"an item ended before the test killed it: {ended}\n{deployment.logs()}")
        if len(instances) == ITEM_COUNT and all(ti["state"] == state for ti in instances):
            return instances
        return None

    return deployment.poll(reached, 180, f"every review item to be {state}")


def loops_of(flow_definition_arn: str) -> list[dict[str, Any]]:
    """Every loop of the flow definition, as the service lists them (ListHumanLoops)."""
    pages = boto3.client("sagemaker-a2i-runtime").get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=flow_definition_arn)
    return [loop for page in pages for loop in page["HumanLoopSummaries"]]


def wait_for_resumed_attempts(deployment: AirflowDeployment, hold_dir: Path) -> list[dict[str, Any]]:
    """Until every item's first try has resumed after its trigger fired and announced itself (it then holds)."""

    def announced() -> list[dict[str, Any]] | None:
        deployment.check_processes()
        files = sorted(hold_dir.glob("resumed-*.json"))
        if len(files) < ITEM_COUNT:
            return None
        return [json.loads(path.read_text()) for path in files]

    return deployment.poll(announced, 120, "every item's resumed first try to announce itself")


def task_process(resumed: dict[str, Any]) -> psutil.Process:
    """The task process of a resumed attempt: its pid, titled ``airflow worker -- <task instance id>``."""
    process = psutil.Process(resumed["pid"])
    title = " ".join(process.cmdline())
    assert f"airflow worker -- {resumed['ti_id']}" in title, title
    return process


def kill_resumed_attempt(deployment: AirflowDeployment, run_id: str, resumed: dict[str, Any]) -> None:
    """SIGKILL the resumed attempt's task process, after checking the API sees that very attempt running."""
    [instance] = [ti for ti in review_instances(deployment, run_id) if ti["map_index"] == resumed["map_index"]]
    # Running, or already up for retry: the scheduler may have met the stale-executor race before the kill does.
    assert instance["state"] in ("running", "up_for_retry"), instance
    assert (instance["try_number"], instance["pid"]) == (1, resumed["pid"]), instance
    process = task_process(resumed)
    process.kill()
    process.wait(timeout=30)


def tries(deployment: AirflowDeployment, run_id: str, map_index: int) -> dict[int, str]:
    """Every try of one item and the state it ended in."""
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/review/{map_index}/tries"
    response = deployment.api("GET", path)
    response.raise_for_status()
    return {ti["try_number"]: ti["state"] for ti in response.json()["task_instances"]}


def item_log(deployment: AirflowDeployment, run_id: str, map_index: int, try_number: int) -> str:
    """One item's log of one try, the events one a line."""
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/review/logs/{try_number}"
    response = deployment.api("GET", path, params={"full_content": True, "map_index": map_index},
                              headers={"Accept": "application/json"})
    response.raise_for_status()
    records = response.json().get("content", [])
    return "\n".join(str(record.get("event", "")) if isinstance(record, dict) else str(record)
                     for record in records)


@pytest.fixture
def deployed(airflow_deployment: AirflowDeployment) -> AirflowDeployment:
    assert airflow_deployment.add_dag_file(DAGS / "deployment_killed_resume.py") == [DAG_ID]
    return airflow_deployment


def test_a_killed_resumed_try_is_retried_and_adopts_the_same_loops(deployed, local_service, flow_definition_arn,
                                                                   tmp_path: Path) -> None:
    run_id = deployed.trigger_dag(DAG_ID, conf={"flow_definition_arn": flow_definition_arn,
                                                "hold_dir": str(tmp_path)})
    wait_until_every_item_is(deployed, run_id, "deferred")
    started = loops_of(flow_definition_arn)
    assert len(started) == ITEM_COUNT, started
    for loop in started:  # answered only now: every trigger fires after its deferral, never before
        AdminClient(local_service).answer(loop["HumanLoopName"], {"answer": "ok"})

    resumed_attempts = wait_for_resumed_attempts(deployed, tmp_path)
    for resumed in resumed_attempts:
        assert (resumed["try_number"], resumed["event_status"]) == (1, "success"), resumed
        kill_resumed_attempt(deployed, run_id, resumed)

    assert deployed.wait_for_run(DAG_ID, run_id, timeout=180) == "success", deployed.logs()
    logs = deployed.logs()
    reviews = review_instances(deployed, run_id)
    assert [(ti["state"], ti["try_number"]) for ti in reviews] == [("success", 2)] * ITEM_COUNT, f"{reviews}\n{logs}"
    for ti in reviews:
        # Two tries, the killed one recorded as failed (it was up_for_retry), one success: the item ended once.
        history = tries(deployed, run_id, ti["map_index"])
        assert sorted(history) == [1, 2] and history[2] == "success", f"{history}\n{logs}"
        assert history[1] in ("failed", "up_for_retry"), f"{history}\n{logs}"
    report = deployed.task_instance(DAG_ID, run_id, "report")
    assert report is not None and (report["state"], report["try_number"]) == ("success", 1), report
    seen = deployed.xcom(DAG_ID, run_id, "report")
    assert seen["try_number"] == 1

    # The retries adopted the loops the first tries started (same names and ARNs), and the flow definition has
    # one loop per item, all answered: no retry started a second one.
    first_tries = {(r["started"]["HumanLoopName"], r["started"]["HumanLoopArn"]) for r in resumed_attempts}
    finished = {(loop["HumanLoopName"], loop["HumanLoopArn"]) for loop in seen["loops"]}
    assert first_tries == finished and len(finished) == ITEM_COUNT, (first_tries, finished)
    listed = loops_of(flow_definition_arn)
    assert sorted(loop["HumanLoopName"] for loop in listed) == sorted(name for name, _ in finished), listed
    assert {loop["HumanLoopStatus"] for loop in [*listed, *seen["loops"]]} == {"Completed"}
    for ti in reviews:
        first, retry = item_log(deployed, run_id, ti["map_index"], 1), item_log(deployed, run_id, ti["map_index"], 2)
        assert "Trigger fired event" in first and "Process terminated by signal" in first, first
        assert "adopting it instead of starting another" in retry and "Started human loop" not in retry, retry
