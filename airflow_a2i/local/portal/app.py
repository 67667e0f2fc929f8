"""The worker portal under ``/portal/``: log in, see the team's open tasks, answer each at most once.

A task page is the flow definition's task UI template rendered with the loop's input, as A2I renders it,
inside the portal's page shell (its own crowd elements, a CSRF token, a strict Content-Security-Policy).
The answer is built on the server from the form the page posts (:mod:`airflow_a2i.local.portal.elements`).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import time
from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from airflow_a2i.local import s3
from airflow_a2i.local.errors import ServiceError
from airflow_a2i.local.portal import views
from airflow_a2i.local.portal.accounts import AccountError, Accounts, UrlSigner, serves_team, worker_metadata
from airflow_a2i.local.portal.elements.literals import CSRF_FIELD
from airflow_a2i.local.runtime import A2IRuntime
from airflow_a2i.local.store import HumanLoop, NamedResource, PortalSession, Store, Worker

log = logging.getLogger(__name__)

PREFIX = "/portal/"
SESSION_COOKIE = "a2i_portal_session"
LOGIN_CSRF_COOKIE = "a2i_portal_login"
MAX_LISTED_TASKS = 500
# A stored document is shown inline only when a browser cannot run it: no HTML, SVG or XML from a bucket.
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "application/pdf",
                "text/plain", "application/json")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
PAGE_POLICY = "default-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


class Portal:
    """The portal's WSGI routes; ``login_required=False`` (loopback only) gives every browser its own worker."""

    def __init__(self, store: Store, runtime: A2IRuntime, accounts: Accounts, signer: UrlSigner, *,
                 login_required: bool = True) -> None:
        self.store = store
        self.runtime = runtime
        self.accounts = accounts
        self.signer = signer
        self.login_required = login_required

    def __call__(self, request: Request) -> Response:
        try:
            return self._route(request)
        except Exception:  # a page that says so, never a traceback in the browser
            log.exception("portal request %s %s failed", request.method, request.path)
            return _html(views.message_page("Something went wrong", "The portal could not handle this request; "
                                            "the service's log says why.", error=True), 500)

    def _route(self, request: Request) -> Response:
        parts = request.path[len(PREFIX):].strip("/").split("/") if request.path != "/portal" else [""]
        method = request.method
        if parts[0] == "objects" and len(parts) >= 2 and method == "GET":
            return self._object(parts[1])
        if parts == ["login"]:
            return self._log_in(request) if method == "POST" else self._login_form(request)
        token = request.cookies.get(SESSION_COOKIE)
        session = self.accounts.session(token)
        if session is None and not self.login_required:
            return self._anonymous_session(request)
        if session is None:
            return _redirect(f"/portal/login?next={quote(request.full_path.rstrip('?'))}")
        if parts == ["logout"] and method == "POST":
            return self._log_out(request, session, token or "")
        if parts in ([""], ["tasks"]) and method == "GET":
            return self._task_list(session, request.args.get("done", ""))
        if len(parts) == 3 and parts[0] == "tasks" and method in ("GET", "POST"):
            return self._task(request, session, parts[1], parts[2])
        return _html(views.message_page("Not found", "There is no such page in the portal.",
                                        worker=session.worker, csrf_token=session.csrf_token, error=True), 404)

    # Logging in and out ------------------------------------------------------------------------

    def _login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        # Double-submit token: a login form posted from another site has no way to know it.
        csrf = secrets.token_urlsafe(24)
        response = _html(views.login_page(csrf, next_path=_local_path(request.args.get("next")), error=error),
                         status)
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", path="/portal/login",
                            secure=request.scheme == "https")
        return response

    def _log_in(self, request: Request) -> Response:
        posted = request.form.get(CSRF_FIELD, "")
        if not posted or not secrets.compare_digest(posted, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return self._login_form(request, "The login form expired; please log in again.", 403)
        try:
            token, session = self.accounts.log_in(request.form.get("name", ""), request.form.get("credential", ""))
        except AccountError as error:
            return self._login_form(request, str(error), 401)
        log.info("portal: worker %s logged in", session.worker.name)
        response = _redirect(_local_path(request.form.get("next")))
        self._set_session_cookie(request, response, token)
        return response

    def _anonymous_session(self, request: Request) -> Response:
        """Login off (loopback only): each browser becomes a worker of every team on its first visit."""
        token = self.accounts.anonymous_session()
        response = _redirect(request.full_path.rstrip("?") if request.method == "GET" else "/portal/tasks")
        self._set_session_cookie(request, response, token)
        return response

    def _set_session_cookie(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, max_age=int(self.accounts.session_seconds), httponly=True,
                            samesite="Strict", path="/portal", secure=request.scheme == "https")

    def _log_out(self, request: Request, session: PortalSession, token: str) -> Response:
        if not _csrf_ok(request, session):
            return _forbidden(session)
        self.accounts.log_out(token)
        response = _redirect("/portal/login")
        response.delete_cookie(SESSION_COOKIE, path="/portal")
        return response

    # Tasks -------------------------------------------------------------------------------------

    def _team_flows(self, worker: Worker) -> dict[str, NamedResource]:
        return {flow.arn: flow for flow in self.store.all_flow_definitions()
                if serves_team(worker, str(flow.body.get("HumanLoopConfig", {}).get("WorkteamArn", "")))}

    def _task_list(self, session: PortalSession, done: str) -> Response:
        worker = session.worker
        flows = self._team_flows(worker)
        answered = self.store.loops_answered_by(worker.worker_id)
        waiting = [loop for loop in self.store.open_loops_for_flows(list(flows)) if loop.id not in answered]
        listed = [(loop, flows[loop.flow_definition_arn].name) for loop in waiting[:MAX_LISTED_TASKS]]
        notice = f"Your answer to {done} was submitted." if done else ""
        return _html(views.task_list_page(worker, session.csrf_token, listed, total=len(waiting), notice=notice))

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
        accepted = self.store.accept_task(loop.id, worker.worker_id, time.time())
        base_url = request.host_url.rstrip("/")
        try:
            rendered = self.render_loop(flow, loop, base_url)
        except ValueError as error:  # the template cannot be rendered: say where, for its author
            return _html(views.message_page("This task cannot be shown", str(error), worker=worker,
                                            csrf_token=session.csrf_token, error=True), 500)
        if request.method == "POST":
            return self._submit(request, session, flow, loop, rendered, accepted, base_url)
        return self._task_page(session, flow, loop, rendered, request.path)

    def _closed_reason(self, loop: HumanLoop, worker: Worker) -> str:
        if loop.status != "InProgress":
            return f"Task {loop.name} is {loop.status}: it takes no more answers."
        if loop.id in self.store.loops_answered_by(worker.worker_id):
            return f"You have answered task {loop.name} already; each worker answers a task once."
        return ""

    def render_loop(self, flow: NamedResource, loop: HumanLoop, base_url: str) -> str:
        from airflow_a2i.local.portal.rendering import render_template

        template = self.task_template(flow)
        return render_template(template, json.loads(loop.input_content),
                               grant_read_access=self.read_access_granter(base_url))

    def task_template(self, flow: NamedResource) -> str:
        ui_arn = str(flow.body["HumanLoopConfig"]["HumanTaskUiArn"])
        ui = self.store.get_task_ui(flow.region, ui_arn.rsplit("/", 1)[-1])
        if ui is None:
            raise ValueError(f"The flow definition's task UI {ui_arn} does not exist any more")
        return str(ui.body)

    def read_access_granter(self, base_url: str) -> Callable[[str], str]:
        """``grant_read_access``: an S3 URI becomes a signed, short-lived URL of this portal."""
        def grant(uri: str) -> str:
            from airflow_a2i.local.portal.rendering import parse_s3_location

            location = parse_s3_location(uri)
            if location is None or not all(location):
                return uri  # not an S3 object: A2I leaves such a value as it is
            bucket, key = location
            file_name = quote(PurePosixPath(key).name)
            return f"{base_url}/portal/objects/{self.signer.sign(bucket, key)}/{file_name}"
        return grant

    def _task_page(self, session: PortalSession, flow: NamedResource, loop: HumanLoop, rendered: str,
                   path: str) -> Response:
        from airflow_a2i.local.portal.page import CONTENT_SECURITY_POLICY, task_page

        task_count = int(flow.body["HumanLoopConfig"].get("TaskCount", 1))
        given = len(self.store.answers(loop.id))
        context = f"Task {loop.name} · {flow.name} · {given} of {task_count} answer(s) in"
        header = views.task_bar(session.worker, session.csrf_token, context=context)
        page = task_page(rendered, title=f"{loop.name} · A2I worker portal", csrf_token=session.csrf_token,
                         submit_url=path, header_html=header)
        return _html(page, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})

    def _submit(self, request: Request, session: PortalSession, flow: NamedResource, loop: HumanLoop,
                rendered: str, accepted: float, base_url: str) -> Response:
        from airflow_a2i.local.portal.elements import AnswerError, find_elements, shape_answer

        worker = session.worker
        form = {name: request.form.getlist(name) for name in request.form}
        try:
            answer = shape_answer(find_elements(rendered), form)
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
        return _redirect(f"/portal/tasks?done={quote(loop.name)}")

    # Documents ---------------------------------------------------------------------------------

    def _object(self, token: str) -> Response:
        found = self.signer.verify(token)
        if found is None:
            return Response("This link is not valid or has expired; reload the task page.", 403,
                            content_type="text/plain; charset=utf-8")
        bucket, key = found
        stored = s3.object_response(bucket, key)
        if stored is None:
            return Response(f"s3://{bucket}/{key} does not exist.", 404, content_type="text/plain; charset=utf-8")
        body, content_type = stored
        content_type = _shown_type(content_type, key)
        headers = {**SECURITY_HEADERS, "Cache-Control": "private, max-age=300"}
        if content_type != "application/pdf":  # a sandboxed PDF would not open in the browser's viewer
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        if content_type not in INLINE_TYPES:
            headers["Content-Disposition"] = "attachment"
        return Response(body, 200, headers=headers, content_type=content_type)


