"""``FakeVendorServer``: the base of every fake vendor API an integration package ships.

A real HTTP/1.1 server on 127.0.0.1 (standard library ``http.server``, one thread per
connection, in a background thread), so the vendor's real SDK, whatever HTTP library it uses
underneath, talks to it unchanged. It records every request, replays writes that repeat an
idempotency key (as Stripe and Resend do), and injects faults: a given status and headers for the
next N calls, the connection dropped after the write was applied (an unknown outcome), or the
write's answer held while the test kills its client.

Subclasses add routes::

    class FakeAcme(FakeVendorServer):
        @route("POST", "/v1/items")
        def create_item(self, request: FakeRequest) -> FakeResponse:
            item = {"id": self.new_id("item"), **request.json()}
            self.items[item["id"]] = item
            return FakeResponse(201, json=item)

Handlers run one at a time (under ``self.lock``), so they may change the fake's state freely.

What the base gives every fake besides routing and recording:

- **Errors in the vendor's shape.** A handler, or any helper it calls, raises
  ``FakeError(status, message, **fields)``; ``render_error`` turns it into the vendor's error
  body. Override ``render_error`` once and every error answer follows: raised ones,
  ``error_response(...)``, ``fail_next(status)``, ``not_found``, the idempotency conflict and the
  conformance suite's ``rate_limit_response``/``transient_error_response``/
  ``permanent_error_response``. A ``FakeError`` without a message asks for the vendor's usual
  text for that status.
- **Idempotency keys.** A write repeating an ``idempotency_header`` with the same
  ``idempotency_fingerprint`` (method, path and body by default) gets the first answer again
  with ``Idempotent-Replayed: true``; the same key with another request gets
  ``idempotency_conflict_response`` (409 by default).
- **Cursor paging.** ``paginate(items, limit=..., after=..., before=...)`` returns a ``Page``
  (the items, ``has_more``, ``next_cursor``) for vendors that page with an item's id or an
  opaque cursor; a cursor naming no item raises ``CursorNotFound`` (a 400).
- **Faults.** ``fail_next`` (an error instead of the call), ``drop_after_write`` (the write
  applied, the connection closed without an answer) and ``hold_after_write`` (the write applied,
  its answer held until the test calls ``Hold.release()``: a client killed mid-request).
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Self, TypeVar

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("runio.testing.fake")

H = TypeVar("H", bound=Callable[..., Any])
T = TypeVar("T")


def route(method: str, path: str) -> Callable[[H], H]:
    """Mark a ``FakeVendorServer`` method as the handler of ``method path``; ``{name}`` path
    segments are passed in ``request.path_params``."""

    def mark(fn: H) -> H:
        fn._fake_route = (method.upper(), path)  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class FakeRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    """Case-insensitive: ``request.headers["authorization"]``."""
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    outcome: str = "pending"
    """What the fake did: ``ok`` (handled), ``replayed`` (an idempotent repeat), ``fault``
    (an injected status), ``dropped`` (applied, then the connection was dropped), ``error``."""
    status: int | None = None
    """The status sent back (None when the connection was dropped)."""

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return jsonlib.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded`` (last value of each key)."""
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return default if value is None else str(value)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class FakeResponse:
    """What a handler answers: a status, and a JSON value or raw body, with headers."""

    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is not None:
            raw = self.body.encode() if isinstance(self.body, str) else self.body
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif self.json is not None:
            raw = jsonlib.dumps(self.json).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            raw = b""
        return raw, headers


class FakeError(Exception):
    """Raise it in a handler, or in any helper a handler calls, to answer with the vendor's
    error: ``raise FakeError(404, "No such item: 'item_9'", code="resource_missing")``.

    ``render_error`` shapes the answer; ``fields`` are the vendor's own parts of its error
    body (a type, a code, the parameter at fault...) and ``headers`` go out with it. Without a
    ``message`` the fake answers with the vendor's usual text for ``status``.
    """

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message or f"{status} {_reason(status)}")
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields


class CursorNotFound(FakeError):
    """``paginate``'s answer to a cursor that names no item of the list (a 400)."""

    def __init__(self, cursor: str, direction: Literal["after", "before"]) -> None:
        super().__init__(400, f"Unknown cursor {cursor!r}: it names no item of this list.")
        self.cursor = cursor
        self.direction = direction
        """Which argument held it: ``after`` or ``before``."""


@dataclass
class Page(Generic[T]):
    """One page of a list, from ``FakeVendorServer.paginate``."""

    items: list[T]
    has_more: bool
    """More items lie beyond this page, in the direction of paging."""
    next_cursor: str | None
    """The cursor that continues in the same direction (the last item's when paging forward,
    the first item's when paging back with ``before``); None when ``has_more`` is False."""


@dataclass
class Hold:
    """``FakeVendorServer.hold_after_write()``'s handle: ``applied`` is set once the held write
    has taken effect (its answer not sent yet); ``release()`` lets the answer go."""

    method: str | None
    path: str | None
    timeout: float
    applied: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    request: FakeRequest | None = None
    """The held write, once it has arrived."""

    def matches(self, request: FakeRequest) -> bool:
        return (self.method is None or request.method == self.method) and (
            self.path is None or re.fullmatch(self.path, request.path) is not None
        )

    def release(self) -> None:
        self.released.set()

    def wait_applied(self, timeout: float = 30.0) -> FakeRequest:
        """Block until the held write has been applied; return its request."""
        if not self.applied.wait(timeout):
            raise TimeoutError(f"no matching write reached the fake in {timeout:g} s")
        assert self.request is not None
        return self.request


