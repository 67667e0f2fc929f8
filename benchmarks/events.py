"""Event-driven completion against polling, in one run: how soon the batch trigger sees the last loop end, and
what the wait costs per loop that ends.

Both arms wait with the batch trigger on the same kind of batch (``loops`` loops, answered one by one over
``window`` seconds); the polling arm looks every ``poll`` seconds, the event arm takes A2I's status-change events
from an SQS queue that an EventBridge rule fills (the local service routes them as A2I does).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import Counter
from typing import Any

from benchmarks.measure import Bench, log, unique
from benchmarks.table import Row, fmt, ratio


class Counted:
    """Every call (service, operation) of botocore's clients (``asynchronous``: aiobotocore's) while ``on``."""

    def __init__(self, *, asynchronous: bool = True) -> None:
        self.calls: Counter = Counter()
        self.on = False
        counted = self

        def count(client: Any, operation_name: str) -> None:
            if counted.on:
                counted.calls[(client.meta.service_model.service_name, operation_name)] += 1

        if asynchronous:
            from aiobotocore.client import AioBaseClient

            original_async = AioBaseClient._make_api_call

            async def call_async(client, operation_name, api_params):
                count(client, operation_name)
                return await original_async(client, operation_name, api_params)

            AioBaseClient._make_api_call = call_async  # type: ignore[method-assign]
        else:
            from botocore.client import BaseClient

            original = BaseClient._make_api_call

            def call(client, operation_name, api_params):
                count(client, operation_name)
                return original(client, operation_name, api_params)

            BaseClient._make_api_call = call  # type: ignore[method-assign]


def _run_in_thread(trigger: Any) -> tuple[threading.Thread, list[tuple[float, dict]]]:
    """The trigger's run() on its own event loop: the thread, and (when, payload) of its event once it comes."""
    events: list[tuple[float, dict]] = []

    def run() -> None:
        async def first() -> None:
            async for event in trigger.run():
                events.append((time.monotonic(), event.payload))
                return

        asyncio.run(first())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, events


def _manifest(bench: Bench, loops: dict[str, str]) -> str:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_a2i.manifest import ManifestRecord, ManifestWriter

    uri = f"s3://{bench.bucket}/{unique('events-manifest')}/manifest"
    writer = ManifestWriter(S3Hook(aws_conn_id=None), uri, flush_every=1000)
    for key, name in loops.items():
        writer.add(ManifestRecord(item_key=key, human_loop_name=name, human_loop_started=True))
    writer.complete({"loops": len(loops)})
    return uri


def _one_wait(bench: Bench, counted: Counted, flow: str, queue_url: str | None, *, loops: int, window: float,
              poll: float, last_after: float) -> tuple[float, int]:
    """One batch wait: (seconds from the last loop's end to the trigger's event, the trigger's calls after its
    first look). The last loop ends ``last_after`` seconds after the others, so that its end falls at another
    moment of the poll interval in each trial."""
    from airflow_a2i.triggers.batch import A2IHumanLoopBatchTrigger
    from airflow_a2i.waiting.policies import WaitPolicy

    names = {f"doc-{index:04d}": unique("ev") for index in range(loops)}
    bench.start_many(flow, list(names.values()))
    policy = WaitPolicy(poll_interval=poll, reconcile_interval=300, completion="events" if queue_url else "poll",
                        events_queue_url=queue_url)

    class Witnessed(A2IHumanLoopBatchTrigger):
        looked = threading.Event()

        async def look(self, client: Any) -> list:
            states = await super().look(client)
            self.looked.set()
            return states

    trigger = Witnessed(manifest_uris=[_manifest(bench, names)], flow_definition_arn=flow, aws_conn_id=None,
                        policy=policy)
    counted.calls.clear()
    thread, events = _run_in_thread(trigger)
    if not trigger.looked.wait(120):
        raise RuntimeError("the trigger made no first look")
    counted.on = True
    began = time.monotonic()
    last = began
    for index, name in enumerate(names.values()):
        due = began + window * index / (loops - 1) + (last_after if index == loops - 1 else 0.0)
        time.sleep(max(0.0, due - time.monotonic()))
        bench.admin.answer(name, {"ok": 1})
        last = time.monotonic()
    thread.join(poll * 3 + 120)
    counted.on = False
    if not events:
        raise RuntimeError("the wait did not end")
    ended, payload = events[0]
    if payload.get("status") != "success":
        raise RuntimeError(f"the wait ended {payload}")
    return ended - last, sum(counted.calls.values())


