"""The typed payloads of Stripe's webhook events: the event envelope (``StripeEvent``), the
objects its ``data.object`` holds (``Customer``, ``Invoice``...), the envelope typed for each
kind of object (``CustomerEvent``, ``InvoiceEvent``...) and, under those, one class per event
the ``Stripe.on_...`` triggers offer (``InvoicePaid``, ``CustomerCreated``...): annotate a job's
payload with either (``payload: InvoicePaid`` or ``payload: InvoiceEvent``).

Lenient on purpose: every model keeps the fields it does not name (``extra="allow"``, read them
with ``event.data.object.model_extra`` or from the raw event in ``ctx.event.payload``), and every
field Stripe may leave out or set to null is optional, so an event of another API version still
starts its job. Only the fields jobs reach for first are typed.

This module owns the models only; verifying a delivery is ``_webhooks.py``'s.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Charge",
    "ChargeEvent",
    "ChargeRefunded",
    "ChargeSucceeded",
    "CheckoutSession",
    "CheckoutSessionCompleted",
    "CheckoutSessionEvent",
    "Customer",
    "CustomerCreated",
    "CustomerDeleted",
    "CustomerDetails",
    "CustomerEvent",
    "CustomerUpdated",
    "EventData",
    "EventRequest",
    "Invoice",
    "InvoiceEvent",
    "InvoicePaid",
    "InvoicePaymentFailed",
    "PaymentIntent",
    "PaymentIntentEvent",
    "PaymentIntentPaymentFailed",
    "PaymentIntentSucceeded",
    "Price",
    "Recurring",
    "StripeEvent",
    "StripeObject",
    "Subscription",
    "SubscriptionCreated",
    "SubscriptionDeleted",
    "SubscriptionEvent",
    "SubscriptionItem",
    "SubscriptionItems",
    "SubscriptionUpdated",
]


class StripeObject(BaseModel):
    """Base of the models: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str | None = None
    created: int | None = None
    """Unix seconds."""
    livemode: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Your key-value pairs (Stripe sends strings)."""


class Customer(StripeObject):
    """A customer (``customer.created``, ``customer.updated``, ``customer.deleted``)."""

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    description: str | None = None
    currency: str | None = None
    balance: int | None = None
    delinquent: bool | None = None
    deleted: bool | None = None


class Charge(StripeObject):
    """A charge (``charge.succeeded``, ``charge.failed``, ``charge.refunded``)."""

    amount: int
    """In the currency's smallest unit: 2000 is $20.00."""
    currency: str
    amount_captured: int | None = None
    amount_refunded: int | None = None
    status: str | None = None
    """``succeeded``, ``pending`` or ``failed``."""
    paid: bool | None = None
    refunded: bool | None = None
    customer: str | None = None
    payment_intent: str | None = None
    description: str | None = None
    receipt_email: str | None = None
    receipt_url: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


class PaymentIntent(StripeObject):
    """A payment intent (``payment_intent.succeeded``, ``payment_intent.payment_failed``...)."""

    amount: int
    currency: str
    status: str
    """``succeeded``, ``requires_payment_method``, ``requires_action``, ``processing``..."""
    amount_received: int | None = None
    customer: str | None = None
    description: str | None = None
    latest_charge: str | None = None
    payment_method: str | None = None
    receipt_email: str | None = None
    last_payment_error: dict[str, Any] | None = None
    """Why the last attempt failed (``code``, ``decline_code``, ``message``)."""


class CustomerDetails(BaseModel):
    """What the customer entered on a Checkout page."""

    model_config = ConfigDict(extra="allow")

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    address: dict[str, Any] | None = None


class CheckoutSession(StripeObject):
    """A Checkout session (``checkout.session.completed``, ``checkout.session.expired``...)."""

    mode: str
    """``payment``, ``subscription`` or ``setup``."""
    status: str | None = None
    """``open``, ``complete`` or ``expired``."""
    payment_status: str | None = None
    """``paid``, ``unpaid`` or ``no_payment_required``."""
    customer: str | None = None
    customer_email: str | None = None
    customer_details: CustomerDetails | None = None
    client_reference_id: str | None = None
    amount_subtotal: int | None = None
    amount_total: int | None = None
    currency: str | None = None
    payment_intent: str | None = None
    subscription: str | None = None
    invoice: str | None = None
    success_url: str | None = None
    url: str | None = None


class Invoice(StripeObject):
    """An invoice (``invoice.paid``, ``invoice.payment_failed``, ``invoice.finalized``...)."""

    customer: str | None = None
    status: str | None = None
    """``draft``, ``open``, ``paid``, ``uncollectible`` or ``void``."""
    currency: str | None = None
    amount_due: int | None = None
    amount_paid: int | None = None
    amount_remaining: int | None = None
    total: int | None = None
    number: str | None = None
    billing_reason: str | None = None
    collection_method: str | None = None
    customer_email: str | None = None
    customer_name: str | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None
    period_start: int | None = None
    period_end: int | None = None
    parent: dict[str, Any] | None = None
    """What the invoice was made for (``parent["subscription_details"]["subscription"]``)."""


class Recurring(BaseModel):
    model_config = ConfigDict(extra="allow")

    interval: str | None = None
    """``day``, ``week``, ``month`` or ``year``."""
    interval_count: int | None = None


