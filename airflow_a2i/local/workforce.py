"""A simulated workforce: answers loops by itself after a delay, or lets them fail or expire.

A policy per flow definition says how long workers take, how answers are made (echo the input's
initial values, a fixed answer, or a registered Python callable), how often loops fail or expire, all
deterministic under a seed. Plans live in the store, so a restarted service keeps its promises. An answer a person
holds in the worker portal (they opened the task) is left to them: the plan waits until they answer or let it go.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from airflow_a2i.local.errors import ServiceError
from airflow_a2i.local.outputs import local_worker_metadata
from airflow_a2i.local.runtime import A2IRuntime
from airflow_a2i.local.store import HumanLoop, NamedResource, Store
from airflow_a2i.local.strict_json import finite_float, shown
from airflow_a2i.preflight import PUBLIC_WORKFORCE

log = logging.getLogger(__name__)

# Due plans carried out in one store transaction: many loops a commit, while a request waits at most this many
# loops' work for the store.
TICK_BATCH = 100
PLAN_BATCH = 1000  # plans written in one transaction when a policy arrives for many open loops

ANSWER_MODES = ("echo", "fixed", "callable")
CALLABLE_ENTRY_POINT_GROUP = "airflow_a2i.workforce_answers"

# answer(task_input, context) -> answerContent; context has humanLoopName, flowDefinitionArn,
# workerIndex, workerId and a seeded random.Random.
AnswerCallable = Callable[[dict, dict], dict]


def _bad(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


@dataclass(frozen=True)
class WorkforcePolicy:
    min_delay: float = 1.0
    max_delay: float = 3.0
    answer_mode: str = "echo"
    fixed_answer: dict | None = None
    callable_name: str | None = None
    failure_rate: float = 0.0
    expiry_rate: float = 0.0
    seed: int | None = None  # None: the service's --seed

    @classmethod
    def from_json(cls, body: dict, callables: dict[str, AnswerCallable]) -> WorkforcePolicy:
        """Build and check a policy from its JSON form; errors say what to change."""
        known = {"delaySeconds", "answer", "failureRate", "expiryRate", "seed"}
        unknown = set(body) - known
        if unknown:
            raise _bad(f"Unknown workforce policy field(s) {sorted(unknown)}; use {sorted(known)}")
        delay = body.get("delaySeconds", [1.0, 3.0])
        if (not isinstance(delay, list) or len(delay) != 2 or any(finite_float(d) is None for d in delay)
                or not 0 <= delay[0] <= delay[1]):
            raise _bad(f"delaySeconds must be [min, max] with 0 <= min <= max, not {shown(delay)}")
        answer = body.get("answer", {"mode": "echo"})
        if not isinstance(answer, dict) or answer.get("mode") not in ANSWER_MODES:
            raise _bad(f"answer must be {{\"mode\": one of {list(ANSWER_MODES)}, ...}}, not {answer!r}")
        fixed = answer.get("answer")
        if answer["mode"] == "fixed" and not isinstance(fixed, dict):
            raise _bad("A fixed answer needs {\"mode\": \"fixed\", \"answer\": {...the answerContent...}}")
        name = answer.get("name")
        if answer["mode"] == "callable" and (not isinstance(name, str) or name not in callables):
            registered = ", ".join(sorted(callables)) or "none"
            raise _bad(f"No answer callable named {name!r} is registered (registered: {registered}); register it "
                       f"with 'airflow-a2i local serve --answer-callable NAME=module:function' or the "
                       f"'{CALLABLE_ENTRY_POINT_GROUP}' entry point")
        rates = {key: body.get(key, 0.0) for key in ("failureRate", "expiryRate")}
        for key, rate in rates.items():
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise _bad(f"{key} must be a number from 0 to 1, not {rate!r}")
        if rates["failureRate"] + rates["expiryRate"] > 1:
            raise _bad("failureRate + expiryRate must be at most 1")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise _bad(f"seed must be a whole number, not {seed!r}")
        return cls(float(delay[0]), float(delay[1]), answer["mode"], fixed if answer["mode"] == "fixed" else None,
                   name if answer["mode"] == "callable" else None, float(rates["failureRate"]),
                   float(rates["expiryRate"]), seed)

    def to_json(self) -> dict:
        answer: dict[str, Any] = {"mode": self.answer_mode}
        if self.fixed_answer is not None:
            answer["answer"] = self.fixed_answer
        if self.callable_name is not None:
            answer["name"] = self.callable_name
        body: dict[str, Any] = {"delaySeconds": [self.min_delay, self.max_delay], "answer": answer,
                                "failureRate": self.failure_rate, "expiryRate": self.expiry_rate}
        if self.seed is not None:
            body["seed"] = self.seed
        return body


@dataclass(frozen=True)
class Plan:
    """What the workforce will do with one loop: answer or fail at ``due``, or let it expire."""

    action: str  # "answer" | "fail" | "expire"
    due: float
    time_spent: list[float] = field(default_factory=list)


def worker_id(index: int) -> str:
    """Stable 16-hex-digit worker ids, like A2I's: worker N is the same person across loops."""
    return hashlib.sha256(f"simulated-worker-{index}".encode()).hexdigest()[:16]


