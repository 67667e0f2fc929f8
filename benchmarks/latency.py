"""Latency from a loop's completion to the downstream task's start, on a real Airflow deployment
(api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite): poke vs deferrable."""

from __future__ import annotations

import contextlib
import os
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

REPEATS = 3
DAG_FILE = textwrap.dedent('''
    """Benchmark DAGs: wait on one human loop (poke or deferrable), then a downstream task."""
    from datetime import datetime

    from airflow.sdk import DAG, task

    from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor


    @task
    def downstream():
        return "started"


    for mode in ("poke", "deferrable"):
        with DAG(dag_id=f"bench_latency_{mode}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
            wait = A2IHumanLoopSensor(task_id="wait", human_loop_names="{{ dag_run.conf['loop'] }}",
                                      poke_interval=1, timeout=600, mode="poke",
                                      deferrable=(mode == "deferrable"), aws_conn_id=None)
            wait >> downstream()
''')


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def measure_latency(root: Path, endpoint: str, bench: Any) -> dict[str, Any]:
    from tests.airflow_deployment import session_deployment

    root.mkdir(parents=True, exist_ok=True)
    dag_file = root / "bench_latency_dags.py"
    dag_file.write_text(DAG_FILE)
    flow_arn = bench.flow("latency")
    runtime = boto3.client("sagemaker-a2i-runtime")
    env = {"AWS_ENDPOINT_URL": endpoint, **{key: os.environ[key] for key in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE")}}
    results: dict[str, list[float]] = {"poke": [], "deferrable": []}
    generator = session_deployment(root, env)
    began = time.perf_counter()
    deployment = next(generator)
    startup = time.perf_counter() - began
    try:
        deployment.add_dag_file(dag_file)
        for _ in range(REPEATS):
            for mode in ("poke", "deferrable"):
                dag_id = f"bench_latency_{mode}"
                name = f"latency-{uuid.uuid4().hex[:12]}"
                runtime.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_arn,
                                         HumanLoopInput={"InputContent": "{}"})
                run_id = deployment.trigger_dag(dag_id, conf={"loop": name})
                deployment.wait_for_task_state(dag_id, run_id, "wait", "deferred" if mode == "deferrable"
                                               else "running", timeout=180)
                time.sleep(3)  # the sensor is settled in its wait
                t0 = time.time()
                bench.admin.answer(name, {"ok": True})
                state = deployment.wait_for_run(dag_id, run_id, timeout=180)
                if state != "success":
                    raise RuntimeError(f"{dag_id} run {run_id} ended {state}:\n{deployment.logs()}")
                downstream = deployment.task_instance(dag_id, run_id, "downstream")
                results[mode].append(_time(downstream["start_date"]) - t0)
                print(f"[bench] latency {mode}: {results[mode][-1]:.2f} s", flush=True)
    finally:
        with contextlib.suppress(StopIteration):
            next(generator)
    results_note = (f"Latency: a real deployment (api-server, scheduler, dag-processor, triggerer; LocalExecutor, "
                    f"SQLite; started in {startup:.0f} s), A2IHumanLoopSensor with poke_interval 1 s (the trigger "
                    f"polls every 1 s) then a @task; the loop is answered at t0 through the admin API, latency = "
                    f"the downstream task's start_date (REST API) - t0; median of {REPEATS} runs each. Poke: "
                    f"{[round(value, 2) for value in results['poke']]} s; deferrable: "
                    f"{[round(value, 2) for value in results['deferrable']]} s.")
    return {**results, "note": results_note}
