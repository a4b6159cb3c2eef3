"""The Stripe example: sell one product to a new customer with ``io.stripe``.

Each Stripe call is a task of the run (named, with the Stripe icon and properties), sent with
the task's idempotency key, so a retry or a crash never charges twice. It runs against Stripe's
test mode (``STRIPE_API_KEY=sk_test_... runio dev examples/stripe_app.py:client``) or against
``runio_stripe.testing.FakeStripe`` (set ``STRIPE_API_BASE`` to its URL), which is what
``examples/demo.py`` does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from runio_stripe import Stripe

import runio

client = runio.Client(id="examples-stripe")
stripe = Stripe()  # STRIPE_API_KEY (and STRIPE_API_BASE) from the environment


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
