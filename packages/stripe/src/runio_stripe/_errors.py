"""The errors a Stripe task wrapper fails with when Stripe answers a request with an error.

::

    StripeAPIError             Stripe answered with an error status: its message, type, code,
    │                          param and request id, and the HTTP status
    └── StripeIdempotencyError the task's idempotency key was already used with other parameters

Wrappers raise them with the task's cache key and run id in an idempotency error's message;
``Stripe.translate_error`` turns the SDK's errors raised in ``io.stripe.run_task`` into them too.
Connection errors (nothing or no answer came back) stay the SDK's own
``stripe.APIConnectionError``: its message already says what happened. This module knows
nothing about runio's retries: ``_integration.py`` classifies these errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe


def _error_body(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]  # type: ignore[no-any-return]
    return {}


class StripeAPIError(Exception):
    """Stripe answered a request with an error status.

    The message carries Stripe's own message, error type and code, the parameter it blames and
    the request id (quote it to Stripe support, or find the request in the Dashboard's logs).
    ``stripe_error`` is the SDK's exception (``stripe.CardError``,
    ``stripe.InvalidRequestError``...).
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None,
        stripe_message: str | None,
        error_type: str | None,
        code: str | None,
        decline_code: str | None,
        param: str | None,
        request_id: str | None,
        headers: Mapping[str, str],
        stripe_error: stripe.StripeError,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        """The HTTP status Stripe answered with (402 for a declined card, 404 for a missing
        object...)."""
        self.stripe_message = stripe_message
        """Stripe's human-readable message, unchanged."""
        self.error_type = error_type
        """Stripe's error type: ``card_error``, ``invalid_request_error``, ``api_error``,
        ``idempotency_error``..."""
        self.code = code
        """Stripe's error code (``card_declined``, ``resource_missing``...), when it gave one."""
        self.decline_code = decline_code
        """For declined cards, the issuer's reason (``insufficient_funds``...)."""
        self.param = param
        """The request parameter the error is about, when there is one."""
        self.request_id = request_id
        """Stripe's ``Request-Id`` of the failed request (``req_...``)."""
        self.headers = dict(headers)
        self.stripe_error = stripe_error

    @classmethod
    def from_stripe(cls, error: stripe.StripeError, **describe: Any) -> StripeAPIError:
        """The error for the SDK's ``error``; ``describe`` is passed to ``describe()``."""
        body = _error_body(error)
        headers = dict((error.headers or {}).items())
        fields: dict[str, Any] = {
            "http_status": error.http_status,
            "stripe_message": body.get("message") or error.user_message,
            "error_type": body.get("type"),
            "code": body.get("code") or error.code,
            "decline_code": body.get("decline_code"),
            "param": body.get("param"),
            "request_id": error.request_id,
        }
        kind = StripeIdempotencyError if isinstance(error, stripe.IdempotencyError) else cls
        return kind(
            kind.describe(**fields, **describe), headers=headers, stripe_error=error, **fields
        )

    @staticmethod
    def describe(
        *,
        http_status: int | None,
        stripe_message: str | None,
        error_type: str | None,
        code: str | None,
        decline_code: str | None,
        param: str | None,
        request_id: str | None,
        **context: Any,
    ) -> str:
        """One line: ``Stripe 402 card_error (card_declined, decline code insufficient_funds):
        Your card has insufficient funds. [request req_123]``."""
        what = " ".join(str(part) for part in ("Stripe", http_status, error_type) if part)
        details = [c for c in (code, decline_code and f"decline code {decline_code}") if c]
        if param:
            details.append(f"param {param}")
        if details:
            what += f" ({', '.join(details)})"
        text = f"{what}: {stripe_message or 'no message'}"
        if request_id:
            text += f" [request {request_id}]"
        return text


class StripeIdempotencyError(StripeAPIError):
    """Stripe refused a write because its idempotency key, the task's, was already used with
    different parameters. Stripe applied only the first request; retrying cannot help, so the
    task fails at once."""

    @staticmethod
    def describe(**fields: Any) -> str:
        cache_key = fields.pop("cache_key", None)
        run_id = fields.pop("run_id", None)
        which = f"cache key {cache_key!r}" if cache_key is not None else "its cache key"
        if run_id:
            which += f" in run {run_id}"
        return (
            "Stripe refused this request: the task's idempotency key (derived from "
            f"{which}) was already used with different parameters, so Stripe kept the result of "
            "the first request and applied nothing now. A task's parameters must be the same on "
            "every attempt: this happens when they are computed from the clock, random numbers "
            "or anything else that differs when the run resumes (compute such values in an "
            "earlier task, whose result is stored), when the job's code changed while the run "
            "was in flight, or when one cache key is reused for a different request (give each "
            f"request its own cache key). {StripeAPIError.describe(**fields)}"
        )
