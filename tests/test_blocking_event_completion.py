"""Event-driven completion of the blocking waits: sensors in poke and reschedule mode, the start operator waiting on
its worker. Against the local service (EventBridge -> SQS), with a poll interval of an hour wherever an end must come
from an event; the logic is the triggers' (EventWait), driven with boto3."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from airflow_a2i.hooks.events import A2IEventsHook
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.sensors.batch import A2IHumanLoopBatchSensor
from airflow_a2i.sensors.human_loop import A2IHumanLoopSensor
from airflow_a2i.waiting.completion import full_look_at_poke
from tests.conftest import unique
from tests.test_event_completion import ACCOUNT, HOUR, events_lost, start_loops, until, visible_messages

pytestmark = pytest.mark.timeout(180)
A2I_CALLS = ("DescribeHumanLoop", "ListHumanLoops")


class Calls:
    """Every botocore call, by the thread that made it: a sensor's own calls, apart from the test's."""

    def __init__(self) -> None:
        self.by_thread: dict[str, Counter] = {}
        self.lock = threading.Lock()

    def record(self, operation: str) -> None:
        with self.lock:
            self.by_thread.setdefault(threading.current_thread().name, Counter())[operation] += 1

    def of(self, thread: str) -> Counter:
        with self.lock:
            return Counter(self.by_thread.get(thread, Counter()))

    def a2i(self, thread: str) -> int:
        calls = self.of(thread)
        return sum(calls[operation] for operation in A2I_CALLS)


@pytest.fixture
def events_queue(local_service: str, flow_definition_arn: str) -> dict[str, str]:
    """A queue the flow definition's status changes reach through a rule, set up by the hook."""
    return A2IEventsHook(aws_conn_id=None).create_status_change_queue(
        unique("a2i-events"), flow_definition_arn=flow_definition_arn)


@pytest.fixture
def calls(monkeypatch) -> Calls:
    from botocore.client import BaseClient

    log, original = Calls(), BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        log.record(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return log


class Poking:
    """A sensor's execute() in poke mode, or a blocking operator's, on a thread of its own."""

    def __init__(self, name: str, task: Any) -> None:
        self.task = task
        self.outcome: list[Any] = []
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.outcome.append(self.task.execute({}))
        except BaseException as error:  # the test raises it
            self.outcome.append(error)

    def result(self, timeout: float = 60) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the wait did not end"
        [outcome] = self.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def event_sensor(names: list[str], queue_url: str, **kwargs: Any) -> A2IHumanLoopSensor:
    options = {"poll_interval": HOUR, "reconcile_interval": HOUR, "timeout": 120, **kwargs}
    return A2IHumanLoopSensor(task_id=unique("wait"), human_loop_names=names, completion="events",
                              events_queue_url=queue_url, aws_conn_id=None, **options)


def answer(endpoint: str, names: list[str]) -> None:
    admin = AdminClient(endpoint)
    for name in names:
        admin.answer(name, {"ok": True})


def first_look_done(calls: Calls, thread: str, count: int) -> Callable[[], bool]:
    return lambda: calls.of(thread)["DescribeHumanLoop"] >= count


# --- poke mode --------------------------------------------------------------------------------------------------

def test_a_poking_sensor_ends_on_events_at_one_describe_per_loop(local_service, flow_definition_arn, events_queue,
                                                                   calls):
    """Polling once an hour, the sensor ends as soon as people answer: after its first look, each loop's end costs
    one describe (the event's confirmation), where a polling wait describes every open loop at every poll."""
    names = start_loops(flow_definition_arn, 4)
    poking = Poking("poke-events", event_sensor(names, events_queue["QueueUrl"]))
    until(first_look_done(calls, "poke-events", len(names)), "the first full look")
    answer(local_service, names)
    report = poking.result()
    assert report["counts"] == {"Completed": 4}
    made = calls.of("poke-events")
    assert made["DescribeHumanLoop"] <= 2 * len(names) and made["ListHumanLoops"] == 0, made
    assert made["ReceiveMessage"] >= 1 and made["DeleteMessageBatch"] >= 1, made
    until(lambda: visible_messages(events_queue["QueueUrl"]) == 0, "the wait's events to be deleted")


def test_a_poking_batch_sensor_confirms_each_end_with_at_most_one_call(local_service, flow_definition_arn,
                                                                        output_bucket, events_queue, calls):
    from tests.test_batch_wait import new_batch

    loops, manifest = new_batch(flow_definition_arn, output_bucket, 150)
    sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=manifest, flow_definition_arn=flow_definition_arn,
                                     completion="events", events_queue_url=events_queue["QueueUrl"],
                                     poll_interval=HOUR, reconcile_interval=HOUR, timeout=120, aws_conn_id=None)
    poking = Poking("poke-batch", sensor)
    until(lambda: calls.of("poke-batch")["ListHumanLoops"] >= 1, "the first full look")
    first_look = calls.a2i("poke-batch")
    answer(local_service, list(loops.values()))
    report = poking.result(timeout=120)
    assert report["total"] == 150 and report["counts"] == {"Completed": 150}
    assert 0 < calls.a2i("poke-batch") - first_look <= 150  # polling: 2 pages a poll, every poll, for as long


