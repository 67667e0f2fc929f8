"""The security review's findings on the portal and the store, each kept as a test.

Pure: the Portal's WSGI routes driven with werkzeug's test client, a Store in a temporary directory, a stand-in for
the runtime, injected clocks (no sleeping), and hashlib.scrypt observed where the amount of hashing matters.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, cast

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import Client, EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from airflow_a2i.local import s3
from airflow_a2i.local.portal import accounts as accounts_module
from airflow_a2i.local.portal.accounts import (
    Accounts,
    AnonymousSessions,
    HashingBusy,
    LoginThrottle,
    UrlSigner,
    kept_secret,
    same_secret,
)
from airflow_a2i.local.portal.app import MAX_FIELD_BYTES, MAX_FORM_BYTES, MAX_FORM_FIELDS, Portal
from airflow_a2i.local.portal.rendering import TemplateRenderError, render_template
from airflow_a2i.local.store import NamedResource, Store
from tests.portal_client import csrf_of

REGION = "us-east-1"
ACCOUNT = "123456789012"
LOOP = "loop-1"
TASK = f"/portal/tasks/{REGION}/{LOOP}"
TEMPLATE = ('<crowd-form><img alt="document" src="{{ task.input.document | grant_read_access }}">'
            '<crowd-input name="note"></crowd-input></crowd-form>')
DOCUMENT = "s3://docs/scans/page.png"
LINK = re.compile(r'alt="document" src="([^"]*)"')


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Answers:
    """Stands in for the runtime: the portal only hands it answers."""

    def __init__(self) -> None:
        self.given: list[dict[str, Any]] = []

    def answer(self, region: str, name: str, answer: dict, worker_id: str, **_: Any) -> None:
        self.given.append({"loop": name, "answer": answer, "worker_id": worker_id})


class Site:
    """A portal on a store in ``data_dir``, with one open task of team ``reviewers``."""

    def __init__(self, data_dir: Path, *, accounts_options: dict[str, Any] | None = None, **portal_options: Any):
        self.store = Store(data_dir / "state.sqlite3")
        self.accounts = Accounts(self.store, **(accounts_options or {}))
        self.runtime = Answers()
        self.clock = portal_options.pop("clock", Clock())
        self.throttle_clock = Clock()
        portal_options.setdefault("login_throttle", LoginThrottle(clock=self.throttle_clock))
        self.portal = Portal(self.store, cast(Any, self.runtime), self.accounts, UrlSigner(b"k" * 32),
                             clock=self.clock, **portal_options)
        add_task(self.store)

    def app(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        return self.portal(Request(environ))(environ, start_response)

    def browser(self) -> Client:
        return Client(self.app)

    def add_worker(self, name: str, team: str = "reviewers") -> str:
        return self.accounts.add_worker(name, team)[1]

    def log_in(self, browser: Client, name: str, credential: str, *, address: str = "127.0.0.1",
               headers: dict[str, str] | None = None, **fields: str) -> TestResponse:
        csrf = csrf_of(browser.get("/portal/login").text)
        return browser.post("/portal/login", data={"__a2i_csrf": csrf, "name": name, "credential": credential,
                                                   **fields}, environ_base={"REMOTE_ADDR": address}, headers=headers)

    def worker(self, name: str) -> Client:
        browser = self.browser()
        assert self.log_in(browser, name, self.add_worker(name)).status_code == 303
        return browser


def add_task(store: Store, template: str = TEMPLATE) -> None:
    ui_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-task-ui/ui-1"
    flow_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:flow-definition/flow-1"
    store.put_task_ui(NamedResource(REGION, "ui-1", ui_arn, template, 0.0))
    store.put_flow_definition(NamedResource(REGION, "flow-1", flow_arn, {"HumanLoopConfig": {
        "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/reviewers",
        "HumanTaskUiArn": ui_arn, "TaskCount": 2}}, 0.0))
    with store.transaction() as db:
        store.insert_loop(db, {"region": REGION, "name": LOOP, "arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:"
                               f"human-loop/{LOOP}", "flow_definition_arn": flow_arn,
                               "input_content": json.dumps({"document": DOCUMENT}), "data_attributes": None,
                               "status": "InProgress", "creation_time": time.time(), "expires_at": None})


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path / "data")
    yield made
    made.store.close()


@pytest.fixture
def no_login_site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path / "data-no-login", login_required=False)
    yield made
    made.store.close()


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = hashlib.scrypt

    def counting(password: bytes, **options: Any) -> bytes:
        calls.append(options)
        return real(password, **options)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


@pytest.fixture
def documents(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], tuple[bytes, str]]:
    """The bucket the portal serves documents from: (bucket, key) -> (body, stored Content-Type)."""
    stored: dict[tuple[str, str], tuple[bytes, str]] = {("docs", "scans/page.png"): (b"\x89PNG page", "image/png")}
    monkeypatch.setattr(s3, "object_response", lambda bucket, key: stored.get((bucket, key)))
    return stored


def link_of(page: TestResponse) -> str:
    found = LINK.search(page.text)
    assert found, page.text[:2000]
    return found.group(1).replace("&amp;", "&").removeprefix("http://localhost")


def submit(browser: Client, fields: dict[str, str] | MultiDict, **options: Any) -> TestResponse:
    csrf = csrf_of(browser.get(TASK).text)
    data = MultiDict(fields)
    data.add("__a2i_csrf", csrf)
    return browser.post(TASK, data=data, **options)


# 1. Hashing is bounded ----------------------------------------------------------------------------------------


def test_at_most_the_allowed_number_of_logins_hash_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "state.sqlite3")
    accounts = Accounts(store, max_concurrent_hashes=2, hash_wait_seconds=0.05)
    _, credential = accounts.add_worker("ana", "reviewers")
    inside, release = threading.Semaphore(0), threading.Event()
    real = hashlib.scrypt

    def held(password: bytes, **options: Any) -> bytes:
        if threading.current_thread().name.startswith("holder"):
            inside.release()
            release.wait(30)
        return real(password, **options)

    monkeypatch.setattr(hashlib, "scrypt", held)
    holders = [threading.Thread(target=accounts.log_in, args=("ana", credential), name=f"holder-{number}")
               for number in range(2)]
    for holder in holders:
        holder.start()
    try:
        assert all(inside.acquire(timeout=30) for _ in holders)
        with pytest.raises(HashingBusy, match="try again"):
            accounts.log_in("ana", credential)  # a third login at once does not hash: it is told to come back
    finally:
        release.set()
        for holder in holders:
            holder.join(30)
    assert accounts.log_in("ana", credential)[1].worker.name == "ana"  # the slots are free again
    store.close()


def test_a_login_finding_no_hashing_slot_gets_a_try_again_page(tmp_path: Path) -> None:
    site = Site(tmp_path / "data", accounts_options={"max_concurrent_hashes": 1, "hash_wait_seconds": 0.01})
    credential = site.add_worker("ana")
    browser = site.browser()
    with site.accounts.hashing.slot(None):  # every slot taken
        busy = site.log_in(browser, "ana", credential)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "5"
    assert "busy" in busy.text and "try again" in busy.text
    assert site.log_in(browser, "ana", credential).status_code == 303
    site.store.close()


# 2. Failed logins are limited ---------------------------------------------------------------------------------


def test_failed_logins_are_limited_per_client_address(site: Site) -> None:
    credential = site.add_worker("ana")
    browser = site.browser()
    for attempt in range(10):  # other names, and a forged X-Forwarded-For, change nothing without a trusted proxy
        refused = site.log_in(browser, f"guess-{attempt}", "wrong", address="10.0.0.1")
        assert refused.status_code == 401
    limited = site.log_in(browser, "ana", credential, address="10.0.0.1", headers={"X-Forwarded-For": "192.0.2.7"})
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "Too many failed logins" in limited.text
    assert site.log_in(site.browser(), "ana", credential, address="10.0.0.2").status_code == 303  # others may
    site.throttle_clock.now += 61  # the window slides on
    assert site.log_in(browser, "ana", credential, address="10.0.0.1").status_code == 303


def test_failed_logins_are_limited_per_worker_name(site: Site) -> None:
    credential = site.add_worker("ana")
    for attempt in range(10):  # one guess each from ten addresses
        assert site.log_in(site.browser(), "ana", "wrong", address=f"10.0.1.{attempt}").status_code == 401
    limited = site.log_in(site.browser(), "ana", credential, address="10.0.2.1")
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert site.log_in(site.browser(), "bo", "wrong", address="10.0.2.1").status_code == 401  # another name: asked
    site.throttle_clock.now += 61
    assert site.log_in(site.browser(), "ana", credential, address="10.0.2.1").status_code == 303


def test_a_limited_login_does_no_hashing(site: Site, scrypt_calls: list[dict[str, Any]]) -> None:
    for _ in range(10):
        site.log_in(site.browser(), "ana", "wrong")
    before = len(scrypt_calls)
    assert site.log_in(site.browser(), "ana", "wrong").status_code == 429
    assert len(scrypt_calls) == before


def test_the_login_throttle_keeps_a_bounded_number_of_keys() -> None:
    clock = Clock()
    throttle = LoginThrottle(limit=2, window_seconds=60, clock=clock, max_keys=3)
    for number in range(10):
        throttle.failed(f"name:{number}")
    assert len(throttle._failures) == 3
    throttle.failed("name:9")
    assert throttle.retry_after("name:9") == 60
    clock.now += 30
    assert throttle.retry_after("name:9", "name:0") == 30


# 3. An unknown name costs what a known one does ---------------------------------------------------------------


def test_an_unknown_worker_name_runs_the_same_hashing_as_a_known_one(site: Site,
                                                                      scrypt_calls: list[dict[str, Any]]) -> None:
    site.add_worker("ana")
    scrypt_calls.clear()
    assert site.log_in(site.browser(), "ana", "wrong").status_code == 401
    known = list(scrypt_calls)
    scrypt_calls.clear()
    assert site.log_in(site.browser(), "nobody", "wrong").status_code == 401
    def work(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:  # the salt differs, the work does not
        return [{**call, "salt": len(call["salt"])} for call in calls]

    assert work(scrypt_calls) == work(known) and len(known) == 1


# 4. Secrets compared as bytes: never a 500 ---------------------------------------------------------------------


def test_same_secret_never_raises() -> None:
    assert same_secret("token", "token") and same_secret(b"token", "token")
    for given in ("é", "tokén", "\ud800", "\udc80", "", None, "token "):
        assert not same_secret(given, "token")


def test_non_ascii_csrf_tokens_and_link_macs_are_refused_not_crashed(site: Site, documents: dict) -> None:
    browser = site.browser()
    browser.get("/portal/login")
    login = browser.post("/portal/login", data={"__a2i_csrf": "é", "name": "ana", "credential": "x"})
    assert login.status_code == 403
    worker = site.worker("ana")
    task = worker.post(TASK, data={"__a2i_csrf": "jeton-é", "note": "x"})
    assert task.status_code == 403
    logout = worker.post("/portal/logout", data={"__a2i_csrf": "ü"})
    assert logout.status_code == 403
    payload = link_of(worker.get(TASK)).split("/portal/objects/", 1)[1].split(".", 1)[0]
    for token in (f"{payload}.é", f"{payload}.%C3%A9", "é.é", "%FF"):
        assert worker.get(f"/portal/objects/{token}/page.png").status_code == 403
    assert site.runtime.given == []


def test_a_non_ascii_session_cookie_is_no_session(site: Site, no_login_site: Site) -> None:
    for portal in (site, no_login_site):
        browser = portal.browser()
        browser.set_cookie("a2i_portal_session", "anon.é.é", path="/portal")
        assert browser.get("/portal/tasks").status_code == 303


# 5. After logging in: only a path of the portal ----------------------------------------------------------------


@pytest.mark.parametrize("next_path", [
    "/portal/tasks\r\nSet-Cookie: stolen=1", "/portal/tasks\nX: y", "/portal/tasks\x00", "/portal/a\tb",
    "//evil.example/portal/", "https://evil.example/portal/", "/\\evil.example", "/portal/../_a2i/workers",
    "/portal/%2e%2e/x", "javascript:alert(1)", "/portal/tâches", "",
])
def test_login_goes_on_only_to_a_same_origin_portal_path(site: Site, next_path: str) -> None:
    credential = site.add_worker("ana")
    browser = site.browser()
    shown = browser.get("/portal/login", query_string={"next": next_path}).text
    assert 'name="next" value="/portal/tasks"' in shown
    logged_in = site.log_in(browser, "ana", credential, next=next_path)
    assert logged_in.status_code == 303
    assert logged_in.headers["Location"] == "/portal/tasks"


def test_login_goes_on_to_the_portal_page_asked_for(site: Site) -> None:
    credential = site.add_worker("ana")
    asked = site.browser().get(f"{TASK}?x=1")
    assert asked.status_code == 303
    assert asked.headers["Location"] == f"/portal/login?next={TASK}%3Fx%3D1"
    logged_in = site.log_in(site.browser(), "ana", credential, next=f"{TASK}?x=1")
    assert logged_in.headers["Location"] == f"{TASK}?x=1"


def test_a_first_visit_without_login_to_an_odd_path_is_redirected_safely(no_login_site: Site) -> None:
    first = no_login_site.browser().get("/portal/tasks%0d%0aSet-Cookie:%20x=1")
    assert first.status_code == 303
    assert "\r" not in first.headers["Location"] and "\n" not in first.headers["Location"]
    assert first.headers["Location"].startswith("/portal/")


# 6. Without login: nothing stored, nothing hashed per request ----------------------------------------------------


def test_without_login_cookieless_requests_store_and_hash_nothing(no_login_site: Site,
                                                                  scrypt_calls: list[dict[str, Any]]) -> None:
    for _ in range(5):
        assert no_login_site.browser().get("/portal/tasks").status_code == 303
    assert scrypt_calls == []
    assert no_login_site.store.list_workers() == []


def test_without_login_each_browser_keeps_its_own_worker(no_login_site: Site) -> None:
    first, second = no_login_site.browser(), no_login_site.browser()
    names = []
    for browser in (first, second, first):
        page = browser.get("/portal/tasks", follow_redirects=True)
        assert page.status_code == 200 and LOOP in page.text
        names.append(re.search(r"Signed in as (reviewer-[0-9a-f]{8})", page.text).group(1))  # type: ignore[union-attr]
    assert names[0] == names[2] != names[1]
    assert submit(first, {"note": "one"}).status_code == 303
    assert submit(second, {"note": "two"}).status_code == 303
    workers = [given["worker_id"] for given in no_login_site.runtime.given]
    assert len(set(workers)) == 2


def test_an_anonymous_cookie_is_worth_nothing_when_login_is_on(site: Site) -> None:
    token = AnonymousSessions(accounts_module.derived_key(site.portal.signer.key, "anonymous portal sessions")).new()
    browser = site.browser()
    browser.set_cookie("a2i_portal_session", token, path="/portal")
    refused = browser.get("/portal/tasks")
    assert refused.status_code == 303 and refused.headers["Location"].startswith("/portal/login")


def test_anonymous_sessions_expire() -> None:
    clock = Clock()
    sessions = AnonymousSessions(b"k" * 32, session_seconds=60, clock=clock)
    token = sessions.new()
    assert sessions.session(token) is not None
    assert sessions.session(token.replace("anon.", "anon.0")) is None
    clock.now += 61
    assert sessions.session(token) is None


# 7. Form posts are bounded --------------------------------------------------------------------------------------


class Unreadable(io.RawIOBase):
    """A request body that fails the request if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


