"""The local service's hot calls cost the same whatever number of loops it holds: every statement they run finds
its rows through an index (SQLite's EXPLAIN QUERY PLAN shows no SCAN of the loops, answers or plans tables).

The statements checked are the ones the runtime and the simulated workforce really execute (traced from the
connection), so a query changed into a full scan fails here."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from airflow_a2i.local import s3
from airflow_a2i.local.runtime import A2IRuntime
from airflow_a2i.local.s3 import ACCOUNT_ID
from airflow_a2i.local.store import NamedResource, Store
from airflow_a2i.local.workforce import SimulatedWorkforce, WorkforcePolicy

pytestmark = pytest.mark.timeout(120)

REGION = "us-east-1"
BUCKET = "store-scale-outputs"
GROWING_TABLES = ("human_loops", "answers", "workforce_plans")
# "SCAN human_loops", "SCAN l" (an alias of it), "SCAN answers USING INDEX ..." (a walk of a whole index is a scan
# too); a scan of a subquery's few rows ("SCAN (subquery-1)") is fine.
FULL_SCAN = re.compile(r"\bSCAN (?!\()(\w+)")


def flow(store: Store, name: str) -> str:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:flow-definition/{name}"
    store.put_flow_definition(NamedResource(REGION, name, arn, {
        "HumanLoopConfig": {"TaskCount": 1, "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private"
                            "-crowd/t", "TaskAvailabilityLifetimeInSeconds": 3600},
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/out"}}, time.time()))
    return arn


def start(runtime: A2IRuntime, flow_arn: str, name: str) -> None:
    runtime.start_human_loop(REGION, {"HumanLoopName": name, "FlowDefinitionArn": flow_arn,
                                      "HumanLoopInput": {"InputContent": json.dumps({"name": name})}})


def scans(store: Store, statements: list[str]) -> dict[str, list[str]]:
    """Each traced statement that scans a growing table -> its plan's scan lines."""
    found: dict[str, list[str]] = {}
    for statement in statements:
        if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            continue
        plan = [row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()]
        aliases = {"l": "human_loops", "a": "answers", "p": "workforce_plans", "h": "task_holds"}
        bad = [line for line in plan if (match := FULL_SCAN.search(line))
               and aliases.get(match[1], match[1]) in GROWING_TABLES]
        if bad:
            found[statement] = bad
    return found


@pytest.fixture
def service(tmp_path: Path):
    s3.ensure_bucket(BUCKET, REGION)
    store = Store(tmp_path / "state.sqlite3")
    runtime = A2IRuntime(store, max_open_loops=10_000)
    workforce = SimulatedWorkforce(store, runtime, seed=1)
    yield store, runtime, workforce
    store.close()


def test_the_hot_calls_use_indexes_not_scans(service):
    store, runtime, workforce = service
    listed, other = flow(store, "listed"), flow(store, "other")
    for index in range(60):
        start(runtime, listed if index % 2 else other, f"loop-{index:03d}")
    workforce.set_policy(other, WorkforcePolicy(min_delay=0, max_delay=0).to_json())
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        start(runtime, listed, "loop-new")  # the quota's count, the name's check, the insert
        start(runtime, listed, "loop-new")  # a retry: adopted
        runtime.describe_human_loop(REGION, "loop-001")
        for order in ("Ascending", "Descending"):
            first = runtime.list_human_loops(REGION, {"FlowDefinitionArn": listed, "SortOrder": order,
                                                      "MaxResults": "5", "CreationTimeAfter": "0",
                                                      "CreationTimeBefore": str(time.time() + 60)})
            runtime.list_human_loops(REGION, {"FlowDefinitionArn": listed, "SortOrder": order, "MaxResults": "5",
                                              "NextToken": first["NextToken"]})
        runtime.list_human_loops(REGION, {"FlowDefinitionArn": listed})
        assert workforce.tick() == 30  # the due plans, their loops, answers, outputs
        runtime.advance()  # stopping and expired loops
        runtime.answer(REGION, "loop-003", {"ok": 1}, "person")  # the admin API's answer
        runtime.answer(None, "loop-005", {"ok": 1}, "person")  # ... found by name alone
    finally:
        store._db.set_trace_callback(None)
    assert len(statements) > 50
    assert scans(store, statements) == {}


def test_the_check_finds_a_scan(service):
    """The check itself: a query without a usable index is reported."""
    store, _, _ = service
    assert scans(store, ["SELECT * FROM human_loops WHERE input_content = 'x'"])
    assert scans(store, ["SELECT COUNT(*) FROM answers a WHERE a.time_spent > 1"])
    assert not scans(store, ["SELECT * FROM human_loops WHERE region = 'r' AND name = 'n' AND deleted = 0"])


def test_a_tick_answers_many_loops_a_transaction_at_a_time_and_announces_them_together(service, monkeypatch):
    """Over two batches of the tick: one loop's unexpected error undoes only its own answer, completion and
    announcement (a savepoint), every other loop is completed with its output.json, and the finished loops are
    announced a batch at a time, after their commit."""
    from airflow_a2i.local import workforce as workforce_module

    store, runtime, workforce = service
    flow_arn = flow(store, "batched")
    count = workforce_module.TICK_BATCH + 50
    for index in range(count):
        start(runtime, flow_arn, f"batched-{index:03d}")
    announced: list[list[str]] = []
    committed: list[bool] = []

    def listener(loops: list) -> None:
        announced.append([loop.name for loop in loops])
        committed.append(not store._db.in_transaction)

    runtime.listeners.append(listener)
    answer = runtime.answer

    def answer_or_break(region, name, *args, **kwargs):
        answered = answer(region, name, *args, **kwargs)
        if name == "batched-007":  # after its answer, completion and announcement were recorded
            raise RuntimeError("a fault the service cannot produce by itself")
        return answered

    monkeypatch.setattr(runtime, "answer", answer_or_break)
    workforce.set_policy(flow_arn, WorkforcePolicy(min_delay=0, max_delay=0, answer_mode="fixed",
                                                   fixed_answer={"ok": 1}).to_json())
    assert workforce.tick() == count  # the broken loop's plan is dropped, as before: it counts as carried out
    assert [len(names) for names in announced] == [workforce_module.TICK_BATCH - 1, 50]
    assert "batched-007" not in announced[0]
    assert all(committed)
    statuses = {loop.name: loop.status for loop in store.list_loops(flow_arn, after=None, before=None,
                                                                      descending=False, start_after=None,
                                                                      limit=1000)}
    assert statuses.pop("batched-007") == "InProgress"
    assert set(statuses.values()) == {"Completed"}
    done = store.get_loop(REGION, "batched-100")
    assert done is not None and done.output_s3_uri is not None
    assert json.loads(s3.get_object(*done.output_s3_uri.removeprefix("s3://").split("/", 1)))["humanAnswers"][0][
        "answerContent"] == {"ok": 1}
    assert store.answers(store.get_loop(REGION, "batched-007").id) == []  # type: ignore[union-attr]
