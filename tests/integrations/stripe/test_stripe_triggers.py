"""Stripe webhooks start jobs: FakeStripe's signed deliveries, sent to a real runio server
(uvicorn in a thread) and run by a worker on the same database.

What a user would check: the event their Stripe account makes (a customer created by a job, a
subscription's invoice paid, a payment, a Checkout session) starts the job listening to it with
the typed event; forged, tampered, stale, unsigned and replayed deliveries are refused with
nothing stored; Stripe's redeliveries create no second run; a signed body that is not an event
is a 400; 500 deliveries at once are all stored; the signing secret is never logged or stored.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import stripe as stripe_sdk
from integration_world import text_columns
from runio_stripe import (
    CheckoutSessionEvent,
    CustomerEvent,
    HTTPXClient,
    PaymentIntentEvent,
    Stripe,
    SubscriptionEvent,
)
from runio_stripe.testing import FakeStripe
from server_harness import LiveServer
from stripe_helpers import API_KEY

import runio
from runio.plugins import create_plugin_manager
from runio.server import ServerConfig
from runio.testing import JobTester, TestClock

SECRET = "whsec_runioTestSigningSecret0123456789"


def define_jobs(client: runio.Client, stripe: Stripe) -> None:
    """The app: jobs started by Stripe's events, and one that makes a customer."""

    @client.define_job(
        id="signup",
        trigger=runio.event_trigger("user.signed_up"),
        integrations={"stripe": stripe},
    )
    async def signup(payload: dict[str, Any], io: runio.IO) -> str:
        customer = await io.stripe.create_customer("customer", email=payload["email"])
        return str(customer["id"])

    @client.define_job(id="welcome", trigger=stripe.on_customer_created())
    async def welcome(payload: CustomerEvent, io: runio.IO, ctx: runio.RunContext) -> Any:
        return {
            "model": type(payload).__name__,
            "event": payload.id,
            "customer": payload.data.object.id,
            "email": payload.data.object.email,
            "idempotency_key": payload.request.idempotency_key if payload.request else None,
            "raw": ctx.event.payload,
            "runio_event": ctx.event.id,
        }

    @client.define_job(
        id="usd-invoice-paid",
        trigger=stripe.on_event("invoice.paid", filter={"data": {"object": {"currency": ["usd"]}}}),
    )
    async def invoice_paid(payload: dict[str, Any], io: runio.IO) -> Any:
        invoice = payload["data"]["object"]
        return {"invoice": invoice["id"], "paid": invoice["amount_paid"], "type": payload["type"]}

    @client.define_job(id="plan-changed", trigger=stripe.on_subscription_updated())
    async def plan_changed(payload: SubscriptionEvent, io: runio.IO) -> Any:
        subscription = payload.data.object
        return {
            "model": type(payload).__name__,
            "price": subscription.items.data[0].price.id,
            "previous": payload.data.previous_attributes,
        }

    @client.define_job(id="paid", trigger=stripe.on_payment_intent_succeeded())
    async def paid(payload: PaymentIntentEvent, io: runio.IO) -> Any:
        return {"intent": payload.data.object.id, "received": payload.data.object.amount_received}

    @client.define_job(id="declined", trigger=stripe.on_payment_intent_payment_failed())
    async def declined(payload: PaymentIntentEvent, io: runio.IO) -> Any:
        error = payload.data.object.last_payment_error or {}
        return {"intent": payload.data.object.id, "decline_code": error.get("decline_code")}

    @client.define_job(id="checkout", trigger=stripe.on_checkout_session_completed())
    async def checkout(payload: CheckoutSessionEvent, io: runio.IO) -> Any:
        session = payload.data.object
        email = session.customer_details.email if session.customer_details else None
        return {"session": session.id, "email": email, "status": session.payment_status}


@dataclass
class Hooks:
    """FakeStripe, the app served by a live server (``web``) and worked by ``work`` on the same
    database, with the Stripe integration whose webhook secret is ``SECRET``."""

    fake: FakeStripe
    stripe: Stripe
    web: runio.Client
    work: runio.Client
    clock: TestClock
    database: Path
    server: LiveServer
    http_clients: list[HTTPXClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.server.url}/api/v1/webhooks/stripe"

    def run_worker(self) -> None:
        self.work.run_worker(until_idle=True)

    def runs(self, job_id: str | None = None) -> list[runio.Run]:
        return self.work.list_runs(job_id=job_id, limit=1000)

    def stored_events(self) -> list[tuple[str, str]]:
        """(id, name) of every stored event."""
        connection = sqlite3.connect(self.database)
        try:
            return list(connection.execute("SELECT id, name FROM events ORDER BY id"))
        finally:
            connection.close()

    def sdk(self) -> stripe_sdk.StripeClient:
        """The Stripe SDK on the fake (closed after the test)."""
        http = HTTPXClient(allow_sync_methods=True)
        self.http_clients.append(http)
        return stripe_sdk.StripeClient(
            API_KEY, base_addresses={"api": self.fake.url}, http_client=http
        )


