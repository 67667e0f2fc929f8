"""One shaper per kind of element (the answer value, or _ABSENT); the drawing elements' are in drawing.py."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from airflow_a2i.local.portal.elements.found import Element, _attribute_literal, _categories, _first, _one_of, _posted
from airflow_a2i.local.portal.elements.literals import COMMENT_PREFIX, RADIO_GROUP_PREFIX, AnswerError

_ABSENT: Any = object()


def _classifier(element: Element, form: Mapping[str, list[str]]) -> Any:
    chosen = next((value for value in _posted(form, element.name) if value), None)
    if chosen is None:
        return _ABSENT
    return {"label": _one_of(element, chosen, _categories(element), "categories")}


def _multi_select(element: Element, form: Mapping[str, list[str]]) -> Any:
    categories = _categories(element)
    checked = {_one_of(element, value, categories, "categories") for value in _posted(form, element.name) if value}
    return {"labels": [category for category in categories if category in checked]}


def _image_classifier(element: Element, form: Mapping[str, list[str]]) -> Any:
    answer = _classifier(element, form)
    comment = _first(form, COMMENT_PREFIX + element.name) or ""
    if answer is not _ABSENT and comment.strip():
        answer["workerComment"] = comment
    return answer


def _crowd_input(element: Element, form: Mapping[str, list[str]]) -> Any:
    return _first(form, element.name) or _ABSENT


def _text(element: Element, form: Mapping[str, list[str]]) -> Any:
    if element.tag == "select" and "multiple" in element.attributes:
        return _posted(form, element.name)
    return _first(form, element.name) or ""


def _checked(element: Element, form: Mapping[str, list[str]]) -> Any:
    return {element.value: element.value in _posted(form, element.name)}


def _radio_button(element: Element, form: Mapping[str, list[str]]) -> Any:
    if element.radio_group is None:
        return _checked(element, form)
    return {element.value: _first(form, f"{RADIO_GROUP_PREFIX}{element.radio_group}") == element.name}


def _finite(text: str, element: Element) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise AnswerError(f"{text!r} posted for {element.describe()} is not a number: post a decimal number")
    return number


def _slider_bound(element: Element, attribute: str, default: float) -> float:
    # As the page's slider reads it: an attribute that is not a number is not there.
    try:
        number = float(element.attributes.get(attribute, ""))
    except ValueError:
        return default
    return number if math.isfinite(number) else default


def _integral(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _slider(element: Element, form: Mapping[str, list[str]]) -> Any:
    text = (_first(form, element.name) or "").strip()
    if not text:
        return _ABSENT
    number = _finite(text, element)
    low, high = _slider_bound(element, "min", 0), _slider_bound(element, "max", 100)
    if not low <= number <= high:
        raise AnswerError(f"{text} posted for {element.describe()} is outside its range: post a number from "
                          f"{_integral(low)} to {_integral(high)}")
    step = element.attributes.get("step", "").strip()
    if step and step.lower() != "any":
        size = _slider_bound(element, "step", 1)
        steps = (number - low) / size if size > 0 else 0
        if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
            raise AnswerError(f"{text} posted for {element.describe()} is not on a step of {_integral(size)} "
                              f"from {_integral(low)}: post the nearest step")
    return _integral(number)




def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _ABSENT


def _posted_json(element: Element, form: Mapping[str, list[str]], shape: str) -> Any:
    """The element's JSON object. Templates may give plain inputs the element's name too (AWS's hierarchical
    bounding box sample names its throwaway fields "_", as its crowd-bounding-box): the element's value is the
    JSON object among the values posted under the name."""
    texts = [value.strip() for value in _posted(form, element.name) if value.strip()]
    if not texts:
        return _ABSENT
    documents = [_json_object(text) for text in texts]
    document = next((document for document in documents if isinstance(document, dict)), documents[0])
    if document is _ABSENT:
        raise AnswerError(f"the value posted for {element.describe()} is not JSON: post {shape}")
    if not isinstance(document, dict):
        raise AnswerError(f"the value posted for {element.describe()} is not a JSON object: post {shape}")
    return document


def _json_list(document: dict[str, Any], key: str, element: Element, shape: str) -> list[dict[str, Any]]:
    items = document.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise AnswerError(f"the JSON posted for {element.describe()} has no list of objects {key!r}: post {shape}")
    return items


def _json_label(item: dict[str, Any], element: Element, allowed: list[str] | None) -> str:
    label = item.get("label")
    if not isinstance(label, str):
        raise AnswerError(f"an item in the JSON posted for {element.describe()} has no string label: "
                          f"post a label for every item")
    return label if allowed is None else _one_of(element, label, allowed, "labels")


def _element_labels(element: Element) -> list[str] | None:
    """The element's ``labels`` attribute (strings, or objects with a ``label``); None when it has none."""
    if "labels" not in element.attributes:
        return None
    labels = _attribute_literal(element, "labels")
    if not isinstance(labels, list):
        raise AnswerError(f"the labels attribute of {element.describe()} is not a list: fix it in the template")
    return [str(label.get("label")) if isinstance(label, dict) else str(label) for label in labels]


_ENTITIES = '{"entities": [{"label", "startOffset", "endOffset"}]}'


def _offset(entity: dict[str, Any], key: str, element: Element) -> int:
    value = entity.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise AnswerError(f"{key} {value!r} in the JSON posted for {element.describe()} is not a whole number: "
                          f"post character offsets")
    return int(value)


def _entity_annotation(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _ENTITIES)
    if document is _ABSENT:
        return _ABSENT
    labels = _element_labels(element)
    text = element.attributes.get("text")
    length = None if text is None else len(text)  # offsets count Unicode code points, as Python does
    entities = []
    for entity in _json_list(document, "entities", element, _ENTITIES):
        start, end = _offset(entity, "startOffset", element), _offset(entity, "endOffset", element)
        if start < 0 or end <= start or (length is not None and end > length):
            limit = f" and endOffset at most {length}, the text's length" if length is not None else ""
            raise AnswerError(f"the entity {start}..{end} posted for {element.describe()} is not a span of its "
                              f"text: post 0 <= startOffset < endOffset{limit}")
        entities.append({"label": _json_label(entity, element, labels), "startOffset": start, "endOffset": end})
    return {"entities": entities}
