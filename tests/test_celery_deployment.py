"""The provider on a CeleryExecutor deployment: PostgreSQL as metadata database, Redis as broker, two Celery
workers, two triggerers, scheduler, dag-processor and api-server, each a process (tests/airflow_deployment.py).

- The batch document review DAG (the repository's file, copied into the DAGs folder) runs with its mapped chunk
  tasks spread over both workers.
- 1,000 loops wait in one deferred batch trigger; the triggerer running it is killed with SIGKILL, the other
  triggerer takes the trigger over, and the wait ends exactly once with every loop seen.
- Two runs' deferred batch waits in event mode share one events queue, each on its own triggerer: every
  triggerer runs one trigger at most (capacity 1; Airflow's default would put both on whichever claims first,
  and the other tests never run two triggers at once). Half of each run's loops end while the two waits run side
  by side, each taking its own events off the queue and giving the other's back. The triggerer running run A's
  wait is killed after that wait took (and deleted) its half's events; the other triggerer, full with run B's
  wait, takes run A's over once run B's has ended; its first full look sees those ends, and each wait ends
  exactly once on events.

PostgreSQL and Redis must be running (A2I_TEST_POSTGRES_URL, A2I_TEST_REDIS_URL; defaults in the harness):
the tests skip without them, and fail under CI=true.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_a2i.hooks.events import A2IEventsHook
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.manifest import ManifestRecord
from airflow_a2i.s3_uris import split_s3_uri
from demo.samples import Summary, write_samples
from demo.samples import upload_samples as upload
from tests.airflow_deployment import (
    TRIGGERER_HEALTH_CHECK_THRESHOLD,
    AirflowDeployment,
    CeleryBackends,
    celery_deployment,
)
from tests.conftest import ROLE_ARN, unique, workteam_arn

ROOT = Path(__file__).resolve().parent.parent
DAGS = Path(__file__).parent / "deployment_dags"
REVIEW_DAG = "a2i_batch_document_review"
TAKEOVER_DAG = "deployment_batch_takeover"
EVENTS_DAG = "deployment_event_waits"
EVENT_LOOPS = 100  # a run's; two runs share the queue
DOCUMENTS = 16
CHUNK_SIZE = 2  # 8 chunk tasks: more than the two workers' two slots, so both get several
LOOPS = 1000
ANSWER = {"answer": "reviewed"}

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def celery_airflow(session_dir: Path, local_service: str) -> Iterator[AirflowDeployment]:
    """The Celery deployment, started once for this module; skipped (failed under CI=true) without PostgreSQL
    and Redis."""
    backends = CeleryBackends.required()
    yield from celery_deployment(session_dir / "celery-deployment",
                                 {"AWS_ENDPOINT_URL": local_service}, backends,
                                 triggerers=2, celery_workers=2, worker_concurrency=1,
                                 triggerer_health_check_threshold=TRIGGERER_HEALTH_CHECK_THRESHOLD,
                                 triggerer_capacity=1)  # two triggers at once run on two triggerers


def read_s3(s3: Any, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def upload_samples(s3: Any, samples: Path) -> tuple[str, Summary]:
    """The sample documents and their analyses on one input prefix, as the local Textract reads them."""
    summary = write_samples(samples, count=DOCUMENTS)
    bucket = unique("celery-review")
    upload(s3, samples, bucket)
    return bucket, summary


def instances_of(deployment: AirflowDeployment, dag_id: str, run_id: str) -> dict[tuple[str, int], dict]:
    return {(ti["task_id"], ti.get("map_index", -1)): ti for ti in deployment.task_instances(dag_id, run_id)}


def test_the_batch_review_dag_spreads_its_chunks_over_both_celery_workers(
        celery_airflow: AirflowDeployment, local_service: str, s3: Any, tmp_path: Path) -> None:
    deployment = celery_airflow
    shutil.copytree(ROOT / "dags" / "templates", deployment.dags_folder / "templates", dirs_exist_ok=True)
    assert deployment.add_dag_file(ROOT / "dags" / f"{REVIEW_DAG}.py", unpause=False) == [REVIEW_DAG]
    bucket, summary = upload_samples(s3, tmp_path / "samples")
    conf = {"input_s3_uri": f"s3://{bucket}/input", "output_s3_uri": f"s3://{bucket}/output",
            "role_arn": ROLE_ARN, "workteam_arn": workteam_arn(), "flow_definition_name": unique("celery-flow"),
            "chunk_size": CHUNK_SIZE, "poll_seconds": 1}
    # The DAG is @daily with max_active_runs=1: the run stands for the interval the scheduler would start on
    # unpausing, so no scheduled run with empty params competes with it.
    logical_date = (deployment.dag(REVIEW_DAG) or {}).get("next_dagrun_logical_date")
    started = time.monotonic()
    run_id = deployment.trigger_dag(REVIEW_DAG, conf=conf, logical_date=logical_date)
    deployment.unpause(REVIEW_DAG)
    try:
        # The run creates its flow definition; the simulated reviewers answer its loops from then on (loops
        # started before the policy are planned when it is set).
        deployment.wait_for_task_state(REVIEW_DAG, run_id, "flow_definition", "success", timeout=240)
        flow_arn = deployment.xcom(REVIEW_DAG, run_id, "flow_definition")
        AdminClient(local_service).request("PUT", "workforce/policies", {"flowDefinitionArn": flow_arn, "policy": {
            "delaySeconds": [0.2, 1.0], "answer": {"mode": "echo"}}})
        state = deployment.wait_for_run(REVIEW_DAG, run_id, timeout=420)
    finally:
        deployment.pause(REVIEW_DAG)
    elapsed = time.monotonic() - started
    instances = instances_of(deployment, REVIEW_DAG, run_id)
    assert state == "success", f"{instances}\n{deployment.logs(80)}"

    chunks = deployment.xcom(REVIEW_DAG, run_id, "chunk_documents")
    assert len(chunks) == DOCUMENTS // CHUNK_SIZE
    analyze = [ti for (task_id, _), ti in instances.items() if task_id == "analyze"]
    assert sorted(ti["map_index"] for ti in analyze) == list(range(len(chunks)))
    assert {ti["state"] for ti in analyze} == {"success"}
    per_worker = Counter(ti["hostname"] for ti in analyze)
    workers = deployment.names("celery-worker")
    assert set(per_worker) == set(workers) and min(per_worker.values()) >= 1, per_worker  # both ran chunks
    every_host = {ti["hostname"] for ti in instances.values() if ti["state"] == "success"}
    assert every_host <= set(workers), every_host  # every task ran on a Celery worker

    wait = deployment.xcom(REVIEW_DAG, run_id, "wait_for_reviews")
    results = deployment.xcom(REVIEW_DAG, run_id, "results")
    totals = json.loads(read_s3(s3, results["summary_uri"]))
    assert (totals["documents"], totals["items"]) == (DOCUMENTS, summary.pages), totals
    assert 0 < totals["loops"] < totals["items"], totals  # only the uncertain pages went to review
    assert totals["statuses"] == {"Completed": totals["loops"]} == wait["counts"], (totals, wait)
    assert totals["documents_reviewed"] > 0 and totals["outputs_read"] == totals["loops"], totals
    lines = [json.loads(line) for line in read_s3(s3, results["results_uri"]).splitlines()]
    assert len(lines) == summary.pages
    print(f"\nbatch review on Celery: {len(chunks)} chunks per worker {dict(sorted(per_worker.items()))}, "
          f"{totals['loops']} of {totals['items']} pages reviewed; run took {elapsed:.1f}s "
          f"(deployment started in {deployment.start_seconds:.1f}s)")


def loop_summaries(flow_arn: str) -> list[dict]:
    pages = boto3.client("sagemaker-a2i-runtime").get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=flow_arn)
    return [loop for page in pages for loop in page["HumanLoopSummaries"]]


def manifest_records(s3: Any, manifest_uri: str) -> list[ManifestRecord]:
    """Every record of every part file, not merged: an item recorded twice shows twice."""
    bucket, prefix = split_s3_uri(manifest_uri)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/part-")
    keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
    return [ManifestRecord.from_json(line) for key in keys
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines() if line.strip()]


def trigger_logs(deployment: AirflowDeployment, run_id: str, dag_id: str, job_id: int | str = "*") -> list[Path]:
    """The wait's trigger logs, one per triggerer job that ran it (``attempt=1.log.trigger.<job id>.log``)."""
    run_folder = deployment.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    return sorted(run_folder.glob(f"task_id=wait_for_loops/attempt=1.log.trigger.{job_id}.log"))


