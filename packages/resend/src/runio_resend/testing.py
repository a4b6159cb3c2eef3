"""``FakeResend``: the Resend API as a local HTTP server, for this package's tests and for the
tests of apps that use it.

A real HTTP server on 127.0.0.1 (runio's ``FakeVendorServer``), so the official ``resend`` SDK
talks to it unchanged: ``Resend(api_key="re_test_...", base_url=server.url)``. It implements the
endpoints behind runio-resend's wrappers, shaped like Resend's API description: emails (send,
retrieve, update and cancel a scheduled email), batch sending, audiences (``/audiences``, and
``/segments``, the name Resend now gives them; one store), contacts (global, by audience and by
segment; addressed by id or email), and the domain list. Its conventions are Resend's:

- bearer auth (a missing key is a 401 ``missing_api_key``, a wrong one a 403
  ``invalid_api_key``);
- errors as ``{"statusCode": ..., "name": ..., "message": ...}`` (422 ``validation_error`` or
  ``missing_required_field`` for bad parameters, 404 ``not_found``...);
- the ``Idempotency-Key`` header on ``POST /emails`` and ``POST /emails/batch``: 1 to 256
  characters (else 400 ``invalid_idempotency_key``), remembered for 24 hours; the same key with
  the same body replays the first answer, with another body it is a 409
  ``invalid_idempotent_request``, and while the first request is still being processed a 409
  ``concurrent_idempotent_requests``;
- a GET or DELETE body is ignored (the SDK sends ``{}`` with every request).

Faults: ``fail_next`` (from the base, with Resend's error bodies: ``fail_next(500)``,
``fail_next(rate_limit_response(...))``), ``drop_after_write`` (the write is applied, the
connection dropped), ``hold_after_write`` (from the base: the write is applied and its answer
held while other requests are answered; one with the held send's idempotency key gets 409
``concurrent_idempotent_requests``), and sending quotas (``daily_quota`` /
``monthly_quota``: past them, ``POST /emails`` answers 429 ``daily_quota_exceeded`` /
``monthly_quota_exceeded``). It is a fake: nothing is delivered; a sent email's ``last_event``
is ``sent`` (``scheduled`` when it has a ``scheduled_at``).

Webhooks, as Resend sends them through Svix: ``/webhooks`` (create, list, retrieve, update,
remove; each with its ``whsec_...`` signing secret) and signed deliveries: ``send_event(url,
type, data, secret=...)`` posts one event with ``svix-id``, ``svix-timestamp`` and
``svix-signature`` headers (``timestamp=``, ``secret=`` and ``headers=`` make stale, wrongly
signed or unsigned variants), ``redeliver(msg_id)`` is Svix's retry (same id, fresh timestamp
and signature) and ``retry_failed()`` retries every delivery whose last attempt was not
answered 2xx. The fake's own changes notify the enabled webhooks subscribed to them, from a
background thread, as Resend does after answering: an accepted email sends ``email.sent``
(``email.scheduled`` when scheduled), then ``email.delivered`` when the fake was made with
``deliver_emails=True``; ``email_event(email_id, "email.bounced")`` and the like play the rest
of an email's life; contacts created, updated and removed through the API send
``contact.created``, ``contact.updated`` and ``contact.deleted``. ``wait_for_webhooks()``
returns once everything queued was sent. This module does not touch runio-resend's
integration.
"""

from __future__ import annotations

import base64
import collections
import copy
import datetime as dt
import functools
import json
import random
import re
import string
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, get_args

import httpx
import resend
from standardwebhooks.webhooks import Webhook

from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, WebhookSent, route

__all__ = ["FakeResend"]

_DAY = 86_400.0
IDEMPOTENCY_WINDOW = _DAY
"""How long Resend remembers an idempotency key: 24 hours."""
_BATCH_LIMIT = 100
_RECIPIENT_LIMIT = 50
_ADDRESS = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")
_NAMED_ADDRESS = re.compile(r"[^<>]*<\s*([^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)\s*>")
_IDEMPOTENT_PATHS = frozenset({"/emails", "/emails/batch"})

_MESSAGES = {
    "missing_api_key": "Missing API key in the authorization header.",
    "invalid_api_key": "API key is invalid",
    "rate_limit_exceeded": (
        "Too many requests. You can only make 2 requests per second. See rate limit response "
        "headers for more information. Or contact support to increase rate limit."
    ),
    "daily_quota_exceeded": "You have reached your daily email sending quota.",
    "monthly_quota_exceeded": "You have reached your monthly email sending quota.",
    "invalid_idempotent_request": (
        "Same idempotency key used with a different request payload. Change your idempotency "
        "key or payload."
    ),
    "concurrent_idempotent_requests": (
        "Same idempotency key used while original request is still in progress. Try the "
        "request again later."
    ),
    "invalid_idempotency_key": "The key must be between 1-256 chars.",
    "internal_server_error": "An unexpected error occurred.",
    "application_error": "An unexpected error occurred, please try again later.",
}
_DEFAULT_NAMES = {
    400: "validation_error",
    401: "missing_api_key",
    403: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    409: "invalid_idempotent_request",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "internal_server_error",
}


class _Problem(Exception):
    """A Resend error answer, raised inside a handler."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def _missing(field_name: str) -> _Problem:
    return _Problem(422, "missing_required_field", f"Missing `{field_name}` field.")


def _invalid(message: str) -> _Problem:
    return _Problem(422, "validation_error", message)


def _not_found(kind: str) -> _Problem:
    return _Problem(404, "not_found", f"{kind} not found")


def address_of(value: str) -> str | None:
    """The bare address in ``"ada@example.com"`` or ``"Ada <ada@example.com>"``; None when it
    is neither."""
    text = value.strip()
    if _ADDRESS.fullmatch(text):
        return text
    named = _NAMED_ADDRESS.fullmatch(text)
    return named.group(1) if named else None


def _addresses(
    params: Mapping[str, Any], key: str, *, required: bool = False, limit: int | None = None
) -> list[str] | None:
    value = params.get(key)
    if value is None or value == "" or value == []:
        if required:
            raise _missing(key)
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _invalid(f"Invalid `{key}` field. It must be a string or an array of strings.")
    for item in items:
        if address_of(item) is None:
            raise _invalid(
                f"Invalid `{key}` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format."
            )
    if limit is not None and len(items) > limit:
        raise _invalid(f"Invalid `{key}` field. You can send to up to {limit} recipients.")
    return list(items)


def _string(params: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise _missing(key)
        return None
    if not isinstance(value, str):
        raise _invalid(f"Invalid `{key}` field. It must be a string.")
    if required and not value.strip():
        raise _missing(key)
    return value


def _parse_time(value: str, key: str) -> float:
    """An ISO 8601 date-time as epoch seconds (a time without an offset is UTC)."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(
            f"Invalid `{key}` field. The date must be in ISO 8601 format "
            "(e.g. 2024-08-05T11:52:01.858Z)."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _query(request: FakeRequest, name: str) -> str | None:
    values = request.query.get(name)
    return values[-1] if values else None