def test_a_form_over_the_limit_is_refused_before_it_is_read(site: Site) -> None:
    worker = site.worker("ana")
    for path in (TASK, "/portal/login"):
        environ = EnvironBuilder(path, method="POST", content_type="application/x-www-form-urlencoded").get_environ()
        environ.update({"CONTENT_LENGTH": str(MAX_FORM_BYTES + 1), "wsgi.input": Unreadable()})
        refused = worker.open(Request(environ))
        assert refused.status_code == 413
        assert "at most 1024 KiB" in refused.text
    assert site.runtime.given == []


def test_too_many_fields_or_too_long_a_value_is_refused_and_nothing_stored(site: Site) -> None:
    worker = site.worker("ana")
    many = MultiDict([(f"extra{number}", "v") for number in range(MAX_FORM_FIELDS)])
    long_value = {"note": "x", "extra": "y" * (MAX_FIELD_BYTES + 1)}
    long_name = {"note": "x", "z" * (MAX_FIELD_BYTES + 1): "y"}
    for fields in (many, long_value, long_name):
        for content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            refused = submit(worker, fields, content_type=content_type)
            assert refused.status_code == 413, (content_type, refused.text[:300])
    assert site.runtime.given == []
    kept = submit(worker, {"note": "fine", "extra": "y" * 1000})
    assert kept.status_code == 303
    assert site.runtime.given[0]["answer"] == {"note": "fine", "extra": "y" * 1000}


