"""The local service's state in SQLite: flow definitions, task UIs, loops, answers and buckets.

One connection guarded by a lock (one writer at a time), WAL journal, so every change is on disk
when the request that made it returns and the service picks up where it was after a restart.

The data directory is the owner's alone (0700) and the database with its -wal/-shm/-journal files is 0600 from
the moment each exists: it holds worker answers, task inputs and the hashes of credentials and sessions.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIRECTORY = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")  # files SQLite makes beside the database

SCHEMA = """
CREATE TABLE IF NOT EXISTS task_uis (
    region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL, content TEXT NOT NULL,
    creation_time REAL NOT NULL, PRIMARY KEY (region, name));
CREATE TABLE IF NOT EXISTS flow_definitions (
    region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL, request TEXT NOT NULL,
    creation_time REAL NOT NULL, PRIMARY KEY (region, name));
CREATE TABLE IF NOT EXISTS human_loops (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL, flow_definition_arn TEXT NOT NULL,
    input_content TEXT NOT NULL, data_attributes TEXT, status TEXT NOT NULL,
    creation_time REAL NOT NULL, status_time REAL NOT NULL,
    failure_code TEXT, failure_reason TEXT, output_s3_uri TEXT, deleted INTEGER NOT NULL DEFAULT 0,
    expires_at REAL);
CREATE UNIQUE INDEX IF NOT EXISTS human_loops_live_name ON human_loops (region, name) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS human_loops_by_flow
    ON human_loops (flow_definition_arn, creation_time, name) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS human_loops_by_status ON human_loops (status) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS human_loops_by_name ON human_loops (name) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS human_loops_open_by_expiry ON human_loops (expires_at)
    WHERE status = 'InProgress' AND deleted = 0;
CREATE INDEX IF NOT EXISTS human_loops_open_by_region ON human_loops (region, status)
    WHERE status IN ('InProgress', 'Stopping') AND deleted = 0;
CREATE TABLE IF NOT EXISTS answers (
    loop_id INTEGER NOT NULL REFERENCES human_loops (id), worker_id TEXT NOT NULL,
    answer TEXT NOT NULL, acceptance_time REAL NOT NULL, submission_time REAL NOT NULL,
    time_spent REAL NOT NULL, worker_metadata TEXT, PRIMARY KEY (loop_id, worker_id));
