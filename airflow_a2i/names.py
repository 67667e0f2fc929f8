"""Human loop names: A2I's rules, and deterministic names that make retries adopt instead of duplicate.

A name is ``<slug>-<run hash>-<item hash>``: at most 63 characters of ``[a-z0-9-]``. The run hash
depends on (dag_id, run_id, task_id) and is shared by every loop a task starts in a run (all map
indexes included), so a batch wait can pick the run's loops out of a listing. The item hash depends on
the item key only, so rechunking or reordering a batch never renames an item; without an item key it
depends on the map index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.xcom_values import plain_lists

MAX_LENGTH = 63
NAME_PATTERN = r"[a-z0-9](-*[a-z0-9])*"  # compiled at first use (re caches it)
RUN_HASH_LENGTH = 8
ITEM_HASH_LENGTH = 12
MAX_SLUG_LENGTH = MAX_LENGTH - RUN_HASH_LENGTH - ITEM_HASH_LENGTH - 2


def validate_human_loop_name(name: object) -> str:
    """Return ``name`` when A2I accepts it; else raise with what is wrong and how to fix it."""
    if not isinstance(name, str):
        raise A2IValidationError(f"human_loop_name must be a string, not {type(name).__name__}")
    if not name:
        raise A2IValidationError("human_loop_name is empty: give 1 to 63 lowercase letters, digits and hyphens")
    if len(name) > MAX_LENGTH:
        raise A2IValidationError(
            f"human_loop_name {name!r} has {len(name)} characters; A2I allows at most {MAX_LENGTH}: "
            "shorten it, or leave human_loop_name unset for a deterministic name"
        )
    if not re.fullmatch(NAME_PATTERN, name):
        suggestion = slugify(name) or "my-loop"
        raise A2IValidationError(
            f"human_loop_name {name!r} is not a valid A2I name: use only lowercase letters, digits and "
            f"hyphens, starting and ending with a letter or digit (for example {suggestion!r})"
        )
    return name


def validate_human_loop_names(names: object) -> list[str]:
    """One loop name or a list of them, each checked; at least one."""
    if isinstance(names, Mapping) or not isinstance(names, str | Iterable):
        raise A2IValidationError(f"human_loop_names must be a loop name or a list of them, not "
                                 f"{type(names).__name__}: such as ['my-loop-1', 'my-loop-2']")
    listed = [names] if isinstance(names, str) else list(names)
    if not listed:
        raise A2IValidationError("human_loop_names is empty: give at least one loop name")
    return [_listed_name(name) for name in listed]


def human_loop_names_of(value: object) -> list[str]:
    """The loops named by what a DAG passes as ``human_loop_names``, each checked: a loop name, a list of them, or
    what the A2I start, Textract and Rekognition operators return (a dict with ``HumanLoopName``; None there when
    A2I started no loop for the item, which is left out), or a list of those (a mapped task's output)."""
    value = plain_lists(value)  # a mapped task's output: read in one request, not item by item
    if isinstance(value, Mapping):
        value = [value]
    if isinstance(value, str) or not isinstance(value, Iterable):
        return validate_human_loop_names(value)
    names = []
    for item in value:
        if not isinstance(item, Mapping):
            names.append(_listed_name(item))
        elif "HumanLoopName" not in item:
            raise A2IValidationError(
                "human_loop_names: a dict in it must be what an A2I start, Textract or Rekognition operator "
                f"returns (with 'HumanLoopName'), not one with the keys {sorted(map(str, item))}")
        elif item["HumanLoopName"] is not None:
            names.append(_listed_name(item["HumanLoopName"]))
    return names


def _listed_name(name: object) -> str:
    try:
        return validate_human_loop_name(name)
    except A2IValidationError as error:
        raise A2IValidationError(f"human_loop_names: {error}") from None


def slugify(text: str, max_length: int = MAX_LENGTH) -> str:
    """Lowercase letters and digits, other runs of characters as one hyphen, trimmed to ``max_length``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def _digest(*parts: object) -> str:
    # Unit separators keep ("ab", "c") and ("a", "bc") apart.
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def run_hash(dag_id: str, run_id: str, task_id: str) -> str:
    """The part of a deterministic name shared by all loops of one task in one run."""
    return _digest("run", dag_id, run_id, task_id)[:RUN_HASH_LENGTH]


def item_hash(item_key: str | None = None, map_index: int | None = None) -> str:
    if item_key is not None:
        return _digest("item", item_key)[:ITEM_HASH_LENGTH]
    return _digest("map-index", -1 if map_index is None else map_index)[:ITEM_HASH_LENGTH]


def deterministic_loop_name(dag_id: str, run_id: str, task_id: str, *, item_key: str | None = None,
                            map_index: int | None = None, slug: str | None = None) -> str:
    """The loop name for one item of one task in one run; the same arguments always give the same name.

    :param item_key: what identifies the item (a document key, a record id); when given, the map
        index plays no part, so a rechunked or reordered batch keeps every item's name.
    :param map_index: the task's map index, used only without an item key.
    :param slug: the readable start of the name (default: the task id), shortened to fit.
    """
    readable = slugify(slug if slug is not None else task_id, MAX_SLUG_LENGTH) or "loop"
    return f"{readable}-{run_hash(dag_id, run_id, task_id)}-{item_hash(item_key, map_index)}"


def run_hash_of(name: str) -> str | None:
    """The run hash of a deterministic name (``<slug>-<run hash>-<item hash>``), None for any other name."""
    parts = name.rsplit("-", 2)
    if len(parts) == 3 and len(parts[1]) == RUN_HASH_LENGTH and all(c in "0123456789abcdef" for c in parts[1]):
        return parts[1]
    return None


def has_run_hash(name: str, hash_of_run: str) -> bool:
    """Whether a deterministic name belongs to the run with this run hash."""
    return run_hash_of(name) == hash_of_run