# 8. Document links: bound to the worker, short-lived, never active content ------------------------------------


def test_a_document_link_works_only_in_its_workers_session(site: Site, documents: dict) -> None:
    ana, bo = site.worker("ana"), site.worker("bo")
    link = link_of(ana.get(TASK))
    assert link.startswith("/portal/objects/") and link.endswith("/page.png")
    shown = ana.get(link)
    assert shown.status_code == 200 and shown.data == b"\x89PNG page"
    assert shown.headers["Content-Type"] == "image/png"
    assert site.browser().get(link).status_code == 403  # copied from a log: no session, nothing
    assert bo.get(link).status_code == 403  # another worker's session: nothing either
    assert bo.get(link_of(bo.get(TASK))).status_code == 200


def test_document_links_expire_in_minutes_and_reloading_the_task_renews_them(site: Site, documents: dict) -> None:
    ana = site.worker("ana")
    link = link_of(ana.get(TASK))
    site.clock.now += 299
    assert ana.get(link).status_code == 200
    site.clock.now += 2
    assert ana.get(link).status_code == 403
    renewed = link_of(ana.get(TASK))
    assert renewed != link and ana.get(renewed).status_code == 200


def test_without_login_a_link_is_bound_to_the_browsers_anonymous_worker(no_login_site: Site,
                                                                         documents: dict) -> None:
    first, second = no_login_site.browser(), no_login_site.browser()
    link = link_of(first.get(TASK, follow_redirects=True))
    assert first.get(link).status_code == 200
    second.get("/portal/tasks")
    assert second.get(link).status_code == 403