def trigger_log(deployment: AirflowDeployment, run_id: str, job_id: int, dag_id: str = TAKEOVER_DAG) -> str:
    """What one triggerer's trigger runner logged for the wait."""
    return "".join(path.read_text(errors="replace") for path in trigger_logs(deployment, run_id, dag_id, job_id))


def jobs_that_ran(deployment: AirflowDeployment, run_id: str, dag_id: str) -> set[int]:
    """The triggerer jobs that ran the wait's trigger."""
    return {int(path.name.split(".")[-2]) for path in trigger_logs(deployment, run_id, dag_id)}


def logged_at(deployment: AirflowDeployment, run_id: str, job_id: int, dag_id: str, text: str = "") -> list[datetime]:
    """When one triggerer's trigger runner logged each of the wait's records containing ``text`` (JSON lines)."""
    records = [json.loads(line) for line in trigger_log(deployment, run_id, job_id, dag_id).splitlines()
               if line.startswith("{")]
    return [datetime.fromisoformat(record["timestamp"]) for record in records if text in str(record.get("event"))]


def triggerer_of_wait(deployment: AirflowDeployment, run_id: str,
                      dag_id: str = TAKEOVER_DAG) -> Callable[[], int | None]:
    def check() -> int | None:
        instance = deployment.task_instance(dag_id, run_id, "wait_for_loops")
        if instance is None or instance["state"] != "deferred":
            pytest.fail(f"the wait is not deferred: {instance}\n{deployment.logs()}")
        return (instance.get("trigger") or {}).get("triggerer_id")

    return check


