"""``ResendClient``: the ``resend`` SDK bound to one account (API key and base URL).

The SDK keeps its key and URL in process globals (``resend.api_key``, ``resend.api_url``) and
sends every request through one process-wide HTTP client (``resend.default_http_client``,
``resend.default_async_http_client``). Swapping the globals around each call would race as
soon as two accounts are used at once (two ``Resend`` instances in one worker, or one job's
parallel tasks). Instead this module installs, once, a routing HTTP client in both of the SDK's
hooks: a call made through a ``ResendClient`` runs with that client's account in a context
variable (task-local under asyncio, thread-local in the thread pool), and the routing client
sends the request to that account's base URL with that account's key, over the account's own
httpx connection pool. Requests made outside a ``ResendClient`` (plain ``resend.Emails.send``
elsewhere in the process) go to the HTTP client that was installed before, unchanged.

This module owns the SDK plumbing only: no retries, no error rules (``_errors.py``), no tasks.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

try:
    import httpx
    import resend
    from resend.http_client import HTTPClient
    from resend.http_client_async import AsyncHTTPClient
except ImportError as exc:  # pragma: no cover - the dependency is declared
    raise ImportError(
        "runio-resend needs the Resend SDK with its async extra: pip install 'resend[async]>=2.50' "
        "(or reinstall runio-resend)."
    ) from exc

__all__ = ["DEFAULT_API_BASE", "ResendClient"]

DEFAULT_API_BASE = "https://api.resend.com"


@dataclass(eq=False)
class _Account:
    api_key: str
    base_url: str
    timeout: float
    sync_http: httpx.Client | None = None
    async_http: httpx.AsyncClient | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sync_client(self) -> httpx.Client:
        with self.lock:
            if self.sync_http is None:
                self.sync_http = httpx.Client(timeout=self.timeout)
            return self.sync_http

    def __repr__(self) -> str:  # never the key
        return f"_Account(base_url={self.base_url!r})"


_account: contextvars.ContextVar[_Account | None] = contextvars.ContextVar(
    "runio_resend_account", default=None
)


def _route(account: _Account, url: str, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The SDK's request re-aimed at ``account``: its path on the account's base URL, and the
    account's key in ``Authorization``."""
    prefix = str(resend.api_url or "").rstrip("/")
    if prefix and url.startswith(prefix + "/"):
        path = url[len(prefix) :]
    else:
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    routed = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    routed["Authorization"] = f"Bearer {account.api_key}"
    return account.base_url + path, routed


def _send_kwargs(
    json: Any, files: dict[str, Any] | None, data: dict[str, str] | None
) -> dict[str, Any]:
    if files is not None:
        return {"files": files, "data": data}
    if data is not None:
        return {"data": data}
    return {"json": json}


class _RoutingHTTPClient(HTTPClient):
    """The SDK's sync HTTP hook: the current ``ResendClient``'s account, else the previous
    client."""

    def __init__(self, fallback: HTTPClient) -> None:
        self.fallback = fallback

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        account = _account.get()
        if account is None:
            return self.fallback.request(method, url, headers, json, files, data)
        url, routed = _route(account, url, headers)
        response = account.sync_client().request(
            method, url, headers=routed, **_send_kwargs(json, files, data)
        )
        return response.content, response.status_code, response.headers


class _RoutingAsyncHTTPClient(AsyncHTTPClient):
    """The SDK's async HTTP hook: the current ``ResendClient``'s account, else the previous
    client."""

    def __init__(self, fallback: AsyncHTTPClient | None) -> None:
        self.fallback = fallback

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        account = _account.get()
        if account is None:
            if self.fallback is None:
                raise RuntimeError(
                    "No async HTTP client configured for the resend SDK: install httpx"
                )
            return await self.fallback.request(method, url, headers, json, files, data)
        if account.async_http is None:
            account.async_http = httpx.AsyncClient(timeout=account.timeout)
        url, routed = _route(account, url, headers)
        response = await account.async_http.request(
            method, url, headers=routed, **_send_kwargs(json, files, data)
        )
        return response.content, response.status_code, response.headers


_install_lock = threading.Lock()