@pytest.mark.parametrize(("key", "stored_type", "served_type", "attachment"), [
    ("scans/page.png", "image/png", "image/png", False),
    ("scans/page.txt", "text/plain", "text/plain", False),
    ("scans/page.pdf", "binary/octet-stream", "application/pdf", False),
    ("scans/page.html", "text/html", "application/octet-stream", True),
    ("scans/page.svg", "image/svg+xml", "application/octet-stream", True),
    ("scans/app.js", "text/javascript", "application/octet-stream", True),
    ("scans/look.css", "text/css", "application/octet-stream", True),
    ("scans/page.xhtml", "binary/octet-stream", "application/octet-stream", True),
])
def test_documents_are_never_active_content_on_the_portal(tmp_path: Path, documents: dict, key: str,
                                                           stored_type: str, served_type: str,
                                                           attachment: bool) -> None:
    documents[("docs", key)] = (b"<script>alert(1)</script>", stored_type)
    site = Site(tmp_path / "data")
    ana = site.worker("ana")
    worker = site.store.get_worker("ana")
    assert worker is not None
    token = site.portal.signer.sign("docs", key, worker_id=worker.worker_id, now=site.clock())
    served = ana.get(f"/portal/objects/{token}/{PurePosixPath(key).name}")
    assert served.status_code == 200
    assert served.headers["Content-Type"].split(";")[0] == served_type
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert ("Content-Disposition" in served.headers) == attachment
    if served_type != "application/pdf":  # a sandboxed PDF does not open in the browser's viewer
        policy = served.headers["Content-Security-Policy"]
        assert policy.split(";")[0].strip() == "sandbox" and "allow-same-origin" not in policy
    site.store.close()


