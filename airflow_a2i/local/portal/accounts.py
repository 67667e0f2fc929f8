"""Portal workers: one-time credentials, logins, sessions with CSRF tokens, and signed document URLs.

Credentials and session tokens are stored only as hashes, so the SQLite file alone lets nobody log in. Logging in
is bounded: at most ``max_concurrent_hashes`` scrypt computations at once (16 MiB each), the same work whether the
name exists or not, and a limit on failed attempts per client address and per worker name (:class:`LoginThrottle`).
Without login (loopback only) each browser's worker lives in a signed cookie (:class:`AnonymousSessions`): nothing
is stored and nothing hashed per request. Secrets are compared with :func:`same_secret`, which never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from airflow_a2i.local.store import (
    OWNER_ONLY_FILE,
    PortalSession,
    Store,
    Worker,
    private_directory,
    restrict_to_owner,
)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TEAM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$|^arn:aws[a-z-]*:sagemaker:[^:]+:\d{12}:workteam/.+$")
DEFAULT_SESSION_SECONDS = 8 * 3600
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 128 * r * n = 16 MiB of memory per hash
MAX_CONCURRENT_HASHES = 2  # 32 MiB of scrypt memory at most, however many logins arrive at once
HASH_WAIT_SECONDS = 5.0  # a login waits this long for a hashing slot, then is told to try again
# A record of the stored format that no credential matches: an unknown name costs one scrypt, as a known one does.
DUMMY_CREDENTIAL_HASH = f"scrypt${'00' * 16}${'00' * 32}"
FAILED_LOGIN_LIMIT = 10  # failed logins per client address, and per worker name, in any window of ...
FAILED_LOGIN_WINDOW_SECONDS = 60.0
LINK_SECONDS = 300  # a signed document link works this long; reloading the task page makes new ones


class AccountError(ValueError):
    """A worker cannot be added or cannot log in; the message says why."""


class HashingBusy(Exception):
    """No hashing slot came free in time: the login is not attempted; the client should try again shortly."""


def same_secret(given: str | bytes | None, expected: str | bytes) -> bool:
    """Constant-time equality of a value a client sent and a secret; never raises (``hmac.compare_digest`` raises
    TypeError on non-ASCII ``str``): any text is compared as UTF-8 bytes, lone surrogates included. An empty or
    missing value is never the secret."""
    if not given:
        return False
    return hmac.compare_digest(_bytes(given), _bytes(expected))


def _bytes(value: str | bytes) -> bytes:
    # surrogatepass: total and one-to-one on str, so no text that is not the secret can encode to the secret's bytes.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


class HashGate:
    """At most ``slots`` scrypt computations at once: memory stays bounded under a burst of logins."""

    def __init__(self, slots: int = MAX_CONCURRENT_HASHES) -> None:
        if slots < 1:
            raise ValueError("max_concurrent_hashes must be at least 1")
        self._slots = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self, wait_seconds: float | None) -> Iterator[None]:
        """Hold a slot; HashingBusy when none comes free within ``wait_seconds`` (None: wait as long as it takes)."""
        if not self._slots.acquire(timeout=wait_seconds):
            raise HashingBusy("The portal is busy checking other logins; try again in a few seconds.")
        try:
            yield
        finally:
            self._slots.release()


def hash_credential(credential: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(_bytes(credential), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def credential_matches(credential: str, stored: str) -> bool:
    try:
        _, salt, _ = stored.split("$")
        return same_secret(hash_credential(credential, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


def token_hash(token: str) -> str:
    # Session tokens are random and long: a plain digest is enough to keep them out of the database.
    return hashlib.sha256(_bytes(token)).hexdigest()


def team_of(workteam_arn: str) -> str:
    """A work team's name: the last part of its ARN (``.../workteam/private-crowd/reviewers`` -> reviewers)."""
    return workteam_arn.rsplit("/", 1)[-1]


ANY_TEAM = "*"  # the team of the workers a portal without login makes: they see every task


