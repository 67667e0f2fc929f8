"""The deployment harness itself: DAGs run through a real scheduler, and a deferred task survives a triggerer that
is killed with SIGKILL and started again."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.airflow_deployment import TRIGGERER_HEALTH_CHECK_THRESHOLD, AirflowDeployment, DeploymentError

DAGS = Path(__file__).parent / "deployment_dags"
WAIT_SECONDS = 10

pytestmark = pytest.mark.timeout(300)


def test_harness_started_every_component(airflow_deployment: AirflowDeployment) -> None:
    health = airflow_deployment.http.get("/api/v2/monitor/health").json()
    assert {health[name]["status"] for name in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {
        "healthy"}, health
    print(f"\nharness start: {airflow_deployment.start_seconds:.1f}s")


def test_plain_dag_runs_through_the_scheduler(airflow_deployment: AirflowDeployment) -> None:
    started = time.monotonic()
    assert airflow_deployment.add_dag_file(DAGS / "deployment_plain.py") == ["deployment_plain"]
    parsed = time.monotonic()

    run_id = airflow_deployment.trigger_dag("deployment_plain", conf={"answer": 42})
    state = airflow_deployment.wait_for_run("deployment_plain", run_id, timeout=180)

    logs = airflow_deployment.logs()
    assert state == "success", logs
    (instance,) = airflow_deployment.task_instances("deployment_plain", run_id)
    assert (instance["task_id"], instance["state"], instance["try_number"]) == ("report", "success", 1), instance
    seen = airflow_deployment.xcom("deployment_plain", run_id, "report")
    assert seen["conf"] == {"answer": 42}
    # The caller's environment reached the task process.
    assert seen["aws_endpoint_url"] == airflow_deployment.extra_env["AWS_ENDPOINT_URL"]
    print(f"\nplain DAG: parsed in {parsed - started:.1f}s, ran in {time.monotonic() - parsed:.1f}s")


def test_a_dag_file_that_fails_to_import_raises_with_its_traceback(airflow_deployment: AirflowDeployment,
                                                                   tmp_path: Path) -> None:
    broken = tmp_path / "deployment_broken.py"
    broken.write_text("from airflow.sdk import DAG\nraise RuntimeError('this DAG file is broken on purpose')\n")
    with pytest.raises(DeploymentError, match="broken on purpose"):
        airflow_deployment.add_dag_file(broken, timeout=120)
    (airflow_deployment.dags_folder / broken.name).unlink()


def test_deferred_task_survives_a_killed_triggerer(airflow_deployment: AirflowDeployment) -> None:
    dag_id = "deployment_deferring"
    started = time.monotonic()
    assert airflow_deployment.add_dag_file(DAGS / "deployment_deferring.py") == [dag_id]
    # The trigger fires WAIT_SECONDS after the task renders its target time; the kill comes ~1-2 s after the deferral.
    run_id = airflow_deployment.trigger_dag(dag_id, conf={"wait_seconds": WAIT_SECONDS})
    airflow_deployment.wait_for_task_state(dag_id, run_id, "wait", "deferred", timeout=180)

    def assigned() -> dict | None:
        """The deferred task once the running triggerer has taken its trigger: that triggerer is the one killed."""
        instance = airflow_deployment.task_instance(dag_id, run_id, "wait")
        assert instance is not None
        if instance["state"] != "deferred":
            pytest.fail(f"the task left deferred before the triggerer was killed: {instance}\n"
                        f"{airflow_deployment.logs()}")
        trigger = instance["trigger"] or {}
        return instance if trigger.get("triggerer_id") is not None else None

    deferred = airflow_deployment.poll(assigned, 60, "the trigger to be assigned to the triggerer")
    old_triggerer = deferred["trigger"]["triggerer_id"]
    killed_at = datetime.now(UTC)
    try:
        airflow_deployment.stop_triggerer()
        killed = time.monotonic()
    finally:
        # Whatever happens, the session's deployment keeps a triggerer for the tests after this one.
        new_triggerer = airflow_deployment.start_triggerer(timeout=120)
    restarted = time.monotonic()
    assert new_triggerer != old_triggerer

    state = airflow_deployment.wait_for_run(dag_id, run_id, timeout=180)
    logs = airflow_deployment.logs(80)
    instances = {instance["task_id"]: instance for instance in airflow_deployment.task_instances(dag_id, run_id)}
    assert state == "success", f"{instances}\n{logs}"
    wait, after = instances["wait"], instances["after"]
    # Exactly once: the try that deferred is the try that resumed and succeeded; no retry, no second try.
    assert (wait["state"], wait["try_number"]) == ("success", 1), f"{wait}\n{logs}"
    assert (after["state"], after["try_number"]) == ("success", 1), f"{after}\n{logs}"
    assert datetime.fromisoformat(wait["end_date"]) > killed_at

    # The task log of try 1: one deferral, one trigger event, fired after the kill, by the new triggerer (its
    # trigger log is attempt=1.log.trigger.<job id>.log, listed among the log's sources).
    records = [record for record in airflow_deployment.task_log_records(dag_id, run_id, "wait", 1)
               if isinstance(record, dict)]
    text = airflow_deployment.task_log(dag_id, run_id, "wait", 1)
    events = [str(record.get("event", "")).strip() for record in records]
    assert events.count("Pausing task as DEFERRED.") == 1, text  # the resumed execution did not defer again
    fired = [record for record in records if record.get("event") == "Trigger fired event"]
    assert len(fired) == 1, text
    assert datetime.fromisoformat(fired[0]["timestamp"].replace("Z", "+00:00")) > killed_at, text
    assert any(event.endswith(f".trigger.{new_triggerer}.log") for event in events), text

    print(f"\ndeferring DAG: triggerer job {old_triggerer} killed {killed - started:.1f}s after adding the file; "
          f"job {new_triggerer} healthy {restarted - killed:.1f}s later (threshold "
          f"{TRIGGERER_HEALTH_CHECK_THRESHOLD}s); run done {time.monotonic() - restarted:.1f}s after that")
