"""The built-in ``HTTP`` integration (``io.http``) and the built-in plugin that registers it.

Plain HTTP requests as tasks, on httpx: an ``httpx.AsyncClient`` per worker event loop (its
connections reused by every request of that worker), awaited on the loop itself (no thread per
request), with a timeout per request, and HTTP/2 when the ``h2`` package is installed
(``pip install "runio[http2]"``). httpx is imported when the first client is built, so
``import runio`` stays light. It is registered through ``runio_register_integrations`` like any
third-party integration (plugin name ``runio.http``; ``RUNIO_DISABLE_PLUGINS=runio.http`` turns
it off).
"""

from __future__ import annotations

import importlib.util
import json as jsonlib
import threading
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._task import Property, Task
from ..errors import IntegrationSettingError
from ..plugins._manager import hookimpl
from ..plugins.hookspecs import RegisterIntegration
from ._base import ErrorDecision, Integration, integration_task, retry_after_seconds
from ._settings import setting

if TYPE_CHECKING:
    import httpx

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


class HTTPStatusError(Exception):
    """The server answered with an error status (``status``, ``headers``, ``body``)."""

    def __init__(self, message: str, *, status: int, headers: Mapping[str, str], body: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers)
        self.body = body


def _has_h2() -> bool:
    return importlib.util.find_spec("h2") is not None


