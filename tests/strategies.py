"""Helpers the property-based tests share."""

from __future__ import annotations

from typing import Any


def locations(value: Any, found: list[tuple[Any, Any]] | None = None) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON value: the places a mutation can hit."""
    found = [] if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((value, key))
            locations(item, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((value, index))
            locations(item, found)
    return found