def _timestamp(seconds: float) -> str:
    """Resend's time format: ``2023-04-03 22:13:42.674981+00``."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _iso(seconds: float) -> str:
    """The time format of webhook events: ``2023-10-06T23:47:56.678Z``."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_of(text: Any) -> Any:
    """A time in Resend's API format as webhook events write it (other values unchanged)."""
    try:
        moment = dt.datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S.%f+00")
    except ValueError:
        return text
    return _iso(moment.replace(tzinfo=dt.UTC).timestamp())


WEBHOOK_EVENTS: tuple[str, ...] = tuple(get_args(resend.WebhookEvent))
"""The event types a webhook can subscribe to (as the resend SDK lists them)."""

_LAST_EVENT = {
    "email.sent": "sent",
    "email.scheduled": "scheduled",
    "email.delivered": "delivered",
    "email.delivery_delayed": "delivery_delayed",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "email.failed": "failed",
    "email.suppressed": "suppressed",
}


def sign_delivery(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Svix's ``svix-signature`` for a delivery: ``v1,<base64 HMAC-SHA256>`` of
    ``"{msg_id}.{timestamp}.{body}"`` with the key ``secret`` (``whsec_<base64>``) encodes."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return Webhook(secret).sign(msg_id, moment, body.decode("utf-8"))


@dataclass
class _Message:
    """One event sent to one endpoint: what a Svix retry sends again."""

    url: str
    body: bytes
    secret: str
    attempts: int = 0
    last_status: int | None = None
    """The answer to the last attempt (None: no answer)."""


# -- the server -----------------------------------------------------------------------------------

H = TypeVar("H", bound=Callable[..., Any])


def _endpoint(method: str, path: str) -> Callable[[H], H]:
    """A route whose handler may raise ``_Problem`` to answer with a Resend error, and whose
    request body (JSON) is checked first."""

    def mark(fn: H) -> H:
        @functools.wraps(fn)
        def handler(self: FakeResend, request: FakeRequest) -> FakeResponse:
            try:
                return fn(self, request)  # type: ignore[no-any-return]
            except _Problem as problem:
                return self.error_response(problem.status, problem.message, name=problem.name)

        return route(method, path)(handler)  # type: ignore[return-value]

    return mark


class FakeResend(FakeVendorServer):
    """The Resend API (the parts runio-resend wraps) as a local server; see the module doc.

    ``FakeResend()`` accepts any key that starts with ``re_``; ``FakeResend(api_key=...)``
    accepts only that key (or those keys, given a list). ``clock`` gives the time (the idempotency
    window, quotas, ``created_at``). What it holds: ``emails``, ``audiences`` (also Resend's
    segments), ``contacts`` and ``domains`` (dicts by id; ``add_domain`` seeds one).
    ``daily_quota``/``monthly_quota`` cap the emails accepted per UTC day / calendar month.
    """

    idempotency_header: ClassVar[str | None] = "Idempotency-Key"

    def __init__(
        self,
        api_key: str | Iterable[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        daily_quota: int | None = None,
        monthly_quota: int | None = None,
        deliver_emails: bool = False,
    ) -> None:
        super().__init__()
        self.api_keys: frozenset[str] | None = (
            None
            if api_key is None
            else frozenset([api_key] if isinstance(api_key, str) else api_key)
        )
        self.clock = clock
        self.daily_quota = daily_quota
        self.monthly_quota = monthly_quota
        self._random = random.Random(seed)
        self.emails: dict[str, dict[str, Any]] = {}
        self.audiences: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.domains: dict[str, dict[str, Any]] = {}
        self._contact_audiences: dict[str, set[str]] = {}  # contact id -> audience ids
        self._sent_at: list[float] = []  # one entry per email accepted, for the quotas
        self._first_used: dict[str, float] = {}  # idempotency key -> when first accepted
        self._in_flight: set[str] = set()
        self.deliver_emails = deliver_emails
        self.webhooks: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, _Message] = {}  # svix-id -> what was sent
        self._outbox: collections.deque[str] = collections.deque()  # svix-ids to send
        self._outbox_busy = 0  # deliveries taken from the outbox and not finished
        self._outbox_changed = threading.Condition(self.lock)
        self._sender: threading.Thread | None = None
        self._stopping = False

    # -- ids, time, answers --------------------------------------------------------------------
    def uuid(self) -> str:
        """A Resend id (a UUID), from the fake's seeded random source."""
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def now(self) -> float:
        return self.clock()

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> FakeResponse:
        """Resend's error answer: ``{"statusCode", "name", "message"}``; ``name`` and
        ``message`` default to what Resend sends for ``status`` (and for that name), e.g.
        ``error_response(429, name="daily_quota_exceeded")``; for ``fail_next`` too. Other
        ``fields`` are added to the body."""
        name = name or _DEFAULT_NAMES.get(status, "application_error")
        body: dict[str, Any] = {
            "statusCode": status,
            "name": name,
            "message": message or _MESSAGES.get(name, "An unexpected error occurred."),
        }
        body.update({k: v for k, v in fields.items() if v is not None})
        return FakeResponse(status, json=body, headers=dict(headers or {}))

    def render_error(self, error: Any) -> FakeResponse:
        """Resend's shape for an error raised or rendered by runio's fake-server base (its
        ``status``, ``message``, ``headers`` and ``fields``; a ``name`` or ``code`` field is
        Resend's error name)."""
        fields = dict(getattr(error, "fields", None) or {})
        name = fields.pop("name", None) or fields.pop("code", None)
        return self.error_response(
            int(error.status),
            getattr(error, "message", None),
            name=name,
            headers=getattr(error, "headers", None),
        )

    # -- fault injection -----------------------------------------------------------------------
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
        """Answer the next ``times`` matching calls with ``status`` (Resend's error body for it,
        unless ``json`` gives one) and ``headers``, without applying them. ``method``/``path``
        (a regular expression) pick the calls; by default every call counts."""
        if isinstance(status, int):
            response = self.error_response(status, headers=headers)
            if json is not None:
                response.json = json
            status = response
        super().fail_next(status, times=times, method=method, path=path)

    def rate_limit_response(self, retry_after: float, *, now: float) -> FakeResponse:
        return self.error_response(
            429,
            name="rate_limit_exceeded",
            headers={
                "retry-after": str(int(retry_after)),
                "ratelimit-limit": "2",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(int(retry_after)),
            },
        )

    def quota_response(
        self, which: str = "daily", *, retry_after: float | None = None
    ) -> FakeResponse:
        """Resend's answer once the daily (``which="daily"``) or monthly sending quota is used
        up; ``retry_after`` adds a ``retry-after`` header (seconds until the quota resets)."""
        headers = {} if retry_after is None else {"retry-after": str(int(retry_after))}
        return self.error_response(429, name=f"{which}_quota_exceeded", headers=headers)

    def transient_error_response(self) -> FakeResponse:
        return self.error_response(500, name="internal_server_error")

    def permanent_error_response(self, message: str = "Invalid request") -> FakeResponse:
        return self.error_response(422, message, name="validation_error")

    def idempotency_conflict_response(self, key: str) -> FakeResponse:
        return self.error_response(409, name="invalid_idempotent_request")

    def idempotency_key_of(self, request: FakeRequest) -> str | None:
        """Resend honours the key on ``POST /emails`` and ``POST /emails/batch`` only."""
        if request.method != "POST" or request.path not in _IDEMPOTENT_PATHS:
            return None
        return super().idempotency_key_of(request)

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return self.error_response(
            404,
            f"The requested endpoint does not exist ({request.method} {request.path}): "
            "FakeResend implements only part of the Resend API, see runio_resend.testing.",
            name="not_found",
        )

    # -- auth ----------------------------------------------------------------------------------
    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        header = request.header("Authorization") or ""
        key = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        if not key or key == "None":  # the SDK sends "Bearer None" when no key is set
            return self.error_response(401, name="missing_api_key")
        if self.api_keys is not None:
            accepted = key in self.api_keys
        else:
            accepted = key.startswith("re_") and len(key) > len("re_")
        if not accepted:
            return self.error_response(403, name="invalid_api_key")
        return None

    # -- idempotency: Resend's window and in-flight rule, around the base's replay ------------
    def _dispatch(self, request: FakeRequest) -> FakeResponse | None:
        """The base replays a repeated key (and refuses it with another body); Resend adds a
        24-hour window, a length rule, a 409 while the first request is still in progress, and
        the quotas, which are checked before anything is applied."""
        key = self.idempotency_key_of(request)
        with self.lock:
            early = self._before_dispatch(request, key)
            if early is not None:
                self.requests.append(request)
                request.outcome, request.status = "ok", early.status
                return early
            known = key is not None and key in self._first_used
            if key is not None:
                self._in_flight.add(key)
        try:
            response = super()._dispatch(request)
        finally:
            if key is not None:
                with self.lock:
                    self._in_flight.discard(key)
        if key is not None and not known:
            with self.lock:
                if request.outcome == "dropped" or (
                    request.outcome == "ok" and (request.status or 500) < 300
                ):
                    self._first_used.setdefault(key, self.now())
                else:  # a refused or failed request does not use the key up
                    self._forget(key)
        return response

    def _before_dispatch(self, request: FakeRequest, key: str | None) -> FakeResponse | None:
        if self.check_auth(request) is not None:
            return None  # the base answers that (after any injected fault)
        if key is None:
            if request.method == "POST" and request.path in _IDEMPOTENT_PATHS:
                return self._quota_exceeded(request)
            return None
        if not 1 <= len(key) <= 256:
            return self.error_response(400, name="invalid_idempotency_key")
        first = self._first_used.get(key)
        if first is not None and self.now() - first >= IDEMPOTENCY_WINDOW:
            self._forget(key)
        if key in self._in_flight:
            return self.error_response(409, name="concurrent_idempotent_requests")
        if key in self._first_used:
            return None  # the base replays it (or refuses another body)
        return self._quota_exceeded(request)

    def _forget(self, key: str) -> None:
        self._first_used.pop(key, None)
        self._idempotent.pop(key, None)

    def _quota_exceeded(self, request: FakeRequest) -> FakeResponse | None:
        if self.daily_quota is None and self.monthly_quota is None:
            return None
        body = self._body(request)
        count = len(body) if isinstance(body, list) else 1
        now = dt.datetime.fromtimestamp(self.now(), dt.UTC)
        day = [
            t for t in self._sent_at if dt.datetime.fromtimestamp(t, dt.UTC).date() == now.date()
        ]
        month = [
            t
            for t in self._sent_at
            if (d := dt.datetime.fromtimestamp(t, dt.UTC)).year == now.year and d.month == now.month
        ]
        if self.daily_quota is not None and len(day) + count > self.daily_quota:
            return self.quota_response("daily")
        if self.monthly_quota is not None and len(month) + count > self.monthly_quota:
            return self.quota_response("monthly")
        return None

    # -- requests ------------------------------------------------------------------------------
    @staticmethod
    def _body(request: FakeRequest) -> Any:
        if not request.body.strip():
            return None
        try:
            return request.json()
        except ValueError:
            raise _Problem(400, "validation_error", "Invalid JSON in the request body.") from None

    def _params(self, request: FakeRequest) -> dict[str, Any]:
        body = self._body(request)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object.")
        return body

    def _query_int(self, request: FakeRequest, name: str) -> int | None:
        values = request.query.get(name)
        if not values:
            return None
        try:
            return int(values[-1])
        except ValueError:
            raise _invalid(f"Invalid `{name}` parameter. It must be a number.") from None

    def _page(self, request: FakeRequest, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Resend's cursor pages: ``limit`` (1-100; without it, everything), ``after`` /
        ``before`` an id. ``items`` come newest first."""
        limit = self._query_int(request, "limit")
        if limit is not None and not 1 <= limit <= 100:
            raise _invalid("The `limit` parameter must be between 1 and 100.")
        after, before = _query(request, "after"), _query(request, "before")
        if after and before:
            raise _invalid("You can only use one of `after` or `before`.")
        ids = [item["id"] for item in items]
        if after:
            if after not in ids:
                raise _invalid(f"Invalid `after` parameter: no item with id {after}.")
            items = items[ids.index(after) + 1 :]
        if before:
            if before not in ids:
                raise _invalid(f"Invalid `before` parameter: no item with id {before}.")
            items = items[: ids.index(before)]
            if limit is not None:
                items = items[-limit:]
        has_more = limit is not None and len(items) > limit
        page = items[:limit] if limit is not None else items
        return {"object": "list", "has_more": has_more, "data": copy.deepcopy(page)}

    def reply(self, obj: Any, status: int = 200) -> FakeResponse:
        """A JSON answer (a copy of ``obj``)."""
        return FakeResponse(status, json=copy.deepcopy(obj))

    # -- emails --------------------------------------------------------------------------------
    def _email(self, params: Mapping[str, Any], *, batch: bool) -> dict[str, Any]:
        """A validated email object from send parameters (not stored yet)."""
        sender = _string(params, "from", required=True)
        assert sender is not None
        if address_of(sender) is None:
            raise _invalid(
                "Invalid `from` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format."
            )
        to = _addresses(params, "to", required=True, limit=_RECIPIENT_LIMIT)
        subject = _string(params, "subject", required=True)
        html, text = _string(params, "html"), _string(params, "text")
        template = params.get("template")
        if template is not None and (not isinstance(template, dict) or not template.get("id")):
            raise _invalid("Invalid `template` field. It must be an object with an `id`.")
        if template is not None and (html is not None or text is not None):
            raise _invalid("Use either `template` or `html`/`text`, not both.")
        scheduled_at = _string(params, "scheduled_at")
        if batch and scheduled_at is not None:
            raise _invalid("The `scheduled_at` field is not supported in batch emails.")
        if batch and params.get("attachments"):
            raise _invalid("The `attachments` field is not supported in batch emails.")
        if scheduled_at is not None and _parse_time(scheduled_at, "scheduled_at") <= self.now():
            raise _invalid("Invalid `scheduled_at` field. The date must be in the future.")
        tags = params.get("tags")
        if tags is not None:
            if not isinstance(tags, list):
                raise _invalid("Invalid `tags` field. It must be an array of {name, value}.")
            for tag in tags:
                if not isinstance(tag, dict) or not all(
                    isinstance(tag.get(k), str) and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", tag[k])
                    for k in ("name", "value")
                ):
                    raise _invalid(
                        "Invalid `tags` field. Tag names and values can only contain ASCII "
                        "letters, numbers, underscores or dashes, up to 256 characters."
                    )
        return {
            "object": "email",
            "id": self.uuid(),
            "to": to,
            "from": sender,
            "created_at": _timestamp(self.now()),
            "subject": subject,
            "html": html,
            "text": text,
            "bcc": _addresses(params, "bcc"),
            "cc": _addresses(params, "cc"),
            "reply_to": _addresses(params, "reply_to"),
            "last_event": "scheduled" if scheduled_at else "sent",
            "scheduled_at": scheduled_at,
            "tags": tags,
            "headers": params.get("headers"),
            "attachments": params.get("attachments"),
            "template": template,
        }

    def _accept(self, email: dict[str, Any]) -> None:
        self.emails[email["id"]] = email
        self._sent_at.append(self.now())
        if email["last_event"] == "scheduled":
            self._notify("email.scheduled", self._email_data(email))
            return
        self._notify("email.sent", self._email_data(email))
        if self.deliver_emails:
            email["last_event"] = "delivered"
            self._notify("email.delivered", self._email_data(email))

    @_endpoint("POST", "/emails")
    def send_email(self, request: FakeRequest) -> FakeResponse:
        email = self._email(self._params(request), batch=False)
        self._accept(email)
        return self.reply({"id": email["id"]})

    @_endpoint("POST", "/emails/batch")
    def send_batch(self, request: FakeRequest) -> FakeResponse:
        body = self._body(request)
        if not isinstance(body, list) or not body:
            raise _invalid("The request body must be a non-empty array of emails.")
        if len(body) > _BATCH_LIMIT:
            raise _invalid(f"You can send up to {_BATCH_LIMIT} emails in a batch.")
        mode = (request.header("x-batch-validation") or "strict").lower()
        if mode not in ("strict", "permissive"):
            raise _invalid("Invalid `x-batch-validation` header: use strict or permissive.")
        emails: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, params in enumerate(body):
            try:
                if not isinstance(params, dict):
                    raise _invalid("Each email of a batch must be an object.")
                emails.append(self._email(params, batch=True))
            except _Problem as problem:
                if mode == "strict":
                    raise _Problem(
                        problem.status, problem.name, f"emails[{index}]: {problem.message}"
                    ) from None
                errors.append({"index": index, "message": problem.message})
        for email in emails:
            self._accept(email)
        answer: dict[str, Any] = {"data": [{"id": e["id"]} for e in emails]}
        if mode == "permissive":
            answer["errors"] = errors
        return self.reply(answer)

    def _find_email(self, request: FakeRequest) -> dict[str, Any]:
        email = self.emails.get(request.path_params["email_id"])
        if email is None:
            raise _not_found("Email")
        return email

    @_endpoint("GET", "/emails/{email_id}")
    def get_email(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._find_email(request))

    @_endpoint("PATCH", "/emails/{email_id}")
    def update_email(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request)
        email = self._find_email(request)
        scheduled_at = _string(params, "scheduled_at", required=True)
        assert scheduled_at is not None
        if email["last_event"] != "scheduled":
            raise _invalid(
                f"Only scheduled emails can be updated; this one is {email['last_event']}."
            )
        if _parse_time(scheduled_at, "scheduled_at") <= self.now():
            raise _invalid("Invalid `scheduled_at` field. The date must be in the future.")
        email["scheduled_at"] = scheduled_at
        return self.reply({"object": "email", "id": email["id"]})

    @_endpoint("POST", "/emails/{email_id}/cancel")
    def cancel_email(self, request: FakeRequest) -> FakeResponse:
        email = self._find_email(request)
        if email["last_event"] != "scheduled":
            raise _invalid(
                f"Only scheduled emails can be canceled; this one is {email['last_event']}."
            )
        email["last_event"] = "canceled"
        return self.reply({"object": "email", "id": email["id"]})

    # -- audiences (segments) ------------------------------------------------------------------
    def _audience_object(self, request: FakeRequest) -> str:
        return "segment" if request.path.startswith("/segments") else "audience"

    def _find_audience(self, audience_id: str, request: FakeRequest) -> dict[str, Any]:
        audience = self.audiences.get(audience_id)
        if audience is None:
            raise _not_found(self._audience_object(request).capitalize())
        return audience

    @_endpoint("POST", "/audiences")
    def create_audience(self, request: FakeRequest) -> FakeResponse:
        name = _string(self._params(request), "name", required=True)
        kind = self._audience_object(request)
        audience_id = self.uuid()
        audience = {"id": audience_id, "name": name, "created_at": _timestamp(self.now())}
        self.audiences[audience_id] = audience
        return self.reply({"object": kind, "id": audience["id"], "name": name}, 201)

    create_segment = _endpoint("POST", "/segments")(create_audience.__wrapped__)  # type: ignore[attr-defined]

    @_endpoint("GET", "/audiences")
    def list_audiences(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._page(request, list(reversed(self.audiences.values()))))

    list_segments = _endpoint("GET", "/segments")(list_audiences.__wrapped__)  # type: ignore[attr-defined]

    @_endpoint("GET", "/audiences/{id}")
    def get_audience(self, request: FakeRequest) -> FakeResponse:
        audience = self._find_audience(request.path_params["id"], request)
        return self.reply({"object": self._audience_object(request), **audience})

    get_segment = _endpoint("GET", "/segments/{id}")(get_audience.__wrapped__)  # type: ignore[attr-defined]

    @_endpoint("DELETE", "/audiences/{id}")
    def remove_audience(self, request: FakeRequest) -> FakeResponse:
        audience = self._find_audience(request.path_params["id"], request)
        del self.audiences[audience["id"]]
        for audiences in self._contact_audiences.values():
            audiences.discard(audience["id"])
        return self.reply(
            {"object": self._audience_object(request), "id": audience["id"], "deleted": True}
        )

    remove_segment = _endpoint("DELETE", "/segments/{id}")(remove_audience.__wrapped__)  # type: ignore[attr-defined]

    # -- contacts ------------------------------------------------------------------------------
    def _find_contact(self, request: FakeRequest) -> dict[str, Any]:
        audience_id = request.path_params.get("audience_id")
        if audience_id is not None:
            self._find_audience(audience_id, request)
        identifier = urllib.parse.unquote(request.path_params["id"])
        for contact in self.contacts.values():
            if identifier in (contact["id"], contact["email"]) and (
                audience_id is None or audience_id in self._contact_audiences[contact["id"]]
            ):
                return contact
        raise _not_found("Contact")

    def _contact_fields(self, params: Mapping[str, Any], contact: dict[str, Any]) -> None:
        for key in ("first_name", "last_name"):
            if key in params:
                contact[key] = _string(params, key)
        if "unsubscribed" in params:
            if not isinstance(params["unsubscribed"], bool):
                raise _invalid("Invalid `unsubscribed` field. It must be a boolean.")
            contact["unsubscribed"] = params["unsubscribed"]
        if "properties" in params:
            if not isinstance(params["properties"], dict):
                raise _invalid("Invalid `properties` field. It must be an object.")
            contact["properties"] = {**contact.get("properties", {}), **params["properties"]}

    def _create_contact(self, request: FakeRequest, audience_id: str | None) -> FakeResponse:
        params = self._params(request)
        email = _string(params, "email", required=True)
        assert email is not None
        if address_of(email) != email:
            raise _invalid("Invalid `email` field. It must be an email address.")
        audiences = {audience_id} if audience_id else set()
        segments = params.get("segments") or []
        if not isinstance(segments, list):
            raise _invalid("Invalid `segments` field. It must be an array of segment ids.")
        for segment in segments:
            segment_id = segment.get("id") if isinstance(segment, dict) else segment
            if not isinstance(segment_id, str) or segment_id not in self.audiences:
                raise _not_found("Segment")
            audiences.add(segment_id)
        for audience in audiences:
            self._find_audience(audience, request)
        existing = next((c for c in self.contacts.values() if c["email"] == email), None)
        if existing is not None:
            raise _Problem(409, "validation_error", f"Contact with email {email} already exists.")
        contact: dict[str, Any] = {
            "id": self.uuid(),
            "email": email,
            "first_name": None,
            "last_name": None,
            "created_at": _timestamp(self.now()),
            "unsubscribed": False,
            "properties": {},
        }
        self._contact_fields(params, contact)
        self.contacts[contact["id"]] = contact
        self._contact_audiences[contact["id"]] = audiences
        self._notify("contact.created", self._contact_data(contact))
        return self.reply({"object": "contact", "id": contact["id"]}, 201)

    @_endpoint("POST", "/contacts")
    def create_contact(self, request: FakeRequest) -> FakeResponse:
        return self._create_contact(request, None)

    @_endpoint("POST", "/audiences/{audience_id}/contacts")
    def create_audience_contact(self, request: FakeRequest) -> FakeResponse:
        self._find_audience(request.path_params["audience_id"], request)
        return self._create_contact(request, request.path_params["audience_id"])

    def _list_contacts(self, request: FakeRequest, audience_id: str | None) -> FakeResponse:
        segment = _query(request, "segment_id")
        audience_id = audience_id or segment
        if audience_id is not None:
            self._find_audience(audience_id, request)
        items = [
            {k: v for k, v in c.items() if k != "properties"}
            for c in self.contacts.values()
            if audience_id is None or audience_id in self._contact_audiences[c["id"]]
        ]
        return self.reply(self._page(request, items[::-1]))

    @_endpoint("GET", "/contacts")
    def list_contacts(self, request: FakeRequest) -> FakeResponse:
        return self._list_contacts(request, None)

    @_endpoint("GET", "/audiences/{audience_id}/contacts")
    def list_audience_contacts(self, request: FakeRequest) -> FakeResponse:
        return self._list_contacts(request, request.path_params["audience_id"])

    @_endpoint("GET", "/segments/{audience_id}/contacts")
    def list_segment_contacts(self, request: FakeRequest) -> FakeResponse:
        return self._list_contacts(request, request.path_params["audience_id"])

    def _get_contact(self, request: FakeRequest) -> FakeResponse:
        return self.reply({"object": "contact", **self._find_contact(request)})

    get_contact = _endpoint("GET", "/contacts/{id}")(_get_contact)
    get_audience_contact = _endpoint("GET", "/audiences/{audience_id}/contacts/{id}")(_get_contact)

    def _update_contact(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request)
        contact = self._find_contact(request)
        if "email" in params and params["email"] != contact["email"]:
            if urllib.parse.unquote(request.path_params["id"]) == contact["email"]:
                pass  # addressed by email: the email names the contact, it is not changed
            else:
                email = _string(params, "email")
                if email is None or address_of(email) != email:
                    raise _invalid("Invalid `email` field. It must be an email address.")
                contact["email"] = email
        self._contact_fields(params, contact)
        self._notify("contact.updated", self._contact_data(contact))
        return self.reply({"object": "contact", "id": contact["id"]})

    update_contact = _endpoint("PATCH", "/contacts/{id}")(_update_contact)
    update_audience_contact = _endpoint("PATCH", "/audiences/{audience_id}/contacts/{id}")(
        _update_contact
    )

    def _remove_contact(self, request: FakeRequest) -> FakeResponse:
        contact = self._find_contact(request)
        audience_id = request.path_params.get("audience_id")
        if audience_id is not None and len(self._contact_audiences[contact["id"]]) > 1:
            self._contact_audiences[contact["id"]].discard(audience_id)
        else:
            data = self._contact_data(contact)
            del self.contacts[contact["id"]]
            del self._contact_audiences[contact["id"]]
            self._notify("contact.deleted", data)
        return self.reply(
            {"object": "contact", "id": contact["id"], "contact": contact["id"], "deleted": True}
        )

    remove_contact = _endpoint("DELETE", "/contacts/{id}")(_remove_contact)
    remove_audience_contact = _endpoint("DELETE", "/audiences/{audience_id}/contacts/{id}")(
        _remove_contact
    )

    def contact_audiences(self, contact_id: str) -> set[str]:
        """The audiences (segments) contact ``contact_id`` belongs to."""
        with self.lock:
            return set(self._contact_audiences.get(contact_id, set()))

    # -- domains -------------------------------------------------------------------------------
    def add_domain(
        self, name: str, *, status: str = "verified", region: str = "us-east-1"
    ) -> dict[str, Any]:
        """Seed a domain (the fake has no way to create or verify one over HTTP)."""
        domain_id = self.uuid()
        domain: dict[str, Any] = {
            "id": domain_id,
            "name": name,
            "status": status,
            "created_at": _timestamp(self.now()),
            "region": region,
            "open_tracking": False,
            "click_tracking": False,
            "capabilities": {"sending": "enabled", "receiving": "disabled"},
        }
        with self.lock:
            self.domains[domain_id] = domain
        return copy.deepcopy(domain)

    @_endpoint("GET", "/domains")
    def list_domains(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._page(request, list(reversed(self.domains.values()))))

    # -- webhooks: the API -------------------------------------------------------------------
    def new_signing_secret(self) -> str:
        """A signing secret as Resend makes them: ``whsec_`` and 24 random bytes in base64."""
        raw = bytes(self._random.getrandbits(8) for _ in range(24))
        return "whsec_" + base64.b64encode(raw).decode()

    def _webhook_params(
        self, params: Mapping[str, Any], webhook: dict[str, Any] | None
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if webhook is None or "endpoint" in params:
            endpoint = _string(params, "endpoint", required=True)
            assert endpoint is not None
            if not re.match(r"https?://[^\s/]+", endpoint):
                raise _invalid("Invalid `endpoint` field. It must be an http(s) URL.")
            changes["endpoint"] = endpoint
        if webhook is None or "events" in params:
            events = params.get("events")
            if events is None:
                raise _missing("events")
            if not isinstance(events, list) or not events:
                raise _invalid("Invalid `events` field. It must be a non-empty array of events.")
            for event in events:
                if event not in WEBHOOK_EVENTS:
                    raise _invalid(f"Invalid `events` field. Unknown event type: {event}.")
            changes["events"] = list(dict.fromkeys(events))
        if "status" in params:
            if params["status"] not in ("enabled", "disabled"):
                raise _invalid("Invalid `status` field. It must be enabled or disabled.")
            changes["status"] = params["status"]
        return changes

    @_endpoint("POST", "/webhooks")
    def create_webhook(self, request: FakeRequest) -> FakeResponse:
        changes = self._webhook_params(self._params(request), None)
        webhook = self._add_webhook(changes["endpoint"], changes["events"], None)
        return self.reply(
            {"object": "webhook", "id": webhook["id"], "signing_secret": webhook["signing_secret"]},
            201,
        )

    @_endpoint("GET", "/webhooks")
    def list_webhooks(self, request: FakeRequest) -> FakeResponse:
        items = [
            {k: v for k, v in w.items() if k not in ("signing_secret", "object")}
            for w in reversed(self.webhooks.values())
        ]
        return self.reply(self._page(request, items))

    def _find_webhook(self, request: FakeRequest) -> dict[str, Any]:
        webhook = self.webhooks.get(request.path_params["webhook_id"])
        if webhook is None:
            raise _not_found("Webhook")
        return webhook

    @_endpoint("GET", "/webhooks/{webhook_id}")
    def get_webhook(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._find_webhook(request))

    @_endpoint("PATCH", "/webhooks/{webhook_id}")
    def update_webhook(self, request: FakeRequest) -> FakeResponse:
        webhook = self._find_webhook(request)
        webhook.update(self._webhook_params(self._params(request), webhook))
        return self.reply({"object": "webhook", "id": webhook["id"]})

    @_endpoint("DELETE", "/webhooks/{webhook_id}")
    def remove_webhook(self, request: FakeRequest) -> FakeResponse:
        webhook = self._find_webhook(request)
        del self.webhooks[webhook["id"]]
        return self.reply({"object": "webhook", "id": webhook["id"], "deleted": True})

    def _add_webhook(self, endpoint: str, events: list[str], secret: str | None) -> dict[str, Any]:
        webhook: dict[str, Any] = {
            "object": "webhook",
            "id": self.uuid(),
            "endpoint": endpoint,
            "events": list(events),
            "status": "enabled",
            "created_at": _timestamp(self.now()),
            "signing_secret": secret or self.new_signing_secret(),
        }
        self.webhooks[webhook["id"]] = webhook
        return webhook

    def add_webhook(
        self, endpoint: str, events: Iterable[str], *, secret: str | None = None
    ) -> dict[str, Any]:
        """Seed an enabled webhook sending ``events`` to ``endpoint`` (signed with ``secret``,
        else a new one); returns it, ``signing_secret`` included."""
        events = list(events)
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown or not events:
            raise ValueError(f"add_webhook: unknown or no event types: {unknown or events}")
        with self.lock:
            return copy.deepcopy(self._add_webhook(endpoint, events, secret))

    # -- webhooks: deliveries ------------------------------------------------------------------
    def new_message_id(self) -> str:
        """A Svix message id (``msg_`` and 27 letters and digits), from the seeded source."""
        alphabet = string.ascii_letters + string.digits
        return "msg_" + "".join(self._random.choice(alphabet) for _ in range(27))

    def event_body(
        self, type: str, data: Mapping[str, Any], *, created_at: float | None = None
    ) -> bytes:
        """A Resend event as Resend serialises it: ``{"type", "created_at", "data"}``."""
        event = {"type": type, "created_at": _iso(self.now() if created_at is None else created_at)}
        event["data"] = copy.deepcopy(dict(data))  # type: ignore[assignment]
        return json.dumps(event, separators=(",", ":")).encode()

    def signed_delivery(
        self,
        type: str,
        data: Mapping[str, Any],
        *,
        secret: str,
        msg_id: str | None = None,
        timestamp: float | None = None,
        body: bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and Svix headers of one delivery of a Resend event of ``type`` with
        ``data``, signed with ``secret`` at ``timestamp`` (default: the fake's clock), without
        sending it: for ``JobTester.deliver_webhook("resend", *fake.signed_delivery(...))``."""
        msg_id = msg_id or self.new_message_id()
        payload = self.event_body(type, data) if body is None else body
        stamp = int(self.now() if timestamp is None else timestamp)
        return payload, {
            "svix-id": msg_id,
            "svix-timestamp": str(stamp),
            "svix-signature": sign_delivery(secret, msg_id, stamp, payload),
        }

    def send_event(
        self,
        url: str,
        type: str,
        data: Mapping[str, Any],
        *,
        secret: str,
        msg_id: str | None = None,
        timestamp: float | None = None,
        headers: Mapping[str, str | None] | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST one Resend event of ``type`` with ``data`` to ``url``, signed as Svix signs it
        with ``secret`` (the endpoint's ``whsec_...``); returns the endpoint's answer (also in
        ``webhook_deliveries``). ``msg_id`` is the ``svix-id`` (new by default); ``timestamp``
        the signing time (default: the fake's clock; an older one makes a stale delivery);
        ``headers`` replace or, with None, remove headers after signing (a missing or forged
        signature); ``body`` replaces the event's JSON (signed all the same)."""
        msg_id = msg_id or self.new_message_id()
        payload = self.event_body(type, data) if body is None else body
        with self.lock:
            self._messages[msg_id] = _Message(url, payload, secret)
        return self._post(msg_id, timestamp=timestamp, headers=headers)

    def redeliver(self, msg_id: str, *, timestamp: float | None = None) -> httpx.Response:
        """Send message ``msg_id`` again, as Svix retries: the same ``svix-id`` and body, a
        fresh ``svix-timestamp`` (``timestamp``, default now) and signature."""
        with self.lock:
            if msg_id not in self._messages:
                raise KeyError(f"redeliver: no message {msg_id!r} was sent by this fake")
        return self._post(msg_id, timestamp=timestamp, headers=None)

    def retry_failed(self) -> list[httpx.Response]:
        """Svix's next retry of every message whose last attempt was not answered 2xx (or not
        answered at all): each is sent again once (messages still queued are not); returns the
        answers."""
        with self.lock:
            failed = [
                msg_id
                for msg_id, message in self._messages.items()
                if message.attempts
                and (message.last_status is None or not 200 <= message.last_status < 300)
            ]
        return [self.redeliver(msg_id) for msg_id in failed]

    def _post(
        self, msg_id: str, *, timestamp: float | None, headers: Mapping[str, str | None] | None
    ) -> httpx.Response:
        with self.lock:
            message = self._messages[msg_id]
            stamp = int(self.now() if timestamp is None else timestamp)
        sent: dict[str, str | None] = {
            "svix-id": msg_id,
            "svix-timestamp": str(stamp),
            "svix-signature": sign_delivery(message.secret, msg_id, stamp, message.body),
        }
        sent.update(headers or {})
        final = {k: v for k, v in sent.items() if v is not None}
        try:
            response = self.deliver_webhook(message.url, message.body, final)
        except httpx.HTTPError:
            with self.lock:
                message.attempts += 1
                message.last_status = None
                self.webhook_deliveries.append(
                    WebhookSent(url=message.url, headers=final, body=message.body, status=0)
                )
            raise
        with self.lock:
            message.attempts += 1
            message.last_status = response.status_code
        return response

    # -- webhooks: the fake's own events ---------------------------------------------------------
    def _email_data(self, email: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "email_id": email["id"],
            "created_at": _iso(self.now()),
            "from": email["from"],
            "to": list(email["to"]),
            "subject": email["subject"],
        }
        if email.get("tags"):
            data["tags"] = {t["name"]: t["value"] for t in email["tags"]}
        if isinstance(email.get("headers"), dict) and email["headers"]:
            data["headers"] = [{"name": k, "value": v} for k, v in email["headers"].items()]
        return data

    def _contact_data(self, contact: Mapping[str, Any]) -> dict[str, Any]:
        audiences = sorted(self._contact_audiences.get(contact["id"], set()))
        data: dict[str, Any] = {
            "id": contact["id"],
            "audience_id": audiences[0] if audiences else None,
            "segment_ids": audiences,
            "created_at": _iso_of(contact.get("created_at")),
            "updated_at": _iso(self.now()),
            "email": contact["email"],
            "first_name": contact.get("first_name"),
            "last_name": contact.get("last_name"),
            "unsubscribed": bool(contact.get("unsubscribed")),
        }
        return {k: v for k, v in data.items() if v is not None}

    def _notify(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Queue ``event_type`` for every enabled webhook subscribed to it (the caller holds the
        lock); the sender thread posts them in order."""
        for webhook in self.webhooks.values():
            if webhook["status"] != "enabled" or event_type not in webhook["events"]:
                continue
            msg_id = self.new_message_id()
            self._messages[msg_id] = _Message(
                webhook["endpoint"], self.event_body(event_type, data), webhook["signing_secret"]
            )
            self._outbox.append(msg_id)
        if self._outbox and self._sender is None and not self._stopping:
            self._sender = threading.Thread(
                target=self._send_outbox, name=f"{type(self).__name__}-webhooks", daemon=True
            )
            self._sender.start()
        self._outbox_changed.notify_all()

    def _send_outbox(self) -> None:
        while True:
            with self._outbox_changed:
                while not self._outbox and not self._stopping:
                    self._outbox_changed.wait()
                if self._stopping:
                    return
                msg_id = self._outbox.popleft()
                self._outbox_busy += 1
            try:
                self._post(msg_id, timestamp=None, headers=None)
            except httpx.HTTPError:
                pass  # recorded with status 0; retry_failed() sends it again
            finally:
                with self._outbox_changed:
                    self._outbox_busy -= 1
                    self._outbox_changed.notify_all()

    def wait_for_webhooks(self, timeout: float = 30.0) -> None:
        """Return once every delivery the fake queued has been sent and answered (or failed);
        ``TimeoutError`` after ``timeout`` seconds."""
        with self._outbox_changed:
            if not self._outbox_changed.wait_for(
                lambda: not self._outbox and not self._outbox_busy, timeout
            ):
                raise TimeoutError(
                    f"FakeResend: {len(self._outbox) + self._outbox_busy} webhook deliveries "
                    f"still unsent after {timeout} s"
                )

    def email_event(self, email_id: str, type: str, **data: Any) -> None:
        """Play an event of email ``email_id``'s life (``email.delivered``, ``email.bounced``,
        ``email.opened``, ``email.clicked``, ``email.complained``...): its ``last_event``
        changes and the subscribed webhooks are notified. ``data`` adds to the event's data
        (``bounce={...}``, ``click={...}``; defaults are filled in for those two)."""
        if type not in _LAST_EVENT:
            raise ValueError(f"email_event: {type!r} is not an event of an email's life")
        with self.lock:
            email = self.emails.get(email_id)
            if email is None:
                raise KeyError(f"email_event: no email {email_id!r}")
            unsent = email["last_event"] in ("scheduled", "canceled")
            if unsent and type not in ("email.sent", "email.scheduled", "email.failed"):
                raise ValueError(
                    f"email_event: email {email_id} is {email['last_event']}, not sent yet: "
                    f"play email.sent first, then {type}"
                )
            email["last_event"] = _LAST_EVENT[type]
            extra = dict(data)
            if type == "email.bounced":
                extra.setdefault(
                    "bounce",
                    {
                        "type": "Permanent",
                        "subType": "General",
                        "message": "The recipient's email provider sent a hard bounce message.",
                        "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
                    },
                )
            if type == "email.clicked":
                extra.setdefault(
                    "click",
                    {
                        "link": "https://acme.dev/welcome",
                        "ipAddress": "192.0.2.1",
                        "userAgent": "Mozilla/5.0",
                        "timestamp": _iso(self.now()),
                    },
                )
            self._notify(type, {**self._email_data(email), **extra})

    def start(self, *, port: int = 0) -> FakeResend:
        with self.lock:
            self._stopping = False
        super().start(port=port)
        return self

    def stop(self) -> None:
        with self._outbox_changed:
            self._stopping = True
            self._outbox_changed.notify_all()
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.join(30)
        super().stop()

    # -- seeding (no HTTP, no recorded request) ------------------------------------------------
    def add_email(
        self,
        *,
        to: str | list[str] = "ada@example.com",
        sender: str = "Acme <hi@acme.dev>",
        subject: str = "Hello",
        scheduled_at: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Seed an email as if it had been sent (``scheduled_at``: a scheduled one); returns it.
        It does not count against the quotas."""
        params = {"from": sender, "to": to, "subject": subject, "scheduled_at": scheduled_at}
        with self.lock:
            try:
                email = self._email({**params, **fields}, batch=False)
            except _Problem as problem:
                raise ValueError(f"add_email: {problem.message}") from None
            self.emails[email["id"]] = email
            return copy.deepcopy(email)

    def add_audience(self, name: str = "Registered Users") -> dict[str, Any]:
        """Seed an audience (a segment); returns it."""
        with self.lock:
            audience_id = self.uuid()
            audience = {"id": audience_id, "name": name, "created_at": _timestamp(self.now())}
            self.audiences[audience_id] = audience
            return copy.deepcopy(audience)

    def add_contact(
        self, email: str = "ada@example.com", *, audience_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Seed a contact (in audience ``audience_id``, when given); returns it."""
        with self.lock:
            if audience_id is not None and audience_id not in self.audiences:
                raise ValueError(f"add_contact: no audience {audience_id}")
            contact: dict[str, Any] = {
                "id": self.uuid(),
                "email": email,
                "first_name": None,
                "last_name": None,
                "created_at": _timestamp(self.now()),
                "unsubscribed": False,
                "properties": {},
                **fields,
            }
            self.contacts[contact["id"]] = contact
            self._contact_audiences[contact["id"]] = {audience_id} if audience_id else set()
            return copy.deepcopy(contact)

    # -- what was sent -------------------------------------------------------------------------
    def sent_to(self, address: str) -> list[dict[str, Any]]:
        """The emails accepted for ``address`` (in ``to``, ``cc`` or ``bcc``), oldest first."""
        with self.lock:
            return [
                copy.deepcopy(e)
                for e in self.emails.values()
                if any(
                    address_of(a) == address
                    for key in ("to", "cc", "bcc")
                    for a in (e.get(key) or [])
                )
            ]


if __name__ == "__main__":  # python -m runio_resend.testing --port 12113
    from runio.testing import serve_fake

    serve_fake(
        FakeResend,
        prog="python -m runio_resend.testing",
        environment={"RESEND_API_BASE": "{url}", "RESEND_API_KEY": "re_test_123"},
    )