def worker_subject(index: int) -> str:
    """The ``sub`` of simulated worker N in workerMetadata: a UUID like a Cognito user's, the same across loops."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow-a2i:simulated-worker-{index}"))


def echo_answer(task_input: dict) -> dict:
    """The answer of a worker who accepts what the task shows.

    Custom tasks: the input's ``initialValues``, or the input itself. Built-in tasks, in A2I's answer
    shape: Textract's selected key-value blocks as ``{"blocks": [...]}``, Rekognition's labels as
    ``{"moderationLabels": [{"name", "parentName"}]}``.
    """
    response = task_input.get("aiServiceResponse")
    if isinstance(response, dict) and "moderationLabels" in response:
        return {"moderationLabels": [{"name": label.get("name", ""), "parentName": label.get("parentName", "")}
                                     for label in response["moderationLabels"]]}
    if isinstance(response, dict) and "blocks" in response:
        selected = task_input.get("selectedAiServiceResponse") or response
        return {"blocks": list(selected.get("blocks", []))}
    initial = task_input.get("initialValues")
    return dict(initial) if isinstance(initial, dict) else dict(task_input)


def load_callable(spec: str) -> tuple[str, AnswerCallable]:
    """``NAME=module:function`` -> (NAME, function)."""
    name, _, target = spec.partition("=")
    module_name, _, attribute = target.partition(":")
    if not name or not module_name or not attribute:
        raise ValueError(f"--answer-callable {spec!r} is not NAME=module:function")
    function = getattr(importlib.import_module(module_name), attribute)
    if not callable(function):
        raise ValueError(f"--answer-callable {spec!r}: {target} is not callable")
    return name, function


def registered_callables(specs: list[str]) -> dict[str, AnswerCallable]:
    found: dict[str, AnswerCallable] = {}
    for entry_point in entry_points(group=CALLABLE_ENTRY_POINT_GROUP):
        try:
            found[entry_point.name] = entry_point.load()
        except Exception:  # one broken plugin must not stop the service
            log.exception("cannot load answer callable %s", entry_point.name)
    found.update(load_callable(spec) for spec in specs)
    return found


class SimulatedWorkforce:
    """Plans each new loop of a flow definition that has a policy (every one with ``auto``) and carries it out."""

    def __init__(self, store: Store, runtime: A2IRuntime, *, auto: bool = False, seed: int = 0,
                 default_policy: WorkforcePolicy | None = None,
                 callables: dict[str, AnswerCallable] | None = None) -> None:
        self.store = store
        self.runtime = runtime
        self.auto = auto
        self.seed = seed
        self.default_policy = default_policy or WorkforcePolicy()
        self.callables = callables or {}
        # Where the simulated workers sign in, as the portal's workers do (workerMetadata's issuer); set once the
        # service listens. None: its answers carry no workerMetadata.
        self.issuer: str | None = None
        self._memo = threading.local()  # the tick's reads of policies and flow definitions (see _remembering)
        runtime.start_listeners.append(self.plan_loop)

    # Policies ---------------------------------------------------------------------------------

    def set_policy(self, flow_definition_arn: str, body: dict | None) -> WorkforcePolicy | None:
        policy = None if body is None else WorkforcePolicy.from_json(body, self.callables)
        self.store.set_workforce_policy(flow_definition_arn, None if policy is None else policy.to_json())
        self.plan_open_loops(flow_definition_arn)
        return policy

    def policy_for(self, flow_definition_arn: str) -> WorkforcePolicy | None:
        return self._remembered(("policy", flow_definition_arn), lambda: self._policy_for(flow_definition_arn))

    def _policy_for(self, flow_definition_arn: str) -> WorkforcePolicy | None:
        stored = self.store.workforce_policies().get(flow_definition_arn)
        if stored is not None:
            return WorkforcePolicy.from_json(stored, self.callables) if self._callable_ok(stored) else None
        return self.default_policy if self.auto else None

    def _callable_ok(self, stored: dict) -> bool:
        name = stored.get("answer", {}).get("name")
        if stored.get("answer", {}).get("mode") == "callable" and name not in self.callables:
            log.warning("answer callable %r is no longer registered; its loops wait for people", name)
            return False
        return True

    def describe(self) -> dict:
        return {"mode": "auto" if self.auto else "off", "seed": self.seed,
                "defaultPolicy": self.default_policy.to_json(), "policies": self.store.workforce_policies(),
                "callables": sorted(self.callables)}

    # Planning ---------------------------------------------------------------------------------

    def plan(self, loop: HumanLoop, policy: WorkforcePolicy, task_count: int) -> Plan:
        """The same loop, policy and seed always give the same plan."""
        rng = self._random(loop, policy, "plan")
        delay = rng.uniform(policy.min_delay, policy.max_delay)
        draw = rng.random()
        spent = [round(delay * rng.uniform(0.3, 0.9), 3) for _ in range(task_count)]
        if draw < policy.failure_rate:
            return Plan("fail", loop.creation_time + delay)
        if draw < policy.failure_rate + policy.expiry_rate:
            return Plan("expire", loop.expires_at or loop.creation_time)
        return Plan("answer", loop.creation_time + delay, spent)

    def _random(self, loop: HumanLoop, policy: WorkforcePolicy, purpose: str) -> random.Random:
        seed = self.seed if policy.seed is None else policy.seed
        return random.Random(f"{seed}:{purpose}:{loop.flow_definition_arn}:{loop.name}:{loop.creation_time}")

    def plan_loop(self, loop: HumanLoop) -> bool:
        """Plan a loop whose flow definition has a policy; whether it did."""
        policy = self.policy_for(loop.flow_definition_arn)
        if policy is None:
            return False
        plan = self.plan(loop, policy, self._task_count(loop))
        self.store.add_plan(loop.id, plan.due, plan.action)
        return True

    def plan_open_loops(self, flow_definition_arn: str | None = None) -> int:
        """Plan loops that were started before their flow definition had a policy (or before a restart): all, or
        one flow definition's; the plans of many loops in one transaction."""
        planned = 0
        with self._remembering():
            loops = self.store.unplanned_open_loops(flow_definition_arn)
            for start in range(0, len(loops), PLAN_BATCH):
                with self.store.transaction():
                    planned += sum(self.plan_loop(loop) for loop in loops[start:start + PLAN_BATCH])
        return planned

    def _task_count(self, loop: HumanLoop) -> int:
        return int(self._flow(loop).body["HumanLoopConfig"]["TaskCount"])

    def _workteam(self, loop: HumanLoop) -> str:
        return str(self._flow(loop).body["HumanLoopConfig"]["WorkteamArn"])

    def _flow(self, loop: HumanLoop) -> NamedResource:
        return self._remembered((loop.region, loop.flow_definition_arn),
                                lambda: self.runtime.flow_definition(loop.region, loop.flow_definition_arn))

    # Carrying plans out -----------------------------------------------------------------------

    def tick(self, now: float | None = None) -> int:
        """Carry out every plan that is due, :data:`TICK_BATCH` loops to a store transaction whose status changes
        are announced together; returns how many loops it finished or failed."""
        now = time.time() if now is None else now
        done = 0
        after: tuple[float, int] | None = None
        with self._remembering():
            while plans := self.store.due_plans(now, after=after, limit=TICK_BATCH):
                after = (plans[-1][2], plans[-1][0])  # plans left waiting are not met again in this tick
                loops = self.store.loops_by_id([loop_id for loop_id, _, _ in plans])
                with self.runtime.batch():
                    done += sum(self._carry_out_plan(loops.get(loop_id), loop_id, action, now)
                                for loop_id, action, _ in plans)
        return done

    def _carry_out_plan(self, loop: HumanLoop | None, loop_id: int, action: str, now: float) -> int:
        """One due plan, in a savepoint of the tick's transaction: 1 when it finished or failed its loop."""
        if loop is None or loop.deleted or loop.status != "InProgress":
            self.store.drop_plan(loop_id)
            return 0
        if action == "expire":
            return 0  # the runtime's expiry fails it; the plan goes once the loop has moved on
        try:
            with self.runtime.batch_step():
                waiting = self._carry_out(loop, action, now)
        except Exception:  # one loop's trouble must not undo the others' answers in this transaction
            log.exception("the simulated workforce could not carry out its plan for %s", loop.name)
            waiting = False
        if waiting:
            return 0
        self.store.drop_plan(loop_id)
        return 1

    @contextlib.contextmanager
    def _remembering(self) -> Iterator[None]:
        """Policies and flow definitions read once per tick, not once per loop."""
        self._memo.cache = {}
        try:
            yield
        finally:
            self._memo.cache = None

    def _remembered(self, key: tuple[str, str], compute: Callable[[], Any]) -> Any:
        cache = getattr(self._memo, "cache", None)
        if cache is None:
            return compute()
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def _carry_out(self, loop: HumanLoop, action: str, now: float) -> bool:
        """Do the plan's action; True when part of it waits: answers that people in the portal hold (the plan stays
        and is tried again at the next tick, until they answer, release the task or their hold ends)."""
        policy = self.policy_for(loop.flow_definition_arn)
        if policy is None:
            return False
        if action == "fail":
            self.runtime.fail(loop, "InternalError", "The simulated workforce failed this loop (failureRate)")
            return False
        task_count = self._task_count(loop)
        plan = self.plan(loop, policy, task_count)
        private = PUBLIC_WORKFORCE not in self._workteam(loop)  # A2I writes workerMetadata for private ones only
        task_input = json.loads(loop.input_content)
        answers = self.store.answers(loop.id)
        answered = {answer.worker_id for answer in answers}
        held = self.store.held_count(loop.id, now)
        free = task_count - len(answers) - held  # answers nobody gave nor holds: the simulated workers' to give
        for index in range(task_count):
            worker = worker_id(index)
            if worker in answered:
                continue
            if free <= 0:
                return held > 0
            free -= 1
            try:
                content = self._answer(policy, loop, task_input, index, worker)
            except Exception as error:  # a user's callable: fail the loop, say why, keep serving
                log.exception("answer callable failed for %s", loop.name)
                self.runtime.fail(loop, "InternalError", f"The simulated workforce's answer callable "
                                  f"{policy.callable_name!r} failed: {error!r}")
                return False
            metadata = local_worker_metadata(self.issuer, worker_subject(index)) if private and self.issuer else None
            try:
                self.runtime.answer(loop.region, loop.name, content, worker, time_spent=plan.time_spent[index],
                                    worker_metadata=metadata)
            except ServiceError as error:  # the loop moved on meanwhile (stopped, answered by a person)
                log.info("simulated answer to %s not taken: %s", loop.name, error.message)
                return False
        return held > 0

    def _answer(self, policy: WorkforcePolicy, loop: HumanLoop, task_input: dict, index: int, worker: str) -> dict:
        if policy.answer_mode == "fixed":
            return dict(policy.fixed_answer or {})
        if policy.answer_mode == "echo":
            return echo_answer(task_input)
        function = self.callables[policy.callable_name or ""]
        context = {"humanLoopName": loop.name, "flowDefinitionArn": loop.flow_definition_arn,
                   "workerIndex": index, "workerId": worker, "random": self._random(loop, policy, f"answer-{index}")}
        answer = function(task_input, context)
        if not isinstance(answer, dict):
            raise TypeError(f"it returned {type(answer).__name__}, not a dict (the answerContent)")
        return answer
