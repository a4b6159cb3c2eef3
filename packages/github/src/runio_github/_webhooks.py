"""Reading GitHub's webhook deliveries: the signature check, the event's type, id and JSON.

GitHub signs a delivery's body with the hook's secret, HMAC-SHA256, in ``X-Hub-Signature-256:
sha256=<hex>`` (and SHA-1 in the legacy ``X-Hub-Signature``, which is not trusted here). It
signs no timestamp, so a delivery cannot be too old; a replayed delivery carries the same
``X-GitHub-Delivery`` GUID, which is its runio event id, so it starts nothing twice. The body
is the event's JSON, or, for a hook made with content type ``form``, a form whose ``payload``
field holds it. This module touches neither PyGithub nor the integration's settings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from typing import Any

from runio.errors import JobDefinitionError, WebhookPayloadError, WebhookSignatureError
from runio.integrations import WebhookDelivery, WebhookReply, WebhookRequest

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
_EVENT_NAME = re.compile(r"[a-z][a-z_]{0,99}")
_DELIVERY_ID = re.compile(r"[A-Za-z0-9-]{1,100}")


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body`` signed with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(request: WebhookRequest, secret: str) -> None:
    """Raise ``WebhookSignatureError`` unless ``request`` is signed with ``secret``."""
    given = request.header(SIGNATURE_HEADER)
    if not given and request.header("X-Hub-Signature"):
        raise WebhookSignatureError(
            f"the delivery has no {SIGNATURE_HEADER} header, only the SHA-1 X-Hub-Signature, "
            "which is not accepted: GitHub sends both, so this did not come from GitHub as "
            "sent (a proxy may drop the header)."
        )
    if not given:
        raise WebhookSignatureError(
            f"the delivery has no {SIGNATURE_HEADER} header: give the GitHub webhook a secret "
            "(the webhook's settings, Secret) equal to GITHUB_WEBHOOK_SECRET."
        )
    scheme, _, digest = given.strip().partition("=")
    if scheme != "sha256" or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header is not 'sha256=<64 hex digits>': the delivery was "
            "not signed by GitHub."
        )
    if not hmac.compare_digest(signature(secret, request.body), f"sha256={digest.lower()}"):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} signature does not match the body: check that "
            "GITHUB_WEBHOOK_SECRET (the integration's webhook_secret) is the secret set on the "
            "GitHub webhook, and that nothing between GitHub and runio changes the body."
        )


def _event_json(request: WebhookRequest) -> Any:
    content_type = (request.header("Content-Type") or "application/json").split(";")[0].strip()
    if content_type.lower() == "application/x-www-form-urlencoded":
        try:
            fields = urllib.parse.parse_qs(
                request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookPayloadError(
                f"the delivery's body is not a form ({type(exc).__name__}): a GitHub webhook of "
                "content type 'form' sends payload=<the event's JSON>."
            ) from None
        values = fields.get("payload")
        if not values or len(values) != 1:
            raise WebhookPayloadError(
                "the form delivery has no single 'payload' field: a GitHub webhook of content "
                "type 'form' sends payload=<the event's JSON> (or set the webhook's content "
                "type to application/json)."
            )
        text: str | bytes = values[0]
    elif content_type.lower() in ("application/json", ""):
        text = request.body
    else:
        raise WebhookPayloadError(
            f"the delivery's Content-Type is {content_type[:100]!r}: GitHub webhooks send "
            "application/json (or application/x-www-form-urlencoded); set the webhook's content "
            "type to application/json."
        )
    try:
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookPayloadError(
            f"the delivery's body is not JSON ({type(exc).__name__}: {str(exc)[:200]})."
        ) from None


def read_delivery(request: WebhookRequest) -> WebhookDelivery | WebhookReply:
    """The event of a delivery whose signature checked out: ``WebhookDelivery(id=<X-GitHub-
    Delivery>, type=<X-GitHub-Event>, payload=<the event>)``, or for ``ping`` (sent when a
    webhook is created) a ``WebhookReply``. ``WebhookPayloadError`` for anything else."""
    event = (request.header(EVENT_HEADER) or "").strip()
    if not _EVENT_NAME.fullmatch(event):
        raise WebhookPayloadError(
            f"the delivery's {EVENT_HEADER} header is "
            f"{'missing' if not event else repr(event[:100])}: GitHub names each delivery's "
            "event there (issues, push, pull_request...)."
        )
    delivery = (request.header(DELIVERY_HEADER) or "").strip()
    if not _DELIVERY_ID.fullmatch(delivery):
        raise WebhookPayloadError(
            f"the delivery's {DELIVERY_HEADER} header is "
            f"{'missing' if not delivery else repr(delivery[:100])}: GitHub sends each "
            "delivery's GUID there (the same on a redelivery)."
        )
    payload = _event_json(request)
    if not isinstance(payload, dict):
        raise WebhookPayloadError(
            f"the {event} event's JSON is {type(payload).__name__}, not an object."
        )
    if event == "ping":
        return WebhookReply(body={"ok": True, "event": "ping", "hook_id": payload.get("hook_id")})
    return WebhookDelivery(id=delivery, type=event, payload=payload)


def check_event_type(event_type: Any, where: str) -> str:
    """``event_type`` if it names a GitHub webhook event a trigger can listen to."""
    if not isinstance(event_type, str) or not _EVENT_NAME.fullmatch(event_type):
        raise JobDefinitionError(
            f"{where}: {event_type!r} is not a GitHub webhook event; give the name GitHub "
            "sends in X-GitHub-Event, e.g. 'issues', 'push', 'pull_request', 'issue_comment'."
        )
    if event_type == "ping":
        raise JobDefinitionError(
            f"{where}: 'ping' is GitHub's check of a new webhook; it is answered, never stored, "
            "so it cannot start a job."
        )
    return event_type
