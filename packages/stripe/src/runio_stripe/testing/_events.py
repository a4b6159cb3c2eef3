"""How FakeStripe's events reach webhook endpoints: the event as Stripe sends it (body and
headers, signed with the ``stripe`` SDK's own signer), the record of each delivery, and the
outbox, a background thread that sends the events the fake's API makes to the endpoints
registered with it (after the API call, as Stripe does, never holding up its answer).

Nothing here knows the resources; ``_core.StripeCore`` makes the events, ``_webhooks`` offers
the public sending methods.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import stripe

log = logging.getLogger("runio.testing.fake")

Signature = Literal["valid", "wrong_secret", "tampered", "stale", "missing", "malformed"]
"""How a test delivery is signed: ``valid``; ``wrong_secret`` (signed with another endpoint's
secret); ``tampered`` (the body changed after signing); ``stale`` (signed ten minutes before it
is sent, past Stripe's five-minute tolerance); ``missing`` (no ``Stripe-Signature`` header);
``malformed`` (a header that is not ``t=...,v1=...``)."""

STALE_SECONDS = 600


@dataclass(frozen=True)
class EventDelivery:
    """One delivery of an event to a webhook endpoint, as FakeStripe sent it."""

    event_id: str
    type: str
    url: str
    endpoint_id: str | None
    """The registered endpoint it went to (None for ``send_event`` to a URL)."""
    status: int | None
    """The HTTP status the endpoint answered (None when the request failed)."""
    response: Any = None
    """The answer's body (JSON-decoded when it is JSON)."""
    error: str | None = None
    """Why the request failed (a refused connection, a timeout), when it did."""


def event_body(event: Mapping[str, Any]) -> bytes:
    """The event as Stripe sends it: pretty-printed JSON."""
    return json.dumps(event, indent=2).encode()


def signed_headers(
    body: bytes, secret: str, timestamp: int, signature: Signature = "valid"
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery signed as ``signature`` says (see ``Signature``)."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Cache-Control": "no-cache",
        "Accept": "*/*; q=0.5, application/xml",
    }
    if signature == "missing":
        return body, headers
    if signature == "malformed":
        headers["Stripe-Signature"] = "signature=" + _sign(body, secret, timestamp).split("v1=")[1]
        return body, headers
    sign_with = "whsec_" + "x" * 32 if signature == "wrong_secret" else secret
    signed_at = timestamp - STALE_SECONDS if signature == "stale" else timestamp
    headers["Stripe-Signature"] = _sign(body, sign_with, signed_at)
    if signature == "tampered":
        body = body.replace(b'"livemode": false', b'"livemode": true', 1) + b"\n"
    return body, headers


def _sign(body: bytes, secret: str, timestamp: int) -> str:
    try:
        text = body.decode()
    except UnicodeDecodeError:  # the SDK signs text; Stripe's scheme is an HMAC of the bytes
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        return f"t={timestamp},v1={mac.hexdigest()}"
    header: str = stripe.WebhookSignature.generate_signature_header(
        text, secret, timestamp=timestamp
    )
    return header


@dataclass
class Outbox:
    """The queue of deliveries to registered endpoints and the thread that sends them in
    order; ``send`` makes one delivery (the fake's)."""

    send: Callable[[Any], None]
    _queue: queue.Queue[Any] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, item: Any) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="FakeStripe-webhooks", daemon=True
                )
                self._thread.start()
            self._queue.put(item)

    def wait(self, timeout: float) -> bool:
        """Block until every queued delivery has been made; False if ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Make the deliveries still queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self.send(item)
            except Exception:  # a delivery that fails is recorded by send; never kill the thread
                log.exception("FakeStripe could not deliver a webhook")
            finally:
                self._queue.task_done()
