"""What a task gets from other tasks' XCom, read in as few requests as possible and without spurious errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def plain_lists(value: Any) -> Any:
    """``value`` with every lazy XCom sequence in it (what a mapped task's output renders to) read into a list.

    Iterating such a sequence asks for one item per request until a request fails: Airflow 3's client logs
    that expected miss as ``[error] XCom not found``, on every pass. A full slice reads it in one request,
    with no miss (Airflow 2's lazy sequence slices too). Lists and tuples come back as lists with their
    members converted, so ``[start.output]`` works too; anything else is returned as it is.
    """
    if isinstance(value, str | bytes | Mapping):
        return value
    if isinstance(value, list | tuple):
        return [plain_lists(item) for item in value]
    if isinstance(value, Sequence):  # a lazy XCom sequence, or another sequence type: slicing is cheap for both
        return [plain_lists(item) for item in value[:]]
    return value
