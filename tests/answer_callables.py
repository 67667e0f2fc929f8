"""Answer callables the test session's service registers with --answer-callable."""

from __future__ import annotations


def label_by_worker(task_input: dict, context: dict) -> dict:
    """Each worker labels differently, so consolidation has something to consolidate."""
    return {"label": f"{task_input.get('prefix', 'label')}-{context['workerIndex']}",
            "roll": context["random"].randint(1, 6)}


def broken(task_input: dict, context: dict) -> dict:
    raise RuntimeError("this callable always fails")


class ConstantAnalyzer:
    """A pluggable analyzer for the local service: the same moderation labels for every image."""

    def analyze(self, service: str, bucket: str, key: str) -> dict:
        return {"ModerationLabels": [{"Name": "Plugged", "ParentName": "", "Confidence": 99.0}]}
