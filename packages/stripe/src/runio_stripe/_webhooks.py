"""Reading a Stripe webhook delivery: its ``Stripe-Signature`` checked with the endpoint's
signing secret by the ``stripe`` SDK, its timestamp against the tolerance, its body read as a
Stripe event.

The SDK's verifier compares the signature's timestamp with the wall clock; runio compares it
with the time the request arrived (``WebhookRequest.received_at``, the app's clock, which tests
move with a ``TestClock``), so the SDK checks the HMAC with its tolerance off and the timestamp
is checked here. Errors say what was wrong and what to check, never the secret or the signature
that was expected.
"""

from __future__ import annotations

import json
from typing import Any

import stripe

from runio.errors import WebhookPayloadError, WebhookSignatureError
from runio.integrations import WebhookDelivery, WebhookRequest

SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE = 300.0  # seconds: Stripe's own default


def signed_at(header: str) -> int:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header that also carries a ``v1=``
    signature; a ``WebhookSignatureError`` when it has no such parts."""
    parts = [item.split("=", 1) for item in header.split(",")]
    stamps = [p[1].strip() for p in parts if len(p) == 2 and p[0].strip() == "t"]
    if not stamps or not stamps[0].isdigit():
        raise WebhookSignatureError(
            f"The {SIGNATURE_HEADER} header has no timestamp (t=...): it is not a header Stripe "
            "sends (Stripe sends t=<unix time>,v1=<signature>)."
        )
    if not any(len(p) == 2 and p[0].strip() == "v1" and p[1].strip() for p in parts):
        raise WebhookSignatureError(
            f"The {SIGNATURE_HEADER} header has no v1 signature: runio checks Stripe's v1 "
            "scheme (t=<unix time>,v1=<signature>)."
        )
    return int(stamps[0])


def verify(request: WebhookRequest, *, secret: str, tolerance: float) -> WebhookDelivery:
    """The delivery of a verified request: its event's ``id`` (``evt_...``), ``type`` and the
    event as sent. ``WebhookSignatureError`` for a missing, wrong, malformed or stale
    signature; ``WebhookPayloadError`` for a signed body that is not a Stripe event."""
    header = request.header(SIGNATURE_HEADER)
    if header is None or not header.strip():
        raise WebhookSignatureError(
            f"The request has no {SIGNATURE_HEADER} header: Stripe signs every delivery, so it "
            "was not sent by Stripe (or a proxy removed the header)."
        )
    timestamp = signed_at(header)
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookPayloadError(
            "The body is not UTF-8 text, so it cannot be a Stripe event (Stripe sends JSON)."
        ) from None
    try:
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        raise WebhookSignatureError(
            f"The {SIGNATURE_HEADER} signature does not match the body: check that the "
            "integration's webhook_secret (STRIPE_WEBHOOK_SECRET) is the signing secret "
            "(whsec_...) of the Stripe endpoint that sends to this URL (each endpoint has its "
            "own), and that nothing on the way changes the body."
        ) from None
    age = request.received_at - timestamp
    if age > tolerance:
        raise WebhookSignatureError(
            f"The signature is {age:.0f} s old, more than the {tolerance:g} s tolerance: a "
            "replayed or long-delayed delivery (Stripe signs each attempt anew), or this "
            "server's clock is wrong."
        )
    if -age > tolerance:
        raise WebhookSignatureError(
            f"The signature is dated {-age:.0f} s after the request arrived, more than the "
            f"{tolerance:g} s tolerance: this server's clock is behind."
        )
    return WebhookDelivery(**_event_of(text))


def _event_of(text: str) -> dict[str, Any]:
    try:
        event = json.loads(text)
    except ValueError:
        raise WebhookPayloadError(
            "The body is correctly signed but is not JSON, so it is not a Stripe event."
        ) from None
    if not isinstance(event, dict):
        raise WebhookPayloadError(
            f"The body is correctly signed but is a JSON {type(event).__name__}, not a Stripe "
            "event (an object)."
        )
    if event.get("object") == "v2.core.event":
        raise WebhookPayloadError(
            "The body is a thin event (v2.core.event), which runio's Stripe triggers do not "
            "read: send snapshot events (v1, the default payload style) to this endpoint."
        )
    missing = [
        key for key in ("id", "type") if not isinstance(event.get(key), str) or not event[key]
    ]
    if event.get("object") != "event" or missing:
        what = f"no {' or '.join(missing)}" if missing else f"object {event.get('object')!r}"
        raise WebhookPayloadError(
            f"The body is correctly signed but is not a Stripe event ({what}; a Stripe event "
            'has "object": "event", an "id" and a "type").'
        )
    return {"id": event["id"], "type": event["type"], "payload": event}