def _shown_type(stored: str, key: str) -> str:
    """The stored Content-Type, or the key's extension's when S3 has only the generic one."""
    base = (stored or "").split(";")[0].strip().lower()
    if base in ("", "binary/octet-stream", "application/octet-stream"):
        return mimetypes.guess_type(key)[0] or "application/octet-stream"
    return base


def _csrf_ok(request: Request, session: PortalSession) -> bool:
    return secrets.compare_digest(request.form.get(CSRF_FIELD, ""), session.csrf_token)


def _forbidden(session: PortalSession) -> Response:
    return _html(views.message_page("Not accepted", "The form's security token did not match; reload the page and "
                                    "try again.", worker=session.worker, csrf_token=session.csrf_token, error=True),
                 403)


def _local_path(path: str | None) -> str:
    """Only a path of this portal is a place to go after logging in: never another site."""
    if path and path.startswith(PREFIX) and not path.startswith("//") and "\\" not in path:
        return path
    return "/portal/tasks"


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    merged = {**SECURITY_HEADERS, "Content-Security-Policy": PAGE_POLICY, **(headers or {})}
    return Response(body, status, headers=merged, content_type="text/html; charset=utf-8")


def _redirect(location: str) -> Response:
    return Response("", 303, headers={"Location": location, **SECURITY_HEADERS})
