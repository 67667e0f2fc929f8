"""A real Airflow 3 deployment for tests: api-server, scheduler, dag-processor and triggerer as child processes.

LocalExecutor, a SQLite metadata database under ``home``, one shared JWT secret, the api-server on a free
loopback port (it also serves the Execution API the task supervisors call), SimpleAuthManager with every user an
admin (``GET /auth/token`` hands out a token without credentials), and short heartbeats so that new DAG files,
deferred tasks and a restarted triggerer are noticed in seconds. Everything the tests do goes through the REST
API v2, as a user would.

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
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

T = TypeVar("T")

PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
# Each is started as `python -m airflow <command...>`; the log servers are skipped (no extra ports: every log
# is a local file the api-server reads directly).
COMMANDS: dict[str, list[str]] = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--workers", "1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
TRIGGERER_HEALTH_CHECK_THRESHOLD = 5  # seconds; [triggerer] triggerer_health_check_threshold is read with getint
START_TIMEOUT = 120.0
POLL = 0.25


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


class DeploymentError(RuntimeError):
    """The deployment did not do what was asked in time; the message ends with the tails of the process logs."""


class AirflowDeployment:
    """One Airflow deployment in ``home``, parsing DAGs from ``dags_folder``; ``env`` is added to every process's
    environment (after this process's own, minus its ``AIRFLOW__*`` settings, which would override airflow.cfg)."""

    def __init__(self, home: Path, dags_folder: Path, env: dict[str, str] | None = None) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(env or {})
        self.log_dir = self.home / "logs" / "processes"
        self.port = 0
        self.jwt_secret = secrets.token_urlsafe(64)  # >= 64 bytes: HS512 warns on shorter keys
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopped_on_purpose: set[str] = set()
        self.start_seconds: float | None = None
        self._client: httpx.Client | None = None
        self._token: str | None = None
        # Every process of this deployment (task supervisors and trigger runners included) inherits this value:
        # it finds them all, whichever session or parent they end up in.
        self.marker = secrets.token_hex(8)
        self.sessions: list[int] = []  # session ids of every process started (each a session leader)
        self._reaper: subprocess.Popen | None = None

    # ------------------------------------------------------------------ configuration

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, dict[str, str]]:
        """The airflow.cfg this deployment writes; every value here was chosen, none is left to a default."""
        from cryptography.fernet import Fernet

        return {
            "core": {
                "executor": "LocalExecutor",
                # SQLite serializes writers, but tasks never touch the database in Airflow 3 (they call the
                # Execution API), so a few parallel tasks are fine; more would only load a 2-core machine.
                "parallelism": "4",
                "dags_folder": str(self.dags_folder),
                "load_examples": "False",
                "dags_are_paused_at_creation": "True",
                "execution_api_server_url": f"{self.base_url}/execution/",
                "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                "simple_auth_manager_all_admins": "True",
                "fernet_key": Fernet.generate_key().decode(),
                "default_timezone": "utc",
                "dagbag_import_timeout": "60",
            },
            "database": {
                "sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}",
                "check_migrations": "False",  # `db migrate` ran before any process starts
            },
            "api": {
                "host": "127.0.0.1",
                "port": str(self.port),
                "workers": "1",
                "secret_key": secrets.token_urlsafe(64),
                "expose_config": "True",
            },
            "api_auth": {"jwt_secret": self.jwt_secret},
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
                "triggerer_health_check_threshold": str(TRIGGERER_HEALTH_CHECK_THRESHOLD),
            },
            "dag_processor": {
                "refresh_interval": "1",  # how often the dags folder is listed: new files are seen in ~1 s
                "bundle_refresh_check_interval": "1",
                "min_file_process_interval": "5",
                "parsing_processes": "1",
                "print_stats_interval": "0",
                "stale_dag_threshold": "30",
            },
        }

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("AIRFLOW__") and key not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG")}
        env.update(self.extra_env)
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW_CONFIG": str(self.home / "airflow.cfg"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            MARKER: self.marker,
        })
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
        env["NO_PROXY"] = env["no_proxy"] = no_proxy
        return env

    def _write_config(self) -> None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_dict(self.config())
        with (self.home / "airflow.cfg").open("w") as handle:
            parser.write(handle)

    # ------------------------------------------------------------------ processes

    def start(self) -> AirflowDeployment:
        """Migrate the database, start the four processes and wait until all of them report healthy."""
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_reaper()
            for attempt in range(3):
                self.port = free_port()
                self._write_config()
                if attempt == 0:
                    self._migrate()
                for name in PROCESSES:
                    self._spawn(name)
                try:
                    self._wait_healthy(deadline=started + START_TIMEOUT)
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
            result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.environment(),
                                    stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=START_TIMEOUT, check=False)
        if result.returncode:
            raise DeploymentError(f"airflow db migrate exited {result.returncode}:\n{_tail(log, 80)}")

    def _note(self, name: str, text: str) -> None:
        """A line of the harness's own in the process's log, so the log tells what was done to the process."""
        with (self.log_dir / f"{name}.log").open("a") as handle:
            handle.write(f"\n===== {datetime.now(UTC).isoformat()} {text}\n")

    def _spawn(self, name: str) -> None:
        command = [sys.executable, "-m", "airflow", *COMMANDS[name]]
        if name == "api-server":
            command += ["--port", str(self.port)]
        self._note(name, f"starting: {' '.join(command)}")
        with (self.log_dir / f"{name}.log").open("ab") as handle:
            self.processes[name] = subprocess.Popen(
                command, env=self.environment(), cwd=self.home, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        self.sessions.append(self.processes[name].pid)
        with self._sessions_file.open("a") as sessions:
            sessions.write(f"{self.processes[name].pid}\n")
        self.stopped_on_purpose.discard(name)

    def _wait_healthy(self, deadline: float, since: datetime | None = None) -> dict[str, Any]:
        """Until every component is healthy; with ``since``, the triggerer must have heartbeaten after it."""
        health: dict[str, Any] = {}

        def healthy() -> dict[str, Any] | None:
            nonlocal health
            self.check_processes()
            try:
                response = self.http.get("/api/v2/monitor/health", timeout=5)
            except httpx.TransportError:
                return None
            if response.status_code != 200:
                return None
            health = response.json()
            components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            if not all((health.get(name) or {}).get("status") == "healthy" for name in components):
                return None
            if since is not None:
                beat = _parse_time(health["triggerer"].get("latest_triggerer_heartbeat"))
                if beat is None or beat <= since:
                    return None
            return health

        try:
            return self.poll(healthy, deadline - time.monotonic(), "every component to report healthy")
        except DeploymentError as error:
            raise DeploymentError(f"last health: {health}\n{error}") from None

    def check_processes(self) -> None:
        """Raise (with the logs) if a process that should be running has exited."""
        for name, process in self.processes.items():
            if name in self.stopped_on_purpose or process.poll() is None:
                continue
            if name == "api-server" and "address already in use" in _tail(self.log_dir / "api-server.log", 40):
                raise _PortTaken
            raise DeploymentError(f"{name} exited with {process.returncode}\n{self.logs()}")

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
            self._token = None

    def stop_triggerer(self) -> None:
        """``kill -9`` the triggerer and its trigger runner: no chance to clean up or release its triggers."""
        self.stopped_on_purpose.add("triggerer")
        self._note("triggerer", "kill -9 (process group and descendants)")
        self._kill("triggerer")

    def start_triggerer(self, timeout: float = 90.0) -> int:
        """Start a new triggerer; returns its job id once it has heartbeaten and the health endpoint calls it
        healthy (the killed triggerer's job stays ``running`` in the database, with an ever older heartbeat)."""
        current = self.processes.get("triggerer")
        if current is not None and current.poll() is None:
            raise DeploymentError("the triggerer is still running: stop_triggerer() first")
        since = datetime.now(UTC)
        self._spawn("triggerer")
        self._wait_healthy(deadline=time.monotonic() + timeout, since=since)
        for job in self.jobs("TriggererJob"):
            started = _parse_time(job.get("start_date"))
            if started is not None and started >= since:
                return job["id"]
        raise DeploymentError(f"no triggerer job started after {since}: {self.jobs('TriggererJob')}")

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

    # ------------------------------------------------------------------ REST API v2

    @property
    def http(self) -> httpx.Client:
        if self._client is not None and str(self._client.base_url).rstrip("/") != self.base_url:
            self._client.close()  # the port changed (a start retried after losing the port race)
            self._client = None
        if self._client is None:
            # trust_env=False: no proxy from the environment; only the loopback address is ever contacted.
            self._client = httpx.Client(base_url=self.base_url, timeout=30, trust_env=False)
        return self._client

    def _fetch_token(self) -> str:
        # SimpleAuthManager with all_admins: a GET without credentials returns an admin JWT (201).
        response = self.http.get("/auth/token")
        response.raise_for_status()
        return response.json()["access_token"]

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One authenticated request to the REST API v2 (``path`` below ``/api/v2``). Fetches a new token once on
        401; retries a few times on a refused connection, and, for GET and PATCH only, on other transport errors
        and 5xx (SQLite may be busy for a moment) -- a POST that may have been applied is never sent twice."""
        extra_headers = kwargs.pop("headers", {})
        idempotent = method.upper() in ("GET", "PATCH", "HEAD")
        attempts = 5
        for attempt in range(attempts):
            last = attempt == attempts - 1
            if self._token is None:
                self._token = self._fetch_token()
            headers = {**extra_headers, "Authorization": f"Bearer {self._token}"}
            try:
                response = self.http.request(method, f"/api/v2{path}", headers=headers, **kwargs)
            except httpx.TransportError as error:
                if last or not (idempotent or isinstance(error, httpx.ConnectError)):
                    raise
                time.sleep(0.5 * (attempt + 1))
                continue
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            if response.status_code >= 500 and idempotent and not last:
                time.sleep(0.5 * (attempt + 1))
                continue
            return response
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api(method, path, **kwargs)
        if response.is_error:
            raise DeploymentError(f"{method} /api/v2{path} -> {response.status_code}: {response.text}")
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

    def jobs(self, job_type: str | None = None) -> list[dict[str, Any]]:
        """Jobs (``SchedulerJob``, ``TriggererJob``, ``DagProcessorJob``), newest heartbeat first."""
        params: dict[str, Any] = {"limit": 100, "order_by": "-latest_heartbeat"}
        if job_type:
            params["job_type"] = job_type
        return self._json("GET", "/jobs", params=params)["jobs"]

    def unpause(self, dag_id: str) -> None:
        self._json("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self.api("GET", f"/dags/{dag_id}")
        if response.status_code == 404:
            return None
        if response.is_error:
            raise DeploymentError(f"GET /dags/{dag_id} -> {response.status_code}: {response.text}")
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Until the dag-processor has parsed and serialized ``dag_id`` (the API knows it)."""

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

    def trigger_dag(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Create a manual run (no logical date, as the UI does in Airflow 3); returns its run id."""
        body = {"logical_date": None, "conf": conf or {}}
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
        return self._json("GET", path)["value"]

    def task_log_records(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[Any]:
        """The task's log for one try as the api-server returns it: structured records (dicts with ``timestamp``,
        ``level``, ``event``, ...) from the worker's log file and the triggerer's ``.trigger.<job id>.log``."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        # JSON, not text/plain: the Airflow 3.3 endpoint answers 400 to anything but JSON or NDJSON.
        return self._json("GET", path, params={"full_content": True},
                          headers={"Accept": "application/json"}).get("content", [])

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


def session_deployment(root: Path, env: dict[str, str]) -> Iterator[AirflowDeployment]:
    """Generator for a session fixture: one started deployment under ``root``, always stopped afterwards.

    The project's root is put on the processes' PYTHONPATH, so DAG files may import ``tests.*`` helpers."""
    project = str(Path(__file__).resolve().parent.parent)
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [project, env.get("PYTHONPATH",
                                                                          os.environ.get("PYTHONPATH"))]))}
    deployment = AirflowDeployment(root / "home", root / "dags", env)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
