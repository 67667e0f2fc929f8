"""Validate request parameters against the botocore service model, as the AWS service does.

The botocore models carry every length, range, pattern and enum the real APIs enforce; the client
checks only some of them (required members and minimums), the service checks all. Messages follow
AWS's wording: ``1 validation error detected: Value 'x' at 'humanLoopName' failed to satisfy
constraint: Member must satisfy regular expression pattern: ...``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from botocore.model import OperationModel, Shape


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    # The tag patterns use Java's Unicode classes inside one character class,
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]: letters, separators and numbers, which \w\s covers.
    translated = pattern.replace(r"\p{L}\p{Z}\p{N}", r"\w\s")
    if r"\p{" in translated:
        return re.compile(r".*", re.DOTALL)  # a class Python cannot express: do not reject on it
    return re.compile(translated)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def validate_input(operation: OperationModel, params: Any) -> list[str]:
    """Return the AWS-style constraint violations of ``params`` for ``operation`` (empty when valid)."""
    problems: list[str] = []
    shape = operation.input_shape
    if shape is None:
        return problems
    if not isinstance(params, dict):
        return ["The request body must be a JSON object."]
    _check(shape, params, "", problems)
    return problems


def validate_value(shape: Shape, value: Any, path: str) -> list[str]:
    """The AWS-style constraint violations of one member's ``value`` (``path`` names it in the messages)."""
    problems: list[str] = []
    _check(shape, value, path, problems)
    return problems


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _check_structure(shape, value, path, problems)
    elif kind == "list":
        _check_list(shape, value, path, problems)
    elif kind == "string":
        _check_string(shape, value, path, problems)
    elif kind in ("integer", "long"):
        _check_integer(shape, value, path, problems)
    elif kind in ("float", "double"):
        _check_float(shape, value, path, problems)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must be a boolean")


def _check_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must be an object")
        return
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            where = f"{path}.{_camel(name)}" if path else _camel(name)
            problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
    for name, member_value in value.items():
        if name not in members or member_value is None:
            continue
        where = f"{path}.{_camel(name)}" if path else _camel(name)
        _check(members[name], member_value, where, problems)


def _check_list(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, list):
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must be a list")
        return
    _check_length(shape, value, len(value), path, problems)
    member = shape.member
    for index, item in enumerate(value, start=1):
        _check(member, item, f"{path}.{index}.member" if member.type_name != "structure" else f"{path}.{index}",
               problems)


def _check_string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must be a string")
        return
    meta = shape.metadata
    _check_length(shape, value, len(value), path, problems)
    if "enum" in meta and value not in meta["enum"]:
        allowed = ", ".join(meta["enum"])
        problems.append(
            f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{allowed}]"
        )
    pattern = meta.get("pattern")
    if pattern and not _compile(pattern).fullmatch(value):
        problems.append(
            f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}"
        )


def _check_integer(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must be an integer")
        return
    meta = shape.metadata
    if "min" in meta and value < meta["min"]:
        problems.append(
            f"Value '{value}' at '{path}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {meta['min']}"
        )
    if "max" in meta and value > meta["max"]:
        problems.append(
            f"Value '{value}' at '{path}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {meta['max']}"
        )


def _check_float(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must be a number")
        return
    meta = shape.metadata
    if "min" in meta and value < meta["min"]:
        problems.append(f"Value '{float(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        problems.append(f"Value '{float(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have value less than or equal to {meta['max']}")


def _check_length(shape: Shape, value: Any, length: int, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    if "min" in meta and length < meta["min"]:
        problems.append(
            f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {meta['min']}"
        )
    if "max" in meta and length > meta["max"]:
        problems.append(
            f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {meta['max']}"
        )


def modeled_members(shape: Shape, value: Any) -> Any:
    """``value`` without the structure members ``shape`` does not define, at every depth.

    Meant for parameters ``validate_input`` has accepted; a value of another type than its shape's
    is returned as it is.
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {name: modeled_members(members[name], member) for name, member in value.items() if name in members}
    if kind == "list" and isinstance(value, list):
        return [modeled_members(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: modeled_members(shape.value, item) for key, item in value.items()}
    return value


def summarize(problems: list[str]) -> str:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)
