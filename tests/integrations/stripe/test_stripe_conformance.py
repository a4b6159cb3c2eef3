"""runio's integration conformance suite, run on Stripe against FakeStripe through the real SDK."""

from __future__ import annotations

from pathlib import Path

from runio_stripe import Stripe
from runio_stripe.testing import FakeStripe

from runio.testing import FakeVendorServer, IntegrationConformance

ROOT = Path(__file__).resolve().parents[3]


class TestStripeConformance(IntegrationConformance):
    integration_class = Stripe
    fake_server_class = FakeStripe
    write = ("create_customer", {"email": "ada@example.com", "metadata": {"plan": "pro"}})
    readme = ROOT / "packages" / "stripe" / "README.md"

    def make_server(self, secret: str) -> FakeStripe:
        return FakeStripe(api_key=secret)

    def make_integration(self, server: FakeVendorServer, secret: str) -> Stripe:
        return Stripe(api_key=secret, base_url=server.url)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"STRIPE_API_KEY": secret, "STRIPE_API_BASE": server.url}

    def count_effects(self, server: FakeVendorServer) -> int:
        assert isinstance(server, FakeStripe)
        return len(server.customers)
