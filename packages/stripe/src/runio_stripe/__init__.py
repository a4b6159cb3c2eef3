"""Stripe for runio: ``io.stripe`` task wrappers over the official ``stripe`` SDK.

``Stripe`` is the integration (declare ``Stripe()`` in ``define_job(integrations=...)``, or just
set ``STRIPE_API_KEY``); ``StripeAPIError`` and ``StripeIdempotencyError`` are what its tasks
fail with when Stripe answers with an error. ``runio_stripe.testing.FakeStripe`` is the Stripe
API as a local HTTP server, for tests.
"""

from __future__ import annotations

from ._errors import StripeAPIError, StripeIdempotencyError
from ._integration import DEFAULT_API_BASE, HTTPXClient, Stripe, as_json

__all__ = [
    "DEFAULT_API_BASE",
    "HTTPXClient",
    "Stripe",
    "StripeAPIError",
    "StripeIdempotencyError",
    "as_json",
]
