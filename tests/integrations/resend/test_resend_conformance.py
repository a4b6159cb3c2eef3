"""runio's integration conformance suite, run on ``Resend`` against ``FakeResend``: every
wrapper recorded as a task, the idempotency key on every send, one email after a dropped
connection, rate limits at Resend's time, permanent errors at once, no secret stored or
logged, settings from arguments or the environment, and triggers (Svix-signed deliveries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runio_resend import Resend
from runio_resend.testing import FakeResend

from runio.testing import FakeVendorServer, IntegrationConformance

SENDER = "Acme <hello@acme.dev>"
EMAIL = {"from_": SENDER, "to": "ada@example.com", "subject": "Welcome!", "html": "<p>Hi</p>"}


class TestResendConformance(IntegrationConformance):
    integration_class = Resend
    fake_server_class = FakeResend
    write = "send_email"
    readme = Path(__file__).resolve().parents[3] / "packages" / "resend" / "README.md"

    def make_server(self, secret: str) -> FakeVendorServer:
        return FakeResend(api_key=secret)

    def make_integration(self, server: FakeVendorServer, secret: str) -> Resend:
        return Resend(api_key=secret, base_url=server.url)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"RESEND_API_KEY": secret, "RESEND_API_BASE": server.url}

    def webhook_delivery(self, signing_secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        fake = FakeResend(clock=lambda: now, seed=1)  # not started: it only signs
        data = {"email_id": "e-1", "from": SENDER, "to": ["ada@example.com"], "subject": "Hi"}
        return fake.signed_delivery("email.delivered", data, secret=signing_secret)

    def example(self, wrapper: str, server: FakeVendorServer) -> dict[str, Any]:
        assert isinstance(server, FakeResend)
        if wrapper == "send_email":
            return dict(EMAIL)
        if wrapper == "send_batch":
            return {"emails": [dict(EMAIL), {**EMAIL, "to": "grace@example.com"}]}
        if wrapper == "get_email":
            return {"id": server.add_email()["id"]}
        if wrapper in ("update_email", "cancel_email"):
            email = server.add_email(scheduled_at="2099-01-01T09:00:00Z")
            if wrapper == "cancel_email":
                return {"id": email["id"]}
            return {"id": email["id"], "scheduled_at": "2099-01-02T09:00:00Z"}
        if wrapper == "create_audience":
            return {"name": "Customers"}
        if wrapper in ("get_audience", "remove_audience"):
            return {"id": server.add_audience()["id"]}
        if wrapper in ("list_audiences", "list_domains"):
            return {"limit": 10}
        if wrapper == "create_contact":
            return {"email": "ada@example.com", "first_name": "Ada"}
        if wrapper in ("get_contact", "remove_contact"):
            return {"email": server.add_contact("ada@example.com")["email"]}
        if wrapper == "update_contact":
            return {"id": server.add_contact("ada@example.com")["id"], "last_name": "Lovelace"}
        if wrapper == "list_contacts":
            return {"audience_id": server.add_audience()["id"]}
        raise AssertionError(f"no example call of {wrapper!r}: add one")
