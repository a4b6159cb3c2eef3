"""``Stripe.verify_webhook`` on its own (no server): signatures made by the ``stripe`` SDK's
own signer, the tolerance (configurable) compared with when the request arrived, the header
forms Stripe sends (several v1 signatures while a secret rolls), and the settings and trigger
definitions users get wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from runio_stripe import (
    ChargeEvent,
    CheckoutSessionEvent,
    CustomerEvent,
    InvoiceEvent,
    PaymentIntentEvent,
    Stripe,
    StripeEvent,
    SubscriptionEvent,
    events,
)

from runio.errors import (
    IntegrationSettingError,
    JobDefinitionError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from runio.integrations import WebhookDelivery, WebhookRequest

SECRET = "whsec_verify0123456789abcdef"
SIGNED_AT = 1_800_000_000
EVENT = {
    "id": "evt_1Verify",
    "object": "event",
    "type": "customer.created",
    "data": {"object": {"id": "cus_1", "object": "customer", "email": "ada@example.com"}},
}


def request(
    *,
    received_at: float = SIGNED_AT + 1,
    header: str | None = None,
    body: bytes | None = None,
) -> WebhookRequest:
    body = json.dumps(EVENT).encode() if body is None else body
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode(), SECRET, timestamp=SIGNED_AT
        )
    return WebhookRequest(headers={"stripe-signature": header}, body=body, received_at=received_at)


def test_a_delivery_signed_by_the_sdk_is_read_as_the_event() -> None:
    delivery = Stripe(webhook_secret=SECRET).verify_webhook(request())
    assert delivery == WebhookDelivery(id="evt_1Verify", type="customer.created", payload=EVENT)


@pytest.mark.parametrize(
    ("tolerance", "age", "accepted"),
    [(None, 299, True), (None, 301, False), (60, 59, True), (60, 61, False), (900, 899, True)],
)
def test_the_tolerance_is_compared_with_when_the_request_arrived(
    tolerance: float | None, age: int, accepted: bool
) -> None:
    settings: dict[str, Any] = {} if tolerance is None else {"webhook_tolerance": tolerance}
    integration = Stripe(webhook_secret=SECRET, **settings)
    late = request(received_at=SIGNED_AT + age)
    if accepted:
        assert integration.verify_webhook(late).id == "evt_1Verify"
    else:
        with pytest.raises(WebhookSignatureError, match=r"s old, more than the \d+ s tolerance"):
            integration.verify_webhook(late)


def test_one_matching_signature_of_several_is_enough_while_a_secret_rolls() -> None:
    body = json.dumps(EVENT).encode()
    old = stripe.WebhookSignature.generate_signature_header(
        body.decode(), "whsec_old_one", timestamp=SIGNED_AT
    )
    new = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, timestamp=SIGNED_AT
    )
    both = f"{old},v1={new.split('v1=')[1]},v0=6ffbb59b2300aae63f27240"
    assert Stripe(webhook_secret=SECRET).verify_webhook(request(header=both)).type == (
        "customer.created"
    )


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("", "no Stripe-Signature header"),
        ("v1=abc", "no timestamp"),
        ("t=soon,v1=abc", "no timestamp"),
        (f"t={SIGNED_AT}", "no v1 signature"),
        (f"t={SIGNED_AT},v0=abc", "no v1 signature"),
        (f"t={SIGNED_AT},v1=" + "0" * 64, "does not match"),
    ],
)
def test_headers_that_are_not_a_valid_stripe_signature_are_refused(header: str, says: str) -> None:
    with pytest.raises(WebhookSignatureError, match=says) as refused:
        Stripe(webhook_secret=SECRET).verify_webhook(request(header=header))
    assert SECRET not in str(refused.value)


def test_a_signed_body_that_is_not_an_event_is_a_payload_error() -> None:
    body = b'{"object": "list", "data": []}'
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, timestamp=SIGNED_AT
    )
    with pytest.raises(WebhookPayloadError, match="not a Stripe event"):
        Stripe(webhook_secret=SECRET).verify_webhook(request(header=header, body=body))


def test_the_secret_comes_from_the_environment_and_its_absence_says_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(IntegrationSettingError, match="STRIPE_WEBHOOK_SECRET") as missing:
        Stripe().verify_webhook(request())
    assert missing.value.setting == "webhook_secret"
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    configured = Stripe()
    assert configured.verify_webhook(request()).id == "evt_1Verify"
    assert SECRET not in repr(configured)


def test_a_tolerance_that_is_not_positive_is_refused_when_the_job_is_defined() -> None:
    with pytest.raises(IntegrationSettingError, match="positive number of seconds"):
        Stripe(webhook_secret=SECRET, webhook_tolerance=0).on_invoice_paid()


def test_triggers_name_the_event_and_bad_definitions_say_what_is_wrong() -> None:
    stripe_io = Stripe(id="stripe_eu")
    trigger = stripe_io.on_event("invoice.paid", filter={"data": {"object": {"currency": ["eur"]}}})
    assert (trigger.name, trigger.event_type, trigger.schema) == (
        "stripe_eu:invoice.paid",
        "invoice.paid",
        None,
    )
    assert trigger.matches({"data": {"object": {"currency": "eur"}}})
    assert not trigger.matches({"data": {"object": {"currency": "usd"}}})
    with pytest.raises(JobDefinitionError, match="event type"):
        stripe_io.on_event("")
    with pytest.raises(JobDefinitionError, match="must list the allowed values"):
        stripe_io.on_event("invoice.paid", filter={"type": "invoice.paid"})
    with pytest.raises(JobDefinitionError, match="pydantic BaseModel"):
        stripe_io.on_event("invoice.paid", schema=dict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("helper", "event_type", "schema", "kind"),
    [
        ("on_customer_created", "customer.created", events.CustomerCreated, CustomerEvent),
        ("on_customer_updated", "customer.updated", events.CustomerUpdated, CustomerEvent),
        ("on_customer_deleted", "customer.deleted", events.CustomerDeleted, CustomerEvent),
        ("on_charge_succeeded", "charge.succeeded", events.ChargeSucceeded, ChargeEvent),
        ("on_charge_refunded", "charge.refunded", events.ChargeRefunded, ChargeEvent),
        (
            "on_payment_intent_succeeded",
            "payment_intent.succeeded",
            events.PaymentIntentSucceeded,
            PaymentIntentEvent,
        ),
        (
            "on_payment_intent_payment_failed",
            "payment_intent.payment_failed",
            events.PaymentIntentPaymentFailed,
            PaymentIntentEvent,
        ),
        (
            "on_checkout_session_completed",
            "checkout.session.completed",
            events.CheckoutSessionCompleted,
            CheckoutSessionEvent,
        ),
        ("on_invoice_paid", "invoice.paid", events.InvoicePaid, InvoiceEvent),
        (
            "on_invoice_payment_failed",
            "invoice.payment_failed",
            events.InvoicePaymentFailed,
            InvoiceEvent,
        ),
        (
            "on_subscription_created",
            "customer.subscription.created",
            events.SubscriptionCreated,
            SubscriptionEvent,
        ),
        (
            "on_subscription_updated",
            "customer.subscription.updated",
            events.SubscriptionUpdated,
            SubscriptionEvent,
        ),
        (
            "on_subscription_deleted",
            "customer.subscription.deleted",
            events.SubscriptionDeleted,
            SubscriptionEvent,
        ),
    ],
)
def test_each_typed_trigger_listens_to_its_event_with_its_model(
    helper: str, event_type: str, schema: type[StripeEvent[Any]], kind: type[StripeEvent[Any]]
) -> None:
    trigger = getattr(Stripe(), helper)(filter={"livemode": [False]})
    assert (trigger.name, trigger.event_type, trigger.schema) == (
        f"stripe:{event_type}",
        event_type,
        schema,
    )
    assert trigger.filter == {"livemode": [False]}
    assert issubclass(schema, kind)  # a job may annotate its payload with either


def test_the_models_keep_what_they_do_not_name_and_accept_what_stripe_leaves_out() -> None:
    event = CustomerEvent.model_validate(
        {
            **EVENT,
            "data": {
                "object": {"id": "cus_1", "tax_ids": {"data": []}},
                "previous_attributes": {"email": None},
            },
            "something_new": 1,
        }
    )
    assert event.data.object.email is None
    assert event.data.object.model_extra == {"tax_ids": {"data": []}}
    assert event.data.previous_attributes == {"email": None}
    assert event.model_extra == {"something_new": 1}
    any_event = StripeEvent[dict[str, Any]].model_validate(EVENT)
    assert any_event.data.object["email"] == "ada@example.com"