def test_task_pages_run_only_their_own_scripts_and_portal_pages_none(site: Site) -> None:
    ana = site.worker("ana")
    first, again = (directives(ana.get(TASK).headers["Content-Security-Policy"]) for _ in range(2))
    nonce = first["script-src"].removeprefix("'nonce-").removesuffix("'")
    assert first["script-src"] == f"'nonce-{nonce}'" and len(nonce) >= 16 and again["script-src"] != first["script-src"]
    assert "'unsafe-inline'" not in first["script-src"] and first["object-src"] == "'none'"
    page_policy = directives(ana.get("/portal/tasks").headers["Content-Security-Policy"])
    assert page_policy["script-src"] == "'none'" and page_policy["frame-ancestors"] == "'none'"


def directives(policy: str) -> dict[str, str]:
    found = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        found[name] = value
    return found


# 9. Cookies: Secure over HTTPS, behind a trusted proxy, or when told ------------------------------------------


def cookie_flags(response: TestResponse, name: str = "a2i_portal_session") -> set[str]:
    [header] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    flags = set()
    for part in header.split(";")[1:]:
        attribute, _, value = part.strip().lower().partition("=")
        flags.add(f"{attribute}={value}" if attribute == "samesite" else attribute)
    return flags


@pytest.mark.parametrize(("options", "base_url", "headers", "secure"), [
    ({}, "http://localhost", {}, False),
    ({}, "https://localhost", {}, True),
    ({}, "http://localhost", {"X-Forwarded-Proto": "https"}, False),  # anyone can send it: not believed
    ({"trusted_proxy": True}, "http://localhost", {"X-Forwarded-Proto": "https"}, True),
    ({"trusted_proxy": True}, "http://localhost", {"X-Forwarded-Proto": "http"}, False),
    ({"secure_cookies": True}, "http://localhost", {}, True),
    ({"secure_cookies": False}, "https://localhost", {}, False),
])
def test_the_session_cookie_is_secure_when_the_browser_uses_https(tmp_path: Path, options: dict[str, Any],
                                                                   base_url: str, headers: dict[str, str],
                                                                   secure: bool) -> None:
    site = Site(tmp_path / "data", **options)
    credential = site.add_worker("ana")
    browser = site.browser()
    form = browser.get("/portal/login", base_url=base_url, headers=headers)
    assert ("secure" in cookie_flags(form, "a2i_portal_login")) == secure
    logged_in = browser.post("/portal/login", base_url=base_url, headers=headers, data={
        "__a2i_csrf": csrf_of(form.text), "name": "ana", "credential": credential})
    assert logged_in.status_code == 303
    flags = cookie_flags(logged_in)
    assert ("secure" in flags) == secure
    assert {"httponly", "samesite=strict", "path"} <= flags
    site.store.close()


