"""The task page as templates script it, in headless Chromium: a page with an element the portal lacks cannot be
submitted, crowd-entity-annotation keeps the template's extra questions, the elements' JavaScript API (values, the
submit event, all-crowd-elements-ready), and the outside resources the page's policy lets in.

The loopback site and the worker come from ``test_portal_elements_browser``; the task pages are the project's own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_a2i.local.portal.elements import UnsupportedElements, supported_crowd_elements
from airflow_a2i.local.portal.page import content_security_policy, task_page, with_script_nonce
from tests import test_portal_elements_browser as elements
from tests.test_portal_elements_browser import NONCE, Worker, attr, select_text

# The fixtures of the elements' browser tests, used here too.
browser, browser_page, site, worker = elements.browser, elements.browser_page, elements.site, elements.worker

pytestmark = pytest.mark.timeout(60)


# --- supported elements: one truth ------------------------------------------------------------------------------

def test_the_server_and_the_page_support_the_same_crowd_elements(worker: Worker) -> None:
    page = worker.open("<p>nothing</p>")
    assert set(page.evaluate("window.a2iCrowdElements.supported")) == supported_crowd_elements()


# --- a page with an element the portal lacks is never submitted ----------------------------------------------

UNSUPPORTED_PAGE = """
  <crowd-form>
    <crowd-made-up name="drawing" src="/img/40x30.png">
      <short-instructions>
        <input type="date" name="receiptDate">
        <crowd-input name="helper" label="A helper field"></crowd-input>
      </short-instructions>
    </crowd-made-up>
  </crowd-form>"""


def test_a_page_with_an_unsupported_element_cannot_be_submitted_and_says_why(worker: Worker) -> None:
    page = worker.open(UNSUPPORTED_PAGE)
    reason = ("This task cannot be submitted here: it uses <crowd-made-up>, which the local worker portal does not "
              "support yet, so the answer would lack what it asks for.")
    assert page.locator(".a2i-refusal").text_content() == reason
    submit = page.get_by_role("button", name="Submit", exact=True)
    assert submit.is_disabled() and submit.get_attribute("title") == reason
    # Neither Enter in a field nor the crowd-form's submit() from a template script posts it.
    worker.assert_not_submitted(lambda: page.evaluate("document.querySelector('crowd-form').submit()"))
    worker.assert_not_submitted(lambda: page.get_by_label("A helper field").press("Enter"))
    # And the server refuses what a page like this posts, helper fields or not.
    with pytest.raises(UnsupportedElements, match="<crowd-made-up>"):
        worker.answer({"helper": ["x"], "receiptDate": ["2020-01-01"]})


def test_a_crowd_button_of_such_a_page_is_off_too(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-made-up name="a"></crowd-made-up>
        <crowd-button form-action="submit" variant="primary">Send</crowd-button>
      </crowd-form>""")
    assert page.get_by_role("button", name="Send").is_disabled()
    assert page.get_by_role("button", name="Submit").count() == 0  # the template's crowd-button is its submit


# --- crowd-entity-annotation keeps its other children ---------------------------------------------------------

# As AWS's named-entity-recognition-with-additional-classification sample does it: a question inside the element,
# moved by the template's script into the element's own form.
ENTITY_WITH_QUESTION = f"""
  <crowd-entity-annotation name="entities" header="Highlight the names"
      labels="{attr([{'label': 'person', 'fullDisplayName': 'Person'}])}" text="Ada wrote to Alan.">
    <short-instructions>Select names.</short-instructions>
    <div id="extraQuestion">
      <h3>What is the text about?</h3>
      <crowd-radio-group>
        <crowd-radio-button name="science" value="science">Science</crowd-radio-button>
        <crowd-radio-button name="letters" value="letters">Letters</crowd-radio-button>
      </crowd-radio-group>
    </div>
  </crowd-entity-annotation>
  <script>
    document.addEventListener('all-crowd-elements-ready', () => {{
      document.querySelector('crowd-entity-annotation').shadowRoot.querySelector('crowd-form').form
        .appendChild(extraQuestion);
      window.movedInto = extraQuestion.closest('form') ? 'form' : 'nowhere';
    }});
  </script>"""


def test_entity_annotation_shows_and_posts_the_templates_extra_question(worker: Worker) -> None:
    page = worker.open(ENTITY_WITH_QUESTION)
    assert page.evaluate("window.movedInto") == "form"
    # The question moved to the end of the form; the Submit row stays after it.
    assert page.evaluate("document.querySelector('form').lastElementChild.className") == "a2i-submit-row"
    assert page.get_by_role("heading", name="What is the text about?").is_visible()
    select_text(page, ".a2i-entity-text", "Ada")
    page.get_by_role("button", name="Person", exact=True).click()
    assert page.evaluate("document.querySelector('crowd-entity-annotation').value") == {
        "entities": [{"label": "person", "startOffset": 0, "endOffset": 3}]}
    page.get_by_label("Letters").check()
    form = worker.submit()
    assert worker.answer(form) == {
        "entities": {"entities": [{"label": "person", "startOffset": 0, "endOffset": 3}]},
        "science": {"science": False}, "letters": {"letters": True}}


def test_the_extra_question_shows_without_the_templates_script_too(worker: Worker) -> None:
    page = worker.open(ENTITY_WITH_QUESTION.split("<script>")[0])
    assert page.get_by_label("Science").is_visible() and page.get_by_label("Letters").is_visible()
    form = worker.submit()  # nothing chosen: both buttons were seen, both unchecked
    assert worker.answer(form) == {"entities": {"entities": []}, "science": {"science": False},
                                   "letters": {"letters": False}}


# --- the submit event -----------------------------------------------------------------------------------------

