"""What a task UI template needs that the local worker portal does not give (``airflow-a2i template check``).

A team moving its A2I task UIs to the portal learns it here before a worker does:

- crowd elements the portal does not define: their tasks cannot be done there;
- outside resources (scripts, styles, images, media, frames from another origin): the portal's pages load
  only from the service itself, so they stay blank or broken; Amazon's crowd-html-elements.js is the exception,
  the portal has its own;
- inline event handler attributes (``onclick="..."``) and ``javascript:`` URLs: the page's script policy runs
  only the template's ``<script>`` elements, so these do nothing; move them into a script.

It reads the template's source, not a rendered page: values of the task input are data and never add any of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from airflow_a2i.local.portal.elements.literals import supported_crowd_elements

# The attributes that make a browser fetch something, per element (``<a href>`` only navigates: not a resource).
_FETCHING_ATTRIBUTES = {
    "script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "frame": ("src",), "embed": ("src",),
    "object": ("data",), "video": ("src", "poster"), "audio": ("src",), "source": ("src", "srcset"),
    "track": ("src",), "link": ("href",), "input": ("src",), "crowd-image-classifier": ("src",),
}
_CROWD_ASSETS_HOST = "assets.crowd.aws"
_CSS_URL = re.compile(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)


def outside_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute or protocol-relative URL; None for anything on the page's origin
    (relative URLs, ``data:``, Liquid that the input fills in)."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://", "//")):
        return None
    parts = urlsplit(url if not url.startswith("//") else "https:" + url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else None


@dataclass
class TemplateReport:
    """What one template needs that the portal does not give; ``problems()`` says it for people."""

    elements: set[str] = field(default_factory=set)
    unsupported_elements: set[str] = field(default_factory=set)
    outside_resources: dict[str, set[str]] = field(default_factory=dict)  # origin -> the tags that load from it
    inline_handlers: set[str] = field(default_factory=set)  # attribute names, such as onclick
    javascript_urls: int = 0
    # tags that load a URL the task input gives without grant_read_access: fine when it is on the service
    input_urls: set[str] = field(default_factory=set)

    @property
    def workable(self) -> bool:
        """A worker can do the task on the portal as the template is."""
        return not (self.unsupported_elements or self.outside_resources or self.inline_handlers
                    or self.javascript_urls)

    def problems(self) -> list[str]:
        found = [f"<{tag}> is not an element the portal defines: its task cannot be done there"
                 for tag in sorted(self.unsupported_elements)]
        found += [f"{origin} (loaded by {', '.join(f'<{tag}>' for tag in sorted(tags))}) is outside the service: "
                  f"blocked unless `airflow-a2i local serve --portal-allow-origin {origin}`"
                  for origin, tags in sorted(self.outside_resources.items())]
        if self.inline_handlers:
            found.append(f"inline event handler attributes ({', '.join(sorted(self.inline_handlers))}) do not run "
                         "on the portal: add the listener from a <script> element instead")
        if self.javascript_urls:
            found.append(f"{self.javascript_urls} javascript: URL(s) do not run on the portal: use a <script> "
                         "element's listener")
        return found

    def notes(self) -> list[str]:
        """What depends on the task input rather than on the template."""
        return [f"<{tag}> loads a URL from the task input without grant_read_access: it shows only when the input "
                "gives a URL on the service (an s3:// URI through grant_read_access does)"
                for tag in sorted(self.input_urls)]


class _Checker(HTMLParser):
    def __init__(self, report: TemplateReport) -> None:
        super().__init__(convert_charrefs=True)
        self.report = report
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self.in_style = True
        if tag.startswith("crowd-"):
            self.report.elements.add(tag)
            if tag not in supported_crowd_elements():
                self.report.unsupported_elements.add(tag)
        for name, value in attrs:
            self._attribute(tag, name, value or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self._css(data, "style")

    def _attribute(self, tag: str, name: str, value: str) -> None:
        if name.startswith("on"):
            self.report.inline_handlers.add(name)
        if value.strip().lower().startswith("javascript:"):
            self.report.javascript_urls += 1
        if name == "style":
            self._css(value, tag)
        if name in _FETCHING_ATTRIBUTES.get(tag, ()) and "{{" in value and "grant_read_access" not in value:
            self.report.input_urls.add(tag)
        if name in _FETCHING_ATTRIBUTES.get(tag, ()):
            for url in value.split(",") if name == "srcset" else [value]:
                self._resource(tag, url.strip().split(" ")[0])

    def _css(self, text: str, tag: str) -> None:
        for url in _CSS_URL.findall(text):
            self._resource(tag, url)

    def _resource(self, tag: str, url: str) -> None:
        origin = outside_origin(url)
        if origin is None or (tag == "script" and urlsplit(origin).hostname == _CROWD_ASSETS_HOST):
            return  # the portal replaces Amazon's crowd elements script with its own
        self.report.outside_resources.setdefault(origin, set()).add(tag)


def check_template(source: str) -> TemplateReport:
    """What the template ``source`` (Liquid, as given to CreateHumanTaskUi) needs that the portal does not give."""
    report = TemplateReport()
    checker = _Checker(report)
    checker.feed(source)
    checker.close()
    return report
