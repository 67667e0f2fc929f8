"""
The server side of the crowd elements: the answer fields a rendered task page declares, and the
``answerContent`` A2I would write for a worker's form post.

The form contract (the portal's JavaScript, which stands in for crowd-html-elements.js, posts
``application/x-www-form-urlencoded``; a name may repeat). Names starting with ``__a2i_`` are reserved and
never copied into the answer; ``__a2i_csrf`` carries the CSRF token. Per element: what is posted -> the
answer under the element's ``name`` N.

1. crowd-classifier [categories]: radio ``N=category`` -> ``{"label": c}``; absent when none is chosen.
2. crowd-classifier-multi-select, crowd-image-classifier-multi-select [categories]: checkboxes
   ``N=category`` -> ``{"labels": [the checked ones, in category order]}``, always present.
3. crowd-image-classifier [categories]: as 1, plus ``__a2i_comment:N=text`` -> ``"workerComment": text``
   in the object when the text is not blank.
4. crowd-input: ``N=text`` -> string; absent when empty. crowd-text-area: ``N=text`` -> string (``""`` kept).
5. plain input (any type but checkbox, radio, submit, button, file, image, reset), textarea, select:
   ``N=text`` -> the first value, ``""`` when none is posted; ``<select multiple>`` -> list of strings.
6. plain checkbox/radio [value=V, default "on"], crowd-checkbox, crowd-toggle-button [value=V]: ``N=V`` when
   checked -> ``{V: bool}`` for every V the page declares under N, merged into one object.
7. crowd-radio-button [name=B, value=V] in the k-th crowd-radio-group of the page (0-based, document order):
   one radio ``__a2i_radio_group:k=B`` -> ``B: {V: posted == B}`` for every button of the group. A
   crowd-radio-button outside any group posts like a crowd-checkbox.
8. crowd-slider [min=0, max=100, step=1; one that is not a number counts as absent]: ``N=number`` -> number
   (int when integral), within min..max and on a step.
9. crowd-bounding-box [labels?]: ``N=JSON`` ``{"boundingBoxes": [{height, label, left, top, width}],
   "inputImageProperties": {height, width}}`` -> the same, numbers rounded to int, labels among ``labels``.
10. crowd-keypoint [labels?]: ``N=JSON`` ``{"keypoints": [{label, x, y}], "inputImageProperties": {...}}``
    -> the same, rounded.
11. crowd-entity-annotation [labels?, text?]: ``N=JSON`` ``{"entities": [{label, startOffset, endOffset}]}``
    -> the same; offsets count Unicode code points (not UTF-16 units), 0 <= start < end <= len(text).
12. crowd-textract-analyze-document [initial-value = the Textract blocks] (required):
    ``__a2i_textract=JSON`` ``[{"keyBlockId", "value", "key"?}]``, one entry per key-value pair shown ->
    ``"AWS/Textract/AnalyzeDocument/Forms/V1": {"blocks": [...]}``: per pair, its WORD blocks and its KEY
    and VALUE blocks as A2I writes them; an edited text gets new WORD blocks (uuid4 ids).
13. crowd-rekognition-detect-moderation-labels [categories = [{name, parentName}]]: checkboxes
    ``__a2i_moderation=label name`` or ``__a2i_moderation_none=on`` ->
    ``"AWS/Rekognition/DetectModerationLabels/Image/V3": {"moderationLabels": [{name, parentName}]}``
    (``[]`` for none).

A drawing element or slider that posts nothing (or ``""``) is absent from the answer. Display-only elements
(crowd-form, crowd-button, crowd-alert, crowd-instructions, ...) give nothing. A posted name the page does
not declare is kept as a string (templates create inputs from their own scripts). :class:`AnswerError`
says which posted value is not allowed and what to post instead.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from airflow_a2i.request_sources import REKOGNITION_SOURCE, TEXTRACT_SOURCE
from airflow_a2i.results import camel_keys, related_ids

__all__ = ["CSRF_FIELD", "RESERVED_PREFIX", "AnswerError", "Element", "find_elements", "parse_attribute_literal",
           "shape_answer"]

RESERVED_PREFIX = "__a2i_"
CSRF_FIELD = "__a2i_csrf"
COMMENT_PREFIX = "__a2i_comment:"
RADIO_GROUP_PREFIX = "__a2i_radio_group:"
TEXTRACT_FIELD = "__a2i_textract"
MODERATION_FIELD = "__a2i_moderation"
MODERATION_NONE_FIELD = "__a2i_moderation_none"

#: Crowd elements that put something in the answer (the built-in task elements have no ``name``).
NAMED_ANSWER_ELEMENTS = frozenset({
    "crowd-classifier", "crowd-classifier-multi-select", "crowd-image-classifier",
    "crowd-image-classifier-multi-select", "crowd-input", "crowd-text-area", "crowd-checkbox",
    "crowd-toggle-button", "crowd-radio-button", "crowd-slider", "crowd-bounding-box", "crowd-keypoint",
    "crowd-entity-annotation",
})
BUILT_IN_ELEMENTS = {"crowd-textract-analyze-document": TEXTRACT_SOURCE,
                     "crowd-rekognition-detect-moderation-labels": REKOGNITION_SOURCE}
PLAIN_CONTROLS = frozenset({"input", "select", "textarea"})
#: Plain input types that post nothing an answer keeps.
IGNORED_INPUT_TYPES = frozenset({"submit", "button", "file", "image", "reset"})


class AnswerError(ValueError):
    """A posted value the page's elements do not allow; the message says what to post instead."""


