"""The review report's figures: volume, quality, people (pure; the estimates are in :mod:`.estimates`)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from airflow_a2i.report.data import Page
from airflow_a2i.results.summary import percentiles

#: Confidence bands for the quality figures, as [low, high) in percent.
BANDS: tuple[tuple[float, float], ...] = ((0, 50), (50, 70), (70, 80), (80, 90), (90, 95), (95, 98), (98, 99),
                                          (99, 101))


def band_name(low: float, high: float) -> str:
    return f"{low:g}-{min(high, 100):g}"


def volume(pages: Sequence[Page]) -> dict[str, Any]:
    """Documents, pages, loops by status, the share sent to review and why (per condition, per key)."""
    loops = {page.loop: page for page in pages if page.loop is not None}
    with_loop = sum(1 for page in pages if page.loop is not None)
    per_condition = Counter(condition for page in loops.values() for condition in page.conditions_met)
    per_key: Counter[str] = Counter(item.key for page in pages for item in page.fields if item.reviewed)
    fields = [item for page in pages for item in page.fields]
    return {
        "documents": len({page.document or page.item_key for page in pages}),
        "pages": len(pages),
        "loops": len(loops),
        "loops_by_status": dict(sorted(Counter(str(page.status) for page in loops.values()).items())),
        "pages_sent_to_review": with_loop,
        "review_share": with_loop / len(pages) if pages else 0.0,
        "pages_sampled": sum(1 for page in loops.values() if page.sampled),
        "sampling_recorded": any(page.sampled is not None for page in loops.values()),
        "conditions_met": [{"condition": name, "loops": count, "share_of_pages": count / len(pages)}
                           for name, count in per_condition.most_common()],
        "fields": len(fields),
        "fields_reviewed": sum(1 for item in fields if item.reviewed),
        "fields_corrected": sum(1 for item in fields if item.corrected),
        "fields_added": sum(1 for item in fields if item.added),
        "reviewed_per_key": [{"key": key, "fields_reviewed": count} for key, count in per_key.most_common()],
    }


def quality(pages: Sequence[Page]) -> dict[str, Any]:
    """How often people corrected the machine, per key and per confidence band, and the calibration: per band
    the machine's mean confidence against the share of reviewed values people kept.

    Reviewed fields are not a random sample (the conditions chose most of them): read these as what happened to
    the fields reviewed, not as the machine's error rate overall (that is the estimate's job)."""
    per_key: dict[str, list[bool]] = defaultdict(list)
    per_band: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for page in pages:
        for item in page.fields:
            if not item.reviewed or item.added or item.confidence is None:
                continue
            per_key[item.key].append(item.corrected)
            band = next(index for index, (low, high) in enumerate(BANDS) if low <= item.confidence < high or
                        index == len(BANDS) - 1)
            per_band[band].append((item.confidence, item.corrected))
    keys: list[dict[str, Any]] = [{"key": key, "reviewed": len(values), "corrected": sum(values),
             "correction_rate": sum(values) / len(values)} for key, values in per_key.items()]
    keys.sort(key=lambda item: (-item["corrected"], -item["reviewed"], item["key"]))
    bands = []
    for index, (low, high) in enumerate(BANDS):
        values = per_band.get(index, [])
        bands.append({"band": band_name(low, high), "low": low, "high": min(high, 100), "reviewed": len(values),
                      "corrected": sum(1 for _, corrected in values if corrected),
                      "mean_confidence": statistics.fmean(value for value, _ in values) if values else None,
                      "kept_share": sum(1 for _, corrected in values if not corrected) / len(values)
                      if values else None})
    return {"per_key": keys, "per_band": bands}


def people(pages: Sequence[Page], slowest_keys: int = 10) -> dict[str, Any]:
    """Review time per task (distribution and percentiles), per worker throughput, agreement where several
    workers answered, and the keys whose pages took longest per reviewed field."""
    loops = {page.loop: page for page in pages if page.loop is not None and page.answers}.values()
    times = [answer.seconds for page in loops for answer in page.answers if answer.seconds is not None]
    per_worker: dict[str, list[float]] = defaultdict(list)
    for page in loops:
        for answer in page.answers:
            per_worker[answer.worker_id].append(answer.seconds or 0.0)
    workers: list[dict[str, Any]] = [{"worker_id": worker, "tasks": len(spent), "seconds": round(sum(spent), 3),
                "median_seconds": statistics.median(spent),
                "tasks_per_hour": 3600 * len(spent) / sum(spent) if sum(spent) else None}
               for worker, spent in per_worker.items()]
    workers.sort(key=lambda item: (-item["tasks"], item["worker_id"]))
    several = [page for page in loops if len(page.answers) > 1 and page.agreement is not None]
    key_seconds: dict[str, list[float]] = defaultdict(list)
    for page in loops:
        reviewed = [item.key for item in page.fields if item.reviewed]
        spent = [answer.seconds for answer in page.answers if answer.seconds is not None]
        if reviewed and spent:
            for key in reviewed:  # the page's time shared among the fields reviewed on it
                key_seconds[key].append(statistics.fmean(spent) / len(reviewed))
    keys: list[dict[str, Any]] = [{"key": key, "fields": len(values), "mean_seconds": statistics.fmean(values)}
                                  for key, values in key_seconds.items()]
    keys.sort(key=lambda item: (-item["mean_seconds"], item["key"]))
    return {
        "answers": len(times),
        "seconds": round(sum(times), 3),
        "time_percentiles": percentiles(times),
        "times": sorted(round(value, 3) for value in times),
        "workers": workers,
        "agreement": {"loops": len(several),
                      "mean": statistics.fmean(page.agreement for page in several if page.agreement is not None)
                      if several else None,
                      "full_agreement_share": sum(1 for page in several if page.agreement == 1) / len(several)
                      if several else None},
        "slowest_keys": keys[:slowest_keys],
    }
