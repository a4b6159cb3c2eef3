"""Resend's webhooks: reading a Svix-signed delivery, the typed payload models of its events, and
the filters the ``on_...`` triggers build.

Resend delivers its webhooks through Svix. A delivery carries three headers: ``svix-id`` (the
message id, the same on every retry of the event), ``svix-timestamp`` (Unix seconds of this
attempt) and ``svix-signature`` (space-separated ``v1,<base64>`` signatures: HMAC-SHA256 of
``"{id}.{timestamp}.{body}"`` keyed with the base64 part of the endpoint's ``whsec_...``
secret). The signature is computed with ``standardwebhooks`` (Svix's reference implementation
of that scheme, which the ``svix`` package itself wraps); the timestamp is compared here with
the time the request reached the endpoint, not the wall clock, so a ``TestClock`` drives it.

This module knows nothing of settings or the SDK client: ``Resend.verify_webhook`` gives it the
secret and the request.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from standardwebhooks.webhooks import Webhook

from runio.errors import JobDefinitionError, WebhookPayloadError, WebhookSignatureError
from runio.integrations import WebhookDelivery, WebhookRequest

__all__ = [
    "TOLERANCE",
    "ContactData",
    "ContactEvent",
    "EmailBounce",
    "EmailBouncedData",
    "EmailBouncedEvent",
    "EmailClick",
    "EmailClickedData",
    "EmailClickedEvent",
    "EmailData",
    "EmailEvent",
    "read_delivery",
]

TOLERANCE = 300.0
"""How far (seconds) a delivery's ``svix-timestamp`` may be from the time it arrived: Svix's
five minutes, either way."""

_TIMESTAMP = re.compile(r"\d{1,12}")
_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


# -- typed payloads --------------------------------------------------------------------------------


class _Lenient(BaseModel):
    """Resend adds fields over time: unknown ones are kept (``model_extra``), never refused.
    Fields are read by Resend's names or the Python ones (``from`` or ``from_``) and dumped by
    Resend's, so a dumped event reads as Resend sent it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)


class EmailBounce(_Lenient):
    """Why an email bounced (``data.bounce`` of ``email.bounced``)."""

    type: str | None = None
    """``Permanent``, ``Transient`` or ``Undetermined``."""
    sub_type: str | None = Field(default=None, alias="subType")
    """``General``, ``NoEmail``, ``MailboxFull``, ``Suppressed``..."""
    message: str | None = None
    """The receiving server's explanation."""
    diagnostic_code: Any = Field(default=None, alias="diagnosticCode")
    """The SMTP answers (a list of strings, one per recipient; a string in older events)."""


class EmailClick(_Lenient):
    """The click of ``email.clicked`` (``data.click``)."""

    link: str | None = None
    """The URL that was clicked."""
    ip_address: str | None = Field(default=None, alias="ipAddress")
    user_agent: str | None = Field(default=None, alias="userAgent")
    timestamp: str | None = None
    """When it was clicked (ISO 8601)."""


class EmailData(_Lenient):
    """The email an ``email.*`` event is about (the event's ``data``)."""

    email_id: str
    """Resend's id of the email: what ``send_email`` returned as ``id``."""
    from_: str | None = Field(default=None, alias="from")
    """The sender, as sent (``"Acme <hi@acme.dev>"``)."""
    to: list[str] = Field(default_factory=list)
    """The recipients the event concerns."""
    subject: str | None = None
    created_at: str | None = None
    """When the email was created (ISO 8601)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """The email's tags, ``{name: value}`` (``send_email(tags=[{"name":..., "value":...}])``)."""
    broadcast_id: str | None = None
    template_id: str | None = None


class EmailEvent(_Lenient):
    """An ``email.*`` event: ``email.sent``, ``email.delivered``, ``email.delivery_delayed``,
    ``email.complained``, ``email.opened``, ``email.scheduled``..."""

    type: str
    """The event type (``email.delivered``)."""
    created_at: str | None = None
    """When Resend emitted the event (ISO 8601)."""
    data: EmailData


class EmailBouncedData(EmailData):
    """The email of an ``email.bounced`` event, with why it bounced."""

    bounce: EmailBounce = Field(default_factory=EmailBounce)


class EmailBouncedEvent(EmailEvent):
    """An ``email.bounced`` event."""

    data: EmailBouncedData


class EmailClickedData(EmailData):
    """The email of an ``email.clicked`` event, with the click."""

    click: EmailClick = Field(default_factory=EmailClick)


class EmailClickedEvent(EmailEvent):
    """An ``email.clicked`` event."""

    data: EmailClickedData


