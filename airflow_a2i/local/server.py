"""Two WSGI applications: the AWS APIs on one port, the worker portal on another.

The API application serves the A2I runtime, SageMaker's A2I calls and the built-in task types here, everything
else through moto; requests are routed by the SigV4 credential scope's service and ``X-Amz-Target``. The service's
own admin API lives under ``/_a2i/`` (no S3 bucket name can start with ``_``). The portal application serves only
the portal, on an origin of its own: nothing an API client stores (an S3 object, a task UI template) is ever served
where a reviewer's session lives. Every request first passes its port's :class:`~airflow_a2i.local.guard.Guard`.
How requests are read and answers written is ``wire.py``; running the service is ``serving.py``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from airflow_a2i.local import moto_queues, s3, sigv4, strict_json
from airflow_a2i.local.admin_client import ADMIN_HEADER, ADMIN_TOKEN_VARIABLE
from airflow_a2i.local.builtin import OPERATIONS as BUILT_IN_OPERATIONS
from airflow_a2i.local.builtin import Analyzer, BuiltInTasks
from airflow_a2i.local.credentials import Credentials
from airflow_a2i.local.errors import ServiceError
from airflow_a2i.local.events import publish_status_changes
from airflow_a2i.local.faults import Faults, lost_response
from airflow_a2i.local.guard import MOTO_API_PREFIX, Guard, Refusal, is_s3_request
from airflow_a2i.local.outputs import identity_problem
from airflow_a2i.local.portal.accounts import (
    DEFAULT_SESSION_SECONDS,
    AccountError,
    Accounts,
    UrlSigner,
    same_secret,
)
from airflow_a2i.local.portal.app import Portal
from airflow_a2i.local.runtime import A2IRuntime
from airflow_a2i.local.sagemaker import OPERATIONS as SAGEMAKER_OPERATIONS
from airflow_a2i.local.sagemaker import SageMakerA2I, moto_serves_sagemaker
from airflow_a2i.local.store import Store
from airflow_a2i.local.wire import (
    PORTAL_HEADER,
    aws_params,
    credential_scope,
    json_body,
    json_protocol_error,
    json_protocol_response,
    json_response,
    loop_view,
    refusal_response,
    runtime_error,
    runtime_response,
    s3_elsewhere,
    with_aws_headers,
    worker_view,
)
from airflow_a2i.local.workforce import AnswerCallable, SimulatedWorkforce, WorkforcePolicy

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_a2i/"
PORTAL_PREFIX = "/portal/"
ADMIN_TOKEN_FILE = "admin-token"  # in the data directory, when no token is given
MAX_WORKER_ID_LENGTH = 256
MAX_TIME_SPENT_SECONDS = 864_000  # no task stays open longer than A2I's maximum TaskAvailabilityLifetimeInSeconds
CONFIG_KEYS = ("maxOpenLoops", "stopDelaySeconds")


class LocalService:
    """The WSGI application of ``airflow-a2i local serve``."""

    def __init__(self, data_dir: Path, *, stop_delay: float = 1.0, max_open_loops: int | None = None,
                 seed: int = 0, workforce_auto: bool = False, workforce_default: WorkforcePolicy | None = None,
                 answer_callables: dict[str, AnswerCallable] | None = None, analyzer: Analyzer | None = None,
                 login_required: bool = True, admin_token: str | None = None,
                 session_seconds: float = DEFAULT_SESSION_SECONDS, credentials: Credentials | None = None,
                 behind_proxy: bool = False, portal_allowed_origins: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.credentials = credentials  # given: every AWS API request must be signed with one of these keys
        moto_queues.install()  # many status-change events: none lost, none costing the whole queue
        self.store = Store(data_dir / "state.sqlite3")
        self.runtime = A2IRuntime(self.store, stop_delay=stop_delay, max_open_loops=max_open_loops)
        self.accounts = Accounts(self.store, session_seconds=session_seconds)
        self.portal = Portal(self.store, self.runtime, self.accounts, UrlSigner.in_directory(data_dir),
                             login_required=login_required, trusted_proxy=behind_proxy,
                             allowed_origins=portal_allowed_origins)
        self.admin_token = admin_token
        self.sagemaker = SageMakerA2I(self.store)
        self.built_in = BuiltInTasks(self.runtime, analyzer)
        self.workforce = SimulatedWorkforce(self.store, self.runtime, auto=workforce_auto, seed=seed,
                                            default_policy=workforce_default, callables=answer_callables)
        self.runtime.listeners.append(publish_status_changes)
        self.faults = Faults(seed)
        self.moto = DomainDispatcherApplication(create_backend_app)
        self._bucket_lock = threading.Lock()
        self._known_buckets: dict[str, str] = {}
        # Set by listen() once both ports are bound; until then every request is refused (fail closed).
        self.api_guard: Guard | None = None
        self.portal_guard: Guard | None = None
        self.portal_url = ""

    def listen(self, api_guard: Guard, portal_guard: Guard, portal_url: str) -> None:
        """Take requests, checked by these guards; ``portal_url`` is where the portal's pages are."""
        self.api_guard, self.portal_guard, self.portal_url = api_guard, portal_guard, portal_url.rstrip("/")
        self.workforce.issuer = f"{self.portal_url}/portal"  # the simulated workers sign in where people do

    # Start-up: S3 lives in memory, so recreate what the store remembers -------------------------

    def restore(self) -> tuple[int, int]:
        """Recreate recorded buckets and rewrite finished loops' output.json; returns (buckets, outputs).

        In self-hosted mode the external store keeps both, so nothing is recreated: (0, 0)."""
        if s3.is_external():
            self.workforce.plan_open_loops()
            return 0, 0
        recorded = self.store.buckets()
        for name, region in recorded.items():
            s3.ensure_bucket(name, region)
        self._known_buckets = s3.buckets()
        self.workforce.plan_open_loops()
        return len(recorded), self.runtime.rewrite_outputs()

    def _record_buckets(self) -> None:
        if s3.is_external():  # the external store keeps its buckets itself
            return
        with self._bucket_lock:
            current = s3.buckets()
            if current != self._known_buckets:
                self.store.replace_buckets(current)
                self._known_buckets = current

    # Routing ----------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        """The AWS APIs' port."""
        refusal = self._refusal(self.api_guard, environ)
        if refusal is not None:
            return refusal_response(refusal, environ)(environ, start_response)
        if environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):  # the admin token guards it, not SigV4
            return self._admin(Request(environ))(environ, start_response)
        unsigned = self._unsigned(environ)
        if unsigned is not None:
            return unsigned(environ, start_response)
        request = Request(environ)
        path = request.path
        service, region = credential_scope(request)
        target = request.headers.get("X-Amz-Target", "")
        if service == "sagemaker" and target.startswith("SageMaker."):
            operation = target.split(".", 1)[1]
            if operation in SAGEMAKER_OPERATIONS:
                return self._sagemaker(request, operation, region)(environ, start_response)
            if not moto_serves_sagemaker(operation):  # moto would answer a 500
                return json_protocol_error(ServiceError(
                    "UnknownOperationException", f"This service does not implement {target[:100]}: neither it nor "
                    "moto serves that SageMaker operation", 400))(environ, start_response)
        elif service == "sagemaker" and (path == "/human-loops" or path.startswith("/human-loops/")):
            return self._runtime(request, region)(environ, start_response)
        elif target in BUILT_IN_OPERATIONS and service == BUILT_IN_OPERATIONS[target][0]:
            return self._built_in(request, *BUILT_IN_OPERATIONS[target], region)(environ, start_response)
        if service == "s3" and s3.is_external():  # never let a document land in moto's memory unnoticed
            return s3_elsewhere(str(s3.endpoint()))(environ, start_response)
        # An unsigned request without X-Amz-Target is anonymous S3 (--no-sign-request), as moto routes it.
        anonymous_s3 = service is None and not target and not path.startswith(MOTO_API_PREFIX)
        result = with_aws_headers(self.moto, environ, start_response, s3_request=service == "s3" or anonymous_s3)
        if service == "s3" and request.method in ("PUT", "DELETE", "POST"):
            self._record_buckets()
        return result

    def portal_app(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        """The worker portal's port: the portal under ``/portal/``, nothing else."""
        refusal = self._refusal(self.portal_guard, environ)
        if refusal is not None:
            return refusal_response(refusal, environ)(environ, start_response)
        request = Request(environ)
        if request.path == "/":
            return Response(status=303, headers={"Location": PORTAL_PREFIX})(environ, start_response)
        if request.path == "/portal" or request.path.startswith(PORTAL_PREFIX):
            return self.portal(request)(environ, start_response)
        return Response("Not found: the worker portal is under /portal/", status=404,
                        content_type="text/plain; charset=utf-8")(environ, start_response)

    def _unsigned(self, environ: dict) -> Response | None:
        """With credentials configured, AWS's own error for a request not signed with one of them, else None.

        S3 bodies are not read here (the signature covers their declared hash); other bodies are, and put back."""
        if self.credentials is None:
            return None
        body = None
        if not is_s3_request(environ):
            body = get_input_stream(environ).read()
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        try:
            sigv4.verify_environ(environ, body, self.credentials)
        except sigv4.SignatureError as error:
            log.info("refused an unsigned or badly signed request: %s %s", error.code, error.message)
            return refusal_response(error, environ)
        return None

    @staticmethod
    def _refusal(guard: Guard | None, environ: dict) -> Refusal | None:
        if guard is None:
            return Refusal(503, "ServiceUnavailable", "The service is not listening yet")
        return guard.check(environ)

    def _portal_header(self) -> dict[str, str]:
        """Where the portal is, on every runtime and built-in answer: operators link to a loop's task page."""
        return {PORTAL_HEADER: f"{self.portal_url}/portal"}

    def _runtime(self, request: Request, region: str) -> Response:
        try:
            operation, call = self._runtime_call(request, region)
            self.faults.before(operation)
            result = call()
            if self.faults.lose_response(operation):
                raise lost_response(operation)
            return runtime_response(result, headers=self._portal_header())
        except ServiceError as error:
            return runtime_error(error)
        except Exception as error:  # never a crash: an InternalServerException the client can retry
            log.exception("A2I runtime request failed")
            return runtime_error(ServiceError("InternalServerException", f"Internal error: {error}", 500))

    def _runtime_call(self, request: Request, region: str) -> tuple[str, Any]:
        path, method, runtime = request.path, request.method, self.runtime
        if path == "/human-loops" and method == "POST":
            return "StartHumanLoop", lambda: runtime.start_human_loop(region, aws_params(request))
        if path == "/human-loops" and method == "GET":
            return "ListHumanLoops", lambda: runtime.list_human_loops(region, request.args.to_dict())
        if path == "/human-loops/stop" and method == "POST":
            return "StopHumanLoop", lambda: runtime.stop_human_loop(region, aws_params(request))
        name = path[len("/human-loops/"):]  # the WSGI server has percent-decoded the path already
        if method == "GET":
            return "DescribeHumanLoop", lambda: runtime.describe_human_loop(region, name)
        if method == "DELETE":
            return "DeleteHumanLoop", lambda: runtime.delete_human_loop(region, name)
        raise ServiceError("ValidationException", f"{method} {path} is not an A2I runtime operation", 400)

    def _sagemaker(self, request: Request, operation: str, region: str) -> Response:
        try:
            self.faults.before(operation)
            params = aws_params(request)
            result = self.sagemaker.handle(operation, region, params, base_url=request.host_url.rstrip("/"))
            if self.faults.lose_response(operation):
                raise lost_response(operation)
            return json_protocol_response(result)
        except ServiceError as error:
            return json_protocol_error(error)
        except Exception as error:
            log.exception("SageMaker request failed")
            return json_protocol_error(ServiceError("InternalFailure", f"Internal error: {error}", 500))

    def _built_in(self, request: Request, service: str, operation: str, region: str) -> Response:
        try:
            self.faults.before(operation)
            result = self.built_in.handle(service, region, aws_params(request))
            if self.faults.lose_response(operation):
                raise lost_response(operation)
            return json_protocol_response(result, headers=self._portal_header())
        except ServiceError as error:
            return json_protocol_error(error)
        except Exception as error:
            log.exception("%s request failed", operation)
            return json_protocol_error(ServiceError("InternalServerError", f"Internal error: {error}", 500))

    # Admin API --------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        if ADMIN_HEADER not in request.headers and not self._open_admin_route(request):
            return json_response({"error": "Unauthorized", "message": (
                f"The admin API takes requests from the admin client only ('airflow-a2i local ...' or "
                f"airflow_a2i.local.admin_client.AdminClient), which sends the header {ADMIN_HEADER}: a web page "
                "cannot")}, 401)
        if not self._admin_allowed(request):
            return json_response({"error": "Unauthorized", "message": (
                f"The admin API needs the admin token: send 'Authorization: Bearer TOKEN', or set "
                f"{ADMIN_TOKEN_VARIABLE}=TOKEN for the CLI. The token is the one the service was started with "
                f"({ADMIN_TOKEN_VARIABLE}), else the one in {self.data_dir / ADMIN_TOKEN_FILE} on its machine")},
                401, {"WWW-Authenticate": "Bearer"})
        try:
            return self._admin_call(request)
        except ServiceError as error:
            return json_response({"error": error.code, "message": error.message}, error.status)
        except ValueError as error:
            return json_response({"error": "BadRequest", "message": str(error)}, 400)
        except Exception as error:  # never Werkzeug's HTML page: a JSON 500 that says what failed
            log.exception("admin request %s %s failed", request.method, request.path)
            return json_response({"error": "InternalError",
                                  "message": f"Internal error ({type(error).__name__}): {error}"}, 500)

    def _admin_call(self, request: Request) -> Response:
        # request.path is percent-decoded already: a %2F in a name is a '/' here, so it never names a loop
        parts = request.path[len(ADMIN_PREFIX):].strip("/").split("/")
        method = request.method
        if parts == ["health"]:
            return json_response({"status": "ok"})
        if len(parts) == 3 and parts[0] == "human-loops" and parts[2] == "answers" and method == "POST":
            return self._admin_answer(parts[1], json_body(request))
        if len(parts) == 2 and parts[0] == "human-loops" and method == "GET":
            return self._admin_loop(parts[1], request.args.get("region"))
        if parts[0] == "faults":
            return json_response(self.faults.admin(method, parts[1:], json_body(request)))
        if parts[0] == "workforce":
            return self._admin_workforce(parts[1:], method, json_body(request))
        if parts[0] == "workers":
            return self._admin_workers(parts[1:], method, json_body(request))
        if parts == ["config"] and method == "PUT":
            return self._admin_config(json_body(request))
        if len(parts) == 4 and parts[0] == "human-task-uis" and parts[3] == "template" and method == "GET":
            ui = self.store.get_task_ui(parts[1], parts[2])
            if ui is None:
                raise ServiceError("ResourceNotFound", f"Human task UI '{parts[2]}' does not exist in {parts[1]}",
                                   404)
            # The author's HTML, as text: never active content on any origin of this service.
            return Response(ui.body, content_type="text/plain; charset=utf-8",
                            headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
        raise ServiceError("NotFound", f"{method} {request.path} is not part of the admin API", 404)

    def _open_admin_route(self, request: Request) -> bool:
        """Health is open to every client; task UI templates (DescribeHumanTaskUi's URL) too, on loopback (beyond
        it, the admin token guards them: they are the only admin route an AWS client reads)."""
        if request.path.rstrip("/") == ADMIN_PREFIX + "health":
            return True
        template = request.path.startswith(ADMIN_PREFIX + "human-task-uis/") and request.path.endswith("/template")
        return template and self.admin_token is None

    def _admin_allowed(self, request: Request) -> bool:
        """The open routes, else the admin token when the service has one."""
        if self._open_admin_route(request) or self.admin_token is None:
            return True
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return same_secret(given, self.admin_token)

    def _admin_workers(self, parts: list[str], method: str, body: dict) -> Response:
        """POST {"name", "team"} adds a worker and answers its one-time credential; GET lists; DELETE /NAME."""
        if not parts and method == "POST":
            try:
                worker, credential = self.accounts.add_worker(body.get("name"), body.get("team"))
            except AccountError as error:
                raise ValueError(str(error)) from None
            return json_response({**worker_view(worker), "credential": credential}, 201)
        if not parts and method == "GET":
            return json_response({"workers": [worker_view(worker) for worker in self.store.list_workers()]})
        if len(parts) == 1 and method == "DELETE":
            if not self.store.remove_worker(parts[0]):
                raise ServiceError("NotFound", f"There is no worker named '{parts[0]}'", 404)
            return json_response({"removed": parts[0]})
        raise ServiceError("NotFound", f"{method} /_a2i/workers/{'/'.join(parts)} is not part of the admin API", 404)

    def _admin_answer(self, name: str, body: dict) -> Response:
        """One worker's answer: {"answer": {...}, "workerId", "timeSpentInSeconds", "region", "workerMetadata"}."""
        answer = body.get("answer")
        if not isinstance(answer, dict):
            raise ValueError("'answer' must be a JSON object: the worker's answerContent, such as {\"label\": \"yes\"}")
        worker_id = body.get("workerId")
        if worker_id is None:
            worker_id = "local-cli-worker"
        if not isinstance(worker_id, str) or not 1 <= len(worker_id) <= MAX_WORKER_ID_LENGTH:
            raise ValueError(f"'workerId' must be a string of 1 to {MAX_WORKER_ID_LENGTH} characters (or left out: "
                             f"local-cli-worker), not {strict_json.shown(worker_id)}")
        spent = body.get("timeSpentInSeconds")
        time_spent = 0.0 if spent is None else strict_json.finite_float(spent)
        if time_spent is None or not 0 <= time_spent <= MAX_TIME_SPENT_SECONDS:
            raise ValueError(f"'timeSpentInSeconds' must be a number of seconds from 0 to {MAX_TIME_SPENT_SECONDS} "
                             f"(or left out: 0), not {strict_json.shown(spent)}")
        region = body.get("region")
        if region is not None and not isinstance(region, str):
            raise ValueError(f"'region' must be a Region name such as \"us-east-1\" (or left out: the only loop of "
                             f"that name), not {strict_json.shown(region)}")
        metadata = body.get("workerMetadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError("'workerMetadata' must be a JSON object such as {\"identityData\": {...}} (or left out), "
                             f"not {strict_json.shown(metadata)}")
        problem = identity_problem(metadata or {})
        if problem:
            raise ValueError(problem)
        loop = self.runtime.answer(region, name, answer, worker_id, time_spent=time_spent, worker_metadata=metadata)
        return json_response(loop_view(loop))

    def _admin_loop(self, name: str, region: str | None) -> Response:
        loops = [self.store.get_loop(region, name)] if region else self.store.find_loops_by_name(name)
        found = [loop for loop in loops if loop is not None]
        if not found:
            raise ServiceError("ResourceNotFoundException", f"Human loop '{name}' does not exist", 404)
        views = []
        for loop in found:
            view = loop_view(loop)
            view["answers"] = [answer.__dict__ for answer in self.store.answers(loop.id)]
            views.append(view)
        return json_response({"humanLoops": views})

    def _admin_workforce(self, parts: list[str], method: str, body: dict) -> Response:
        if parts == ["policies"] and method in ("PUT", "DELETE"):
            arn = body.get("flowDefinitionArn")
            if not isinstance(arn, str):
                raise ValueError("Give the flow definition as {\"flowDefinitionArn\": \"arn:aws:sagemaker:...\"}")
            region = arn.split(":")[3] if arn.count(":") >= 5 else ""
            self.runtime.flow_definition(region, arn)  # an unknown flow definition is a mistake worth saying
            policy = body.get("policy", {}) if method == "PUT" else None
            if policy is not None and not isinstance(policy, dict):
                raise ValueError("'policy' must be a JSON object")
            self.workforce.set_policy(arn, policy)
        elif parts or method != "GET":
            raise ServiceError("NotFound", f"{method} /_a2i/workforce/{'/'.join(parts)} is not part of the admin API",
                               404)
        return json_response(self.workforce.describe())

    def _admin_config(self, body: dict) -> Response:
        """Change the settings given, all or none: every value is checked before any is applied."""
        unknown = sorted(set(body) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"unknown config key(s) {', '.join(unknown)}; use {', '.join(CONFIG_KEYS)}")
        max_open_loops = self.runtime.max_open_loops
        if "maxOpenLoops" in body:
            max_open_loops = body["maxOpenLoops"]
            if max_open_loops is not None and (isinstance(max_open_loops, bool) or not isinstance(max_open_loops, int)
                                               or max_open_loops < 1):
                raise ValueError("'maxOpenLoops' must be a whole number >= 1, or null for no limit, not "
                                 f"{strict_json.shown(max_open_loops)}")
        stop_delay = self.runtime.stop_delay
        if "stopDelaySeconds" in body:
            given = strict_json.finite_float(body["stopDelaySeconds"])
            if given is None or given < 0:
                raise ValueError("'stopDelaySeconds' must be a number of seconds >= 0, not "
                                 f"{strict_json.shown(body['stopDelaySeconds'])}")
            stop_delay = given
        self.runtime.max_open_loops, self.runtime.stop_delay = max_open_loops, stop_delay
        return json_response({"maxOpenLoops": self.runtime.max_open_loops,
                              "stopDelaySeconds": self.runtime.stop_delay})
