"""The access keys the local service requires AWS API requests to be signed with (see :mod:`.sigv4`).

A credentials file holds one ``ACCESS_KEY_ID SECRET`` (or ``ACCESS_KEY_ID:SECRET``) a line; an environment variable
holds ``AKID:SECRET,AKID2:SECRET2``. Several key pairs are allowed: one per deployment that calls the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import TypeAlias

Credentials: TypeAlias = Mapping[str, str]
ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
CREDENTIALS_FORMAT = ("'ACCESS_KEY_ID SECRET' or 'ACCESS_KEY_ID:SECRET', one a line or several separated by commas "
                      "(AKID:SECRET,AKID2:SECRET2); blank lines and lines starting with # are ignored")


def parse_credentials(text: str, source: str) -> dict[str, str]:
    """Access key id -> secret from ``text``: a credentials file (``ACCESS_KEY_ID SECRET`` or ``ACCESS_KEY_ID:SECRET``
    a line, blank lines and ``#`` comments ignored) or an environment variable's value (``AKID:SECRET,AKID2:SECRET2``).

    ValueError names ``source`` and the line (and entry) that is wrong, never the secret on it."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entries = [entry.strip() for entry in line.split(",")]
        for index, entry in enumerate(entries, 1):
            where = f"{source}, line {number}" + (f", entry {index}" if len(entries) > 1 else "")
            if not entry:
                continue  # a trailing comma
            key_id, secret = _credential_entry(entry, where)
            if pairs.get(key_id, secret) != secret:
                raise ValueError(f"{where}: the access key id {key_id!r} is given twice, with different secrets")
            pairs[key_id] = secret
    return pairs


def _credential_entry(entry: str, where: str) -> tuple[str, str]:
    fields = entry.split() if len(entry.split()) > 1 else entry.split(":", 1)
    if len(fields) != 2 or not fields[1]:
        raise ValueError(f"{where}: expected {CREDENTIALS_FORMAT}")
    key_id, secret = fields
    if not ACCESS_KEY_ID.fullmatch(key_id):
        raise ValueError(f"{where}: an access key id holds 1 to 128 letters, digits, '.', '_' or '-' "
                         f"(expected {CREDENTIALS_FORMAT})")
    return key_id, secret


def load_credentials(path: str | PathLike[str] | None = None, value: str | None = None, *,
                     value_source: str = "the credentials variable") -> dict[str, str]:
    """The key pairs of a credentials file, of an environment variable's value (``value``), or of both.

    ValueError for a bad line, for a key id given twice with different secrets, and when there is no key pair at
    all (requiring signatures then would refuse every request). OSError when the file cannot be read."""
    pairs: dict[str, str] = {}
    sources: list[tuple[str, str]] = []
    if path is not None:
        sources.append((Path(path).read_text(encoding="utf-8"), str(path)))
    if value is not None:
        sources.append((value, value_source))
    for text, source in sources:
        for key_id, secret in parse_credentials(text, source).items():
            if pairs.get(key_id, secret) != secret:
                raise ValueError(f"{source}: the access key id {key_id!r} has another secret elsewhere")
            pairs[key_id] = secret
    if not pairs:
        names = " or ".join(source for _, source in sources) or "nothing given"
        raise ValueError(f"no access key in {names}: expected {CREDENTIALS_FORMAT}")
    return pairs
