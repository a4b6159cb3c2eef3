"""FakeResend itself, through the real ``resend`` SDK (bound with ``ResendClient``) and raw
HTTP: auth, Resend's error bodies, validation, the idempotency rules (24 hours, same body
replays, other body 409, in-progress 409), fault injection, quotas, and the objects behind the
wrappers (emails, batch, audiences/segments, contacts, domains), and webhooks (the
``/webhooks`` API, Svix signatures, notifications of sent emails, retries)."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import resend
from resend.exceptions import ResendError
from resend_helpers import API_KEY
from runio_resend import ResendClient
from runio_resend.testing import FakeResend, sign_delivery

from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, TestClock, route

EMAIL = {"from": "Acme <hi@acme.dev>", "to": "ada@example.com", "subject": "Hi", "html": "<p>x</p>"}


@pytest.fixture
def raw(fake: FakeResend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        yield c


def error_of(exc: pytest.ExceptionInfo[ResendError]) -> tuple[Any, str, str]:
    return exc.value.code, exc.value.error_type, exc.value.message


# -- auth and errors ------------------------------------------------------------------------------


def test_a_missing_key_is_401_and_a_wrong_one_403(fake: FakeResend) -> None:
    with httpx.Client(base_url=fake.url) as plain:
        answer = plain.post("/emails", json=EMAIL)
    assert answer.status_code == 401
    assert answer.json() == {
        "statusCode": 401,
        "name": "missing_api_key",
        "message": "Missing API key in the authorization header.",
    }
    with (
        ResendClient("re_wrong_key", base_url=fake.url) as wrong,
        pytest.raises(ResendError) as exc,
    ):
        wrong.Emails.send(dict(EMAIL))
    assert error_of(exc) == (403, "invalid_api_key", "API key is invalid")
    assert fake.emails == {}


def test_any_re_key_is_accepted_when_none_is_configured(clock: TestClock) -> None:
    with (
        FakeResend(clock=clock.now) as fake,
        ResendClient("re_anything", base_url=fake.url) as good,
        ResendClient("sk_not_resend", base_url=fake.url) as bad,
    ):
        assert good.Emails.send(dict(EMAIL))["id"] in fake.emails
        with pytest.raises(ResendError) as exc:
            bad.Emails.send(dict(EMAIL))
        assert exc.value.code == 403


@pytest.mark.parametrize(
    ("change", "name", "message"),
    [
        ({"to": None}, "missing_required_field", "Missing `to` field."),
        ({"subject": None}, "missing_required_field", "Missing `subject` field."),
        ({"from": "not an address"}, "validation_error", "Invalid `from` field."),
        ({"to": ["ok@example.com", "nope"]}, "validation_error", "Invalid `to` field."),
        ({"to": [f"u{i}@example.com" for i in range(51)]}, "validation_error", "up to 50"),
        ({"scheduled_at": "tomorrow-ish"}, "validation_error", "ISO 8601"),
        ({"scheduled_at": "2020-01-01T00:00:00Z"}, "validation_error", "in the future"),
        ({"tags": [{"name": "a b", "value": "x"}]}, "validation_error", "Invalid `tags`"),
    ],
)
def test_invalid_emails_get_resends_422(
    sdk: ResendClient, fake: FakeResend, change: dict[str, Any], name: str, message: str
) -> None:
    params = {k: v for k, v in {**EMAIL, **change}.items() if v is not None}
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send(params)
    code, error_type, text = error_of(exc)
    assert (code, error_type) == (422, name)
    assert message in text
    assert fake.emails == {}


def test_unknown_routes_say_what_the_fake_implements(raw: httpx.Client) -> None:
    answer = raw.get("/broadcasts")
    assert answer.status_code == 404
    assert answer.json()["name"] == "not_found"
    assert "FakeResend implements only part" in answer.json()["message"]


def test_a_get_with_the_sdks_empty_json_body_is_accepted(
    sdk: ResendClient, fake: FakeResend
) -> None:
    sent = sdk.Emails.send(dict(EMAIL))
    got = sdk.Emails.get(sent["id"])
    assert fake.requests[-1].method == "GET" and fake.requests[-1].body == b"{}"
    assert got["subject"] == "Hi" and got["to"] == ["ada@example.com"]
    assert got["last_event"] == "sent" and got["object"] == "email"


# -- emails ---------------------------------------------------------------------------------------


def test_a_sent_email_is_stored_as_resend_shows_it(sdk: ResendClient, fake: FakeResend) -> None:
    sent = sdk.Emails.send({**EMAIL, "cc": "c@example.com", "reply_to": ["r@example.com"]})
    email = fake.emails[sent["id"]]
    assert email["from"] == "Acme <hi@acme.dev>"
    assert email["cc"] == ["c@example.com"] and email["reply_to"] == ["r@example.com"]
    assert email["created_at"] == "2027-01-15 08:00:00.000000+00"
    assert [e["id"] for e in fake.sent_to("c@example.com")] == [sent["id"]]


def test_a_scheduled_email_can_be_rescheduled_and_canceled(
    sdk: ResendClient, fake: FakeResend
) -> None:
    sent = sdk.Emails.send({**EMAIL, "scheduled_at": "2027-01-16T09:00:00Z"})
    assert fake.emails[sent["id"]]["last_event"] == "scheduled"
    updated = sdk.Emails.update({"id": sent["id"], "scheduled_at": "2027-01-17T09:00:00Z"})
    assert updated["id"] == sent["id"]
    assert fake.emails[sent["id"]]["scheduled_at"] == "2027-01-17T09:00:00Z"
    canceled = sdk.Emails.cancel(sent["id"])
    assert canceled["object"] == "email" and fake.emails[sent["id"]]["last_event"] == "canceled"
    with pytest.raises(ResendError) as exc:
        sdk.Emails.cancel(sent["id"])
    assert exc.value.code == 422 and "canceled" in exc.value.message


def test_a_missing_email_is_404(sdk: ResendClient) -> None:
    with pytest.raises(ResendError) as exc:
        sdk.Emails.get("4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert error_of(exc) == (404, "not_found", "Email not found")


def test_a_batch_is_all_or_nothing_unless_permissive(sdk: ResendClient, fake: FakeResend) -> None:
    good = dict(EMAIL)
    bad = {**EMAIL, "to": "nope"}
    with pytest.raises(ResendError) as exc:
        sdk.Batch.send([good, bad])
    assert exc.value.code == 422 and exc.value.message.startswith("emails[1]:")
    assert fake.emails == {}
    sent = sdk.Batch.send([good, good])
    assert len(sent["data"]) == 2 and len(fake.emails) == 2
    partial = sdk.Batch.send([good, bad], {"batch_validation": "permissive"})
    assert len(partial["data"]) == 1 and partial["errors"][0]["index"] == 1
    with pytest.raises(ResendError) as exc:
        sdk.Batch.send([{**EMAIL, "scheduled_at": "2027-01-16T09:00:00Z"}])
    assert "not supported in batch" in exc.value.message


# -- idempotency ----------------------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_answer(sdk: ResendClient, fake: FakeResend) -> None:
    first = sdk.Emails.send(dict(EMAIL), {"idempotency_key": "welcome-1"})
    again = sdk.Emails.send(dict(EMAIL), {"idempotency_key": "welcome-1"})
    assert again["id"] == first["id"] and len(fake.emails) == 1
    assert fake.requests[-1].outcome == "replayed"


def test_the_same_key_with_another_body_is_409_invalid_idempotent_request(
    sdk: ResendClient, fake: FakeResend
) -> None:
    sdk.Emails.send(dict(EMAIL), {"idempotency_key": "welcome-1"})
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send({**EMAIL, "subject": "Other"}, {"idempotency_key": "welcome-1"})
    code, name, message = error_of(exc)
    assert (code, name) == (409, "invalid_idempotent_request")
    assert "different request payload" in message
    assert len(fake.emails) == 1
    # the first answer is still the key's
    assert sdk.Emails.send(dict(EMAIL), {"idempotency_key": "welcome-1"})["id"] in fake.emails


def test_a_key_is_remembered_for_24_hours(
    sdk: ResendClient, fake: FakeResend, clock: TestClock
) -> None:
    first = sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})
    clock.advance(seconds=24 * 3600 - 1)
    assert sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})["id"] == first["id"]
    clock.advance(seconds=1)
    later = sdk.Emails.send({**EMAIL, "subject": "Other"}, {"idempotency_key": "k"})
    assert later["id"] != first["id"] and len(fake.emails) == 2


def test_batch_sends_honour_the_key_too(sdk: ResendClient, fake: FakeResend) -> None:
    first = sdk.Batch.send([dict(EMAIL)] * 2, {"idempotency_key": "batch-1"})
    again = sdk.Batch.send([dict(EMAIL)] * 2, {"idempotency_key": "batch-1"})
    assert again["data"] == first["data"] and len(fake.emails) == 2


def test_a_key_longer_than_256_characters_is_refused(sdk: ResendClient, fake: FakeResend) -> None:
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k" * 257})
    assert error_of(exc)[:2] == (400, "invalid_idempotency_key")
    assert fake.emails == {}


def test_a_refused_send_does_not_use_the_key_up(sdk: ResendClient, fake: FakeResend) -> None:
    with pytest.raises(ResendError):
        sdk.Emails.send({**EMAIL, "to": "nope"}, {"idempotency_key": "k"})
    sent = sdk.Emails.send({**EMAIL, "subject": "Fixed"}, {"idempotency_key": "k"})
    assert fake.emails[sent["id"]]["subject"] == "Fixed"


def test_the_key_while_its_first_request_is_in_progress_is_409_concurrent(
    sdk: ResendClient, fake: FakeResend
) -> None:
    hold = fake.hold_after_write(method="POST", path="/emails")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(sdk.Emails.send, dict(EMAIL), {"idempotency_key": "k"})
        hold.wait_applied()
        with pytest.raises(ResendError) as exc:
            sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})
        assert error_of(exc)[:2] == (409, "concurrent_idempotent_requests")
        other = sdk.Emails.send(dict(EMAIL), {"idempotency_key": "another"})  # not blocked
        hold.release()
        assert first.result(timeout=30)["id"] != other["id"]
    assert sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})["id"] == first.result()["id"]
    assert len(fake.emails) == 2


def test_the_key_is_honoured_on_sends_only(fake: FakeResend, raw: httpx.Client) -> None:
    made = raw.post("/audiences", json={"name": "A"}, headers={"Idempotency-Key": "k"})
    again = raw.post("/audiences", json={"name": "A"}, headers={"Idempotency-Key": "k"})
    assert made.json()["id"] != again.json()["id"] and len(fake.audiences) == 2


# -- faults and quotas ----------------------------------------------------------------------------


def test_fail_next_answers_resends_error_without_applying(
    sdk: ResendClient, fake: FakeResend
) -> None:
    fake.fail_next(500)
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})
    assert error_of(exc)[:2] == (500, "internal_server_error")
    assert fake.emails == {}
    assert sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})["id"] in fake.emails


def test_a_rate_limit_answer_carries_retry_after(sdk: ResendClient, fake: FakeResend) -> None:
    fake.fail_next(fake.rate_limit_response(7, now=0))
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send(dict(EMAIL))
    assert error_of(exc)[:2] == (429, "rate_limit_exceeded")
    assert exc.value.headers["retry-after"] == "7"


def test_a_dropped_write_was_applied_and_its_key_replays(
    sdk: ResendClient, fake: FakeResend
) -> None:
    fake.drop_after_write()
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})
    assert exc.value.error_type == "HttpClientError"
    assert len(fake.emails) == 1
    again = sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})
    assert list(fake.emails) == [again["id"]]
    assert fake.requests[-1].outcome == "replayed"


def test_the_daily_quota_counts_every_email_and_resets_with_the_utc_day(
    clock: TestClock,
) -> None:
    with (
        FakeResend(api_key=API_KEY, clock=clock.now, daily_quota=3, monthly_quota=5) as fake,
        ResendClient(API_KEY, base_url=fake.url) as sdk,
    ):
        sdk.Batch.send([dict(EMAIL)] * 2)
        sdk.Emails.send(dict(EMAIL), {"idempotency_key": "third"})
        with pytest.raises(ResendError) as exc:
            sdk.Emails.send(dict(EMAIL))
        assert error_of(exc) == (
            429,
            "daily_quota_exceeded",
            "You have reached your daily email sending quota.",
        )
        # a replay is not a new email
        assert sdk.Emails.send(dict(EMAIL), {"idempotency_key": "third"})["id"] in fake.emails
        clock.advance(seconds=16 * 3600)  # past midnight UTC
        sdk.Batch.send([dict(EMAIL)] * 2)
        with pytest.raises(ResendError) as exc:
            sdk.Emails.send(dict(EMAIL))
        assert error_of(exc)[:2] == (429, "monthly_quota_exceeded")
        assert len(fake.emails) == 5


# -- audiences, contacts, domains -----------------------------------------------------------------


def test_audiences_are_segments(sdk: ResendClient, fake: FakeResend, raw: httpx.Client) -> None:
    made = sdk.Segments.create({"name": "Registered Users"})
    assert made["object"] == "segment"
    legacy = raw.get(f"/audiences/{made['id']}").json()
    assert legacy["object"] == "audience" and legacy["name"] == "Registered Users"
    assert [a["id"] for a in sdk.Segments.list()["data"]] == [made["id"]]
    assert sdk.Segments.remove(made["id"])["deleted"] is True
    with pytest.raises(ResendError) as exc:
        sdk.Segments.get(made["id"])
    assert exc.value.code == 404


def test_contacts_by_id_or_email_globally_and_by_audience(
    sdk: ResendClient, fake: FakeResend
) -> None:
    audience = sdk.Segments.create({"name": "Users"})
    made = sdk.Contacts.create(
        {"email": "ada@example.com", "first_name": "Ada", "audience_id": audience["id"]}
    )
    assert fake.contact_audiences(made["id"]) == {audience["id"]}
    by_email = sdk.Contacts.get(email="ada@example.com")
    assert by_email["id"] == made["id"] and by_email["first_name"] == "Ada"
    sdk.Contacts.update({"email": "ada@example.com", "last_name": "Lovelace"})
    assert fake.contacts[made["id"]]["last_name"] == "Lovelace"
    sdk.Contacts.update({"id": made["id"], "unsubscribed": True, "audience_id": audience["id"]})
    assert fake.contacts[made["id"]]["unsubscribed"] is True
    assert [c["id"] for c in sdk.Contacts.list(audience_id=audience["id"])["data"]] == [made["id"]]
    assert [c["id"] for c in sdk.Contacts.list(segment_id=audience["id"])["data"]] == [made["id"]]
    with pytest.raises(ResendError) as exc:
        sdk.Contacts.create({"email": "ada@example.com"})
    assert exc.value.code == 409
    removed = sdk.Contacts.remove(id=made["id"])
    assert removed["deleted"] is True and fake.contacts == {}
    with pytest.raises(ResendError) as exc:
        sdk.Contacts.get(id=made["id"])
    assert error_of(exc)[:2] == (404, "not_found")


def test_lists_page_by_cursor(sdk: ResendClient) -> None:
    ids = [sdk.Contacts.create({"email": f"u{i}@example.com"})["id"] for i in range(5)]
    newest_first = list(reversed(ids))
    page = sdk.Contacts.list(params={"limit": 2})
    assert [c["id"] for c in page["data"]] == newest_first[:2] and page["has_more"] is True
    rest = sdk.Contacts.list(params={"limit": 10, "after": newest_first[1]})
    assert [c["id"] for c in rest["data"]] == newest_first[2:] and rest["has_more"] is False
    with pytest.raises(ResendError) as exc:
        sdk.Contacts.list(params={"limit": 101})
    assert exc.value.code == 422


def test_domains_are_seeded_and_listed(sdk: ResendClient, fake: FakeResend) -> None:
    domain = fake.add_domain("acme.dev")
    listed = sdk.Domains.list()
    assert listed["object"] == "list"
    assert [(d["id"], d["name"], d["status"]) for d in listed["data"]] == [
        (domain["id"], "acme.dev", "verified")
    ]


def test_seeded_objects_are_served_like_created_ones(sdk: ResendClient, fake: FakeResend) -> None:
    email = fake.add_email(scheduled_at="2027-02-01T00:00:00Z")
    assert sdk.Emails.get(email["id"])["last_event"] == "scheduled"
    audience = fake.add_audience("Users")
    contact = fake.add_contact("ada@example.com", audience_id=audience["id"])
    listed = sdk.Contacts.list(audience_id=audience["id"])["data"]
    assert [c["id"] for c in listed] == [contact["id"]]
    assert fake.requests and all(r.method == "GET" for r in fake.requests)
    with pytest.raises(ValueError, match="Invalid `to` field"):
        fake.add_email(to="nope")


def test_errors_from_the_fake_server_base_take_resends_shape(fake: FakeResend) -> None:
    error = SimpleNamespace(status=404, message="No such thing", headers={}, fields={"code": "x"})
    answer = fake.render_error(error)
    assert answer.status == 404
    assert answer.json == {"statusCode": 404, "name": "x", "message": "No such thing"}


# -- webhooks -------------------------------------------------------------------------------------


class Receiver(FakeVendorServer):
    """An endpoint that records what it is sent and answers ``status``."""

    status = 200

    @route("POST", "/hook")
    def hook(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(self.status, json={})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def test_webhooks_are_created_read_updated_and_removed_like_resends(
    sdk: ResendClient, fake: FakeResend
) -> None:
    made = sdk.Webhooks.create({"endpoint": "https://a.example.com/h", "events": ["email.sent"]})
    assert made["object"] == "webhook"
    assert made["signing_secret"].startswith("whsec_")
    got = sdk.Webhooks.get(made["id"])
    assert (got["endpoint"], got["events"], got["status"]) == (
        "https://a.example.com/h",
        ["email.sent"],
        "enabled",
    )
    assert got["signing_secret"] == made["signing_secret"]
    listed = sdk.Webhooks.list()
    assert [w["id"] for w in listed["data"]] == [made["id"]]
    assert "signing_secret" not in listed["data"][0]  # shown on the webhook's own page only

    sdk.Webhooks.update(
        {"webhook_id": made["id"], "events": ["email.bounced"], "status": "disabled"}
    )
    assert (fake.webhooks[made["id"]]["events"], fake.webhooks[made["id"]]["status"]) == (
        ["email.bounced"],
        "disabled",
    )
    assert sdk.Webhooks.remove(made["id"])["deleted"] is True
    with pytest.raises(ResendError) as exc:
        sdk.Webhooks.get(made["id"])
    assert error_of(exc) == (404, "not_found", "Webhook not found")


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        ({"events": ["email.sent"]}, "missing_required_field", "Missing `endpoint` field."),
        ({"endpoint": "https://a.example.com/h"}, "missing_required_field", "`events`"),
        ({"endpoint": "https://a.example.com/h", "events": []}, "validation_error", "non-empty"),
        ({"endpoint": "ftp://a.example.com", "events": ["email.sent"]}, "validation_error", "URL"),
        (
            {"endpoint": "https://a.example.com/h", "events": ["email.sen"]},
            "validation_error",
            "Unknown event type: email.sen",
        ),
    ],
)
def test_an_invalid_webhook_is_refused(
    sdk: ResendClient, fake: FakeResend, params: dict[str, Any], name: str, message: str
) -> None:
    with pytest.raises(ResendError) as exc:
        sdk.Webhooks.create(params)  # type: ignore[arg-type]
    assert exc.value.code == 422 and exc.value.error_type == name
    assert message in exc.value.message
    assert fake.webhooks == {}


def test_a_delivery_is_signed_as_svix_signs_it() -> None:
    """The fake's signature passes the resend SDK's own verifier (a separate implementation
    of Svix's scheme), which reads the wall clock: hence a fake on ``time.time``."""
    fake = FakeResend(seed=3)
    secret = fake.new_signing_secret()
    body = fake.event_body("email.delivered", {"email_id": "e-1", "to": ["ada@example.com"]})
    stamp = int(time.time())
    headers = {"id": "msg_1", "timestamp": str(stamp)}
    signature = sign_delivery(secret, "msg_1", stamp, body)
    event = resend.Webhooks.verify(
        {
            "payload": body.decode(),
            "headers": {**headers, "signature": signature},  # type: ignore[typeddict-item]
            "webhook_secret": secret,
        }
    )
    assert event["type"] == "email.delivered"
    assert event["data"] == {"email_id": "e-1", "to": ["ada@example.com"]}  # type: ignore[comparison-overlap]
    assert event["created_at"].endswith("Z")
    with pytest.raises(ValueError, match="no matching signature"):
        resend.Webhooks.verify(
            {
                "payload": body.decode().replace("e-1", "e-2"),
                "headers": {**headers, "signature": signature},  # type: ignore[typeddict-item]
                "webhook_secret": secret,
            }
        )


def test_sent_emails_notify_the_subscribed_webhooks_in_order(
    sdk: ResendClient, fake: FakeResend, receiver: Receiver
) -> None:
    fake.deliver_emails = True
    hook = fake.add_webhook(f"{receiver.url}/hook", ["email.sent", "email.delivered"])
    fake.add_webhook(f"{receiver.url}/other", ["email.bounced"])  # not subscribed
    sent = sdk.Emails.send({**EMAIL, "tags": [{"name": "kind", "value": "welcome"}]})
    sdk.Emails.send({**EMAIL, "scheduled_at": "2027-01-16T09:00:00Z"})  # email.scheduled: none
    sdk.Batch.send([dict(EMAIL), dict(EMAIL)])
    fake.wait_for_webhooks()

    events = [json.loads(r.body) for r in receiver.requests]
    assert [e["type"] for e in events] == ["email.sent", "email.delivered"] * 3
    assert events[0]["data"] == {
        "email_id": sent["id"],
        "created_at": "2027-01-15T08:00:00.000Z",
        "from": "Acme <hi@acme.dev>",
        "to": ["ada@example.com"],
        "subject": "Hi",
        "tags": {"kind": "welcome"},
    }
    ids = [r.header("svix-id") for r in receiver.requests]
    assert len(set(ids)) == 6  # one message per event
    for request in receiver.requests:
        stamp = int(request.header("svix-timestamp") or 0)
        assert request.header("svix-signature") == sign_delivery(
            hook["signing_secret"], str(request.header("svix-id")), stamp, request.body
        )
    assert fake.emails[sent["id"]]["last_event"] == "delivered"


def test_a_failed_delivery_is_retried_with_the_same_id(
    fake: FakeResend, receiver: Receiver, clock: TestClock
) -> None:
    fake.add_webhook(f"{receiver.url}/hook", ["email.bounced"])
    email = fake.add_email()
    receiver.status = 503
    fake.email_event(email["id"], "email.bounced")
    fake.wait_for_webhooks()
    receiver.status = 200
    clock.advance(5)
    (retry,) = fake.retry_failed()

    assert retry.status_code == 200
    assert [d.status for d in fake.webhook_deliveries] == [503, 200]
    first, second = receiver.requests
    assert first.header("svix-id") == second.header("svix-id")
    assert first.body == second.body
    assert int(second.header("svix-timestamp") or 0) == int(first.header("svix-timestamp") or 0) + 5
    assert fake.retry_failed() == []


def test_an_unreachable_endpoint_is_recorded_and_retried(
    fake: FakeResend, receiver: Receiver
) -> None:
    url = f"{receiver.url}/hook"
    receiver.stop()
    with pytest.raises(httpx.ConnectError):
        fake.send_event(url, "email.sent", {"email_id": "e-1"}, secret=fake.new_signing_secret())
    assert [d.status for d in fake.webhook_deliveries] == [0]
    receiver.start(port=int(url.split(":")[2].split("/")[0]))
    (retry,) = fake.retry_failed()
    assert retry.status_code == 200


def test_an_email_not_sent_yet_cannot_be_delivered_or_bounced(fake: FakeResend) -> None:
    email = fake.add_email(scheduled_at="2099-01-01T09:00:00Z")
    with pytest.raises(ValueError, match="is scheduled, not sent yet"):
        fake.email_event(email["id"], "email.delivered")
    with pytest.raises(ValueError, match="not an event of an email's life"):
        fake.email_event(email["id"], "contact.created")
    fake.email_event(email["id"], "email.sent")
    fake.email_event(email["id"], "email.delivered")
    assert fake.emails[email["id"]]["last_event"] == "delivered"


def test_contact_changes_through_the_api_notify_the_subscribed_webhooks(
    sdk: ResendClient, fake: FakeResend, receiver: Receiver
) -> None:
    fake.add_webhook(
        f"{receiver.url}/hook", ["contact.created", "contact.updated", "contact.deleted"]
    )
    audience = fake.add_audience()
    made = sdk.Contacts.create(
        {"email": "ada@example.com", "first_name": "Ada", "audience_id": audience["id"]}
    )
    sdk.Contacts.update({"id": made["id"], "unsubscribed": True})
    sdk.Contacts.remove(id=made["id"])
    fake.wait_for_webhooks()

    events = [json.loads(r.body) for r in receiver.requests]
    assert [e["type"] for e in events] == ["contact.created", "contact.updated", "contact.deleted"]
    assert events[0]["data"] == {
        "id": made["id"],
        "audience_id": audience["id"],
        "segment_ids": [audience["id"]],
        "created_at": "2027-01-15T08:00:00.000Z",
        "updated_at": "2027-01-15T08:00:00.000Z",
        "email": "ada@example.com",
        "first_name": "Ada",
        "unsubscribed": False,
    }
    assert events[1]["data"]["unsubscribed"] is True
    assert events[2]["data"]["id"] == made["id"]
