"""The worker portal under ``/portal/``: log in, see the team's open tasks, answer each at most once.

A day of reviewing, as A2I's "Start working": a task a worker opens is held for them (the flow definition's
TaskTimeLimitInSeconds, per task and worker) until they answer, release it or leave its page; each Submit opens
their next task; the task list counts per flow definition and the worker's day.

A task page is the flow definition's task UI template rendered with the loop's input, as A2I renders it,
inside the portal's page shell (its own crowd elements, a CSRF token, a strict Content-Security-Policy).
The answer is built on the server from the form the page posts (:mod:`airflow_a2i.local.portal.elements`).

What a client can make the portal do is bounded: form posts (``MAX_FORM_BYTES``, ``MAX_FORM_FIELDS``,
``MAX_FIELD_BYTES``, refused with 413 before they are stored), failed logins (:class:`LoginThrottle`, 429), and
concurrent password hashing (``Accounts``, 503). Documents (``grant_read_access``) are served through short-lived
links bound to the worker's session, and never as active content on the portal's origin.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from airflow_a2i.local import s3
from airflow_a2i.local.errors import ServiceError
from airflow_a2i.local.portal import views
from airflow_a2i.local.portal.accounts import (
    AccountError,
    Accounts,
    AnonymousSessions,
    HashingBusy,
    LoginThrottle,
    UrlSigner,
    derived_key,
    same_secret,
    serves_team,
    worker_metadata,
)
from airflow_a2i.local.portal.elements.literals import CSRF_FIELD
from airflow_a2i.local.runtime import A2IRuntime
from airflow_a2i.local.store import HumanLoop, NamedResource, PortalSession, QueuedTask, Store, Worker

log = logging.getLogger(__name__)

PREFIX = "/portal/"
TASK_LIST = "/portal/tasks"
SESSION_COOKIE = "a2i_portal_session"
LOGIN_CSRF_COOKIE = "a2i_portal_login"
MAX_LISTED_TASKS = 500
# Form posts: read only up to MAX_FORM_BYTES (werkzeug refuses a longer body by its Content-Length, before reading
# it), at most MAX_FORM_FIELDS name/value pairs, each name and value at most MAX_FIELD_BYTES of UTF-8. A stored
# answer (undeclared fields are kept as posted) is therefore at most about MAX_FORM_BYTES.
MAX_FORM_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 1000
MAX_FIELD_BYTES = 256 * 1024
BUSY_RETRY_SECONDS = 5
# A task a worker opens is theirs for the flow definition's TaskTimeLimitInSeconds (A2I's default when it has none).
DEFAULT_TASK_TIME_LIMIT_SECONDS = 3600
DAY_SECONDS = 86400
# A stored document is shown inline only when a browser cannot run it: no HTML, SVG or XML from a bucket.
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "application/pdf",
                "text/plain", "application/json")
# Referrer-Policy same-origin, not no-referrer: nothing of a portal URL leaves the portal either way, but with
# no-referrer a browser sends "Origin: null" on the portal's own form posts, and those must show their origin.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
# The portal's own pages (login, task list, messages) have no script at all.
PAGE_POLICY = ("default-src 'self'; script-src 'none'; object-src 'none'; style-src 'unsafe-inline'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# A document is its own opaque origin (sandbox without allow-same-origin) that loads nothing: even an HTML file
# could run nothing on the portal's origin. Task pages may frame it (a PDF in the template's <iframe>); no other
# site may.
OBJECT_POLICY = "sandbox; default-src 'none'; frame-ancestors 'self'"
OBJECT_FRAMING = {"X-Frame-Options": "SAMEORIGIN"}
PDF_POLICY = "frame-ancestors 'self'"  # a sandboxed PDF would not open in the browser's viewer


class Portal:
    """The portal's WSGI routes; ``login_required=False`` (loopback only) gives every browser its own worker.

    ``secure_cookies``: mark cookies ``Secure`` always (True), never (False), or when the request came over HTTPS
    (None). ``trusted_proxy``: the service sits behind a reverse proxy that sets ``X-Forwarded-Proto`` and
    ``X-Forwarded-For`` (its last entry is the client): only then are those headers believed, for the scheme (cookies,
    links) and the client's address (login limits). ``allowed_origins``: outside origins task pages may load scripts,
    styles, images, media and frames from (none by default). ``login_throttle`` and ``clock`` are injectable for tests.
    """

    def __init__(self, store: Store, runtime: A2IRuntime, accounts: Accounts, signer: UrlSigner, *,
                 login_required: bool = True, secure_cookies: bool | None = None, trusted_proxy: bool = False,
                 allowed_origins: tuple[str, ...] = (), login_throttle: LoginThrottle | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.runtime = runtime
        self.accounts = accounts
        self.signer = signer
        self.login_required = login_required
        self.secure_cookies = secure_cookies
        self.trusted_proxy = trusted_proxy
        self.allowed_origins = allowed_origins
        self.login_throttle = login_throttle or LoginThrottle()
        self.clock = clock
        # Login off: each browser's worker lives in a signed cookie; with login on, such a cookie is worth nothing.
        self.anonymous = None if login_required else AnonymousSessions(
            derived_key(signer.key, "anonymous portal sessions"), session_seconds=accounts.session_seconds,
            clock=clock)

    def __call__(self, request: Request) -> Response:
        try:
            return self._route(request)
        except Exception:  # a page that says so, never a traceback in the browser
            log.exception("portal request %s %s failed", request.method, request.path)
            return _html(views.message_page("Something went wrong", "The portal could not handle this request; "
                                            "the service's log says why.", error=True), 500)

    def _route(self, request: Request) -> Response:
        if request.method == "POST":
            refused = _form_refusal(request)
            if refused is not None:
                return refused
        parts = request.path[len(PREFIX):].strip("/").split("/") if request.path != "/portal" else [""]
        method = request.method
        token = request.cookies.get(SESSION_COOKIE)
        if parts[0] == "objects" and len(parts) >= 2 and method == "GET":
            return self._object(parts[1], self._session(token))
        if parts == ["login"]:
            return self._log_in(request) if method == "POST" else self._login_form(request)
        session = self._session(token)
        if session is None and self.anonymous is not None:
            return self._anonymous_session(request, self.anonymous)
        if session is None:
            return _redirect(f"/portal/login?next={quote(_here(request))}")
        if parts == ["logout"] and method == "POST":
            return self._log_out(request, session, token or "")
        if parts in ([""], ["tasks"]) and method == "GET":
            return self._task_list(session, request.args.get("done", ""), request.args.get("released", ""))
        if parts == ["tasks", "next"] and method == "GET":
            return _redirect(self._next_location(session.worker, request.args.get("flow", ""),
                                                 done=request.args.get("done", "")))
        if len(parts) == 3 and parts[0] == "tasks" and method in ("GET", "POST"):
            return self._task(request, session, parts[1], parts[2])
        if len(parts) == 4 and parts[0] == "tasks" and parts[3] == "release" and method == "POST":
            return self._release(request, session, parts[1], parts[2])
        return _html(views.message_page("Not found", "There is no such page in the portal.",
                                        worker=session.worker, csrf_token=session.csrf_token, error=True), 404)

    def _session(self, token: str | None) -> PortalSession | None:
        session = self.accounts.session(token)
        if session is None and self.anonymous is not None:
            session = self.anonymous.session(token)
        return session

    # The request as the client sent it (through a trusted proxy, when there is one) ------------------

    def _scheme(self, request: Request) -> str:
        if self.trusted_proxy:  # the proxy in front sets it; anyone else could, so only then is it believed
            forwarded = request.headers.get("X-Forwarded-Proto", "").rsplit(",", 1)[-1].strip().lower()
            if forwarded in ("http", "https"):
                return forwarded
        return request.scheme

    def _base_url(self, request: Request) -> str:
        return f"{self._scheme(request)}://{request.host}" if self.trusted_proxy else request.host_url.rstrip("/")

    def _client_address(self, request: Request) -> str:
        if self.trusted_proxy:  # the last X-Forwarded-For entry is the one our proxy added: the client it saw
            forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
            if forwarded:
                return forwarded
        return request.remote_addr or ""

    def _secure(self, request: Request) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self._scheme(request) == "https"

    # Logging in and out ------------------------------------------------------------------------

    def _login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        # Double-submit token: a login form posted from another site has no way to know it.
        csrf = secrets.token_urlsafe(24)
        response = _html(views.login_page(csrf, next_path=_local_path(request.args.get("next")), error=error),
                         status)
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", path="/portal/login",
                            secure=self._secure(request))
        return response

    def _log_in(self, request: Request) -> Response:
        if not same_secret(request.form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return self._login_form(request, "The login form expired; please log in again.", 403)
        name = request.form.get("name", "")
        # Failed attempts count per client and per worker name: guessing one worker's credential from many
        # addresses is limited as much as guessing many workers' from one.
        keys = (f"address:{self._client_address(request)}", f"name:{name[:100]}")
        wait = self.login_throttle.retry_after(*keys)
        if wait:
            return _retry_later(self._login_form(request, f"Too many failed logins; try again in {wait} seconds.",
                                                 429), wait)
        try:
            token, session = self.accounts.log_in(name, request.form.get("credential", ""))
        except HashingBusy as busy:
            return _retry_later(self._login_form(request, str(busy), 503), BUSY_RETRY_SECONDS)
        except AccountError as error:
            self.login_throttle.failed(*keys)
            return self._login_form(request, str(error), 401)
        log.info("portal: worker %s logged in", session.worker.name)
        response = _redirect(_local_path(request.form.get("next")))
        self._set_session_cookie(request, response, token)
        return response

    def _anonymous_session(self, request: Request, anonymous: AnonymousSessions) -> Response:
        """Login off (loopback only): each browser becomes a worker of every team on its first visit."""
        token = anonymous.new()
        response = _redirect(_local_path(_here(request)) if request.method == "GET" else TASK_LIST)
        self._set_session_cookie(request, response, token)
        return response

    def _set_session_cookie(self, request: Request, response: Response, token: str) -> None:
        # SameSite=Strict, not Lax: opening a task page records the worker's acceptanceTime, so not even a link
        # followed from another site may act as the worker; the portal's own links and forms are same-site.
        response.set_cookie(SESSION_COOKIE, token, max_age=int(self.accounts.session_seconds), httponly=True,
                            samesite="Strict", path="/portal", secure=self._secure(request))

    def _log_out(self, request: Request, session: PortalSession, token: str) -> Response:
        if not _csrf_ok(request, session):
            return _forbidden(session)
        self.accounts.log_out(token)
        # Logging out leaves every task: the page's own release would come after the session's end.
        self.store.release_holds_of(session.worker.worker_id)
        response = _redirect("/portal/login")
        response.delete_cookie(SESSION_COOKIE, path="/portal", secure=self._secure(request), httponly=True,
                               samesite="Strict")
        return response

    # Tasks -------------------------------------------------------------------------------------

    def _team_flows(self, worker: Worker) -> dict[str, NamedResource]:
        return {flow.arn: flow for flow in self.store.all_flow_definitions()
                if serves_team(worker, str(flow.body.get("HumanLoopConfig", {}).get("WorkteamArn", "")))}

    def _task_list(self, session: PortalSession, done: str, released: str) -> Response:
        worker = session.worker
        flows = self._team_flows(worker)
        queue = self._queue(worker, flows)
        offered = [task for task in queue if _offered(task, flows)]
        listed = [(task.loop, flows[task.loop.flow_definition_arn].name) for task in offered[:MAX_LISTED_TASKS]]
        notices = [f"Your answer to {done} was submitted." if done else "",
                   f"You released task {released}: it is open to the team again." if released else "",
                   "All done." if done and not offered else ""]
        return _html(views.task_list_page(worker, session.csrf_token, listed, total=len(offered),
                                          notice=" ".join(notice for notice in notices if notice),
                                          summary=self._summary(worker, flows, queue)))

    # The worker's queue: what they can open now, what they hold, what they did today ----------------

    def _queue(self, worker: Worker, flows: dict[str, NamedResource]) -> list[QueuedTask]:
        return self.store.task_queue(list(flows), worker.worker_id, self.clock())

    def _summary(self, worker: Worker, flows: dict[str, NamedResource], queue: list[QueuedTask]) -> views.Summary:
        now = self.clock()
        answers = self.store.answers_since(worker.worker_id, now - now % DAY_SECONDS)  # since 00:00 UTC
        rows = []
        for arn, flow in flows.items():
            tasks = [task for task in queue if task.loop.flow_definition_arn == arn]
            done = sum(1 for answered_arn, _ in answers if answered_arn == arn)
            if not tasks and not done:
                continue
            rows.append(views.FlowCounts(
                name=flow.name, arn=arn, open=sum(1 for task in tasks if _offered(task, flows)),
                held_by_me=sum(1 for task in tasks if task.my_hold_until is not None),
                held_by_others=sum(1 for task in tasks if not _offered(task, flows)), done_today=done))
        spent = [seconds for _, seconds in answers]
        return views.Summary(rows, answered_today=len(spent),
                             median_seconds=statistics.median(spent) if spent else None)

    def _next_location(self, worker: Worker, flow_arn: str, *, done: str = "", skip: int | None = None) -> str:
        """Where a worker goes on with their queue: the oldest task they can open of ``flow_arn`` (the flow
        definition they were working on), else of any of their flow definitions, else the task list."""
        flows = self._team_flows(worker)
        offered = [task.loop for task in self._queue(worker, flows) if _offered(task, flows) and task.loop.id != skip]
        same_flow = [loop for loop in offered if loop.flow_definition_arn == flow_arn]
        after = f"?done={quote(done)}" if done else ""
        if not offered:
            return TASK_LIST + after
        return views.task_path((same_flow or offered)[0]) + after

    def _hold_seconds(self, flow: NamedResource) -> float:
        config = flow.body.get("HumanLoopConfig", {})
        return float(config.get("TaskTimeLimitInSeconds") or DEFAULT_TASK_TIME_LIMIT_SECONDS)

    def _held_elsewhere(self, session: PortalSession, loop: HumanLoop) -> Response:
        """A task whose every answer is given or held by other workers: who has it stays private, when it frees
        does not."""
        frees_at = self.store.frees_at(loop.id, self.clock())
        when = f" until {views.clock_time(frees_at)} UTC" if frees_at is not None else ""
        return _html(views.message_page(
            "Task held", f"Task {loop.name} is held by another worker{when}; it opens again for you if they release "
            "it or their time runs out. Your other tasks are on the task list.", worker=session.worker,
            csrf_token=session.csrf_token), 409)

    def _release(self, request: Request, session: PortalSession, region: str, name: str) -> Response:
        """End the worker's hold (the page's "Release task", or the page being left: a beacon)."""
        if not _csrf_ok(request, session):
            return _forbidden(session)
        loop = self.store.get_loop(region, name)
        if loop is not None and loop.flow_definition_arn in self._team_flows(session.worker):
            self.store.release_hold(loop.id, session.worker.worker_id, request.form.get("hold", ""))
        if request.headers.get("Sec-Fetch-Dest") == "empty":  # the left page's beacon: nobody reads an answer
            return Response("", 204, headers=SECURITY_HEADERS)
        return _redirect(f"{TASK_LIST}?released={quote(name)}")

    def _task(self, request: Request, session: PortalSession, region: str, name: str) -> Response:
        worker = session.worker
        loop = self.store.get_loop(region, name)
        flow = self._team_flows(worker).get(loop.flow_definition_arn) if loop else None
        if loop is None or flow is None:  # another team's task looks exactly like a missing one
            return _html(views.message_page("No such task", f"There is no task {name} for you.", worker=worker,
                                            csrf_token=session.csrf_token, error=True), 404)
        if request.method == "POST" and not _csrf_ok(request, session):
            return _forbidden(session)
        closed = self._closed_reason(loop, worker)
        if closed:
            return _html(views.message_page("Task closed", closed, worker=worker, csrf_token=session.csrf_token),
                         409)
        task_count = int(flow.body["HumanLoopConfig"].get("TaskCount", 1))
        hold = self.store.take_hold(loop.id, worker.worker_id, task_count=task_count, now=self.clock(),
                                    seconds=self._hold_seconds(flow), hold_id=secrets.token_urlsafe(12))
        if hold is None:
            return self._held_elsewhere(session, loop)
        accepted = self.store.accept_task(loop.id, worker.worker_id, time.time())
        base_url, nonce = self._base_url(request), secrets.token_urlsafe(18)
        try:
            rendered = self.render_loop(flow, loop, base_url, worker, nonce=nonce)
        except ValueError as error:  # the template cannot be rendered: say where, for its author
            return _html(views.message_page("This task cannot be shown", str(error), worker=worker,
                                            csrf_token=session.csrf_token, error=True), 500)
        if request.method == "POST":
            return self._submit(request, session, flow, loop, rendered, accepted, base_url)
        return self._task_page(session, flow, loop, rendered, request.path, nonce,
                               views.HoldView(hold.hold_id, hold.held_until, request.args.get("done", "")))

    def _closed_reason(self, loop: HumanLoop, worker: Worker) -> str:
        if loop.status != "InProgress":
            return f"Task {loop.name} is {loop.status}: it takes no more answers."
        if loop.id in self.store.loops_answered_by(worker.worker_id):
            return f"You have answered task {loop.name} already; each worker answers a task once."
        return ""

    def render_loop(self, flow: NamedResource, loop: HumanLoop, base_url: str, worker: Worker, *,
                    nonce: str = "") -> str:
        """The loop's task template rendered for ``worker``: its document links work in that worker's session;
        the template's own scripts carry ``nonce`` (the only scripts the page's policy lets run)."""
        from airflow_a2i.local.portal.page import with_script_nonce
        from airflow_a2i.local.portal.rendering import render_template

        template = with_script_nonce(self.task_template(flow), nonce) if nonce else self.task_template(flow)
        return render_template(template, json.loads(loop.input_content),
                               grant_read_access=self.read_access_granter(base_url, worker.worker_id))

    def task_template(self, flow: NamedResource) -> str:
        ui_arn = str(flow.body["HumanLoopConfig"]["HumanTaskUiArn"])
        ui = self.store.get_task_ui(flow.region, ui_arn.rsplit("/", 1)[-1])
        if ui is None:
            raise ValueError(f"The flow definition's task UI {ui_arn} does not exist any more")
        return str(ui.body)

    def read_access_granter(self, base_url: str, worker_id: str) -> Callable[[str], str]:
        """``grant_read_access``: an S3 URI becomes a short-lived URL of this portal, valid in ``worker_id``'s
        session only (reloading the task page makes fresh ones)."""
        def grant(uri: str) -> str:
            from airflow_a2i.local.portal.rendering import parse_s3_location

            location = parse_s3_location(uri)
            if location is None or not all(location):
                return uri  # not an S3 object: A2I leaves such a value as it is
            bucket, key = location
            file_name = quote(PurePosixPath(key).name)
            token = self.signer.sign(bucket, key, worker_id=worker_id, now=self.clock())
            return f"{base_url}/portal/objects/{token}/{file_name}"
        return grant

    def _task_page(self, session: PortalSession, flow: NamedResource, loop: HumanLoop, rendered: str,
                   path: str, nonce: str, hold: views.HoldView) -> Response:
        from airflow_a2i.local.portal.page import content_security_policy, task_page

        task_count = int(flow.body["HumanLoopConfig"].get("TaskCount", 1))
        given = len(self.store.answers(loop.id))
        context = f"Task {loop.name} · {flow.name} · {given} of {task_count} answer(s) in"
        flows = self._team_flows(session.worker)
        left = sum(1 for task in self._queue(session.worker, flows) if _offered(task, flows))
        header = views.task_bar(session.worker, session.csrf_token, context=context, left=left, hold=hold,
                                release_url=f"{path}/release")
        page = task_page(rendered, title=f"{loop.name} · A2I worker portal", csrf_token=session.csrf_token,
                         submit_url=path, nonce=nonce, header_html=header)
        return _html(page, headers={"Content-Security-Policy": content_security_policy(nonce, self.allowed_origins)})

    def _submit(self, request: Request, session: PortalSession, flow: NamedResource, loop: HumanLoop,
                rendered: str, accepted: float, base_url: str) -> Response:
        from airflow_a2i.local.portal.elements import AnswerError, UnsupportedElements, find_elements, shape_answer

        worker = session.worker
        form = {name: request.form.getlist(name) for name in request.form}
        try:
            answer = shape_answer(find_elements(rendered), form)
        except UnsupportedElements as error:  # nothing the worker can change: the task UI is the problem
            return _html(views.message_page("This task cannot be answered here", f"{error}.", worker=worker,
                                            csrf_token=session.csrf_token, error=True), 422)
        except AnswerError as error:
            return _html(views.message_page("The answer was not accepted", f"{error}. Go back, change it and submit "
                                            "again.", worker=worker, csrf_token=session.csrf_token, error=True), 400)
        submitted = time.time()
        try:
            self.runtime.answer(loop.region, loop.name, answer, worker.worker_id,
                                time_spent=max(0.0, submitted - accepted), acceptance_time=accepted,
                                worker_metadata=worker_metadata(worker, f"{base_url}/portal"))
        except ServiceError as error:  # answered meanwhile in another tab, stopped, expired
            return _html(views.message_page("Task closed", error.message, worker=worker,
                                            csrf_token=session.csrf_token), 409)
        log.info("portal: worker %s answered %s in %.1f s", worker.name, loop.name, submitted - accepted)
        # A2I's "Start working": the worker's next task opens, of the same flow definition first.
        return _redirect(self._next_location(worker, loop.flow_definition_arn, done=loop.name, skip=loop.id))

    # Documents ---------------------------------------------------------------------------------

    def _object(self, token: str, session: PortalSession | None) -> Response:
        worker_id = session.worker.worker_id if session is not None else ""
        found = self.signer.verify(token, worker_id=worker_id, now=self.clock())
        if found is None:
            return Response("This link is not valid, has expired, or belongs to another session; reload the task "
                            "page.", 403, headers=SECURITY_HEADERS, content_type="text/plain; charset=utf-8")
        bucket, key = found
        stored = s3.object_response(bucket, key)
        if stored is None:
            return Response(f"s3://{bucket}/{key} does not exist.", 404, headers=SECURITY_HEADERS,
                            content_type="text/plain; charset=utf-8")
        body, content_type = stored
        content_type = _shown_type(content_type, key)
        headers = {**SECURITY_HEADERS, **OBJECT_FRAMING, "Cache-Control": "private, max-age=300",
                   "Content-Security-Policy": PDF_POLICY if content_type == "application/pdf" else OBJECT_POLICY}
        if content_type not in INLINE_TYPES:
            # Downloaded, never shown; and as application/octet-stream, which (nosniff) no page can load as a
            # script or a stylesheet either: a bucket's .js or .css is not code of the portal's origin.
            headers["Content-Disposition"] = "attachment"
            content_type = "application/octet-stream"
        return Response(body, 200, headers=headers, content_type=content_type)


def _offered(task: QueuedTask, flows: dict[str, NamedResource]) -> bool:
    """The worker may open the task now: they hold it, or one of its answers is neither given nor held by another."""
    task_count = int(flows[task.loop.flow_definition_arn].body["HumanLoopConfig"].get("TaskCount", 1))
    return task.my_hold_until is not None or task.answers + task.held_by_others < task_count


def _shown_type(stored: str, key: str) -> str:
    """The stored Content-Type, or the key's extension's when S3 has only the generic one."""
    base = (stored or "").split(";")[0].strip().lower()
    if base in ("", "binary/octet-stream", "application/octet-stream"):
        return mimetypes.guess_type(key)[0] or "application/octet-stream"
    return base


def _form_refusal(request: Request) -> Response | None:
    """413 when a form post is over the portal's limits (nothing of it stored); None when it may be read."""
    request.max_content_length = MAX_FORM_BYTES
    request.max_form_memory_size = MAX_FIELD_BYTES
    request.max_form_parts = MAX_FORM_FIELDS
    try:
        fields = list(request.form.items(multi=True))
    except RequestEntityTooLarge:
        return _too_large()
    if len(fields) > MAX_FORM_FIELDS or any(
            len(_utf8(name)) > MAX_FIELD_BYTES or len(_utf8(value)) > MAX_FIELD_BYTES for name, value in fields):
        return _too_large()
    return None


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _too_large() -> Response:
    return _html(views.message_page(
        "Too large", f"The portal takes forms of at most {MAX_FORM_BYTES // 1024} KiB, {MAX_FORM_FIELDS} fields and "
        f"{MAX_FIELD_BYTES // 1024} KiB per field; nothing was saved. Shorten the answer and submit again.",
        error=True), 413)


