"""
Worker task templates rendered as A2I renders them: Liquid with HTML autoescaping and A2I's own filters.

A2I renders a task UI template with ``task.input`` bound to the loop's input content. Everything printed is
HTML-escaped unless a filter says otherwise, and A2I adds five filters to standard Liquid:

- ``escape`` / ``escape_once``: explicit escaping; neither escapes text twice.
- ``skip_autoescape``: prints the value as it is (HTML the requester trusts).
- ``to_json``: the value as JSON, not escaped (templates write ``| to_json | escape`` inside attributes).
- ``grant_read_access``: an S3 object (``s3://bucket/key`` or an S3 URL) as a URL a browser can fetch.

Lists and dicts print as JSON (escaped), so ``initial-value="{{ task.input.blocks }}"`` hands the element
its JSON. Undefined variables print nothing.

Rendering is bounded (a template is an API client's input, rendered by RenderUiTemplate and on every task page):
at most ``LOOP_ITERATION_LIMIT`` loop iterations, ``OUTPUT_LIMIT`` bytes of output (UTF-8, captures included),
``NAMESPACE_LIMIT`` bytes of assigned variables and ``CONTEXT_DEPTH_LIMIT`` nested contexts; a template that hits
one fails like any other template error, saying which limit.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags.echo_tag import EchoNode, EchoTag
from liquid.exceptions import (
    ContextDepthError,
    FilterArgumentError,
    LiquidError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)
from liquid.stringify import to_liquid_string
from liquid.undefined import Undefined
from markupsafe import Markup, escape

__all__ = ["TemplateRenderError", "parse_s3_location", "render_template"]

GrantReadAccess = Callable[[str], str]

# Generous for real task UIs (AWS's samples loop over at most a few thousand Textract blocks and print well under
# 1 MB), small enough that one render costs well under a second of CPU and a few tens of MB of memory.
LOOP_ITERATION_LIMIT = 100_000
OUTPUT_LIMIT = 10_000_000
NAMESPACE_LIMIT = 10_000_000
CONTEXT_DEPTH_LIMIT = 30
_LIMITS: dict[type[ResourceLimitError], str] = {
    LoopIterationLimitError: f"more than {LOOP_ITERATION_LIMIT:,} loop iterations",
    OutputStreamLimitError: f"more than {OUTPUT_LIMIT:,} bytes of output",
    LocalNamespaceLimitError: f"more than {NAMESPACE_LIMIT:,} bytes of assigned variables",
    ContextDepthError: f"more than {CONTEXT_DEPTH_LIMIT} nested contexts (include or render tags)",
}


class TemplateRenderError(ValueError):
    """A task template that python-liquid cannot parse or render; ``line`` is 1-based, None when unknown."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


# --- printing: lists and dicts as JSON ---------------------------------------------------------------------


def _printable(value: object, autoescape: bool) -> str:
    # python-liquid prints a dict as its Python repr and a list as its items run together; A2I prints JSON.
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return to_liquid_string(value, autoescape)


class _JsonOutputNode(OutputNode):
    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(_printable(self.expression.evaluate(context), context.autoescape))

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(_printable(await self.expression.evaluate_async(context), context.autoescape))


class _JsonEchoNode(_JsonOutputNode, EchoNode):
    pass


class _JsonOutput(Output):
    node_class = _JsonOutputNode


class _JsonEcho(EchoTag):
    node_class = _JsonEchoNode


# --- A2I's filters ---------------------------------------------------------------------------------------------


class _Json(Markup):
    """``to_json``'s result: printed as it is, but it is text, not HTML, so ``escape`` escapes all of it."""

    __slots__ = ()


def _as_text(value: object) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    return value if isinstance(value, str) else str(value)


def _escape(value: object) -> str:
    if isinstance(value, _Json):
        return escape(str(value))
    if isinstance(value, Markup):
        # Captured output and string literals are Markup: escape what is not escaped yet, never twice.
        return _escape_once(value)
    return escape(_as_text(value))


def _escape_once(value: object) -> str:
    return escape(html.unescape(str(_as_text(value))))  # str(): plain text, so escape() cannot skip it


def _skip_autoescape(value: object) -> str:
    if isinstance(value, Markup):
        return value
    if isinstance(value, dict | list | tuple):
        return Markup(json.dumps(value, ensure_ascii=False, default=str))
    return Markup(_as_text(value))


def _to_json(value: object) -> str:
    if isinstance(value, Undefined):
        value = None
    text = json.dumps(value, ensure_ascii=False, default=str)
    # Same JSON value, but it cannot end a <script> element or open a tag where it is printed raw.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _Json(text)


_S3_HOST = r"s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?"  # s3, s3.REGION, s3-REGION, s3.dualstack.REGION
_PATH_STYLE_HOST = re.compile(rf"^{_S3_HOST}$")
_VIRTUAL_HOST = re.compile(rf"^(?P<bucket>.+?)\.{_S3_HOST}$")


def parse_s3_location(location: str) -> tuple[str, str] | None:
    """(bucket, key) of ``s3://bucket/key`` or of a path-style or virtual-hosted S3 URL; None for anything else."""
    location = location.strip()
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://"):].partition("/")
        return (bucket, key) if bucket and key else None
    parts = urlsplit(location)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    path = unquote(parts.path.lstrip("/"))
    if _PATH_STYLE_HOST.match(parts.hostname):
        bucket, _, key = path.partition("/")
        return (bucket, key) if bucket and key else None
    virtual = _VIRTUAL_HOST.match(parts.hostname)
    if virtual and path:
        return virtual.group("bucket"), path
    return None


