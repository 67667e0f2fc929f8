"""Per-key thresholds: a threshold for each form key, chosen greedily where reviews buy the most (pure).

A key the machine often misreads may deserve a high threshold while a key it reads well needs none: one
``ImportantFormKeyConfidenceCheck`` per key can reach a target with fewer pages reviewed than one threshold on
every key. Greedy: from no review, raise the threshold of the key whose next step removes the most estimated
errors (point and upper bound) per page it adds, until the target is met (or the budget spent). The estimates are
the threshold curve's, key by key: exact where reviews saw the fields, from the Sampling sample elsewhere.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_a2i.report.data import Page
from airflow_a2i.report.estimates import Strata, wilson_interval

#: The thresholds a key may get: fewer than the curve's, the search is keys x steps x pages.
KEY_THRESHOLDS: tuple[float, ...] = (0, 50, 60, 70, 80, 85, 90, 92, 94, 95, 96, 97, 98, 99, 100)
MAX_KEYS = 40  # one condition each: A2I takes at most 10,240 characters of conditions


def _at_or_above(ordered: list[float], threshold: float) -> int:
    return len(ordered) - bisect.bisect_left(ordered, threshold)


@dataclass(frozen=True)
class KeyPlan:
    """Thresholds per key (keys at 0 get no condition), and what they are predicted to do."""

    thresholds: dict[str, float]
    review_rate: float
    accuracy: float
    accuracy_interval: tuple[float, float]


class _Counts:
    def __init__(self, split: Strata) -> None:
        self.known_wrong = sorted(confidence for confidence, wrong in split.known if wrong)
        self.sample_wrong = sorted(confidence for confidence, wrong in split.sample if wrong)
        self.left_alone = sorted([confidence for confidence, _ in split.sample] + split.unreviewed)

    def at(self, threshold: float) -> tuple[int, int, int]:
        """Known errors, sampled errors and fields left alone at or above the threshold."""
        return (_at_or_above(self.known_wrong, threshold), _at_or_above(self.sample_wrong, threshold),
                _at_or_above(self.left_alone, threshold))


def plan_per_key(pages: Sequence[Page], splits: Mapping[str, Strata], *, sampling_percentage: float,
                 target_accuracy: float | None = None, review_budget: float | None = None,
                 thresholds: Sequence[float] = KEY_THRESHOLDS) -> KeyPlan | None:
    """The per-key thresholds for the target (or budget); None without a sample or form fields to plan on."""
    keys = [key for key, split in splits.items() if key.strip() and split.total][:MAX_KEYS]
    total = sum(split.total for split in splits.values())
    sample = sum(len(split.sample) for split in splits.values())
    left_alone = sum(split.not_selected for split in splits.values())
    if not keys or not total or (not sample and left_alone):
        return None
    counts = {key: _Counts(splits[key]) for key in keys}
    # errors of keys without a condition of their own (no name to give it) stay as they are at threshold 0
    fixed = [sum(values) for values in zip(*(_Counts(split).at(0) for key, split in splits.items()
                                             if key not in counts), strict=False)] or [0, 0, 0]
    scored = [page for page in pages if page.has_fields]
    by_key: dict[str, list[tuple[float, int]]] = {key: [] for key in keys}  # (the page's lowest confidence, page)
    for index, page in enumerate(scored):
        lowest: dict[str, float] = {}
        for item in page.fields:
            if item.confidence is not None and item.key in by_key:
                lowest[item.key] = min(item.confidence, lowest.get(item.key, 101.0))
        for key, confidence in lowest.items():
            by_key[key].append((confidence, index))
    for entries in by_key.values():
        entries.sort()
    share = sampling_percentage / 100

    def predict(state: dict[str, float], reviewed: int) -> tuple[float, float, float, float]:
        seen, wrong, staying = (sum(parts) for parts in zip(fixed, *(counts[key].at(state[key]) for key in keys),
                                                            strict=True))
        bounds = wilson_interval(wrong, sample) or (0.0, 0.0)
        estimates = [seen + min(staying, rate * left_alone) for rate in
                     (wrong / sample if sample else 0.0, *bounds)]
        kept = 1 - share
        review = reviewed / len(scored) if scored else 0.0
        return (review + share * (1 - review), 1 - estimates[0] / total * kept, 1 - estimates[2] / total * kept,
                1 - estimates[1] / total * kept)

    state = dict.fromkeys(keys, 0.0)
    under = [False] * len(scored)  # pages the thresholds send to review
    reviewed = 0
    current = predict(state, reviewed)
    while not (target_accuracy is not None and current[2] >= target_accuracy):
        best: tuple[float, str, float, tuple[float, float, float, float]] | None = None
        for key in keys:
            entries, position, added = by_key[key], 0, 0
            for threshold in thresholds:  # ascending: the pages a threshold adds grow with it
                while position < len(entries) and entries[position][0] < threshold:
                    added += not under[entries[position][1]]
                    position += 1
                if threshold <= state[key]:
                    continue
                moved = predict({**state, key: threshold}, reviewed + added)
                if review_budget is not None and moved[0] > review_budget + 1e-12:
                    break  # higher thresholds of this key only add pages
                gain = (moved[1] - current[1]) + (moved[2] - current[2])
                if gain <= 1e-12:
                    continue
                score = gain / max(added, 0.5)
                if best is None or score > best[0]:
                    best = (score, key, threshold, moved)
        if best is None:
            break
        _, key, threshold, current = best
        state[key] = threshold
        for confidence, index in by_key[key]:
            if confidence >= threshold:
                break
            if not under[index]:
                under[index] = True
                reviewed += 1
    return KeyPlan(thresholds={key: value for key, value in state.items() if value > 0}, review_rate=current[0],
                   accuracy=current[1], accuracy_interval=(current[2], current[3]))
