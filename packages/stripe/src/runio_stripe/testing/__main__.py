"""``python -m runio_stripe.testing --port 12111``: FakeStripe on its own, for ``runio dev``."""

from __future__ import annotations

from runio.testing import serve_fake

from . import FakeStripe

serve_fake(
    FakeStripe,
    prog="python -m runio_stripe.testing",
    environment={"STRIPE_API_BASE": "{url}", "STRIPE_API_KEY": "sk_test_123"},
)
