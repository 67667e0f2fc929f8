"""Append the results of finished human loops to S3 as they arrive: one JSON Lines object per loop, idempotent."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.operators.results import CHUNK_ITEMS, A2IHumanLoopResultsOperator
from airflow_a2i.results.items import ResultItem
from airflow_a2i.validation import is_templated, validate_flow_definition_arn

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Context, XComArg

# What A2I's status-change events announce, and what is appended: a loop that is Missing (deleted, or a name nobody
# started) has nothing to append.
FINISHED_STATES = frozenset({"Completed", "Failed", "Stopped"})
# What the results operator takes for a run's one results file, and this operator does not.
UNSUPPORTED_RESULTS_ARGUMENTS = frozenset({"output_s3_uri", "manifests", "delete_finished_loops", "results_asset",
                                           "output_lookup", "fail_on_missing_output"})
LOOPS_FOLDER = "loops"
LOOP_SUFFIX = ".jsonl"
DEFAULT_RECONCILE_LOOKBACK_HOURS = 240  # A2I's longest TaskAvailabilityLifetimeInSeconds (10 days): no loop is
# still open after that, so an older loop's end was seen by an earlier reconcile (with at most 10 days of pause)


def loop_result_key(prefix: str, human_loop_name: str) -> str:
    """Where a loop's line goes: one object per loop, so writing it again (a duplicate event, a rerun, a reconcile
    meeting an event) replaces it with the same line instead of appending a second."""
    return f"{prefix}/{LOOPS_FOLDER}/{human_loop_name}{LOOP_SUFFIX}"


class A2IAppendHumanLoopResultsOperator(A2IHumanLoopResultsOperator):
    """
    Append the results of finished loops to ``<results_s3_uri>/loops/<human loop name>.jsonl``: one object per loop,
    holding the loop's line as :class:`~airflow_a2i.operators.results.A2IHumanLoopResultsOperator` writes it (same
    columns). Read the results as JSON Lines under ``<results_s3_uri>/loops/`` (Athena, Spark, ``aws s3 cp
    --recursive``).

    Which loops: ``human_loops``; by default those named in the run's triggering asset events (what the watcher of
    :func:`airflow_a2i.watching.status_change_watcher` announces); with ``reconcile_flow_definition_arn``, also every
    finished loop of that flow definition created in the last ``reconcile_lookback_hours`` (``ListHumanLoops``,
    100 loops a call), which catches the loops whose events were lost.

    Events are hints: each loop not appended yet is described (``DescribeHumanLoop``) and appended only when A2I
    says it is Completed (with a readable output.json), Failed or Stopped; a loop still open, or unknown, is left for
    a later event or reconcile. A loop already appended is skipped without a describe (one ``HeadObject``, or, when
    reconciling, one listing of the results), so a message seen twice, a rerun of the run, or a reconcile that meets
    an event appends nothing twice; two tasks writing the same loop at once write the same object.

    :param results_s3_uri: ``s3://bucket/prefix`` of the results (the same for every run: they accumulate there).
        (templated)
    :param human_loops: the loop names (or anything the results operator takes as ``human_loops``); default None:
        the loops of the run's triggering asset events. (templated)
    :param reconcile_flow_definition_arn: also append every finished loop of this flow definition that is not
        appended yet. (templated)
    :param reconcile_lookback_hours: how far back the reconcile lists loops by creation time. (default 240: A2I's
        longest task availability, ten days)
    :param fail_on_unreadable_output: fail the task, after appending the rest, when a Completed loop's output.json
        cannot be read (it is not appended, so that a retry or a reconcile appends it once readable). (default True)
    :return: ``{"results_uri", "appended", "already_appended", "not_finished", "unreadable", "loops"}``: counts, and
        ``loops`` the number of candidate loops.
    """

    template_fields: Sequence[str] = (*A2IHumanLoopResultsOperator.template_fields, "results_s3_uri",
                                      "reconcile_flow_definition_arn")
    ui_color = "#d8ecff"
    output_uri_argument = "results_s3_uri"

    def __init__(self, *, results_s3_uri: str, human_loops: Sequence[str | Mapping[str, Any]] | str | XComArg | None
                 = None, reconcile_flow_definition_arn: str | None = None,
                 reconcile_lookback_hours: float = DEFAULT_RECONCILE_LOOKBACK_HOURS,
                 fail_on_unreadable_output: bool = True, **kwargs: Any) -> None:
        unsupported = sorted(set(kwargs) & UNSUPPORTED_RESULTS_ARGUMENTS)
        if unsupported:
            raise A2IValidationError(f"{unsupported} are A2IHumanLoopResultsOperator's, not this operator's: it "
                                     "appends one object per loop under results_s3_uri, from human_loops, the run's "
                                     "asset events or reconcile_flow_definition_arn")
        # The results operator's reading, with an empty list standing for "from the asset events" until run time.
        super().__init__(output_s3_uri=results_s3_uri, human_loops=[] if human_loops is None else human_loops,
                         **kwargs)
        self.from_asset_events = human_loops is None
        self.results_s3_uri = results_s3_uri
        self.reconcile_flow_definition_arn = reconcile_flow_definition_arn
        if isinstance(reconcile_lookback_hours, bool) or not isinstance(reconcile_lookback_hours, int | float) \
                or reconcile_lookback_hours <= 0:
            raise A2IValidationError(f"reconcile_lookback_hours={reconcile_lookback_hours!r} must be a positive number "
                                     "of hours")
        self.reconcile_lookback_hours = reconcile_lookback_hours
        self.fail_on_unreadable_output = fail_on_unreadable_output
        if reconcile_flow_definition_arn and not is_templated(reconcile_flow_definition_arn):
            validate_flow_definition_arn(reconcile_flow_definition_arn)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_a2i.batching import Progress
        from airflow_a2i.watching import finished_loop_names

        self.output_s3_uri = self.results_s3_uri
        items, uri = self._rendered_inputs()
        bucket, prefix = uri
        if self.from_asset_events:
            items = [ResultItem(name, name) for name in finished_loop_names(_triggering_asset_events(context))]
        if self.reconcile_flow_definition_arn:
            items += self._finished_in_a2i(validate_flow_definition_arn(self.reconcile_flow_definition_arn))
        first: dict[str, ResultItem] = {}  # one item per loop: the first that names it (its item key)
        for item in items:
            if item.human_loop_name:
                first.setdefault(item.human_loop_name, item)
        candidates = list(first.values())
        s3 = self.s3_hook
        appended = self._appended(s3, bucket, prefix, [str(item.human_loop_name) for item in candidates])
        new = [item for item in candidates if item.human_loop_name not in appended]
        self.log.info("%d loop(s) named, %d already appended: describing and reading %d", len(candidates),
                      len(candidates) - len(new), len(new))
        progress = Progress(len(new), self.log, "human loops read")
        s3.get_conn(), self.hook.conn  # the (thread-safe) clients, made once before the pool uses them
        counts = {"appended": 0, "not_finished": 0, "unreadable": 0}
        unreadable: list[str] = []
        for start in range(0, len(new), CHUNK_ITEMS):
            for row in self._chunk_rows(new[start:start + CHUNK_ITEMS], s3, {}, progress):
                outcome = self._append(s3, bucket, prefix, row)
                counts[outcome] += 1
                if outcome == "unreadable":
                    unreadable.append(f"{row['human_loop_name']} ({row['output_error']})")
        progress.report()
        results_uri = f"s3://{bucket}/{prefix}/{LOOPS_FOLDER}/"
        self.log.info("Appended %d loop(s) to %s; %d already there, %d not finished (stale or early hints), %d "
                      "without a readable output", counts["appended"], results_uri, len(candidates) - len(new),
                      counts["not_finished"], counts["unreadable"])
        if unreadable and self.fail_on_unreadable_output:
            raise AirflowException(f"{len(unreadable)} Completed loop(s) have no readable output.json yet and were not "
                                   f"appended (a retry or the reconcile appends them): {'; '.join(unreadable[:20])}")
        return {"results_uri": results_uri, **counts, "already_appended": len(candidates) - len(new),
                "loops": len(candidates)}

    def _append(self, s3: S3Hook, bucket: str, prefix: str, row: dict[str, Any]) -> str:
        """Write one loop's line when A2I says it is finished; what happened to it."""
        if row["status"] not in FINISHED_STATES:  # an early, stale or foreign hint: a later event or reconcile
            self.log.info("Human loop %s is %s: not appended", row["human_loop_name"], row["status"])
            return "not_finished"
        if row["status"] == "Completed" and row["answers"] is None:
            return "unreadable"
        s3.get_conn().put_object(Bucket=bucket, Key=loop_result_key(prefix, row["human_loop_name"]),
                                 Body=(json.dumps(row, ensure_ascii=False) + "\n").encode(),
                                 ContentType="application/x-ndjson")
        return "appended"

    def _appended(self, s3: S3Hook, bucket: str, prefix: str, names: list[str]) -> set[str]:
        """The loops among ``names`` whose line is in S3: one listing of the results when reconciling (⌈appended /
        1,000⌉ calls), else one HeadObject per loop (an event batch is a few loops)."""
        from airflow_a2i.batching import run_bounded

        if not names:
            return set()
        if self.reconcile_flow_definition_arn:
            folder = f"{prefix}/{LOOPS_FOLDER}/"
            keys = s3.list_keys(bucket_name=bucket, prefix=folder)
            present = {key[len(folder):-len(LOOP_SUFFIX)] for key in keys if key.endswith(LOOP_SUFFIX)}
            return present & set(names)

        def exists(name: str) -> bool:
            return s3.check_for_key(loop_result_key(prefix, name), bucket_name=bucket)

        return {name for name, there in zip(names, run_bounded(exists, names, self.max_concurrency), strict=True)
                if there}

    def _finished_in_a2i(self, flow_definition_arn: str) -> list[ResultItem]:
        """The flow definition's finished loops created within the lookback (A2I's listing, 100 a call)."""
        since = datetime.now(UTC) - timedelta(hours=self.reconcile_lookback_hours)
        finished = [summary["HumanLoopName"] for summary in self.hook.list_human_loops(flow_definition_arn,
                                                                                       created_after=since)
                    if summary["HumanLoopStatus"] in FINISHED_STATES]
        self.log.info("Reconcile: %d finished loop(s) of %s created since %s", len(finished), flow_definition_arn,
                      since.isoformat(timespec="seconds"))
        return [ResultItem(name, name) for name in finished]


def _triggering_asset_events(context: Context) -> object:
    """The run's triggering asset events (Airflow 3); none on a run not triggered by assets, or on Airflow 2."""
    getter = getattr(context, "get", None)
    return (getter("triggering_asset_events") if getter else None) or {}
