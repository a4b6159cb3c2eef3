"""Stripe for runio: ``io.stripe`` task wrappers over the official ``stripe`` SDK.

``Stripe`` is the integration (declare ``Stripe()`` in ``define_job(integrations=...)``, or just
set ``STRIPE_API_KEY``); ``StripeAPIError`` and ``StripeIdempotencyError`` are what its tasks
fail with when Stripe answers with an error. Its ``on_...`` methods are job triggers for Stripe's
webhook events (``trigger=stripe.on_invoice_paid()``), whose typed payloads are the models here
(``StripeEvent`` and its typed kinds: ``CustomerEvent``, ``InvoiceEvent``...; every model,
one class per event included, is in ``runio_stripe.events``).
``runio_stripe.testing.FakeStripe`` is the Stripe API as a local HTTP server, for tests.

The names are loaded on first use: every runio worker imports this package to discover the
plugin, and the ``stripe`` SDK takes a few hundred milliseconds to import, which a worker whose
jobs never call Stripe should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._errors import StripeAPIError, StripeIdempotencyError
    from ._integration import DEFAULT_API_BASE, HTTPXClient, Stripe, as_json
    from .events import (
        Charge,
        ChargeEvent,
        CheckoutSession,
        CheckoutSessionEvent,
        Customer,
        CustomerEvent,
        EventData,
        EventRequest,
        Invoice,
        InvoiceEvent,
        PaymentIntent,
        PaymentIntentEvent,
        StripeEvent,
        Subscription,
        SubscriptionEvent,
    )

_EVENT_MODELS = [
    "Charge",
    "ChargeEvent",
    "CheckoutSession",
    "CheckoutSessionEvent",
    "Customer",
    "CustomerEvent",
    "EventData",
    "EventRequest",
    "Invoice",
    "InvoiceEvent",
    "PaymentIntent",
    "PaymentIntentEvent",
    "StripeEvent",
    "Subscription",
    "SubscriptionEvent",
]

__all__ = [
    "DEFAULT_API_BASE",
    "Charge",
    "ChargeEvent",
    "CheckoutSession",
    "CheckoutSessionEvent",
    "Customer",
    "CustomerEvent",
    "EventData",
    "EventRequest",
    "HTTPXClient",
    "Invoice",
    "InvoiceEvent",
    "PaymentIntent",
    "PaymentIntentEvent",
    "Stripe",
    "StripeAPIError",
    "StripeEvent",
    "StripeIdempotencyError",
    "Subscription",
    "SubscriptionEvent",
    "as_json",
]

_WHERE = {
    **dict.fromkeys(_EVENT_MODELS, ".events"),
    "StripeAPIError": "._errors",
    "StripeIdempotencyError": "._errors",
    "DEFAULT_API_BASE": "._integration",
    "HTTPXClient": "._integration",
    "Stripe": "._integration",
    "as_json": "._integration",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runio_stripe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
