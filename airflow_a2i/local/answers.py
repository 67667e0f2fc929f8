"""Answer callables shipped with the service, registered through the ``airflow_a2i.workforce_answers`` entry point."""

from __future__ import annotations

from airflow_a2i.local.workforce import echo_answer


def ground_truth(task_input: dict, context: dict) -> dict:
    """Answer what the input's ``groundTruth`` object says is right (demo data carries it); else echo."""
    truth = task_input.get("groundTruth")
    return dict(truth) if isinstance(truth, dict) else echo_answer(task_input)
