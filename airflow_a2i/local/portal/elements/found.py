"""The answer elements of a page, and reading what the form posted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from airflow_a2i.local.portal.elements.literals import (
    BUILT_IN_ELEMENTS,
    NAMED_ANSWER_ELEMENTS,
    PLAIN_CONTROLS,
    AnswerError,
    parse_attribute_literal,
    supported_crowd_elements,
)


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

    @property
    def supported(self) -> bool:
        """False for a crowd element the portal does not implement: the worker cannot give its answer."""
        return not self.tag.startswith("crowd-") or self.tag in supported_crowd_elements()

    def describe(self) -> str:
        if self.tag in BUILT_IN_ELEMENTS or not self.name:
            return f"the {self.tag}"
        return f"the {self.tag} {self.name!r}"


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
        answers = tag in NAMED_ANSWER_ELEMENTS or tag in PLAIN_CONTROLS or tag in BUILT_IN_ELEMENTS
        unsupported = tag.startswith("crowd-") and tag not in supported_crowd_elements()
        if unsupported or (name and answers):
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
    """The elements of a rendered page that fill answer fields, in document order: the crowd answer elements,
    every named plain ``input``/``select``/``textarea`` (also those inside crowd elements), and every crowd
    element the portal does not implement (named or not: ``Element.supported`` is False)."""
    finder = _ElementFinder()
    finder.feed(html.replace("\r\n", "\n").replace("\r", "\n"))  # a browser's newline normalisation first
    finder.close()
    return finder.elements




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