def _client(database: Path, clock: TestClock) -> runio.Client:
    return runio.Client(
        "stripe-webhooks",
        database_url=f"sqlite:///{database}",
        clock=clock,
        time_scale=1,
        plugins=create_plugin_manager(entry_points=False),
    )


@pytest.fixture
def make_hooks(tmp_path: Path) -> Iterator[Callable[..., Hooks]]:
    made: list[Hooks] = []

    def make(*, webhook_secret: str | None = SECRET, port: int = 0, **settings: Any) -> Hooks:
        clock = TestClock(start=1_800_000_000.0)
        fake = FakeStripe(api_key=API_KEY, clock=clock.now).start()
        stripe = Stripe(
            api_key=API_KEY, base_url=fake.url, webhook_secret=webhook_secret, **settings
        )
        database = tmp_path / f"runio-{len(made)}.db"
        web, work = _client(database, clock), _client(database, clock)
        define_jobs(web, stripe)
        define_jobs(work, stripe)
        server = LiveServer(web, ServerConfig(port=port, poll_interval=0.2)).start()
        hooks = Hooks(fake, stripe, web, work, clock, database, server)
        made.append(hooks)
        return hooks

    yield make
    for hooks in made:
        for http in hooks.http_clients:
            http.close()  # type: ignore[no-untyped-call]
        hooks.server.stop()
        hooks.work.close()
        hooks.fake.stop()


@pytest.fixture
def hooks(make_hooks: Callable[..., Hooks]) -> Hooks:
    return make_hooks()


def customer(email: str = "ada@example.com", **fields: Any) -> dict[str, Any]:
    return {"id": "cus_Test0123456789", "object": "customer", "email": email, **fields}


# -- events the fake's API makes start the jobs listening to them ------------------------------


def test_a_customer_created_by_a_job_starts_the_job_listening_to_customer_created(
    hooks: Hooks,
) -> None:
    endpoint = hooks.fake.add_webhook_endpoint(hooks.url, ["customer.created"], secret=SECRET)
    signup = hooks.work.send_event("user.signed_up", {"email": "ada@example.com"}).run_ids[0]
    hooks.run_worker()
    customer_id = hooks.work.get_run(signup).output
    [delivery] = hooks.fake.wait_for_webhooks()
    assert (delivery.type, delivery.endpoint_id, delivery.status) == (
        "customer.created",
        endpoint["id"],
        200,
    )
    hooks.run_worker()

    [run] = hooks.runs("welcome")
    assert run.status == "COMPLETED"
    event = hooks.fake.events[delivery.event_id]
    assert run.output["model"] == "CustomerCreated"
    assert run.output["event"] == event["id"]
    assert run.output["customer"] == customer_id
    assert run.output["email"] == "ada@example.com"
    assert run.output["runio_event"] == f"stripe:{event['id']}"
    assert run.output["raw"] == event  # the event as Stripe sent it, untouched
    # The event names the request that made the customer: the signup task's idempotency key.
    [create] = [r for r in hooks.fake.requests if r.path == "/v1/customers"]
    assert run.output["idempotency_key"] == create.header("Idempotency-Key")
    assert (f"stripe:{event['id']}", "stripe:customer.created") in hooks.stored_events()