def test_behind_a_trusted_proxy_links_use_the_forwarded_scheme(tmp_path: Path, documents: dict) -> None:
    site = Site(tmp_path / "data", trusted_proxy=True)
    ana = site.worker("ana")
    page = ana.get(TASK, headers={"X-Forwarded-Proto": "https"})
    assert LINK.search(page.text).group(1).startswith("https://localhost/portal/objects/")  # type: ignore[union-attr]
    site.store.close()


def test_behind_a_trusted_proxy_failed_logins_count_per_forwarded_client(tmp_path: Path) -> None:
    site = Site(tmp_path / "data", trusted_proxy=True)
    def forwarded_for(client: str) -> dict[str, str]:
        return {"X-Forwarded-For": client}

    for attempt in range(10):  # the proxy appends the client it saw; what the client sent before it is not believed
        assert site.log_in(site.browser(), f"guess-{attempt}", "wrong", address="10.9.9.9",
                           headers=forwarded_for(f"203.0.113.{attempt}, 198.51.100.1")).status_code == 401
    assert site.log_in(site.browser(), "guess-x", "wrong", address="10.9.9.9",
                       headers=forwarded_for("198.51.100.2")).status_code == 401  # same proxy, another client
    assert site.log_in(site.browser(), "guess-y", "wrong", address="10.9.9.9",
                       headers=forwarded_for("198.51.100.1")).status_code == 429
    site.store.close()


# 10. Template rendering is bounded --------------------------------------------------------------------------------


NESTED = ("{% for a in (1..100) %}{% for b in (1..100) %}{% for c in (1..100) %}x{% endfor %}{% endfor %}"
          "{% endfor %}")