def _retry_later(response: Response, seconds: int) -> Response:
    response.headers["Retry-After"] = str(seconds)
    return response


def _csrf_ok(request: Request, session: PortalSession) -> bool:
    return same_secret(request.form.get(CSRF_FIELD), session.csrf_token)


def _forbidden(session: PortalSession) -> Response:
    return _html(views.message_page("Not accepted", "The form's security token did not match; reload the page and "
                                    "try again.", worker=session.worker, csrf_token=session.csrf_token, error=True),
                 403)


def _here(request: Request) -> str:
    """This request's path and query, percent-encoded: safe to put in a header or another URL's query."""
    query = request.query_string.decode("latin-1")
    return quote(request.path) + (f"?{query}" if query else "")


def _local_path(path: str | None) -> str:
    """Only a path of this portal is a place to go after logging in: never another site (``//host``, a scheme, a
    backslash), never a header break (control characters, CR/LF), never out of the portal (``..``)."""
    if (path and path.startswith(PREFIX) and all("!" <= character <= "~" for character in path)
            and "\\" not in path and not _leaves_portal(path)):
        return path
    return TASK_LIST


def _leaves_portal(path: str) -> bool:
    parts = urlsplit(path)
    segments = unquote(parts.path).split("/")
    return bool(parts.scheme or parts.netloc) or any(segment in (".", "..") for segment in segments)


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    merged = {**SECURITY_HEADERS, "Content-Security-Policy": PAGE_POLICY, **(headers or {})}
    return Response(body, status, headers=merged, content_type="text/html; charset=utf-8")


def _redirect(location: str) -> Response:
    return Response("", 303, headers={"Location": location, **SECURITY_HEADERS})
