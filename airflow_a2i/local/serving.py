"""Running the local service: ``airflow-a2i local serve``'s HTTP server, its clock, and its shutdown.

``serve`` builds the ``LocalService`` (``server.py``), restores what the store remembers, says where
everything is, advances loops in the background and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from airflow_a2i.local import s3
from airflow_a2i.local.admin_client import ADMIN_TOKEN_VARIABLE
from airflow_a2i.local.builtin import Analyzer
from airflow_a2i.local.portal.accounts import DEFAULT_SESSION_SECONDS, kept_secret
from airflow_a2i.local.server import ADMIN_TOKEN_FILE, LocalService
from airflow_a2i.local.workforce import AnswerCallable, WorkforcePolicy

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class _KeepAliveHandler(MotoRequestHandler):
    # HTTP/1.1 keeps clients' connections open between requests, as AWS endpoints do.
    protocol_version = "HTTP/1.1"


def _kept_admin_token(data_dir: Path) -> str:
    """The admin token kept in ``<data_dir>/admin-token``, made on first use."""
    return kept_secret(data_dir / ADMIN_TOKEN_FILE, lambda: secrets.token_urlsafe(32).encode() + b"\n").decode().strip()


def _write_ready_file(path: Path, endpoint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(endpoint + "\n")
    os.replace(partial, path)  # readers never see a half-written endpoint


def _advance_forever(service: LocalService, stop: threading.Event, interval: float = 0.1) -> None:
    while not stop.wait(interval):
        try:
            service.workforce.tick()
            service.runtime.advance()
        except Exception:  # keep the clock running whatever one tick met
            log.exception("advancing loops failed")


def serve(host: str = "127.0.0.1", port: int = 4566, data_dir: Path | None = None,
          ready_file: Path | None = None, *, stop_delay: float = 1.0, max_open_loops: int | None = None,
          verbose: bool = False, seed: int = 0, workforce_auto: bool = False,
          workforce_default: WorkforcePolicy | None = None,
          answer_callables: dict[str, AnswerCallable] | None = None, faults: dict | None = None,
          analyzer: Analyzer | None = None, s3_endpoint: str | None = None, login_required: bool = True,
          admin_token: str | None = None, session_seconds: float = DEFAULT_SESSION_SECONDS) -> None:
    """Run the service until SIGTERM or SIGINT; ``s3_endpoint``: self-hosted mode, S3 in that external store.

    Beyond loopback the portal's login cannot be turned off and the admin API takes only requests with the
    admin token (``admin_token``, else one made and kept in ``<data_dir>/admin-token``).
    """
    data_dir = (data_dir or Path(".a2i-local")).resolve()
    beyond_loopback = host not in LOOPBACK_HOSTS
    if beyond_loopback and not login_required:
        raise SystemExit(f"Refusing to listen on {host} with the portal's login off: beyond loopback anyone could "
                         "answer tasks. Drop --no-login (add workers with 'airflow-a2i local worker add'), or listen "
                         "on 127.0.0.1.")
    if beyond_loopback and admin_token is None:
        admin_token = _kept_admin_token(data_dir)
    s3.configure(s3_endpoint)  # before anything reads or writes S3
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)
    service = LocalService(data_dir, stop_delay=stop_delay, max_open_loops=max_open_loops, seed=seed,
                           workforce_auto=workforce_auto, workforce_default=workforce_default, analyzer=analyzer,
                           answer_callables=answer_callables, login_required=login_required,
                           admin_token=admin_token, session_seconds=session_seconds)
    if faults is not None:
        service.faults.load(faults)  # in force before the first request
    buckets, outputs = service.restore()
    server = make_server(host, port, service, threaded=True, request_handler=_KeepAliveHandler)
    shown_host = f"[{host}]" if ":" in host else host
    endpoint = f"http://{shown_host}:{server.server_port}"
    print(f"airflow-a2i local: serving the A2I runtime, SageMaker flow definitions and moto on {endpoint}",
          flush=True)
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
    print(f"airflow-a2i local: worker portal at {endpoint}/portal/ ("
          f"{'login required' if login_required else 'no login: every browser is a worker of every team'}; "
          f"{len(service.store.list_workers())} worker(s))", flush=True)
    if beyond_loopback:
        print(f"airflow-a2i local: listening on {host}, beyond loopback: the portal requires a login and the admin "
              f"API the admin token (kept in {data_dir / 'admin-token'} unless given; clients set "
              f"{ADMIN_TOKEN_VARIABLE}). The AWS APIs do not check signatures: keep the port behind a firewall "
              "or a TLS proxy that only your Airflow deployment reaches.", flush=True)
    else:
        print("airflow-a2i local: meant for loopback; point clients at it with "
              f"AWS_ENDPOINT_URL={endpoint}", flush=True)
    stop = threading.Event()
    threading.Thread(target=_advance_forever, args=(service, stop), daemon=True).start()

    def shut_down(signum: int, frame: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    if ready_file is not None:
        _write_ready_file(ready_file, endpoint)  # the socket already listens: requests queue until served
    try:
        server.serve_forever()
    finally:
        service.store.close()
        print("airflow-a2i local: stopped", file=sys.stderr, flush=True)
