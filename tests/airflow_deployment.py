"""A real Airflow deployment for tests: every component a child process, driven through the REST API.

Two shapes, one harness (:class:`DeploymentOptions`):

- **Local** (the default): LocalExecutor, a SQLite metadata database under ``home`` (Airflow 3; Airflow 2 needs
  PostgreSQL); api-server, scheduler, dag-processor and one triggerer.
- **Celery**: CeleryExecutor with Redis as broker and a result backend (``db+postgresql://`` or Redis),
  PostgreSQL as metadata database, any number of ``celery worker``s (small ``--concurrency``, told apart by
  the hostname callable) and of triggerers. :func:`celery_deployment` makes a fresh PostgreSQL database for it and
  drops it afterwards; :class:`CeleryBackends` reads where PostgreSQL and Redis are (``A2I_TEST_POSTGRES_URL``,
  ``A2I_TEST_REDIS_URL``) and says what to start when they are absent.

Both: short heartbeats so that new DAG files, deferred tasks and a dead triggerer are noticed in seconds. Each
component is named (``triggerer-2``, ``celery-worker-1``) and Airflow's ``hostname_callable`` returns that name,
so a task instance's ``hostname`` says which Celery worker ran it and a triggerer job's ``hostname`` which
triggerer it is. The processes may run from another virtualenv's Python (``DeploymentOptions.python``), whose
Airflow's major version picks an :class:`AirflowGeneration`, the one place what differs between versions lives:

- **Airflow 3** (:class:`Airflow3`): one shared JWT secret, the api-server on a free loopback port (REST API v2;
  it also serves the Execution API the task supervisors call), SimpleAuthManager with every user an admin
  (``GET /auth/token`` hands out a token without credentials), a standalone dag-processor.
- **Airflow 2** (:class:`Airflow2`): the webserver (gunicorn, one worker) on a free loopback port (REST API v1,
  the ``default`` auth backend, FAB's public role an admin: no credentials), the scheduler parsing the DAGs
  itself, jobs read from the metadata database (REST API v1 has no jobs endpoint).

Every REST call goes through :meth:`AirflowDeployment.api`; the methods above it (``trigger_dag``,
``task_instances``, ``xcom``, ``jobs``...) answer in REST API v2's shape on both generations.

    with AirflowDeployment(home, dags_folder, {"AWS_ENDPOINT_URL": endpoint}) as deployment:
        deployment.add_dag_file(Path("tests/deployment_dags/deployment_plain.py"))  # waits until parsed
        run_id = deployment.trigger_dag("deployment_plain", conf={"answer": 42})
        assert deployment.wait_for_run("deployment_plain", run_id, timeout=120) == "success", deployment.logs()

(or the session fixture ``airflow_deployment`` from tests/conftest.py, which starts one on first use).

Each process is started as the leader of a new session. ``stop()`` sends SIGTERM, then SIGKILLs the process
groups, the process trees and anything else still in those sessions (task processes change process group but
keep the session). A watchdog process kills the same if the test process itself dies without calling ``stop()``.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_EXECUTOR = "LocalExecutor"
CELERY_EXECUTOR = "CeleryExecutor"
# Each component kind is started as `python -m airflow <command...>` (the commands of each Airflow generation:
# Airflow3.commands, Airflow2.commands); the log servers are skipped (no extra ports: every log is a local file
# the HTTP server reads directly). Per-instance arguments (the server's port, a worker's concurrency and
# queue) are added by AirflowDeployment._command.
COMMANDS: dict[str, list[str]] = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--workers", "1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    # No start-up sync with, nor gossip about, other workers on the (possibly shared) broker.
    "celery-worker": ["celery", "worker", "--skip-serve-logs", "--without-mingle", "--without-gossip"],
}
AIRFLOW2_COMMANDS: dict[str, list[str]] = {
    # Gunicorn with one worker: the REST API v1 and the health endpoint; no rolling worker restarts (config).
    "webserver": ["webserver", "--hostname", "127.0.0.1", "--workers", "1"],
    # Parses the DAGs folder itself (its DAG file processor manager is a child process): no dag-processor.
    "scheduler": COMMANDS["scheduler"],
    "triggerer": COMMANDS["triggerer"],
    "celery-worker": COMMANDS["celery-worker"],
}
# Which component a process is: set in each component's environment, returned by Airflow's hostname_callable.
COMPONENT_VARIABLE = "A2I_DEPLOYMENT_COMPONENT"
# tests/deployment_hostname.py, copied into a folder of its own on the processes' path (HOSTNAME_FOLDER under the
# deployment's home): importable even when the working tree is not on the path.
HOSTNAME_MODULE = Path(__file__).resolve().parent / "deployment_hostname.py"
HOSTNAME_FOLDER = "pythonpath"
HOSTNAME_CALLABLE = "deployment_hostname.component_hostname"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
# Seconds a triggerer may be silent before another one takes its triggers ([triggerer]
# triggerer_health_check_threshold, read with getint): low for the tests that kill a triggerer, Airflow's default
# otherwise, since on a loaded machine a live triggerer's heartbeat can lag a few seconds and its triggers would move.
TRIGGERER_HEALTH_CHECK_THRESHOLD = 5
DEFAULT_TRIGGERER_HEALTH_CHECK_THRESHOLD = 30
START_TIMEOUT = 180.0
POLL = 0.25

POSTGRES_URL_VARIABLE = "A2I_TEST_POSTGRES_URL"
REDIS_URL_VARIABLE = "A2I_TEST_REDIS_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"  # a database number unlikely to be anyone else's


MARKER = "AIRFLOW_TEST_DEPLOYMENT"

# The watchdog's program (run with `python -c`): argv[1] is the pid to watch, argv[2] the file listing the
# deployment's session ids, argv[3] its marker.
REAPER = """
import os, sys, time
sys.path[:0] = [sys.argv[4]]
watched, sessions_file, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]
while os.getppid() == watched:  # reparented once the watched process is gone
    time.sleep(0.5)
from airflow_deployment import kill_deployment_processes
with open(sessions_file) as handle:
    sessions = {int(line) for line in handle if line.strip()}
