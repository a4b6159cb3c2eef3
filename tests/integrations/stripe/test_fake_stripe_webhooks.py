"""FakeStripe's webhooks, checked with the ``stripe`` SDK's own verifier: endpoints registered
through ``/v1/webhook_endpoints`` get the events the API's writes make, in Stripe's envelope,
signed with their own secret; ``/v1/events`` lists them; ``send_event`` signs (or mis-signs)
one delivery to a URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from runio_stripe import HTTPXClient
from runio_stripe.testing import FakeStripe
from stripe_helpers import API_KEY

from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, route


class Receiver(FakeVendorServer):
    """A webhook endpoint: records what it is sent, answers 200."""

    idempotency_header = None

    @route("POST", "/hooks/{name}")
    def receive(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(200, json={"received": True})

    def received(self, name: str) -> list[FakeRequest]:
        return [r for r in self.requests if r.path == f"/hooks/{name}"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def sdk(fake: FakeStripe) -> Iterator[stripe.StripeClient]:
    http = HTTPXClient(allow_sync_methods=True)
    yield stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, http_client=http)
    http.close()  # type: ignore[no-untyped-call]


def verified(request: FakeRequest, secret: str) -> dict[str, Any]:
    """The event of a delivery, verified by the SDK as an app would (wall clock, 300 s)."""
    stripe.Webhook.construct_event(request.body, request.header("Stripe-Signature"), secret)
    event: dict[str, Any] = json.loads(request.body)  # as sent
    return event


def endpoint(sdk: stripe.StripeClient, url: str, events: list[str], **params: Any) -> Any:
    return sdk.v1.webhook_endpoints.create(
        {"url": url, "enabled_events": events, **params}  # type: ignore[typeddict-item]
    )


def test_endpoints_get_the_events_they_listen_to_in_stripes_envelope(
    fake: FakeStripe, receiver: Receiver, sdk: stripe.StripeClient
) -> None:
    created = endpoint(sdk, f"{receiver.url}/hooks/a", ["customer.created"])
    every = endpoint(sdk, f"{receiver.url}/hooks/b", ["*"])
    endpoint(sdk, f"{receiver.url}/hooks/c", ["invoice.paid"])
    assert created.secret.startswith("whsec_") and created.secret != every.secret

    customer = sdk.v1.customers.create(
        {"email": "ada@example.com"}, {"idempotency_key": "signup-ada"}
    )
    fake.wait_for_webhooks()
    [to_a] = receiver.received("a")
    [to_b] = receiver.received("b")
    assert receiver.received("c") == []
    event = verified(to_a, created.secret)
    assert verified(to_b, every.secret) == event
    with pytest.raises(stripe.SignatureVerificationError):  # each endpoint has its own secret
        verified(to_a, every.secret)

    assert set(event) == {
        "id",
        "object",
        "api_version",
        "created",
        "data",
        "livemode",
        "pending_webhooks",
        "request",
        "type",
    }
    assert event["id"].startswith("evt_")
    assert (event["object"], event["type"], event["livemode"]) == (
        "event",
        "customer.created",
        False,
    )
    assert event["data"] == {"object": customer.to_dict(recursive=True)}
    assert event["pending_webhooks"] == 2
    assert event["request"] == {
        "id": customer.last_response.request_id,
        "idempotency_key": "signup-ada",
    }
    assert to_a.header("Content-Type") == "application/json; charset=utf-8"
    assert to_a.header("User-Agent", "").startswith("Stripe/1.0")
    assert [d.status for d in fake.event_deliveries] == [200, 200]


def test_a_replayed_write_makes_no_second_event_and_an_update_says_what_changed(
    fake: FakeStripe, receiver: Receiver, sdk: stripe.StripeClient
) -> None:
    hook = endpoint(sdk, f"{receiver.url}/hooks/a", ["customer.created", "customer.updated"])
    first = sdk.v1.customers.create({"email": "ada@example.com"}, {"idempotency_key": "k1"})
    sdk.v1.customers.create({"email": "ada@example.com"}, {"idempotency_key": "k1"})  # replayed
    sdk.v1.customers.update(first.id, {"email": "ada@lovelace.example", "name": "Ada"})
    sdk.v1.customers.update(first.id, {"name": "Ada"})  # no change, no event
    fake.wait_for_webhooks()
    events = [verified(r, hook.secret) for r in receiver.received("a")]
    assert [e["type"] for e in events] == ["customer.created", "customer.updated"]
    assert events[1]["data"]["previous_attributes"] == {"email": "ada@example.com", "name": None}
    assert events[1]["data"]["object"]["email"] == "ada@lovelace.example"


def test_a_subscription_makes_the_billing_events_and_a_payment_its_own(
    fake: FakeStripe, receiver: Receiver, sdk: stripe.StripeClient
) -> None:
    hook = endpoint(sdk, f"{receiver.url}/hooks/all", ["*"])
    customer = sdk.v1.customers.create({"payment_method": "pm_card_visa"})
    price = sdk.v1.prices.create(
        {
            "product_data": {"name": "Pro"},
            "unit_amount": 900,
            "currency": "usd",
            "recurring": {"interval": "month"},  # type: ignore[typeddict-item]
        }
    )
    subscription = sdk.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id}]}
    )
    sdk.v1.subscriptions.cancel(subscription.id)
    with pytest.raises(stripe.CardError):
        sdk.v1.charges.create({"amount": 500, "currency": "usd", "source": "tok_chargeDeclined"})
    fake.wait_for_webhooks()
    types = [verified(r, hook.secret)["type"] for r in receiver.received("all")]
    assert types == [
        "customer.created",
        "product.created",
        "price.created",
        "invoice.created",
        "customer.subscription.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.deleted",
        "charge.failed",
    ]
    paid = next(e for e in fake.events.values() if e["type"] == "invoice.paid")
    assert paid["data"]["object"]["status"] == "paid"
    assert paid["data"]["object"]["id"] == subscription.latest_invoice


def test_disabled_and_deleted_endpoints_get_nothing_and_failures_are_recorded(
    fake: FakeStripe, receiver: Receiver, sdk: stripe.StripeClient
) -> None:
    disabled = endpoint(sdk, f"{receiver.url}/hooks/off", ["*"])
    sdk.v1.webhook_endpoints.update(disabled.id, {"disabled": True})
    deleted = endpoint(sdk, f"{receiver.url}/hooks/gone", ["*"])
    sdk.v1.webhook_endpoints.delete(deleted.id)
    dead = endpoint(sdk, "http://127.0.0.1:9/hooks/nobody-listens", ["*"])
    assert [e.id for e in sdk.v1.webhook_endpoints.list().data] == [dead.id, disabled.id]

    sdk.v1.customers.create({"email": "ada@example.com"})
    [failed] = fake.wait_for_webhooks()
    assert receiver.requests == []
    assert (failed.endpoint_id, failed.status) == (dead.id, None)
    assert "Connect" in (failed.error or "")


def test_connect_endpoints_get_their_accounts_events_and_endpoints_their_api_version(
    fake: FakeStripe, receiver: Receiver, sdk: stripe.StripeClient
) -> None:
    platform = endpoint(sdk, f"{receiver.url}/hooks/platform", ["*"], api_version="2024-06-20")
    connected = sdk.v1.webhook_endpoints.create(
        {"url": f"{receiver.url}/hooks/connected", "enabled_events": ["*"]},
        {"stripe_account": "acct_1Connected"},
    )
    sdk.v1.customers.create({"email": "platform@example.com"})
    sdk.v1.customers.create({"email": "shop@example.com"}, {"stripe_account": "acct_1Connected"})
    fake.wait_for_webhooks()
    [to_platform] = [verified(r, platform.secret) for r in receiver.received("platform")]
    [to_connected] = [verified(r, connected.secret) for r in receiver.received("connected")]
    assert to_platform["data"]["object"]["email"] == "platform@example.com"
    assert to_platform["api_version"] == "2024-06-20"
    assert "account" not in to_platform
    assert to_connected["data"]["object"]["email"] == "shop@example.com"
    assert to_connected["account"] == "acct_1Connected"


def test_the_events_api_lists_and_retrieves_them(
    fake: FakeStripe, sdk: stripe.StripeClient
) -> None:
    sdk.v1.customers.create({"email": "ada@example.com"})
    sdk.v1.products.create({"name": "T-shirt"})
    listed = sdk.v1.events.list({"types": ["customer.created"]})
    [event] = listed.data
    assert event.type == "customer.created"
    assert sdk.v1.events.retrieve(event.id).data.object.email == "ada@example.com"
    assert [e.type for e in sdk.v1.events.list().data] == ["product.created", "customer.created"]


@pytest.mark.parametrize("signature", ["wrong_secret", "tampered", "stale", "missing", "malformed"])
def test_send_event_signs_as_told_and_the_sdk_agrees(
    fake: FakeStripe, receiver: Receiver, signature: Any
) -> None:
    secret = "whsec_fake0123456789"
    url = f"{receiver.url}/hooks/direct"
    answer = fake.send_event(
        url, "invoice.paid", {"id": "in_1", "object": "invoice"}, secret=secret
    )
    assert answer.status_code == 200
    good = verified(receiver.received("direct")[0], secret)
    assert (good["type"], good["data"]["object"]["id"]) == ("invoice.paid", "in_1")
    assert good["id"] in fake.events

    fake.send_event(url, "invoice.paid", {"id": "in_2"}, secret=secret, signature=signature)
    bad = receiver.received("direct")[1]
    with pytest.raises(stripe.SignatureVerificationError):
        verified(bad, secret)


def test_resend_and_replay_deliver_the_same_event_again(
    fake: FakeStripe, receiver: Receiver
) -> None:
    url = f"{receiver.url}/hooks/direct"
    registered = fake.add_webhook_endpoint(url, ["customer.created"], secret="whsec_chosen")
    fake.send_event(url, "customer.created", {"id": "cus_1"}, secret=registered["secret"])
    [sent] = fake.webhook_deliveries
    event_id = json.loads(sent.body)["id"]
    fake.resend_event(event_id, url)  # the registered endpoint's secret, a fresh signature
    fake.replay_delivery(sent)  # byte for byte
    first, resent, replayed = receiver.received("direct")
    assert json.loads(resent.body)["id"] == event_id
    assert verified(resent, "whsec_chosen")["id"] == event_id
    assert (replayed.body, replayed.header("Stripe-Signature")) == (
        first.body,
        first.header("Stripe-Signature"),
    )
    with pytest.raises(KeyError, match="evt_missing"):
        fake.resend_event("evt_missing", url)


def test_a_write_whose_answer_is_lost_still_makes_its_event_once(
    fake: FakeStripe, receiver: Receiver, sdk: stripe.StripeClient
) -> None:
    hook = endpoint(sdk, f"{receiver.url}/hooks/a", ["customer.created"])
    fake.drop_after_write(path="/v1/customers")
    with pytest.raises(stripe.APIConnectionError):
        sdk.v1.customers.create({"email": "ada@example.com"}, {"idempotency_key": "k-lost"})
    retried = sdk.v1.customers.create({"email": "ada@example.com"}, {"idempotency_key": "k-lost"})
    fake.wait_for_webhooks()
    [event] = [verified(r, hook.secret) for r in receiver.received("a")]
    assert event["data"]["object"]["id"] == retried.id
    assert event["request"]["idempotency_key"] == "k-lost"
