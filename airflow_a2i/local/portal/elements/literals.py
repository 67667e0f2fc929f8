"""The reserved field names, and the attribute literals of the crowd elements (JSON-ish, as the JS reads them)."""

from __future__ import annotations

import math
from typing import Any

from airflow_a2i.request_sources import REKOGNITION_SOURCE, TEXTRACT_SOURCE

RESERVED_PREFIX = "__a2i_"
CSRF_FIELD = "__a2i_csrf"
COMMENT_PREFIX = "__a2i_comment:"
RADIO_GROUP_PREFIX = "__a2i_radio_group:"
TEXTRACT_FIELD = "__a2i_textract"
MODERATION_FIELD = "__a2i_moderation"
MODERATION_NONE_FIELD = "__a2i_moderation_none"
#: ``__a2i_labels:NAME``: the labels of a drawing element when a template's script set its ``labels`` property.
LABELS_PREFIX = "__a2i_labels:"

#: The image annotation elements (their answers: elements/drawing.py).
DRAWING_ELEMENTS = frozenset({
    "crowd-bounding-box", "crowd-keypoint", "crowd-polygon", "crowd-line", "crowd-polyline",
    "crowd-semantic-segmentation", "crowd-instance-segmentation",
})
#: Crowd elements that put something in the answer (the built-in task elements have no ``name``).
NAMED_ANSWER_ELEMENTS = frozenset({
    "crowd-classifier", "crowd-classifier-multi-select", "crowd-image-classifier",
    "crowd-image-classifier-multi-select", "crowd-input", "crowd-text-area", "crowd-checkbox",
    "crowd-toggle-button", "crowd-radio-button", "crowd-slider", "crowd-entity-annotation",
}) | DRAWING_ELEMENTS
BUILT_IN_ELEMENTS = {"crowd-textract-analyze-document": TEXTRACT_SOURCE,
                     "crowd-rekognition-detect-moderation-labels": REKOGNITION_SOURCE}
#: Crowd elements that show or arrange things (crowd-form posts the others): nothing of theirs is in the answer.
DISPLAY_ELEMENTS = frozenset({
    "crowd-form", "crowd-button", "crowd-alert", "crowd-badge", "crowd-card", "crowd-fab", "crowd-icon-button",
    "crowd-instructions", "crowd-modal", "crowd-radio-group", "crowd-tab", "crowd-tabs", "crowd-toast",
})
PLAIN_CONTROLS = frozenset({"input", "select", "textarea"})
#: Plain input types that post nothing an answer keeps.
IGNORED_INPUT_TYPES = frozenset({"submit", "button", "file", "image", "reset"})


class AnswerError(ValueError):
    """A posted value the page's elements do not allow; the message says what to post instead."""


def supported_crowd_elements() -> frozenset[str]:
    """Every crowd element the portal implements: the tags its JavaScript defines (``ELEMENTS`` in
    ``static/crowd/``; a test holds the two equal). A page with any other ``crowd-`` element takes no answer."""
    return NAMED_ANSWER_ELEMENTS | BUILT_IN_ELEMENTS.keys() | DISPLAY_ELEMENTS




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
