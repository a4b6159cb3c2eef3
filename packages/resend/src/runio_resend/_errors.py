"""The errors a Resend task fails with, and Resend's rules for which errors are worth a retry.

::

    ResendAPIError               Resend answered with an error: its status, name and message
    ├── ResendIdempotencyError   409 invalid_idempotent_request: the task's key was already used
    │                            with another payload
    └── ResendQuotaError         429 daily_quota_exceeded / monthly_quota_exceeded
    ResendConnectionError        no answer came back (connection refused, dropped, timed out)

``from_sdk`` turns the SDK's ``resend.exceptions.ResendError`` into these (for the wrappers and
``io.resend.run_task`` alike); ``decide`` is Resend's retry rule for an SDK error, as a plain
``Decision`` the integration turns into runio's ``ErrorDecision``. This module knows nothing of
tasks or of the integration kit.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from resend.exceptions import ResendError

NETWORK_ERROR_TYPE = "HttpClientError"
"""The ``error_type`` of the ``ResendError`` the SDK raises when its HTTP client failed (no
answer), with ``code`` 500."""

_QUOTAS = {"daily_quota_exceeded": "daily", "monthly_quota_exceeded": "monthly"}


def _headers(error: ResendError) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (getattr(error, "headers", None) or {}).items()}


def _status(error: ResendError) -> int | None:
    try:
        return int(error.code)
    except (TypeError, ValueError):
        return None


def is_network_error(error: BaseException) -> bool:
    """The SDK's error for a request that got no answer (its HTTP client raised)."""
    return isinstance(error, ResendError) and error.error_type == NETWORK_ERROR_TYPE


def _client_failure(error: ResendError) -> BaseException | None:
    """What the SDK's HTTP client raised, when it was not a transport error (a parameter that
    cannot be encoded as JSON, say): retrying cannot help."""
    cause = error.__cause__ or error.__context__
    if cause is None or isinstance(cause, httpx.TransportError | OSError):
        return None
    return cause


def retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait from ``retry-after`` (seconds or an HTTP date), else
    ``ratelimit-reset`` (seconds, as Resend sends it); None when neither is usable."""
    value = headers.get("retry-after")
    if value is not None:
        text = value.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.UTC)
                return max(0.0, when.timestamp() - now)
    reset = headers.get("ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset.strip()))
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Decision:
    """What to do about an error: ``retry`` (after ``wait`` seconds, or with the backoff when
    None), or ``fail`` at once."""

    action: Literal["retry", "fail"]
    wait: float | None = None


def decide(error: BaseException, *, now: float) -> Decision | None:
    """Resend's rules for an SDK error; None for errors that are not Resend's.

    - no answer (``HttpClientError`` from a connection error): retry (with the same
      idempotency key, so a send that did reach Resend is not sent twice); a request that could
      not even be made (a parameter that is not JSON): fail;
    - 429 ``rate_limit_exceeded``: retry at ``retry-after``;
    - 429 ``daily_quota_exceeded`` / ``monthly_quota_exceeded``: not short-term: retry at the
      reset when the answer says when, else fail;
    - 409 ``concurrent_idempotent_requests``: retry (the first request is still in progress);
      409 ``invalid_idempotent_request``: fail;
    - 5xx: retry; other 4xx (400, 401, 403, 404, 422...): fail.
    """
    if isinstance(error, ResendAPIError):
        error = error.resend_error
    if not isinstance(error, ResendError):
        return None
    if is_network_error(error):
        return Decision("fail") if _client_failure(error) is not None else Decision("retry")
    status = _status(error)
    name = error.error_type
    headers = _headers(error)
    if name in _QUOTAS:
        wait = retry_after(headers, now=now)
        return Decision("retry", wait) if wait is not None else Decision("fail")
    if status == 429 or name == "rate_limit_exceeded":
        return Decision("retry", retry_after(headers, now=now))
    if status == 409:
        return Decision("retry") if name == "concurrent_idempotent_requests" else Decision("fail")
    if status is None or status >= 500:
        return Decision("retry", retry_after(headers, now=now))
    return Decision("fail")


class ResendAPIError(Exception):
    """Resend answered a request with an error.

    The message carries the HTTP status, Resend's error name (``validation_error``,
    ``not_found``, ``rate_limit_exceeded``...) and its message. ``resend_error`` is the SDK's
    exception.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        name: str,
        resend_message: str,
        headers: Mapping[str, str],
        resend_error: ResendError,
    ) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status (422 for invalid parameters, 404 for a missing object...)."""
        self.name = name
        """Resend's error name: ``validation_error``, ``missing_required_field``,
        ``invalid_api_key``, ``not_found``, ``rate_limit_exceeded``..."""
        self.resend_message = resend_message
        """Resend's own message, unchanged."""
        self.headers = dict(headers)
        self.resend_error = resend_error

    @staticmethod
    def describe(status: int | None, name: str, resend_message: str, **context: Any) -> str:
        """One line: ``Resend 422 validation_error: Invalid `to` field...``."""
        what = " ".join(str(p) for p in ("Resend", status, name) if p)
        return f"{what}: {resend_message or 'no message'}"