def test_a_killed_triggerers_batch_trigger_is_taken_over_and_ends_once(
        celery_airflow: AirflowDeployment, local_service: str, make_flow_definition: Callable[..., str],
        output_bucket: str, s3: Any) -> None:
    deployment = celery_airflow
    flow_arn = make_flow_definition()  # no workforce policy yet: the loops stay open until the kill is done
    assert deployment.add_dag_file(DAGS / f"{TAKEOVER_DAG}.py") == [TAKEOVER_DAG]
    started = time.monotonic()
    run_id = deployment.trigger_dag(TAKEOVER_DAG, conf={
        "flow_definition_arn": flow_arn, "s3_uri": f"s3://{output_bucket}/{unique('takeover')}", "count": LOOPS})
    deployment.wait_for_task_state(TAKEOVER_DAG, run_id, "wait_for_loops", "deferred", timeout=300)
    deferred = time.monotonic()
    first_job = deployment.poll(triggerer_of_wait(deployment, run_id), 60, "a triggerer to take the trigger")
    victim = deployment.job(first_job)["hostname"]
    (survivor,) = set(deployment.names("triggerer")) - {victim}
    # The victim really runs the trigger: it has read the manifests and looked at the loops, all still open.
    deployment.poll(lambda: f"Batch of {LOOPS} human loop(s)" in trigger_log(deployment, run_id, first_job) or None,
                    60, f"{victim}'s trigger to look at the loops")
    assert Counter(loop["HumanLoopStatus"] for loop in loop_summaries(flow_arn)) == {"InProgress": LOOPS}

    killed, killed_at = time.monotonic(), datetime.now(UTC)
    deployment.kill_component(victim)
    try:
        second_job = deployment.poll(
            lambda: job if (job := triggerer_of_wait(deployment, run_id)()) not in (None, first_job) else None,
            120, f"{survivor} to take the trigger over from the killed {victim}")
        taken_over = time.monotonic() - killed
        assert deployment.job(second_job)["hostname"] == survivor
        last_beat = datetime.fromisoformat(deployment.job(first_job)["latest_heartbeat"])
        # Now the reviewers answer every loop at once.
        AdminClient(local_service).request("PUT", "workforce/policies", {"flowDefinitionArn": flow_arn, "policy": {
            "delaySeconds": [0.0, 0.0], "answer": {"mode": "fixed", "answer": ANSWER}}})
        state = deployment.wait_for_run(TAKEOVER_DAG, run_id, timeout=400)
        finished = time.monotonic()
    finally:
        deployment.start_triggerer(victim, timeout=120)  # the module's deployment keeps two triggerers
    logs = deployment.logs(80)
    instances = {task_id: ti for (task_id, _), ti in instances_of(deployment, TAKEOVER_DAG, run_id).items()}
    assert state == "success", f"{instances}\n{logs}"
    # Exactly once: every task's first try succeeded; the wait deferred once, its trigger fired once (on the
    # survivor), and the resumed sensor handled the event once.
    assert {task: (ti["state"], ti["try_number"]) for task, ti in instances.items()} == {
        task: ("success", 1) for task in ("make_items", "start_loops", "wait_for_loops", "read_loops")}, instances
    text = deployment.task_log(TAKEOVER_DAG, run_id, "wait_for_loops", 1)
    assert text.count("Pausing task as DEFERRED.") == 1, text
    assert text.count("Trigger fired event") == 1, text
    assert text.count("Batch wait ended success") == 1, text  # execute_complete, once
    assert f"Batch of {LOOPS} human loop(s): {{'Completed': {LOOPS}}}" in trigger_log(deployment, run_id, second_job)
    assert "'Completed'" not in trigger_log(deployment, run_id, first_job)  # the victim never saw one end

    # Each loop started once: 1,000 loops in the flow definition, names unique, each item recorded once and
    # started (not adopted from an earlier try).
    start = deployment.xcom(TAKEOVER_DAG, run_id, "start_loops")
    assert {key: start[key] for key in ("items", "loops", "started", "adopted", "errors")} == {
        "items": LOOPS, "loops": LOOPS, "started": LOOPS, "adopted": 0, "errors": 0}, start
    records = manifest_records(s3, start["manifest_uri"])
    assert len(records) == len({record.item_key for record in records}) == LOOPS
    assert all(record.human_loop_started and not record.extra.get("adopted") for record in records)
    loops = loop_summaries(flow_arn)
    assert len(loops) == len({loop["HumanLoopName"] for loop in loops}) == LOOPS
    assert {loop["HumanLoopName"] for loop in loops} == {record.human_loop_name for record in records}
    assert Counter(loop["HumanLoopStatus"] for loop in loops) == {"Completed": LOOPS}

    # The wait saw every loop, and so did the task downstream of it.
    wait = deployment.xcom(TAKEOVER_DAG, run_id, "wait_for_loops")
    assert (wait["total"], wait["counts"]) == (LOOPS, {"Completed": LOOPS}), wait
    read = deployment.xcom(TAKEOVER_DAG, run_id, "read_loops")
    assert (read["items"], read["loops"], read["statuses"]) == (LOOPS, LOOPS, {"Completed": LOOPS}), read
    answers = [json.loads(line)["consolidated_answer"] for line in read_s3(s3, read["results_uri"]).splitlines()]
    assert answers == [ANSWER] * LOOPS
    print(f"\ntakeover: {LOOPS} loops deferred {deferred - started:.1f}s after the trigger; {victim} killed; "
          f"{survivor} took the trigger over {taken_over:.1f}s later, {victim}'s last heartbeat having been "
          f"{(killed_at - last_beat).total_seconds():.1f}s before the kill (health-check threshold "
          f"{TRIGGERER_HEALTH_CHECK_THRESHOLD}s); run done {finished - killed:.1f}s after the kill")


