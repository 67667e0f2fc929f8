"""The answer: every element's value shaped as A2I writes it in output.json."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_a2i.local.portal.elements.built_in import _moderation, _textract
from airflow_a2i.local.portal.elements.drawing import (
    _bounding_box,
    _instance_segmentation,
    _keypoint,
    _line,
    _polygon,
    _polyline,
    _semantic_segmentation,
)
from airflow_a2i.local.portal.elements.found import Element, _first, _posted
from airflow_a2i.local.portal.elements.literals import (
    IGNORED_INPUT_TYPES,
    RADIO_GROUP_PREFIX,
    RESERVED_PREFIX,
    AnswerError,
)
from airflow_a2i.local.portal.elements.shapers import (
    _ABSENT,
    _checked,
    _classifier,
    _crowd_input,
    _entity_annotation,
    _image_classifier,
    _multi_select,
    _radio_button,
    _slider,
    _text,
)

Shaper = Callable[[Element, Mapping[str, list[str]]], Any]


class UnsupportedElements(AnswerError):
    """The page has crowd elements the portal does not implement: no post from it makes a whole answer."""

    def __init__(self, elements: list[Element]) -> None:
        self.tags = list(dict.fromkeys(element.tag for element in elements))
        named = ", ".join(dict.fromkeys(element.describe() for element in elements))
        super().__init__(
            f"This task uses {', '.join(f'<{tag}>' for tag in self.tags)} ({named}), which the local worker portal "
            "does not support yet: no answer from this page would hold what it asks for, so none is taken and the "
            "task stays open. It can be answered through the admin API (airflow-a2i local answer), or with a task "
            "UI that uses only supported elements")

_SHAPERS: dict[str, Shaper] = {
    "crowd-classifier": _classifier,
    "crowd-classifier-multi-select": _multi_select,
    "crowd-image-classifier": _image_classifier,
    "crowd-image-classifier-multi-select": _multi_select,
    "crowd-input": _crowd_input,
    "crowd-text-area": _text,
    "crowd-checkbox": _checked,
    "crowd-toggle-button": _checked,
    "crowd-radio-button": _radio_button,
    "crowd-slider": _slider,
    "crowd-bounding-box": _bounding_box,
    "crowd-keypoint": _keypoint,
    "crowd-polygon": _polygon,
    "crowd-line": _line,
    "crowd-polyline": _polyline,
    "crowd-semantic-segmentation": _semantic_segmentation,
    "crowd-instance-segmentation": _instance_segmentation,
    "crowd-entity-annotation": _entity_annotation,
    "crowd-textract-analyze-document": _textract,
    "crowd-rekognition-detect-moderation-labels": _moderation,
}


def _shaper(element: Element) -> Shaper | None:
    if element.tag in _SHAPERS:
        return _SHAPERS[element.tag]
    if element.tag == "input" and element.input_type in ("checkbox", "radio"):
        return _checked
    if element.tag == "input" and element.input_type in IGNORED_INPUT_TYPES:
        return None
    return _text


def _check_radio_groups(elements: list[Element], form: Mapping[str, list[str]]) -> None:
    buttons: dict[int, list[str]] = {}
    for element in elements:
        if element.tag == "crowd-radio-button" and element.radio_group is not None:
            buttons.setdefault(element.radio_group, []).append(element.name)
    for group, names in buttons.items():
        posted = _first(form, f"{RADIO_GROUP_PREFIX}{group}")
        if posted and posted not in names:
            raise AnswerError(f"{RADIO_GROUP_PREFIX}{group} posted {posted!r}, which is not the name of a "
                              f"crowd-radio-button in crowd-radio-group {group}: post one of "
                              f"{', '.join(repr(name) for name in names)}")


def _is_checked_map(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(item, bool) for item in value.values())


def _merge(answer: dict[str, Any], name: str, value: Any, checkbox_like: bool) -> None:
    """Checkbox-like answers under one name merge into one ``{value: checked}``; otherwise the first element
    of a name decides its answer."""
    current = answer.get(name, _ABSENT)
    if current is _ABSENT:
        answer[name] = value
    elif checkbox_like and _is_checked_map(current):
        for key, checked in value.items():
            current[key] = current.get(key, False) or checked


_CHECKBOX_LIKE = frozenset({"crowd-checkbox", "crowd-toggle-button", "crowd-radio-button"})


def _checkbox_like(element: Element) -> bool:
    return element.tag in _CHECKBOX_LIKE or element.input_type in ("checkbox", "radio")


def _extra_checked_values(elements: list[Element], form: Mapping[str, list[str]], answer: dict[str, Any]) -> None:
    """Values posted under a checkbox name that no element of the page declares (a script added the box)."""
    for element in elements:
        if _checkbox_like(element) and element.radio_group is None and _is_checked_map(answer.get(element.name)):
            for value in _posted(form, element.name):
                answer[element.name].setdefault(value, True)


def _undeclared(form: Mapping[str, list[str]], declared: set[str]) -> Iterator[tuple[str, str]]:
    for name, values in form.items():
        if name not in declared and not name.startswith(RESERVED_PREFIX) and values:
            yield name, values[0]


def shape_answer(elements: list[Element], form: Mapping[str, list[str]]) -> dict[str, Any]:
    """
    The ``answerContent`` of a worker's form post (``form``: name -> posted values, in order) on a page with
    ``elements`` (:func:`find_elements`), following the contract in this module's docstring. Raises
    :class:`AnswerError` for a posted value the elements do not allow, :class:`UnsupportedElements` for a page with
    a crowd element the portal does not implement.
    """
    # Browsers post a text area's line breaks as CRLF; A2I records the field's value, with LF.
    unsupported = [element for element in elements if not element.supported]
    if unsupported:  # never a silent empty answer: what the element would give is missing, whatever was posted
        raise UnsupportedElements(unsupported)
    form = {name: [value.replace("\r\n", "\n") for value in values] for name, values in form.items()}
    _check_radio_groups(elements, form)
    answer: dict[str, Any] = {}
    declared: set[str] = set()
    for element in elements:
        declared.add(element.name)
        shaper = _shaper(element)
        if shaper is None:
            continue
        value = shaper(element, form)
        if value is not _ABSENT:
            _merge(answer, element.name, value, _checkbox_like(element))
    _extra_checked_values(elements, form, answer)
    for name, value in _undeclared(form, declared):
        answer[name] = value
    return answer
