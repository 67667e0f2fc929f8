"""Portal workers: one-time credentials, logins, sessions with CSRF tokens, and signed document URLs.

Credentials and session tokens are stored only as hashes, so the SQLite file alone lets nobody log in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from airflow_a2i.local.store import PortalSession, Store, Worker

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TEAM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$|^arn:aws[a-z-]*:sagemaker:[^:]+:\d{12}:workteam/.+$")
DEFAULT_SESSION_SECONDS = 8 * 3600
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(ValueError):
    """A worker cannot be added or cannot log in; the message says why."""


def hash_credential(credential: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(credential.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def credential_matches(credential: str, stored: str) -> bool:
    try:
        _, salt, _ = stored.split("$")
        return hmac.compare_digest(hash_credential(credential, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


def token_hash(token: str) -> str:
    # Session tokens are random and long: a plain digest is enough to keep them out of the database.
    return hashlib.sha256(token.encode()).hexdigest()


def team_of(workteam_arn: str) -> str:
    """A work team's name: the last part of its ARN (``.../workteam/private-crowd/reviewers`` -> reviewers)."""
    return workteam_arn.rsplit("/", 1)[-1]


ANY_TEAM = "*"  # the team of the workers a portal without login makes: they see every task


def serves_team(worker: Worker, workteam_arn: str) -> bool:
    """A worker's team is a work team's name or its whole ARN."""
    return worker.team in (workteam_arn, team_of(workteam_arn), ANY_TEAM)


class Accounts:
    """Workers and their sessions in the service's store."""

    def __init__(self, store: Store, *, session_seconds: float = DEFAULT_SESSION_SECONDS) -> None:
        self.store = store
        self.session_seconds = session_seconds

    def add_worker(self, name: object, team: object) -> tuple[Worker, str]:
        """A new worker and its one-time credential (only its hash is kept: it cannot be shown again)."""
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise AccountError(f"worker name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_', '@' or "
                               "'-', starting with a letter or digit")
        if not isinstance(team, str) or not TEAM_PATTERN.match(team):
            raise AccountError(f"team {team!r} is not valid: give the work team's name (the last part of the flow "
                               "definition's WorkteamArn, such as 'reviewers') or its whole WorkteamArn")
        return self._add(name, team)

    def _add(self, name: str, team: str) -> tuple[Worker, str]:
        credential = secrets.token_urlsafe(18)
        worker = Worker(name=name, team=team, worker_id=secrets.token_hex(8), subject=str(uuid.uuid4()),
                        credential_hash=hash_credential(credential), creation_time=time.time())
        if not self.store.add_worker(worker):
            raise AccountError(f"a worker named {name!r} exists already; remove it first or choose another name")
        return worker, credential

    def anonymous_session(self) -> str:
        """Login off (loopback only): a new worker of every team, logged in; its session token."""
        worker, credential = self._add(f"reviewer-{secrets.token_hex(4)}", ANY_TEAM)
        token, _ = self.log_in(worker.name, credential)
        return token

    def log_in(self, name: str, credential: str) -> tuple[str, PortalSession]:
        """A new session token and its session; AccountError (one message for any mismatch) otherwise."""
        worker = self.store.get_worker(name)
        # Hash even for an unknown name, so the answer takes as long either way.
        stored = worker.credential_hash if worker else hash_credential("no such worker")
        if not credential_matches(credential, stored) or worker is None:
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


def kept_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret kept in ``path`` (owner-only), made with ``make`` on first use; readers never see half of it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(make())
        partial.chmod(0o600)
        partial.replace(path)
    return path.read_bytes()


def worker_metadata(worker: Worker, issuer: str) -> dict:
    """workerMetadata as A2I writes it for a private workforce, the portal standing in for Cognito."""
    return {"identityData": {"identityProviderType": "AirflowA2ILocalPortal", "issuer": issuer,
                             "sub": worker.subject}}


class UrlSigner:
    """Short-lived, tamper-proof references to S3 objects: what ``grant_read_access`` gives a page.

    The key lives in the data directory, so links handed out before a restart still work after it.
    """

    def __init__(self, key: bytes, *, lifetime_seconds: float = 3600) -> None:
        self.key = key
        self.lifetime_seconds = lifetime_seconds

    @classmethod
    def in_directory(cls, data_dir: Path) -> UrlSigner:
        return cls(kept_secret(data_dir / "portal-signing-key", lambda: secrets.token_bytes(32)))

    def sign(self, bucket: str, key: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.lifetime_seconds)
        payload = _b64(json.dumps([bucket, key, expires], separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, now: float | None = None) -> tuple[str, str] | None:
        """(bucket, key) of a valid, unexpired token; None otherwise."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            bucket, key, expires = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if expires < (now if now is not None else time.time()):
            return None
        return str(bucket), str(key)

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