# --- attribute literals -----------------------------------------------------------------------------------


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_IDENTIFIER_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
_NUMBER_CHARS = frozenset("0123456789+-.eExXabcdefABCDEF_")
_WORDS = {"true": True, "false": False, "null": None, "undefined": None, "Infinity": math.inf, "NaN": math.nan,
          "True": True, "False": False, "None": None}  # Python's too, as a template may print them
_MAX_DEPTH = 200


class _LiteralParser:
    """Recursive descent over a JavaScript literal: JSON plus single quotes, bare keys, comments and
    trailing commas (what crowd element attributes hold)."""

    def __init__(self, text: str):
        self.text = text
        self.at = 0

    def fail(self, expected: str) -> ValueError:
        found = repr(self.text[self.at:self.at + 20]) if self.at < len(self.text) else "the end of the text"
        return ValueError(f"not a JavaScript literal: expected {expected} at character {self.at + 1}, "
                          f"found {found}")

    def skip_blank(self) -> None:
        while self.at < len(self.text):
            if self.text[self.at].isspace():
                self.at += 1
            elif self.text.startswith("//", self.at):
                end = self.text.find("\n", self.at)
                self.at = len(self.text) if end < 0 else end + 1
            elif self.text.startswith("/*", self.at):
                end = self.text.find("*/", self.at + 2)
                if end < 0:
                    raise self.fail("the end of a /* comment */")
                self.at = end + 2
            else:
                return

    def peek(self) -> str:
        self.skip_blank()
        return self.text[self.at] if self.at < len(self.text) else ""

    def document(self) -> Any:
        value = self.value(0)
        if self.peek():
            raise self.fail("the end of the literal")
        return value

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"not a JavaScript literal: nested more than {_MAX_DEPTH} levels deep")
        char = self.peek()
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if char in ("'", '"'):
            return self.string()
        if char in _IDENTIFIER_START:
            word = self.identifier()
            if word in _WORDS:
                return _WORDS[word]
            self.at -= len(word)
            raise self.fail("a value (a bare word is only allowed as an object key)")
        if char and (char.isdigit() or char in "+-."):
            return self.number()
        raise self.fail("a value")

    def object(self, depth: int) -> dict[str, Any]:
        self.at += 1
        result: dict[str, Any] = {}
        while self.peek() != "}":
            key = self.key()
            if self.peek() != ":":
                raise self.fail("':' after an object key")
            self.at += 1
            result[key] = self.value(depth + 1)
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise self.fail("',' or '}'")
        self.at += 1
        return result

    def key(self) -> str:
        char = self.peek()
        if char in ("'", '"'):
            return self.string()
        if char in _IDENTIFIER_START:
            return self.identifier()
        if char.isdigit():
            return str(self.number())
        raise self.fail("an object key")

    def array(self, depth: int) -> list[Any]:
        self.at += 1
        result: list[Any] = []
        while self.peek() != "]":
            result.append(self.value(depth + 1))
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "]":
                raise self.fail("',' or ']'")
        self.at += 1
        return result

    def identifier(self) -> str:
        start = self.at
        while self.at < len(self.text) and (self.text[self.at] in _IDENTIFIER_START or self.text[self.at].isdigit()):
            self.at += 1
        return self.text[start:self.at]

    def number(self) -> int | float:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] in _NUMBER_CHARS:
            if self.text[self.at] in "+-" and self.at > start and self.text[self.at - 1] not in "eE":
                break
            self.at += 1
        token = self.text[start:self.at].replace("_", "")
        sign, digits = (token[0], token[1:]) if token[:1] in "+-" else ("", token)
        if digits == "" and self.text.startswith("Infinity", self.at):
            self.at += len("Infinity")
            return -math.inf if sign == "-" else math.inf
        try:
            if digits[:2].lower() == "0x":
                number: int | float = int(digits[2:], 16)
            elif digits.isdigit():
                number = int(digits)
            else:
                number = float(digits)
        except ValueError:
            self.at = start
            raise self.fail("a number") from None
        return -number if sign == "-" else number

    def string(self) -> str:
        quote = self.text[self.at]
        self.at += 1
        chars: list[str] = []
        while True:
            if self.at >= len(self.text):
                raise self.fail(f"the closing {quote}")
            char = self.text[self.at]
            self.at += 1
            if char == quote:
                return _join_surrogates("".join(chars))
            if char == "\\":
                chars.append(self.escape())
            else:
                chars.append(char)

    def escape(self) -> str:
        if self.at >= len(self.text):
            raise self.fail("an escaped character")
        char = self.text[self.at]
        self.at += 1
        if char == "u":
            if self.text.startswith("{", self.at):
                end = self.text.find("}", self.at)
                return self.code_point(self.text[self.at + 1:end] if end > 0 else "", end + 1)
            return self.code_point(self.text[self.at:self.at + 4], self.at + 4, exact=4)
        if char == "x":
            return self.code_point(self.text[self.at:self.at + 2], self.at + 2, exact=2)
        if char == "\r" and self.text.startswith("\n", self.at):
            self.at += 1
            return ""
        if char in "\n\r\u2028\u2029":  # a line continuation
            return ""
        return _ESCAPES.get(char, char)

    def code_point(self, digits: str, end: int, exact: int | None = None) -> str:
        if not digits or (exact is not None and len(digits) != exact) or any(
                digit not in "0123456789abcdefABCDEF" for digit in digits) or int(digits, 16) > 0x10FFFF:
            raise self.fail("hexadecimal digits of an escaped character")
        self.at = end
        return chr(int(digits, 16))


