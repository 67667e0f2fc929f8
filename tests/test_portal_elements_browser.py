"""The portal's crowd elements in headless Chromium: a worker's clicks and typing, and the form fields posted.

Pages are built with ``task_page`` and served (with the portal's Content-Security-Policy) by a small HTTP server
on loopback; each test interacts like a worker and checks the posted fields against the form contract.
"""

from __future__ import annotations

import html
import json
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import pytest

from airflow_a2i.local.portal.elements import CSRF_FIELD, find_elements, shape_answer
from airflow_a2i.local.portal.page import (
    content_security_policy,
    crowd_elements_script,
    strip_crowd_assets_scripts,
    task_page,
    with_script_nonce,
)
from tests.browser import browser, save_screenshot  # noqa: F401 (browser: a fixture)

# The page fixture, imported under another name (pytest registers it as `browser_page`) so that `page` stays
# free for local variables.
from tests.browser import page as browser_page  # noqa: F401

pytestmark = pytest.mark.timeout(60)

CSRF = "csrf-token-123"
SUBMIT_PATH = "/submit"
NONCE = "test-nonce-0123456789"
CROWD_SCRIPT = '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>'

Form = dict[str, list[str]]


# --- a loopback site serving task pages and images ------------------------------------------------------

@cache
def png(width: int, height: int) -> bytes:
    """A plain PNG of the given size (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xc8\xdc\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Site:
    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, body_html: str, *, header_html: str = "") -> str:
        path = f"/task/{len(self.pages)}"
        self.pages[path] = task_page(with_script_nonce(body_html, NONCE), title="Task", csrf_token=CSRF,
                                     submit_url=SUBMIT_PATH, nonce=NONCE, header_html=header_html)
        return self.base + path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                image = re.fullmatch(r"/img/(\d+)x(\d+)\.png", self.path)
                if image:
                    self._reply(200, "image/png", png(int(image[1]), int(image[2])))
                elif self.path == "/favicon.ico":  # asked for by the plain page answering the post
                    self._reply(204, "image/x-icon", b"")
                elif self.path in site.pages:
                    self._reply(200, "text/html; charset=utf-8", site.pages[self.path].encode())
                else:
                    self._reply(404, "text/plain", b"not found")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply(200, "text/html; charset=utf-8", b"<p>Submitted</p>")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", content_security_policy(NONCE))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def worker(browser_page: Any, site: Site) -> Iterator[Worker]:  # noqa: F811 (the fixture imported above)
    opened = Worker(browser_page, site)
    yield opened
    assert not opened.errors, f"page errors: {opened.errors}"


class Worker:
    """A page plus what a test needs around it: open a template, submit, and the posted form."""

    def __init__(self, page: Any, site: Site) -> None:
        self.page = page
        self.site = site
        self.body = ""
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, body_html: str, **options: Any) -> Any:
        self.body = CROWD_SCRIPT + body_html
        self.page.goto(self.site.add(self.body, **options))
        return self.page

    def answer(self, form: Form) -> dict[str, Any]:
        """The answerContent the server makes of this post (airflow_a2i.local.portal.elements)."""
        return shape_answer(find_elements(self.body), {CSRF_FIELD: [CSRF], **form})

    def submit(self, action: Callable[[], None] | None = None) -> Form:
        """Do the action (default: click Submit) and return the posted fields, CSRF field checked and removed."""
        def is_post(request: Any) -> bool:
            return request.method == "POST" and request.url == self.site.base + SUBMIT_PATH

        with self.page.expect_request(is_post) as posted:
            (action or self.click_submit)()
        form = parse_qs(posted.value.post_data or "", keep_blank_values=True, strict_parsing=False)
        assert form.pop(CSRF_FIELD) == [CSRF]
        self.page.wait_for_load_state()
        return form

    def click_submit(self) -> None:
        self.page.get_by_role("button", name="Submit", exact=True).click()

    def assert_not_submitted(self, action: Callable[[], None]) -> None:
        posts: list[str] = []
        self.page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
        action()
        self.page.wait_for_timeout(300)
        assert posts == []

    def hidden_json(self, name: str) -> Any:
        return json.loads(self.page.locator(f'input[type="hidden"][name="{name}"]').input_value())


def attr(value: Any) -> str:
    """A value as a Liquid template prints it into an attribute: JSON, HTML-escaped."""
    return html.escape(value if isinstance(value, str) else json.dumps(value), quote=True)


def near(actual: float, expected: float, tolerance: float = 2) -> bool:
    return abs(actual - expected) <= tolerance


# --- the page itself --------------------------------------------------------------------------------------

def test_task_page_document() -> None:
    document = task_page(CROWD_SCRIPT + "<p>task</p>", title="A <b> title", csrf_token='to"k<en>',
                         submit_url="/loops/1/submit?a=1&b=2", nonce=NONCE, header_html='<nav class="bar">Portal</nav>')
    assert document.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in document
    assert '<meta name="a2i-csrf" content="to&quot;k&lt;en&gt;">' in document
    assert '<meta name="a2i-submit" content="/loops/1/submit?a=1&amp;b=2">' in document
    assert "<title>A &lt;b&gt; title</title>" in document
    assert "assets.crowd.aws" not in document
    assert "customElements.define" in document and ".a2i-task" in document
    assert document.index('<nav class="bar">Portal</nav>') < document.index("<p>task</p>")


def test_crowd_assets_scripts_are_removed_and_nothing_else() -> None:
    kept = ('<script src="https://assets.crowd.aws.example.com/x.js"></script>'
            "<script>const url = 'https://assets.crowd.aws/crowd-html-elements.js';</script>")
    removed = ("<SCRIPT type=module src=//assets.crowd.aws/x.js ></script >"
               "<script data-note=\"a>b\" src='HTTPS://ASSETS.CROWD.AWS:443/crowd-html-elements.js'>\n</script>")
    assert strip_crowd_assets_scripts(f"a{CROWD_SCRIPT}b{removed}c{kept}") == f"abc{kept}"


def test_content_security_policy_keeps_everything_on_the_service() -> None:
    directives = dict(part.strip().split(" ", 1) for part in content_security_policy(NONCE).split(";"))
    assert directives["script-src"] == f"'nonce-{NONCE}'"  # no 'unsafe-inline': no handler attribute, no javascript:
    assert directives["default-src"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["img-src"] == "'self' data: blob:"


def test_static_files_ship_inside_the_package() -> None:
    crowd = resources.files("airflow_a2i.local.portal").joinpath("static", "crowd")
    assert crowd.joinpath("00-kit.js").is_file()
    assert crowd.joinpath("00-base.css").is_file()
    script = crowd_elements_script()
    # one function scope: the kit first, the registration last, every fragment's elements in between
    assert script.startswith("(() => {") and script.rstrip().endswith("})();")
    assert script.index("const ELEMENTS = []") < script.index("ELEMENTS.push(['crowd-classifier'") \
        < script.index("function defineAll()")


# --- attribute literals -----------------------------------------------------------------------------------

def test_attribute_literals_are_parsed_leniently(worker: Worker) -> None:
    page = worker.open("<p>literals</p>")
    parse = ("(text) => { try { return JSON.stringify(window.a2iCrowdElements.parseLiteral(text)); }"
             " catch (error) { return '\"ERROR\"'; } }")
    cases = {
        "['positive', 'negative',]": ["positive", "negative"],
        "[{label: 'cat', left: 1.5, top: -2, 'width': 3e1, \"height\": .5,},]": [
            {"label": "cat", "left": 1.5, "top": -2, "width": 30, "height": 0.5}],
        "{a: [1, , 2], b: null, c: True, d: None, e: undefined} // note": {
            "a": [1, 2], "b": None, "c": True, "d": None, "e": None},
        r"['it\'s', 'tab\there', '\u00e9\x41', `back`]": ["it's", "tab\there", "éA", "back"],
        "/* lead */ {__proto__: 'plain', $x_1: 0x1F}": {"__proto__": "plain", "$x_1": 31},
        '{"id": "k1", "ids": ["w1", "w2"]}': {"id": "k1", "ids": ["w1", "w2"]},
        "['unterminated": "ERROR",
        "alert(1)": "ERROR",
        "[1] [2]": "ERROR",
    }
    for text, expected in cases.items():
        assert json.loads(page.evaluate(parse, text)) == expected, text


# --- classifiers ----------------------------------------------------------------------------------------

def test_classifier_radios_and_template_submit_handler(worker: Worker) -> None:
    mixed = attr('"it\'s mixed"')  # double quotes in a single-quoted list, as the attribute literal allows
    page = worker.open(f"""
      <crowd-form>
        <crowd-classifier name="sentiment" categories="['positive', 'negative', {mixed},]"
                          header="What is the sentiment?">
          <classification-target><p>I love this product</p></classification-target>
          <short-instructions header="How to choose">Pick the overall tone.</short-instructions>
          <full-instructions header="Sentiment guide">Positive means the writer is pleased.</full-instructions>
        </crowd-classifier>
        <p id="error"></p>
      </crowd-form>
      <script>
        document.querySelector('crowd-form').onsubmit = (event) => {{
          if (!document.querySelector('input[name="sentiment"]:checked')) {{
            event.preventDefault();
            document.getElementById('error').textContent = 'Choose a sentiment first';
          }}
        }};
      </script>""")
    assert page.get_by_role("heading", name="What is the sentiment?").is_visible()
    assert page.get_by_text("I love this product").is_visible()
    assert page.get_by_role("complementary", name="Instructions").get_by_text("Pick the overall tone.").is_visible()
    assert not page.get_by_text("Positive means the writer is pleased.").is_visible()
    page.get_by_text("View full instructions").click()
    assert page.get_by_text("Positive means the writer is pleased.").is_visible()

    worker.assert_not_submitted(worker.click_submit)
    assert page.locator("#error").text_content() == "Choose a sentiment first"

    page.get_by_label("it's mixed").check()
    page.get_by_label("positive").check()
    form = worker.submit()
    assert form == {"sentiment": ["positive"]}
    assert worker.answer(form) == {"sentiment": {"label": "positive"}}


def test_multi_select_and_image_classifiers(worker: Worker) -> None:
    body = """
      <crowd-form>
        <crowd-classifier-multi-select name="topics" categories="['World', 'Sports', 'Business']"
                                       header="Which topics?" required>
          <classification-target>Markets rallied after the match.</classification-target>
        </crowd-classifier-multi-select>
        <crowd-image-classifier name="animal" src="/img/400x300.png" header="Which animal?"
                                categories="['Cat', 'Dog']"></crowd-image-classifier>
        <crowd-image-classifier-multi-select name="objects" src="/img/400x300.png" header="What is shown?"
                                             categories="['Tree', 'Car', 'House']"
                                             exclusion-category="{ text: 'None of the above' }">
        </crowd-image-classifier-multi-select>
      </crowd-form>"""
    page = worker.open(body)
    images = page.locator("img.a2i-task-image")
    assert images.count() == 2
    assert page.evaluate("[...document.images].every((image) => image.complete && image.naturalWidth === 400)")

    worker.assert_not_submitted(worker.click_submit)  # the multi-select is required
    page.get_by_label("World").check()
    page.get_by_label("Sports").check()
    page.get_by_label("Dog", exact=True).check()
    page.get_by_label("Comment (optional)").fill("Blurry, but a dog")
    page.get_by_label("Tree").check()
    page.get_by_label("None of the above").check()  # exclusive: clears Tree
    assert not page.get_by_label("Tree").is_checked()
    page.get_by_label("Car").check()  # and clears the exclusion again
    assert not page.get_by_label("None of the above").is_checked()
    form = worker.submit()
    assert form == {
        "topics": ["World", "Sports"],
        "animal": ["Dog"],
        "__a2i_comment:animal": ["Blurry, but a dog"],
        "objects": ["Car"],
    }
    assert worker.answer(form) == {
        "topics": {"labels": ["World", "Sports"]},
        "animal": {"label": "Dog", "workerComment": "Blurry, but a dog"},
        "objects": {"labels": ["Car"]},
    }

    page = worker.open(body)
    page.get_by_label("World").check()
    page.get_by_label("Tree").check()
    page.get_by_label("None of the above").check()  # the exclusion itself is not posted: no labels
    form = worker.submit()
    assert "objects" not in form
    assert worker.answer(form)["objects"] == {"labels": []}


def test_crowd_button_submits_and_a_classifier_alone_brings_its_form(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-input name="answer" label="Answer"></crowd-input>
        <crowd-button form-action="submit" variant="primary">Send answer</crowd-button>
      </crowd-form>""")
    assert page.get_by_role("button", name="Submit", exact=True).count() == 0
    page.get_by_label("Answer").fill("42")
    form = worker.submit(lambda: page.get_by_role("button", name="Send answer").click())
    assert form == {"answer": ["42"]}
    assert worker.answer(form) == {"answer": "42"}

    page = worker.open("""<crowd-classifier name="category" categories="['Spam', 'Not spam']" header="Spam?">
      </crowd-classifier>""")
    assert page.locator("crowd-form[data-a2i-generated] form crowd-classifier").count() == 1
    page.get_by_label("Not spam").check()
    form = worker.submit()
    assert form == {"category": ["Not spam"]}
    assert worker.answer(form) == {"category": {"label": "Not spam"}}


