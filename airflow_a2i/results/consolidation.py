"""The consolidation of several workers' answers to one loop: per answer path, the majority value.

Only the standard library is imported, so this module is cheap to import at DAG parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]


class _Absent:
    """A worker's answer that does not have a path: a vote of its own ("leave it out")."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Consolidation:
    """
    The majority answer of several workers.

    :param consolidated: the chosen value of every leaf path, rebuilt as a nested dict (a path most
        workers left out is left out).
    :param agreement: mean over the leaf paths of the share of workers who gave the chosen value
        (1.0 for a single answer, or when all agree); None without answers.
    :param ties: dotted paths where two or more values had the most votes; the value of the earliest
        answer among them was chosen.
    :param path_agreement: the share of workers agreeing with the chosen value, per dotted path.
    :param answers: every answer, as given.
    """

    consolidated: dict[str, Any]
    agreement: float | None
    ties: list[str] = field(default_factory=list)
    path_agreement: dict[str, float] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)


def dotted(path: Path) -> str:
    return ".".join(path)


def flatten(answer: dict[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Leaf values by path: nested objects are walked, anything else (lists included) is a leaf.

    An empty object is a leaf of its own, so that ``{"a": {}}`` survives consolidation.
    """
    leaves: dict[Path, Any] = {}
    for key, value in answer.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            leaves.update(flatten(value, path))
        else:
            leaves[path] = value
    return leaves


def _canonical(value: Any) -> str:
    """Equal JSON values give equal strings (key order ignored; 1, 1.0, "1" and true stay apart)."""
    if value is ABSENT:
        return "\x00absent"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rebuild(chosen: dict[Path, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for path, value in chosen.items():
        node = result
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return result


def consolidate(answers: list[dict[str, Any]]) -> Consolidation:
    """
    Consolidate the answers of several workers of one loop (TaskCount > 1): majority per leaf path.

    Nested objects are flattened to dotted paths; lists and scalars are leaves, compared as JSON. A
    worker whose answer lacks a path votes for leaving it out. On a tie, the value of the earliest answer
    among the tied values wins, and the path is listed in ``ties``. Paths are built from key tuples, so
    keys holding dots are consolidated exactly; only their names in ``ties``/``path_agreement`` are ambiguous.
    """
    answers = list(answers)
    if not answers:
        return Consolidation(consolidated={}, agreement=None, answers=[])
    flattened = [flatten(answer) for answer in answers]
    paths: list[Path] = list(dict.fromkeys(path for leaves in flattened for path in leaves))
    chosen: dict[Path, Any] = {}
    ties: list[str] = []
    shares: dict[str, float] = {}
    for path in paths:
        votes: dict[str, list[int]] = {}  # canonical value -> indexes of the answers that gave it
        values: dict[str, Any] = {}
        for index, leaves in enumerate(flattened):
            value = leaves.get(path, ABSENT)
            key = _canonical(value)
            votes.setdefault(key, []).append(index)
            values.setdefault(key, value)
        most = max(len(voters) for voters in votes.values())
        leaders = [key for key, voters in votes.items() if len(voters) == most]
        # dicts keep insertion order: the first leader is the value of the earliest answer among them
        winner = leaders[0]
        if len(leaders) > 1:
            ties.append(dotted(path))
        shares[dotted(path)] = most / len(answers)
        if values[winner] is not ABSENT:
            chosen[path] = values[winner]
    agreement = sum(shares.values()) / len(shares) if shares else 1.0
    return Consolidation(consolidated=_rebuild(chosen), agreement=agreement, ties=ties, path_agreement=shares,
                         answers=answers)
