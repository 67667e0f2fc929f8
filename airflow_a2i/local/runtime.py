"""The A2I runtime (``sagemaker-a2i-runtime``): StartHumanLoop, Describe, List, Stop and Delete.

The loop status machine is A2I's: InProgress -> Completed | Failed | Stopping -> Stopped, and a loop
can be deleted only once it is Completed, Failed or Stopped.
"""

from __future__ import annotations

import base64
import contextlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import botocore.session

from airflow_a2i.local import outputs, strict_json
from airflow_a2i.local.errors import ServiceError, validation_error
from airflow_a2i.local.s3 import ACCOUNT_ID
from airflow_a2i.local.store import Answer, HumanLoop, NamedResource, Store
from airflow_a2i.model_validation import summarize, validate_input

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
FLOW_DEFINITION_ARN = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12}):flow-definition/(?P<name>.*)"
)
FLOW_DEFINITION_NAME = re.compile(r"[a-z0-9](-*[a-z0-9]){0,62}")
DEFAULT_MAX_RESULTS = 100
# A2I's default and maximum: a task nobody finishes within this many seconds expires.
DEFAULT_TASK_AVAILABILITY_SECONDS = 864_000

_MODEL = botocore.session.get_session().get_service_model("sagemaker-a2i-runtime")

StatusListener = Callable[[HumanLoop], object]
FinishedListener = Callable[[list[HumanLoop]], None]


def check_model(operation: str, params: dict) -> None:
    problems = validate_input(_MODEL.operation_model(operation), params)
    if problems:
        raise validation_error(summarize(problems))


def loop_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:human-loop/{name}"


def parse_timestamp(value: Any, field: str) -> float:
    """A timestamp from a query string or a JSON body: ISO 8601 (botocore's choice) or finite epoch seconds."""
    seconds = _timestamp_text(value) if isinstance(value, str) else strict_json.finite_float(value)
    if seconds is None or not math.isfinite(seconds):
        raise validation_error(
            f"Value {strict_json.shown(value)} at '{field[:1].lower() + field[1:]}' is not a timestamp: "
            "use ISO 8601 (2026-11-25T12:00:00Z) or finite epoch seconds"
        )
    return seconds


def _timestamp_text(text: str) -> float | None:
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):  # OverflowError: a date beyond the platform's epoch range
        return None