print("watched process", watched, "is gone; killed", kill_deployment_processes(sessions, marker), flush=True)
"""


def _wait_gone(processes: list[psutil.Process], timeout: float) -> None:
    """Until every process is gone or a zombie (an orphan's zombie may never be reaped: pid 1 here need not be a
    real init, so psutil.wait_procs would wait out its whole timeout on it)."""
    deadline = time.monotonic() + timeout
    for process in processes:
        while time.monotonic() < deadline:
            try:
                if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)


def kill_deployment_processes(sessions: Collection[int], marker: str) -> list[int]:
    """SIGKILL every process of one deployment: those in its sessions (each process was started as a session
    leader; Airflow's children change process group -- task processes do -- but keep the session), and those whose
    environment carries its marker (setproctitle overwrites the environment of many Airflow processes, so the
    session is the main test)."""
    killed = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            ours = os.getsid(process.pid) in sessions
            if not ours:
                with contextlib.suppress(psutil.Error, OSError):
                    ours = process.environ().get(MARKER) == marker
            if ours:
                process.kill()
                killed.append(process.pid)
        except (psutil.Error, OSError):
            pass
    return killed


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def merged(base: dict[str, dict[str, str]], extra: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """airflow.cfg sections: ``extra``'s options added to (or replacing) ``base``'s, section by section."""
    sections = {name: dict(options) for name, options in base.items()}
    for name, options in extra.items():
        sections.setdefault(name, {}).update(options)
    return sections


def shown_url(url: str) -> str:
    """A URL as it may be printed: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# ---------------------------------------------------------------------------------------------- backing services


@dataclass(frozen=True)
class CeleryBackends:
    """Where the Celery deployment's PostgreSQL server and Redis are (``A2I_TEST_POSTGRES_URL``,
    ``A2I_TEST_REDIS_URL``; the defaults are what every development and CI machine of this project runs)."""

    postgres_url: str = DEFAULT_POSTGRES_URL
    redis_url: str = DEFAULT_REDIS_URL

    @classmethod
    def from_environment(cls) -> CeleryBackends:
        return cls(os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL,
                   os.environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL)

    def unreachable(self) -> str | None:
        """None when both answer; otherwise what is missing and what to start where."""
        problems = [problem for problem in (self._postgres_problem(), self._redis_problem()) if problem]
        if not problems:
            return None
        return (f"PostgreSQL/Redis not reachable at {shown_url(self.postgres_url)} / {shown_url(self.redis_url)}: "
                f"start PostgreSQL on 127.0.0.1:5432 (trust auth, database 'test', user 'postgres') and Redis on "
                f"127.0.0.1:6379, or set {POSTGRES_URL_VARIABLE} / {REDIS_URL_VARIABLE} ({'; '.join(problems)})")

    @classmethod
    def required(cls) -> CeleryBackends:
        """The backends from the environment, or the test is skipped saying what to start (failed under CI=true,
        where they must run)."""
        import pytest

        backends = cls.from_environment()
        problem = backends.unreachable()
        if problem is not None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(problem)
            pytest.skip(problem)
        return backends

    def _postgres_problem(self) -> str | None:
        try:
            with contextlib.closing(_postgres_connection(self.postgres_url)) as connection, \
                    connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:
            return f"PostgreSQL: {' '.join(str(error).split())}"
        return None

    def _redis_problem(self) -> str | None:
        import redis

        try:
            with contextlib.closing(redis.Redis.from_url(self.redis_url, socket_connect_timeout=3,
                                                         socket_timeout=3)) as client:
                client.ping()
        except Exception as error:
            return f"Redis: {error}"
        return None


def _libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg2://...`` too) as libpq reads it."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_connection(url: str) -> Any:
    """An autocommit psycopg2 connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg2

    connection = psycopg2.connect(_libpq_url(url), connect_timeout=3)
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def fresh_postgres_database(server_url: str, prefix: str = "airflow_a2i") -> Iterator[str]:
    """A new, empty database on the server of ``server_url`` (``<prefix>_<random>``), dropped afterwards even
    with connections still open; yields its URL (same driver and credentials as ``server_url``)."""
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{secrets.token_hex(6)}"
    with contextlib.closing(_postgres_connection(server_url)) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.closing(_postgres_connection(server_url)) as connection, connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def purge_celery_keys(redis_url: str, token: str) -> int:
    """Remove from Redis what one deployment's Celery left there: every key naming ``token`` (its queue, its
    bindings), the binding entries and the unacknowledged messages that name it. Other users of the same Redis
    database keep theirs. Returns how many keys and entries went."""
    import redis

    removed = 0
    with contextlib.closing(redis.Redis.from_url(redis_url, socket_timeout=10)) as client:
        for key in list(client.scan_iter(match=f"*{token}*")):
            removed += client.delete(key)
        for key in list(client.scan_iter(match="_kombu.binding.*")):
            ours = [member for member in client.smembers(key) if token.encode() in member]
            if ours:
                removed += client.srem(key, *ours)
        # Messages a stopped worker had taken but not acknowledged: kombu would restore them to our dead queue.
        for tag, message in client.hscan_iter("unacked"):
            if token.encode() in message:
                removed += client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    return removed


# ---------------------------------------------------------------------------------------------- the deployment


@dataclass(frozen=True)
class DeploymentOptions:
    """What runs, on what, and from which Python.

    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param database_url: the metadata database's SQLAlchemy URL (``postgresql://...``); None: SQLite under home.
    :param broker_url: Celery's broker (``redis://...``); Celery only.
    :param result_backend: Celery's result backend (``db+postgresql://...`` or ``redis://...``); Celery only.
    :param triggerers: how many triggerer processes.
    :param celery_workers: how many ``celery worker`` processes (Celery only).
    :param worker_concurrency: task slots of each Celery worker.
    :param python: the Python whose Airflow runs every component (another virtualenv's, for another Airflow); its
        Airflow's major version chooses the :class:`AirflowGeneration`.
    :param working_tree_on_path: the project's root first on the processes' path, so DAG files may import
        ``tests.*`` helpers (its ``airflow_a2i`` then shadows any installed one). False for a venv whose installed
        airflow-a2i wheel must be what runs, as in a real deployment.
    :param triggerer_health_check_threshold: seconds of silence after which a triggerer counts as dead and another
        takes its triggers: :data:`TRIGGERER_HEALTH_CHECK_THRESHOLD` where a test kills triggerers.
    :param triggerer_capacity: how many triggers each triggerer runs at once (``airflow triggerer --capacity``);
        None: Airflow's default (1,000). A triggerer claims every unassigned trigger up to its capacity, so with
        the default one triggerer usually takes them all; capacity 1 puts two triggers on two triggerers.
    """

    executor: str = LOCAL_EXECUTOR
    database_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None
    triggerers: int = 1
    celery_workers: int = 2
    worker_concurrency: int = 1
    python: str = sys.executable
    working_tree_on_path: bool = True
    triggerer_health_check_threshold: int = DEFAULT_TRIGGERER_HEALTH_CHECK_THRESHOLD
    triggerer_capacity: int | None = None

    def __post_init__(self) -> None:
        if self.executor not in (LOCAL_EXECUTOR, CELERY_EXECUTOR):
            raise ValueError(f"executor must be {LOCAL_EXECUTOR} or {CELERY_EXECUTOR}, not {self.executor!r}")
        if self.celery and not (self.broker_url and self.result_backend):
            raise ValueError("the CeleryExecutor needs broker_url and result_backend")
        if self.celery and self.database_url is None:
            raise ValueError("the CeleryExecutor needs a database_url its workers and scheduler share (PostgreSQL)")
        if self.triggerers < 1 or (self.celery and self.celery_workers < 1):
            raise ValueError("at least one triggerer, and with Celery at least one worker")
        if self.triggerer_capacity is not None and self.triggerer_capacity < 1:
            raise ValueError(f"triggerer_capacity must be at least 1 (or None), not {self.triggerer_capacity}")

    @property
    def celery(self) -> bool:
        return self.executor == CELERY_EXECUTOR


@dataclass(frozen=True)
class Component:
    """One process of the deployment: ``name`` names its log file and is its hostname inside Airflow."""

    name: str
    kind: str  # a key of COMMANDS


def numbered(kind: str, count: int) -> list[Component]:
    """``count`` components of a kind: ``triggerer`` alone, or ``triggerer-1``, ``triggerer-2``, ..."""
    if count == 1:
        return [Component(kind, kind)]
    return [Component(f"{kind}-{index}", kind) for index in range(1, count + 1)]


class DeploymentError(RuntimeError):
    """The deployment did not do what was asked in time; the message ends with the tails of the process logs."""


# ---------------------------------------------------------------------------------------------- Airflow generations


class AirflowGeneration:
    """What an Airflow major version changes in a deployment, in one place: the components and their commands, the
    configuration that differs (HTTP server, auth, secret and JWT keys, DAG parsing), the REST API's prefix and
    authentication, and the few REST answers whose shape differs. :class:`AirflowDeployment` asks its generation
    (:func:`generation_of`), never the version."""

    major: int
    commands: dict[str, list[str]]
    fixed_components: tuple[str, ...]  # the kinds started once, in this order, before triggerers and workers
    server: str  # the kind that serves HTTP: the REST API and the health endpoint
    api_prefix: str
    health_path: str  # below api_prefix; answers without credentials
    health_components: tuple[str, ...]  # what the health endpoint must call healthy before the deployment is ready
    port_taken_messages: tuple[str, ...]  # what the server logs when someone else bound its port first
    xcom_params: dict[str, str]  # asks the XCom endpoint for the value as stored (JSON), not its str()

    def check(self, options: DeploymentOptions) -> None:
        """Raise ValueError for options this generation cannot run."""

    def config(self, deployment: AirflowDeployment) -> dict[str, dict[str, str]]:
        """The sections and options of airflow.cfg only this generation has (merged over the common ones)."""
        raise NotImplementedError

    def prepare_home(self, deployment: AirflowDeployment) -> None:
        """Files besides airflow.cfg the components read from the home (written before they start)."""

    def authenticate(self, http: httpx.Client) -> dict[str, str]:
        """The headers that authenticate a REST call (fetched again once on a 401)."""
        raise NotImplementedError

    def jobs(self, deployment: AirflowDeployment, job_type: str | None) -> list[dict[str, Any]]:
        """Jobs as REST API v2 returns them (``id``, ``job_type``, ``state``, ``hostname``, ``latest_heartbeat``),
        newest heartbeat first, at most 100."""
        raise NotImplementedError

    def trigger_body(self, conf: dict[str, Any], logical_date: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def dag_fields(self, dag: dict[str, Any]) -> dict[str, Any]:
        """A DAG as REST API v2 names its fields (the harness's callers read ``next_dagrun_logical_date``)."""
        return dag

    def log_records(self, deployment: AirflowDeployment, path: str) -> list[Any]:
        """A task try's whole log (``path`` below the prefix): structured records or lines of text."""
        raise NotImplementedError


class Airflow3(AirflowGeneration):
    """api-server (REST API v2, the Execution API the task supervisors call), SimpleAuthManager with every user an
    admin (``GET /auth/token`` hands out a JWT without credentials), a standalone dag-processor."""

    major = 3
    commands = COMMANDS
    fixed_components = ("api-server", "scheduler", "dag-processor")
    server = "api-server"
    api_prefix = "/api/v2"
    health_path = "/monitor/health"
    health_components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    port_taken_messages = ("address already in use",)
    xcom_params: dict[str, str] = {}

    def config(self, deployment: AirflowDeployment) -> dict[str, dict[str, str]]:
        return {
            "core": {
                "execution_api_server_url": f"{deployment.base_url}/execution/",
                "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                "simple_auth_manager_all_admins": "True",
            },
            "api": {
                "host": "127.0.0.1",
                "port": str(deployment.port),
                "workers": "1",
                "secret_key": deployment.secret_key,
                "expose_config": "True",
            },
            # Signs the tokens of the REST API and of the Execution API alike: one key for every process.
            "api_auth": {"jwt_secret": deployment.jwt_secret},
            "dag_processor": {
                "refresh_interval": "1",  # how often the dags folder is listed: new files are seen in ~1 s
                "bundle_refresh_check_interval": "1",
                "min_file_process_interval": "5",
                "parsing_processes": "1",
                "print_stats_interval": "0",
                "stale_dag_threshold": "30",
            },
        }

    def authenticate(self, http: httpx.Client) -> dict[str, str]:
        # SimpleAuthManager with all_admins: a GET without credentials returns an admin JWT (201).
        response = http.get("/auth/token")
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def jobs(self, deployment: AirflowDeployment, job_type: str | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 100, "order_by": "-latest_heartbeat"}
        if job_type:
            params["job_type"] = job_type
        return deployment._json("GET", "/jobs", params=params)["jobs"]

    def trigger_body(self, conf: dict[str, Any], logical_date: str | None) -> dict[str, Any]:
        return {"logical_date": logical_date, "conf": conf}  # None: a run without a logical date, as the UI makes

    def log_records(self, deployment: AirflowDeployment, path: str) -> list[Any]:
        # JSON, not text/plain: the Airflow 3.3 endpoint answers 400 to anything but JSON or NDJSON.
        return deployment._json("GET", path, params={"full_content": True},
                                headers={"Accept": "application/json"}).get("content", [])


# The webserver's FAB settings (webserver_config.py): anyone who is not logged in -- every REST call here -- has the
# Admin role, as SimpleAuthManager's all_admins gives on Airflow 3.
AIRFLOW2_WEBSERVER_CONFIG = """\
from flask_appbuilder.const import AUTH_DB

AUTH_TYPE = AUTH_DB
AUTH_ROLE_PUBLIC = "Admin"
"""
JOB_COLUMNS = ("id", "job_type", "state", "hostname", "latest_heartbeat")


class Airflow2(AirflowGeneration):
    """webserver (gunicorn; REST API v1 with the ``default`` auth backend, the FAB public role an admin), the
    scheduler parsing the DAGs folder itself, tasks talking to the database directly. REST API v1 has no jobs
    endpoint: jobs are read from the metadata database."""

    major = 2
    commands = AIRFLOW2_COMMANDS
    fixed_components = ("webserver", "scheduler")
    server = "webserver"
    api_prefix = "/api/v1"
    health_path = "/health"
    health_components = ("metadatabase", "scheduler", "triggerer")  # dag_processor: None without a standalone one
    port_taken_messages = ("connection in use", "address already in use")  # gunicorn's words, then Python's
    # Native JSON values ([api] enable_xcom_deserialize_support); v1 answers str(value) by default.
    xcom_params = {"deserialize": "true", "stringify": "false"}

    def check(self, options: DeploymentOptions) -> None:
        if options.database_url is None:
            raise ValueError("Airflow 2 runs neither the LocalExecutor nor the CeleryExecutor on SQLite: give a "
                             "PostgreSQL database_url")

    def config(self, deployment: AirflowDeployment) -> dict[str, dict[str, str]]:
        return {
            "webserver": {
                "web_server_host": "127.0.0.1",
                "web_server_port": str(deployment.port),
                "base_url": deployment.base_url,
                "workers": "1",
                "worker_refresh_batch_size": "0",  # no rolling restarts of the one gunicorn worker
                "secret_key": deployment.secret_key,  # also signs log requests between components
                "config_file": str(self.webserver_config_file(deployment)),
                "expose_config": "True",
                "warn_deployment_exposure": "False",
            },
            "api": {
                # No credentials on loopback: every request is the FAB public user, whose role is Admin.
                "auth_backends": "airflow.api.auth.backend.default",
                "enable_xcom_deserialize_support": "True",
            },
            "scheduler": {
                "standalone_dag_processor": "False",
                "dag_dir_list_interval": "1",  # how often the dags folder is listed: new files are seen in ~1 s
                "min_file_process_interval": "5",
                "parsing_processes": "1",
                "print_stats_interval": "0",
                "stale_dag_threshold": "30",
            },
        }

    @staticmethod
    def webserver_config_file(deployment: AirflowDeployment) -> Path:
        return deployment.home / "webserver_config.py"

    def prepare_home(self, deployment: AirflowDeployment) -> None:
        self.webserver_config_file(deployment).write_text(AIRFLOW2_WEBSERVER_CONFIG)

    def authenticate(self, http: httpx.Client) -> dict[str, str]:
        return {}

    def jobs(self, deployment: AirflowDeployment, job_type: str | None) -> list[dict[str, Any]]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        where = " WHERE job_type = :job_type" if job_type else ""
        query = text(f"SELECT {', '.join(JOB_COLUMNS)} FROM job{where} "
                     "ORDER BY latest_heartbeat DESC NULLS LAST LIMIT 100")
        engine = create_engine(deployment.database_url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                rows = connection.execute(query, {"job_type": job_type}).all()
        finally:
            engine.dispose()
        return [{**dict(zip(JOB_COLUMNS, row, strict=True)), "latest_heartbeat": _utc_iso(row[-1])}
                for row in rows]

    def trigger_body(self, conf: dict[str, Any], logical_date: str | None) -> dict[str, Any]:
        # Every Airflow 2 run has a logical date: left out, it is now.
        return {"conf": conf} if logical_date is None else {"conf": conf, "logical_date": logical_date}

    def dag_fields(self, dag: dict[str, Any]) -> dict[str, Any]:
        return {**dag, "next_dagrun_logical_date": dag.get("next_dagrun")}

    def log_records(self, deployment: AirflowDeployment, path: str) -> list[Any]:
        # Text: the JSON answer's content is a Python repr of (host, text) pairs.
        response = deployment.api("GET", path, params={"full_content": True}, headers={"Accept": "text/plain"})
        if response.is_error:
            raise DeploymentError(f"GET {path} -> {response.status_code}: {response.text}")
        return response.text.splitlines()


GENERATIONS: dict[int, AirflowGeneration] = {generation.major: generation for generation in (Airflow2(), Airflow3())}


@functools.cache
def airflow_version(python: str) -> str:
    """The Airflow version installed for ``python`` (its package metadata: importing airflow would write an
    airflow.cfg into whatever AIRFLOW_HOME is set)."""
    result = subprocess.run([python, "-c", "from importlib.metadata import version; print(version('apache-airflow'))"],
                            capture_output=True, text=True, timeout=60, check=False)
    if result.returncode:
        raise DeploymentError(f"no Airflow installed for {python}: {result.stderr.strip()}")
    return result.stdout.strip()


def generation_of(python: str) -> AirflowGeneration:
    version = airflow_version(python)
    generation = GENERATIONS.get(int(version.split(".")[0]))
    if generation is None:
        raise DeploymentError(f"no deployment shape for Airflow {version} ({python}); known: {sorted(GENERATIONS)}")
    return generation


def _utc_iso(value: datetime | str | None) -> str | None:
    """A database timestamp as REST API v2 writes it (SQLite hands back naive UTC text, PostgreSQL datetimes)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class AirflowDeployment:
    """One Airflow deployment in ``home``, parsing DAGs from ``dags_folder``; ``env`` is added to every process's
    environment (after this process's own, minus its ``AIRFLOW__*`` settings, which would override airflow.cfg)."""

    def __init__(self, home: Path, dags_folder: Path, env: dict[str, str] | None = None,
                 options: DeploymentOptions | None = None) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(env or {})
        self.options = options or DeploymentOptions()
        self.airflow_version = airflow_version(self.options.python)
        self.generation = generation_of(self.options.python)
        self.generation.check(self.options)
        self.components = {component.name: component for component in self._plan()}
        self.log_dir = self.home / "logs" / "processes"
        self.port = 0
        self.jwt_secret = secrets.token_urlsafe(64)  # >= 64 bytes: HS512 warns on shorter keys
        self.secret_key = secrets.token_urlsafe(64)
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopped_on_purpose: set[str] = set()
        self.start_seconds: float | None = None
        self._client: httpx.Client | None = None
        self._auth: dict[str, str] | None = None  # the REST API's auth headers, once fetched
        self._log_offsets: dict[str, int] = {}  # where each process's log stood when it was last started
        # Every process of this deployment (task supervisors and trigger runners included) inherits this value:
        # it finds them all, whichever session or parent they end up in. It also names the deployment's Celery
        # queue, so that deployments sharing one Redis never take each other's tasks.
        self.marker = secrets.token_hex(8)
        self.sessions: list[int] = []  # session ids of every process started (each a session leader)
        self._reaper: subprocess.Popen | None = None

    # ------------------------------------------------------------------ configuration

    def _plan(self) -> list[Component]:
        """The components, in start order."""
        plan = [Component(kind, kind) for kind in self.generation.fixed_components]
        plan += numbered("triggerer", self.options.triggerers)
        if self.options.celery:
            plan += numbered("celery-worker", self.options.celery_workers)
        return plan

    def names(self, kind: str) -> list[str]:
        """The names of the components of one kind (``triggerer-1``, ``triggerer-2``)."""
        return [name for name, component in self.components.items() if component.kind == kind]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def celery_queue(self) -> str:
        return f"a2i-{self.marker}"

    @property
    def database_url(self) -> str:
        """The metadata database's SQLAlchemy URL."""
        return self.options.database_url or f"sqlite:///{self.home / 'airflow.db'}"

    def config(self) -> dict[str, dict[str, str]]:
        """The airflow.cfg this deployment writes; every value here was chosen, none is left to a default. What only
        one Airflow generation has comes from :meth:`AirflowGeneration.config`."""
        from cryptography.fernet import Fernet

        config = {
            "core": {
                "executor": self.options.executor,
                # SQLite serializes writers, but tasks never touch the database in Airflow 3 (they call the
                # Execution API), so a few parallel tasks are fine; more would only load a 2-core machine.
                "parallelism": "4",
                "dags_folder": str(self.dags_folder),
                "load_examples": "False",
                "dags_are_paused_at_creation": "True",
                "fernet_key": Fernet.generate_key().decode(),
                "default_timezone": "utc",
                "dagbag_import_timeout": "60",
                "hostname_callable": HOSTNAME_CALLABLE,
            },
            "database": self._database_config(),
            "logging": {
                "base_log_folder": str(self.home / "logs"),
                "colored_console_log": "False",
                "logging_level": "INFO",
            },
            "scheduler": {
                "scheduler_heartbeat_sec": "1",
                "job_heartbeat_sec": "1",
                "scheduler_idle_sleep_time": "0.5",
                "enable_health_check": "False",  # its own HTTP health server would need another port
                "parsing_cleanup_interval": "10",
                "orphaned_tasks_check_interval": "10",
                "trigger_timeout_check_interval": "5",
            },
            "triggerer": {
                "job_heartbeat_sec": "1",
                # A triggerer silent this long is dead: another one takes its triggers.
                "triggerer_health_check_threshold": str(self.options.triggerer_health_check_threshold),
            },
        }
        if self.options.celery:
            config.update(self._celery_config())
        return merged(config, self.generation.config(self))

    def _database_config(self) -> dict[str, str]:
        if self.options.database_url is None:
            return {
                "sql_alchemy_conn": self.database_url,
                "check_migrations": "False",  # `db migrate` ran before any process starts
            }
        return {
            "sql_alchemy_conn": self.database_url,
            "check_migrations": "False",
            # About ten processes share one server (max_connections is often 100) with other test sessions.
            "sql_alchemy_pool_size": "2",
            "sql_alchemy_max_overflow": "4",
        }

    def _celery_config(self) -> dict[str, dict[str, str]]:
        return {
            "celery": {
                "broker_url": str(self.options.broker_url),
                "result_backend": str(self.options.result_backend),
                "worker_concurrency": str(self.options.worker_concurrency),
                # With late acks a running task stays unacknowledged: a worker holds no more tasks than it has
                # slots, and queued tasks go to whichever worker is free.
                "worker_prefetch_multiplier": "1",
                "sync_parallelism": "1",
                "operation_timeout": "10",
            },
            # The deployment's own queue: tasks carry it (set at parse time) and only its workers consume it.
            "operators": {"default_queue": self.celery_queue},
            "celery_broker_transport_options": {"visibility_timeout": "3600"},
        }

    def environment(self, component: Component | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("AIRFLOW__") and key not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG")}
        env.update(self.extra_env)
        # The hostname callable's folder; the project's root first if asked (DAG files may import tests.* helpers).
        python_path = [*([str(PROJECT_ROOT)] if self.options.working_tree_on_path else []), str(self.hostname_folder),
                       *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW_CONFIG": str(self.home / "airflow.cfg"),
            "PATH": os.pathsep.join([str(Path(self.options.python).parent), env.get("PATH", os.defpath)]),
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(python_path)),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            MARKER: self.marker,
        })
        if component is not None:
            env[COMPONENT_VARIABLE] = component.name
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
        env["NO_PROXY"] = env["no_proxy"] = no_proxy
        return env

    @property
    def hostname_folder(self) -> Path:
        return self.home / HOSTNAME_FOLDER

    def _prepare_home(self) -> None:
        """What the processes read from the home besides airflow.cfg: the hostname callable, the generation's files."""
        self.hostname_folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOSTNAME_MODULE, self.hostname_folder / HOSTNAME_MODULE.name)
        self.generation.prepare_home(self)

    def _write_config(self) -> None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_dict(self.config())
        with (self.home / "airflow.cfg").open("w") as handle:
            parser.write(handle)

    def _command(self, component: Component) -> list[str]:
        command = [self.options.python, "-m", "airflow", *self.generation.commands[component.kind]]
        if component.kind == self.generation.server:
            command += ["--port", str(self.port)]
        elif component.kind == "celery-worker":
            # No --celery-hostname: with it, Celery providers 3.14-3.22 (those Airflow 2.11, 3.1 and 3.2 pin) first
            # run a duplicate-hostname check whose inspect() leaves kombu pool state behind that wedges the prefork
            # pool: tasks are received, never run (apache/airflow#59707). Celery's nodenames may then repeat; the
            # workers are told apart by the hostname callable (task instances' hostname) and the queue is ours.
            command += ["--concurrency", str(self.options.worker_concurrency), "--queues", self.celery_queue]
        elif component.kind == "triggerer" and self.options.triggerer_capacity is not None:
            command += ["--capacity", str(self.options.triggerer_capacity)]  # both generations' CLI has it
        return command

    # ------------------------------------------------------------------ processes

    def start(self) -> AirflowDeployment:
        """Migrate the database, start every component and wait until all of them are ready."""
        started = time.monotonic()
        since = datetime.now(UTC)
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_reaper()
            self._prepare_home()
            for attempt in range(3):
                self.port = free_port()
                self._write_config()
                if attempt == 0:
                    self._migrate()
                for name in self.components:
                    self._spawn(name)
                try:
                    self._wait_ready(self.components, deadline=started + START_TIMEOUT, since=since)
                    break
                except _PortTaken:
                    # Another process took the port between free_port() and the bind: new port, new config.
                    self._kill_all()
                    self.processes.clear()
            else:
                raise DeploymentError(f"could not bind the api-server to a free port\n{self.logs()}")
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    @property
    def _sessions_file(self) -> Path:
        return self.log_dir / "sessions"

    def _start_reaper(self) -> None:
        """A watchdog in its own session: if this (test) process dies without calling stop() -- SIGKILL,
        os._exit, a crash -- it kills every process carrying this deployment's marker, then exits."""
        if self._reaper is not None and self._reaper.poll() is None:
            return
        with (self.log_dir / "reaper.log").open("ab") as handle:
            self._reaper = subprocess.Popen(
                [sys.executable, "-c", REAPER, str(os.getpid()), str(self._sessions_file), self.marker,
                 str(Path(__file__).resolve().parent)], stdout=handle,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env={key: value for key, value in os.environ.items() if key != MARKER})

    def _migrate(self) -> None:
        log = self.log_dir / "db-migrate.log"
        with log.open("ab") as handle:
            result = subprocess.run([self.options.python, "-m", "airflow", "db", "migrate"],
                                    env=self.environment(), stdout=handle, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=START_TIMEOUT, check=False)
        if result.returncode:
            raise DeploymentError(f"airflow db migrate exited {result.returncode}:\n{_tail(log, 80)}")

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _note(self, name: str, text: str) -> None:
        """A line of the harness's own in the process's log, so the log tells what was done to the process."""
        with self._log(name).open("a") as handle:
            handle.write(f"\n===== {datetime.now(UTC).isoformat()} {text}\n")

    def _spawn(self, name: str) -> None:
        component = self.components[name]
        command = self._command(component)
        self._note(name, f"starting: {' '.join(command)}")
        self._log_offsets[name] = self._log(name).stat().st_size
        with self._log(name).open("ab") as handle:
            self.processes[name] = subprocess.Popen(
                command, env=self.environment(component), cwd=self.home, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        self.sessions.append(self.processes[name].pid)
        with self._sessions_file.open("a") as sessions:
            sessions.write(f"{self.processes[name].pid}\n")
        self.stopped_on_purpose.discard(name)

    def _log_since_start(self, name: str) -> str:
        with self._log(name).open("rb") as handle:
            handle.seek(self._log_offsets.get(name, 0))
            return handle.read().decode(errors="replace")

    def _wait_ready(self, names: Collection[str], deadline: float, since: datetime) -> dict[str, Any]:
        """Until the health endpoint calls every component healthy and each of ``names`` is ready: a triggerer
        has a job of its hostname heartbeating after ``since``, a Celery worker has logged that it is ready."""
        health: dict[str, Any] = {}

        def ready() -> dict[str, Any] | None:
            nonlocal health
            self.check_processes()
            health = self._health() or {}
            if not all((health.get(name) or {}).get("status") == "healthy"
                       for name in self.generation.health_components):
                return None
            kinds = {self.components[name].kind for name in names}
            alive = self.live_triggerers(since) if "triggerer" in kinds else {}
            for name in names:
                kind = self.components[name].kind
                if kind == "triggerer" and name not in alive:
                    return None
                if kind == "celery-worker" and " ready." not in self._log_since_start(name):
                    return None
            return health

        try:
            return self.poll(ready, deadline - time.monotonic(), f"{', '.join(names)} to be ready")
        except DeploymentError as error:
            raise DeploymentError(f"last health: {health}\n{error}") from None

    def check_processes(self) -> None:
        """Raise (with the logs) if a process that should be running has exited."""
        for name, process in self.processes.items():
            if name in self.stopped_on_purpose or process.poll() is None:
                continue
            if name == self.generation.server and self._port_taken():
                raise _PortTaken
            raise DeploymentError(f"{name} exited with {process.returncode}\n{self.logs()}")

    def _port_taken(self) -> bool:
        tail = _tail(self._log(self.generation.server), 40).lower()
        return any(message in tail for message in self.generation.port_taken_messages)

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def _family(self, name: str) -> list[psutil.Process]:
        """The process and all its descendants, as psutil handles (safe against pid reuse)."""
        process = self.processes.get(name)
        if process is None:
            return []
        try:
            leader = psutil.Process(process.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _kill(self, name: str, family: list[psutil.Process] | None = None) -> None:
        """SIGKILL the process's group and every descendant (task supervisors may have left the group)."""
        process = self.processes.get(name)
        if process is None:
            return
        family = [*(family or []), *self._family(name)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # start_new_session=True: the group id is the leader's pid
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        process.wait(timeout=30)
        _wait_gone(family, timeout=10)

    def _kill_all(self) -> None:
        for name in self.processes:
            self._kill(name)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM each process (its own shutdown stops its children), SIGKILL whatever is left after ``grace``
        seconds, group and descendants alike. Safe to call twice, or after a failed start."""
        families = {name: self._family(name) for name in self.processes}
        if self._client is not None:
            self._client.close()  # an open keep-alive connection holds up uvicorn's graceful shutdown
            self._client = None
        try:
            for process in self.processes.values():
                if process.poll() is None:
                    process.terminate()  # once, to the leader only: a second SIGTERM makes Airflow force-exit
            deadline = time.monotonic() + grace
            for name, process in self.processes.items():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                if process.poll() is None:
                    self._note(name, f"still running {grace:.0f}s after SIGTERM: SIGKILL")
        finally:
            for name in self.processes:
                self._kill(name, families.get(name))
            self.processes.clear()
            # Anything that escaped both the process groups and the process trees (an orphaned task process).
            kill_deployment_processes(self.sessions, self.marker)
            self.sessions.clear()
            if self._sessions_file.exists():
                self._sessions_file.write_text("")
            if self._reaper is not None:
                self._reaper.kill()
                self._reaper.wait()
                self._reaper = None
            if self._client is not None:
                self._client.close()
                self._client = None
            self._auth = None

    def kill_component(self, name: str) -> None:
        """``kill -9`` one component, its process group and its descendants (a triggerer's trigger runner, a
        worker's task processes): no chance to clean up or hand anything over. The others run on."""
        self.stopped_on_purpose.add(name)
        self._note(name, "kill -9 (process group and descendants)")
        self._kill(name)

    def start_component(self, name: str, timeout: float = 90.0) -> None:
        """Start a killed component again and wait until it is ready."""
        current = self.processes.get(name)
        if current is not None and current.poll() is None:
            raise DeploymentError(f"{name} is still running: kill_component({name!r}) first")
        since = datetime.now(UTC)
        self._spawn(name)
        self._wait_ready([name], deadline=time.monotonic() + timeout, since=since)

    def stop_triggerer(self, name: str = "triggerer") -> None:
        """``kill -9`` a triggerer and its trigger runner: no chance to clean up or release its triggers."""
        self.kill_component(name)

    def start_triggerer(self, name: str = "triggerer", timeout: float = 90.0) -> int:
        """Start a killed triggerer again; returns its new job id once it has heartbeaten and the health endpoint
        calls the triggerers healthy (the killed triggerer's job stays ``running`` in the database, with an ever
        older heartbeat)."""
        since = datetime.now(UTC)
        self.start_component(name, timeout)
        job_id = self.live_triggerers(since).get(name)
        if job_id is None:
            raise DeploymentError(f"no job of triggerer {name} started after {since}: {self.jobs('TriggererJob')}")
        return job_id

    def logs(self, lines: int = 40) -> str:
        """The tails of every process's log, for assertion messages."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"----- {path.name} (last {lines} lines) -----\n{_tail(path, lines)}")
        return "\n".join(parts)

    def __enter__(self) -> AirflowDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ REST API (every call goes through api())

    @property
    def http(self) -> httpx.Client:
        if self._client is not None and str(self._client.base_url).rstrip("/") != self.base_url:
            self._client.close()  # the port changed (a start retried after losing the port race)
            self._client = None
        if self._client is None:
            # trust_env=False: no proxy from the environment; only the loopback address is ever contacted.
            self._client = httpx.Client(base_url=self.base_url, timeout=30, trust_env=False)
        return self._client

    @property
    def api_prefix(self) -> str:
        return self.generation.api_prefix

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One authenticated request to the REST API (``path`` below the generation's prefix, ``/api/v2`` or
        ``/api/v1``). Authenticates again once on 401; retries a few times on a refused connection, and, for GET
        and PATCH only, on other transport errors and 5xx (SQLite may be busy for a moment) -- a POST that may
        have been applied is never sent twice."""
        extra_headers = kwargs.pop("headers", {})
        idempotent = method.upper() in ("GET", "PATCH", "HEAD")
        attempts = 5
        for attempt in range(attempts):
            last = attempt == attempts - 1
            if self._auth is None:
                self._auth = self.generation.authenticate(self.http)
            headers = {**extra_headers, **self._auth}
            try:
                response = self.http.request(method, f"{self.api_prefix}{path}", headers=headers, **kwargs)
            except httpx.TransportError as error:
                if last or not (idempotent or isinstance(error, httpx.ConnectError)):
                    raise
                time.sleep(0.5 * (attempt + 1))
                continue
            if response.status_code == 401 and attempt == 0:
                self._auth = None
                continue
            if response.status_code >= 500 and idempotent and not last:
                time.sleep(0.5 * (attempt + 1))
                continue
            return response
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api(method, path, **kwargs)
        if response.is_error:
            raise DeploymentError(f"{method} {self.api_prefix}{path} -> {response.status_code}: {response.text}")
        return response.json()

    def poll(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Call ``check`` until it returns something other than None; a deadline, never a fixed sleep."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise DeploymentError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")
            time.sleep(POLL)

    def _health(self) -> dict[str, Any] | None:
        """The health endpoint's answer (no credentials needed), or None while the HTTP server does not answer."""
        try:
            response = self.http.get(f"{self.api_prefix}{self.generation.health_path}", timeout=5)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def jobs(self, job_type: str | None = None) -> list[dict[str, Any]]:
        """Jobs (``SchedulerJob``, ``TriggererJob``, ``DagProcessorJob``), newest heartbeat first."""
        return self.generation.jobs(self, job_type)

    def live_triggerers(self, since: datetime | None = None) -> dict[str, int]:
        """Triggerer hostname (the component's name) -> job id, for jobs running and heartbeating within the
        health-check threshold (and after ``since``)."""
        recent = datetime.now(UTC).timestamp() - self.options.triggerer_health_check_threshold
        after = max(recent, since.timestamp()) if since is not None else recent
        alive: dict[str, int] = {}
        for job in self.jobs("TriggererJob"):  # newest heartbeat first: a restarted triggerer's new job wins
            beat = _parse_time(job.get("latest_heartbeat"))
            if job.get("state") == "running" and beat is not None and beat.timestamp() > after:
                alive.setdefault(job.get("hostname") or "", job["id"])
        return alive

    def job(self, job_id: int) -> dict[str, Any]:
        """One job; its ``hostname`` is, for a triggerer of this deployment, the component's name."""
        found = [job for job in self.jobs() if job["id"] == job_id]
        if not found:
            raise DeploymentError(f"no job {job_id} among the 100 with the newest heartbeats")
        return found[0]

    def unpause(self, dag_id: str) -> None:
        self._json("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self._json("PATCH", f"/dags/{dag_id}", json={"is_paused": True})

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self.api("GET", f"/dags/{dag_id}")
        if response.status_code == 404:
            return None
        if response.is_error:
            raise DeploymentError(f"GET /dags/{dag_id} -> {response.status_code}: {response.text}")
        return self.generation.dag_fields(response.json())

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Until Airflow (the dag-processor; on Airflow 2 the scheduler) has parsed and serialized ``dag_id``."""

        def parsed() -> dict[str, Any] | None:
            self.check_processes()
            return self.dag(dag_id)

        return self.poll(parsed, timeout, f"the dag-processor to parse DAG {dag_id!r}")

    def import_errors(self) -> list[dict[str, Any]]:
        return self._json("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def add_dag_file(self, path: Path, *, unpause: bool = True, timeout: float = 120.0) -> list[str]:
        """Copy a DAG file into the dags folder and wait until it is parsed; returns the ids of its DAGs
        (unpaused unless told otherwise). An import error in the file raises at once, with its traceback."""
        source = Path(path)
        target = self.dags_folder / source.name
        partial = self.dags_folder / f".{source.name}.partial"  # not a .py file: the dag-processor skips it
        copied_at = datetime.now(UTC)
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: the dag-processor never parses a half-written file
        target_path = str(target.resolve())

        def parsed() -> list[str] | None:
            self.check_processes()
            for error in self.import_errors():
                stamp = _parse_time(error.get("timestamp"))
                if Path(error["filename"]).name == source.name and (stamp is None or stamp >= copied_at):
                    raise DeploymentError(f"{source.name} failed to import:\n{error['stack_trace']}")
            dags = self._json("GET", "/dags", params={"limit": 100})["dags"]
            ids = []
            for dag in dags:
                if str(Path(dag["fileloc"]).resolve()) != target_path:
                    continue
                last_parsed = _parse_time(dag.get("last_parsed_time"))
                if last_parsed is None or last_parsed < copied_at:
                    return None  # an earlier version of the file; wait for this one
                ids.append(dag["dag_id"])
            return ids or None

        dag_ids = self.poll(parsed, timeout, f"the dag-processor to parse {source.name}")
        if unpause:
            for dag_id in dag_ids:
                self.unpause(dag_id)
        return dag_ids

    def trigger_dag(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None) -> str:
        """Create a manual run (by default without a logical date, as the UI does in Airflow 3; on Airflow 2 its
        logical date is now); returns its run id. A scheduled DAG's ``next_dagrun_logical_date`` as
        ``logical_date`` makes the run stand for the interval the scheduler would otherwise run once the DAG is
        unpaused."""
        body = self.generation.trigger_body(conf or {}, logical_date)
        return self._json("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        """Until the run is ``success`` or ``failed``; returns that state."""

        def finished() -> str | None:
            self.check_processes()
            state = self.dag_run(dag_id, run_id)["state"]
            return state if state in TERMINAL_RUN_STATES else None

        return self.poll(finished, timeout, f"run {run_id} of {dag_id} to finish")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run as the API returns it (task_id, state, try_number, map_index, ...)."""
        return self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                          params={"limit": 100})["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
        for instance in self.task_instances(dag_id, run_id):
            if instance["task_id"] == task_id and instance.get("map_index", -1) == -1:
                return instance
        return None

    def wait_for_task_state(self, dag_id: str, run_id: str, task_id: str, state: str | Collection[str],
                            timeout: float = 120.0) -> dict[str, Any]:
        """Until ``task_id`` is in ``state`` (one state or several); returns the task instance. Fails at once if
        the task reaches another final state first."""
        wanted = {state} if isinstance(state, str) else set(state)

        def reached() -> dict[str, Any] | None:
            self.check_processes()
            instance = self.task_instance(dag_id, run_id, task_id)
            if instance is None:
                return None
            if instance["state"] in wanted:
                return instance
            if instance["state"] in TERMINAL_TASK_STATES:
                raise DeploymentError(f"{task_id} ended {instance['state']}, not {sorted(wanted)}: {instance}\n"
                                      f"{self.logs()}")
            return None

        return self.poll(reached, timeout, f"{task_id} of {run_id} to be {sorted(wanted)}")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value as stored (JSON values come back as they were pushed)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self._json("GET", path, params=self.generation.xcom_params)["value"]

    def task_log_records(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[Any]:
        """The task's log for one try as the HTTP server returns it, from the worker's log file and the triggerer's
        ``.trigger.<job id>.log``: structured records (dicts with ``timestamp``, ``level``, ``event``, ...) on
        Airflow 3, lines of text on Airflow 2."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        return self.generation.log_records(self, path)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The same log as text, one line per record: ``timestamp [level] event {other fields}``."""
        lines = []
        for record in self.task_log_records(dag_id, run_id, task_id, try_number):
            if not isinstance(record, dict):
                lines.append(str(record))
                continue
            rest = {k: v for k, v in record.items() if k not in ("timestamp", "level", "event")}
            extra = f" {rest}" if rest else ""
            lines.append(f"{record.get('timestamp', '')} [{record.get('level', '')}] {record.get('event', '')}{extra}")
        return "\n".join(lines)


class _PortTaken(Exception):
    """The api-server's port was taken by someone else before it could bind."""


def session_deployment(root: Path, env: dict[str, str],
                       options: DeploymentOptions | None = None) -> Iterator[AirflowDeployment]:
    """Generator for a fixture: one started deployment under ``root``, always stopped afterwards.

    The project's root is on the processes' PYTHONPATH, so DAG files may import ``tests.*`` helpers."""
    deployment = AirflowDeployment(root / "home", root / "dags", env, options)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


def celery_deployment(root: Path, env: dict[str, str], backends: CeleryBackends, *, triggerers: int = 2,
                      celery_workers: int = 2, worker_concurrency: int = 1, python: str = sys.executable,
                      working_tree_on_path: bool = True,
                      triggerer_health_check_threshold: int = DEFAULT_TRIGGERER_HEALTH_CHECK_THRESHOLD,
                      triggerer_capacity: int | None = None) -> Iterator[AirflowDeployment]:
    """Generator for a fixture: a CeleryExecutor deployment on a fresh PostgreSQL database (also its Celery result
    backend) with Redis as broker; afterwards the processes are stopped, the database dropped and the
    deployment's keys removed from Redis. Check ``backends.unreachable()`` first. ``python`` may be another
    venv's (any Airflow generation); see :class:`DeploymentOptions` for ``working_tree_on_path``."""
    with fresh_postgres_database(backends.postgres_url) as database_url:
        options = DeploymentOptions(executor=CELERY_EXECUTOR, database_url=database_url,
                                    broker_url=backends.redis_url, result_backend=f"db+{database_url}",
                                    triggerers=triggerers, celery_workers=celery_workers,
                                    worker_concurrency=worker_concurrency, python=python,
                                    working_tree_on_path=working_tree_on_path,
                                    triggerer_health_check_threshold=triggerer_health_check_threshold,
                                    triggerer_capacity=triggerer_capacity)
        deployment = AirflowDeployment(root / "home", root / "dags", env, options)
        try:
            deployment.start()
            yield deployment
        finally:
            deployment.stop()
            purge_celery_keys(backends.redis_url, deployment.marker)
