"""The recommendation: activation conditions that reach a target field accuracy, or fit a review budget (pure).

The conditions are one ``ImportantFormKeyConfidenceCheck`` on every key (``*``) with a
``KeyValueBlockConfidenceLessThan`` threshold, and a ``Sampling`` condition (so that the next run's report can
estimate again), written as the JSON ``A2ICreateFlowDefinitionOperator(activation_conditions=...)`` and
``airflow-a2i activation simulate`` take. The prediction is the threshold curve's: sampled pages are reviewed
whole, so they add review and remove their share of the errors left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_a2i.report.estimates import CurvePoint
from airflow_a2i.report.per_key import KeyPlan

DEFAULT_SAMPLING_PERCENTAGE = 5.0


@dataclass(frozen=True)
class Recommendation:
    conditions: dict[str, Any] | None
    threshold: float | None
    sampling_percentage: float
    review_rate: float | None  # share of pages
    accuracy: float | None
    accuracy_interval: tuple[float, float] | None
    meets_target: bool
    target_accuracy: float | None
    review_budget: float | None
    explanation: str
    per_key_thresholds: dict[str, float] | None = field(default=None)  # set when thresholds per key won

    def to_dict(self) -> dict[str, Any]:
        return {name: (list(value) if isinstance(value, tuple) else value) for name, value in self.__dict__.items()}


def conditions_document(threshold: float, sampling_percentage: float) -> dict[str, Any]:
    """The activation conditions: a key-value pair of any key read below the threshold, or a sampled page."""
    conditions: list[dict[str, Any]] = [{
        "ConditionType": "ImportantFormKeyConfidenceCheck",
        "ConditionParameters": {"ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": _number(threshold)}}]
    if sampling_percentage > 0:
        conditions.append({"ConditionType": "Sampling",
                           "ConditionParameters": {"RandomSamplingPercentage": _number(sampling_percentage)}})
    return {"Conditions": conditions}


def per_key_conditions_document(thresholds: Mapping[str, float], sampling_percentage: float) -> dict[str, Any]:
    """One confidence check per key with its own threshold, and a sampled page."""
    conditions: list[dict[str, Any]] = [{
        "ConditionType": "ImportantFormKeyConfidenceCheck",
        "ConditionParameters": {"ImportantFormKey": key, "KeyValueBlockConfidenceLessThan": _number(threshold)}}
        for key, threshold in sorted(thresholds.items())]
    if sampling_percentage > 0:
        conditions.append({"ConditionType": "Sampling",
                           "ConditionParameters": {"RandomSamplingPercentage": _number(sampling_percentage)}})
    return {"Conditions": conditions}


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


@dataclass(frozen=True)
class _Prediction:
    point: CurvePoint
    review_rate: float
    accuracy: float
    interval: tuple[float, float]


def _predict(point: CurvePoint, sampling: float) -> _Prediction | None:
    if point.error_rate is None or point.error_rate_interval is None:
        return None
    share = sampling / 100
    kept = 1 - share  # a sampled page is reviewed whole: its errors do not stay
    low, high = point.error_rate_interval
    return _Prediction(point, point.page_review_rate + share * (1 - point.page_review_rate),
                       1 - point.error_rate * kept, (1 - high * kept, 1 - low * kept))


def check_aim(target_accuracy: float | None, review_budget: float | None,
              sampling_percentage: float | None = None) -> None:
    """What the recommendation aims at: exactly one of a target and a budget, shares; a percentage to sample."""
    if (target_accuracy is None) == (review_budget is None):
        raise ValueError("Give exactly one of target_accuracy (such as 0.99) and review_budget (such as 0.3)")
    for name, value in (("target_accuracy", target_accuracy), ("review_budget", review_budget)):
        if value is not None and not 0 < value <= 1:
            raise ValueError(f"{name} is a share between 0 and 1 (0.99 for 99%), not {value!r}")
    if sampling_percentage is not None and not 0 <= sampling_percentage <= 100:
        raise ValueError(f"sampling_percentage is between 0 and 100, not {sampling_percentage!r}")


def recommend(curve: Sequence[CurvePoint], *, target_accuracy: float | None = None,
              review_budget: float | None = None, sampling_percentage: float | None = None,
              no_fields: bool = False, per_key: Callable[[float], KeyPlan | None] | None = None) -> Recommendation:
    """The cheapest threshold whose accuracy interval lies above ``target_accuracy``; or, with a
    ``review_budget`` (a share of pages), the most accurate threshold within it. ``per_key`` plans thresholds
    per key for a Sampling percentage (:func:`airflow_a2i.report.per_key.plan_per_key`): taken instead when it
    does better (the target surely met with fewer pages, or more accuracy within the budget)."""
    check_aim(target_accuracy, review_budget, sampling_percentage)
    sampling = DEFAULT_SAMPLING_PERCENTAGE if sampling_percentage is None else float(sampling_percentage)
    common: dict[str, Any] = {"sampling_percentage": sampling, "target_accuracy": target_accuracy,
                              "review_budget": review_budget}
    predictions = [prediction for point in curve if (prediction := _predict(point, sampling)) is not None]
    if not predictions:
        why = ("these results have no Textract form fields, which the conditions' confidence thresholds act on"
               if no_fields else "without a sample (a Sampling condition) the errors in unreviewed fields are "
                                 "unknown, so no threshold can be said to reach a target. Run with Sampling first")
        return Recommendation(conditions=None, threshold=None, review_rate=None, accuracy=None,
                              accuracy_interval=None, meets_target=False, **common,
                              explanation=f"No recommendation: {why}.")
    if target_accuracy is not None:
        sure = [item for item in predictions if item.interval[0] >= target_accuracy]
        likely = [item for item in predictions if item.accuracy >= target_accuracy]
        if sure:
            chosen = min(sure, key=lambda item: (item.review_rate, item.point.threshold))
            how = f"the lowest review rate whose accuracy interval lies above the target {target_accuracy:.2%}"
        elif likely:
            chosen = min(likely, key=lambda item: (item.review_rate, item.point.threshold))
            how = (f"the lowest review rate whose estimate reaches the target {target_accuracy:.2%}; its interval "
                   "reaches below it: more sampled reviews would narrow it")
        else:
            chosen = max(predictions, key=lambda item: (item.interval[0], -item.review_rate))
            how = (f"no confidence threshold reaches {target_accuracy:.2%} on this data: the errors left are read "
                   "with high confidence, where a threshold cannot tell them from right values; this is the most "
                   "accurate threshold")
        meets = chosen.accuracy >= target_accuracy
    else:
        assert review_budget is not None
        within = [item for item in predictions if item.review_rate <= review_budget]
        if within:
            chosen = max(within, key=lambda item: (item.accuracy, -item.review_rate))
            how = f"the most accurate threshold that reviews at most {review_budget:.1%} of the pages"
            meets = True
        else:
            chosen = min(predictions, key=lambda item: item.review_rate)
            how = (f"no threshold fits a budget of {review_budget:.1%} with Sampling at {sampling:g}%: this is the "
                   "cheapest")
            meets = False
    threshold = chosen.point.threshold
    plan = per_key(sampling) if per_key is not None else None
    if plan is not None and plan.thresholds and _plan_wins(plan, chosen, target_accuracy, review_budget):
        meets = plan.accuracy >= target_accuracy if target_accuracy is not None else True
        named = ", ".join(f"{key!r} < {value:g}" for key, value in sorted(plan.thresholds.items()))
        return Recommendation(
            conditions=per_key_conditions_document(plan.thresholds, sampling), threshold=None,
            review_rate=plan.review_rate, accuracy=plan.accuracy, accuracy_interval=plan.accuracy_interval,
            meets_target=meets, per_key_thresholds=dict(plan.thresholds), **common,
            explanation=f"A threshold per key ({named}; other keys none) with Sampling at {sampling:g}%: it does "
                        f"better than one threshold on every key (that would be {threshold:g}: "
                        f"{chosen.review_rate:.1%} of pages, accuracy {chosen.accuracy:.2%}). Predicted: "
                        f"{plan.review_rate:.1%} of pages reviewed, field accuracy {plan.accuracy:.2%} "
                        f"({plan.accuracy_interval[0]:.2%} to {plan.accuracy_interval[1]:.2%}).")
    return Recommendation(
        conditions=conditions_document(threshold, sampling), threshold=threshold, review_rate=chosen.review_rate,
        accuracy=chosen.accuracy, accuracy_interval=chosen.interval, meets_target=meets, **common,
        explanation=f"KeyValueBlockConfidenceLessThan {threshold:g} on every key with Sampling at {sampling:g}%: "
                    f"{how}. Predicted: {chosen.review_rate:.1%} of pages reviewed, field accuracy "
                    f"{chosen.accuracy:.2%} ({chosen.interval[0]:.2%} to {chosen.interval[1]:.2%}).")


def _plan_wins(plan: KeyPlan, chosen: _Prediction, target_accuracy: float | None,
               review_budget: float | None) -> bool:
    if target_accuracy is not None:
        if plan.accuracy_interval[0] < target_accuracy:
            return False
        return chosen.interval[0] < target_accuracy or plan.review_rate < chosen.review_rate
    assert review_budget is not None
    return plan.review_rate <= review_budget and plan.accuracy > chosen.accuracy