def test_event_waits_sharing_a_queue_over_two_triggerers_end_once_through_a_kill(
        celery_airflow: AirflowDeployment, local_service: str, make_flow_definition: Callable[..., str],
        output_bucket: str, s3: Any) -> None:
    deployment = celery_airflow
    flow_arn = make_flow_definition()  # no workforce policy yet: the loops stay open until the test answers them
    queue_url = A2IEventsHook(aws_conn_id=None).create_status_change_queue(
        unique("celery-events"), flow_definition_arn=flow_arn)["QueueUrl"]
    assert deployment.add_dag_file(DAGS / f"{EVENTS_DAG}.py") == [EVENTS_DAG]
    started = time.monotonic()
    runs = [deployment.trigger_dag(EVENTS_DAG, conf={
        "flow_definition_arn": flow_arn, "s3_uri": f"s3://{output_bucket}/{unique('events')}", "queue_url": queue_url,
        "count": EVENT_LOOPS}) for _ in range(2)]
    for run_id in runs:
        deployment.wait_for_task_state(EVENTS_DAG, run_id, "wait_for_loops", "deferred", timeout=300)
    jobs = [deployment.poll(triggerer_of_wait(deployment, run_id, EVENTS_DAG), 120, "a triggerer to take the wait")
            for run_id in runs]
    placed = [deployment.job(job)["hostname"] for job in jobs]
    # A triggerer runs one trigger at most here: the two waits run on the two triggerers, one each.
    assert sorted(placed) == sorted(deployment.names("triggerer")), placed
    run_a, run_b = runs
    victim, survivor = placed

    def seen(run_id: str, job: int, counts: str, reconciled: bool = False) -> Callable[[], bool | None]:
        line = f"{'Reconciled with A2I: ' if reconciled else ''}Batch of {EVENT_LOOPS} human loop(s): {counts}"
        return lambda: line in trigger_log(deployment, run_id, job, EVENTS_DAG) or None

    for run_id, job, host in zip(runs, jobs, placed, strict=True):
        deployment.poll(seen(run_id, job, f"{{'InProgress': {EVENT_LOOPS}}}"), 120, f"{host}'s wait to look")
    records = {run_id: manifest_records(s3, deployment.xcom(EVENTS_DAG, run_id, "start_loops")["manifest_uri"])
               for run_id in runs}
    # Side by side on the one queue: half of each run's loops end. Each wait takes (and deletes) its own loops'
    # events, gives the other's back, and sees its half end in a look.
    admin = AdminClient(local_service)
    for run_id in runs:
        for record in records[run_id][: EVENT_LOOPS // 2]:
            admin.answer(record.human_loop_name, ANSWER)
    half = f"{{'Completed': {EVENT_LOOPS // 2}, 'InProgress': {EVENT_LOOPS // 2}}}"
    for run_id, job, host in zip(runs, jobs, placed, strict=True):
        deployment.poll(seen(run_id, job, half), 120, f"{host}'s wait to see half its loops end")
    assert [triggerer_of_wait(deployment, run_id, EVENTS_DAG)() for run_id in runs] == jobs  # neither moved

    deployment.kill_component(victim)
    try:
        # The survivor is full with run B's wait: it takes run A's over once run B's has ended. Run B's other
        # loops end now.
        for record in records[run_b][EVENT_LOOPS // 2:]:
            admin.answer(record.human_loop_name, ANSWER)
        taken_over = deployment.poll(
            lambda: job if (job := triggerer_of_wait(deployment, run_a, EVENTS_DAG)()) not in (None, jobs[0])
            else None, 240, f"{survivor} to take run A's wait over from the killed {victim}")
        assert deployment.job(taken_over)["hostname"] == survivor
        # The survivor's first full look sees the ends the victim saw (their events may be gone: it deleted them).
        deployment.poll(seen(run_a, taken_over, half, reconciled=True), 120, "the survivor's look at run A's loops")
        # Now the reviewers answer run A's open loops.
        admin.request("PUT", "workforce/policies", {"flowDefinitionArn": flow_arn, "policy": {
            "delaySeconds": [0.0, 0.0], "answer": {"mode": "fixed", "answer": ANSWER}}})
        states = [deployment.wait_for_run(EVENTS_DAG, run_id, timeout=300) for run_id in runs]
        finished = time.monotonic()
    finally:
        deployment.start_triggerer(victim, timeout=120)  # the module's deployment keeps two triggerers
    logs = deployment.logs(80)
    for run_id, state in zip(runs, states, strict=True):
        instances = {task_id: ti for (task_id, _), ti in instances_of(deployment, EVENTS_DAG, run_id).items()}
        assert state == "success", f"{instances}\n{logs}"
        # Exactly once: every task's first try succeeded, the wait deferred once, its trigger fired once, and the
        # resumed sensor handled the event once.
        assert {task: (ti["state"], ti["try_number"]) for task, ti in instances.items()} == {
            task: ("success", 1) for task in ("make_items", "start_loops", "wait_for_loops", "read_loops")}, instances
        text = deployment.task_log(EVENTS_DAG, run_id, "wait_for_loops", 1)
        assert text.count("Pausing task as DEFERRED.") == 1, text
        assert text.count("Trigger fired event") == 1, text
        assert text.count("Batch wait ended success") == 1, text
        # Each loop started once, and every loop was seen by the wait and by the task downstream of it.
        start = deployment.xcom(EVENTS_DAG, run_id, "start_loops")
        assert (start["started"], start["adopted"], start["errors"]) == (EVENT_LOOPS, 0, 0), start
        assert len(records[run_id]) == len({record.item_key for record in records[run_id]}) == EVENT_LOOPS
        wait = deployment.xcom(EVENTS_DAG, run_id, "wait_for_loops")
        assert (wait["total"], wait["counts"]) == (EVENT_LOOPS, {"Completed": EVENT_LOOPS}), wait
        read = deployment.xcom(EVENTS_DAG, run_id, "read_loops")
        assert (read["loops"], read["statuses"]) == (EVENT_LOOPS, {"Completed": EVENT_LOOPS}), read
        answers = [json.loads(line)["consolidated_answer"] for line in read_s3(s3, read["results_uri"]).splitlines()]
        assert answers == [ANSWER] * EVENT_LOOPS
    loops = loop_summaries(flow_arn)
    assert len(loops) == len({loop["HumanLoopName"] for loop in loops}) == 2 * EVENT_LOOPS
    assert {loop["HumanLoopName"] for loop in loops} == {record.human_loop_name for run_id in runs
                                                         for record in records[run_id]}
    # Where each wait ran: run B's on the survivor only, run A's on the victim and then on the survivor, which
    # started it only after run B's had ended there; the victim never saw run A's loops all end.
    assert jobs_that_ran(deployment, run_b, EVENTS_DAG) == {jobs[1]}
    assert jobs_that_ran(deployment, run_a, EVENTS_DAG) == {jobs[0], taken_over}
    done = f"Batch of {EVENT_LOOPS} human loop(s): {{'Completed': {EVENT_LOOPS}}}"
    b_done = max(logged_at(deployment, run_b, jobs[1], EVENTS_DAG, done))  # its last look, maybe a reconcile too
    a_resumed = min(logged_at(deployment, run_a, taken_over, EVENTS_DAG))
    assert b_done < a_resumed, (b_done, a_resumed)
    assert done not in trigger_log(deployment, run_a, jobs[0], EVENTS_DAG)
    print(f"\nevent waits: run A's wait on {victim}, run B's on {survivor}, side by side on one queue; {victim} "
          f"killed, {survivor} took run A's over {(a_resumed - b_done).total_seconds():.1f}s after run B's ended; "
          f"both runs done {finished - started:.1f}s after they were triggered")
