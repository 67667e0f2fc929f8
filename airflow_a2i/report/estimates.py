"""Honest estimates: the machine's errors nobody reviewed, and what a confidence threshold would change (pure).

A reviewed field shows whether the machine was right; a field nobody reviewed shows nothing. Fields fall in
three strata:

* ``known``: fields the activation conditions sent to review (their confidence met a threshold), reviewed:
  their errors are counted exactly.
* ``unreviewed``: fields the conditions did not select and nobody reviewed: their errors are not seen.
* ``sample``: fields the conditions did not select either, on pages a ``Sampling`` condition drew. Sampling
  draws pages whatever their confidences, so these are a random sample of the same population as
  ``unreviewed``: their share of errors estimates the share among the unreviewed fields, with a Wilson
  interval. No sample, no estimate: the figures then say so and give the errors seen as a lower bound.

Fields of loops not finished (``pending``) and fields reviewers added (keys the machine missed) are counted
apart: they have no confidence a threshold could act on.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from airflow_a2i.activation.model import Conditions
from airflow_a2i.report.data import Page, selects_field

CONFIDENCE_LEVEL = 0.95
Z = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95% interval
#: Candidate thresholds: coarse where confidences are rare, fine near the top where most readings are.
CANDIDATE_THRESHOLDS: tuple[float, ...] = (*range(0, 90, 5), *[90 + step / 2 for step in range(0, 21)])


def wilson_interval(successes: int, trials: int, z: float = Z) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial share (None without trials): sound at 0 and at small counts,
    where the normal approximation is not."""
    if trials <= 0:
        return None
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    # rounding can put a bound a hair past the share itself at 0 or 1
    return max(0.0, min(share, centre - half)), min(1.0, max(share, centre + half))


@dataclass
class Strata:
    """The machine's fields split by what is known of them; each entry ``(confidence, wrong)``, ``wrong`` None
    where not seen."""

    known: list[tuple[float, bool]] = field(default_factory=list)
    sample: list[tuple[float, bool]] = field(default_factory=list)
    unreviewed: list[float] = field(default_factory=list)
    pending: int = 0
    added: int = 0  # pairs reviewers added: keys the machine missed

    @property
    def total(self) -> int:
        """The fields the estimates are about: all the machine read, but those of unfinished loops."""
        return len(self.known) + len(self.sample) + len(self.unreviewed)

    @property
    def not_selected(self) -> int:
        """Fields the conditions leave unreviewed (the sample among them)."""
        return len(self.sample) + len(self.unreviewed)


def strata(pages: Iterable[Page], conditions: Conditions | None, key: str | None = None) -> Strata:
    """The fields of the pages (of one key, or all), split into strata under the conditions they were reviewed
    under (None: not known, then no sampled field can be told from a selected one and none counts as sample)."""
    split = Strata()
    for page in pages:
        for item in page.fields:
            if key is not None and item.key != key:
                continue
            if item.added:
                split.added += 1
                continue
            if item.confidence is None:
                continue
            if item.reviewed:
                chosen = conditions is not None and selects_field(conditions, item.key, item.confidence)
                if page.sampled and conditions is not None and not chosen:
                    split.sample.append((item.confidence, item.corrected))
                else:
                    split.known.append((item.confidence, item.corrected))
            elif page.loop is not None and not page.reviewed:
                split.pending += 1
            else:
                split.unreviewed.append(item.confidence)
    return split