class ContactData(_Lenient):
    """The contact of a ``contact.*`` event."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool | None = None
    audience_id: str | None = None
    segment_ids: list[str] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


class ContactEvent(_Lenient):
    """A ``contact.created``, ``contact.updated`` or ``contact.deleted`` event."""

    type: str
    created_at: str | None = None
    data: ContactData


# -- filters -------------------------------------------------------------------------------------


def email_filter(
    where: str, *, tags: Mapping[str, str] | None, filter: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """runio's event filter for an ``email.*`` trigger: ``filter`` as given, plus each of
    ``tags`` (the email carries that tag with that value)."""
    if tags is None:
        return None if filter is None else dict(filter)
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise JobDefinitionError(
            f"{where}(tags=...) takes the tags the email must carry, as {{name: value}} strings "
            f"(e.g. tags={{'kind': 'welcome'}}); got {tags!r}."
        )
    merged: dict[str, Any] = dict(filter or {})
    data = merged.get("data", {})
    if not isinstance(data, Mapping):
        raise JobDefinitionError(
            f"{where}: filter={{'data': ...}} must be a mapping to combine it with tags=..."
        )
    data = dict(data)
    tag_filter = data.get("tags", {})
    if not isinstance(tag_filter, Mapping):
        raise JobDefinitionError(
            f"{where}: filter={{'data': {{'tags': ...}}}} must be a mapping to combine it with "
            "tags=..."
        )
    tag_filter = dict(tag_filter)
    for name, value in tags.items():
        if name in tag_filter:
            raise JobDefinitionError(
                f"{where}: tag {name!r} is given both in tags=... and in filter=...; give it once."
            )
        tag_filter[name] = [value]
    data["tags"] = tag_filter
    merged["data"] = data
    return merged


# -- verification --------------------------------------------------------------------------------


def signing_key(secret: str) -> Webhook:
    """The verifier for a ``whsec_...`` secret; ``ValueError`` (without the secret) when it is
    not one."""
    text = secret.strip()
    body = text[len("whsec_") :] if text.startswith("whsec_") else text
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "it is not a Resend signing secret: expected whsec_ followed by base64"
        ) from None
    if not key:
        raise ValueError("it is empty after whsec_")
    return Webhook(key)


def read_delivery(request: WebhookRequest, verifier: Webhook) -> WebhookDelivery:
    """The Resend event of a Svix-signed ``request``: its signature checked with ``verifier``,
    its timestamp within ``TOLERANCE`` of ``request.received_at``."""
    values = {name: (request.header(name) or "").strip() for name in _HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise WebhookSignatureError(
            f"The delivery has no {', '.join(missing)} header{'s' if len(missing) > 1 else ''}: "
            "this endpoint takes Resend's webhooks only, which Svix signs. Send a test event "
            "from the webhook's page in Resend's dashboard to check the endpoint."
        )
    msg_id, stamp, signatures = (values[name] for name in _HEADERS)
    if not _TIMESTAMP.fullmatch(stamp):
        raise WebhookSignatureError(
            "The delivery's svix-timestamp header is not a Unix time in seconds, so its "
            "signature cannot be checked."
        )
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookSignatureError(
            "The delivery's body is not UTF-8 text, so it cannot match its Svix signature."
        ) from None
    sent_at = int(stamp)
    expected = verifier.sign(msg_id, dt.datetime.fromtimestamp(sent_at, dt.UTC), text)
    expected_bytes = expected.encode()
    offered = [part for part in signatures.split(" ") if part]
    if not any(hmac.compare_digest(expected_bytes, part.encode()) for part in offered):
        raise WebhookSignatureError(
            "The delivery's svix-signature does not match its body: check that the endpoint's "
            "signing secret (webhook_secret, RESEND_WEBHOOK_SECRET) is the one Resend shows for "
            "this webhook, and that nothing between Resend and this server changes the body."
        )
    age = request.received_at - sent_at
    if abs(age) > TOLERANCE:
        when = "older" if age > 0 else "later"
        raise WebhookSignatureError(
            f"The delivery's svix-timestamp is {abs(age):.0f} s {when} than the time it arrived, "
            f"beyond Svix's {TOLERANCE / 60:.0f}-minute tolerance: a replayed request, or a "
            "server clock that is off (check it). Resend retries with a fresh timestamp."
        )
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        raise WebhookPayloadError(
            "The delivery is signed, but its body is not JSON: a Resend event is a JSON object."
        ) from None
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str) or not kind.strip():
        raise WebhookPayloadError(
            "The delivery is signed, but its body is not a Resend event: expected a JSON object "
            'with a "type" (e.g. "email.delivered") and "data".'
        )
    return WebhookDelivery(id=msg_id, type=kind, payload=event)
