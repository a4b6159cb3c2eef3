"""TestNotes: a vendor without idempotency keys, for runio's own tests of the plugin kit."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, ClassVar

import runio
from runio.errors import WebhookPayloadError, WebhookSignatureError
from runio.integrations import (
    HTTPClient,
    HTTPStatusError,
    WebhookDelivery,
    WebhookReply,
    WebhookRequest,
    WebhookTrigger,
    retry_after_seconds,
)

SIGNATURE_TOLERANCE = 300

__all__ = ["TestNotes"]


class TestNotes(runio.Integration[HTTPClient]):
    """Notes on boards. Writes carry a marker, since the vendor has no idempotency keys."""

    __test__ = False  # not a pytest test class

    namespace = "testnotes"
    name = "Test Notes"
    icon = "note"
    idempotency = "marker"
    token: str = runio.setting(env="TESTNOTES_TOKEN")
    base_url: str = runio.setting(env="TESTNOTES_URL", secret=False, help="the API's base URL")
    webhook_secret: str | None = runio.setting(
        env="TESTNOTES_WEBHOOK_SECRET", required=False, help="signs webhook deliveries"
    )
    webhook_help: ClassVar[str] = "Test Notes settings → Webhooks → Add endpoint."

    def create_client(self) -> HTTPClient:
        return HTTPClient(base_url=self.base_url, token=self.token, timeout=10)

    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
        if isinstance(error, HTTPStatusError):
            wait = retry_after_seconds(error.headers.get("Retry-After"))
            if error.status == 429 and wait is not None:
                return runio.ErrorDecision.retry_at(wait)
            if error.status >= 500 or error.status == 429:
                return runio.ErrorDecision.retry()
            return runio.ErrorDecision.fail()
        return None

    @runio.integration_task(
        name="Post Note",
        effect="write",
        properties=lambda p: [runio.Property("Board", p["board"])],
    )
    def post_note(
        self, client: HTTPClient, task: runio.Task, /, *, board: str, text: str
    ) -> dict[str, Any]:
        """Post ``text`` on ``board``, marked so that a retry after an attempt of unknown
        outcome finds the note instead of posting it twice."""
        posted = client.request(
            "POST", f"/boards/{board}/notes", json={"text": text, "marker": self.marker(task)}
        )
        return dict(posted["body"])

    @post_note.find_previous
    def _find_note(
        self, client: HTTPClient, task: runio.Task, /, *, board: str, text: str
    ) -> dict[str, Any] | None:
        found = client.request(
            "GET", f"/boards/{board}/notes", params={"marker": self.marker(task)}
        )
        return dict(found["body"][0]) if found["body"] else None

    # -- triggers ----------------------------------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
        """Deliveries are signed ``hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`` in
        ``Notes-Signature``, the time in ``Notes-Timestamp``; 5 minutes of tolerance."""
        secret = self.require_setting("webhook_secret")
        stamp = request.header("Notes-Timestamp") or ""
        signature = request.header("Notes-Signature") or ""
        if not stamp.isdigit() or not signature:
            raise WebhookSignatureError("no Notes-Timestamp and Notes-Signature headers")
        if not hmac.compare_digest(sign(secret, int(stamp), request.body), signature):
            raise WebhookSignatureError("the Notes-Signature does not match the body")
        if abs(request.received_at - int(stamp)) > SIGNATURE_TOLERANCE:
            raise WebhookSignatureError("the signature is more than 5 minutes old")
        try:
            event = json.loads(request.body)
            return WebhookDelivery(id=str(event["id"]), type=str(event["type"]), payload=event)
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookPayloadError(f"not a Test Notes event ({exc})") from None

    def on_note_posted(self, *, board: str | None = None) -> WebhookTrigger:
        """Runs the job for each note posted (on ``board`` only, if given)."""
        return self.webhook_trigger(
            "note.posted", filter=None if board is None else {"note": {"board": [board]}}
        )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Notes-Signature`` of ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
