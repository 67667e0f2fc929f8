"""What every request must pass before it is routed: the service answers only the clients it is meant for.

The AWS APIs and the worker portal listen on two ports, so that nothing an API client stores (an S3 object, a
task UI template) is ever served on the portal's origin. Each port has a :class:`Guard`:

- **Host**: only the service's own names, so a page whose DNS name is rebound to 127.0.0.1 is refused.
- **Browsers**: the API port answers no browser at all: boto3 never sends ``Origin`` or ``Sec-Fetch-*``, browsers
  always do on the requests that matter (every cross-site POST, every CORS preflight, navigations and subresource
  loads). The portal port takes state-changing requests only from its own origin (its forms carry CSRF tokens too).
- **moto's management routes** (``/moto-api/``: dump and reset every backend) only when asked for, on loopback.
- **Bodies**: bounded, refused by their announced length before a byte is read; a body of unknown length
  (chunked) is refused where it could not be bounded.

Pure functions over the WSGI environ and a few settings: no I/O, tested directly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
MOTO_API_PREFIX = "/moto-api"
# boto3 sends no body near these sizes: StartHumanLoop's InputContent is at most 3 MiB (A2I_FACTS.md).
MAX_API_BODY = 4 * 1024 * 1024
# S3 objects (documents) are bigger; moto keeps them in memory, so the bound is the service's own safety.
MAX_S3_BODY = 64 * 1024 * 1024
MAX_PORTAL_BODY = 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD"})


def is_loopback(host: str) -> bool:
    """True for the names and addresses that only this machine reaches."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: an HTTP status, a code in AWS's style, and a message that says what to do."""

    status: int
    code: str
    message: str


@dataclass(frozen=True)
class Guard:
    """The checks of one port.

    :param port: the port it listens on (the ``Host`` header names it unless a proxy in front says otherwise).
    :param names: the host names and addresses clients may use for it (``Host`` without the port).
    :param proxied_names: names a TLS proxy in front forwards (``--allowed-host``): any port, or none.
    :param portal: the portal's port (same-origin browsers) rather than the API's (no browsers).
    :param moto_api: serve moto's management routes (loopback only).
    """

    port: int
    names: frozenset[str]
    proxied_names: frozenset[str] = field(default_factory=frozenset)
    portal: bool = False
    moto_api: bool = False

    @classmethod
    def listening_on(cls, host: str, port: int, *, allowed_hosts: tuple[str, ...] = (), portal: bool = False,
                     moto_api: bool = False) -> Guard:
        names = {name.lower() for name in LOOPBACK_NAMES} | {host.strip("[]").lower()}
        return cls(port, frozenset(names), frozenset(name.lower() for name in allowed_hosts), portal, moto_api)

    def check(self, environ: dict[str, Any]) -> Refusal | None:
        """None when the request may go on, else why not."""
        return (self._check_host(environ.get("HTTP_HOST", "")) or self._check_browser(environ)
                or self._check_moto_api(environ.get("PATH_INFO", "")) or self._check_body(environ))

    def own_origins(self) -> frozenset[str]:
        """The origins a browser on this port's own pages sends (``Origin``), one per name clients may use."""
        loopback = {f"http://{self._shown(name)}:{self.port}" for name in self.names}
        proxied = {f"{scheme}://{name}" for name in self.proxied_names for scheme in ("https", "http")}
        return frozenset(loopback | proxied)

    def _check_host(self, host_header: str) -> Refusal | None:
        name, port = split_host(host_header)
        if name in self.proxied_names or (name in self.names and port == str(self.port)):
            return None
        return Refusal(421, "MisdirectedRequest", f"This service does not answer for the host {host_header[:100]!r}: "
                       "use the address it printed at start-up, or give the name clients use with "
                       "'airflow-a2i local serve --allowed-host NAME' (for a proxy in front of it)")

    def _check_browser(self, environ: dict[str, Any]) -> Refusal | None:
        origin, site = environ.get("HTTP_ORIGIN"), environ.get("HTTP_SEC_FETCH_SITE")
        if not self.portal:
            if origin is None and site is None:
                return None
            return Refusal(403, "AccessDenied", "The AWS API port answers no web browser (AWS clients such as boto3 "
                           "send no Origin or Sec-Fetch headers); reviewers use the worker portal's port")
        if environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS:
            # Links from elsewhere may open the portal (a navigation); other sites may not load or frame it.
            if site != "cross-site" or environ.get("HTTP_SEC_FETCH_MODE") == "navigate":
                return None
            return Refusal(403, "AccessDenied", "The worker portal's pages cannot be loaded by another site")
        if origin in self.own_origins() or (origin is None and site in (None, "same-origin")):
            return None  # its own pages; or a client that is not a browser
        return Refusal(403, "AccessDenied", "The worker portal takes form posts from its own pages only")

    def _check_moto_api(self, path: str) -> Refusal | None:
        if self.portal or not (path == MOTO_API_PREFIX or path.startswith(MOTO_API_PREFIX + "/")):
            return None
        if self.moto_api:
            return None
        return Refusal(403, "AccessDenied", "moto's management API (/moto-api/: dump and reset all state) is off: "
                       "start the service with --moto-api to use it (loopback only)")

    def _check_body(self, environ: dict[str, Any]) -> Refusal | None:
        limit = self.body_limit(environ)
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not length:
            return Refusal(411, "MissingContentLength", "Send the body with a Content-Length: a body of unknown "
                           "length is not taken")
        if not length:
            return None
        if not length.isdigit():
            return Refusal(400, "InvalidRequest", f"Content-Length {length[:40]!r} is not a number of bytes")
        if int(length) > limit:
            return Refusal(413, "RequestEntityTooLarge", f"The request body has {int(length)} bytes; this service "
                           f"takes at most {limit} here")
        return None

    def body_limit(self, environ: dict[str, Any]) -> int:
        if self.portal:
            return MAX_PORTAL_BODY
        return MAX_S3_BODY if is_s3_request(environ) else MAX_API_BODY

    @staticmethod
    def _shown(name: str) -> str:
        return f"[{name}]" if ":" in name else name


def split_host(host_header: str) -> tuple[str, str]:
    """(name, port) of a Host header, lowercase, IPv6 brackets removed; port "" when none is given."""
    value = host_header.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest.removeprefix(":")
    if value.count(":") == 1:
        name, _, port = value.partition(":")
        return name, port
    return value, ""


def is_s3_request(environ: dict[str, Any]) -> bool:
    """S3 is every signed request whose credential scope names s3 (the routing of server.py does the same)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    return "/s3/aws4_request" in authorization or "%2Fs3%2Faws4_request" in query
