"""The portal service with real S3 objects and Chromium: a PDF from grant_read_access shows in the template's
<iframe> (the portal frames its own document links, nobody else may), a page with a crowd element the portal
lacks takes no answer (the loop stays open), and ``local serve --portal-allow-origin`` reaches the task pages."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from pypdf import PdfWriter

from tests.conftest import unique
from tests.loops import start_loop
from tests.portal_client import PortalClient, add_worker
from tests.test_portal import team_flow, worker
from tests.test_portal_browser import log_in

pytestmark = pytest.mark.timeout(90)

PDF_TEMPLATE = """<crowd-form>
  <iframe id="document" title="The document" style="width: 100%; height: 400px"
          src="{{ task.input.document | grant_read_access }}" type="application/pdf"></iframe>
  <crowd-input name="note" label="Note"></crowd-input>
</crowd-form>"""


def tiny_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=100)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class OtherSite:
    """A page of another origin (same host, another port: same site, so the session cookie still goes along)."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    site = OtherSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


def frame_state(page: Any) -> dict[str, Any]:
    """The page's one frame (or the error page in its place): its URL, its document's type and markup."""
    page.wait_for_timeout(1000)
    for frame in page.main_frame.child_frames:
        try:
            body = frame.evaluate("() => document.contentType + ' ' + document.documentElement.outerHTML")
        except Exception as error:  # a cross-origin error page may not be readable
            body = f"unreadable: {error}"
        return {"url": frame.url, "body": body}
    raise AssertionError("no frame on the page")


def viewer_shows(page: Any, link: str) -> bool:
    """Chromium's PDF viewer (an extension frame inside the document's frame) got the document's content."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(frame.url == link and frame.parent_frame and frame.parent_frame.url.startswith("chrome-extension:")
               for frame in page.frames):
            return True
        page.wait_for_timeout(100)
    return False


def test_a_pdf_shows_in_the_templates_iframe_and_only_the_portal_may_frame_it(
        page: Any, local_service: str, portal_endpoint: str, output_bucket: str, other_site: OtherSite) -> None:
    team = unique("team")
    key = f"docs/{unique('contract')}.pdf"
    boto3.client("s3").put_object(Bucket=output_bucket, Key=key, Body=tiny_pdf(), ContentType="application/pdf")
    name = start_loop(team_flow(output_bucket, team, template=PDF_TEMPLATE),
                      {"document": f"s3://{output_bucket}/{key}"})
    worker_name = unique("worker")
    log_in(page, portal_endpoint, worker_name, add_worker(local_service, worker_name, team))

    documents: list[Any] = []
    page.on("response", lambda response: documents.append(response) if "/portal/objects/" in response.url else None)
    page.goto(f"{portal_endpoint}/portal/tasks/us-east-1/{name}")
    link = page.locator("iframe#document").get_attribute("src")
    assert link and link.startswith(f"{portal_endpoint}/portal/objects/")
    shown = frame_state(page)
    assert shown["url"] == link, shown  # not chrome-error://: the frame holds the document
    assert shown["body"].startswith("application/pdf "), shown["body"][:500]  # in Chromium's PDF viewer
    assert viewer_shows(page, link), [frame.url for frame in page.frames]
    assert documents and all(response.status == 200 for response in documents)  # the viewer fetches it again
    assert documents[0].headers["x-frame-options"] == "SAMEORIGIN"
    assert documents[0].headers["content-security-policy"] == "frame-ancestors 'self'"

    # Another origin framing the same link (the worker's cookie goes along: same site) gets nothing.
    other_site.html = f'<!DOCTYPE html><iframe id="stolen" src="{link}"></iframe>'
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    page.goto(other_site.url)
    framed = frame_state(page)
    assert framed["url"].startswith("chrome-error:") and not framed["body"].startswith("application/pdf"), framed
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in refusals), refusals


def test_a_post_from_a_page_with_an_unsupported_element_is_refused_and_the_loop_stays_open(
        portal_endpoint: str, output_bucket: str) -> None:
    team = unique("team")
    template = """<crowd-form>
      <crowd-made-up name="shapes" src="{{ task.input.image }}">
        <short-instructions><crowd-input name="helper" label="Helper"></crowd-input></short-instructions>
      </crowd-made-up>
    </crowd-form>"""
    name = start_loop(team_flow(output_bucket, team, template=template), {"image": "s3://b/i.png"})
    reviewer = worker(portal_endpoint, team)
    refused = reviewer.submit("us-east-1", name, {"helper": "x"})
    assert refused.status_code == 422
    assert "This task cannot be answered here" in refused.text and "&lt;crowd-made-up&gt;" in refused.text
    assert "the task stays open" in refused.text
    described = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "InProgress"
    assert name in reviewer.task_list().text  # still the worker's to answer once the portal supports it


def test_local_serve_lets_the_allowed_origins_into_task_pages(tmp_path: Path, output_bucket: str) -> None:
    from demo.service import ServiceProcess

    allowed = ("--portal-allow-origin", "https://cdnjs.cloudflare.com/", "--portal-allow-origin", "https://cdn.example")
    with ServiceProcess(tmp_path / "service", "--no-login", *allowed) as service:
        boto3.client("s3", endpoint_url=service.endpoint).create_bucket(Bucket=output_bucket)
        flow_arn = team_flow(output_bucket, "any", endpoint=service.endpoint)
        boto3.client("sagemaker-a2i-runtime", endpoint_url=service.endpoint).start_human_loop(
            HumanLoopName="cdn-loop", FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": "{}"})
        policy = PortalClient(service.portal).open_task("us-east-1", "cdn-loop").headers["Content-Security-Policy"]
    script_src = next(part.strip() for part in policy.split(";") if part.strip().startswith("script-src "))
    assert script_src.endswith(" https://cdnjs.cloudflare.com https://cdn.example"), policy