def test_a_subscription_pays_its_invoice_and_a_plan_change_carries_what_changed(
    hooks: Hooks,
) -> None:
    hooks.fake.add_webhook_endpoint(
        hooks.url, ["invoice.paid", "customer.subscription.updated"], secret=SECRET
    )
    sdk = hooks.sdk()
    buyer = sdk.v1.customers.create({"email": "ada@example.com", "payment_method": "pm_card_visa"})
    product = sdk.v1.products.create({"name": "Pro"})
    monthly, yearly = (
        sdk.v1.prices.create(
            {
                "product": product.id,
                "unit_amount": amount,
                "currency": "usd",
                "recurring": {"interval": interval},  # type: ignore[typeddict-item]
            }
        )
        for amount, interval in ((1500, "month"), (15000, "year"))
    )
    subscription = sdk.v1.subscriptions.create(
        {"customer": buyer.id, "items": [{"price": monthly.id}]}
    )
    item = subscription["items"]["data"][0]["id"]
    sdk.v1.subscriptions.update(subscription.id, {"items": [{"id": item, "price": yearly.id}]})
    hooks.fake.wait_for_webhooks()
    hooks.run_worker()

    [paid] = hooks.runs("usd-invoice-paid")
    assert paid.output == {
        "invoice": subscription["latest_invoice"],
        "paid": 1500,
        "type": "invoice.paid",
    }
    [changed] = hooks.runs("plan-changed")
    assert changed.output["model"] == "SubscriptionUpdated"
    assert changed.output["price"] == yearly.id
    assert changed.output["previous"]["items"]["data"][0]["price"]["id"] == monthly.id


def test_an_invoice_outside_the_trigger_filter_is_acknowledged_and_starts_nothing(
    hooks: Hooks,
) -> None:
    invoice = {"id": "in_Test1", "object": "invoice", "currency": "eur", "amount_paid": 900}
    answer = hooks.fake.send_event(hooks.url, "invoice.paid", invoice, secret=SECRET)
    assert answer.status_code == 200
    assert answer.json()["stored"] is False
    assert hooks.runs("usd-invoice-paid") == []


def test_payments_and_checkout_start_their_jobs(hooks: Hooks) -> None:
    hooks.fake.add_webhook_endpoint(hooks.url, ["*"], secret=SECRET)
    sdk = hooks.sdk()
    intent = sdk.v1.payment_intents.create(
        {"amount": 2500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    with pytest.raises(stripe_sdk.CardError):
        sdk.v1.payment_intents.create(
            {
                "amount": 900,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )
    price = sdk.v1.prices.create(
        {"product_data": {"name": "T-shirt"}, "unit_amount": 2000, "currency": "usd"}
    )
    session = sdk.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer_email": "grace@example.com",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://example.com/thanks",
        }
    )
    hooks.fake.complete_checkout_session(session.id)
    hooks.fake.wait_for_webhooks()
    hooks.run_worker()

    [paid] = hooks.runs("paid")
    assert paid.output == {"intent": intent.id, "received": 2500}
    [declined] = hooks.runs("declined")
    assert declined.output["decline_code"] == "insufficient_funds"
    [checkout] = hooks.runs("checkout")
    assert checkout.output == {
        "session": session.id,
        "email": "grace@example.com",
        "status": "paid",
    }
    # Every event the fake made went out, and the ones no job listens to started nothing.
    statuses = {d.status for d in hooks.fake.event_deliveries}
    assert statuses == {200}
    assert len(hooks.fake.event_deliveries) == len(hooks.fake.events)


# -- refusals: nothing stored --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "says"),
    [
        ("wrong_secret", "does not match"),
        ("tampered", "does not match"),
        ("stale", "old, more than the 300 s tolerance"),
        ("missing", "no Stripe-Signature header"),
        ("malformed", "no timestamp"),
    ],
)
def test_a_bad_signature_is_refused_and_nothing_is_stored(
    hooks: Hooks, signature: Any, says: str
) -> None:
    answer = hooks.fake.send_event(
        hooks.url, "customer.created", customer(), secret=SECRET, signature=signature
    )
    assert answer.status_code == 401
    assert says in answer.json()["detail"]
    assert hooks.stored_events() == []
    assert hooks.runs() == []


def test_a_signature_from_the_future_is_refused(hooks: Hooks) -> None:
    answer = hooks.fake.send_event(
        hooks.url,
        "customer.created",
        customer(),
        secret=SECRET,
        signed_at=hooks.clock.now() + 3600,
    )
    assert answer.status_code == 401
    assert "clock is behind" in answer.json()["detail"]
    assert hooks.stored_events() == []


def test_a_replayed_delivery_creates_no_second_run_and_is_refused_once_stale(
    hooks: Hooks,
) -> None:
    first = hooks.fake.send_event(hooks.url, "customer.created", customer(), secret=SECRET)
    assert first.status_code == 200
    [sent] = hooks.fake.webhook_deliveries

    hooks.clock.advance(60)  # a replay within the tolerance: the same event, stored once
    again = hooks.fake.replay_delivery(sent)
    assert again.status_code == 200
    assert again.json()["event_id"] == first.json()["event_id"]
    hooks.clock.advance(300)  # past it: the old signature is refused
    late = hooks.fake.replay_delivery(sent)
    assert late.status_code == 401
    assert "old, more than the 300 s tolerance" in late.json()["detail"]

    hooks.run_worker()
    assert len(hooks.stored_events()) == 1
    [run] = hooks.runs("welcome")
    assert run.status == "COMPLETED"


