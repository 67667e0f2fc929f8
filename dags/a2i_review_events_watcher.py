"""Finished human loops appended to the results as they arrive (Airflow 3's asset watchers), plus an hourly reconcile.

Two DAGs:

- ``a2i_review_events_watcher`` (Airflow 3): scheduled on the asset ``a2i_finished_human_loops``, which an
  ``AssetWatcher`` fills from an SQS queue of A2I's status-change events (the Amazon provider's ``SqsSensorTrigger``
  on the triggerer: each receive of up to 10 messages becomes one asset event). Each run takes the loop names of
  its triggering asset events, confirms each loop with ``DescribeHumanLoop`` (events are hints), reads the outputs
  of the finished ones and writes each loop's line to ``<results_s3_uri>/loops/<loop name>.jsonl``.
- ``a2i_review_events_reconcile`` (every Airflow line; the only one on Airflow 2, which has no asset watchers):
  every hour, lists the flow definition's loops of the last ten days and appends the finished ones not appended
  yet. It is what catches the events that never arrive.

What it guarantees:

- **At most one line per loop, whatever arrives twice.** A loop's line is one object named after the loop: a
  loop already appended is skipped (one HeadObject), and two runs writing it at once write the same object. A
  message SQS or A2I delivers twice, a run cleared and run again, and the reconcile meeting an event append
  nothing twice.
- **A line only for a finished loop.** The run describes each loop; an early, stale or forged event of an open
  loop appends nothing (the loop's own end will). A Completed loop whose output.json cannot be read yet is not
  appended and fails the task after the others are written; its retries, or the reconcile, append it.
- **Paused DAG: events wait in SQS, not in Airflow.** Pausing takes the watcher off the triggerer at the next
  parse of this file (Airflow keeps watchers only for assets that an unpaused DAG is scheduled on); messages
  then stay in the queue for its retention period (``message_retention_seconds``, one day by default: raise it
  to cover the pauses you expect, up to 14 days). Unpaused, the watcher starts again at the next parse and takes
  the backlog, batch by batch. What the watcher took between the pause and that parse became asset events while
  the DAG was paused: Airflow queues no run for them, but the first run after the pause takes them with its own
  (a run takes every event of its asset since the previous run), once a new event comes (apache/airflow#49857).
  A batch received just as the watcher is removed can be dropped by Airflow (its trigger is gone when the event
  arrives) after SQS deleted it, and messages older than the retention are dropped by SQS: the reconcile appends
  those loops.
- **Many events, few runs.** Events that arrive while a run is going (``max_active_runs=1``) are taken together
  by the next run: a run appends a batch of any size.
- **Triggerer restart.** ``SqsSensorTrigger`` deletes messages when it receives them, before Airflow has stored
  the asset event: a triggerer that dies in between loses that batch (at most 10 messages), and a run that fails
  for good loses its batch too. The hourly reconcile appends those loops; nothing is appended twice.
- **Give the watcher a queue of its own** (``A2IEventsHook.create_status_change_queue`` with its own name): its
  trigger deletes every message it receives, so on a queue shared with ``completion="events"`` waits it would take
  their events. EventBridge delivers each event to every matching rule's target: both queues get every event.

Configuration, read when the file is parsed (the trigger's arguments are fixed then): ``A2I_WATCHER_QUEUE_URL``
(the watcher's queue; without it the watcher DAG is not defined, and the file logs why),
``A2I_WATCHER_RESULTS_S3_URI`` (where the results accumulate) and ``A2I_WATCHER_FLOW_DEFINITION_ARN`` (the flow
definition whose loops the reconcile lists; the defaults of the DAGs' params).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

# Airflow's DAG processor imports the airflow.* modules a DAG file names once (see a2i_custom_review.py).
import airflow.providers.amazon.aws.links.base_aws
import airflow.providers.amazon.aws.operators.base_aws
import airflow.providers.amazon.aws.triggers.sqs  # noqa: F401  (the watcher's trigger)
import pendulum
from airflow.providers.common.compat.sdk import DAG, Asset, Param

from airflow_a2i.operators.appended_results import A2IAppendHumanLoopResultsOperator
from airflow_a2i.watching import status_change_watcher

log = logging.getLogger(__name__)

QUEUE_URL = os.environ.get("A2I_WATCHER_QUEUE_URL", "")
PARAMS = {
    "results_s3_uri": Param(os.environ.get("A2I_WATCHER_RESULTS_S3_URI", ""), type="string",
                            description="s3://bucket/prefix where the loops' lines accumulate (loops/<name>.jsonl)"),
    "flow_definition_arn": Param(os.environ.get("A2I_WATCHER_FLOW_DEFINITION_ARN", ""), type="string",
                                 description="the flow definition whose finished loops the reconcile appends"),
}
DEFAULTS = {"retries": 2, "retry_delay": timedelta(seconds=30)}

watcher = status_change_watcher(QUEUE_URL, name="a2i_status_change_queue") if QUEUE_URL else None
if watcher is None:
    log.info("a2i_review_events_watcher is not defined: %s; a2i_review_events_reconcile appends the finished loops "
             "every hour", "set A2I_WATCHER_QUEUE_URL to the watcher's SQS queue" if QUEUE_URL == ""
             else "this Airflow has no asset watchers (Airflow 3 has)")
else:
    # The asset stands for "loops have finished": its events come only from the watcher.
    FINISHED_LOOPS = Asset(name="a2i_finished_human_loops", uri=QUEUE_URL, watchers=[watcher])

    with DAG(
        dag_id="a2i_review_events_watcher",
        description="Append finished A2I loops' results as their status-change events arrive (SQS asset watcher)",
        schedule=[FINISHED_LOOPS],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # events arriving meanwhile go to the next run, together
        tags=["a2i", "human-review", "events"],
        params=PARAMS,
        default_args=DEFAULTS,
    ) as dag:
        A2IAppendHumanLoopResultsOperator(task_id="append_results", results_s3_uri="{{ params.results_s3_uri }}")

with DAG(
    dag_id="a2i_review_events_reconcile",
    description="Append the finished A2I loops whose status-change events were lost (hourly listing)",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["a2i", "human-review", "events"],
    params=PARAMS,
    default_args=DEFAULTS,
) as reconcile_dag:
    A2IAppendHumanLoopResultsOperator(task_id="reconcile", results_s3_uri="{{ params.results_s3_uri }}",
                                      human_loops=[], reconcile_flow_definition_arn="{{ params.flow_definition_arn }}")
