"""The results' summary: counts by status, answers, agreement, review times, documents and fields."""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow_a2i.waiting.states import MISSING, OPEN_STATES

#: Version of the results and summary layout, written into the summary; bumped on incompatible changes.
RESULTS_FORMAT = "airflow-a2i.results/1"


def summary_facts(row: dict[str, Any]) -> dict[str, Any]:
    """What the summary needs of a row (kept instead of the row, whose answers can be large)."""
    answers = row["answers"] or []
    status = row["status"]
    return {
        "human_loop_name": row["human_loop_name"], "status": status, "output_error": row["output_error"],
        "agreement": row["agreement"], "tied": bool(row["ties"]), "answers": len(answers),
        "workers": [answer["worker_id"] for answer in answers],
        "time_spent": [answer["time_spent_in_seconds"] for answer in answers
                       if answer["time_spent_in_seconds"] is not None],
        "document": row.get("document"),
        "fields": len(row.get("fields") or []),
        "fields_corrected": sum(1 for field in row.get("fields") or [] if field.get("corrected")),
        "fields_reviewed": sum(1 for field in row.get("fields") or [] if field.get("reviewed")),
        "fields_added": sum(1 for field in row.get("fields") or [] if field.get("added_by_reviewer")),
        "lacks_output": row["human_loop_name"] is not None and (
            status == MISSING or status in OPEN_STATES or (status == "Completed" and row["answers"] is None)),
    }


def summarize(rows: list[dict[str, Any]], results_uri: str) -> dict[str, Any]:
    """The summary: counts by status, items, loops, answers, mean agreement, total time spent.

    Loop counts are per loop: a loop listed for two items counts once.
    """
    loops = {row["human_loop_name"]: row for row in rows if row["human_loop_name"] is not None}.values()
    agreements = [row["agreement"] for row in loops if row["agreement"] is not None]
    return {
        "format": RESULTS_FORMAT,
        "results_uri": results_uri,
        "items": len(rows),
        "items_without_loop": sum(1 for row in rows if row["human_loop_name"] is None),
        "loops": len(loops),
        "statuses": dict(sorted(Counter(row["status"] for row in loops).items())),
        "outputs_read": sum(1 for row in loops if row["status"] == "Completed" and row["output_error"] is None),
        "output_errors": sum(1 for row in loops if row["output_error"] is not None),
        "answers": sum(row["answers"] for row in loops),
        "workers": len({worker for row in loops for worker in row["workers"]}),
        "mean_agreement": sum(agreements) / len(agreements) if agreements else None,
        "loops_with_ties": sum(1 for row in loops if row["tied"]),
        "time_spent_in_seconds": round(sum(spent for row in loops for spent in row["time_spent"]), 3),
        "time_spent_percentiles": percentiles([spent for row in loops for spent in row["time_spent"]]),
        # a batch's pages grouped back per document
        "documents": len({row["document"] for row in rows if row.get("document")}),
        "documents_reviewed": len({row["document"] for row in rows if row.get("document") and row["human_loop_name"]}),
        "fields": sum(row.get("fields", 0) for row in rows),
        "fields_reviewed": sum(row.get("fields_reviewed", 0) for row in rows),
        "fields_corrected": sum(row.get("fields_corrected", 0) for row in rows),
        "fields_added": sum(row.get("fields_added", 0) for row in rows),  # pairs people added
    }


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50, p90 and p99 of the review times (nearest rank), or None without any."""
    if not values:
        return None
    ordered = sorted(values)
    return {f"p{rank}": round(ordered[min(len(ordered) - 1, max(0, -(-rank * len(ordered) // 100) - 1))], 3)
            for rank in (50, 90, 99)}