def serves_team(worker: Worker, workteam_arn: str) -> bool:
    """A worker's team is a work team's name or its whole ARN."""
    return worker.team in (workteam_arn, team_of(workteam_arn), ANY_TEAM)


class Accounts:
    """Workers and their sessions in the service's store."""

    def __init__(self, store: Store, *, session_seconds: float = DEFAULT_SESSION_SECONDS,
                 max_concurrent_hashes: int = MAX_CONCURRENT_HASHES,
                 hash_wait_seconds: float = HASH_WAIT_SECONDS) -> None:
        self.store = store
        self.session_seconds = session_seconds
        self.hashing = HashGate(max_concurrent_hashes)
        self.hash_wait_seconds = hash_wait_seconds

    def add_worker(self, name: object, team: object) -> tuple[Worker, str]:
        """A new worker and its one-time credential (only its hash is kept: it cannot be shown again)."""
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise AccountError(f"worker name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_', '@' or "
                               "'-', starting with a letter or digit")
        if not isinstance(team, str) or not TEAM_PATTERN.match(team):
            raise AccountError(f"team {team!r} is not valid: give the work team's name (the last part of the flow "
                               "definition's WorkteamArn, such as 'reviewers') or its whole WorkteamArn")
        credential = secrets.token_urlsafe(18)
        with self.hashing.slot(None):  # the admin API's caller is trusted: it waits its turn
            credential_hash = hash_credential(credential)
        worker = Worker(name=name, team=team, worker_id=secrets.token_hex(8), subject=str(uuid.uuid4()),
                        credential_hash=credential_hash, creation_time=time.time())
        if not self.store.add_worker(worker):
            raise AccountError(f"a worker named {name!r} exists already; remove it first or choose another name")
        return worker, credential

    def log_in(self, name: str, credential: str) -> tuple[str, PortalSession]:
        """A new session token and its session; AccountError (one message for any mismatch) otherwise, HashingBusy
        when no hashing slot comes free in time."""
        worker = self.store.get_worker(name)
        # One scrypt either way: an unknown name is checked against a record no credential matches.
        stored = worker.credential_hash if worker else DUMMY_CREDENTIAL_HASH
        with self.hashing.slot(self.hash_wait_seconds):
            matches = credential_matches(credential, stored)
        if not matches or worker is None:
            raise AccountError("The name or the credential is wrong.")
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = PortalSession(worker, secrets.token_urlsafe(24), now + self.session_seconds)
        self.store.add_session(token_hash(token), worker.name, session.csrf_token, session.expires_at, now)
        return token, session

    def session(self, token: str | None) -> PortalSession | None:
        if not token:
            return None
        return self.store.get_session(token_hash(token), time.time())

    def log_out(self, token: str) -> None:
        self.store.drop_session(token_hash(token))


