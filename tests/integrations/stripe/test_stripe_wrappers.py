"""Every task wrapper, through the real Stripe SDK against FakeStripe, inside real runs: what
each returns, how it is recorded (name, icon, properties, params), and what reaches Stripe
(the task's idempotency key on every write and on no read, the Connect account)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from runio_stripe import HTTPXClient, Stripe
from runio_stripe.testing import FakeStripe
from stripe_helpers import API_KEY, World

import runio
from runio.testing import FakeRequest


def requests_to(fake: FakeStripe, method: str, path: str) -> list[FakeRequest]:
    return [r for r in fake.requests if r.method == method and r.path == path]


def props(task: runio.TaskRun) -> dict[str, str]:
    return {p["label"]: p["text"] for p in task.properties}


def assert_write(fake: FakeStripe, task: runio.TaskRun, method: str, path: str) -> None:
    """The task's write went out once, to ``method path``, with the task's idempotency key."""
    sent = [r for r in fake.requests if r.header("Idempotency-Key") == task.idempotency_key]
    assert [(r.method, r.path) for r in sent] == [(method, path)]


def assert_read(fake: FakeStripe, path: str) -> None:
    sent = requests_to(fake, "GET", path)
    assert sent, f"no GET {path}"
    assert all(r.header("Idempotency-Key") is None for r in sent)


@pytest.fixture
def sdk(fake: FakeStripe) -> Iterator[stripe.StripeClient]:
    """A plain synchronous SDK client on the fake, to seed it."""
    http = HTTPXClient(allow_sync_methods=True)
    yield stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, http_client=http)
    http.close()


def test_customers_create_update_retrieve(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        made = await io_stripe.create_customer(
            "create", email="ada@example.com", name="Ada", metadata={"plan": "pro", "ref": "7"}
        )
        updated = await io_stripe.update_customer(
            "update", id=made["id"], name="Ada Lovelace", metadata={"plan": ""}
        )
        got = await io_stripe.retrieve_customer("retrieve", id=made["id"])
        return made, updated, got

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    made, updated, got = run.output
    assert made["object"] == "customer" and made["id"].startswith("cus_")
    assert made["email"] == "ada@example.com"
    assert made["metadata"] == {"plan": "pro", "ref": "7"}
    assert updated["name"] == "Ada Lovelace"
    assert updated["metadata"] == {"ref": "7"}  # "" removes a key, as in Stripe
    assert got == world.fake.customers[made["id"]]
    assert list(world.fake.customers) == [made["id"]]

    create = run.task("create")
    assert (create.name, create.icon, create.status) == ("Create Customer", "stripe", "COMPLETED")
    assert props(create) == {"Email": "ada@example.com", "Name": "Ada"}
    assert create.params == {
        "email": "ada@example.com",
        "name": "Ada",
        "metadata": {"plan": "pro", "ref": "7"},
    }
    assert create.output_properties == [{"label": "ID", "text": made["id"]}]
    assert_write(world.fake, create, "POST", "/v1/customers")

    update = run.task("update")
    assert update.name == "Update Customer"
    assert props(update) == {"Customer": made["id"], "Name": "Ada Lovelace"}
    assert update.params == {"id": made["id"], "name": "Ada Lovelace", "metadata": {"plan": ""}}
    assert_write(world.fake, update, "POST", f"/v1/customers/{made['id']}")

    retrieve = run.task("retrieve")
    assert (retrieve.name, props(retrieve)) == ("Retrieve Customer", {"Customer": made["id"]})
    assert_read(world.fake, f"/v1/customers/{made['id']}")


def test_list_customers_follows_pages_up_to_max_items(
    world: World, sdk: stripe.StripeClient
) -> None:
    made = [sdk.v1.customers.create({"email": f"u{i}@example.com"}).id for i in range(7)]
    newest_first = made[::-1]

    async def body(io_stripe: Any) -> Any:
        bounded = await io_stripe.list_customers("bounded", max_items=5, limit=3)
        everything = await io_stripe.list_customers("all")
        filtered = await io_stripe.list_customers("filtered", email="u3@example.com")
        return bounded, everything, filtered

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    bounded, everything, filtered = run.output
    assert bounded["object"] == "list"
    assert [c["id"] for c in bounded["data"]] == newest_first[:5]
    assert bounded["has_more"] is True  # more exist beyond max_items
    assert [c["id"] for c in everything["data"]] == newest_first
    assert everything["has_more"] is False
    assert [c["email"] for c in filtered["data"]] == ["u3@example.com"]

    pages = [r.query for r in requests_to(world.fake, "GET", "/v1/customers")]
    assert pages[0] == {"limit": ["3"]}
    assert pages[1] == {"limit": ["2"], "starting_after": [newest_first[2]]}  # 5 - 3 left
    assert pages[2] == {"limit": ["100"]}  # the default: Stripe's largest page
    task = run.task("bounded")
    assert task.name == "List Customers"
    assert props(task) == {"Max items": "5"}
    assert task.params == {"max_items": 5, "limit": 3}
    assert task.output_properties == [{"label": "Objects", "text": "5"}]
    assert props(run.task("all")) == {"Max items": "100"}


def test_list_customers_rejects_a_bad_max_items(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        return await io_stripe.list_customers("bad", max_items=0)

    run = world.run(body)
    assert run.status == "FAILED"
    assert "max_items must be a positive integer" in run.task("bad").error["message"]
    assert world.fake.requests == []


def test_payments_charge_intent_confirm_refund(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        customer = await io_stripe.create_customer("customer", email="ada@example.com")
        charge = await io_stripe.create_charge(
            "charge", amount=1500, currency="eur", source="tok_visa", description="Tea"
        )
        intent = await io_stripe.create_payment_intent(
            "intent", amount=2000, currency="usd", customer=customer["id"]
        )
        confirmed = await io_stripe.confirm_payment_intent(
            "confirm", id=intent["id"], payment_method="pm_card_visa"
        )
        refund = await io_stripe.create_refund("refund", payment_intent=intent["id"], amount=500)
        return charge, intent, confirmed, refund

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    charge, intent, confirmed, refund = run.output
    fake = world.fake
    assert charge["id"].startswith("ch_") and charge["status"] == "succeeded"
    assert (charge["amount"], charge["currency"], charge["paid"]) == (1500, "eur", True)
    assert charge["payment_method_details"]["card"]["last4"] == "4242"
    assert intent["id"].startswith("pi_") and intent["status"] == "requires_payment_method"
    assert intent["client_secret"].startswith(intent["id"] + "_secret_")
    assert confirmed["status"] == "succeeded" and confirmed["amount_received"] == 2000
    assert confirmed["latest_charge"] in fake.charges
    assert refund["id"].startswith("re_") and refund["status"] == "succeeded"
    assert (refund["amount"], refund["charge"]) == (500, confirmed["latest_charge"])
    assert fake.charges[confirmed["latest_charge"]]["amount_refunded"] == 500

    task = run.task("charge")
    assert task.name == "Create Charge"
    assert props(task) == {"Amount": "15.00 EUR", "Description": "Tea"}
    assert_write(fake, task, "POST", "/v1/charges")
    task = run.task("intent")
    assert (task.name, props(task)) == (
        "Create Payment Intent",
        {"Amount": "20.00 USD", "Customer": intent["customer"]},
    )
    assert task.redact == ["client_secret"]
    assert_write(fake, task, "POST", "/v1/payment_intents")
    task = run.task("confirm")
    assert task.name == "Confirm Payment Intent"
    assert props(task) == {"Payment intent": intent["id"], "Payment method": "pm_card_visa"}
    assert task.output_properties == [{"label": "Status", "text": "succeeded"}]
    assert_write(fake, task, "POST", f"/v1/payment_intents/{intent['id']}/confirm")
    task = run.task("refund")
    assert (task.name, props(task)) == (
        "Create Refund",
        {"Payment intent": intent["id"], "Amount": "500"},
    )
    assert_write(fake, task, "POST", "/v1/refunds")


def test_card_details_are_never_recorded(world: World) -> None:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}

    async def body(io_stripe: Any) -> Any:
        try:
            await io_stripe.create_payment_intent(
                "raw-card",
                amount=100,
                currency="usd",
                payment_method_data={"type": "card", "card": card},
            )
        except runio.errors.TaskFailedError:
            return "refused"
        return "accepted"

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    params = run.task("raw-card").params
    assert params["payment_method_data"]["card"] == {
        "number": "[redacted]",
        "exp_month": 12,
        "exp_year": 2034,
        "cvc": "[redacted]",
    }


def test_billing_product_price_subscription_invoice_checkout(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        customer = await io_stripe.create_customer(
            "customer", email="ada@example.com", payment_method="pm_card_visa"
        )
        product = await io_stripe.create_product("product", name="Pro plan")
        price = await io_stripe.create_price(
            "price",
            product=product["id"],
            unit_amount=2000,
            currency="usd",
            recurring={"interval": "month"},
        )
        subscription = await io_stripe.create_subscription(
            "subscription", customer=customer["id"], items=[{"price": price["id"]}]
        )
        fetched = await io_stripe.retrieve_subscription(
            "retrieve", id=subscription["id"], expand=["latest_invoice"]
        )
        updated = await io_stripe.update_subscription(
            "update", id=subscription["id"], cancel_at_period_end=True, metadata={"why": "test"}
        )
        canceled = await io_stripe.cancel_subscription("cancel", id=subscription["id"])
        invoice = await io_stripe.create_invoice(
            "invoice", customer=customer["id"], collection_method="send_invoice", days_until_due=30
        )
        session = await io_stripe.create_checkout_session(
            "checkout",
            mode="subscription",
            customer=customer["id"],
            line_items=[{"price": price["id"], "quantity": 2}],
            success_url="https://example.com/thanks",
        )
        return product, price, subscription, fetched, updated, canceled, invoice, session

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    product, price, subscription, fetched, updated, canceled, invoice, session = run.output
    fake = world.fake
    assert product["id"].startswith("prod_") and product["name"] == "Pro plan"
    assert price["id"].startswith("price_") and price["type"] == "recurring"
    assert price["recurring"]["interval"] == "month" and price["unit_amount"] == 2000
    assert subscription["id"].startswith("sub_") and subscription["status"] == "active"
    assert subscription["items"]["data"][0]["price"]["id"] == price["id"]
    assert fetched["latest_invoice"]["id"] == subscription["latest_invoice"]  # expanded
    assert fetched["latest_invoice"]["status"] == "paid"
    assert updated["cancel_at_period_end"] is True and updated["metadata"] == {"why": "test"}
    assert canceled["status"] == "canceled" and canceled["canceled_at"] is not None
    assert fake.subscriptions[subscription["id"]]["status"] == "canceled"
    assert invoice["id"].startswith("in_") and invoice["status"] == "draft"
    assert invoice["due_date"] == invoice["created"] + 30 * 86400
    assert session["id"].startswith("cs_test_") and session["mode"] == "subscription"
    assert session["amount_total"] == 4000 and session["url"].startswith(fake.url)

    expected = {
        "product": ("Create Product", {"Name": "Pro plan"}, "POST", "/v1/products"),
        "price": (
            "Create Price",
            {"Product": product["id"], "Amount": "20.00 USD", "Interval": "month"},
            "POST",
            "/v1/prices",
        ),
        "subscription": (
            "Create Subscription",
            {"Customer": subscription["customer"], "Prices": price["id"]},
            "POST",
            "/v1/subscriptions",
        ),
        "update": (
            "Update Subscription",
            {"Subscription": subscription["id"]},
            "POST",
            f"/v1/subscriptions/{subscription['id']}",
        ),
        "cancel": (
            "Cancel Subscription",
            {"Subscription": subscription["id"]},
            "DELETE",
            f"/v1/subscriptions/{subscription['id']}",
        ),
        "invoice": (
            "Create Invoice",
            {"Customer": subscription["customer"]},
            "POST",
            "/v1/invoices",
        ),
        "checkout": (
            "Create Checkout Session",
            {"Mode": "subscription", "Customer": subscription["customer"]},
            "POST",
            "/v1/checkout/sessions",
        ),
    }
    for key, (name, properties, method, path) in expected.items():
        task = run.task(key)
        assert (task.name, task.icon, props(task)) == (name, "stripe", properties), key
        assert_write(fake, task, method, path)
    retrieve = run.task("retrieve")
    assert retrieve.name == "Retrieve Subscription"
    assert retrieve.params == {"id": subscription["id"], "expand": ["latest_invoice"]}
    assert_read(fake, f"/v1/subscriptions/{subscription['id']}")


def test_webhook_endpoints_create_update_list(world: World, sdk: stripe.StripeClient) -> None:
    sdk.v1.webhook_endpoints.create(
        {"url": "https://example.com/old", "enabled_events": ["charge.failed"]}
    )

    async def body(io_stripe: Any) -> Any:
        made = await io_stripe.create_webhook_endpoint(
            "create",
            url="https://example.com/stripe/webhooks",
            enabled_events=["charge.succeeded", "customer.created"],
        )
        updated = await io_stripe.update_webhook_endpoint(
            "update", id=made["id"], disabled=True, description="paused"
        )
        listed = await io_stripe.list_webhook_endpoints("list")
        return made, updated, listed

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    made, updated, listed = run.output
    assert made["id"].startswith("we_") and made["secret"].startswith("whsec_")
    assert made["enabled_events"] == ["charge.succeeded", "customer.created"]
    assert (updated["status"], updated["description"]) == ("disabled", "paused")
    assert "secret" not in updated  # Stripe shows the signing secret only on creation
    assert [e["url"] for e in listed["data"]] == [
        "https://example.com/stripe/webhooks",
        "https://example.com/old",
    ]
    task = run.task("create")
    assert task.name == "Create Webhook Endpoint"
    assert props(task) == {"URL": "https://example.com/stripe/webhooks"}
    assert task.redact == ["secret"]  # the signing secret is hidden in the dashboard
    assert_write(world.fake, task, "POST", "/v1/webhook_endpoints")
    task = run.task("update")
    assert (task.name, props(task)) == ("Update Webhook Endpoint", {"Endpoint": made["id"]})
    assert_write(world.fake, task, "POST", f"/v1/webhook_endpoints/{made['id']}")
    assert run.task("list").name == "List Webhook Endpoints"
    assert_read(world.fake, "/v1/webhook_endpoints")


def test_stripe_account_reaches_stripe_for_connect(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        made = await io_stripe.create_customer(
            "connected", email="ada@example.com", stripe_account="acct_1Connected"
        )
        again = await io_stripe.retrieve_customer(
            "connected-read", id=made["id"], stripe_account="acct_1Connected"
        )
        try:
            await io_stripe.retrieve_customer("platform-read", id=made["id"])
        except runio.errors.TaskFailedError as exc:
            return made, again, exc.error_message
        return made, again, None

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    made, again, platform_error = run.output
    assert again["id"] == made["id"]
    assert "No such customer" in platform_error  # it belongs to the connected account
    accounts = [r.header("Stripe-Account") for r in world.fake.requests]
    assert accounts == ["acct_1Connected", "acct_1Connected", None]
    task = run.task("connected")
    assert props(task) == {"Email": "ada@example.com", "Account": "acct_1Connected"}
    assert task.params == {"email": "ada@example.com", "stripe_account": "acct_1Connected"}


def test_an_instance_can_act_on_one_connected_account(world: World) -> None:
    connected = Stripe(
        id="connected", api_key=API_KEY, base_url=world.fake.url, stripe_account="acct_1Default"
    )

    async def body(io_stripe: Any) -> Any:
        return await io_stripe.create_customer("made", email="ada@example.com")

    run = world.run(body, integration=connected)
    assert run.status == "COMPLETED", run.error
    assert [r.header("Stripe-Account") for r in world.fake.requests] == ["acct_1Default"]


def test_run_task_reaches_any_sdk_call_async_or_sync(
    world: World, sdk: stripe.StripeClient
) -> None:
    sdk.v1.charges.create({"amount": 700, "currency": "usd", "source": "tok_visa"})

    async def body(io_stripe: Any) -> Any:
        async def coupon_like(client: stripe.StripeClient, task: runio.Task) -> Any:
            made = await client.v1.customers.create_async(
                {"email": "run-task@example.com"}, {"idempotency_key": task.idempotency_key}
            )
            return made.to_dict()

        made = await io_stripe.run_task("async-call", coupon_like, name="Create via run_task")
        charges = await io_stripe.run_task(
            "sync-call",
            lambda client, task: client.v1.charges.list({"limit": 3}).to_dict(),
            name="List charges",
        )
        return made, charges

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    made, charges = run.output
    assert made["email"] == "run-task@example.com"
    assert [c["amount"] for c in charges["data"]] == [700]
    task = run.task("async-call")
    assert (task.name, task.icon) == ("Create via run_task", "stripe")
    assert_write(world.fake, task, "POST", "/v1/customers")


def test_a_sync_job_calls_the_wrappers_blocking(world: World) -> None:
    @world.client.define_job(
        id="sync-job",
        trigger=runio.event_trigger("sync.job"),
        integrations={"stripe": world.stripe},
    )
    def sync_job(payload: Any, io: runio.SyncIO) -> Any:
        made = io.stripe.create_customer("made", email="sync@example.com")
        return io.stripe.retrieve_customer("read", id=made["id"])["email"]

    run = world.drive(world.client.send_event("sync.job", {}).run_ids[0])
    assert run.status == "COMPLETED", run.error
    assert run.output == "sync@example.com"


def test_unknown_parameters_fail_at_once_as_stripe_refuses_them(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        return await io_stripe.create_customer("typo", emial="ada@example.com")

    run = world.run(body)
    assert run.status == "FAILED"
    task = run.task("typo")
    assert [a.status for a in task.attempts] == ["ERRORED"]
    assert "Received unknown parameter: emial" in task.error["message"]
    assert "parameter_unknown" in task.error["message"]
