"""Strict JSON: what the local service reads and writes is JSON that every client can parse and store.

Python's json module takes text that is no JSON interchange value and breaks things later: NaN and
Infinity (and numbers such as 1e400, which become infinity), strings holding a lone surrogate
(``"\\ud800"`` escaped), which cannot be stored or sent as UTF-8, and nesting deep enough to exhaust
the recursion of the parser or of a later ``json.dumps``. ``loads`` refuses all of them with a
ValueError whose message completes a sentence about the text ("The request body " + message);
``dumps`` refuses to write NaN or Infinity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 100  # nested arrays and objects; far beyond any A2I document, far below Python's recursion limit


class _Refused(ValueError):
    """A value Python's json module would take but strict JSON refuses; the message says why."""


def loads(text: str | bytes, *, drop_nulls: bool = False) -> Any:
    """Parse strict JSON; ``drop_nulls`` leaves out object members whose value is null, at every depth."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float_literal,
                           object_pairs_hook=_without_nulls if drop_nulls else None)
    except _Refused:
        raise
    except RecursionError:
        raise _Refused(_too_deep()) from None
    except UnicodeDecodeError as error:
        raise _Refused(f"is not UTF-8 text ({error})") from None
    except ValueError as error:
        raise _Refused(f"is not valid JSON ({error})") from None
    _check_tree(value)
    return value


def dumps(value: Any) -> str:
    """JSON text of ``value``; ValueError when it holds NaN or Infinity, which JSON cannot carry."""
    return json.dumps(value, allow_nan=False)


def finite_float(value: Any) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double's range
        return None
    return number if math.isfinite(number) else None


def shown(value: Any, limit: int = 100) -> str:
    """``value`` as JSON for a message, cut short when long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is not JSON: send finite numbers only")


def _finite_float_literal(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _Refused(f"holds the number {literal[:40]}, beyond the range of a double: send finite numbers only")
    return number


def _without_nulls(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in pairs if value is not None}


def _too_deep() -> str:
    return f"is nested more than {MAX_DEPTH} levels deep (arrays and objects): flatten it"


def _check_tree(value: Any) -> None:
    """Depth and text of every array, object, key and string, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise _Refused(_too_deep())
        children: Iterable[Any] = item
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            children = item.values()
        stack.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        character = text[error.start]
        raise _Refused(f"holds a string with a lone surrogate (\\u{ord(character):04x} at position {error.start}), "
                       "which is not Unicode text: escape only whole characters (surrogate pairs)") from None