# --- inputs, checkboxes, radio groups, sliders, plain controls ---------------------------------------------

def test_inputs_checkboxes_radio_groups_slider_and_plain_controls(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-input name="your_name" label="Your name" placeholder="Full name" required></crowd-input>
        <crowd-input name="count" label="How many" type="number" value="3"></crowd-input>
        <crowd-input name="untouched" placeholder="Optional note"></crowd-input>
        <crowd-text-area name="notes" label="Notes" rows="3" value="first line"></crowd-text-area>
        <input name="plain_text" aria-label="Plain text">
        <select name="plain_select" aria-label="Plain select"><option>a</option><option>b</option></select>
        <crowd-checkbox name="addToCustom0">Add to the custom list</crowd-checkbox>
        <crowd-checkbox name="unticked" value="yes">Leave me</crowd-checkbox>
        <crowd-toggle-button name="urgent" value="yes">Urgent</crowd-toggle-button>
        <crowd-radio-group>
          <crowd-radio-button name="cat" value="kitty">Cat</crowd-radio-button>
          <crowd-radio-button name="dog">Dog</crowd-radio-button>
        </crowd-radio-group>
        <crowd-radio-group>
          <crowd-radio-button name="small">Small</crowd-radio-button>
          <crowd-radio-button name="large" checked>Large</crowd-radio-button>
        </crowd-radio-group>
        <crowd-slider name="confidence" min="0" max="10" step="1" value="5"></crowd-slider>
      </crowd-form>""")
    worker.assert_not_submitted(worker.click_submit)  # "Your name" is required
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Notes").fill("first line\nsecond line")
    page.get_by_label("Plain text").fill("plain")
    page.get_by_label("Plain select").select_option("b")
    page.get_by_label("Add to the custom list").check()
    page.get_by_role("switch", name="Urgent").check()
    page.get_by_label("Dog").check()
    slider = page.get_by_label("confidence")
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    assert page.locator("crowd-slider output").text_content() == "7"
    assert page.evaluate("document.querySelector('crowd-input[name=your_name]').value") == "Ada Lovelace"

    form = worker.submit()
    assert form == {
        "your_name": ["Ada Lovelace"],
        "count": ["3"],
        "untouched": [""],
        "notes": ["first line\r\nsecond line"],  # browsers post textarea line breaks as CRLF
        "plain_text": ["plain"],
        "plain_select": ["b"],
        "addToCustom0": ["on"],
        "urgent": ["yes"],
        "__a2i_radio_group:0": ["dog"],
        "__a2i_radio_group:1": ["large"],
        "confidence": ["7"],
    }
    assert worker.answer(form) == {
        "your_name": "Ada Lovelace",
        "count": "3",
        "notes": "first line\nsecond line",  # as A2I reads the textarea's value: LF
        "plain_text": "plain",
        "plain_select": "b",
        "addToCustom0": {"on": True},
        "unticked": {"yes": False},
        "urgent": {"yes": True},
        "cat": {"kitty": False},
        "dog": {"on": True},
        "small": {"on": False},
        "large": {"on": True},
        "confidence": 7,
    }


# --- entity annotation ------------------------------------------------------------------------------------

def select_text(page: Any, container: str, word: str) -> None:
    """Select a word of the container's text with the mouse, as a worker would."""
    rect = page.evaluate("""([selector, word]) => {
        const box = document.querySelector(selector);
        const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const at = node.data.indexOf(word);
          if (at < 0) continue;
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + word.length);
          const r = range.getBoundingClientRect();
          return {left: r.left, right: r.right, middle: r.top + r.height / 2};
        }
        return null;
      }""", [container, word])
    assert rect, f"{word!r} not found"
    page.mouse.move(rect["left"] + 1, rect["middle"])
    page.mouse.down()
    page.mouse.move(rect["right"] - 1, rect["middle"], steps=4)
    page.mouse.up()


def test_entity_annotation_selects_labels_and_submits_itself(worker: Worker) -> None:
    text = "😀 Alice met Bob in Paris."
    labels = [{"label": "person", "shortDisplayName": "per", "fullDisplayName": "Person"},
              {"label": "location", "fullDisplayName": "Location"}]
    page = worker.open(f"""
      <crowd-entity-annotation name="crowd-entity-annotation" header="Highlight the named entities"
                               labels="{attr(labels)}" text="{attr(text)}"
                               initial-value="{attr([{'label': 'person', 'startOffset': 12, 'endOffset': 15}])}">
        <short-instructions>Select a name, then choose its type.</short-instructions>
      </crowd-entity-annotation>""")
    assert page.locator(".a2i-entity-text").text_content() == text
    assert page.locator("mark.a2i-entity").text_content() == "Bob"

    page.get_by_role("button", name="Person", exact=True).click()  # nothing selected yet
    assert "Select some text first" in page.locator(".a2i-hint[aria-live]").text_content()
    select_text(page, ".a2i-entity-text", "Alice")
    page.get_by_role("button", name="Person", exact=True).click()
    select_text(page, ".a2i-entity-text", "Paris")
    page.get_by_role("button", name="Location", exact=True).click()
    select_text(page, ".a2i-entity-text", "Bob")
    page.get_by_role("button", name="Location", exact=True).click()  # overlaps the initial annotation: refused
    page.get_by_role("button", name="Delete Person: Bob").click()
    assert page.locator("mark.a2i-entity").all_text_contents() == ["Alice", "Paris"]
    save_screenshot(page, "portal-entity-annotation")

    # Offsets count characters (code points), so Python's text[start:end] is the annotated span.
    expected: dict[str, list[dict[str, Any]]] = {"entities": [{"label": "person", "startOffset": 2, "endOffset": 7},
                             {"label": "location", "startOffset": 19, "endOffset": 24}]}
    assert [text[e["startOffset"]:e["endOffset"]] for e in expected["entities"]] == ["Alice", "Paris"]
    form = worker.submit()  # its own Submit button: there is no crowd-form in the template
    assert list(form) == ["crowd-entity-annotation"]
    assert json.loads(form["crowd-entity-annotation"][0]) == expected
    assert worker.answer(form) == {"crowd-entity-annotation": expected}


# --- Textract and Rekognition -----------------------------------------------------------------------------

def word(block_id: str, text: str, confidence: float = 99.0) -> dict[str, Any]:
    return {"blockType": "WORD", "id": block_id, "text": text, "confidence": confidence}


def key_value(key_id: str, value_id: str, key_words: list[dict[str, Any]], value_words: list[dict[str, Any]],
              key_confidence: float, value_confidence: float, top: float) -> list[dict[str, Any]]:
    def geometry(left: float) -> dict[str, Any]:
        return {"boundingBox": {"left": left, "top": top, "width": 0.3, "height": 0.05}}

    return [
        {"blockType": "KEY_VALUE_SET", "id": key_id, "entityTypes": ["KEY"], "confidence": key_confidence,
         "geometry": geometry(0.05), "relationships": [
             {"type": "VALUE", "ids": [value_id]}, {"type": "CHILD", "ids": [w["id"] for w in key_words]}]},
        {"blockType": "KEY_VALUE_SET", "id": value_id, "entityTypes": ["VALUE"], "confidence": value_confidence,
         "geometry": geometry(0.5), "relationships": [{"type": "CHILD", "ids": [w["id"] for w in value_words]}]},
        *key_words, *value_words,
    ]


TEXTRACT_BLOCKS = [
    *key_value("k-name", "v-name", [word("w1", "Name:")], [word("w2", "Jane"), word("w3", "Doe")], 95.5, 61.25, 0.1),
    *key_value("k-date", "v-date", [word("w4", "Date:")], [word("w5", "2024-01-02")], 88, 90, 0.2),
    *key_value("k-mail", "v-mail", [word("w6", "Mail"), word("w7", "Address:")],
               [word("w8", "1"), word("w9", "Main"), word("w10", "St")], 99, 97, 0.3),
]
IMPORTANT_KEYS = [{"importantFormKey": "Mailing Address", "importantFormKeyAliases": ["Mail Address:"]},
                  {"importantFormKey": "Phone", "importantFormKeyAliases": []}]


def pair_texts(answer: dict[str, Any]) -> dict[str, str]:
    """Key text -> value text of the key-value pairs in a Textract answer's blocks."""
    blocks = {block["id"]: block for block in answer["AWS/Textract/AnalyzeDocument/Forms/V1"]["blocks"]}

    def text(block: dict[str, Any]) -> str:
        ids = [i for relation in block.get("relationships", []) if relation["type"] == "CHILD" for i in relation["ids"]]
        return " ".join(blocks[i]["text"] for i in ids)

    return {text(block): " ".join(text(blocks[i]) for relation in block["relationships"]
                                  if relation["type"] == "VALUE" for i in relation["ids"])
            for block in blocks.values() if "KEY" in block.get("entityTypes", [])}


def textract_template(*, key_edit: bool) -> str:
    return f"""
      <crowd-form>
        <crowd-textract-analyze-document src="/img/850x1100.png" initial-value="{attr(TEXTRACT_BLOCKS)}"
            header="Review the key-value pairs" {'' if key_edit else 'no-key-edit'} no-geometry-edit
            keys="{attr(IMPORTANT_KEYS)}" block-types="['KEY_VALUE_SET']">
          <short-instructions header="Instructions">Correct the values that differ.</short-instructions>
        </crowd-textract-analyze-document>
      </crowd-form>"""


def test_textract_values_corrected(worker: Worker) -> None:
    page = worker.open(textract_template(key_edit=False))
    rows = page.locator(".a2i-kv-table tbody tr")
    assert rows.count() == 4  # the three pairs and a row for the important key not found ("Phone")
    assert rows.nth(0).locator(".a2i-kv-key").text_content() == "Mail Address:"  # an important key comes first
    assert "important" in rows.nth(0).text_content()
    assert "not found" in rows.nth(1).text_content()
    assert page.get_by_label("Value for Name:").input_value() == "Jane Doe"
    assert page.get_by_role("textbox", name="Key Name:").count() == 0  # no-key-edit
    name_row = rows.filter(has_text="Name:")
    assert name_row.locator(".a2i-confidence").all_text_contents() == ["95.5%", "61.3% low"]
    assert name_row.locator(".a2i-low").count() == 1
    assert "The machine did not find “Phone”." in page.text_content("crowd-textract-analyze-document")
    assert page.get_by_label("Value for Phone").input_value() == ""  # its row, to add it: left empty, not posted
    assert page.get_by_text("Correct the values that differ.").is_visible()
    page.get_by_label("Value for Name:").focus()
    assert page.locator(".a2i-region.a2i-selected").count() == 2  # the pair is outlined on the document

    page.get_by_label("Value for Name:").fill("Jane Q. Doe")
    save_screenshot(page, "portal-textract-element")
    form = worker.submit()
    assert list(form) == ["__a2i_textract"]
    assert json.loads(form["__a2i_textract"][0]) == [
        {"keyBlockId": "k-mail", "value": "1 Main St"},
        {"keyBlockId": "k-name", "value": "Jane Q. Doe"},
        {"keyBlockId": "k-date", "value": "2024-01-02"},
    ]
    assert pair_texts(worker.answer(form)) == {
        "Mail Address:": "1 Main St", "Name:": "Jane Q. Doe", "Date:": "2024-01-02"}


def test_textract_keys_editable(worker: Worker) -> None:
    page = worker.open(textract_template(key_edit=True))
    page.get_by_label("Key Date:").fill("Date of birth:")
    page.get_by_label("Value for Date:").fill("1990-05-06")
    form = worker.submit()
    rows = json.loads(form["__a2i_textract"][0])
    assert {"keyBlockId": "k-date", "value": "1990-05-06", "key": "Date of birth:"} in rows
    assert all(sorted(row) == ["key", "keyBlockId", "value"] for row in rows)
    assert pair_texts(worker.answer(form))["Date of birth:"] == "1990-05-06"


def test_moderation_labels_and_none_of_these(worker: Worker) -> None:
    categories = [{"Name": "Suggestive", "ParentName": "", "Confidence": 61.2},
                  {"name": "Revealing Clothes", "parentName": "Suggestive"}]
    body = f"""
      <crowd-form>
        <crowd-rekognition-detect-moderation-labels categories="{attr(categories)}" src="/img/640x480.png"
            header="Review the image and choose every category that applies">
          <short-instructions header="Instructions">Choose what the image shows.</short-instructions>
        </crowd-rekognition-detect-moderation-labels>
      </crowd-form>"""
    page = worker.open(body)
    assert "in Suggestive" in page.locator("label", has_text="Revealing Clothes").text_content()
    assert "machine confidence 61.2%" in page.locator("label", has_text="Suggestive").first.text_content()
    worker.assert_not_submitted(worker.click_submit)  # an answer (a category or None) is required

    page.get_by_label("Revealing Clothes").check()
    page.get_by_label("None of these apply").check()
    assert not page.get_by_label("Revealing Clothes").is_checked()
    page.get_by_label("Suggestive", exact=False).first.check()
    assert not page.get_by_label("None of these apply").is_checked()
    save_screenshot(page, "portal-moderation-review")
    form = worker.submit()
    assert form == {"__a2i_moderation": ["Suggestive"]}
    assert worker.answer(form) == {
        "AWS/Rekognition/DetectModerationLabels/Image/V3": {
            "moderationLabels": [{"name": "Suggestive", "parentName": ""}]}}

    page = worker.open(body)
    page.get_by_label("None of these apply").check()
    form = worker.submit()
    assert form == {"__a2i_moderation_none": ["on"]}
    assert worker.answer(form) == {"AWS/Rekognition/DetectModerationLabels/Image/V3": {"moderationLabels": []}}


# --- display elements ---------------------------------------------------------------------------------------

def test_display_elements(worker: Worker) -> None:
    page = worker.open("""
      <crowd-instructions link-text="How to do this task">
        <short-summary><p>Read the card, answer the question.</p></short-summary>
        <detailed-instructions><p>Take your time.</p></detailed-instructions>
        <positive-example><p>A careful answer.</p></positive-example>
        <negative-example><p>A guess.</p></negative-example>
      </crowd-instructions>
      <crowd-form>
        <crowd-alert type="warning" dismissible>Check the date carefully.</crowd-alert>
        <crowd-card heading="Order 1234" image="/img/300x120.png"><p>Two books, one lamp.</p></crowd-card>
        <crowd-badge label="New"></crowd-badge>
        <crowd-tabs>
          <crowd-tab header="Question"><crowd-input name="q" label="Is the order complete?"></crowd-input></crowd-tab>
          <crowd-tab header="Details"><p>Shipped on Monday.</p></crowd-tab>
        </crowd-tabs>
        <crowd-modal link-text="See an example" link-type="button"><p>An example answer.</p></crowd-modal>
        <crowd-icon-button icon="close" title="Close panel"></crowd-icon-button>
        <crowd-fab label="Help"></crowd-fab>
        <crowd-toast text="Saved a draft" opened duration="0"></crowd-toast>
      </crowd-form>""", header_html='<nav class="portal-bar">Local A2I portal</nav>')
    assert page.get_by_role("navigation").text_content() == "Local A2I portal"
    instructions = page.locator(".a2i-crowd-instructions")
    for heading in ("Summary", "Detailed instructions", "Good example", "Bad example"):
        assert instructions.get_by_role("heading", name=heading).is_visible()
    page.get_by_text("How to do this task").click()  # collapses
    assert not page.get_by_text("Take your time.").is_visible()

    assert page.get_by_role("alert").filter(has_text="Check the date carefully.").is_visible()
    page.get_by_role("button", name="Dismiss").click()
    assert not page.get_by_text("Check the date carefully.").is_visible()
    assert page.get_by_role("article", name="Order 1234").get_by_role("img").is_visible()
    assert page.get_by_text("New", exact=True).is_visible()

    assert page.get_by_role("tab", name="Question").get_attribute("aria-selected") == "true"
    assert not page.get_by_text("Shipped on Monday.").is_visible()
    page.get_by_role("tab", name="Details").click()
    assert page.get_by_role("tabpanel", name="Details").get_by_text("Shipped on Monday.").is_visible()
    assert not page.get_by_label("Is the order complete?").is_visible()
    page.get_by_role("tab", name="Question").click()
    page.get_by_label("Is the order complete?").fill("yes")

    page.get_by_role("button", name="See an example").click()
    assert page.get_by_role("dialog", name="See an example").get_by_text("An example answer.").is_visible()
    save_screenshot(page, "portal-display-elements")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    assert not page.get_by_role("dialog").is_visible()

    assert page.get_by_role("button", name="Close panel").is_visible()
    assert page.get_by_role("button", name="Help").is_visible()
    assert page.get_by_role("status").filter(has_text="Saved a draft").is_visible()
    page.evaluate("document.querySelector('crowd-toast').close()")
    assert not page.get_by_text("Saved a draft").is_visible()
    assert worker.submit() == {"q": ["yes"]}


def test_unsupported_crowd_elements_are_flagged(worker: Worker) -> None:
    page = worker.open('<crowd-form><crowd-made-up name="p" src="/img/10x10.png"></crowd-made-up></crowd-form>')
    assert page.get_by_role("alert").first.text_content() == (
        "This task uses <crowd-made-up>, which the local worker portal does not support.")


def test_ready_event_and_element_properties(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-checkbox name="ok">OK</crowd-checkbox>
        <crowd-text-area name="t" label="Text"></crowd-text-area>
      </crowd-form>
      <script>
        document.addEventListener('all-crowd-elements-ready', () => { window.crowdReady = true; });
      </script>""")
    assert page.evaluate("window.crowdReady") is True
    page.evaluate("document.querySelector('crowd-checkbox').checked = true")
    page.evaluate("document.querySelector('crowd-text-area').value = 'set by the template'")
    assert worker.submit() == {"ok": ["on"], "t": ["set by the template"]}


# --- hostile values -------------------------------------------------------------------------------------------

SCRIPT = "<script>window.pwned = 1; alert(1)</script>"
IMAGE = "<img src=x onerror=\"window.pwned = 1; alert(1)\">"
QUOTE = "\" onmouseover=\"window.pwned = 1; alert(1)"


def test_hostile_values_show_as_text_and_never_run(worker: Worker) -> None:
    hostile = [SCRIPT, IMAGE, QUOTE]
    blocks = key_value("k1", "v1", [word("w1", SCRIPT)], [word("w2", IMAGE)], 50, 50, 0.1)
    page = worker.open(f"""
      <crowd-form>
        <crowd-classifier name="c" categories="{attr(hostile)}" header="{attr(IMAGE)}">
          <classification-target>target</classification-target>
        </crowd-classifier>
        <crowd-input name="i" label="{attr(SCRIPT)}" placeholder="{attr(QUOTE)}" value="{attr(IMAGE)}"></crowd-input>
        <crowd-bounding-box name="b" src="/img/200x100.png" labels="{attr(hostile)}"
            initial-value="{attr([{'label': IMAGE, 'left': 1, 'top': 1, 'width': 50, 'height': 50}])}">
        </crowd-bounding-box>
        <crowd-entity-annotation name="e" text="{attr(SCRIPT + ' and ' + IMAGE)}"
            labels="{attr([{'label': QUOTE, 'fullDisplayName': IMAGE}])}"
            initial-value="{attr([{'label': QUOTE, 'startOffset': 0, 'endOffset': 8}])}"></crowd-entity-annotation>
        <crowd-textract-analyze-document src="/img/100x100.png" initial-value="{attr(blocks)}" keys="{attr([SCRIPT])}">
        </crowd-textract-analyze-document>
        <crowd-rekognition-detect-moderation-labels src="/img/100x100.png"
            categories="{attr([{'name': IMAGE, 'parentName': SCRIPT}])}"></crowd-rekognition-detect-moderation-labels>
        <crowd-card heading="{attr(SCRIPT)}" image="javascript:alert(1)"><p>card</p></crowd-card>
        <crowd-button href="javascript:alert(1)">Open</crowd-button>
      </crowd-form>""")
    page.wait_for_function("document.querySelector('crowd-bounding-box img').naturalWidth > 0")
    for element in page.locator(".a2i-choice, .a2i-box, mark, .a2i-kv-table td").all():
        element.hover()
    page.wait_for_timeout(200)

    assert worker.dialogs == []
    assert page.evaluate("window.pwned") is None
    page_scripts = page.evaluate("[...document.scripts].map((script) => script.textContent)")
    assert not [script for script in page_scripts if "pwned" in script]
    assert page.locator("[onerror], [onmouseover], img[src='x']").count() == 0
    assert page.locator("a[href^='javascript'], img[src^='javascript']").count() == 0
    assert page.get_by_role("heading", name=IMAGE).is_visible()
    for value in hostile:
        assert page.locator("crowd-classifier .a2i-choice").get_by_text(value, exact=True).is_visible()
    assert page.locator("crowd-input").get_by_label(SCRIPT).input_value() == IMAGE
    assert page.get_by_label("Value for " + SCRIPT, exact=True).input_value() == IMAGE
    assert page.locator(".a2i-entity-text").text_content() == SCRIPT + " and " + IMAGE

    page.locator("crowd-classifier").get_by_label(QUOTE).check()
    page.locator("crowd-rekognition-detect-moderation-labels").get_by_label(IMAGE).check()
    form = worker.submit()
    assert form["c"] == [QUOTE]
    assert form["i"] == [IMAGE]
    assert form["__a2i_moderation"] == [IMAGE]
    assert json.loads(form["b"][0])["boundingBoxes"][0]["label"] == IMAGE
    assert json.loads(form["e"][0]) == {"entities": [{"label": QUOTE, "startOffset": 0, "endOffset": 8}]}
    assert json.loads(form["__a2i_textract"][0]) == [{"keyBlockId": "k1", "value": IMAGE, "key": SCRIPT}]


def test_only_the_templates_own_scripts_run(worker: Worker) -> None:
    """A template that prints an input into an href or an event handler (its author's mistake) runs nothing: the
    page's policy lets only the scripts given its nonce run, and rendered values never get one."""
    page = worker.open("""
      <script>window.templateRan = true;</script>
      <a id="go" href="javascript:window.pwned=1">a link made of an input</a>
      <img src="/img/10x10.png" onload="window.pwned=2" alt="an input in a handler">
      <crowd-form><crowd-input name="i"></crowd-input></crowd-form>""")
    page.locator("#go").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.templateRan") is True
    assert page.evaluate("window.pwned") is None
    assert worker.errors and all("Content Security Policy" in error for error in worker.errors), worker.errors
    worker.errors.clear()  # the refusals were the point