def test_stripe_redelivering_an_event_creates_no_second_run(hooks: Hooks) -> None:
    hooks.fake.add_webhook_endpoint(hooks.url, ["customer.created"], secret=SECRET)
    hooks.sdk().v1.customers.create({"email": "ada@example.com"})
    [delivery] = hooks.fake.wait_for_webhooks()
    hooks.run_worker()
    for _ in range(3):  # Stripe retries later, each attempt newly signed
        hooks.clock.advance(hours=1)
        again = hooks.fake.resend_event(delivery.event_id, hooks.url)
        assert again.status_code == 200
        assert again.json()["event_id"] == f"stripe:{delivery.event_id}"
    hooks.run_worker()
    assert len(hooks.runs("welcome")) == 1
    assert len(hooks.stored_events()) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b'{"object": "event", "id": "evt_1"}', "no type"),
        (b'{"object": "customer", "id": "cus_1", "type": "customer.created"}', "'customer'"),
        (b'{"object": "v2.core.event", "id": "evt_1", "type": "v1.billing.meter"}', "thin"),
        (b'{"object": "event", "id": "evt_1", "type": "customer.created"' + b"\xff}", "UTF-8"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_a_400(hooks: Hooks, body: bytes, says: str) -> None:
    signed, headers = hooks.fake.sign(body, secret=SECRET)
    answer = hooks.fake.deliver_webhook(hooks.url, signed, headers)
    assert answer.status_code == 400
    assert says in answer.json()["detail"]
    assert hooks.stored_events() == []


def test_an_event_that_fails_the_typed_payload_is_refused_with_the_fields_at_fault(
    hooks: Hooks,
) -> None:
    answer = hooks.fake.send_event(
        hooks.url,
        "customer.created",
        {"object": "customer", "email": "x@example.com"},
        secret=SECRET,
    )
    assert answer.status_code == 422
    assert "data.object.id" in answer.json()["detail"]
    assert hooks.stored_events() == []


def test_an_event_no_job_listens_to_is_acknowledged_and_not_stored(hooks: Hooks) -> None:
    answer = hooks.fake.send_event(
        hooks.url, "product.created", {"id": "prod_1", "object": "product"}, secret=SECRET
    )
    assert answer.status_code == 200
    assert answer.json()["stored"] is False
    assert hooks.stored_events() == []


# -- registering the endpoint, and the secret --------------------------------------------------


def test_register_webhook_then_restart_with_its_secret(make_hooks: Callable[..., Hooks]) -> None:
    before = make_hooks(webhook_secret=None)  # the app runs before its endpoint is registered
    registration = before.stripe.register_webhook(before.url, ["customer.created"])
    assert registration.id.startswith("we_")
    assert registration.secret is not None and registration.secret.startswith("whsec_")
    assert registration.events == ("customer.created",)
    assert before.fake.webhook_endpoints[registration.id]["api_version"] == stripe_sdk.api_version

    before.sdk().v1.customers.create({"email": "ada@example.com"})
    [refused] = before.fake.wait_for_webhooks()
    assert refused.status == 503  # Stripe keeps it and delivers again later
    assert "STRIPE_WEBHOOK_SECRET" in refused.response["detail"]
    assert before.stored_events() == []

    # The operator sets STRIPE_WEBHOOK_SECRET and restarts on the same port; Stripe retries.
    url = before.url
    before.server.stop()
    after = make_hooks(webhook_secret=registration.secret, port=int(url.split(":")[2][:5]))
    assert after.url == url
    again = before.fake.resend_event(refused.event_id, url)
    assert again.status_code == 200
    after.run_worker()
    [run] = after.runs("welcome")
    assert run.output["email"] == "ada@example.com"


def test_register_webhook_says_what_is_wrong(hooks: Hooks) -> None:
    with pytest.raises(runio.errors.ConfigurationError, match="event types"):
        hooks.stripe.register_webhook(hooks.url, [])
    with pytest.raises(runio.errors.ConfigurationError, match="http"):
        hooks.stripe.register_webhook("ftp://example.com/hook", ["invoice.paid"])
    wrong_key = Stripe(api_key="sk_test_wrong_key_0000", base_url=hooks.fake.url)
    with pytest.raises(Exception, match="Stripe 401") as refused:
        wrong_key.register_webhook(hooks.url, ["invoice.paid"])
    assert "sk_test_wrong_key_0000" not in str(refused.value)
    assert hooks.fake.webhook_endpoints == {}


def test_the_signing_secret_is_never_logged_stored_or_answered(
    hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        hooks.fake.send_event(
            hooks.url, "customer.created", customer(), secret=SECRET, signature=signature
        )
        for signature in ("valid", "wrong_secret", "tampered", "stale", "malformed")
    ]
    assert [a.status_code for a in answers] == [200, 401, 401, 401, 401]
    hooks.run_worker()
    assert hooks.runs("welcome")[0].status == "COMPLETED"
    assert SECRET not in caplog.text
    assert all(SECRET not in a.text for a in answers)
    refusals = [r for r in caplog.records if r.name == "runio.server.webhooks"]
    assert len([r for r in refusals if "refused" in r.getMessage()]) == 4  # logged, without it
    assert not [c for c in text_columns(hooks.database) if SECRET in c[2]]


# -- a burst --------------------------------------------------------------------------------------


def test_a_burst_of_500_deliveries_is_all_stored_and_run(hooks: Hooks) -> None:
    def send(n: int) -> int:
        body = customer(f"user{n}@example.com", id=f"cus_Burst{n:05d}")
        return hooks.fake.send_event(hooks.url, "customer.created", body, secret=SECRET).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(500)))
    assert statuses == [200] * 500
    stored = hooks.stored_events()
    assert len(stored) == 500
    assert {f"stripe:{event_id}" for event_id in hooks.fake.events} == {e[0] for e in stored}
    hooks.run_worker()
    runs = hooks.runs("welcome")
    assert len(runs) == 500
    assert {run.status for run in runs} == {"COMPLETED"}
    assert {run.output["email"] for run in runs} == {f"user{n}@example.com" for n in range(500)}