def _install_routing() -> None:
    """Put the routing clients in the SDK's two hooks (idempotent). Called before every bound
    call: code that replaced a hook since then gets its client kept as the fallback, and the
    bound call still goes to its own account."""
    if isinstance(resend.default_http_client, _RoutingHTTPClient) and isinstance(
        resend.default_async_http_client, _RoutingAsyncHTTPClient
    ):
        return
    with _install_lock:
        if not isinstance(resend.default_http_client, _RoutingHTTPClient) or not isinstance(
            resend.default_async_http_client, _RoutingAsyncHTTPClient
        ):
            previous_sync = resend.default_http_client
            previous_async = resend.default_async_http_client
            if isinstance(previous_sync, _RoutingHTTPClient):
                previous_sync = previous_sync.fallback
            if isinstance(previous_async, _RoutingAsyncHTTPClient):
                previous_async = previous_async.fallback
            # The SDK uses a legacy async client set as default_http_client when no dedicated
            # async client was chosen: keep that choice for calls outside a ResendClient.
            if (
                previous_async is None or previous_async is resend._auto_async_http_client
            ) and isinstance(previous_sync, AsyncHTTPClient):
                previous_async = previous_sync
            sync_fallback = (
                previous_sync if isinstance(previous_sync, HTTPClient) else resend.RequestsClient()
            )
            resend.default_http_client = _RoutingHTTPClient(sync_fallback)
            resend.default_async_http_client = _RoutingAsyncHTTPClient(previous_async)


class _Bound:
    """An SDK namespace (``resend.Emails``, ``resend.Contacts.Segments``...) whose calls run
    with one account."""

    def __init__(self, target: Any, account: _Account) -> None:
        self._target = target
        self._account_ref = account

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.isclass(value):
            return _Bound(value, self._account_ref)
        if inspect.iscoroutinefunction(value):
            return _bind_async(value, self._account_ref)
        if callable(value):
            return _bind_sync(value, self._account_ref)
        return value

    def __repr__(self) -> str:
        return f"<{getattr(self._target, '__name__', self._target)!s} bound to a ResendClient>"


def _bind_async(fn: Any, account: _Account) -> Any:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        _install_routing()
        token = _account.set(account)
        try:
            return await fn(*args, **kwargs)
        finally:
            _account.reset(token)

    return call


def _bind_sync(fn: Any, account: _Account) -> Any:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        _install_routing()
        token = _account.set(account)
        try:
            return fn(*args, **kwargs)
        finally:
            _account.reset(token)

    return call


class ResendClient:
    """The ``resend`` SDK with one account's key and base URL.

    ``client.Emails.send_async(params, options)`` is ``resend.Emails.send_async(params,
    options)`` sent with this client's key to this client's base URL; so is every other SDK
    namespace (``client.Contacts``, ``client.Segments``, ``client.Domains``, sync methods
    too). Several clients with different keys can be used at the same time in one process.
    The key is never shown in the client's repr.
    """

    def __init__(
        self, api_key: str, *, base_url: str = DEFAULT_API_BASE, timeout: float = 30.0
    ) -> None:
        if not api_key:
            raise ValueError("ResendClient needs an API key (re_...)")
        _install_routing()
        self._account = _Account(
            api_key=api_key,
            base_url=base_url.rstrip("/"),
            timeout=timeout,
        )

    @property
    def base_url(self) -> str:
        return self._account.base_url

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(resend, name)
        if not inspect.isclass(value):
            raise AttributeError(
                f"ResendClient has no attribute {name!r}: it gives the SDK's API namespaces "
                "(Emails, Batch, Contacts, Segments, Domains...)"
            )
        return _Bound(value, self._account)

    def __repr__(self) -> str:
        return f"ResendClient(base_url={self._account.base_url!r})"

    async def aclose(self) -> None:
        """Close this client's connections (it opens new ones if used again)."""
        http, self._account.async_http = self._account.async_http, None
        if http is not None:
            await http.aclose()
        self.close()

    def close(self) -> None:
        """Close this client's sync connections (``aclose`` closes the async ones too)."""
        http, self._account.sync_http = self._account.sync_http, None
        if http is not None:
            http.close()

    def __enter__(self) -> ResendClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