class Price(StripeObject):
    product: str | None = None
    unit_amount: int | None = None
    currency: str | None = None
    recurring: Recurring | None = None
    nickname: str | None = None
    lookup_key: str | None = None


class SubscriptionItem(StripeObject):
    price: Price
    quantity: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None


class SubscriptionItems(BaseModel):
    model_config = ConfigDict(extra="allow")

    data: list[SubscriptionItem] = Field(default_factory=list)
    has_more: bool = False


class Subscription(StripeObject):
    """A subscription (``customer.subscription.created``, ``.updated``, ``.deleted``...)."""

    customer: str
    status: str
    """``active``, ``trialing``, ``past_due``, ``canceled``, ``incomplete``, ``unpaid``..."""
    items: SubscriptionItems = Field(default_factory=SubscriptionItems)
    """The prices subscribed to: ``items.data[0].price.id``."""
    currency: str | None = None
    cancel_at_period_end: bool | None = None
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    start_date: int | None = None
    trial_start: int | None = None
    trial_end: int | None = None
    latest_invoice: str | None = None
    default_payment_method: str | None = None
    collection_method: str | None = None


ObjectT = TypeVar("ObjectT")


class EventRequest(BaseModel):
    """The API request that caused the event (None for Stripe's own automatic actions)."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    idempotency_key: str | None = None
    """The ``Idempotency-Key`` of that request: for an object a runio task made, the task's
    idempotency key."""


class EventData(BaseModel, Generic[ObjectT]):
    model_config = ConfigDict(extra="allow")

    object: ObjectT
    """The object as it was when the event happened."""
    previous_attributes: dict[str, Any] | None = None
    """For ``*.updated`` events: the fields that changed, with their values before."""


class StripeEvent(BaseModel, Generic[ObjectT]):
    """Stripe's event envelope; ``data.object`` is typed by the parameter
    (``StripeEvent[dict[str, Any]]`` for any event)."""

    model_config = ConfigDict(extra="allow")

    id: str
    """``evt_...``: the same on every redelivery of the event."""
    type: str
    """``customer.created``, ``invoice.paid``..."""
    data: EventData[ObjectT]
    object: str = "event"
    api_version: str | None = None
    """The API version the object is rendered in (the endpoint's)."""
    created: int | None = None
    """When the event happened, in Unix seconds."""
    livemode: bool = False
    pending_webhooks: int | None = None
    request: EventRequest | None = None
    account: str | None = None
    """The connected account it happened on (Connect endpoints only)."""


class CustomerEvent(StripeEvent[Customer]):
    """``customer.created``, ``customer.updated``, ``customer.deleted``."""


class ChargeEvent(StripeEvent[Charge]):
    """``charge.succeeded``, ``charge.failed``, ``charge.refunded``..."""


class PaymentIntentEvent(StripeEvent[PaymentIntent]):
    """``payment_intent.succeeded``, ``payment_intent.payment_failed``..."""


class CheckoutSessionEvent(StripeEvent[CheckoutSession]):
    """``checkout.session.completed``, ``checkout.session.expired``..."""


class InvoiceEvent(StripeEvent[Invoice]):
    """``invoice.paid``, ``invoice.payment_failed``, ``invoice.finalized``..."""


class SubscriptionEvent(StripeEvent[Subscription]):
    """``customer.subscription.created``, ``.updated``, ``.deleted``..."""


# -- one class per event the typed triggers offer ----------------------------------------------


class CustomerCreated(CustomerEvent):
    """``customer.created`` (``Stripe.on_customer_created``)."""


class CustomerUpdated(CustomerEvent):
    """``customer.updated`` (``Stripe.on_customer_updated``): ``data.previous_attributes``
    holds the fields that changed, as they were."""


class CustomerDeleted(CustomerEvent):
    """``customer.deleted`` (``Stripe.on_customer_deleted``)."""


class ChargeSucceeded(ChargeEvent):
    """``charge.succeeded`` (``Stripe.on_charge_succeeded``)."""


class ChargeRefunded(ChargeEvent):
    """``charge.refunded`` (``Stripe.on_charge_refunded``): ``amount_refunded`` says how
    much."""


class PaymentIntentSucceeded(PaymentIntentEvent):
    """``payment_intent.succeeded`` (``Stripe.on_payment_intent_succeeded``)."""


class PaymentIntentPaymentFailed(PaymentIntentEvent):
    """``payment_intent.payment_failed`` (``Stripe.on_payment_intent_payment_failed``):
    ``last_payment_error`` says why."""


class CheckoutSessionCompleted(CheckoutSessionEvent):
    """``checkout.session.completed`` (``Stripe.on_checkout_session_completed``)."""


class InvoicePaid(InvoiceEvent):
    """``invoice.paid`` (``Stripe.on_invoice_paid``)."""


class InvoicePaymentFailed(InvoiceEvent):
    """``invoice.payment_failed`` (``Stripe.on_invoice_payment_failed``)."""


class SubscriptionCreated(SubscriptionEvent):
    """``customer.subscription.created`` (``Stripe.on_subscription_created``)."""


class SubscriptionUpdated(SubscriptionEvent):
    """``customer.subscription.updated`` (``Stripe.on_subscription_updated``):
    ``data.previous_attributes`` holds the fields that changed, as they were."""


class SubscriptionDeleted(SubscriptionEvent):
    """``customer.subscription.deleted`` (``Stripe.on_subscription_deleted``): the
    subscription ended."""