def _join_surrogates(text: str) -> str:
    r"""Pairs of escaped UTF-16 surrogates (``\ud83d\ude00``, as JSON writes them) as the one character."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return text  # a lone surrogate stays, as JSON.parse keeps it


def parse_attribute_literal(text: str) -> Any:
    """
    The value of a crowd element attribute written as a JavaScript literal (``categories="['a', 'b']"``,
    ``labels="[{label: 'x',},]"``): JSON plus single-quoted strings, unquoted keys, trailing commas, comments,
    ``undefined``, Python's ``True``/``False``/``None``. The HTML parser has already decoded entities. Raises
    ValueError saying where it stopped.
    """
    if not text.strip():
        raise ValueError("not a JavaScript literal: the attribute is empty")
    return _LiteralParser(text).document()


# --- the elements of a page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """
    An element that can put something in the answer. ``name`` is the answer key it fills (for the built-in
    task elements, which have no name, the request source); ``attributes`` as written (entities decoded,
    names lowercase, ``""`` for a bare attribute); ``radio_group`` the index of the crowd-radio-group a
    crowd-radio-button is in.
    """

    tag: str
    name: str
    attributes: dict[str, str] = field(hash=False)
    radio_group: int | None = None

    @property
    def input_type(self) -> str:
        """An ``<input>``'s type as the browser reads it (``text`` when missing); ``""`` for other tags."""
        return (self.attributes.get("type") or "text").strip().lower() if self.tag == "input" else ""

    @property
    def value(self) -> str:
        """What a checkbox, radio or crowd-checkbox posts when checked."""
        return self.attributes.get("value", "on")

    def describe(self) -> str:
        return f"the {self.tag} {self.name!r}" if self.tag not in BUILT_IN_ELEMENTS else f"the {self.tag}"


_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                        "source", "track", "wbr"})