def test_submit_listeners_validate_and_cancel(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-input name="code" label="Code"></crowd-input>
      </crowd-form>
      <script>
        document.querySelector('crowd-form').addEventListener('submit', (event) => {
          const code = document.querySelector('crowd-input').value;
          if (code !== '42') event.preventDefault();
          window.seen = (window.seen || 0) + 1;
        });
        document.addEventListener('submit', () => { window.bubbled = true; });
      </script>""")
    page.get_by_label("Code").fill("7")
    worker.assert_not_submitted(worker.click_submit)
    assert page.evaluate("[window.seen, window.bubbled]") == [1, True]
    page.get_by_label("Code").fill("42")
    assert worker.submit() == {"code": ["42"]}


def test_an_onsubmit_handler_returning_false_cancels(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form><crowd-input name="x" label="X"></crowd-input></crowd-form>
      <script>
        document.querySelector('crowd-form').onsubmit = () => document.querySelector('crowd-input').value === 'ok';
      </script>""")
    worker.assert_not_submitted(worker.click_submit)
    page.get_by_label("X").fill("ok")
    assert worker.submit() == {"x": ["ok"]}


# --- outside resources ----------------------------------------------------------------------------------------

class Origin:
    """A loopback web server of its own origin: serves ``pages`` (path -> (HTML, Content-Security-Policy or
    None)) and, at /lib.js, a script as a CDN would."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.pages: dict[str, tuple[str, str | None]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://{host}:{self.server.server_address[1]}"

    def add(self, html: str, policy: str | None = None) -> str:
        path = f"/page/{len(self.pages)}"
        self.pages[path] = (html, policy)
        return self.origin + path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/lib.js":
                    self._reply(b"window.outsideScriptRan = true;", "text/javascript", None)
                elif self.path in origin.pages:
                    html, policy = origin.pages[self.path]
                    self._reply(html.encode(), "text/html; charset=utf-8", policy)
                else:
                    self._reply(b"", "text/plain", None, status=404)

            def _reply(self, body: bytes, content_type: str, policy: str | None, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if policy:
                    self.send_header("Content-Security-Policy", policy)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> Origin:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def outside() -> Iterator[Origin]:
    with Origin("localhost") as served:  # another host than the pages' 127.0.0.1: another origin
        yield served


@pytest.fixture(scope="module")
def pages() -> Iterator[Origin]:
    with Origin() as served:
        yield served


def test_outside_scripts_are_blocked_unless_their_origin_is_allowed(browser_page: Any, pages: Origin,
                                                                     outside: Origin) -> None:
    refusals: list[str] = []
    browser_page.on("console", lambda message: refusals.append(message.text))
    template = f'<crowd-form><p>cdn</p></crowd-form><script src="{outside.origin}/lib.js"></script>'
    page_html = task_page(with_script_nonce(template, NONCE), title="t", csrf_token="c", submit_url="/s", nonce=NONCE)
    assert f'<script src="{outside.origin}/lib.js">' in page_html  # no nonce: the policy decides where from

    browser_page.goto(pages.add(page_html, content_security_policy(NONCE)))
    assert browser_page.evaluate("window.outsideScriptRan === true") is False
    assert any("Content Security Policy" in text and outside.origin in text for text in refusals), refusals

    browser_page.goto(pages.add(page_html, content_security_policy(NONCE, (outside.origin,))))
    assert browser_page.evaluate("window.outsideScriptRan === true") is True


def test_element_values_round_trip(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-input name="i" label="I" value="start"></crowd-input>
        <crowd-slider name="s" min="0" max="10" value="3" label="S"></crowd-slider>
      </crowd-form>""")
    assert page.evaluate("document.querySelector('crowd-input').value") == "start"
    page.evaluate("document.querySelector('crowd-input').value = null")  # as AWS's samples clear a field
    page.evaluate("document.querySelector('crowd-slider').value = 7")
    assert worker.submit() == {"i": [""], "s": ["7"]}


def test_controls_an_element_does_not_place_are_still_shown(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-image-classifier name="animal" src="/img/40x30.png" categories="['cat', 'dog']" header="Which?">
          <div class="extra"><crowd-checkbox name="unsure">Not sure</crowd-checkbox></div>
          <p>Text alone stays out, as on AWS.</p>
        </crowd-image-classifier>
      </crowd-form>""")
    assert page.get_by_label("Not sure").is_visible()
    assert page.get_by_text("Text alone stays out").count() == 0
    page.get_by_label("cat").check()
    form = worker.submit()
    assert worker.answer(form) == {"animal": {"label": "cat"}, "unsure": {"on": False}}  # a box the worker saw


def test_templates_resize_the_instructions_through_the_elements_shadow_root(worker: Worker) -> None:
    """As AWS's layout has them in the element's shadow root: the instructions pane and the full instructions."""
    page = worker.open("""
      <crowd-form>
        <crowd-classifier-multi-select name="topics" categories="['a', 'b']" header="Topics?">
          <full-instructions header="All of it"><p>Everything.</p></full-instructions>
          <short-instructions><p>In short.</p></short-instructions>
        </crowd-classifier-multi-select>
      </crowd-form>
      <script>
        document.addEventListener('all-crowd-elements-ready', () => {
          const root = document.querySelector('crowd-classifier-multi-select').shadowRoot;
          root.querySelector('.awsui-app-layout__navigation').style.width = '400px';
          root.querySelector('.awsui-modal-dialog').style.maxWidth = '90%';
          window.noForm = root.querySelector('crowd-form') === null;
        });
      </script>""")
    assert page.evaluate("document.querySelector('.a2i-instructions').style.width") == "400px"
    assert page.evaluate("document.querySelector('.a2i-full-instructions').style.maxWidth") == "90%"
    assert page.evaluate("window.noForm") is True  # only the elements that submit alone have a form there
