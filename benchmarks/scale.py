"""One batch at growing sizes (1,000 and 10,000 loops by default; ``--scale-sizes 100000`` for the big one): what
each part of a batch costs as it grows, on one local service with its StartHumanLoop quota raised to half its
measured capacity.

Per size: the start (efficiency against the quota-bound optimum, duplicates, lost items), the wait (API calls of
one polling look; the batch trigger's peak memory over its first looks; API calls per completed loop of an
event-driven wait while the simulated workforce answers everything), the results (loops read and merged per
second, and API calls in all against one DescribeHumanLoop per loop), and the time from the moment every loop was
completed (its answer's submission time) to the results' end.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
import tracemalloc
from typing import Any

import boto3

from benchmarks.events import Counted, _run_in_thread
from benchmarks.measure import Bench, log, run_trigger, unique
from benchmarks.table import Row, fmt, ratio

SIZES = (1_000, 10_000)
LATENCY_CALLS = 200  # DescribeHumanLoop calls, and ListHumanLoops pages, timed at each size


def _call_latencies(flow: str, names: list[str]) -> dict[str, float]:
    """Median milliseconds of one DescribeHumanLoop (loops spread over the batch) and of one ListHumanLoops page of
    100 (filtered by creation time, newest first, continued by NextToken): what one call costs with ``len(names)``
    loops held."""
    client = boto3.client("sagemaker-a2i-runtime")
    describe = []
    for index in range(LATENCY_CALLS):
        began = time.perf_counter()
        client.describe_human_loop(HumanLoopName=names[(index * 7919) % len(names)])
        describe.append(time.perf_counter() - began)
    pages, token = [], None
    while len(pages) < LATENCY_CALLS // 4:
        began = time.perf_counter()
        page = client.list_human_loops(FlowDefinitionArn=flow, SortOrder="Descending", MaxResults=100,
                                       CreationTimeAfter=0, **({"NextToken": token} if token else {}))
        pages.append(time.perf_counter() - began)
        token = page.get("NextToken")
    return {"describe_ms": statistics.median(describe) * 1000, "list_page_ms": statistics.median(pages) * 1000}


def _last_answer(s3_results_uri: str) -> float:
    """Epoch seconds of the last answer in the results (its submission time): when the last loop was completed."""
    from datetime import datetime

    bucket, key = s3_results_uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    last = 0.0
    for line in body.iter_lines():
        for answer in json.loads(line).get("answers") or []:
            moment = datetime.fromisoformat(answer["submission_time"].replace("Z", "+00:00")).timestamp()
            last = max(last, moment)
    return last


def _one_size(bench: Bench, n: int, quota: int, counted: Counted, sync: Counted) -> dict[str, Any]:
    from airflow_a2i.hooks.events import A2IEventsHook
    from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
    from airflow_a2i.triggers.batch import A2IHumanLoopBatchTrigger
    from airflow_a2i.waiting.policies import WaitPolicy

    flow = bench.flow(f"scale-{n}")
    queue = A2IEventsHook(aws_conn_id=None).create_status_change_queue(unique("scale"), flow_definition_arn=flow)
    measured: dict[str, Any] = {"n": n}

    bench.admin.set_quotas({"StartHumanLoop": quota})
    time.sleep(2)  # the quota's bucket refills
    summary, names, wall = bench.operator_batch(flow, n, unique("scale-run"), rps=quota)
    bench.admin.set_quotas({"StartHumanLoop": None})
    measured.update(start_wall=wall, efficiency=(n / quota) / wall)
    measured["duplicates"], measured["lost"] = bench.audit(flow, names)
    log(f"scale {n}: started in {wall:.1f} s (efficiency {measured['efficiency']:.2f})")
    measured.update(_call_latencies(flow, sorted(names)))
    log(f"scale {n}: DescribeHumanLoop {measured['describe_ms']:.1f} ms, a ListHumanLoops page "
        f"{measured['list_page_ms']:.1f} ms")

    def trigger(policy: WaitPolicy) -> A2IHumanLoopBatchTrigger:
        return A2IHumanLoopBatchTrigger(manifest_uris=[summary["manifest_uri"]], flow_definition_arn=flow,
                                        run_hash=summary.get("run_hash"), total_loops=n,
                                        earliest_creation_time=summary.get("created_after"), policy=policy,
                                        aws_conn_id=None)

    polls_before = len(bench.async_calls.polls)
    tracemalloc.start()
    run_trigger(trigger(WaitPolicy(poll_interval=0.5)), bench.async_calls, max_polls=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    measured["calls_per_poll"] = max(sum(poll.values()) for poll in bench.async_calls.polls[polls_before:])
    measured["peak_mb"] = peak / 1e6
    log(f"scale {n}: a polling look took {measured['calls_per_poll']} calls; peak {measured['peak_mb']:.1f} MB")

    class Witnessed(A2IHumanLoopBatchTrigger):
        looked = threading.Event()

        async def look(self, client: Any) -> list:
            states = await super().look(client)
            self.looked.set()
            return states

    waiting = Witnessed(manifest_uris=[summary["manifest_uri"]], flow_definition_arn=flow, aws_conn_id=None,
                        total_loops=n, earliest_creation_time=summary.get("created_after"),
                        policy=WaitPolicy(poll_interval=3600, reconcile_interval=300, completion="events",
                                          events_queue_url=queue["QueueUrl"]))
    counted.calls.clear()
    thread, events = _run_in_thread(waiting)
    if not waiting.looked.wait(300):
        raise RuntimeError("the event-driven wait made no first look")
    counted.on = True
    bench.answer_all(flow)
    thread.join(7200)
    counted.on = False
    if not events or events[0][1].get("status") != "success":
        raise RuntimeError(f"the event-driven wait did not end well: {events}")
    measured["events_calls_per_loop"] = sum(counted.calls.values()) / n
    measured["events_calls"] = dict(counted.calls)

    reader = A2IHumanLoopResultsOperator(task_id="results", manifests=[summary], aws_conn_id=None,
                                         output_s3_uri=f"s3://{bench.bucket}/{unique('scale-results')}")
    sync.calls.clear()
    sync.on = True
    began = time.monotonic()
    written = reader.execute({})
    ended, ended_at = time.monotonic(), time.time()
    sync.on = False
    if written["statuses"] != {"Completed": n}:
        raise RuntimeError(f"the results are not all read: {written['statuses']}")
    measured["results_rate"] = n / (ended - began)
    measured["results_calls"] = sum(count for (service, _), count in sync.calls.items() if service != "s3"
                                    or _ != "GetObject")
    measured["results_calls_all"] = dict(sync.calls)
    measured["completion_to_results"] = ended_at - _last_answer(written["results_uri"])
    log(f"scale {n}: results at {measured['results_rate']:.0f} loops/s; {dict(sync.calls)}")
    return measured


def scale(bench: Bench, notes: list[str], sizes: tuple[int, ...] = SIZES) -> list[Row]:
    counted, sync = Counted(), Counted(asynchronous=False)
    capacity = bench.capacity()
    quota = max(1, int(capacity / 2))
    rows: list[Row] = []
    details = []
    for n in sizes:
        got = _one_size(bench, n, quota, counted, sync)
        budget = math.ceil(n / 100) + 1
        rows += [
            Row(f"Scale {n:,}: start efficiency (N/quota)/wall, quota {quota}/s (ideal {n / quota:.0f} s)", "",
                fmt(got["efficiency"], 2), "", ">= 0.95", got["efficiency"] >= 0.95),
            Row(f"Scale {n:,}: start duplicates / lost items", "", f"{got['duplicates']} / {got['lost']}", "",
                "0 / 0", got["duplicates"] == got["lost"] == 0),
            Row(f"Scale {n:,}: one DescribeHumanLoop, median (ms; the same at every size)", "",
                fmt(got["describe_ms"], 2)),
            Row(f"Scale {n:,}: one ListHumanLoops page of 100, newest first, filtered, median (ms)", "",
                fmt(got["list_page_ms"], 2)),
            Row(f"Scale {n:,}: API calls per polling look (one Describe a loop: {n:,})", str(n),
                str(got["calls_per_poll"]), ratio(got["calls_per_poll"], n), f"<= {budget}",
                got["calls_per_poll"] <= budget),
            Row(f"Scale {n:,}: batch trigger peak memory over its first looks (MB)", "n/a", fmt(got["peak_mb"]), "",
                "< 100 MB at 100,000", got["peak_mb"] < 100),
            Row(f"Scale {n:,}: API calls per completed loop, event-driven wait", "",
                fmt(got["events_calls_per_loop"], 2)),
            Row(f"Scale {n:,}: results read and merged (loops/s)", "", fmt(got["results_rate"])),
            Row(f"Scale {n:,}: results' API calls besides one GetObject a loop (one Describe a loop: {n:,})", str(n),
                str(got["results_calls"]), ratio(got["results_calls"], n)),
            Row(f"Scale {n:,}: from the last loop's completion to the results' end (s)", "",
                fmt(got["completion_to_results"])),
        ]
        details.append(f"{n:,}: start {got['start_wall']:.0f} s; event-driven wait's calls {got['events_calls']}; "
                       f"results' calls {got['results_calls_all']}")
    notes.append(f"Scale: one batch per size on one local service (capacity {capacity:.0f} StartHumanLoop/s, quota "
                 f"{quota}/s), started by A2IStartHumanLoopBatchOperator, waited on by the batch trigger (a polling "
                 "look under tracemalloc, then an event-driven wait while the simulated workforce answers every "
                 "loop at once), read by the results operator's listing path. " + "; ".join(details) + ".")
    return rows
