"""runio's integration conformance suite, run on Stripe against FakeStripe through the real SDK:
every wrapper, with objects it needs seeded in the fake through the SDK first."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import stripe
from runio_stripe import HTTPXClient, Stripe
from runio_stripe.testing import FakeStripe

from runio.testing import FakeVendorServer, IntegrationConformance

ROOT = Path(__file__).resolve().parents[3]


class TestStripeConformance(IntegrationConformance):
    integration_class = Stripe
    fake_server_class = FakeStripe
    write = "create_customer"
    readme = ROOT / "packages" / "stripe" / "README.md"
    examples: ClassVar[dict[str, dict[str, Any]]] = {
        "create_customer": {"email": "ada@example.com", "metadata": {"plan": "pro"}},
        "list_customers": {"max_items": 5},
        "create_charge": {"amount": 1500, "currency": "eur", "source": "tok_visa"},
        "create_payment_intent": {"amount": 2000, "currency": "usd"},
        "create_product": {"name": "Pro plan"},
        "create_webhook_endpoint": {
            "url": "https://example.com/hooks",
            "enabled_events": ["charge.succeeded"],
        },
        "list_webhook_endpoints": {},
    }

    def make_server(self, secret: str) -> FakeStripe:
        return FakeStripe(api_key=secret)

    def make_integration(self, server: FakeVendorServer, secret: str) -> Stripe:
        return Stripe(api_key=secret, base_url=server.url)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"STRIPE_API_KEY": secret, "STRIPE_API_BASE": server.url}

    def webhook_delivery(self, signing_secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        fake = FakeStripe(clock=lambda: now)  # only its signing: the server is not started
        return fake.signed_event(
            "customer.created",
            {"id": "cus_Conformance1", "object": "customer", "email": "ada@example.com"},
            secret=signing_secret,
        )

    def example(self, wrapper: str, server: FakeVendorServer) -> dict[str, Any]:
        if wrapper in self.examples:
            return dict(self.examples[wrapper])
        assert isinstance(server, FakeStripe)
        http = HTTPXClient(allow_sync_methods=True)
        sdk = stripe.StripeClient(
            server.api_key, base_addresses={"api": server.url}, http_client=http
        )
        try:
            return _seeded(wrapper, sdk.v1)
        finally:
            http.close()


def _seeded(wrapper: str, v1: Any) -> dict[str, Any]:
    """An example call of ``wrapper`` whose objects exist in the fake."""
    if wrapper in ("update_customer", "retrieve_customer", "create_invoice"):
        customer = v1.customers.create({"email": "ada@example.com"})
        if wrapper == "create_invoice":
            return {
                "customer": customer.id,
                "collection_method": "send_invoice",
                "days_until_due": 30,
            }
        return {"id": customer.id, **({"name": "Ada"} if wrapper == "update_customer" else {})}
    if wrapper in ("confirm_payment_intent", "create_refund"):
        intent = v1.payment_intents.create({"amount": 2000, "currency": "usd"})
        if wrapper == "create_refund":
            intent = v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
            return {"payment_intent": intent.id, "amount": 500}
        return {"id": intent.id, "payment_method": "pm_card_visa"}
    if wrapper == "update_webhook_endpoint":
        endpoint = v1.webhook_endpoints.create(
            {"url": "https://example.com/old", "enabled_events": ["charge.failed"]}
        )
        return {"id": endpoint.id, "disabled": True}
    customer = v1.customers.create({"email": "ada@example.com", "payment_method": "pm_card_visa"})
    product = v1.products.create({"name": "Pro"})
    price = v1.prices.create(
        {
            "product": product.id,
            "unit_amount": 2000,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    if wrapper == "create_price":
        return {"product": product.id, "unit_amount": 900, "currency": "usd"}
    if wrapper == "create_subscription":
        return {"customer": customer.id, "items": [{"price": price.id}]}
    if wrapper == "create_checkout_session":
        return {
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://example.com/thanks",
        }
    subscription = v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id}]}
    )
    if wrapper == "update_subscription":
        return {"id": subscription.id, "metadata": {"why": "test"}}
    if wrapper in ("retrieve_subscription", "cancel_subscription"):
        return {"id": subscription.id}
    raise AssertionError(f"no example for {wrapper}")