class ResendIdempotencyError(ResendAPIError):
    """Resend refused a send because its idempotency key, the task's, was already used with a
    different payload in the last 24 hours. Resend kept the first request's result and sent
    nothing now; retrying cannot help, so the task fails at once."""

    @staticmethod
    def describe(status: int | None, name: str, resend_message: str, **context: Any) -> str:
        cache_key = context.get("cache_key")
        run_id = context.get("run_id")
        which = f"cache key {cache_key!r}" if cache_key is not None else "its cache key"
        if run_id:
            which += f" in run {run_id}"
        return (
            "Resend refused this send: the task's idempotency key (derived from "
            f"{which}) was already used with a different payload, so Resend kept the first "
            "request's result and sent nothing now. A task's parameters must be the same on "
            "every attempt: this happens when they are computed from the clock, random numbers "
            "or anything else that differs when the run resumes (compute such values in an "
            "earlier task, whose result is stored), when the job's code changed while the run "
            "was in flight, or when one cache key is reused for a different email (give each "
            f"email its own cache key). {ResendAPIError.describe(status, name, resend_message)}"
        )


class ResendQuotaError(ResendAPIError):
    """Resend refused a send because the account's daily or monthly sending quota is used up.
    That is not a short-term limit: waiting seconds or minutes does not help."""

    @staticmethod
    def describe(status: int | None, name: str, resend_message: str, **context: Any) -> str:
        period = _QUOTAS.get(name, "sending")
        reset = "the next UTC day" if period == "daily" else "the next calendar month"
        if context.get("resets_in") is not None:
            wait = float(context["resets_in"])
            then = f"Resend said when it resets, so the task is retried then (in {wait:.0f} s)"
        else:
            then = (
                f"so the task is not retried (the quota resets with {reset}; upgrade the plan "
                "or retry the run later)"
            )
        return (
            f"Resend's {period} sending quota is used up: this is not a short-term rate limit, "
            f"{then}. {ResendAPIError.describe(status, name, resend_message)}"
        )


class ResendConnectionError(Exception):
    """No answer came back from Resend: the connection was refused, dropped or timed out.
    Whether a send was applied is unknown; runio retries it with the same idempotency key, so
    Resend sends it at most once."""


def from_sdk(error: BaseException, *, now: float, **context: Any) -> Exception:
    """The error to record for the SDK's ``error``: a ``ResendAPIError`` (or subclass) for an
    answer, a ``ResendConnectionError`` for no answer, anything else unchanged. ``context``
    (``cache_key``, ``run_id``) goes into an idempotency error's message; ``now`` (epoch
    seconds) reads a quota's reset time."""
    if not isinstance(error, ResendError):
        return error if isinstance(error, Exception) else Exception(str(error))
    if is_network_error(error):
        failure = _client_failure(error)
        if isinstance(failure, Exception):
            return failure  # the request could not be made: its own error says why
        cause = error.__cause__ or error.__context__
        detail = (str(cause) or type(cause).__name__) if cause is not None else error.message
        never_sent = isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)
        translated = ResendConnectionError(
            f"Resend did not answer: {detail} ("
            + (
                "the connection was not made, so nothing was sent"
                if never_sent
                else "the request may or may not have been applied"
            )
            + ")"
        )
        translated.__cause__ = error
        return translated
    status = _status(error)
    name = str(error.error_type or "")
    message = str(error.message or "")
    kind: type[ResendAPIError] = ResendAPIError
    if name == "invalid_idempotent_request":
        kind = ResendIdempotencyError
    elif name in _QUOTAS:
        kind = ResendQuotaError
        context = {**context, "resets_in": retry_after(_headers(error), now=now)}
    translated_api = kind(
        kind.describe(status, name, message, **context),
        status=status,
        name=name,
        resend_message=message,
        headers=_headers(error),
        resend_error=error,
    )
    translated_api.__cause__ = error
    return translated_api
