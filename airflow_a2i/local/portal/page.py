"""The worker's task page: a rendered task template inside a document carrying the portal's crowd elements.

Amazon's crowd-html-elements.js cannot be loaded (nothing outside loopback is reachable), so the portal's own
implementation (the fragments in ``static/crowd/``, joined) is inlined into every page and the template's
``<script src="https://assets.crowd.aws/...">`` tags are dropped.
"""

from __future__ import annotations

import functools
import html
import re
from importlib import resources


# Only the scripts the page is built with run: the portal's crowd elements and the template's own inline <script>
# elements, each given the page's one-time nonce before the template is rendered, so no value of the task's input
# can add a script, an event handler attribute or a javascript: URL that runs. Templates bring their own styles
# ('unsafe-inline'); everything else (scripts from elsewhere, images, media, frames, requests, form posts) is kept
# on the service itself, and there are no plugins. Frames show the portal's own document links (grant_read_access:
# served to be framed by the portal alone). The page cannot be sandboxed itself: its form must post with the
# worker's session cookie, which an opaque origin would not send. ``allowed_origins`` (``--portal-allow-origin``,
# :func:`allowed_origin`) may also serve scripts, styles, images, media and frames: a sample's CDN, say.
def content_security_policy(nonce: str, allowed_origins: tuple[str, ...] = ()) -> str:
    extra = "".join(f" {origin}" for origin in allowed_origins)
    return (f"default-src 'self'; script-src 'nonce-{nonce}'{extra}; style-src 'self' 'unsafe-inline'{extra}; "
            f"img-src 'self' data: blob:{extra}; media-src 'self'{extra}; frame-src 'self'{extra}; "
            "connect-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


_ORIGIN = re.compile(r"https?://(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
                     r"(?::\d{1,5})?")


def allowed_origin(text: str) -> str:
    """``text`` as an origin the task page's policy may let in (``https://cdn.example``, ``http://host:8080``,
    ``https://*.example.org``), lower-cased; ValueError saying what to give instead."""
    origin = text.strip().rstrip("/").lower()
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"{text!r} is not an origin: give a scheme and a host, with a port if needed and nothing "
                         "after it, such as https://cdn.jsdelivr.net or http://localhost:8080")
    return origin


# A <script ...> start tag; attribute values may be quoted or not.
_ATTRIBUTE_TEXT = r"""(?:[^>"']|"[^"]*"|'[^']*')*?"""
_SCRIPT_START_TAG = re.compile(rf"<script\b({_ATTRIBUTE_TEXT})>", re.IGNORECASE | re.DOTALL)
_SRC_ATTRIBUTE = re.compile(r"""(?:^|\s)src\s*=""", re.IGNORECASE)


def with_script_nonce(template: str, nonce: str) -> str:
    """The template source with ``nonce`` on each of its own inline ``<script>`` elements: done before rendering,
    so a script that arrives in a rendered input value gets none. A script with ``src`` gets none either: where it
    may come from is the policy's to say (nothing outside the service, unless an origin is allowed)."""
    def tag(match: re.Match[str]) -> str:
        attributes = match.group(1)
        return match.group(0) if _SRC_ATTRIBUTE.search(_unquoted(attributes)) else \
            f'<script nonce="{nonce}"{attributes}>'
    return _SCRIPT_START_TAG.sub(tag, template)


def _unquoted(attributes: str) -> str:
    """The attribute text with quoted values blanked: a value mentioning src= is not a src attribute."""
    return re.sub(r""""[^"]*"|'[^']*'""", '""', attributes)

_CROWD_URL = r"(?:https?:)?//assets\.crowd\.aws(?::\d+)?(?![\w.-])"
_CROWD_ASSETS_SCRIPT = re.compile(
    rf"""<script\b{_ATTRIBUTE_TEXT}\ssrc\s*=\s*(?:"\s*{_CROWD_URL}[^"]*"|'\s*{_CROWD_URL}[^']*'|{_CROWD_URL}[^\s>]*)"""
    rf"""{_ATTRIBUTE_TEXT}>.*?</script\s*>""",
    re.IGNORECASE | re.DOTALL,
)


def _crowd_fragments(suffix: str) -> list[str]:
    """The texts of ``static/crowd/*<suffix>``, in name order."""
    folder = resources.files("airflow_a2i.local.portal").joinpath("static", "crowd")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(suffix))
    return [folder.joinpath(name).read_text(encoding="utf-8") for name in names]


def _inlinable(text: str, element: str) -> str:
    """``text``, checked safe to inline in an ``<element>``: it must not close that element."""
    if f"</{element}" in text.lower():
        raise ValueError(f"static/crowd/ must not contain '</{element}': it is inlined into the page")
    return text


@functools.cache
def crowd_elements_script() -> str:
    """The crowd elements' JavaScript, safe to inline in a ``<script>`` element: the fragments in one function
    scope, so each may use what an earlier one defines and nothing leaks into the template's scripts."""
    return _inlinable("(() => {\n  'use strict';\n\n" + "\n".join(_crowd_fragments(".js")) + "})();\n", "script")


@functools.cache
def crowd_elements_style() -> str:
    """The crowd elements' stylesheet, safe to inline in a ``<style>`` element."""
    return _inlinable("\n".join(_crowd_fragments(".css")), "style")


def strip_crowd_assets_scripts(body_html: str) -> str:
    """Remove the template's script tags loading Amazon's crowd elements: the portal provides its own."""
    return _CROWD_ASSETS_SCRIPT.sub("", body_html)


def task_page(body_html: str, *, title: str, csrf_token: str, submit_url: str, nonce: str,
              header_html: str = "") -> str:
    """A complete HTML document for one task.

    ``body_html`` is the already-rendered task template (its scripts given ``nonce``: :func:`with_script_nonce`);
    ``header_html`` is trusted portal markup shown above it. The crowd form posts to ``submit_url`` with
    ``csrf_token`` as the ``__a2i_csrf`` field.
    """
    def attribute(value: str) -> str:
        return html.escape(value, quote=True)

    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request
        f'<meta name="a2i-csrf" content="{attribute(csrf_token)}">',
        f'<meta name="a2i-submit" content="{attribute(submit_url)}">',
        f"<title>{html.escape(title, quote=False)}</title>",
        f"<style>{crowd_elements_style()}</style>",
        f'<script nonce="{attribute(nonce)}">{crowd_elements_script()}</script>',
        "</head>",
        "<body>",
        header_html,
        '<main class="a2i-task-page">',
        strip_crowd_assets_scripts(body_html),
        "</main>",
        "</body>",
        "</html>",
        "",
    ])