@pytest.mark.parametrize(("template", "task_input", "limit"), [
    (f"<p>\n{NESTED}", {}, "100,000 loop iterations"),
    ("{% for a in (1..60000) %}{% endfor %}{% for a in (1..60000) %}{% endfor %}", {}, "100,000 loop iterations"),
    ("{% for a in (1..100) %}{{ task.input.big }}{% endfor %}", {"big": "y" * 200_000}, "10,000,000 bytes of output"),
    ("{% capture x %}ab{% endcapture %}{% for a in (1..40) %}{% capture x %}{{ x }}{{ x }}{% endcapture %}"
     "{% endfor %}", {}, "10,000,000 bytes of output"),
    ("{% assign x = 'ab' %}{% for a in (1..40) %}{% assign x = x | append: x %}{% endfor %}", {},
     "10,000,000 bytes of assigned variables"),
])
def test_templates_over_the_rendering_limits_are_template_errors(template: str, task_input: dict,
                                                                 limit: str) -> None:
    with pytest.raises(TemplateRenderError, match=f"rendering limit reached: the template needs more than {limit}"):
        render_template(template, task_input)


def test_loops_within_the_limits_render() -> None:
    rendered = render_template("{% for a in (1..300) %}{% for b in (1..300) %}.{% endfor %}{% endfor %}", {})
    assert rendered == "." * 90_000


def test_a_task_over_the_rendering_limits_is_a_page_saying_so(tmp_path: Path) -> None:
    site = Site(tmp_path / "data")
    site.store.delete_task_ui(REGION, "ui-1")
    site.store.put_task_ui(NamedResource(REGION, "ui-1", "", f"<p>{NESTED}</p>", 0.0))
    page = site.worker("ana").get(TASK)
    assert page.status_code == 500 and "100,000 loop iterations" in page.text
    site.store.close()


# 11. Files: owner-only from creation ------------------------------------------------------------------------------


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file must be owner-only from its creation: a chmod afterwards does not count (it comes too late)."""
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_and_its_journal_files_are_owner_only_from_creation(tmp_path: Path, loose_umask: None,
                                                                       no_chmod: None) -> None:
    data = tmp_path / "data"
    store = Store(data / "state.sqlite3")
    add_task(store)
    assert os.umask(0o022) == 0o022  # the store's umask was only around its own files
    assert mode(data) == 0o700
    made = sorted(path.name for path in data.iterdir())
    assert {"state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"} <= set(made)
    assert {name: mode(data / name) for name in made} == dict.fromkeys(made, 0o600)
    store.close()


def test_secret_files_are_owner_only_from_creation(tmp_path: Path, loose_umask: None, no_chmod: None) -> None:
    data = tmp_path / "data"
    seen: list[int] = []

    def make() -> bytes:  # while the secret is made, whatever file will hold it is already owner-only
        seen.extend(mode(path) for path in data.iterdir())
        return b"secret"

    assert kept_secret(data / "admin-token", make) == b"secret"
    assert kept_secret(data / "admin-token", lambda: b"other") == b"secret"
    signer = UrlSigner.in_directory(data)
    assert len(signer.key) == 32
    assert mode(data) == 0o700
    assert all(mode(path) == 0o600 for path in data.iterdir())
    assert sorted(path.name for path in data.iterdir()) == ["admin-token", "portal-signing-key"]
    assert seen and all(found == 0o600 for found in seen)


def test_an_existing_data_directory_and_secret_are_made_owner_only(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "admin-token").write_text("kept\n")
    (data / "state.sqlite3").touch(mode=0o644)
    data.chmod(0o755)
    (data / "admin-token").chmod(0o644)
    (data / "state.sqlite3").chmod(0o644)
    assert kept_secret(data / "admin-token", lambda: b"new") == b"kept\n"
    Store(data / "state.sqlite3").close()
    assert mode(data) == 0o700
    assert mode(data / "admin-token") == 0o600 and mode(data / "state.sqlite3") == 0o600


def test_a_shared_directory_given_as_the_data_directory_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp: everyone's; the store's own files are still owner-only
    Store(shared / "state.sqlite3").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert mode(shared / "state.sqlite3") == 0o600
