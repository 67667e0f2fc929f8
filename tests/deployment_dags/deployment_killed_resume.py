"""A DAG whose mapped start operator starts one human loop per item and defers; its resumed first try can be held.

With ``params.hold_dir`` set, the first try of each item, once resumed by its trigger (``execute_complete``),
writes ``resumed-<map index>.json`` (its pid, task instance id and the loop it started) into that directory and
then waits there, so that a test can kill that very attempt, as Airflow's stale-executor-event race
(apache/airflow#67287, #72716) fails it. Only the window is widened: the kill, the retry and the retry's
``execute`` (which adopts the loop) are Airflow's and the operator's own. A downstream task reports the loops.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator

ITEMS = ("page-1", "page-2", "page-3")
HOLD_SECONDS = 180  # a held attempt gives up waiting to be killed after this; the test then fails on try_number


class ResumeHeldStartHumanLoopOperator(A2IStartHumanLoopOperator):
    """The start operator; with ``params.hold_dir``, its first try announces its resume and holds before finishing."""

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None,
                         result: dict[str, Any] | None = None) -> dict[str, Any]:
        hold_dir = context["params"].get("hold_dir")
        ti = context["ti"]
        if hold_dir and ti.try_number == 1:
            announce_resume(Path(hold_dir) / f"resumed-{ti.map_index}.json", {
                "pid": os.getpid(), "ti_id": str(ti.id), "try_number": ti.try_number, "map_index": ti.map_index,
                "event_status": (event or {}).get("status"), "started": result or {}})
            time.sleep(HOLD_SECONDS)  # until killed
        return super().execute_complete(context, event, result)


def announce_resume(path: Path, facts: dict[str, Any]) -> None:
    """Write the file atomically: the test never reads half of it."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(facts))
    os.replace(partial, path)


@task(retries=0)
def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    """What the downstream task saw: its own try and each item's loop."""
    loops = [{key: result.get(key) for key in ("HumanLoopName", "HumanLoopArn", "HumanLoopStatus")}
             for result in results]
    return {"try_number": get_current_context()["ti"].try_number, "loops": loops}


with DAG(dag_id="deployment_killed_resume", schedule=None, catchup=False, tags=["deployment-harness"],
         params={"flow_definition_arn": Param("", type="string"), "hold_dir": Param("", type="string")}):
    review = ResumeHeldStartHumanLoopOperator.partial(
        task_id="review", flow_definition_arn="{{ params.flow_definition_arn }}", deferrable=True, poll_interval=1,
        retries=2, retry_delay=timedelta(seconds=1),
    ).expand_kwargs([{"item_key": item, "human_loop_input": {"page": item}} for item in ITEMS])
    report(review.output)
