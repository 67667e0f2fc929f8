"""Running the local service: ``airflow-a2i local serve``'s two HTTP servers, its clock, and its shutdown.

``serve`` builds the ``LocalService`` (``server.py``), restores what the store remembers, binds the AWS API port
and the worker portal's port (each with its guard, ``guard.py``), says who may reach which, advances loops in the
background and serves until SIGTERM or SIGINT. The servers are bounded: a fixed number of connections served at
once (the rest wait in the listen backlog), and a connection that stalls is closed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer

from airflow_a2i.local import s3
from airflow_a2i.local.admin_client import ADMIN_TOKEN_VARIABLE
from airflow_a2i.local.builtin import Analyzer
from airflow_a2i.local.credentials import Credentials
from airflow_a2i.local.guard import Guard, is_loopback
from airflow_a2i.local.portal.accounts import DEFAULT_SESSION_SECONDS, kept_secret
from airflow_a2i.local.server import ADMIN_TOKEN_FILE, LocalService
from airflow_a2i.local.workforce import AnswerCallable, WorkforcePolicy

log = logging.getLogger(__name__)

CREDENTIALS_VARIABLE = "AIRFLOW_A2I_CREDENTIALS"
MAX_CONNECTIONS = 64  # served at once per port
IDLE_SECONDS = 30  # a connection that sends nothing for this long (idle keep-alive, or stalled) is closed


class _KeepAliveHandler(MotoRequestHandler):
    # HTTP/1.1 keeps clients' connections open between requests, as AWS endpoints do.
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS


class BoundedServer(socketserver.ThreadingMixIn, BaseWSGIServer):
    """Werkzeug's threaded server with at most ``max_connections`` threads: past that, new connections wait in
    the kernel's listen backlog instead of each taking a thread."""

    multithread = True
    daemon_threads = True

    def __init__(self, host: str, port: int, app: Any, max_connections: int = MAX_CONNECTIONS,
                 handler: type[MotoRequestHandler] = _KeepAliveHandler) -> None:
        super().__init__(host, port, app, handler=handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _kept_admin_token(data_dir: Path) -> str:
    """The admin token kept in ``<data_dir>/admin-token``, made on first use."""
    return kept_secret(data_dir / ADMIN_TOKEN_FILE, lambda: secrets.token_urlsafe(32).encode() + b"\n").decode().strip()


def _write_ready_file(path: Path, endpoint: str, portal: str) -> None:
    """Line 1: the AWS API endpoint; line 2: the worker portal's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{endpoint}\n{portal}\n")
    os.replace(partial, path)  # readers never see a half-written endpoint


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _advance_forever(service: LocalService, stop: threading.Event, interval: float = 0.1) -> None:
    while not stop.wait(interval):
        try:
            service.workforce.tick()
            service.runtime.advance()
        except Exception:  # keep the clock running whatever one tick met
            log.exception("advancing loops failed")


def _refuse_unsafe_settings(host: str, *, login_required: bool, moto_api: bool,
                            credentials: Credentials | None) -> None:
    """Beyond loopback, what would let anyone who reaches the port in: SystemExit saying what to change."""
    if is_loopback(host):
        return
    if not login_required:
        raise SystemExit(f"Refusing to listen on {host} with the portal's login off: beyond loopback anyone could "
                         "answer tasks. Drop --no-login (add workers with 'airflow-a2i local worker add'), or listen "
                         "on 127.0.0.1.")
    if moto_api:
        raise SystemExit("Refusing --moto-api beyond loopback: moto's management routes dump and reset all state")
    if not credentials:
        raise SystemExit(f"Refusing to listen on {host} without credentials: beyond loopback every AWS API request "
                         f"must be signed with a key the service knows. Give --credentials-file FILE (lines "
                         f"'ACCESS_KEY_ID SECRET') or {CREDENTIALS_VARIABLE}=ACCESS_KEY_ID:SECRET, and the same keys "
                         "to your Airflow connection; or listen on 127.0.0.1.")


def serve(host: str = "127.0.0.1", port: int = 4566, data_dir: Path | None = None,
          ready_file: Path | None = None, *, stop_delay: float = 1.0, max_open_loops: int | None = None,
          verbose: bool = False, seed: int = 0, workforce_auto: bool = False,
          workforce_default: WorkforcePolicy | None = None,
          answer_callables: dict[str, AnswerCallable] | None = None, faults: dict | None = None,
          analyzer: Analyzer | None = None, s3_endpoint: str | None = None, login_required: bool = True,
          admin_token: str | None = None, session_seconds: float = DEFAULT_SESSION_SECONDS,
          portal_port: int | None = None, allowed_hosts: tuple[str, ...] = (), moto_api: bool = False,
          credentials: Credentials | None = None, behind_proxy: bool = False,
          portal_allowed_origins: tuple[str, ...] = ()) -> None:
    """Run the service until SIGTERM or SIGINT; ``s3_endpoint``: self-hosted mode, S3 in that external store.

    The worker portal listens on ``portal_port`` (default: the next port; a free one with ``port=0``).
    Beyond loopback the portal's login cannot be turned off and the admin API takes only requests with the
    admin token (``admin_token``, else one made and kept in ``<data_dir>/admin-token``). ``allowed_hosts``: the
    names a proxy in front forwards as ``Host``. ``moto_api``: serve moto's management routes (loopback only).
    ``credentials``: the key pairs AWS API requests must be signed with (SigV4); required beyond loopback.
    ``behind_proxy``: a TLS proxy is in front: the portal believes its X-Forwarded-Proto and X-Forwarded-For.
    ``portal_allowed_origins``: outside origins task pages may load scripts, styles, images, media and frames from.
    """
    data_dir = (data_dir or Path(".a2i-local")).resolve()
    beyond_loopback = not is_loopback(host)
    _refuse_unsafe_settings(host, login_required=login_required, moto_api=moto_api, credentials=credentials)
    if beyond_loopback and admin_token is None:
        admin_token = _kept_admin_token(data_dir)
    s3.configure(s3_endpoint)  # before anything reads or writes S3
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)
    service = LocalService(data_dir, stop_delay=stop_delay, max_open_loops=max_open_loops, seed=seed,
                           workforce_auto=workforce_auto, workforce_default=workforce_default, analyzer=analyzer,
                           answer_callables=answer_callables, login_required=login_required,
                           admin_token=admin_token, session_seconds=session_seconds, credentials=credentials,
                           behind_proxy=behind_proxy, portal_allowed_origins=portal_allowed_origins)
    if faults is not None:
        service.faults.load(faults)  # in force before the first request
    buckets, outputs = service.restore()
    server = BoundedServer(host, port, service)
    portal_server = BoundedServer(host, (port + 1 if port else 0) if portal_port is None else portal_port,
                                  service.portal_app, max_connections=16)
    endpoint, portal = _url(host, server.server_port), _url(host, portal_server.server_port)
    service.listen(Guard.listening_on(host, server.server_port, allowed_hosts=allowed_hosts, moto_api=moto_api),
                   Guard.listening_on(host, portal_server.server_port, allowed_hosts=allowed_hosts, portal=True),
                   portal)
    print(f"airflow-a2i local: serving the A2I runtime, SageMaker flow definitions and moto on {endpoint} "
          "(AWS clients only: no web browser)", flush=True)
    if s3_endpoint is None:
        print(f"airflow-a2i local: data directory {data_dir}; restored {buckets} bucket(s) and {outputs} "
              "output.json file(s); other S3 objects do not survive a restart", flush=True)
    else:
        print(f"airflow-a2i local: data directory {data_dir}; self-hosted mode: documents and outputs live in the "
              f"external S3 store at {s3_endpoint} and survive restarts; send S3 requests there "
              f"(AWS_ENDPOINT_URL_S3={s3_endpoint})", flush=True)
    print(f"airflow-a2i local: simulated workforce {'auto' if workforce_auto else 'off'} "
          f"(policies for {len(service.store.workforce_policies())} flow definition(s); seed {seed})", flush=True)
    if faults is not None:
        state = service.faults.state()
        print(f"airflow-a2i local: fault injection: {len(state['rules'])} rule(s), quotas "
              f"{json.dumps(state['quotas'])}; see and change them at {endpoint}/_a2i/faults", flush=True)
    print(f"airflow-a2i local: worker portal at {portal}/portal/ ("
          f"{'login required' if login_required else 'no login: every browser is a worker of every team'}; "
          f"{len(service.store.list_workers())} worker(s))", flush=True)
    if credentials:
        print(f"airflow-a2i local: AWS API requests must be signed (SigV4) with one of {len(credentials)} configured "
              "access key(s)", flush=True)
    else:
        print("airflow-a2i local: AWS API signatures are not checked (loopback, no credentials configured)",
              flush=True)
    if beyond_loopback:
        print(f"airflow-a2i local: listening on {host}, beyond loopback. Reviewers reach only the portal's port "
              f"{portal_server.server_port} (a login each); only your Airflow deployment reaches the API port "
              f"{server.server_port} (the admin API needs the admin token, kept in {data_dir / 'admin-token'} unless "
              f"given; clients set {ADMIN_TOKEN_VARIABLE}). Put both behind a TLS proxy.", flush=True)
    else:
        print("airflow-a2i local: on loopback; point AWS clients at it with "
              f"AWS_ENDPOINT_URL={endpoint}", flush=True)
    stop = threading.Event()
    threading.Thread(target=_advance_forever, args=(service, stop), daemon=True).start()
    threading.Thread(target=portal_server.serve_forever, daemon=True).start()

    def shut_down(signum: int, frame: Any) -> None:
        stop.set()
        threading.Thread(target=portal_server.shutdown, daemon=True).start()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    if ready_file is not None:
        _write_ready_file(ready_file, endpoint, portal)  # the socket already listens: requests queue until served
    try:
        server.serve_forever()
    finally:
        service.store.close()
        print("airflow-a2i local: stopped", file=sys.stderr, flush=True)
