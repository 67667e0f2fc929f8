"""Evaluation of parsed conditions on a Textract or Rekognition response, as A2I does."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_a2i.activation.model import (
    ACTIVATION_REASON,
    KEY_VALUE_BLOCK,
    REQUEST_SOURCES,
    TEXTRACT,
    ActivationConditionError,
    Condition,
    Conditions,
    LogicalCondition,
    SimpleCondition,
    _collapse,
)
from airflow_a2i.activation.parse import _kind, parse_conditions
from airflow_a2i.exceptions import A2IValidationError


@dataclass
class ActivationResult:
    """What A2I decides and writes for one AI service response."""

    activated: bool
    reasons: list[str]
    condition_results: dict[str, Any]
    selected_response: dict[str, Any]
    important_form_keys: list[dict[str, Any]] | None = None
    top_level_results: list[bool] = field(default_factory=list)

    def activation_output(self, human_loop_arn: str | None = None) -> dict[str, Any] | None:
        """The ``HumanLoopActivationOutput`` of a Textract/Rekognition response, or None when no loop starts."""
        if not self.activated:
            return None
        output: dict[str, Any] = {"HumanLoopActivationReasons": list(self.reasons),
                                  "HumanLoopActivationConditionsEvaluationResults":
                                      json.dumps(self.condition_results, separators=(",", ":"))}
        if human_loop_arn is not None:
            output["HumanLoopArn"] = human_loop_arn
        return output


class _All:
    """Selection of everything (Sampling)."""


_ALL = _All()
Selection = _All | frozenset


def evaluate(conditions: Conditions, response: Mapping[str, Any], *, request: Mapping[str, Any] | None = None,
             human_loop_name: str | None = None) -> ActivationResult:
    """Evaluate parsed conditions on a Textract AnalyzeDocument / Rekognition DetectModerationLabels response.

    ``request`` (the AI service request, PascalCase or A2I's camelCase) and ``human_loop_name`` seed Sampling;
    without them the response itself does.
    """
    if not isinstance(response, Mapping):
        raise A2IValidationError(f"the response must be a JSON object, not {_kind(response)}")
    view: _TextractView | _RekognitionView
    view = _TextractView(response) if conditions.request_source == TEXTRACT else _RekognitionView(response)
    draw = sampling_draw(request, human_loop_name, response)
    evaluator = _Evaluator(view, draw)
    outcomes = [evaluator.evaluate(item) for item in conditions.items]
    activated = any(outcome for outcome, _, _ in outcomes)
    selection = _union([selected for outcome, selected, _ in outcomes if outcome])
    keys: list[dict[str, Any]] | None = None
    if conditions.request_source == TEXTRACT:
        keys = _important_form_keys([item for item, (outcome, _, _) in zip(conditions.items, outcomes, strict=True)
                                     if outcome], evaluator.results)
    return ActivationResult(
        activated=activated,
        reasons=[ACTIVATION_REASON] if activated else [],
        condition_results={"Conditions": [result for _, _, result in outcomes]},
        selected_response=view.select(selection if activated else frozenset()),
        important_form_keys=keys,
        top_level_results=[outcome for outcome, _, _ in outcomes],
    )


def evaluate_activation_conditions(activation_conditions: str | Mapping[str, Any], request_source: str,
                                   response: Mapping[str, Any], *, request: Mapping[str, Any] | None = None,
                                   human_loop_name: str | None = None) -> ActivationResult:
    """Evaluate a flow definition's ``HumanLoopActivationConditions`` (JSON string or parsed) on a response."""
    return evaluate(parse_conditions(activation_conditions, request_source), response, request=request,
                    human_loop_name=human_loop_name)


def conditions_of_flow_definition(flow_definition: Mapping[str, Any]) -> Conditions:
    """The conditions of a flow definition as CreateFlowDefinition takes it or DescribeFlowDefinition returns it."""
    source = (flow_definition.get("HumanLoopRequestSource") or {}).get("AwsManagedHumanLoopRequestSource")
    if source is None:
        raise ActivationConditionError("HumanLoopRequestSource", "is missing: activation conditions apply only to "
                                       "built-in task types", f"Give AwsManagedHumanLoopRequestSource, one of "
                                       f"{list(REQUEST_SOURCES)}")
    try:
        text = (flow_definition["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"]
                ["HumanLoopActivationConditions"])
    except (KeyError, TypeError):
        raise ActivationConditionError("HumanLoopActivationConfig", "is missing or incomplete",
                                       'Give {"HumanLoopActivationConditionsConfig": {"HumanLoopActivationConditions":'
                                       ' "{\\"Conditions\\": [...]}"}}') from None
    return parse_conditions(text, source)


def evaluate_flow_definition(flow_definition: Mapping[str, Any], response: Mapping[str, Any], *,
                             request: Mapping[str, Any] | None = None,
                             human_loop_name: str | None = None) -> ActivationResult:
    return evaluate(conditions_of_flow_definition(flow_definition), response, request=request,
                    human_loop_name=human_loop_name)


def sampling_draw(request: Mapping[str, Any] | None, human_loop_name: str | None,
                  response: Mapping[str, Any] | None = None) -> float:
    """The request's Sampling draw in [0, 100): the same document and loop name always draw the same number.

    The document is its S3 location (bucket, name, version) or a hash of its bytes; Textract's PascalCase request
    and A2I's camelCase ``aiServiceRequest`` give the same draw. Without a request, the response is hashed (in
    either spelling alike).
    """
    name = human_loop_name
    identity: Any = None
    if request is not None:
        lowered = _lower_keys(request)
        if name is None:
            name = (lowered.get("humanloopconfig") or {}).get("humanloopname")
        target = lowered.get("document") or lowered.get("image")
        if isinstance(target, dict) and isinstance(target.get("s3object"), dict):
            location = target["s3object"]
            identity = {"s3": [location.get("bucket"), location.get("name"), location.get("version")]}
        elif isinstance(target, dict) and target.get("bytes") is not None:
            content = target["bytes"]
            content = content if isinstance(content, bytes | bytearray) else str(content).encode()
            identity = {"bytes": hashlib.sha256(content).hexdigest()}
        else:
            rest = {key: value for key, value in lowered.items() if key != "humanloopconfig"}
            identity = {"request": _canonical(rest)}
    elif response is not None:
        identity = {"response": hashlib.sha256(_canonical(_lower_keys(response)).encode()).hexdigest()}
    digest = hashlib.sha256(_canonical({"document": identity, "humanLoopName": name}).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def _lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key).lower(): _lower_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lower_keys(item) for item in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _union(selections: Iterable[Selection]) -> Selection:
    chosen: set = set()
    for selection in selections:
        if isinstance(selection, _All):
            return _ALL
        chosen |= selection
    return frozenset(chosen)


class _Evaluator:
    def __init__(self, view: _TextractView | _RekognitionView, draw: float) -> None:
        self.view = view
        self.draw = draw
        self.results: dict[str, bool] = {}  # path -> EvaluationResult

    def evaluate(self, condition: Condition) -> tuple[bool, Selection, dict[str, Any]]:
        if isinstance(condition, LogicalCondition):
            outcomes = [self.evaluate(item) for item in condition.items]  # A2I evaluates every condition
            if condition.operator == "Or":
                outcome = any(result for result, _, _ in outcomes)
                selection = _union([selected for result, selected, _ in outcomes if result])
            else:
                outcome = all(result for result, _, _ in outcomes)
                gated = [selected for _, selected, _ in outcomes if not isinstance(selected, _All)]
                selection = (_union(gated) if gated else _ALL) if outcome else frozenset()
            self.results[condition.path] = outcome
            return outcome, selection, {"EvaluationResult": outcome,
                                        condition.operator: [result for _, _, result in outcomes]}
        selected: Selection
        if condition.condition_type == "Sampling":
            outcome = self.draw < condition.parameters["RandomSamplingPercentage"]
            selected = _ALL
        elif condition.condition_type == "MissingImportantFormKey":
            assert isinstance(self.view, _TextractView)
            outcome = not self.view.matching(condition.names)
            selected = frozenset()  # a missing key has no blocks to show; the task asks workers to find it
        else:
            selected = self.view.check(condition)
            outcome = bool(selected)
        self.results[condition.path] = outcome
        return outcome, selected, {"ConditionParameters": copy.deepcopy(condition.parameters),
                                   "ConditionType": condition.condition_type, "EvaluationResult": outcome}


def _important_form_keys(true_items: list[Condition], results: dict[str, bool]) -> list[dict[str, Any]]:
    """``humanLoopContext.importantFormKeys``: the keys of the Textract conditions that made the loop start."""
    keys: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(condition: Condition) -> None:
        if not results.get(condition.path):
            return
        if isinstance(condition, LogicalCondition):
            for item in condition.items:
                visit(item)
            return
        key = condition.parameters.get("ImportantFormKey")
        if not isinstance(key, str) or key == "*" or key in seen:
            return
        seen.add(key)
        aliases = [alias for alias in condition.parameters.get("ImportantFormKeyAliases", []) if alias != "*"]
        keys.append({"importantFormKey": key, "importantFormKeyAliases": aliases})

    for item in true_items:
        visit(item)
    return keys


class _Spelling:
    """Field names in the response's spelling: A2I's camelCase or the AI service API's PascalCase."""

    def __init__(self, pascal: bool) -> None:
        self.pascal = pascal

    def __call__(self, camel: str) -> str:
        return camel[0].upper() + camel[1:] if self.pascal else camel


@dataclass(eq=False)
class _Pair:
    key: dict[str, Any]
    text: str
    key_value_blocks: list[dict[str, Any]]
    words: list[dict[str, Any]]
    block_ids: set[str]


def _block_id(block: dict[str, Any], k: Any) -> str | None:
    """A block's id; None unless a string (a malformed response may hold anything there)."""
    found = block.get(k("id"))
    return found if isinstance(found, str) else None


class _TextractView:
    def __init__(self, response: Mapping[str, Any]) -> None:
        if "Blocks" in response:
            self.k = _Spelling(True)
        elif "blocks" in response:
            self.k = _Spelling(False)
        else:
            raise A2IValidationError("the response has no Blocks: give a Textract AnalyzeDocument response with "
                                     "FeatureTypes FORMS (Blocks, PascalCase) or A2I's aiServiceResponse (blocks)")
        blocks = response[self.k("blocks")]
        if not isinstance(blocks, list):
            raise A2IValidationError(f"the response's {self.k('blocks')} must be a list, not {_kind(blocks)}")
        k = self.k
        self.blocks = [block for block in blocks if isinstance(block, dict)]
        self.by_id = {block[k("id")]: block for block in self.blocks if isinstance(block.get(k("id")), str)}
        self.pairs = [self._pair(block) for block in self.blocks
                      if block.get(k("blockType")) == "KEY_VALUE_SET" and "KEY" in _list(block.get(k("entityTypes")))]

    def _related(self, block: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        k = self.k
        found = []
        for relationship in _list(block.get(k("relationships"))):
            if isinstance(relationship, dict) and relationship.get(k("type")) == kind:
                ids = [i for i in _list(relationship.get(k("ids"))) if isinstance(i, str)]
                found += [self.by_id[i] for i in ids if i in self.by_id]
        return found

    def _pair(self, key: dict[str, Any]) -> _Pair:
        k = self.k
        values = [block for block in self._related(key, "VALUE") if block.get(k("blockType")) == "KEY_VALUE_SET"]
        key_children = self._related(key, "CHILD")
        children = key_children + [child for value in values for child in self._related(value, "CHILD")]
        text = " ".join(str(word.get(k("text"), "")) for word in key_children if word.get(k("blockType")) == "WORD")
        words = [child for child in children if child.get(k("blockType")) == "WORD"]
        ids = {block[k("id")] for block in [key, *values, *children] if isinstance(block.get(k("id")), str)}
        return _Pair(key, _collapse(text), [key, *values], words, ids)

    def matching(self, names: tuple[str, ...]) -> list[int]:
        """The indexes of the pairs whose key is one of the names ("*": any key)."""
        return [index for index, pair in enumerate(self.pairs) if "*" in names or pair.text in names]

    def check(self, condition: SimpleCondition) -> frozenset:
        k = self.k
        triggered = set()
        for index in self.matching(condition.names):
            pair = self.pairs[index]
            for threshold in condition.thresholds:
                blocks = pair.key_value_blocks if threshold.family == KEY_VALUE_BLOCK else pair.words
                if any(threshold.holds(block.get(k("confidence"))) for block in blocks):
                    triggered.add(index)
                    break
        return frozenset(triggered)

    def select(self, selection: Selection) -> dict[str, Any]:
        pairs = self.pairs if isinstance(selection, _All) else [self.pairs[index] for index in sorted(selection)]
        ids: set[str] = set().union(*(pair.block_ids for pair in pairs)) if pairs else set()
        return {self.k("blocks"): [self._trim(block) for block in self.blocks if _block_id(block, self.k) in ids]}

    def _trim(self, block: dict[str, Any]) -> dict[str, Any]:
        k = self.k
        if block.get(k("blockType")) == "KEY_VALUE_SET":
            names = ["blockType", "confidence", "entityTypes", "geometry", "id", "relationships"]
        else:
            names = ["blockType", "id", "selectionStatus", "text"]
        trimmed = {k(name): copy.deepcopy(block[k(name)]) for name in names if k(name) in block}
        geometry = trimmed.get(k("geometry"))
        if isinstance(geometry, dict):
            trimmed[k("geometry")] = {key: value for key, value in geometry.items() if key == k("polygon")}
        return trimmed


class _RekognitionView:
    def __init__(self, response: Mapping[str, Any]) -> None:
        if "ModerationLabels" in response:
            self.k = _Spelling(True)
        elif "moderationLabels" in response:
            self.k = _Spelling(False)
        else:
            raise A2IValidationError("the response has no ModerationLabels: give a Rekognition DetectModerationLabels "
                                     "response (ModerationLabels) or A2I's aiServiceResponse (moderationLabels)")
        labels = response[self.k("moderationLabels")]
        if not isinstance(labels, list):
            raise A2IValidationError(f"the response's {self.k('moderationLabels')} must be a list")
        self.response = response
        self.labels = [label for label in labels if isinstance(label, dict)]

    def check(self, condition: SimpleCondition) -> frozenset:
        k = self.k
        name = condition.parameters["ModerationLabelName"]
        return frozenset(
            index for index, label in enumerate(self.labels)
            if (name == "*" or label.get(k("name")) == name)
            and any(threshold.holds(label.get(k("confidence"))) for threshold in condition.thresholds))

    def select(self, selection: Selection) -> dict[str, Any]:
        indexes = range(len(self.labels)) if isinstance(selection, _All) else sorted(selection)
        selected: dict[str, Any] = {self.k("moderationLabels"): [copy.deepcopy(self.labels[i]) for i in indexes]}
        version = self.k("moderationModelVersion")
        if version in self.response:
            selected[version] = self.response[version]
        return selected


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
