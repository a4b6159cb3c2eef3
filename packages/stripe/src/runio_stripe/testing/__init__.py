"""``FakeStripe``: the Stripe API as a local HTTP server, for this package's tests and for the
tests of apps that use it.

A real HTTP server on 127.0.0.1 (runio's ``FakeVendorServer``), so the official ``stripe`` SDK
talks to it unchanged: ``Stripe(api_key="sk_test_...", base_url=server.url)`` or
``stripe.StripeClient("sk_test_...", base_addresses={"api": server.url})``. It implements the
endpoints behind runio-stripe's wrappers (customers, charges, payment intents, refunds,
subscriptions, invoices, products, prices, Checkout sessions, webhook endpoints) with objects
shaped like Stripe's, and Stripe's conventions: form-encoded parameters (``metadata[key]=value``,
``items[0][price]=...``), unknown parameters refused, cursor pagination, ``expand``, the
``Stripe-Account`` header (objects belong to the account that made them), ``Idempotency-Key``
(the same key and parameters replay the first answer with ``Idempotent-Replayed: true``; other
parameters get a 400 ``idempotency_error``), Stripe's error bodies with a ``Request-Id`` header,
and test cards (``tok_visa``, ``pm_card_visa``, ``tok_chargeDeclined``,
``pm_card_chargeDeclinedInsufficientFunds``, ``pm_card_authenticationRequired``...).

Webhooks: the API's writes make Stripe's events (``customer.created``, ``invoice.paid``,
``payment_intent.succeeded``...; ``events`` and ``GET /v1/events``), sent in the background,
signed with each endpoint's ``whsec_`` secret, to the webhook endpoints registered through
``/v1/webhook_endpoints`` (or ``add_webhook_endpoint``) that listen to them
(``wait_for_webhooks`` waits for them; ``event_deliveries`` records each with its answer).
``send_event(url, type, object, secret=...)`` sends one event to a URL now, well signed or with
a wrong, tampered, stale, missing or malformed signature; ``resend_event`` delivers a past
event again (same id), ``replay_delivery`` re-sends a captured delivery byte for byte, and
``complete_checkout_session`` pays a Checkout session. A delivery that fails is recorded, not
retried.

Fault injection comes from the base with Stripe's error shapes: ``fail_next``,
``drop_after_write`` and ``hold_after_write`` (apply the next write and hold its answer until
released: a client killed mid-request). It is a fake: no money moves, and only the parameters
listed here are understood. This package does not touch runio-stripe's integration.

One module a resource: ``_customers``, ``_payments`` (charges, payment intents, refunds),
``_products`` (products and prices), ``_billing`` (subscriptions and invoices), ``_checkout``,
``_webhooks`` (webhook endpoints, events and the test methods that send them), each a class of
routes over ``_core.StripeCore`` (the state, auth, errors, retrieve and list, making events);
``_events`` signs and sends events, ``_params`` reads Stripe's form parameters and ``_cards``
knows the test cards.
"""

from __future__ import annotations

from runio.testing import Hold

from ._billing import Billing
from ._checkout import Checkout
from ._customers import Customers
from ._events import EventDelivery, Signature
from ._params import parse_form
from ._payments import Payments
from ._products import ProductsAndPrices
from ._webhooks import WebhookEndpoints

__all__ = ["EventDelivery", "FakeStripe", "Hold", "Signature", "parse_form"]


class FakeStripe(Customers, Payments, ProductsAndPrices, Billing, Checkout, WebhookEndpoints):
    """The Stripe API (the parts runio-stripe wraps) as a local server; see the module doc.

    ``FakeStripe()`` accepts any test-mode key (``sk_test_...``, ``rk_test_...``);
    ``FakeStripe(api_key=...)`` accepts only that one. The objects it holds are in
    ``customers``, ``charges``, ``payment_intents``, ``refunds``, ``subscriptions``,
    ``invoices``, ``products``, ``prices``, ``checkout_sessions``, ``webhook_endpoints`` and
    ``events`` (dicts by id, of every account). ``strict=False`` accepts parameters it does not
    know.
    ``clock`` (seconds since the epoch) dates the objects; ``seed`` makes the ids repeatable.
    """