class A2IRuntime:
    """The runtime operations on the store.

    ``start_listeners`` hear of every loop created; ``listeners`` of loops that reached a final status (one at a
    time, or all of a :meth:`batch` at once once it is committed).
    """

    def __init__(self, store: Store, *, stop_delay: float = 1.0, max_open_loops: int | None = None) -> None:
        self.store = store
        self.stop_delay = stop_delay
        self.max_open_loops = max_open_loops
        self.listeners: list[FinishedListener] = []
        self.start_listeners: list[StatusListener] = []
        self._advance_lock = threading.Lock()
        self._batch_thread: int | None = None
        self._finished_in_batch: list[HumanLoop] = []

    # StartHumanLoop ---------------------------------------------------------------------------

    def start_human_loop(self, region: str, params: dict) -> dict:
        check_model("StartHumanLoop", params)
        name = params["HumanLoopName"]
        flow_arn = params["FlowDefinitionArn"]
        input_content = params["HumanLoopInput"]["InputContent"]
        check_input_content(input_content)
        flow = self.flow_definition(region, flow_arn, missing=validation_error)
        with self.store.transaction() as db:
            existing = self.store.get_loop(region, name)
            if existing is not None:
                return {"HumanLoopArn": self._adopt_or_conflict(existing, flow_arn, input_content)}
            self.check_quota(db, region, "ServiceQuotaExceededException")
            arn = self.insert_loop(db, region, name, flow, input_content, params.get("DataAttributes"))
        self.announce_start(region, name)
        return {"HumanLoopArn": arn}

    def check_quota(self, db, region: str, error_code: str) -> None:
        """Refuse a new loop beyond ``max_open_loops`` with the calling API's own error code."""
        limit = self.max_open_loops
        if limit is not None and self.store.count_open_loops(db, region, up_to=limit) >= limit:
            raise ServiceError(error_code, f"You have reached the maximum of {self.max_open_loops} human loops in "
                               f"progress in {region}; wait for some to finish, or stop them, and try again")

    def insert_loop(self, db, region: str, name: str, flow: NamedResource, input_content: str,
                    data_attributes: dict | None) -> str:
        """Create an InProgress loop inside the caller's transaction; returns its ARN."""
        # `or`: a flow definition stored before null members were dropped may hold null here
        lifetime = flow.body["HumanLoopConfig"].get("TaskAvailabilityLifetimeInSeconds") \
            or DEFAULT_TASK_AVAILABILITY_SECONDS
        arn = loop_arn(region, name)
        created = round(time.time(), 3)
        self.store.insert_loop(db, {
            "region": region, "name": name, "arn": arn, "flow_definition_arn": flow.arn,
            "input_content": input_content, "data_attributes": data_attributes,
            "status": "InProgress", "creation_time": created, "expires_at": created + lifetime,
        })
        return arn

    def announce_start(self, region: str, name: str) -> None:
        new_loop = self._existing_loop(region, name)
        for listener in self.start_listeners:
            listener(new_loop)

    @staticmethod
    def _adopt_or_conflict(existing: HumanLoop, flow_arn: str, input_content: str) -> str:
        # UNCONFIRMED AWS behaviour, chosen reading: the same name, flow definition and input again
        # is a client's retry of a start whose response was lost, so it gets the existing loop's ARN
        # instead of an error. Anything else under a taken name is a ConflictException.
        if existing.flow_definition_arn == flow_arn and existing.input_content == input_content:
            return existing.arn
        what = "flow definition" if existing.flow_definition_arn != flow_arn else "input"
        raise ServiceError(
            "ConflictException",
            f"A human loop named '{existing.name}' already exists ({existing.status}) with a different "
            f"{what}; choose another HumanLoopName, or delete the existing loop once it has finished",
        )

    def flow_definition(self, region: str, arn: str,
                        missing: Callable[[str], ServiceError] = validation_error) -> NamedResource:
        """The flow definition an ARN names in this Region; ``missing`` builds the error when there is none."""
        match = FLOW_DEFINITION_ARN.fullmatch(arn)
        if match is None:  # the model check has already rejected it; this guards direct calls
            raise validation_error(f"'{arn}' is not a flow definition ARN")
        name = match["name"]
        if not FLOW_DEFINITION_NAME.fullmatch(name):
            raise validation_error(
                f"FlowDefinitionArn '{arn}' names flow definition '{name}', which is not a valid name: "
                "flow definition names have 1 to 63 lowercase letters, digits and hyphens"
            )
        if match["region"] != region:
            raise validation_error(
                f"FlowDefinitionArn '{arn}' is in Region '{match['region']}', but the request went to "
                f"Region '{region}': send it to the flow definition's Region"
            )
        flow = self.store.get_flow_definition(region, name)
        if flow is None or match["account"] != ACCOUNT_ID:
            raise missing(f"Flow definition '{arn}' does not exist; create it with CreateFlowDefinition first")
        return flow

    # DescribeHumanLoop, StopHumanLoop, DeleteHumanLoop -----------------------------------------

    def describe_human_loop(self, region: str, name: str) -> dict:
        check_model("DescribeHumanLoop", {"HumanLoopName": name})
        self.advance()
        loop = self._existing_loop(region, name)
        described: dict[str, Any] = {
            "CreationTime": loop.creation_time,
            "HumanLoopStatus": loop.status,
            "HumanLoopName": loop.name,
            "HumanLoopArn": loop.arn,
            "FlowDefinitionArn": loop.flow_definition_arn,
        }
        if loop.failure_code:
            described["FailureCode"] = loop.failure_code
        if loop.failure_reason:
            described["FailureReason"] = loop.failure_reason
        if loop.output_s3_uri and loop.status == "Completed":
            described["HumanLoopOutput"] = {"OutputS3Uri": loop.output_s3_uri}
        return described

    def stop_human_loop(self, region: str, params: dict) -> dict:
        check_model("StopHumanLoop", params)
        self.advance()
        with self.store.transaction() as db:
            loop = self._existing_loop(region, params["HumanLoopName"])
            if loop.status != "InProgress":
                raise validation_error(
                    f"Human loop '{loop.name}' is {loop.status}; only a loop that is InProgress can be stopped"
                )
            self.store.set_status(db, loop.id, "Stopping", time.time())
        return {}

    def delete_human_loop(self, region: str, name: str) -> dict:
        check_model("DeleteHumanLoop", {"HumanLoopName": name})
        self.advance()
        with self.store.transaction() as db:
            loop = self._existing_loop(region, name)
            if loop.status not in TERMINAL:
                raise validation_error(
                    f"Human loop '{loop.name}' is {loop.status}; only a Completed, Failed or Stopped loop can "
                    "be deleted: stop it first and wait until it is Stopped"
                )
            self.store.mark_deleted(db, loop.id)
        return {}

    def _existing_loop(self, region: str, name: str) -> HumanLoop:
        loop = self.store.get_loop(region, name)
        if loop is None:
            raise ServiceError("ResourceNotFoundException", f"Human loop '{name}' does not exist in {region}")
        return loop

    # ListHumanLoops ---------------------------------------------------------------------------

    def list_human_loops(self, region: str, query: dict) -> dict:
        params: dict[str, Any] = {key: value for key, value in query.items() if key in
                                  ("FlowDefinitionArn", "SortOrder", "NextToken")}
        if "MaxResults" in query:
            try:
                params["MaxResults"] = int(query["MaxResults"])
            except ValueError:
                raise validation_error(f"MaxResults '{query['MaxResults']}' is not a whole number") from None
        check_model("ListHumanLoops", params)
        self.advance()
        flow_arn = params["FlowDefinitionArn"]
        self.flow_definition(region, flow_arn, missing=lambda message: ServiceError("ResourceNotFoundException",
                                                                                    message))
        descending = params.get("SortOrder") == "Descending"
        limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
        start_after = decode_token(params["NextToken"], flow_arn, descending) if "NextToken" in params else None
        after = parse_timestamp(query["CreationTimeAfter"], "CreationTimeAfter") \
            if "CreationTimeAfter" in query else None
        before = parse_timestamp(query["CreationTimeBefore"], "CreationTimeBefore") \
            if "CreationTimeBefore" in query else None
        loops = self.store.list_loops(flow_arn, after=after, before=before, descending=descending,
                                      start_after=start_after, limit=limit + 1)
        page, more = loops[:limit], len(loops) > limit
        result: dict[str, Any] = {"HumanLoopSummaries": [summary(loop) for loop in page]}
        if more:
            result["NextToken"] = encode_token(page[-1], flow_arn, descending)
        return result

    # Answers (admin API) and status changes ------------------------------------------------------

    def answer(self, region: str | None, name: str, answer: dict, worker_id: str, *,
               time_spent: float = 0.0, worker_metadata: dict | None = None,
               acceptance_time: float | None = None) -> HumanLoop:
        """Record one worker's answer; with all TaskCount answers in, complete the loop and write output.json.

        ``acceptance_time`` is when the worker took the task (the portal records it); by default the submission
        time less ``time_spent``.
        """
        loop = self._loop_for_answer(region, name)
        flow = self.flow_definition(loop.region, loop.flow_definition_arn)
        task_count = int(flow.body["HumanLoopConfig"]["TaskCount"])
        now = time.time()
        with self.store.transaction() as db:
            current = self._existing_loop(loop.region, name)
            if current.status != "InProgress":
                raise ServiceError("ConflictException", f"Human loop '{name}' is {current.status}; "
                                   "only a loop that is InProgress takes answers", 409)
            if any(given.worker_id == worker_id for given in self.store.answers(current.id, db)):
                raise ServiceError("ConflictException", f"Worker '{worker_id}' has already answered human loop "
                                   f"'{name}'; each of its TaskCount answers comes from a different worker", 409)
            accepted = now - time_spent if acceptance_time is None else acceptance_time
            self.store.add_answer(db, current.id, Answer(worker_id, keyed_by_source(flow, answer), accepted, now,
                                                         time_spent, outputs.aws_worker_metadata(worker_metadata)))
            answers = self.store.answers(current.id, db)
            if len(answers) >= task_count:
                self._complete(db, flow, current, answers, now)
        finished = self._existing_loop(loop.region, name)
        if finished.status in TERMINAL:
            self._notify(finished)
        return finished

    def _loop_for_answer(self, region: str | None, name: str) -> HumanLoop:
        if region:
            return self._existing_loop(region, name)
        found = self.store.find_loops_by_name(name)
        if not found:
            raise ServiceError("ResourceNotFoundException", f"Human loop '{name}' does not exist", 404)
        if len(found) > 1:
            regions = ", ".join(sorted(loop.region for loop in found))
            raise ServiceError("ConflictException", f"Human loops named '{name}' exist in several Regions "
                               f"({regions}); say which with --region", 409)
        return found[0]

    def _complete(self, db, flow: NamedResource, loop: HumanLoop, answers: list[Answer], now: float) -> None:
        uri = outputs.output_uri(flow, loop)
        try:
            outputs.write_output(uri, outputs.output_document(flow, loop, answers))
        except LookupError as error:
            self.store.set_status(db, loop.id, "Failed", now, failure_code="InternalError",
                                  failure_reason=f"Could not write the output: {error}")
            return
        self.store.set_status(db, loop.id, "Completed", now, output_s3_uri=uri)

    def fail(self, loop: HumanLoop, failure_code: str, failure_reason: str) -> HumanLoop | None:
        """Fail a loop that is still InProgress; returns it as it is now, or None when it had moved on."""
        with self.store.transaction() as db:
            current = self.store.get_loop(loop.region, loop.name)
            if current is None or current.id != loop.id or current.status != "InProgress":
                return None
            self.store.set_status(db, loop.id, "Failed", time.time(), failure_code=failure_code,
                                  failure_reason=failure_reason)
        failed = self._existing_loop(loop.region, loop.name)
        self._notify(failed)
        return failed

    def advance(self, now: float | None = None) -> None:
        """Move loops whose time has come on: Stopping -> Stopped after the stop delay; expiry."""
        now = time.time() if now is None else now
        with self._advance_lock:
            due = [loop for loop in self.store.loops_in_status("Stopping") if loop.status_time + self.stop_delay <= now]
            for loop in due:
                with self.store.transaction() as db:
                    self.store.set_status(db, loop.id, "Stopped", now)
                self._notify(self._existing_loop(loop.region, loop.name))
            for loop in self.store.expired_loops(now):
                lifetime = round((loop.expires_at or now) - loop.creation_time)
                self.fail(loop, "Expired", f"The human loop expired: no worker completed its task within the "
                          f"flow definition's TaskAvailabilityLifetimeInSeconds ({lifetime} s)")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Changes to many loops in one store transaction (each loop's own transactions become savepoints); the
        loops it finished are announced together once it is committed, and not at all when it fails."""
        with self.store.transaction():
            self._batch_thread, self._finished_in_batch = threading.get_ident(), []
            try:
                yield
            except BaseException:
                self._batch_thread, self._finished_in_batch = None, []
                raise
        finished, self._batch_thread, self._finished_in_batch = self._finished_in_batch, None, []
        self._announce(finished)

    @contextlib.contextmanager
    def batch_step(self) -> Iterator[None]:
        """A part of a :meth:`batch` that may fail alone: its changes (a savepoint) and the announcements it queued
        are undone together, the rest of the batch kept."""
        mark = len(self._finished_in_batch)
        try:
            with self.store.transaction():
                yield
        except BaseException:
            del self._finished_in_batch[mark:]
            raise

    def _notify(self, loop: HumanLoop) -> None:
        if self._batch_thread == threading.get_ident():
            self._finished_in_batch.append(loop)
        else:
            self._announce([loop])

    def _announce(self, loops: list[HumanLoop]) -> None:
        if loops:
            for listener in self.listeners:
                listener(loops)

    def rewrite_outputs(self) -> int:
        """Write the output.json of every finished loop again (S3 lives in memory); returns how many."""
        written = 0
        for loop in self.store.completed_loops_with_output():
            flow = self.store.get_flow_definition(loop.region, loop.flow_definition_arn.rsplit("/", 1)[1])
            if flow is None or loop.output_s3_uri is None:
                continue
            try:
                outputs.write_output(loop.output_s3_uri,
                                     outputs.output_document(flow, loop, self.store.answers(loop.id)))
                written += 1
            except LookupError:
                continue
        return written


def keyed_by_source(flow: NamedResource, answer: dict) -> dict:
    """Built-in loops' answers are keyed by their request source, as A2I writes them; wrap one that is not."""
    source = (flow.body.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
    if source is None or list(answer) == [source]:
        return answer
    return {source: answer}


def check_input_content(input_content: str) -> None:
    try:
        parsed = strict_json.loads(input_content)
    except ValueError as error:
        raise validation_error(
            f"HumanLoopInput.InputContent {error}; it must be a JSON object serialised as a string, such as "
            "'{\"prompt\": \"What is the answer?\"}'"
        ) from None
    if not isinstance(parsed, dict):
        raise validation_error(
            "HumanLoopInput.InputContent must be a JSON object (the task template reads its keys as "
            f"task.input.KEY), not a JSON {type(parsed).__name__}"
        )


def summary(loop: HumanLoop) -> dict:
    item: dict[str, Any] = {
        "HumanLoopName": loop.name,
        "HumanLoopStatus": loop.status,
        "CreationTime": loop.creation_time,
        "FlowDefinitionArn": loop.flow_definition_arn,
    }
    if loop.failure_reason:
        item["FailureReason"] = loop.failure_reason
    return item


def encode_token(last: HumanLoop, flow_arn: str, descending: bool) -> str:
    state = {"c": last.creation_time, "n": last.name, "f": flow_arn, "d": descending}
    return base64.urlsafe_b64encode(strict_json.dumps(state).encode()).decode()


def decode_token(token: str, flow_arn: str, descending: bool) -> tuple[float, str]:
    """The (creation time, name) a NextToken continues after; every member checked, as a client may craft it."""
    try:
        state = strict_json.loads(base64.urlsafe_b64decode(token.encode()))  # binascii.Error is a ValueError
    except ValueError:
        state = None
    creation_time = strict_json.finite_float(state.get("c")) if isinstance(state, dict) else None
    if (not isinstance(state, dict) or creation_time is None or not isinstance(state.get("n"), str)
            or not isinstance(state.get("f"), str) or not isinstance(state.get("d"), bool)):
        raise validation_error("NextToken is not a token this service returned; start again without it")
    if state["f"] != flow_arn or state["d"] != descending:
        raise validation_error("NextToken belongs to a listing with another FlowDefinitionArn or SortOrder; "
                               "pass the same ones as the request that returned it")
    return creation_time, state["n"]