CREATE INDEX IF NOT EXISTS answers_by_worker ON answers (worker_id, submission_time);
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, region TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workforce_policies (flow_definition_arn TEXT PRIMARY KEY, policy TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workforce_plans (
    loop_id INTEGER PRIMARY KEY REFERENCES human_loops (id), due_time REAL NOT NULL, action TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS workforce_plans_due ON workforce_plans (due_time);
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY, team TEXT NOT NULL, worker_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
    credential_hash TEXT NOT NULL, creation_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS portal_sessions (
    token_hash TEXT PRIMARY KEY, worker_name TEXT NOT NULL REFERENCES workers (name) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS task_acceptances (
    loop_id INTEGER NOT NULL REFERENCES human_loops (id), worker_id TEXT NOT NULL, acceptance_time REAL NOT NULL,
    PRIMARY KEY (loop_id, worker_id));
CREATE TABLE IF NOT EXISTS task_holds (
    loop_id INTEGER NOT NULL REFERENCES human_loops (id), worker_id TEXT NOT NULL, hold_id TEXT NOT NULL,
    held_until REAL NOT NULL, PRIMARY KEY (loop_id, worker_id));
"""

LOOP_COLUMNS = (
    "id, region, name, arn, flow_definition_arn, input_content, data_attributes, status, "
    "creation_time, status_time, failure_code, failure_reason, output_s3_uri, deleted, expires_at"
)

WORKER_COLUMNS = "name, team, worker_id, subject, credential_hash, creation_time"


@dataclass(frozen=True)
class HumanLoop:
    id: int
    region: str
    name: str
    arn: str
    flow_definition_arn: str
    input_content: str
    data_attributes: dict | None
    status: str
    creation_time: float
    status_time: float
    failure_code: str | None
    failure_reason: str | None
    output_s3_uri: str | None
    deleted: bool
    expires_at: float | None

    @classmethod
    def from_row(cls, row: tuple) -> HumanLoop:
        values = list(row)
        values[6] = json.loads(values[6]) if values[6] else None
        values[13] = bool(values[13])
        return cls(*values)


@dataclass(frozen=True)
class Answer:
    worker_id: str
    answer: dict
    acceptance_time: float
    submission_time: float
    time_spent: float
    worker_metadata: dict | None


@dataclass(frozen=True)
class Worker:
    """A portal worker: ``worker_id`` is the id written in output.json, ``subject`` its identity's ``sub``."""

    name: str
    team: str
    worker_id: str
    subject: str
    credential_hash: str
    creation_time: float


@dataclass(frozen=True)
class PortalSession:
    worker: Worker
    csrf_token: str
    expires_at: float


@dataclass(frozen=True)
class Hold:
    """A worker has a loop's task until ``held_until``; ``hold_id`` names the page view that holds it (a page that
    is left releases only its own hold, not the one a reload of it took meanwhile)."""

    loop_id: int
    worker_id: str
    hold_id: str
    held_until: float


@dataclass(frozen=True)
class QueuedTask:
    """An open loop a worker has not answered, with what others have of it: ``answers`` given, ``held_by_others``
    (active holds of other workers who have not answered), ``frees_at`` (when the first of those ends) and
    ``my_hold_until`` (None: the worker holds none)."""

    loop: HumanLoop
    answers: int
    held_by_others: int
    frees_at: float | None
    my_hold_until: float | None


@dataclass(frozen=True)
class NamedResource:
    """A flow definition (``body`` = its create request) or a task UI (``body`` = its template)."""

    region: str
    name: str
    arn: str
    body: Any
    creation_time: float


def private_directory(path: Path) -> None:
    """Make ``path`` (and its parents) if missing; the directory itself is the owner's alone (0700)."""
    path.mkdir(mode=OWNER_ONLY_DIRECTORY, parents=True, exist_ok=True)
    restrict_to_owner(path, OWNER_ONLY_DIRECTORY)  # an existing directory may have been made with a looser mode


def create_owner_only(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists (then make it 0600): never readable by others, not even
    for a moment, as a file created first and chmod-ed after would be."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE))
    except FileExistsError:
        restrict_to_owner(path, OWNER_ONLY_FILE)


@contextmanager
def owner_only_umask() -> Iterator[None]:
    """Files created meanwhile get no group or other permissions (the umask is per process: keep this short)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def restrict_to_owner(path: Path, mode: int) -> None:
    """Remove group and other permissions from an existing path; a path we do not own, or a shared directory (the
    sticky bit: /tmp given as the data directory), is left as it is, with a warning."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(status.st_mode) & 0o777
    if status.st_mode & stat.S_ISVTX:
        log.warning("%s is a shared directory (sticky bit): give the service a data directory of its own", path)
        return
    if current & ~mode:
        try:
            path.chmod(current & mode)
        except OSError as error:
            log.warning("could not restrict %s to its owner (mode %o): %s", path, current, error)


class Store:
    def __init__(self, path: Path) -> None:
        private_directory(path.parent)
        create_owner_only(path)
        for companion in SQLITE_COMPANIONS:  # left by an older version or a crash: tighten before use
            restrict_to_owner(path.with_name(path.name + companion), OWNER_ONLY_FILE)
        self._lock = threading.RLock()
        self._depth = 0  # transactions open in the thread holding the lock (more than one: savepoints)
        # SQLite gives its -wal/-shm/-journal files the database's mode; the umask covers any it makes otherwise.
        with owner_only_umask():
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the store for a read-check-write sequence; commits at the end, rolls back on error.

        Inside another transaction of the same thread (the simulated workforce answers many loops in one) it is a
        savepoint: its error undoes its own changes only, and they are committed with the outer transaction."""
        with self._lock:
            if self._depth:
                yield from self._savepoint()
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self._db.execute("COMMIT")

    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        name = f"nested_{self._depth}"
        self._db.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self._db
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            self._db.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self._db.execute(f"RELEASE {name}")

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # Task UIs and flow definitions -------------------------------------------------------------

    def put_task_ui(self, ui: NamedResource) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO task_uis VALUES (?, ?, ?, ?, ?)",
                (ui.region, ui.name, ui.arn, ui.body, ui.creation_time),
            )

    def put_flow_definition(self, flow: NamedResource) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO flow_definitions VALUES (?, ?, ?, ?, ?)",
                (flow.region, flow.name, flow.arn, json.dumps(flow.body), flow.creation_time),
            )

    def get_task_ui(self, region: str, name: str) -> NamedResource | None:
        rows = self._query("SELECT region, name, arn, content, creation_time FROM task_uis "
                           "WHERE region = ? AND name = ?", (region, name))
        return NamedResource(*rows[0]) if rows else None

    def get_flow_definition(self, region: str, name: str) -> NamedResource | None:
        rows = self._query("SELECT region, name, arn, request, creation_time FROM flow_definitions "
                           "WHERE region = ? AND name = ?", (region, name))
        if not rows:
            return None
        region_, name_, arn, request, created = rows[0]
        return NamedResource(region_, name_, arn, json.loads(request), created)

    def list_task_uis(self, region: str) -> list[NamedResource]:
        rows = self._query("SELECT region, name, arn, content, creation_time FROM task_uis "
                           "WHERE region = ? ORDER BY creation_time, name", (region,))
        return [NamedResource(*row) for row in rows]

    def list_flow_definitions(self, region: str) -> list[NamedResource]:
        rows = self._query("SELECT region, name, arn, request, creation_time FROM flow_definitions "
                           "WHERE region = ? ORDER BY creation_time, name", (region,))
        return [NamedResource(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def all_flow_definitions(self) -> list[NamedResource]:
        rows = self._query("SELECT region, name, arn, request, creation_time FROM flow_definitions "
                           "ORDER BY region, creation_time, name")
        return [NamedResource(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def delete_task_ui(self, region: str, name: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM task_uis WHERE region = ? AND name = ?", (region, name)).rowcount > 0

    def delete_flow_definition(self, region: str, name: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM flow_definitions WHERE region = ? AND name = ?", (region, name))
            return cursor.rowcount > 0

    # Human loops ------------------------------------------------------------------------------

    def get_loop(self, region: str, name: str) -> HumanLoop | None:
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE region = ? AND name = ? AND deleted = 0",
                           (region, name))
        return HumanLoop.from_row(rows[0]) if rows else None

    def find_loops_by_name(self, name: str) -> list[HumanLoop]:
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE name = ? AND deleted = 0", (name,))
        return [HumanLoop.from_row(row) for row in rows]

    def insert_loop(self, db: sqlite3.Connection, loop: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO human_loops (region, name, arn, flow_definition_arn, input_content, data_attributes, "
            "status, creation_time, status_time, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (loop["region"], loop["name"], loop["arn"], loop["flow_definition_arn"], loop["input_content"],
             json.dumps(loop["data_attributes"]) if loop["data_attributes"] else None,
             loop["status"], loop["creation_time"], loop["creation_time"], loop["expires_at"]),
        )

    def count_open_loops(self, db: sqlite3.Connection, region: str, *, up_to: int) -> int:
        """How many loops are open in the Region, counted no further than ``up_to`` (the quota): the count costs
        what the quota allows, not what the service holds."""
        row = db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM human_loops WHERE region = ? AND deleted = 0 "
                         "AND status IN ('InProgress', 'Stopping') LIMIT ?)", (region, up_to)).fetchone()
        return int(row[0])

    def set_status(self, db: sqlite3.Connection, loop_id: int, status: str, at: float, *,
                   failure_code: str | None = None, failure_reason: str | None = None,
                   output_s3_uri: str | None = None) -> None:
        db.execute(
            "UPDATE human_loops SET status = ?, status_time = ?, failure_code = ?, failure_reason = ?, "
            "output_s3_uri = ? WHERE id = ?",
            (status, at, failure_code, failure_reason, output_s3_uri, loop_id),
        )

    def mark_deleted(self, db: sqlite3.Connection, loop_id: int) -> None:
        db.execute("UPDATE human_loops SET deleted = 1 WHERE id = ?", (loop_id,))

    def list_loops(self, flow_definition_arn: str, *, after: float | None, before: float | None,
                   descending: bool, start_after: tuple[float, str] | None, limit: int) -> list[HumanLoop]:
        """Loops of one flow definition in creation order, ``start_after`` being the last one seen."""
        clauses = ["flow_definition_arn = ?", "deleted = 0"]
        params: list[Any] = [flow_definition_arn]
        if after is not None:
            clauses.append("creation_time > ?")
            params.append(after)
        if before is not None:
            clauses.append("creation_time < ?")
            params.append(before)
        if start_after is not None:
            clauses.append("(creation_time, name) < (?, ?)" if descending else "(creation_time, name) > (?, ?)")
            params.extend(start_after)
        order = "DESC" if descending else "ASC"
        sql = (f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE {' AND '.join(clauses)} "
               f"ORDER BY creation_time {order}, name {order} LIMIT ?")
        return [HumanLoop.from_row(row) for row in self._query(sql, (*params, limit))]

    def expired_loops(self, now: float) -> list[HumanLoop]:
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops INDEXED BY human_loops_open_by_expiry "
                           "WHERE status = 'InProgress' AND deleted = 0 AND expires_at <= ?", (now,))
        return [HumanLoop.from_row(row) for row in rows]

    def loops_in_status(self, status: str) -> list[HumanLoop]:
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE status = ? AND deleted = 0", (status,))
        return [HumanLoop.from_row(row) for row in rows]

    def completed_loops_with_output(self) -> list[HumanLoop]:
        """Every loop whose output.json was written, deleted ones included (A2I never removes outputs)."""
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE output_s3_uri IS NOT NULL ORDER BY id")
        return [HumanLoop.from_row(row) for row in rows]

    # Answers ----------------------------------------------------------------------------------

    def add_answer(self, db: sqlite3.Connection, loop_id: int, answer: Answer) -> None:
        # An answered task is no longer held: its hold would otherwise keep a slot of the loop from the others.
        db.execute("DELETE FROM task_holds WHERE loop_id = ? AND worker_id = ?", (loop_id, answer.worker_id))
        db.execute(
            "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
            (loop_id, answer.worker_id, json.dumps(answer.answer), answer.acceptance_time,
             answer.submission_time, answer.time_spent,
             json.dumps(answer.worker_metadata) if answer.worker_metadata else None),
        )

    def answers(self, loop_id: int, db: sqlite3.Connection | None = None) -> list[Answer]:
        sql = ("SELECT worker_id, answer, acceptance_time, submission_time, time_spent, worker_metadata "
               "FROM answers WHERE loop_id = ? ORDER BY submission_time, worker_id")
        rows = db.execute(sql, (loop_id,)).fetchall() if db is not None else self._query(sql, (loop_id,))
        return [Answer(r[0], json.loads(r[1]), r[2], r[3], r[4], json.loads(r[5]) if r[5] else None) for r in rows]

    # Simulated workforce ----------------------------------------------------------------------

    def workforce_policies(self) -> dict[str, dict]:
        rows = self._query("SELECT flow_definition_arn, policy FROM workforce_policies ORDER BY flow_definition_arn")
        return {arn: json.loads(policy) for arn, policy in rows}

    def set_workforce_policy(self, flow_definition_arn: str, policy: dict | None) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM workforce_policies WHERE flow_definition_arn = ?", (flow_definition_arn,))
            if policy is not None:
                db.execute("INSERT INTO workforce_policies VALUES (?, ?)", (flow_definition_arn, json.dumps(policy)))

    def add_plan(self, loop_id: int, due_time: float, action: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO workforce_plans VALUES (?, ?, ?)", (loop_id, due_time, action))

    def due_plans(self, now: float, *, after: tuple[float, int] | None = None,
                  limit: int = -1) -> list[tuple[int, str, float]]:
        """Plans due at ``now`` in (due time, loop id) order, ``after`` the last one a caller took: (loop id, action,
        due time); ``limit`` -1: all."""
        start = "AND (due_time, loop_id) > (?, ?) " if after is not None else ""
        return [(row[0], row[1], row[2]) for row in self._query(
            f"SELECT loop_id, action, due_time FROM workforce_plans WHERE due_time <= ? {start}"
            "ORDER BY due_time, loop_id LIMIT ?", (now, *(after or ()), limit))]

    def drop_plan(self, loop_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM workforce_plans WHERE loop_id = ?", (loop_id,))

    def unplanned_open_loops(self, flow_definition_arn: str | None = None) -> list[HumanLoop]:
        """Open loops without a plan: all of them, or one flow definition's (through its index)."""
        of_flow = "AND flow_definition_arn = ? " if flow_definition_arn is not None else ""
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE status = 'InProgress' AND deleted = 0 "
                           f"{of_flow}AND NOT EXISTS (SELECT 1 FROM workforce_plans p WHERE p.loop_id = id) "
                           "ORDER BY id",
                           (flow_definition_arn,) if flow_definition_arn is not None else ())
        return [HumanLoop.from_row(row) for row in rows]

    def loop_by_id(self, loop_id: int) -> HumanLoop | None:
        rows = self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE id = ?", (loop_id,))
        return HumanLoop.from_row(rows[0]) if rows else None

    def loops_by_id(self, loop_ids: list[int]) -> dict[int, HumanLoop]:
        """Many loops in one query (at most SQLite's 999 parameters at a time)."""
        found: dict[int, HumanLoop] = {}
        for start in range(0, len(loop_ids), 900):
            chunk = loop_ids[start:start + 900]
            marks = ", ".join("?" for _ in chunk)
            for row in self._query(f"SELECT {LOOP_COLUMNS} FROM human_loops WHERE id IN ({marks})", tuple(chunk)):
                loop = HumanLoop.from_row(row)
                found[loop.id] = loop
        return found

    # Buckets ----------------------------------------------------------------------------------

    def buckets(self) -> dict[str, str]:
        return dict(self._query("SELECT name, region FROM buckets ORDER BY name"))

    def replace_buckets(self, buckets: dict[str, str]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM buckets")
            db.executemany("INSERT INTO buckets VALUES (?, ?)", sorted(buckets.items()))

    # Portal workers, their sessions and the tasks they opened ----------------------------------

    def add_worker(self, worker: Worker) -> bool:
        """False when a worker of that name exists already."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM workers WHERE name = ?", (worker.name,)).fetchone():
                return False
            db.execute("INSERT INTO workers VALUES (?, ?, ?, ?, ?, ?)",
                       (worker.name, worker.team, worker.worker_id, worker.subject, worker.credential_hash,
                        worker.creation_time))
        return True

    def get_worker(self, name: str) -> Worker | None:
        rows = self._query(f"SELECT {WORKER_COLUMNS} FROM workers WHERE name = ?", (name,))
        return Worker(*rows[0]) if rows else None

    def list_workers(self) -> list[Worker]:
        return [Worker(*row) for row in self._query(f"SELECT {WORKER_COLUMNS} FROM workers ORDER BY name")]

    def remove_worker(self, name: str) -> bool:
        with self.transaction() as db:
            db.execute("DELETE FROM portal_sessions WHERE worker_name = ?", (name,))
            return db.execute("DELETE FROM workers WHERE name = ?", (name,)).rowcount > 0

    def add_session(self, token_hash: str, worker_name: str, csrf_token: str, expires_at: float, now: float) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM portal_sessions WHERE expires_at <= ?", (now,))  # sweep the expired ones
            db.execute("INSERT INTO portal_sessions VALUES (?, ?, ?, ?)",
                       (token_hash, worker_name, csrf_token, expires_at))

    def get_session(self, token_hash: str, now: float) -> PortalSession | None:
        rows = self._query(
            f"SELECT {', '.join('w.' + column for column in WORKER_COLUMNS.split(', '))}, s.csrf_token, s.expires_at "
            "FROM portal_sessions s JOIN workers w ON w.name = s.worker_name "
            "WHERE s.token_hash = ? AND s.expires_at > ?", (token_hash, now))
        if not rows:
            return None
        *worker, csrf_token, expires_at = rows[0]
        return PortalSession(Worker(*worker), csrf_token, expires_at)

    def drop_session(self, token_hash: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM portal_sessions WHERE token_hash = ?", (token_hash,))

    def accept_task(self, loop_id: int, worker_id: str, now: float) -> float:
        """When the worker first opened the loop's task (recorded now if never): A2I's acceptanceTime."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO task_acceptances VALUES (?, ?, ?)", (loop_id, worker_id, now))
            row = db.execute("SELECT acceptance_time FROM task_acceptances WHERE loop_id = ? AND worker_id = ?",
                             (loop_id, worker_id)).fetchone()
        return float(row[0])

    def loops_answered_by(self, worker_id: str) -> set[int]:
        return {row[0] for row in self._query("SELECT loop_id FROM answers WHERE worker_id = ?", (worker_id,))}

    # Holds: a task a worker opened is theirs for a while (A2I's task time limit) ---------------------

    def take_hold(self, loop_id: int, worker_id: str, *, task_count: int, now: float, seconds: float,
                  hold_id: str) -> Hold | None:
        """The worker's hold of the loop's task, now named ``hold_id``: kept (its end unchanged) when they hold it
        already, new for ``seconds`` when one of the loop's ``task_count`` answers is neither given nor held by
        another worker; None when all are."""
        with self.transaction() as db:
            db.execute("DELETE FROM task_holds WHERE held_until <= ?", (now,))  # expired ones free their slot
            mine = db.execute("SELECT held_until FROM task_holds WHERE loop_id = ? AND worker_id = ?",
                              (loop_id, worker_id)).fetchone()
            if mine is not None:
                db.execute("UPDATE task_holds SET hold_id = ? WHERE loop_id = ? AND worker_id = ?",
                           (hold_id, loop_id, worker_id))
                return Hold(loop_id, worker_id, hold_id, float(mine[0]))
            given = db.execute("SELECT COUNT(*) FROM answers WHERE loop_id = ?", (loop_id,)).fetchone()[0]
            held = db.execute("SELECT COUNT(*) FROM task_holds WHERE loop_id = ?", (loop_id,)).fetchone()[0]
            if given + held >= task_count:
                return None
            db.execute("INSERT INTO task_holds VALUES (?, ?, ?, ?)", (loop_id, worker_id, hold_id, now + seconds))
        return Hold(loop_id, worker_id, hold_id, now + seconds)

    def release_hold(self, loop_id: int, worker_id: str, hold_id: str) -> bool:
        """End the worker's hold if ``hold_id`` still names it; False when it does not (released, expired, or taken
        again by a later page view)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM task_holds WHERE loop_id = ? AND worker_id = ? AND hold_id = ?",
                              (loop_id, worker_id, hold_id)).rowcount > 0

    def release_holds_of(self, worker_id: str) -> int:
        """End every hold of the worker (they logged out); how many there were."""
        with self.transaction() as db:
            return db.execute("DELETE FROM task_holds WHERE worker_id = ?", (worker_id,)).rowcount

    def held_count(self, loop_id: int, now: float) -> int:
        """How many workers hold the loop's task now (answered tasks hold nothing: :meth:`add_answer`)."""
        return int(self._query("SELECT COUNT(*) FROM task_holds WHERE loop_id = ? AND held_until > ?",
                               (loop_id, now))[0][0])

    def frees_at(self, loop_id: int, now: float) -> float | None:
        """When the first active hold of the loop's task ends; None when nobody holds it."""
        row = self._query("SELECT MIN(held_until) FROM task_holds WHERE loop_id = ? AND held_until > ?",
                          (loop_id, now))
        return float(row[0][0]) if row and row[0][0] is not None else None

    def task_queue(self, flow_definition_arns: list[str], worker_id: str, now: float) -> list[QueuedTask]:
        """The open loops of these flow definitions the worker has not answered, oldest first, with their holds."""
        if not flow_definition_arns:
            return []
        marks = ", ".join("?" for _ in flow_definition_arns)
        loop_columns = ", ".join(f"l.{column}" for column in LOOP_COLUMNS.split(", "))
        rows = self._query(
            f"SELECT {loop_columns}, "
            "(SELECT COUNT(*) FROM answers a WHERE a.loop_id = l.id), "
            "(SELECT COUNT(*) FROM task_holds h WHERE h.loop_id = l.id AND h.worker_id != ? AND h.held_until > ?), "
            "(SELECT MIN(h.held_until) FROM task_holds h WHERE h.loop_id = l.id AND h.worker_id != ? "
            "AND h.held_until > ?), "
            "(SELECT h.held_until FROM task_holds h WHERE h.loop_id = l.id AND h.worker_id = ? AND h.held_until > ?) "
            "FROM human_loops l WHERE l.status = 'InProgress' AND l.deleted = 0 "
            f"AND l.flow_definition_arn IN ({marks}) "
            "AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.loop_id = l.id AND a.worker_id = ?) "
            "ORDER BY l.creation_time, l.id",
            (worker_id, now, worker_id, now, worker_id, now, *flow_definition_arns, worker_id))
        width = len(LOOP_COLUMNS.split(", "))
        return [QueuedTask(HumanLoop.from_row(row[:width]), int(row[width]), int(row[width + 1]), row[width + 2],
                           row[width + 3]) for row in rows]

    def answers_since(self, worker_id: str, since: float) -> list[tuple[str, float]]:
        """The worker's answers submitted at or after ``since``: (the loop's flow definition ARN, seconds spent)."""
        rows = self._query("SELECT l.flow_definition_arn, a.time_spent FROM answers a JOIN human_loops l "
                           "ON l.id = a.loop_id WHERE a.worker_id = ? AND a.submission_time >= ? "
                           "ORDER BY a.submission_time", (worker_id, since))
        return [(str(arn), float(spent)) for arn, spent in rows]
