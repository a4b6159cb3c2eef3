"""Who may use the server, and protection of state-changing requests.

- **Auth.** The server is open only while it listens on loopback and no API key is active and no
  password is set (local development). Once a key exists (``runio keys create``) or a password is
  set, the API wants ``Authorization: Bearer <key>`` and the dashboard a login (a key or the
  password). Beyond loopback the server refuses to start without either (``serve`` checks).
- **Sessions.** A dashboard login is a cookie signed with a secret made when the server starts
  (HttpOnly, SameSite=Strict); a session of a key ends when the key is revoked.
- **CSRF.** Unsafe requests from another site are refused (``Sec-Fetch-Site``, ``Origin``);
  dashboard forms also carry a token tied to the session; the API takes keys only from a header,
  which a browser never adds on its own.
- **DNS rebinding.** On loopback, requests must name a loopback host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._client import Client
from ._keys import any_active_key, check_key

SESSION_COOKIE = "runio_session"
SESSION_SECONDS = 12 * 3600
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MAX_BODY = 16 * 1024 * 1024


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """The server's auth settings and the secret its sessions and CSRF tokens are signed with."""

    client: Client
    """Its store holds the keys (brought up to date on first use)."""
    host: str = "127.0.0.1"
    password: str | None = None
    allowed_hosts: frozenset[str] | None = None
    """Host names requests may name; default: any loopback name when bound to loopback."""
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        # Hosts named by the operator are also trusted origins (behind a proxy that passes its
        # own Host header, the browser's Origin names the public host).
        self._trusted_origins = frozenset(self.allowed_hosts or ())
        if self.allowed_hosts is None and is_loopback(self.host):
            self.allowed_hosts = frozenset({*_LOOPBACK_NAMES, "[::1]"})

    # -- is auth on? ---------------------------------------------------------------------------
    async def auth_required(self) -> bool:
        return (
            bool(self.password)
            or not is_loopback(self.host)
            or await any_active_key(await self.client._ready())
        )

    async def api_principal(self, authorization: str | None) -> str | None:
        """``"open"`` (no auth needed), ``"key:<id>"``, or None (refuse with 401)."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            record = await check_key(await self.client._ready(), token.strip())
            return None if record is None else f"key:{record.id}"
        return None if await self.auth_required() else "open"

    # -- dashboard sessions ----------------------------------------------------------------------
    async def login(self, credential: str) -> str | None:
        """A session cookie value for a correct password or active key, else None."""
        credential = credential.strip()
        if self.password and hmac.compare_digest(
            credential.encode("utf-8", "surrogatepass"), self.password.encode("utf-8")
        ):
            return self._session("password")
        record = await check_key(await self.client._ready(), credential)
        return None if record is None else self._session(f"key:{record.id}")

    def _session(self, principal: str) -> str:
        expires = int(time.time()) + SESSION_SECONDS
        body = f"{principal}|{expires}"
        return f"{body}|{self._sign('session', body)}"

    async def session_principal(self, request: Request) -> str | None:
        """``"open"``, the logged-in principal, or None (send to the login page)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            principal = await self._check_session(cookie)
            if principal is not None:
                return principal
        return None if await self.auth_required() else "open"

    async def _check_session(self, cookie: str) -> str | None:
        body, _, signature = cookie.rpartition("|")
        if not body or not hmac.compare_digest(signature, self._sign("session", body)):
            return None
        principal, _, expires = body.rpartition("|")
        if not expires.isdigit() or int(expires) < time.time():
            return None
        if principal.startswith("key:"):
            record = await (await self.client._ready()).get_api_key(principal[4:])
            if record is None or record.revoked_at is not None:
                return None
        elif principal != "password" or not self.password:
            return None
        return principal

    def csrf_token(self, request: Request) -> str:
        return self._sign("csrf", request.cookies.get(SESSION_COOKIE, "open"))

    def csrf_ok(self, request: Request, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf_token(request))

    def _sign(self, purpose: str, value: str) -> str:
        return hmac.new(
            self.secret, f"{purpose}:{value}".encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    # -- every request ---------------------------------------------------------------------------
    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refusal = self._refuse(request)
        if refusal is not None:
            status, message = refusal
            return JSONResponse({"detail": message}, status_code=status)
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if headers.get("content-type", "").startswith("text/html"):
            headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                "form-action 'self'; base-uri 'none'",
            )
        return response

    def _refuse(self, request: Request) -> tuple[int, str] | None:
        """Why (status, message) this request is refused before it is handled, if it is."""
        host = request.headers.get("host", "")
        try:
            name = urlsplit(f"//{host}").hostname or ""
        except ValueError:
            return 400, f"Host {host!r} is not a host name."
        if (
            self.allowed_hosts is not None
            and name not in self.allowed_hosts
            and (f"[{name}]" not in self.allowed_hosts)
        ):
            return 400, (
                f"Host {host!r} is not served here; this server answers to "
                f"{', '.join(sorted(self.allowed_hosts))}."
            )
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return 413, (
                f"Request body too large ({int(length)} bytes; at most {MAX_BODY}): send large "
                "data somewhere else and pass a reference in the event."
            )
        if request.method in _UNSAFE:
            if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
                return 403, "Refused: a state-changing request sent by another site."
            origin = request.headers.get("origin")
            try:
                origin_host = urlsplit(origin).netloc if origin else None
            except ValueError:
                origin_host = ""
            trusted = urlsplit(f"//{origin_host}").hostname in self._trusted_origins
            if origin is not None and origin_host != host and not trusted:
                return 403, f"Refused: a state-changing request from another site ({origin})."
        return None