def test_a_lost_event_is_caught_by_the_poking_sensors_reconcile(local_service, flow_definition_arn, events_queue,
                                                                calls):
    [loop] = start_loops(flow_definition_arn, 1)
    poking = Poking("poke-lost", event_sensor([loop], events_queue["QueueUrl"], reconcile_interval=2))
    until(first_look_done(calls, "poke-lost", 1), "the first full look")
    with events_lost(events_queue):  # the event never comes
        answer(local_service, [loop])
        report = poking.result()
    assert report["counts"] == {"Completed": 1}
    assert calls.of("poke-lost")["DescribeHumanLoop"] >= 2 and calls.of("poke-lost")["DeleteMessageBatch"] == 0
    assert visible_messages(events_queue["QueueUrl"]) == 0


def test_a_poking_sensor_polls_while_its_queue_cannot_be_read(local_service, flow_definition_arn, calls):
    [loop] = start_loops(flow_definition_arn, 1)
    gone = f"{local_service}/{ACCOUNT}/{unique('no-such-queue')}"
    poking = Poking("poke-nosqs", event_sensor([loop], gone, poll_interval=0.2))
    # An hour between reconciles: more full looks than the first mean it polls while SQS fails.
    until(first_look_done(calls, "poke-nosqs", 3), "the sensor to poll")
    answer(local_service, [loop])
    assert poking.result()["counts"] == {"Completed": 1}
    assert calls.of("poke-nosqs")["ReceiveMessage"] >= 1  # it kept trying the queue


def test_two_poking_sensors_share_one_queue(local_service, flow_definition_arn, events_queue, calls):
    """Each wait gives the other's events back to the queue, later the more often it has seen them: a reconcile every
    10 s bounds how long that may delay a wait's own event."""
    queue = events_queue["QueueUrl"]
    first, second = start_loops(flow_definition_arn, 2), start_loops(flow_definition_arn, 2)
    waits = [Poking(f"share-{number}", event_sensor(names, queue, reconcile_interval=10))
             for number, names in ((1, first), (2, second))]
    until(lambda: first_look_done(calls, "share-1", 2)() and first_look_done(calls, "share-2", 2)(),
          "both first looks")
    answer(local_service, first)
    assert waits[0].result()["counts"] == {"Completed": 2}
    assert waits[1].thread.is_alive()  # the first wait's events did not end the second
    answer(local_service, second)
    assert waits[1].result()["counts"] == {"Completed": 2}
    assert calls.of("share-1")["ReceiveMessage"] >= 1 and calls.of("share-2")["ReceiveMessage"] >= 1