def _item_id(item: Any) -> str:
    return str(item["id"])


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Invalid request"),
    404: ("not_found", "Not found"),
    409: ("idempotency_error", "Conflict"),
    429: ("rate_limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


@dataclass
class _Fault:
    remaining: int
    response: FakeResponse | None  # None: drop the connection after applying the write
    method: str | None
    path: str | None

    def matches(self, request: FakeRequest) -> bool:
        return (self.method is None or self.method == request.method) and (
            self.path is None or re.fullmatch(self.path, request.path) is not None
        )


_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class WebhookSent:
    """A webhook delivery a fake sent, and the HTTP status it was answered with."""

    url: str
    headers: dict[str, str]
    body: bytes
    status: int


class FakeVendorServer:
    """Base of a fake vendor API: a real local HTTP server with recording and fault injection.

    Use it as a context manager (or ``start()``/``stop()``); ``url`` is its base URL.
    """

    idempotency_header: ClassVar[str | None] = "Idempotency-Key"
    """The request header the vendor deduplicates writes on; None when it has none."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[FakeRequest] = []
        """Every request received, in order (faults and dropped ones included)."""
        self._faults: list[_Fault] = []
        # Name-mangled, as the steps of _dispatch are: a fake's own _holds cannot replace them.
        self.__holds: list[Hold] = []  # waiting for their write
        self.__held: list[Hold] = []  # every hold that caught one, to release on stop()
        self._idempotent: dict[str, tuple[str, FakeResponse]] = {}
        self._ids = count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._routes = self._collect_routes()
        self._webhook_sender: httpx.Client | None = None
        self.webhook_deliveries: list[WebhookSent] = []
        """Every webhook delivery sent with ``deliver_webhook``, with the status it got."""

    # -- webhooks ----------------------------------------------------------------------------
    def deliver_webhook(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = 30.0
    ) -> httpx.Response:
        """POST one webhook delivery to ``url`` as the vendor would, and record it (with the
        answer) in ``webhook_deliveries``. A vendor's fake builds the signed body and headers
        (e.g. ``FakeStripe.send_event(url, ...)``) and calls this. Deliveries share one pool of
        kept-alive connections, closed by ``stop()``."""
        with self.lock:
            sender = self._webhook_sender
            if sender is None:
                import httpx  # only fakes that deliver webhooks need it

                sender = self._webhook_sender = httpx.Client()
        response = sender.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout,
        )
        with self.lock:
            self.webhook_deliveries.append(
                WebhookSent(url=url, headers=dict(headers), body=body, status=response.status_code)
            )
        return response

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, once started."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started: use it as `with ...:`")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, *, port: int = 0) -> Self:
        """Listen on 127.0.0.1: on ``port``, or a free port when it is 0 (see ``url``)."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", port), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            sender, self._webhook_sender = self._webhook_sender, None
        if sender is not None:
            sender.close()
        server, self._server = self._server, None
        if server is None:
            return
        for hold in [*self.__held, *self.__holds]:  # no handler waits out its hold's timeout
            hold.release()
        server.shutdown()
        with self.lock:
            connections = list(self._connections)
        for conn in connections:  # unblock handlers waiting on keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- fault injection ---------------------------------------------------------------------
    def fail_next(
        self,
        status: int | FakeResponse = 500,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with this status (or ``FakeResponse``) and
        headers, without applying them: the vendor's usual error for that status (see
        ``render_error``), or ``json`` as the body. ``method``/``path`` (a regular expression)
        narrow which calls count; by default every call does."""
        if isinstance(status, FakeResponse):
            response = status
        else:
            response = self.render_error(FakeError(status, headers=headers))
            if json is not None:
                response.json = json
        with self.lock:
            self._faults.append(_Fault(times, response, method and method.upper(), path))

    def drop_after_write(
        self, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Apply the next ``times`` matching calls, then close the connection without an
        answer: the client sees a dropped connection although the write happened. By default
        only writes (POST, PUT, PATCH, DELETE) count."""
        with self.lock:
            self._faults.append(_Fault(times, None, method and method.upper(), path))

    def hold_after_write(
        self, *, method: str | None = None, path: str | None = None, timeout: float = 60.0
    ) -> Hold:
        """Apply the next successful write (POST, PUT, PATCH, DELETE answered below 400)
        matching ``method``/``path`` (a regular expression), then hold its answer until
        ``hold.release()`` (or ``timeout`` seconds, or ``stop()``): the client sees a request in
        flight although the vendor has already done it, and can be killed right there. The
        write counts in ``writes`` from the moment it is applied, and the fake goes on
        answering other calls while the answer is held."""
        hold = Hold(method and method.upper(), path, timeout)
        with self.lock:
            self.__holds.append(hold)
        return hold

    def clear_faults(self) -> None:
        """Forget every fault not yet used (``fail_next``, ``drop_after_write``, and holds that
        have not caught a write)."""
        with self.lock:
            self._faults.clear()
            self.__holds.clear()

    # -- what the conformance suite asks of a fake -----------------------------------------
    def rate_limit_response(self, retry_after: float, *, now: float) -> FakeResponse:
        """This vendor's "too many requests, come back in ``retry_after`` seconds" answer
        (``now`` is the test's clock, for vendors that send an absolute reset time). The
        default: ``render_error`` of a 429 with ``Retry-After``."""
        return self.render_error(FakeError(429, headers={"Retry-After": str(int(retry_after))}))

    def transient_error_response(self) -> FakeResponse:
        """This vendor's "try again" answer without a retry time (a 5xx). The default:
        ``render_error`` of a 503."""
        return self.render_error(FakeError(503))

    def permanent_error_response(self, message: str = "Invalid request") -> FakeResponse:
        """This vendor's answer to a request that will never succeed (a 4xx), with
        ``message`` in the place the vendor puts its human-readable error. The default:
        ``render_error`` of a 400."""
        return self.render_error(FakeError(400, message))

    def idempotency_key_of(self, request: FakeRequest) -> str | None:
        """The idempotency key a request carries (the ``idempotency_header``, by default)."""
        if self.idempotency_header is None:
            return None
        return request.header(self.idempotency_header)

    def idempotency_fingerprint(self, request: FakeRequest) -> str:
        """What must match for a repeated idempotency key to replay rather than conflict: the
        method, path and body as sent, by default. Override it for a vendor that compares
        less (say, the parsed parameters) or more (say, the account the key belongs to)."""
        return f"{request.method} {request.path} {request.body!r}"

    def idempotency_conflict_response(self, key: str) -> FakeResponse:
        """The answer to a repeated idempotency key with a different request (a 409 through
        ``render_error``, by default)."""
        return self.render_error(
            FakeError(
                409,
                "Keys for idempotent requests can only be used with the same parameters they "
                "were first used with.",
            )
        )

    @property
    def writes(self) -> list[FakeRequest]:
        """Write requests whose effect was applied: handled with a status below 400, or dropped
        after the write. Idempotent replays, injected faults and errors are not writes."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method in _WRITE_METHODS
                and (r.outcome == "dropped" or (r.outcome == "ok" and (r.status or 0) < 400))
            ]

    # -- helpers for handlers ----------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        """A fresh id such as ``item_000001``."""
        return f"{prefix}_{next(self._ids):06d}"

    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        """Return an error response (or raise ``FakeError``) when the request is not
        authorised; None lets it through. The default lets everything through."""
        return None

    def not_found(self, request: FakeRequest) -> FakeResponse:
        """The answer to a request no route handles (a 404 through ``render_error``)."""
        return self.render_error(
            FakeError(404, f"No route {request.method} {request.path} in {type(self).__name__}")
        )

    # -- errors ------------------------------------------------------------------------------
    def render_error(self, error: FakeError) -> FakeResponse:
        """The vendor's error answer for ``error``: the one place a fake shapes its vendor's
        errors (see the module doc for who calls it). ``error.message`` None asks for the
        vendor's usual text for ``error.status``.

        The default answers ``{"error": {"type": ..., **fields, "message": ...}}`` with the
        error's headers, leaving out fields that are None; a vendor with another shape
        overrides it."""
        default_type, default_message = _DEFAULT_ERRORS.get(
            error.status, (None, _reason(error.status))
        )
        body: dict[str, Any] = {"type": default_type} if default_type else {}
        body.update({k: v for k, v in error.fields.items() if v is not None})
        body["message"] = default_message if error.message is None else error.message
        return FakeResponse(error.status, json={"error": body}, headers=dict(error.headers))

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> FakeResponse:
        """``render_error(FakeError(status, message, headers=headers, **fields))``: a vendor
        error to return from a handler or to pass to ``fail_next``."""
        return self.render_error(FakeError(status, message, headers=headers, **fields))

    # -- paging ------------------------------------------------------------------------------
    def paginate(
        self,
        items: Sequence[T],
        *,
        limit: int,
        after: str | None = None,
        before: str | None = None,
        cursor_of: Callable[[T], str] | None = None,
    ) -> Page[T]:
        """One page of ``items`` (already filtered, in the list's order): the first ``limit``,
        or the ``limit`` right after the item whose cursor is ``after``, or the ``limit`` right
        before the one whose cursor is ``before`` (``after`` wins when both are given).
        ``cursor_of`` gives an item's cursor (by default its ``"id"``; a vendor with opaque
        cursors decodes them before and encodes ``next_cursor`` after). A cursor that names no
        item raises ``CursorNotFound``; a ``limit`` below 1, a 400 ``FakeError``."""
        if limit < 1:
            raise FakeError(400, f"limit must be at least 1, not {limit}.", param="limit")
        cursor = cursor_of or _item_id
        cursors = [cursor(item) for item in items]
        if after is not None:
            if after not in cursors:
                raise CursorNotFound(after, "after")
            rest = list(items[cursors.index(after) + 1 :])
            page, has_more = rest[:limit], len(rest) > limit
            edge = page[-1] if page else None
        elif before is not None:
            if before not in cursors:
                raise CursorNotFound(before, "before")
            rest = list(items[: cursors.index(before)])
            page, has_more = rest[-limit:], len(rest) > limit
            edge = page[0] if page else None
        else:
            page, has_more = list(items[:limit]), len(items) > limit
            edge = page[-1] if page else None
        return Page(page, has_more, cursor(edge) if has_more and edge is not None else None)

    # -- dispatch ----------------------------------------------------------------------------
    def _collect_routes(self) -> list[tuple[str, re.Pattern[str], Callable[[FakeRequest], Any]]]:
        routes: list[tuple[str, re.Pattern[str], Callable[[FakeRequest], Any]]] = []
        for klass in type(self).__mro__:
            for attr, fn in vars(klass).items():
                marked = getattr(fn, "_fake_route", None)
                if marked is None or any(r[2].__name__ == attr for r in routes):
                    continue
                method, path = marked
                pattern = re.compile(
                    "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
                )
                routes.append((method, pattern, getattr(self, attr)))
        return routes

    def _dispatch(self, request: FakeRequest) -> FakeResponse | None:
        """The response to send, or None to drop the connection."""
        with self.lock:
            response = self.__answer(request)
            hold = self.__hold_for(request)
        if hold is not None:  # outside the lock: the fake keeps answering other calls
            hold.applied.set()
            hold.released.wait(hold.timeout)
        return response

    def __answer(self, request: FakeRequest) -> FakeResponse | None:
        """What the fake does with a request (the caller holds the lock)."""
        self.requests.append(request)
        fault = next((f for f in self._faults if f.remaining > 0 and f.matches(request)), None)
        drop = False
        if fault is not None and (
            fault.response is not None or fault.method or request.method in _WRITE_METHODS
        ):
            fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining > 0]
            if fault.response is not None:
                request.outcome, request.status = "fault", fault.response.status
                return fault.response
            drop = True
        try:
            denied = self.check_auth(request)
        except FakeError as error:
            denied = self.render_error(error)
        if denied is not None:
            request.outcome, request.status = "ok", denied.status
            return denied
        key = self.idempotency_key_of(request) if request.method in _WRITE_METHODS else None
        fingerprint = self.idempotency_fingerprint(request) if key is not None else ""
        if key is not None and key in self._idempotent:
            seen, stored = self._idempotent[key]
            if seen != fingerprint:
                conflict = self.idempotency_conflict_response(key)
                request.outcome, request.status = "ok", conflict.status
                return conflict
            request.outcome, request.status = "replayed", stored.status
            replay = FakeResponse(
                stored.status,
                json=stored.json,
                body=stored.body,
                headers={**stored.headers, "Idempotent-Replayed": "true"},
            )
            return None if drop else replay
        response = self._handle(request)
        if key is not None and response.status < 500:
            self._idempotent[key] = (fingerprint, response)
        if drop:
            request.outcome, request.status = "dropped", None
        else:
            request.outcome = "ok" if request.outcome == "pending" else request.outcome
            request.status = response.status
        return None if drop else response

    def __hold_for(self, request: FakeRequest) -> Hold | None:
        """The hold that catches this request: a write that was handled successfully."""
        applied = request.outcome == "ok" and (request.status or 500) < 400
        if request.method not in _WRITE_METHODS or not applied:
            return None
        hold = next((h for h in self.__holds if h.matches(request)), None)
        if hold is not None:
            self.__holds.remove(hold)
            self.__held.append(hold)
            hold.request = request
        return hold

    def _handle(self, request: FakeRequest) -> FakeResponse:
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path)
            if found and method == request.method:
                request.path_params = found.groupdict()
                try:
                    result = handler(request)
                except FakeError as error:
                    return self.render_error(error)
                except Exception as exc:
                    log.exception(
                        "%s handler for %s %s raised", type(self).__name__, method, request.path
                    )
                    request.outcome = "error"
                    return FakeResponse(
                        500, json={"error": {"type": "fake_error", "message": repr(exc)}}
                    )
                if isinstance(result, FakeResponse):
                    return result
                if result is None:
                    return FakeResponse(204)
                return FakeResponse(200, json=result)
        return self.not_found(request)

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self.lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler_for(fake: FakeVendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate sends: without TCP_NODELAY the body waits
            # for the client's delayed ACK (~40 ms an answer).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            fake._track(self.connection, True)

        def finish(self) -> None:
            with contextlib.suppress(OSError):
                super().finish()
            fake._track(self.connection, False)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s: " + format, type(fake).__name__, *args)

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            request = FakeRequest(
                method=self.command,
                path=parts.path,
                query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                headers=self.headers,
                body=self._read_body(),
            )
            response = fake._dispatch(request)
            if response is None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            raw, headers = response.encode()
            self.send_response(response.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    return Handler


@contextlib.contextmanager
def serving(fake: FakeVendorServer) -> Iterator[FakeVendorServer]:
    """``with serving(FakeAcme()) as server:`` — start, yield, stop."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