class LoginThrottle:
    """Failed logins counted per key (a client address, a worker name) in a sliding window, in memory.

    A key with ``limit`` failures in the last ``window_seconds`` is refused until the oldest leaves the window.
    At most ``max_keys`` keys are kept (the least recently failed go first), so a flood of names stays bounded.
    """

    def __init__(self, limit: int = FAILED_LOGIN_LIMIT, window_seconds: float = FAILED_LOGIN_WINDOW_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Seconds (rounded up) before any of ``keys`` may try again; 0 when all may try now."""
        now = self.clock()
        with self._lock:
            waits = [self._wait(key, now) for key in keys]
        return math.ceil(max(waits, default=0.0))

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                times = self._failures.pop(key, None) or deque(maxlen=self.limit)
                times.append(now)
                self._failures[key] = times  # most recent last
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def _wait(self, key: str, now: float) -> float:
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        return times[0] + self.window_seconds - now if len(times) >= self.limit else 0.0


class AnonymousSessions:
    """Login off (loopback only): each browser is a worker of every team, held in a signed cookie.

    Nothing is stored and nothing hashed per request: a browser without the cookie gets a new worker id for the
    price of an HMAC. These tokens are accepted only while the portal runs without login.
    """

    PREFIX = "anon."

    def __init__(self, key: bytes, *, session_seconds: float = DEFAULT_SESSION_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.session_seconds = session_seconds
        self.clock = clock

    def new(self) -> str:
        payload = f"{secrets.token_hex(8)}.{int(self.clock() + self.session_seconds)}"
        return f"{self.PREFIX}{payload}.{self._mac('session', payload)}"

    def session(self, token: str | None) -> PortalSession | None:
        if not token or not token.startswith(self.PREFIX):
            return None
        payload, _, mac = token[len(self.PREFIX):].rpartition(".")
        if not same_secret(mac, self._mac("session", payload)):
            return None
        worker_id, _, expires = payload.partition(".")
        if not expires.isdigit() or int(expires) <= self.clock():
            return None
        subject = uuid.UUID(bytes=hmac.new(self.key, f"subject:{worker_id}".encode(), hashlib.sha256).digest()[:16],
                            version=4)
        worker = Worker(name=f"reviewer-{worker_id[:8]}", team=ANY_TEAM, worker_id=worker_id, subject=str(subject),
                        credential_hash="", creation_time=int(expires) - self.session_seconds)
        return PortalSession(worker, self._mac("csrf", token), float(expires))

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self.key, f"{purpose}:{text}".encode(), hashlib.sha256).digest())


def derived_key(key: bytes, purpose: str) -> bytes:
    """A key for one purpose only, from a kept secret: a MAC made for one use is never valid for another."""
    return hmac.new(key, f"airflow-a2i {purpose}".encode(), hashlib.sha256).digest()


def kept_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret kept in ``path`` (0600 from its creation, in a 0700 directory), made with ``make`` on first use.

    Readers never see half of it, and when two processes start at once both end up with the first one's secret.
    """
    private_directory(path.parent)
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(make())
                file.flush()
                os.fsync(file.fileno())
            with suppress(FileExistsError):  # another process was first: keep its secret
                os.link(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    restrict_to_owner(path, OWNER_ONLY_FILE)  # a file made by an older version may be readable by others
    return path.read_bytes()


def worker_metadata(worker: Worker, issuer: str) -> dict:
    """workerMetadata as A2I writes it for a private workforce, the portal standing in for Cognito."""
    from airflow_a2i.local.outputs import local_worker_metadata

    return local_worker_metadata(issuer, worker.subject)


class UrlSigner:
    """Short-lived, tamper-proof references to S3 objects, each bound to one worker: what ``grant_read_access``
    gives a task page. A link works only with its worker's session, so one copied from a log is of no use.

    The key lives in the data directory, so links handed out before a restart still work after it.
    """

    def __init__(self, key: bytes, *, lifetime_seconds: float = LINK_SECONDS) -> None:
        self.key = key
        self.lifetime_seconds = lifetime_seconds

    @classmethod
    def in_directory(cls, data_dir: Path) -> UrlSigner:
        return cls(kept_secret(data_dir / "portal-signing-key", lambda: secrets.token_bytes(32)))

    def sign(self, bucket: str, key: str, *, worker_id: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.lifetime_seconds)
        payload = _b64(json.dumps([bucket, key, expires], separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload, worker_id)}"

    def verify(self, token: str, *, worker_id: str, now: float | None = None) -> tuple[str, str] | None:
        """(bucket, key) of a valid, unexpired token signed for ``worker_id``; None otherwise."""
        payload, _, mac = token.partition(".")
        if not worker_id or not same_secret(mac, self._mac(payload, worker_id)):
            return None
        try:
            bucket, key, expires = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            if float(expires) < (now if now is not None else time.time()):
                return None
        except (ValueError, TypeError):
            return None
        return str(bucket), str(key)

    def _mac(self, payload: str, worker_id: str) -> str:
        # The worker is in the MAC, not in the URL: the link names nobody, and is valid for one worker only.
        message = _bytes(json.dumps([payload, worker_id]))
        return _b64(hmac.new(self.key, message, hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