def _public_s3_url(location: str) -> str:
    """An offline preview's URL for an S3 object: A2I's would be presigned, this one at least names it."""
    parsed = parse_s3_location(location)
    if parsed is None:
        return location
    bucket, key = parsed
    return f"https://{bucket}.s3.amazonaws.com/{quote(key, safe='/~')}"


def _grant_read_access_filter(grant: GrantReadAccess | None) -> Callable[[object], str]:
    def grant_read_access(value: object) -> str:
        # Captured output (the samples build the URI with {% capture %}) is HTML: read the text it holds.
        location = (html.unescape(value) if isinstance(value, Markup) else _as_text(value)).strip()
        if not location:
            return ""
        if grant is None:
            return escape(_public_s3_url(location))
        try:
            url = grant(location)
        except Exception as err:  # the callback's failure, reported at the filter's line
            raise FilterArgumentError(f"grant_read_access: {location}: {err}", token=None) from err
        return escape(url)

    return grant_read_access


class _CountingContext(RenderContext):
    """python-liquid bounds the iterations of each nest of loops; this bounds them over the whole render too, so
    that many loops one after another cannot add up to minutes of CPU."""

    __slots__ = ("iterations",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.iterations = 0

    def raise_for_loop_limit(self, length: int = 1) -> None:
        super().raise_for_loop_limit(length)
        self.iterations += length  # each start of a loop adds its length: the sum is every iteration rendered
        if self.iterations > LOOP_ITERATION_LIMIT:
            raise LoopIterationLimitError("loop iteration limit reached", token=None)


class _CountingTemplate(BoundTemplate):
    context_class = _CountingContext


class _BoundedEnvironment(Environment):
    template_class = _CountingTemplate
    loop_iteration_limit = LOOP_ITERATION_LIMIT
    output_stream_limit = OUTPUT_LIMIT
    local_namespace_limit = NAMESPACE_LIMIT
    context_depth_limit = CONTEXT_DEPTH_LIMIT


def _environment(grant: GrantReadAccess | None) -> Environment:
    environment = _BoundedEnvironment(autoescape=True)
    environment.add_tag(_JsonOutput)
    environment.add_tag(_JsonEcho)
    environment.add_filter("escape", _escape)
    environment.add_filter("escape_once", _escape_once)
    environment.add_filter("skip_autoescape", _skip_autoescape)
    environment.add_filter("to_json", _to_json)
    environment.add_filter("grant_read_access", _grant_read_access_filter(grant))
    return environment


# --- errors ----------------------------------------------------------------------------------------------------

_POSITION = re.compile(r"-> (?:'.*?'|\S+?):?(\d+):(\d+)\s*$", re.MULTILINE)
_UNCLOSED = re.compile(r"^expected tag end(\w+)")
_TAG = re.compile(r"{%-?\s*(\w+)")


def _unclosed_block_line(source: str, name: str) -> int | None:
    """The line of the last ``{% name %}`` that no ``{% endname %}`` closes (python-liquid only says one is missing)."""
    opened: list[int] = []
    for tag in _TAG.finditer(source):
        if tag.group(1) == name:
            opened.append(source.count("\n", 0, tag.start()) + 1)
        elif tag.group(1) == f"end{name}" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _limit_message(err: LiquidError) -> str | None:
    for kind, what in _LIMITS.items():
        if isinstance(err, kind):
            return f"rendering limit reached: the template needs {what}"
    return None


def _render_error(err: LiquidError, source: str) -> TemplateRenderError:
    message = _limit_message(err) or str(err.message if err.message is not None else type(err).__name__).strip()
    context = err.context()
    if context is not None:
        line, column, _, current, _ = context
        return TemplateRenderError(f"line {line}: {message} (column {column}: {current.strip()})", line)
    unclosed = _UNCLOSED.match(message)
    if unclosed:
        name = unclosed.group(1)
        opened_at = _unclosed_block_line(source, name)
        if opened_at is not None:
            return TemplateRenderError(
                f"line {opened_at}: {{% {name} %}} is never closed: add {{% end{name} %}} after its block", opened_at)
    # No token: the detailed message may still carry python-liquid's "-> '...' LINE:COLUMN" position.
    position = _POSITION.search(str(err))
    if position:
        line = int(position.group(1))
        return TemplateRenderError(f"line {line}: {message}", line)
    return TemplateRenderError(message, None)


def render_template(template: str, task_input: dict[str, Any], *,
                    grant_read_access: GrantReadAccess | None = None) -> str:
    """
    The HTML of a task template with ``task.input`` = ``task_input``, as A2I renders it (the template's own
    markup only: no page around it).

    ``grant_read_access`` turns the value given to the template filter of that name (an ``s3://`` URI or
    an S3 URL, as the template wrote it) into a URL the worker's browser can fetch; without it the filter
    gives the object's public S3 URL, enough for a preview. Raises :class:`TemplateRenderError`.
    """
    try:
        parsed = _environment(grant_read_access).from_string(template)
        return parsed.render(task={"input": task_input})
    except LiquidError as err:
        raise _render_error(err, template) from err