class _ElementFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.groups_seen = 0
        # The open elements, as a browser tracks them, to know which crowd-radio-group a button is in:
        # (tag, the group's index for a crowd-radio-group).
        self.open: list[tuple[str, int | None]] = []

    def current_group(self) -> int | None:
        return next((group for tag, group in reversed(self.open) if group is not None), None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes: dict[str, str] = {}
        for key, value in attrs:
            attributes.setdefault(key, value or "")  # browsers keep the first of a repeated attribute
        name = BUILT_IN_ELEMENTS.get(tag) or attributes.get("name", "")
        if name and (tag in NAMED_ANSWER_ELEMENTS or tag in PLAIN_CONTROLS or tag in BUILT_IN_ELEMENTS):
            group = self.current_group() if tag == "crowd-radio-button" else None
            self.elements.append(Element(tag, name, attributes, group))
        if tag == "crowd-radio-group":
            self.open.append((tag, self.groups_seen))
            self.groups_seen += 1
        elif tag not in _VOID_TAGS:
            self.open.append((tag, None))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A browser ignores "/>" on elements that are not void: <crowd-radio-group/> stays open as well.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        # As a browser does: an end tag closes the innermost open element of its name and all inside it.
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return


def find_elements(html: str) -> list[Element]:
    """The elements of a rendered page that fill answer fields, in document order: the crowd answer elements
    and every named plain ``input``/``select``/``textarea`` (also those inside crowd elements)."""
    finder = _ElementFinder()
    finder.feed(html.replace("\r\n", "\n").replace("\r", "\n"))  # a browser's newline normalisation first
    finder.close()
    return finder.elements


# --- reading the post --------------------------------------------------------------------------------------


def _posted(form: Mapping[str, list[str]], name: str) -> list[str]:
    return list(form.get(name) or [])


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = _posted(form, name)
    return values[0] if values else None


def _attribute_literal(element: Element, attribute: str) -> Any:
    text = element.attributes.get(attribute)
    if text is None:
        raise AnswerError(f"{element.describe()} has no {attribute} attribute: the template must give one")
    try:
        return parse_attribute_literal(text)
    except ValueError as err:
        raise AnswerError(f"the {attribute} attribute of {element.describe()} cannot be read ({err}): "
                          f"fix it in the template") from None


def _categories(element: Element) -> list[str]:
    categories = _attribute_literal(element, "categories")
    if not isinstance(categories, list):
        raise AnswerError(f"the categories attribute of {element.describe()} is not a list: fix it in the template")
    return [str(category) for category in categories]


def _one_of(element: Element, value: str, allowed: list[str], what: str) -> str:
    if value not in allowed:
        raise AnswerError(f"{value!r} is not one of the {what} of {element.describe()}: post one of "
                          f"{', '.join(repr(choice) for choice in allowed)}")
    return value


# --- one shaper per kind of element: the answer value, or _ABSENT -------------------------------------------

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


# --- drawing elements: JSON posted in one hidden field -----------------------------------------------------


def _posted_json(element: Element, form: Mapping[str, list[str]], shape: str) -> Any:
    text = (_first(form, element.name) or "").strip()
    if not text:
        return _ABSENT
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise AnswerError(f"the value posted for {element.describe()} is not JSON: post {shape}") from None
    if not isinstance(document, dict):
        raise AnswerError(f"the value posted for {element.describe()} is not a JSON object: post {shape}")
    return document


def _json_list(document: dict[str, Any], key: str, element: Element, shape: str) -> list[dict[str, Any]]:
    items = document.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise AnswerError(f"the JSON posted for {element.describe()} has no list of objects {key!r}: post {shape}")
    return items


def _json_number(item: dict[str, Any], key: str, element: Element) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AnswerError(f"{key} {value!r} in the JSON posted for {element.describe()} is not a number: "
                          f"post a number for every {key}")
    return round(value)


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


def _image_properties(document: dict[str, Any], element: Element, shape: str) -> dict[str, int]:
    properties = document.get("inputImageProperties")
    if not isinstance(properties, dict):
        raise AnswerError(f"the JSON posted for {element.describe()} has no inputImageProperties object: "
                          f"post {shape}")
    return {key: _json_number(properties, key, element) for key in ("height", "width")}


_BOXES = '{"boundingBoxes": [{"height", "label", "left", "top", "width"}], "inputImageProperties": {"height", "width"}}'
_KEYPOINTS = '{"keypoints": [{"label", "x", "y"}], "inputImageProperties": {"height", "width"}}'
_ENTITIES = '{"entities": [{"label", "startOffset", "endOffset"}]}'


def _bounding_box(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _BOXES)
    if document is _ABSENT:
        return _ABSENT
    labels = _element_labels(element)
    boxes = [{"height": _json_number(box, "height", element), "label": _json_label(box, element, labels),
              "left": _json_number(box, "left", element), "top": _json_number(box, "top", element),
              "width": _json_number(box, "width", element)}
             for box in _json_list(document, "boundingBoxes", element, _BOXES)]
    return {"boundingBoxes": boxes, "inputImageProperties": _image_properties(document, element, _BOXES)}


def _keypoint(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _KEYPOINTS)
    if document is _ABSENT:
        return _ABSENT
    labels = _element_labels(element)
    points = [{"label": _json_label(point, element, labels), "x": _json_number(point, "x", element),
               "y": _json_number(point, "y", element)}
              for point in _json_list(document, "keypoints", element, _KEYPOINTS)]
    return {"keypoints": points, "inputImageProperties": _image_properties(document, element, _KEYPOINTS)}


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


# --- crowd-textract-analyze-document -----------------------------------------------------------------------

_TEXTRACT_POST = '[{"keyBlockId": "...", "value": "...", "key"?: "..."}]'


def _initial_blocks(element: Element) -> dict[str, dict[str, Any]]:
    blocks = camel_keys(_attribute_literal(element, "initial-value"))
    if isinstance(blocks, dict):
        blocks = blocks.get("blocks")
    if not isinstance(blocks, list):
        raise AnswerError(f"the initial-value attribute of {element.describe()} is not a list of Textract blocks: "
                          f"give it task.input.selectedAiServiceResponse.blocks")
    return {str(block.get("id")): block for block in blocks if isinstance(block, dict)}


def _posted_pairs(form: Mapping[str, list[str]], element: Element) -> list[dict[str, str]]:
    text = _first(form, TEXTRACT_FIELD)
    if text is None:
        raise AnswerError(f"the page has {element.describe()} but the form posted no {TEXTRACT_FIELD} field: "
                          f"post {_TEXTRACT_POST} with every key-value pair shown")
    try:
        pairs = json.loads(text)
    except (ValueError, RecursionError):
        pairs = None
    if not isinstance(pairs, list) or not all(
            isinstance(pair, dict) and isinstance(pair.get("keyBlockId"), str) and isinstance(pair.get("value"), str)
            and (pair.get("key") is None or isinstance(pair["key"], str)) for pair in pairs):
        raise AnswerError(f"{TEXTRACT_FIELD} is not {_TEXTRACT_POST}: post that JSON")
    return pairs


def _reduced(block: dict[str, Any]) -> dict[str, Any]:
    """A block as A2I writes it in an answer: no geometry, no word confidence."""
    kind = block.get("blockType")
    if kind == "WORD":
        return {"blockType": kind, "id": block.get("id"), "text": block.get("text")}
    if kind == "SELECTION_ELEMENT":
        return {"blockType": kind, "id": block.get("id"), "selectionStatus": block.get("selectionStatus")}
    reduced: dict[str, Any] = {"blockType": kind}
    if "confidence" in block:
        reduced["confidence"] = block["confidence"]  # A2I keeps the KEY_VALUE_SET blocks' confidence
    reduced["entityTypes"] = list(block.get("entityTypes") or [])
    reduced["id"] = block.get("id")
    reduced["relationships"] = [{"ids": list(relationship.get("ids") or []), "type": relationship.get("type")}
                                for relationship in block.get("relationships") or []
                                if isinstance(relationship, dict) and relationship.get("type") in ("VALUE", "CHILD")]
    return reduced


class _TextractAnswer:
    """The blocks of one Textract answer, built pair by pair from the element's blocks."""

    def __init__(self, element: Element, blocks: dict[str, dict[str, Any]]):
        self.element = element
        self.blocks = blocks
        self.answer: dict[str, dict[str, Any]] = {}  # by id, in the order A2I writes them

    def child_words(self, block: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        words, children = [], []
        for child in (self.blocks.get(child_id) for child_id in related_ids(block, "CHILD")):
            if child is None or child.get("blockType") not in ("WORD", "SELECTION_ELEMENT"):
                continue
            children.append(_reduced(child))
            if child.get("blockType") == "WORD" and child.get("text"):
                words.append(str(child["text"]))
            elif child.get("blockType") == "SELECTION_ELEMENT" and child.get("selectionStatus"):
                words.append(str(child["selectionStatus"]))
        return " ".join(words), children

    def with_text(self, block: dict[str, Any], text: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The reduced block and its CHILD blocks; when ``text`` changes it, new WORD blocks for the new text."""
        reduced = _reduced(block)
        current, children = self.child_words(block)
        if text is None or " ".join(text.split()) == current:
            return reduced, children
        words = [{"blockType": "WORD", "id": str(uuid.uuid4()), "text": token} for token in text.split()]
        relationships = [relationship for relationship in reduced["relationships"] if relationship["type"] != "CHILD"]
        if words:
            relationships.append({"ids": [word["id"] for word in words], "type": "CHILD"})
        reduced["relationships"] = relationships
        return reduced, words

    def value_block(self, key: dict[str, Any]) -> dict[str, Any]:
        """The KEY's first VALUE block; a new one (linked from ``key``) when Textract found no value."""
        value_ids = related_ids(key, "VALUE")
        if value_ids and value_ids[0] in self.blocks:
            return self.blocks[value_ids[0]]
        block_id = value_ids[0] if value_ids else str(uuid.uuid4())
        if not value_ids:
            key["relationships"] = [{"ids": [block_id], "type": "VALUE"}, *key["relationships"]]
        return {"blockType": "KEY_VALUE_SET", "entityTypes": ["VALUE"], "id": block_id, "relationships": []}

    def add_pair(self, key_block_id: str, value: str, key_text: str | None) -> None:
        key_block = self.blocks.get(key_block_id)
        if key_block is None or key_block.get("blockType") != "KEY_VALUE_SET" or \
                "KEY" not in (key_block.get("entityTypes") or []):
            raise AnswerError(f"keyBlockId {key_block_id!r} posted in {TEXTRACT_FIELD} is not a KEY block of "
                              f"{self.element.describe()}'s initial-value: post the id of a KEY_VALUE_SET KEY block")
        key, key_words = self.with_text(key_block, key_text)
        if not related_ids(key, "VALUE") and not value.strip():
            blocks = [*key_words, key]  # no value found, none given: no VALUE block to write
        else:
            value_block, value_words = self.with_text(self.value_block(key), value)
            blocks = [*key_words, *value_words, key, value_block]
        for block in blocks:
            self.answer.setdefault(str(block["id"]), block)


def _textract(element: Element, form: Mapping[str, list[str]]) -> Any:
    answer = _TextractAnswer(element, _initial_blocks(element))
    seen: set[str] = set()
    for pair in _posted_pairs(form, element):
        if pair["keyBlockId"] in seen:
            raise AnswerError(f"keyBlockId {pair['keyBlockId']!r} is posted twice in {TEXTRACT_FIELD}: "
                              f"post each key-value pair once")
        seen.add(pair["keyBlockId"])
        answer.add_pair(pair["keyBlockId"], pair["value"], pair.get("key"))
    return {"blocks": list(answer.answer.values())}


# --- crowd-rekognition-detect-moderation-labels ------------------------------------------------------------


def _moderation_categories(element: Element) -> dict[str, str]:
    categories = _attribute_literal(element, "categories")
    if not isinstance(categories, list):
        raise AnswerError(f"the categories attribute of {element.describe()} is not a list: fix it in the template")
    parents: dict[str, str] = {}
    for category in categories:
        if isinstance(category, dict) and camel_keys(category).get("name"):
            category = camel_keys(category)
            parents.setdefault(str(category["name"]), str(category.get("parentName") or ""))
    return parents


def _moderation(element: Element, form: Mapping[str, list[str]]) -> Any:
    parents = _moderation_categories(element)
    chosen = [name for name in dict.fromkeys(_posted(form, MODERATION_FIELD)) if name]
    if chosen and _posted(form, MODERATION_NONE_FIELD):
        raise AnswerError(f"both {MODERATION_FIELD} labels and {MODERATION_NONE_FIELD} were posted for "
                          f"{element.describe()}: post either the labels that apply or none of them")
    for name in chosen:
        _one_of(element, name, list(parents), "categories")
    return {"moderationLabels": [{"name": name, "parentName": parents[name]} for name in parents if name in chosen]}


# --- the answer ------------------------------------------------------------------------------------------------

Shaper = Callable[[Element, Mapping[str, list[str]]], Any]

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
    :class:`AnswerError` for a posted value the elements do not allow.
    """
    # Browsers post a text area's line breaks as CRLF; A2I records the field's value, with LF.
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
