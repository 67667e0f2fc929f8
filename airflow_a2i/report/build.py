"""All of the review report's figures from results rows, as one JSON-ready dict (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_a2i.activation.model import Conditions
from airflow_a2i.report.data import Page, key_value_threshold, pages_of, recorded_conditions, sampling_percentage
from airflow_a2i.report.estimates import estimate_errors_left, strata, threshold_curve
from airflow_a2i.report.figures import people, quality, volume
from airflow_a2i.report.per_key import KeyPlan, plan_per_key
from airflow_a2i.report.recommend import recommend

REPORT_FORMAT = "airflow-a2i.review-report/1"
DEFAULT_TARGET_ACCURACY = 0.99
RECORDED_ROWS = 5  # loops whose recorded conditions are tried, in order, to read the current conditions back
IMPORTANT_KEYS = 6  # keys with a curve of their own, when not named: the most frequent


def build_report(rows: Iterable[Mapping[str, Any]], *, sources: Sequence[str] = (),
                 conditions: Conditions | None = None, target_accuracy: float | None = None,
                 review_budget: float | None = None, sampling_percentage_: float | None = None,
                 important_keys: Sequence[str] | None = None, per_key_thresholds: bool = True) -> dict[str, Any]:
    """The report's figures.

    :param rows: the results lines of one run or several.
    :param sources: where the rows came from (shown in the report).
    :param conditions: the activation conditions the loops ran under; default: read back from the loops.
    :param target_accuracy: the field accuracy the recommendation aims at (default 0.99, unless a review budget).
    :param review_budget: instead, the share of pages the recommendation may send to review.
    :param sampling_percentage_: the Sampling percentage the recommendation keeps (default: the current one, or 5).
    :param important_keys: the keys with a threshold curve of their own (default: the most frequent).
    :param per_key_thresholds: let the recommendation give each key its own threshold when that does better.
    """
    recorded: list[Mapping[str, Any]] = []  # the first rows that recorded their conditions: read once, not kept

    def watched(rows: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for row in rows:
            if len(recorded) < RECORDED_ROWS and isinstance(row, Mapping) and row.get("activation_results"):
                recorded.append(row)
            yield row

    pages = pages_of(watched(rows))  # one pass: a batch's rows are not all held at once, only their pages
    current = conditions if conditions is not None else recorded_conditions(recorded)
    split = strata(pages, current)
    estimate = estimate_errors_left(split)
    curve = threshold_curve(pages, split)
    counts = Counter(item.key for page in pages for item in page.fields if item.confidence is not None)
    keys = list(important_keys) if important_keys else [key for key, _ in counts.most_common(IMPORTANT_KEYS)]
    per_key = []
    for key in keys:
        key_split = strata(pages, current, key)
        per_key.append({"key": key, "fields": counts.get(key, 0),
                        "estimate": estimate_errors_left(key_split).to_dict(),
                        "curve": [point.to_dict() for point in threshold_curve(pages, key_split, key)]})
    if target_accuracy is None and review_budget is None:
        target_accuracy = DEFAULT_TARGET_ACCURACY
    sampling = sampling_percentage_ if sampling_percentage_ is not None else sampling_percentage(current)
    splits = {key: strata(pages, current, key) for key, _ in counts.most_common()}

    def plan_keys(sampling_percentage: float) -> KeyPlan | None:
        return plan_per_key(pages, splits, sampling_percentage=sampling_percentage, target_accuracy=target_accuracy,
                            review_budget=review_budget)

    recommendation = recommend(curve, target_accuracy=target_accuracy, review_budget=review_budget,
                               sampling_percentage=sampling, no_fields=split.total == 0,
                               per_key=plan_keys if per_key_thresholds else None)
    return {
        "format": REPORT_FORMAT,
        "sources": list(sources),
        "current_conditions": current.document() if current else None,
        "current_threshold": key_value_threshold(current),
        "current_sampling_percentage": sampling_percentage(current),
        "volume": volume(pages),
        "quality": quality(pages),
        "estimate": estimate.to_dict(),
        "threshold_curve": [point.to_dict() for point in curve],
        "key_curves": per_key,
        "people": people(pages),
        "recommendation": recommendation.to_dict(),
        "notes": _notes(pages, current),
    }


def headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """The few figures that go to XCom and the CLI's output."""
    estimate, recommendation = report["estimate"], report["recommendation"]
    return {"pages": report["volume"]["pages"], "review_share": report["volume"]["review_share"],
            "fields": report["volume"]["fields"], "fields_corrected": report["volume"]["fields_corrected"],
            "estimated_accuracy": estimate["accuracy"], "estimated_accuracy_interval": estimate["accuracy_interval"],
            "sample": estimate["sample"],
            "recommended_conditions": recommendation["conditions"],
            "recommended_review_rate": recommendation["review_rate"],
            "recommended_accuracy": recommendation["accuracy"]}


def _notes(pages: Sequence[Page], current: Conditions | None) -> list[str]:
    notes = ["A reviewer is taken to be right: a field they changed was the machine's error, one they kept was "
             "right."]
    if current is None:
        notes.append("The activation conditions are not known (no loop recorded them and none were given): the "
                     "current conditions are not marked and no sampled review can be used.")
    if not any(page.fields for page in pages):
        notes.append("No Textract form fields in these results: the quality figures, the threshold curve and the "
                     "recommendation need them (Rekognition and custom task types get volume and people only).")
    notes.append("The intervals count fields as independent draws: where errors cluster on pages (a bad scan), they "
                 "are narrower than they should be; more sampled pages narrow them honestly.")
    notes.append("Thresholds are judged on each pair's key-value confidence; word-confidence thresholds are not "
                 "(the results keep one confidence per pair).")
    return notes