class HTTPClient:
    """JSON in and out over httpx, one request per call.

    ``await client.arequest(...)`` from async code (the task wrappers, an ``async`` function
    given to ``io.http.run_task``); ``client.request(...)`` from a synchronous task function (it
    runs in the worker's thread pool, on a blocking ``httpx.Client`` built on first use). Both
    keep their connections open for the next request.
    """

    def __init__(
        self, *, base_url: str | None, token: str | None, timeout: float, http2: bool = False
    ) -> None:
        import httpx  # here, not at import: `import runio` must not load it

        self.base_url = base_url
        self._token = token
        self.timeout = timeout
        self.http2 = http2
        self._httpx = httpx
        self._async = httpx.AsyncClient(
            timeout=timeout, http2=http2, follow_redirects=True, headers=self._defaults()
        )
        self._sync: httpx.Client | None = None
        self._sync_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HTTPClient(base_url={self.base_url!r})"

    def _defaults(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "runio-http"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _build(
        self,
        client: httpx.AsyncClient | httpx.Client,
        method: str,
        url: str,
        *,
        json: Any,
        data: str | bytes | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
    ) -> httpx.Request:
        if self.base_url and not urllib.parse.urlsplit(url).scheme:
            url = urllib.parse.urljoin(self.base_url.rstrip("/") + "/", url.lstrip("/"))
        content: bytes | None = None
        send = dict(headers or {})
        if json is not None:
            content = jsonlib.dumps(json).encode()
            if not any(k.lower() == "content-type" for k in send):
                send["Content-Type"] = "application/json"
        elif data is not None:
            content = data.encode() if isinstance(data, str) else data
        return client.build_request(
            method.upper(), url, content=content, headers=send, params=params
        )

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one request; return ``{"status", "headers", "body"}`` (a JSON body parsed), or
        raise ``HTTPStatusError`` for a 4xx/5xx answer and httpx's errors for transport ones."""
        request = self._build(
            self._async, method, url, json=json, data=data, headers=headers, params=params
        )
        return _answer(await self._async.send(request))

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``arequest``, blocking: for synchronous task functions."""
        with self._sync_lock:  # task threads share one blocking client and its connections
            if self._sync is None:
                self._sync = self._httpx.Client(
                    timeout=self.timeout,
                    http2=self.http2,
                    follow_redirects=True,
                    headers=self._defaults(),
                )
            sync = self._sync
        request = self._build(
            sync, method, url, json=json, data=data, headers=headers, params=params
        )
        return _answer(sync.send(request))

    async def aclose(self) -> None:
        """Close the connections of both clients."""
        await self._async.aclose()
        if self._sync is not None:
            self._sync.close()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The response as a task's output; an error status raises ``HTTPStatusError``."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in response.headers.raw:  # names as the server wrote them
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    text = response.content.decode(response.encoding or "utf-8", "replace")
    if response.status_code >= 400:
        request = response.request
        raise HTTPStatusError(
            f"HTTP {response.status_code} {response.reason_phrase} from {request.method} "
            f"{request.url}: {text[:500]}",
            status=response.status_code,
            headers=headers,
            body=text,
        )
    body: Any = text
    if "json" in (response.headers.get("Content-Type") or "") and text:
        try:
            body = jsonlib.loads(text)
        except ValueError:
            body = text
    return {"status": response.status_code, "headers": headers, "body": body}


class HTTP(Integration[HTTPClient]):
    """Durable HTTP requests: ``await io.http.request("notify", method="POST", url=..., json=...)``.

    Writes carry an ``Idempotency-Key`` header (the task's idempotency key), so a server that
    honours it applies a retried write once. ``429``/``503`` with ``Retry-After`` are retried at
    that time, ``408``/``425``/``429``/``5xx``, timeouts and connection errors with the backoff,
    other ``4xx`` fail at once. Configure an instance per API with ``HTTP(id=..., base_url=...,
    token=...)``; the default ``io.http`` has neither.
    """

    namespace = "http"
    name = "HTTP"
    icon = "globe"
    package = "runio"
    idempotency = "key"
    base_url: str | None = setting(
        env="RUNIO_HTTP_BASE_URL", secret=False, required=False, help="prefix of relative URLs"
    )
    token: str | None = setting(required=False, help="sent as Authorization: Bearer <token>")
    timeout: float = setting(default=30.0, secret=False, help="seconds per request")
    http2: bool | None = setting(
        secret=False,
        required=False,
        help="True: HTTP/2 (needs the h2 package); False: HTTP/1.1; default: HTTP/2 when h2 is "
        "installed",
    )

    def create_client(self) -> HTTPClient:
        http2 = self.http2
        if http2 is None:
            http2 = _has_h2()
        elif http2 and not _has_h2():
            raise IntegrationSettingError(
                f"HTTP instance {self.id!r} asks for HTTP/2, which needs the h2 package: "
                'pip install "runio[http2]" (or leave http2 unset to use it only when installed).',
                integration=self.id,
                setting="http2",
            )
        return HTTPClient(
            base_url=self.base_url, token=self.token, timeout=self.timeout, http2=bool(http2)
        )

    async def close_client(self, client: HTTPClient) -> None:
        await client.aclose()

    def classify_error(self, error: Exception, task: Task) -> ErrorDecision | None:
        if isinstance(error, HTTPStatusError):
            wait = retry_after_seconds(
                next((v for k, v in error.headers.items() if k.lower() == "retry-after"), None)
            )
            if error.status in (429, 503) and wait is not None:
                return ErrorDecision.retry_at(wait)
            if error.status in _TRANSIENT:
                return ErrorDecision.retry()
            return ErrorDecision.fail()
        names = {k.__name__ for k in type(error).__mro__}
        if "TransportError" in names:  # httpx's timeouts, refused and dropped connections
            return ErrorDecision.retry()
        return ErrorDecision.retry() if isinstance(error, OSError) else None

    @integration_task(
        name="HTTP request",
        effect="write",  # writes carry the idempotency key; reads are harmless to repeat
        properties=lambda p: [
            Property("Method", str(p.get("method", "GET")).upper()),
            Property("URL", p.get("url")),
        ],
    )
    async def request(
        self,
        client: HTTPClient,
        task: Task,
        /,
        *,
        url: str,
        method: str = "GET",
        json: Any = None,
        data: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return ``{"status", "headers", "body"}`` (a JSON body parsed).

        ``url`` may be relative to the instance's ``base_url``; ``json`` or ``data`` is the
        body; ``params`` the query string. Writes (not GET/HEAD/OPTIONS) get an
        ``Idempotency-Key`` header unless ``headers`` gives one."""
        send = dict(headers or {})
        if method.upper() not in _SAFE_METHODS and not any(
            k.lower() == "idempotency-key" for k in send
        ):
            send["Idempotency-Key"] = self.idempotency_key(task)
        return await client.arequest(method, url, json=json, data=data, headers=send, params=params)


@hookimpl
def runio_register_integrations(register: RegisterIntegration) -> None:
    register(HTTP)
