"""The Stripe example: sell one product to a new customer with ``io.stripe``, and welcome each
new Stripe customer when Stripe's ``customer.created`` webhook arrives.

Each Stripe call is a task of the run (named, with the Stripe icon and properties), sent with
the task's idempotency key, so a retry or a crash never charges twice. It runs against Stripe's
test mode (``STRIPE_API_KEY=sk_test_... runio dev examples/stripe_app.py:client``) or against
``runio_stripe.testing.FakeStripe`` (set ``STRIPE_API_BASE`` to its URL), which is what
``examples/demo.py`` does. The webhook endpoint is ``/api/v1/webhooks/stripe`` on the runio
server, verified with ``STRIPE_WEBHOOK_SECRET``; ``drive_webhooks`` plays Stripe's part with a
FakeStripe.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from runio_stripe import CustomerEvent, Stripe

import runio

if TYPE_CHECKING:
    from runio_stripe.testing import FakeStripe

client = runio.Client(id="examples-stripe")
stripe = Stripe()  # STRIPE_API_KEY, STRIPE_API_BASE and STRIPE_WEBHOOK_SECRET from the environment


class Purchase(BaseModel):
    email: str
    name: str
    product: str
    amount: int  # in the currency's smallest unit: 2500 is $25.00
    currency: str = "usd"


@client.define_job(
    id="stripe-purchase",
    name="Sell a product with Stripe",
    version="1.0.0",
    trigger=runio.event_trigger(name="purchase.requested", schema=Purchase),
    integrations={"stripe": stripe},
)
async def purchase(payload: Purchase, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    stripe_io = io.use(stripe)  # typed: mypy checks each wrapper's name and parameters
    customer = await stripe_io.create_customer(
        "customer",
        email=payload.email,
        name=payload.name,
        metadata={"runio_run": ctx.run_id},
    )
    product = await stripe_io.create_product("product", name=payload.product)
    price = await stripe_io.create_price(
        "price", product=product["id"], unit_amount=payload.amount, currency=payload.currency
    )
    intent = await stripe_io.create_payment_intent(
        "payment-intent",
        amount=price["unit_amount"],
        currency=price["currency"],
        customer=customer["id"],
        payment_method_types=["card"],
        metadata={"price": price["id"]},
    )
    paid = await stripe_io.confirm_payment_intent(
        "confirm",
        id=intent["id"],
        payment_method="pm_card_visa",  # Stripe's test card
    )

    def record_sale(task: runio.Task) -> dict[str, Any]:
        task.output_properties.append(runio.Property("Charge", paid["latest_charge"]))
        return {
            "customer": customer["id"],
            "payment_intent": paid["id"],
            "status": paid["status"],
            "amount": paid["amount_received"],
        }

    return await io.run_task(
        "record-sale",
        record_sale,
        name="Record the sale",
        icon="receipt",
        properties=[
            runio.Property("Customer", payload.email),
            runio.Property("Status", paid["status"]),
        ],
    )


@client.define_job(
    id="stripe-welcome-customer",
    name="Welcome a new Stripe customer",
    version="1.0.0",
    trigger=stripe.on_customer_created(),  # Stripe's customer.created webhook
)
async def welcome_customer(payload: CustomerEvent, io: runio.IO) -> dict[str, Any]:
    customer = payload.data.object  # typed: a runio_stripe.Customer
    io.logger.info("New Stripe customer", customer=customer.id, email=customer.email)

    def welcome(task: runio.Task) -> dict[str, Any]:
        return {"customer": customer.id, "email": customer.email, "event": payload.id}

    return await io.run_task(
        "welcome",
        welcome,
        name="Send the welcome pack",
        icon="gift",
        properties=[runio.Property("Email", str(customer.email))],
    )


async def drive_webhooks(stripe_api: FakeStripe, server_url: str) -> list[str]:
    """Play Stripe's part for the demo: register the app's webhook endpoint
    (``server_url`` + ``/api/v1/webhooks/stripe``, served by ``runio serve`` or ``runio dev``)
    with ``stripe_api``, signing with the app's ``STRIPE_WEBHOOK_SECRET``, create a customer
    through the Stripe API, and wait for the fake's ``customer.created`` delivery. Returns the
    ids of the runs that delivery started (``stripe-welcome-customer``)."""
    secret = stripe.webhook_secret
    if secret is None:
        raise RuntimeError("Set STRIPE_WEBHOOK_SECRET (any whsec_... value) before the import.")
    url = f"{server_url.rstrip('/')}/api/v1/webhooks/{stripe.id}"
    stripe_api.add_webhook_endpoint(url, ["customer.created"], secret=secret)
    sdk = stripe.create_client()
    try:
        customer = await sdk.v1.customers.create_async(
            {"email": "grace@example.com", "name": "Grace Hopper"}
        )
    finally:
        await stripe.close_client(sdk)
    deliveries = await asyncio.to_thread(stripe_api.wait_for_webhooks)
    return [
        run_id
        for delivery in deliveries
        if delivery.url == url
        and stripe_api.events[delivery.event_id]["data"]["object"]["id"] == customer.id
        and isinstance(delivery.response, dict)
        for run_id in delivery.response.get("run_ids", [])
    ]