def event_vs_poll(bench: Bench, notes: list[str], *, loops: int = 200, window: float = 30.0, poll: float = 10.0,
                  trials: int = 3) -> list[Row]:
    """Rows: detection latency (median of ``trials``) and API calls per completed loop, polling vs events."""
    from airflow_a2i.hooks.events import A2IEventsHook

    counted = Counted()
    flows = {"poll": bench.flow("polled"), "events": bench.flow("events")}  # the queue gets the event arm's only
    queue = A2IEventsHook(aws_conn_id=None).create_status_change_queue(unique("bench-events"),
                                                                      flow_definition_arn=flows["events"])["QueueUrl"]
    measured: dict[str, list[tuple[float, int]]] = {"poll": [], "events": []}
    breakdown: dict[str, Counter] = {"poll": Counter(), "events": Counter()}
    for trial in range(trials):
        for mode in ("poll", "events"):
            latency, calls = _one_wait(bench, counted, flows[mode], queue if mode == "events" else None,
                                       loops=loops, window=window, poll=poll,
                                       last_after=poll * (trial + 0.5) / trials)
            measured[mode].append((latency, calls))
            breakdown[mode].update({operation: count for (_, operation), count in counted.calls.items()})
            log(f"events vs poll, trial {trial + 1}/{trials}, {mode}: latency {latency:.2f} s, {calls} calls")
    latency = {mode: statistics.median(value for value, _ in runs) for mode, runs in measured.items()}
    per_loop = {mode: statistics.median(calls for _, calls in runs) / loops for mode, runs in measured.items()}
    notes.append(
        f"Events vs polling: the batch trigger waits on {loops} loops that people answer one by one over {window:.0f} "
        f"s; polling looks every {poll:.0f} s (one ListHumanLoops page per 100 open loops), events come through an "
        f"EventBridge rule and SQS (reconcile every 300 s). Latency: from the last answer to the trigger's event, "
        f"median of {trials} trials each (poll {', '.join(f'{value:.2f}' for value, _ in measured['poll'])} s; "
        f"events {', '.join(f'{value:.2f}' for value, _ in measured['events'])} s). Calls: everything the trigger "
        f"sent after its first look, per loop; in all, polling {dict(breakdown['poll'])}, events "
        f"{dict(breakdown['events'])}. Events cost about three calls per loop when answers come one at a time, as "
        "here (a receive, a describe that confirms, a delete; answers that come together share receives, deletes "
        "and, when many, a listing page), whatever the reviews take; polling costs a page per 100 open loops every "
        "poll until the last loop ends, so it costs less for short reviews and more for long ones (at 100 open "
        "loops a page, three calls a loop are 300 polls of 10 s).")
    return [
        Row(f"Events vs polling, detection latency after a loop's end (s), {loops} loops: polling every {poll:.0f} s "
            "vs events",
            fmt(latency["poll"], 2), fmt(latency["events"], 2), ratio(latency["events"], latency["poll"]),
            "<= 2 s (events)", latency["events"] <= 2.0),
        Row(f"Events vs polling, API calls per completed loop, {loops} loops ending over {window:.0f} s: polling "
            f"every {poll:.0f} s vs events", fmt(per_loop["poll"], 2), fmt(per_loop["events"], 2),
            ratio(per_loop["events"], per_loop["poll"])),
    ]
