"""FakeStripe itself, through the real SDK and raw HTTP: Stripe's form encoding, auth, the
idempotency semantics, error bodies with request ids, fault injection, pagination, expand,
Connect accounts, and the objects' behaviour (test cards, refunds, subscriptions...)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from runio_stripe import HTTPXClient
from runio_stripe.testing import FakeStripe, parse_form
from stripe_helpers import API_KEY


@pytest.fixture
def sdk(fake: FakeStripe) -> Iterator[stripe.StripeClient]:
    http = HTTPXClient(allow_sync_methods=True)
    yield stripe.StripeClient(
        API_KEY, base_addresses={"api": fake.url}, http_client=http, max_network_retries=0
    )
    http.close()


@pytest.fixture
def raw(fake: FakeStripe) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def error_of(exc: pytest.ExceptionInfo[stripe.StripeError]) -> dict[str, Any]:
    body = exc.value.json_body
    assert isinstance(body, dict)
    return body["error"]  # type: ignore[no-any-return]


# -- the wire -------------------------------------------------------------------------------------


def test_parse_form_builds_nested_values() -> None:
    pairs = [
        ("email", "ada@example.com"),
        ("metadata[plan]", "pro"),
        ("metadata[ref]", ""),
        ("items[0][price]", "price_1"),
        ("items[0][quantity]", "2"),
        ("items[1][price]", "price_2"),
        ("expand[]", "customer"),
        ("expand[]", "invoice"),
        ("recurring[interval]", "month"),
    ]
    assert parse_form(pairs) == {
        "email": "ada@example.com",
        "metadata": {"plan": "pro", "ref": ""},
        "items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "expand": ["customer", "invoice"],
        "recurring": {"interval": "month"},
    }


def test_the_sdk_form_encoding_round_trips(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    made = sdk.v1.customers.create(
        {
            "email": "ada@example.com",
            "metadata": {"plan": "pro"},
            "address": {"city": "London", "country": "GB"},
            "preferred_locales": ["en", "fr"],
        }
    )
    stored = fake.customers[made.id]
    assert stored["metadata"] == {"plan": "pro"}
    assert stored["address"]["city"] == "London" and stored["address"]["line1"] is None
    assert stored["preferred_locales"] == ["en", "fr"]
    sent = fake.requests[-1]
    assert sent.form()["metadata[plan]"] == "pro"
    assert sent.header("Content-Type") == "application/x-www-form-urlencoded"


def test_object_shapes_look_like_stripes(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = sdk.v1.customers.create({"email": "ada@example.com"}).to_dict()
    assert customer["id"].startswith("cus_") and len(customer["id"]) == len("cus_") + 14
    for key in ("object", "created", "livemode", "metadata", "invoice_settings", "tax_exempt"):
        assert key in customer
    charge = sdk.v1.charges.create({"amount": 100, "currency": "usd", "source": "tok_visa"})
    assert charge.id.startswith("ch_") and charge.object == "charge"
    assert charge.refunds.url == f"/v1/charges/{charge.id}/refunds"
    assert charge.outcome.type == "authorized"


# -- auth -----------------------------------------------------------------------------------------


def test_requests_without_a_test_key_are_refused(fake: FakeStripe) -> None:
    anonymous = httpx.post(f"{fake.url}/v1/customers", data={"email": "x@example.com"})
    assert anonymous.status_code == 401
    assert "You did not provide an API key" in anonymous.json()["error"]["message"]
    assert anonymous.headers["Request-Id"].startswith("req_")
    wrong = httpx.get(
        f"{fake.url}/v1/customers", headers={"Authorization": "Bearer sk_test_wrongkey1234"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "Invalid API Key provided: sk_test_********1234"
    assert fake.customers == {}


def test_any_test_mode_key_is_accepted_when_none_is_configured() -> None:
    with FakeStripe() as fake:
        ok = httpx.get(f"{fake.url}/v1/customers", headers={"Authorization": "Bearer sk_test_x1"})
        live = httpx.get(f"{fake.url}/v1/customers", headers={"Authorization": "Bearer sk_live_1"})
        restricted = httpx.get(
            f"{fake.url}/v1/customers", headers={"Authorization": "Bearer rk_test_abc"}
        )
    assert (ok.status_code, live.status_code, restricted.status_code) == (200, 401, 200)


# -- idempotency ----------------------------------------------------------------------------------


def test_the_same_key_and_parameters_replay_the_first_answer(
    raw: httpx.Client, fake: FakeStripe
) -> None:
    first = raw.post(
        "/v1/customers", data={"email": "a@example.com"}, headers={"Idempotency-Key": "k"}
    )
    again = raw.post(
        "/v1/customers", data={"email": "a@example.com"}, headers={"Idempotency-Key": "k"}
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(fake.customers) == 1


def test_the_same_key_with_other_parameters_is_an_idempotency_error(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    sdk.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-1"})
    with pytest.raises(stripe.IdempotencyError) as raised:
        sdk.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k-1"})
    assert raised.value.http_status == 400
    error = error_of(raised)
    assert error["type"] == "idempotency_error"
    assert "Try using a key other than 'k-1'" in error["message"]
    assert raised.value.request_id is not None and raised.value.request_id.startswith("req_")
    assert len(fake.customers) == 1


def test_a_replayed_answer_is_the_original_even_after_a_change(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    made = sdk.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-2"})
    sdk.v1.customers.update(made.id, {"name": "Changed"})
    replayed = sdk.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-2"})
    assert replayed.name is None  # Stripe replays the saved answer, not the current object


# -- errors and faults ----------------------------------------------------------------------------


def test_errors_have_stripes_shape(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.customers.retrieve("cus_missing")
    error = error_of(raised)
    assert raised.value.http_status == 404
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "resource_missing",
        "id",
    )
    assert error["message"] == "No such customer: 'cus_missing'"
    assert raised.value.request_id == fake.request_ids[-1]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.products.create({})  # type: ignore[typeddict-item]
    assert error_of(raised)["code"] == "parameter_missing"
    assert error_of(raised)["param"] == "name"


def test_unknown_parameters_are_refused_unless_not_strict(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.customers.create({"emial": "a@example.com"})  # type: ignore[typeddict-unknown-key]
    assert error_of(raised)["code"] == "parameter_unknown"
    fake.strict = False
    sdk.v1.customers.create({"emial": "a@example.com"})  # type: ignore[typeddict-unknown-key]


def test_fail_next_injects_stripe_errors_with_headers(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    fake.fail_next(429, headers={"Stripe-Should-Retry": "true", "Retry-After": "3"}, times=2)
    for _ in range(2):
        with pytest.raises(stripe.RateLimitError) as raised:
            sdk.v1.customers.create({"email": "a@example.com"})
        assert raised.value.headers["stripe-should-retry"] == "true"
        assert raised.value.headers["retry-after"] == "3"
        assert error_of(raised)["code"] == "rate_limit"
    sdk.v1.customers.create({"email": "a@example.com"})
    assert [r.outcome for r in fake.requests] == ["fault", "fault", "ok"]
    assert len(fake.customers) == 1
    lock = fake.error_response(429, code="lock_timeout")
    assert lock.json["error"]["code"] == "lock_timeout"


def test_drop_after_write_applies_the_write_and_loses_the_answer(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    fake.drop_after_write()
    with pytest.raises(stripe.APIConnectionError):
        sdk.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-3"})
    assert len(fake.customers) == 1
    again = sdk.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-3"})
    assert list(fake.customers) == [again.id]


def test_hold_after_write_holds_the_answer_until_released(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    hold = fake.hold_after_write(path="/v1/customers")
    answers: list[Any] = []
    caller = threading.Thread(
        target=lambda: answers.append(sdk.v1.customers.create({"email": "a@example.com"}))
    )
    caller.start()
    request = hold.wait_applied(timeout=10)
    assert request.path == "/v1/customers"
    assert len(fake.customers) == 1 and answers == []
    hold.release()
    caller.join(timeout=10)
    assert [a.id for a in answers] == list(fake.customers)


# -- lists, expand, Connect -----------------------------------------------------------------------


def test_lists_are_newest_first_with_cursors(sdk: stripe.StripeClient) -> None:
    ids = [sdk.v1.customers.create({"email": f"u{i}@example.com"}).id for i in range(5)]
    first = sdk.v1.customers.list({"limit": 2})
    assert [c.id for c in first.data] == ids[::-1][:2] and first.has_more
    second = sdk.v1.customers.list({"limit": 2, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == ids[::-1][2:4] and second.has_more
    back = sdk.v1.customers.list({"limit": 2, "ending_before": second.data[0].id})
    assert [c.id for c in back.data] == ids[::-1][:2]
    assert [c.id for c in sdk.v1.customers.list({"limit": 100}).auto_paging_iter()] == ids[::-1]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.customers.list({"limit": 101})


def test_expand_replaces_ids_with_objects(sdk: stripe.StripeClient) -> None:
    customer = sdk.v1.customers.create({"email": "a@example.com", "source": "tok_visa"})
    charge = sdk.v1.charges.create({"amount": 100, "currency": "usd", "customer": customer.id})
    expanded = sdk.v1.charges.retrieve(charge.id, {"expand": ["customer"]})
    assert expanded.customer.email == "a@example.com"  # type: ignore[union-attr]
    listed = sdk.v1.charges.list({"expand": ["data.customer"]})
    assert listed.data[0].customer.id == customer.id  # type: ignore[union-attr]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.charges.retrieve(charge.id, {"expand": ["amount"]})
    assert "cannot be expanded" in error_of(raised)["message"]


def test_objects_belong_to_the_connect_account_that_made_them(
    sdk: stripe.StripeClient, fake: FakeStripe
) -> None:
    connected = sdk.v1.customers.create({"email": "c@example.com"}, {"stripe_account": "acct_1A"})
    platform = sdk.v1.customers.create({"email": "p@example.com"})
    assert [c.id for c in sdk.v1.customers.list()] == [platform.id]
    listed = sdk.v1.customers.list(options={"stripe_account": "acct_1A"})
    assert [c.id for c in listed] == [connected.id]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.customers.retrieve(connected.id)
    with pytest.raises(stripe.PermissionError):
        sdk.v1.customers.list(options={"stripe_account": "not-an-account"})


# -- object behaviour -----------------------------------------------------------------------------


def test_metadata_merges_and_empty_values_delete(sdk: stripe.StripeClient) -> None:
    made = sdk.v1.customers.create({"metadata": {"a": "1", "b": "2"}})
    updated = sdk.v1.customers.update(made.id, {"metadata": {"a": "", "c": "3"}})
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}


def test_test_cards(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    with pytest.raises(stripe.CardError) as raised:
        sdk.v1.charges.create({"amount": 100, "currency": "usd", "source": "tok_chargeDeclined"})
    assert raised.value.http_status == 402
    assert (raised.value.code, error_of(raised)["decline_code"]) == (
        "card_declined",
        "generic_decline",
    )
    intent = sdk.v1.payment_intents.create(
        {"amount": 900, "currency": "usd", "payment_method": "pm_card_authenticationRequired"}
    )
    assert intent.status == "requires_confirmation"
    confirmed = sdk.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "requires_action" and confirmed.next_action is not None
    declined = sdk.v1.payment_intents.create({"amount": 900, "currency": "usd"})
    with pytest.raises(stripe.CardError) as raised:
        sdk.v1.payment_intents.confirm(
            declined.id, {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )
    assert error_of(raised)["payment_intent"]["status"] == "requires_payment_method"
    assert fake.payment_intents[declined.id]["last_payment_error"]["decline_code"] == (
        "insufficient_funds"
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.charges.create({"amount": 100, "currency": "usd", "source": "tok_nope"})
    assert error_of(raised)["message"] == "No such token: 'tok_nope'"


def test_refunds_cannot_exceed_the_charge(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    charge = sdk.v1.charges.create({"amount": 1000, "currency": "usd", "source": "tok_visa"})
    sdk.v1.refunds.create({"charge": charge.id, "amount": 600})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.refunds.create({"charge": charge.id, "amount": 600})
    assert "greater than unrefunded amount" in error_of(raised)["message"]
    rest = sdk.v1.refunds.create({"charge": charge.id})
    assert rest.amount == 400 and fake.charges[charge.id]["refunded"] is True
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.refunds.create({"charge": charge.id})
    assert error_of(raised)["code"] == "charge_already_refunded"


def test_subscription_states(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    price = sdk.v1.prices.create(
        {
            "product_data": {"name": "Plan"},
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    no_card = sdk.v1.customers.create({"email": "n@example.com"})
    with_card = sdk.v1.customers.create({"email": "c@example.com", "source": "tok_visa"})
    incomplete = sdk.v1.subscriptions.create(
        {"customer": no_card.id, "items": [{"price": price.id}]}
    )
    assert incomplete.status == "incomplete"
    assert fake.invoices[str(incomplete.latest_invoice)]["status"] == "open"
    trialing = sdk.v1.subscriptions.create(
        {"customer": no_card.id, "items": [{"price": price.id}], "trial_period_days": 14}
    )
    assert trialing.status == "trialing" and trialing.trial_end is not None
    active = sdk.v1.subscriptions.create({"customer": with_card.id, "items": [{"price": price.id}]})
    assert active.status == "active"
    assert fake.invoices[str(active.latest_invoice)]["amount_paid"] == 1500
    sdk.v1.subscriptions.cancel(active.id)
    listed = {s.id for s in sdk.v1.subscriptions.list()}
    assert listed == {incomplete.id, trialing.id}  # canceled ones only on request
    everything = {s.id for s in sdk.v1.subscriptions.list({"status": "all"})}
    assert active.id in everything
    one_time = sdk.v1.prices.create(
        {"product": price.product, "unit_amount": 500, "currency": "usd"}  # type: ignore[typeddict-item]
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.subscriptions.create({"customer": with_card.id, "items": [{"price": one_time.id}]})
    assert "type=recurring" in error_of(raised)["message"]


def test_checkout_and_webhook_rules(sdk: stripe.StripeClient, fake: FakeStripe) -> None:
    recurring = sdk.v1.prices.create(
        {
            "product_data": {"name": "Plan"},
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.checkout.sessions.create(
            {"mode": "payment", "line_items": [{"price": recurring.id, "quantity": 1}]}
        )
    assert "recurring price" in error_of(raised)["message"]
    made = sdk.v1.webhook_endpoints.create(
        {"url": "https://example.com/hook", "enabled_events": ["invoice.paid"]}
    )
    assert made.secret is not None and made.secret.startswith("whsec_")
    assert "secret" not in sdk.v1.webhook_endpoints.retrieve(made.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.webhook_endpoints.create({"url": "https://example.com/h"})  # type: ignore[typeddict-item]
    assert error_of(raised)["param"] == "enabled_events"