@dataclass(frozen=True)
class Estimate:
    """Errors left in the fields nobody reviewed: a share of them (with its interval) and what it means for the
    field accuracy after review. ``None`` figures when there is no sample to estimate from."""

    fields: int
    unreviewed: int
    sample: int
    sample_errors: int
    error_rate: float | None
    error_rate_interval: tuple[float, float] | None
    errors_left: float | None
    accuracy: float | None
    accuracy_interval: tuple[float, float] | None
    known_errors: int
    added: int
    pending: int
    note: str

    def to_dict(self) -> dict[str, object]:
        return {name: (list(value) if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}


def estimate_errors_left(split: Strata) -> Estimate:
    """The errors among the unreviewed fields, estimated from the sampled ones that the conditions would not
    have sent to review."""
    wrong = sum(1 for _, corrected in split.sample if corrected)
    known = sum(1 for _, corrected in split.known if corrected)
    interval = wilson_interval(wrong, len(split.sample))
    common = {"fields": split.total, "unreviewed": len(split.unreviewed), "sample": len(split.sample),
              "sample_errors": wrong, "known_errors": known, "added": split.added, "pending": split.pending}
    if split.total == 0:
        return Estimate(**common, error_rate=None, error_rate_interval=None, errors_left=None, accuracy=None,
                        accuracy_interval=None, note="No form fields the machine read with a confidence (Textract "
                                                     "forms): nothing to estimate.")
    if interval is None:
        note = ("No sample: no field left unreviewed by the conditions was reviewed by chance (a Sampling "
                "condition), so the errors in the unreviewed fields cannot be estimated. Add "
                '{"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 5}} to the '
                "activation conditions.") if split.unreviewed else "Every field was reviewed: no error is left."
        if not split.unreviewed and split.total:
            return Estimate(**common, error_rate=0.0, error_rate_interval=(0.0, 0.0), errors_left=0.0,
                            accuracy=1.0, accuracy_interval=(1.0, 1.0), note=note)
        return Estimate(**common, error_rate=None, error_rate_interval=None, errors_left=None, accuracy=None,
                        accuracy_interval=None, note=note)
    rate = wrong / len(split.sample)
    unreviewed = len(split.unreviewed)
    low, high = interval
    return Estimate(
        **common, error_rate=rate, error_rate_interval=interval, errors_left=rate * unreviewed,
        accuracy=1 - rate * unreviewed / split.total,
        accuracy_interval=(1 - high * unreviewed / split.total, 1 - low * unreviewed / split.total),
        note=f"Estimated from {len(split.sample)} field(s) that Sampling sent to review and the conditions would "
             f"not have ({wrong} of them corrected); {int(CONFIDENCE_LEVEL * 100)}% Wilson interval.")


def _at_or_above(ordered: list[float], threshold: float) -> int:
    return len(ordered) - bisect.bisect_left(ordered, threshold)


@dataclass(frozen=True)
class CurvePoint:
    """What a ``KeyValueBlockConfidenceLessThan`` threshold would have done to these fields."""

    threshold: float
    page_review_rate: float
    field_review_rate: float
    error_rate: float | None  # errors left per field; None without a sample
    error_rate_interval: tuple[float, float] | None
    errors_seen: int  # errors left that reviews saw: a lower bound when there is no sample

    def to_dict(self) -> dict[str, object]:
        return {name: (list(value) if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}


def threshold_curve(pages: Sequence[Page], split: Strata, key: str | None = None,
                    thresholds: Sequence[float] = CANDIDATE_THRESHOLDS) -> list[CurvePoint]:
    """For each threshold, the review it would have caused (share of pages holding a field of the key, or any,
    read below it; share of fields) and the error rate it would have left: exact where reviews saw the fields,
    estimated from the sample for the fields nobody reviewed."""
    minimums = sorted(min(confidences) for confidences in (
        [item.confidence for item in page.fields if item.confidence is not None and (key is None or item.key == key)]
        for page in pages if page.has_fields) if confidences)
    pages_count = sum(1 for page in pages if page.has_fields and (key is None or any(
        item.key == key for item in page.fields)))
    confidences = sorted([confidence for confidence, _ in split.known + split.sample] + split.unreviewed)
    known_wrong = sorted(confidence for confidence, wrong in split.known if wrong)
    left_alone = sorted([confidence for confidence, _ in split.sample] + split.unreviewed)
    sample_all = sorted(confidence for confidence, _ in split.sample)
    sample_wrong = sorted(confidence for confidence, wrong in split.sample if wrong)
    total = split.total
    points = []
    for threshold in thresholds:
        seen = _at_or_above(known_wrong, threshold)
        wrong_in_sample = _at_or_above(sample_wrong, threshold)
        rate = interval = None
        if total and (sample_all or not split.unreviewed):
            # The sample stands for every field the conditions leave alone: its share of fields wrong and at or
            # above the threshold, times their number (monotone in the threshold). Their confidences are known,
            # so the estimate never exceeds how many of them stay at or above it (none: exactly no error).
            staying = _at_or_above(left_alone, threshold)
            share = wrong_in_sample / len(sample_all) if sample_all else 0.0
            bounds = wilson_interval(wrong_in_sample, len(sample_all)) or (0.0, 0.0)
            estimated = [min(staying, value * split.not_selected) for value in (share, *bounds)]
            rate = (seen + estimated[0]) / total
            interval = ((seen + estimated[1]) / total, (seen + estimated[2]) / total)
        points.append(CurvePoint(
            threshold=float(threshold),
            page_review_rate=bisect.bisect_left(minimums, threshold) / pages_count if pages_count else 0.0,
            field_review_rate=bisect.bisect_left(confidences, threshold) / len(confidences) if confidences else 0.0,
            error_rate=rate, error_rate_interval=interval, errors_seen=seen + wrong_in_sample))
    return points