def test_the_start_operator_waits_on_its_worker_for_the_event(airflow_dags, local_service, flow_definition_arn,
                                                              events_queue, calls):
    """dag.test() of a blocking start (not deferrable) polling once an hour: it ends on the event of the loop the
    simulated workforce answers."""
    from airflow.sdk import DAG

    from airflow_a2i.operators.human_loop import A2IStartHumanLoopOperator

    AdminClient(local_service).request("PUT", "workforce/policies", {"flowDefinitionArn": flow_definition_arn,
                                       "policy": {"delaySeconds": [1.0, 1.0],
                                                  "answer": {"mode": "fixed", "answer": {"ok": True}}}})
    with DAG(unique("blocking_events").replace("-", "_"), schedule=None) as dag:
        A2IStartHumanLoopOperator(task_id="review", flow_definition_arn=flow_definition_arn,
                                  human_loop_input={"text": "x"}, deferrable=False, poll_interval=HOUR,
                                  completion="events", events_queue_url=events_queue["QueueUrl"],
                                  reconcile_interval=HOUR, aws_conn_id=None)
    run = airflow_dags.run(dag)
    result = airflow_dags.xcom(run, "review")
    assert result["HumanLoopStatus"] == "Completed", airflow_dags.task_states(run)
    assert result["OutputS3Uri"].endswith(f"/{result['HumanLoopName']}/output.json")
    made = sum((counter for counter in calls.by_thread.values()), Counter())
    assert made["StartHumanLoop"] == 1 and made["ReceiveMessage"] >= 1, made
    assert made["DescribeHumanLoop"] <= 3, made  # the start's lookup, the first look, the event's confirmation


# --- reschedule mode --------------------------------------------------------------------------------------------

def test_a_rescheduled_poke_looks_fully_only_when_due_or_told(local_service, flow_definition_arn, events_queue,
                                                              calls):
    """Each poke is a new sensor instance, as in reschedule mode; Airflow 3 tells it how many pokes came before.
    With a poke every second and a full look every 3 s: pokes 0, 3, 6 ... look at every loop; the others receive,
    and look only when an event of the wait's loops came."""
    queue = events_queue["QueueUrl"]
    names = start_loops(flow_definition_arn, 2)
    pokes = iter(range(100))

    def poke() -> tuple[bool, Counter]:
        number = next(pokes)
        sensor = event_sensor(names, queue, mode="reschedule", poll_interval=1, reconcile_interval=3)
        thread = f"reschedule-{number}"
        result: list = []
        worker = threading.Thread(target=lambda: result.append(sensor.poke({"task_reschedule_count": number})),
                                  name=thread)
        worker.start()
        worker.join(60)
        return result[0].is_done, calls.of(thread)

    done, made = poke()  # 0: the first poke looks
    assert not done and made["DescribeHumanLoop"] == 2
    done, made = poke()  # 1: nothing happened
    assert not done and made["DescribeHumanLoop"] == 0 and made["ReceiveMessage"] == 1
    answer(local_service, names[:1])
    until(lambda: visible_messages(queue) == 1, "the first loop's event")
    done, made = poke()  # 2: the event tells it to look
    assert not done and made["DescribeHumanLoop"] == 2 and made["DeleteMessageBatch"] == 1
    assert visible_messages(queue) == 0
    done, made = poke()  # 3: due, whatever the queue says
    assert not done and made["DescribeHumanLoop"] == 2
    with events_lost(events_queue):  # the second loop's event is lost
        answer(local_service, names[1:])
        done, made = poke()  # 4: nothing in the queue: no look
        assert not done and made["DescribeHumanLoop"] == 0
        poke()  # 5
        done, made = poke()  # 6: the full look sees what the lost event would have said
        assert done and made["DescribeHumanLoop"] == 2


def test_full_looks_of_rescheduled_pokes() -> None:
    assert [full_look_at_poke(n, poke_interval=60, reconcile_interval=300) for n in range(7)] == \
        [True, False, False, False, False, True, False]
    assert all(full_look_at_poke(n, poke_interval=600, reconcile_interval=300) for n in range(3))
    assert full_look_at_poke(None, poke_interval=60, reconcile_interval=300)  # Airflow 2: every poke looks
    assert full_look_at_poke(5, poke_interval=0, reconcile_interval=300)


