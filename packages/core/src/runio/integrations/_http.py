"""The built-in ``HTTP`` integration (``io.http``) and the built-in plugin that registers it.

Plain HTTP requests as tasks, on the standard library's ``urllib`` (no SDK, no dependency), so
every app can call a webhook or an internal API durably without installing anything. It is
registered through ``runio_register_integrations`` like any third-party integration (plugin
name ``runio.http``; ``RUNIO_DISABLE_PLUGINS=runio.http`` turns it off).
"""

from __future__ import annotations

import json as jsonlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from .._task import Property, Task
from ..plugins._manager import hookimpl
from ..plugins.hookspecs import RegisterIntegration
from ._base import ErrorDecision, Integration, integration_task, retry_after_seconds
from ._settings import setting

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


class HTTPStatusError(Exception):
    """The server answered with an error status (``status``, ``headers``, ``body``)."""

    def __init__(self, message: str, *, status: int, headers: Mapping[str, str], body: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers)
        self.body = body


class HTTPClient:
    """A minimal HTTP client on ``urllib``: one request per call, JSON in and out."""

    def __init__(self, *, base_url: str | None, token: str | None, timeout: float) -> None:
        self.base_url = base_url
        self._token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener()

    def __repr__(self) -> str:
        return f"HTTPClient(base_url={self.base_url!r})"

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
        if self.base_url and not urllib.parse.urlsplit(url).scheme:
            url = urllib.parse.urljoin(self.base_url.rstrip("/") + "/", url.lstrip("/"))
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        send = {"Accept": "application/json", "User-Agent": "runio-http"}
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            send["Content-Type"] = "application/json"
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        if self._token:
            send["Authorization"] = f"Bearer {self._token}"
        send.update(headers or {})
        request = urllib.request.Request(url, data=body, headers=send, method=method.upper())
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            text = raw.decode("utf-8", "replace")
            raise HTTPStatusError(
                f"HTTP {exc.code} {exc.reason} from {method.upper()} {url}: {text[:500]}",
                status=exc.code,
                headers=dict(exc.headers.items()),
                body=text,
            ) from None

    def close(self) -> None:
        self._opener.close()


def _answer(status: int, headers: Any, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace")
    body: Any = text
    if "json" in (headers.get("Content-Type") or "") and text:
        try:
            body = jsonlib.loads(text)
        except ValueError:
            body = text
    return {"status": status, "headers": dict(headers.items()), "body": body}


class HTTP(Integration[HTTPClient]):
    """Durable HTTP requests: ``await io.http.request("notify", method="POST", url=..., json=...)``.

    Writes carry an ``Idempotency-Key`` header (the task's idempotency key), so a server that
    honours it applies a retried write once. ``429``/``503`` with ``Retry-After`` are retried at
    that time, ``408``/``425``/``429``/``5xx`` and connection errors with the backoff, other
    ``4xx`` fail at once. Configure an instance per API with ``HTTP(id=..., base_url=...,
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

    def create_client(self) -> HTTPClient:
        return HTTPClient(base_url=self.base_url, token=self.token, timeout=self.timeout)

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
        return ErrorDecision.retry() if isinstance(error, OSError) else None

    @integration_task(
        name="HTTP request",
        effect="write",  # writes carry the idempotency key; reads are harmless to repeat
        properties=lambda p: [
            Property("Method", str(p.get("method", "GET")).upper()),
            Property("URL", p.get("url")),  # type: ignore[arg-type]
        ],
    )
    def request(
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
        return client.request(method, url, json=json, data=data, headers=send, params=params)


@hookimpl
def runio_register_integrations(register: RegisterIntegration) -> None:
    register(HTTP)
