"""The Resend example: welcome a new user by email with ``io.resend``.

Each Resend call is a task of the run (named, with the Resend icon, the addresses and subject
as properties). The emails carry the task's idempotency key, so a retry after a rate limit, a
500 or a crashed worker never sends one twice. It runs against Resend
(``RESEND_API_KEY=re_... runio dev examples/resend_app.py:client``) or against
``runio_resend.testing.FakeResend`` (set ``RESEND_API_BASE`` to its URL), which is what
``examples/demo.py`` does.

``unsubscribe_bounced`` is started by Resend's webhook: when an email bounces, its address is
unsubscribed. The server checks each delivery with ``RESEND_WEBHOOK_SECRET``;
``connect_fake_resend`` makes a ``FakeResend`` deliver its events to the app's endpoint, signed
with that secret, and ``bounce_latest_email`` has it bounce an email, as the demo does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from runio_resend import EmailBouncedEvent, Resend

import runio

if TYPE_CHECKING:
    from runio_resend.testing import FakeResend

client = runio.Client(id="examples-resend")
resend = Resend()  # RESEND_API_KEY (RESEND_API_BASE, RESEND_WEBHOOK_SECRET) from the environment

SENDER = "Acme <hello@acme.dev>"


class SignUp(BaseModel):
    email: str
    name: str


def welcome_html(name: str) -> str:
    return f"<h1>Welcome, {name}!</h1><p>Your account is ready.</p>"


@client.define_job(
    id="resend-welcome",
    name="Welcome a new user by email",
    version="1.0.0",
    trigger=runio.event_trigger(name="user.signed_up", schema=SignUp),
    integrations={"resend": resend},
)
async def welcome(payload: SignUp, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    mail = io.use(resend)  # io.resend, typed: mypy checks each wrapper's parameters
    audiences = await mail.list_audiences("audiences")
    audience = next((a for a in audiences["data"] if a["name"] == "Customers"), None)
    if audience is None:
        audience = await mail.create_audience("create-audience", name="Customers")
    contact = await mail.create_contact(
        "contact", email=payload.email, first_name=payload.name, audience_id=audience["id"]
    )
    sent = await mail.send_email(
        "welcome-email",
        from_=SENDER,
        to=payload.email,
        subject=f"Welcome, {payload.name}!",
        html=welcome_html(payload.name),
        tags=[{"name": "kind", "value": "welcome"}],
    )
    # Scheduled from the event's time, not the clock: a retried or replayed run computes the
    # same parameters, which the idempotency key requires.
    follow_up_at = ctx.event.timestamp + timedelta(days=3)
    follow_up = await mail.send_email(
        "follow-up-email",
        from_=SENDER,
        to=payload.email,
        subject="How is it going?",
        text=f"Hi {payload.name}, reply to this email if you need a hand.",
        scheduled_at=follow_up_at.isoformat(),
    )
    return {"contact": contact["id"], "welcome": sent["id"], "follow_up": follow_up["id"]}


@client.define_job(
    id="resend-unsubscribe-bounced",
    name="Unsubscribe an address whose email bounced",
    version="1.0.0",
    trigger=resend.on_email_bounced(),
    integrations={"resend": resend},
)
async def unsubscribe_bounced(
    event: EmailBouncedEvent, io: runio.IO, ctx: runio.RunContext
) -> dict[str, Any]:
    bounce = event.data.bounce
    io.logger.info("email bounced", email=event.data.email_id, reason=bounce.message)
    if bounce.type != "Permanent":  # a full mailbox, say: Resend tries again
        return {"unsubscribed": []}
    mail = io.use(resend)
    for address in event.data.to:
        await mail.update_contact(f"unsubscribe:{address}", email=address, unsubscribed=True)
    return {"unsubscribed": event.data.to}


def connect_fake_resend(fake: FakeResend, server_url: str) -> None:
    """Have ``fake`` send its bounces to this app's webhook endpoint at ``server_url`` (a
    running ``runio dev`` or ``runio serve``), signed with the secret the app checks."""
    fake.add_webhook(
        f"{server_url.rstrip('/')}/api/v1/webhooks/{resend.id}",
        ["email.bounced"],
        secret=resend.require_setting("webhook_secret"),
    )


def bounce_latest_email(fake: FakeResend, address: str) -> str:
    """Have ``fake`` bounce the latest email it sent to ``address`` (not a scheduled one; Resend
    then tells the endpoint ``connect_fake_resend`` registered); returns the email's id."""
    sent = [e for e in fake.sent_to(address) if e["last_event"] not in ("scheduled", "canceled")]
    if not sent:
        raise LookupError(f"FakeResend has sent no email to {address}")
    email_id = str(sent[-1]["id"])
    fake.email_event(email_id, "email.bounced")
    return email_id
