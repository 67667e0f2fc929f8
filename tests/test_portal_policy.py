"""What task pages may load and who may frame the portal's documents: the Content-Security-Policy of task pages
(with and without ``--portal-allow-origin``), the nonce only inline template scripts get, and the framing headers of
document links. Pure: the Portal's WSGI routes with werkzeug's test client (``tests.test_portal_hardening.Site``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_a2i.cli import _parser
from airflow_a2i.local.portal.page import allowed_origin, content_security_policy, with_script_nonce
from tests.test_portal_hardening import TASK, Site, directives, documents

CDN = "https://cdn.example"
OUTSIDE_DIRECTIVES = ("script-src", "style-src", "img-src", "media-src", "frame-src")

# The documents fixture of the hardening tests, used here too.
documents = documents


@pytest.fixture
def cdn_site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path / "data", allowed_origins=(CDN, "http://localhost:8080"))
    yield made
    made.store.close()


@pytest.fixture
def plain_site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path / "data")
    yield made
    made.store.close()


def test_task_pages_load_nothing_from_outside_by_default(plain_site: Site) -> None:
    policy = directives(plain_site.worker("ana").get(TASK).headers["Content-Security-Policy"])
    nonce = policy["script-src"]
    assert nonce.startswith("'nonce-") and " " not in nonce  # the page's own scripts and nothing else
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["media-src"] == policy["frame-src"] == "'self'"  # the portal's own document links
    assert policy["frame-ancestors"] == "'none'" and policy["connect-src"] == "'self'"


def test_allowed_origins_may_serve_scripts_styles_images_media_and_frames(cdn_site: Site) -> None:
    policy = directives(cdn_site.worker("ana").get(TASK).headers["Content-Security-Policy"])
    for directive in OUTSIDE_DIRECTIVES:
        assert policy[directive].endswith(f" {CDN} http://localhost:8080"), (directive, policy[directive])
    # Never where answers or the page itself could go.
    for directive in ("default-src", "connect-src", "form-action", "frame-ancestors", "base-uri", "object-src"):
        assert CDN not in policy[directive], directive
    assert CDN not in cdn_site.worker("bea").get("/portal/tasks").headers["Content-Security-Policy"]


def test_only_inline_template_scripts_get_the_nonce() -> None:
    template = ("<script>inline()</script><SCRIPT type=module>mod()</SCRIPT>"
                '<script src="https://cdn.example/lib.js"></script><script type="text/javascript" SRC=/x.js></script>'
                "<script data-note='src=here'>quoted()</script>")
    assert with_script_nonce(template, "n0") == (
        '<script nonce="n0">inline()</script><script nonce="n0" type=module>mod()</SCRIPT>'
        '<script src="https://cdn.example/lib.js"></script><script type="text/javascript" SRC=/x.js></script>'
        "<script nonce=\"n0\" data-note='src=here'>quoted()</script>")


@pytest.mark.parametrize(("given", "origin"), [
    ("https://cdn.example", "https://cdn.example"),
    ("https://CDNJS.Cloudflare.com/", "https://cdnjs.cloudflare.com"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("https://*.example.org", "https://*.example.org"),
])
def test_allowed_origins_are_origins(given: str, origin: str) -> None:
    assert allowed_origin(given) == origin


@pytest.mark.parametrize("given", [
    "cdn.example", "https://cdn.example/lib.js", "https://cdn.example; script-src *", "'unsafe-inline'", "*",
    "https://cdn.example 'unsafe-eval'", "javascript:alert(1)", "https://", "ftp://cdn.example", "https://a..b",
])
def test_anything_else_is_refused_saying_what_to_give(given: str) -> None:
    with pytest.raises(ValueError, match="is not an origin: give a scheme and a host"):
        allowed_origin(given)


def test_the_serve_option_takes_origins_and_refuses_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["local", "serve", "--portal-allow-origin", "https://cdn.example/",
                                 "--portal-allow-origin", "http://localhost:8080"])
    assert args.portal_allow_origin == ["https://cdn.example", "http://localhost:8080"]
    assert _parser().parse_args(["local", "serve"]).portal_allow_origin == []
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["local", "serve", "--portal-allow-origin", "https://cdn.example/x.js"])
    assert exited.value.code == 2
    assert "'https://cdn.example/x.js' is not an origin" in capsys.readouterr().err


def test_the_policy_lists_each_allowed_origin_once_per_directive() -> None:
    policy = directives(content_security_policy("n", (CDN,)))
    assert all(policy[directive].split().count(CDN) == 1 for directive in OUTSIDE_DIRECTIVES)


@pytest.mark.parametrize(("key", "stored_type", "policy"), [
    ("scans/page.png", "image/png", "sandbox; default-src 'none'; frame-ancestors 'self'"),
    ("scans/page.pdf", "application/pdf", "frame-ancestors 'self'"),  # sandboxed, a PDF would not open
])
def test_documents_may_be_framed_by_the_portal_alone(plain_site: Site, documents: dict, key: str,
                                                     stored_type: str, policy: str) -> None:
    documents[("docs", key)] = (b"%PDF-1.4 or an image", stored_type)
    add = plain_site.portal.signer.sign
    ana = plain_site.worker("ana")
    worker = plain_site.store.get_worker("ana")
    assert worker is not None
    served = ana.get(f"/portal/objects/{add('docs', key, worker_id=worker.worker_id, now=plain_site.clock())}/x")
    assert served.status_code == 200
    assert served.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert served.headers["Content-Security-Policy"] == policy
    # Everything else of the portal is framed by nobody.
    assert ana.get("/portal/objects/not-a-token/x").headers["X-Frame-Options"] == "DENY"  # the 403
    assert ana.get("/portal/tasks").headers["X-Frame-Options"] == "DENY"
    assert ana.get(TASK).headers["X-Frame-Options"] == "DENY"