# -- the example app -----------------------------------------------------------------------------


def test_the_example_apps_welcome_job_runs_for_the_customer_drive_webhooks_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite:///{tmp_path / 'examples.db'}"
    with FakeStripe() as fake:
        for name, value in {
            "RUNIO_DATABASE_URL": database,
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_API_BASE": fake.url,
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[3]))
        monkeypatch.delitem(sys.modules, "examples.stripe_app", raising=False)
        example = importlib.import_module("examples.stripe_app")
        work = runio.Client(example.client.id, database_url=database)
        for job in example.client.jobs.values():
            work.define_job(
                id=job.id, trigger=job.trigger, version=job.version, integrations=job.integrations
            )(job.fn)
        server = LiveServer(example.client, ServerConfig(port=0, poll_interval=0.2)).start()
        try:
            run_ids = asyncio.run(example.drive_webhooks(fake, server.url))
            work.run_worker(until_idle=True)
            [run_id] = run_ids
            run = work.get_run(run_id)
        finally:
            server.stop()
            work.close()
            sys.modules.pop("examples.stripe_app", None)  # its client is closed
    assert (run.job_id, run.status) == ("stripe-welcome-customer", "COMPLETED")
    assert run.output["email"] == "grace@example.com"


def test_a_signed_event_through_the_endpoints_handler_in_memory(tmp_path: Path) -> None:
    clock = TestClock(start=1_800_000_000.0)
    client = _client(tmp_path / "memory.db", clock)
    stripe = Stripe(api_key=API_KEY, webhook_secret=SECRET)
    define_jobs(client, stripe)
    fake = FakeStripe(clock=clock.now)  # not started: only its events and signatures
    try:
        tester = JobTester(client, clock)
        body, headers = fake.signed_event("customer.created", customer(), secret=SECRET)
        assert tester.deliver_webhook("stripe", body, headers).status_code == 200
        assert tester.deliver_webhook("stripe", body, headers).status_code == 200  # again
        stale_body, stale_headers = fake.signed_event(
            "customer.created", customer(), secret=SECRET, signature="stale"
        )
        assert tester.deliver_webhook("stripe", stale_body, stale_headers).status_code == 401
        [run] = client.list_runs(job_id="welcome")
        assert (run.status, run.output["email"]) == ("COMPLETED", "ada@example.com")
    finally:
        client.close()