def test_a_rescheduled_sensor_ends_on_events_in_a_dag_run(airflow_dags, local_service, flow_definition_arn,
                                                          events_queue, calls):
    """dag.test() of a sensor in reschedule mode, a poke every 0.2 s and a full look once an hour: people answer
    one loop after its first poke, the other a few pokes later, and only the first poke and the pokes that received
    the events looked at the loops."""
    from airflow.sdk import DAG

    names = start_loops(flow_definition_arn, 2)
    before = calls.of("MainThread")["DescribeHumanLoop"]  # the starts' lookups

    def answer_while_it_pokes() -> None:
        until(lambda: calls.of("MainThread")["DescribeHumanLoop"] >= before + len(names), "the first poke's look",
              timeout=120)
        answer(local_service, names[:1])
        until(lambda: calls.of("MainThread")["ReceiveMessage"] >= 4, "pokes after the event", timeout=120)
        answer(local_service, names[1:])

    people = threading.Thread(target=answer_while_it_pokes, daemon=True)
    people.start()
    with DAG(unique("reschedule_events").replace("-", "_"), schedule=None) as dag:
        A2IHumanLoopSensor(task_id="wait", human_loop_names=names, mode="reschedule", poke_interval=0.2,
                           timeout=120, completion="events", events_queue_url=events_queue["QueueUrl"],
                           reconcile_interval=HOUR, aws_conn_id=None)
    run = airflow_dags.run(dag)
    people.join(5)
    assert str(run.state) == "success", airflow_dags.task_states(run)
    assert airflow_dags.xcom(run, "wait")["counts"] == {"Completed": 2}
    made = calls.of("MainThread")
    assert made["ReceiveMessage"] >= 4, made  # pokes 0 to 3 at least
    # The first poke's look, and one for each poke that received an event of the wait's loops (two at most): not a
    # look a poke (at least 4 x 2), which Airflow 3 makes possible by telling each poke how many came before it.
    assert made["DescribeHumanLoop"] - before <= len(names) * (1 + len(names)), made


def test_a_deferrable_sensor_defers_with_its_poke_interval_after_its_first_look(local_service, flow_definition_arn,
                                                                               events_queue):
    """The first look on the worker does not change the poll interval the trigger falls back to when SQS fails."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    names = start_loops(flow_definition_arn, 1)
    sensor = A2IHumanLoopSensor(task_id="wait", human_loop_names=names, deferrable=True, poke_interval=7,
                                completion="events", events_queue_url=events_queue["QueueUrl"], aws_conn_id=None)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    policy = deferred.value.trigger.policy  # type: ignore[attr-defined]
    assert (policy.poll_interval, policy.completion, policy.events_queue_url) == (7, "events",
                                                                                  events_queue["QueueUrl"])


def test_a_rescheduled_batch_sensor_lists_only_when_due_or_told(local_service, flow_definition_arn, output_bucket,
                                                                events_queue, calls):
    """The batch sensor in reschedule mode: a new instance a poke reads the manifests each time, and lists the loops
    only on the first poke and when their events came."""
    from tests.test_batch_wait import new_batch

    loops, manifest = new_batch(flow_definition_arn, output_bucket, 30)
    queue = events_queue["QueueUrl"]

    def poke(number: int) -> tuple[Any, Counter]:
        sensor = A2IHumanLoopBatchSensor(task_id="wait", manifest_uris=manifest,
                                         flow_definition_arn=flow_definition_arn, mode="reschedule",
                                         completion="events", events_queue_url=queue, poll_interval=1,
                                         reconcile_interval=HOUR, aws_conn_id=None)
        result: list = []
        thread = threading.Thread(target=lambda: result.append(sensor.poke({"task_reschedule_count": number})),
                                  name=f"batch-reschedule-{number}")
        thread.start()
        thread.join(60)
        return result[0], calls.of(thread.name)

    first, made = poke(0)
    assert not first.is_done and made["ListHumanLoops"] == 1
    second, made = poke(1)
    assert not second.is_done and calls.a2i("batch-reschedule-1") == 0 and made["ReceiveMessage"] == 1
    answer(local_service, list(loops.values()))
    until(lambda: visible_messages(queue) >= 1, "the loops' events")
    third, made = poke(2)
    assert third.is_done and made["ListHumanLoops"] == 1, made
    assert third.xcom_value["counts"] == {"Completed": 30}
