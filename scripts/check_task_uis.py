"""Open task UI templates in Chromium as the worker portal shows them, and say which a worker can do.

    .venv/bin/python scripts/check_task_uis.py DIR_OR_FILE... [--allow-origin ORIGIN] [--json]

For each ``*.html`` template: what ``airflow-a2i template check`` says (elements the portal lacks, outside
resources, inline handlers), then the page itself, rendered with a made-up input (every ``task.input`` value an
image of the service, a text or a list; the built-in task types' from the recorded Textract fixture) on a loopback
site with the portal's page policy: script errors on the page, and whether its Submit button can be pressed. This is
how the README's list of AWS's sample task UIs was made (aws-samples/amazon-a2i-sample-task-uis); it needs the
``[local,dev]`` extras and Debian's chromium. A page that renders, runs without errors and can be submitted is one a
worker can open and answer; whether its answer is right is what the project's own templates' tests check.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_a2i.local.portal.page import content_security_policy, task_page, with_script_nonce  # noqa: E402
from airflow_a2i.local.portal.rendering import TemplateRenderError, render_template  # noqa: E402
from airflow_a2i.local.portal.template_check import check_template  # noqa: E402

NONCE = "check-task-uis-nonce"
IMAGE = "/img/320x240.png"
TEXTRACT_FIXTURE = ROOT / "tests" / "fixtures" / "a2i-textract-output.json"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xc8\xdc\xf0" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class MadeUpInput(dict):
    """``task.input``: the recorded Textract input's members where it has them, else an image URL for any key."""

    def __missing__(self, key: str) -> Any:
        return f"s3://bucket/{key}.png"


def made_up_input() -> dict[str, Any]:
    values: dict[str, Any] = MadeUpInput()
    if TEXTRACT_FIXTURE.exists():
        recorded = json.loads(TEXTRACT_FIXTURE.read_text())
        values.update({key: recorded[key] for key in ("aiServiceRequest", "aiServiceResponse",
                                                       "humanTaskActivationConditionResults",
                                                       "selectedAiServiceResponse") if key in recorded})
    values.update({"text": "The quick brown fox.", "labels": ["cat", "dog"], "translationPairs": [],
                   "conversation": [], "item": "an item"})
    return values


class Site:
    """A loopback site serving the rendered pages and a test image, with the portal's page policy."""

    def __init__(self, allowed_origins: list[str]) -> None:
        self.pages: dict[str, str] = {}
        policy = content_security_policy(NONCE, tuple(allowed_origins))
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/img/"):
                    self._reply("image/png", png(320, 240))
                elif self.path in site.pages:
                    self._reply("text/html; charset=utf-8", site.pages[self.path].encode())
                else:
                    self.send_response(404)
                    self.end_headers()

            def _reply(self, content_type: str, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", policy)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a page closed meanwhile
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, body_html: str) -> str:
        path = f"/task/{len(self.pages)}"
        self.pages[path] = task_page(body_html, title="Task", csrf_token="csrf", submit_url="/submit", nonce=NONCE)
        return self.base + path


def templates(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.html")) if path.is_dir() else [path]
    return found


def check_page(page: Any, site: Site, source: str) -> dict[str, Any]:
    """Render, open, and look: script errors, and whether Submit can be pressed."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        rendered = render_template(with_script_nonce(source, NONCE), made_up_input(),
                                   grant_read_access=lambda value: IMAGE)
    except TemplateRenderError as error:
        return {"rendered": False, "errors": [str(error)], "submittable": False}
    page.goto(site.add(rendered))
    page.wait_for_timeout(300)
    submit = page.get_by_role("button", name=re.compile(r"^\s*Submit\s*$"))
    submittable = submit.count() > 0 and submit.first.is_enabled()
    return {"rendered": True, "errors": errors, "submittable": submittable}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, metavar="DIR_OR_FILE")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="an origin the page may load from, as `local serve --portal-allow-origin` allows")
    parser.add_argument("--json", action="store_true", dest="as_json")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    site = Site(args.allow_origin)
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--headless", "--no-sandbox"])
        for path in templates(args.paths):
            source = path.read_text()
            report = check_template(source)
            page = browser.new_page()
            try:
                seen = check_page(page, site, source)
            finally:
                page.close()
            blocked = sorted(origin for origin in report.outside_resources if origin not in args.allow_origin)
            workable = seen["rendered"] and not seen["errors"] and seen["submittable"] and \
                not report.unsupported_elements and not report.inline_handlers and not blocked
            results.append({"template": str(path), "workable": workable, "problems": report.problems(), **seen})
        browser.close()
    for result in results:
        if args.as_json:
            print(json.dumps(result))
            continue
        print(f"{result['template']}: {'ok' if result['workable'] else 'not as it is'}")
        for problem in result["problems"] + [f"page error: {error}" for error in result["errors"]] + (
                [] if result["submittable"] else ["no Submit button that can be pressed"]):
            print(f"  - {problem}")
    print(f"{sum(result['workable'] for result in results)} of {len(results)} can be worked on as they are",
          file=sys.stderr)
    return 0 if all(result["workable"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
