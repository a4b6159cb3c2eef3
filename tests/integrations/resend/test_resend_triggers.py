"""Resend's webhooks start jobs: FakeResend sends Svix-signed deliveries to a real runio server
(uvicorn on 127.0.0.1, in a thread), a worker runs the jobs they start.

Shown here: each trigger gets its typed event (and the raw one in ``ctx.event.payload``); the
tags filter; missing, wrong, stale, future and replayed signatures answered 401 with nothing
stored; Svix's retries (same ``svix-id``) starting one run; malformed signed bodies answered
400 (a signed event the trigger's model refuses, 422), never 5xx; a burst of 500 deliveries
stored whole; the signing secret in no log and no stored row; an unset or unusable secret
answered 503; ``register_webhook`` against the fake's ``/webhooks``; the fake's own
``email.sent`` / ``email.delivered`` deliveries after an email sent by a job; and
examples/resend_app.py's bounce handler driven as the demo drives it.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import socket
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from integration_world import text_columns
from resend_helpers import API_KEY
from runio_resend import (
    ContactEvent,
    EmailBouncedEvent,
    EmailClickedEvent,
    EmailEvent,
    Resend,
    ResendAPIError,
)
from runio_resend.testing import FakeResend, sign_delivery
from server_harness import LiveServer

import runio
from runio.errors import ConfigurationError, JobDefinitionError, WebhookSignatureError
from runio.integrations import WebhookDelivery, WebhookRequest
from runio.plugins import create_plugin_manager
from runio.server import ServerConfig
from runio.testing import TestClock

KEY = b"runio-resend-webhook-key"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-endpoint-key").decode()
SENDER = "Acme <hello@acme.dev>"


def email_data(
    email_id: str = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c", **extra: Any
) -> dict[str, Any]:
    return {
        "email_id": email_id,
        "created_at": "2027-01-15T08:00:00.000Z",
        "from": SENDER,
        "to": ["ada@example.com"],
        "subject": "Welcome",
        **extra,
    }


def define_jobs(client: runio.Client, resend: Resend) -> None:
    @client.define_job(id="delivered", trigger=resend.on_email_delivered())
    async def delivered(payload: EmailEvent, io: runio.IO, ctx: runio.RunContext) -> Any:
        assert isinstance(payload, EmailEvent)
        return {
            "email_id": payload.data.email_id,
            "from": payload.data.from_,
            "to": payload.data.to,
            "tags": payload.data.tags,
            "raw": ctx.event.payload,
            "event": ctx.event.name,
        }

    @client.define_job(id="bounced", trigger=resend.on_email_bounced())
    async def bounced(payload: EmailBouncedEvent, io: runio.IO) -> Any:
        bounce = payload.data.bounce
        return {"email_id": payload.data.email_id, "type": bounce.type, "sub": bounce.sub_type}

    @client.define_job(
        id="welcome-clicked", trigger=resend.on_email_clicked(tags={"kind": "welcome"})
    )
    async def clicked(payload: EmailClickedEvent, io: runio.IO) -> Any:
        return {"link": payload.data.click.link, "ip": payload.data.click.ip_address}

    @client.define_job(
        id="contact", trigger=resend.on_event("contact.created", schema=ContactEvent)
    )
    async def contact(payload: ContactEvent, io: runio.IO) -> Any:
        return {"id": payload.data.id, "email": payload.data.email}

    @client.define_job(id="sent", trigger=resend.on_email_sent())
    async def sent(payload: EmailEvent, io: runio.IO) -> Any:
        return payload.data.email_id

    @client.define_job(
        id="welcome",
        trigger=runio.event_trigger("user.signed_up"),
        integrations={"resend": resend},
    )
    async def welcome(payload: Any, io: runio.IO) -> Any:
        return await io.resend.send_email(
            "welcome",
            from_=SENDER,
            to=payload["email"],
            subject="Welcome",
            text="Your account is ready.",
            tags=[{"name": "kind", "value": "welcome"}],
        )


@dataclass
class Hooks:
    """The app served (``web``) and worked (``work``) on one database, behind a live server."""

    fake: FakeResend
    clock: TestClock
    web: runio.Client
    work: runio.Client
    server: LiveServer
    database: Path

    @property
    def url(self) -> str:
        return f"{self.server.url}/api/v1/webhooks/resend"

    def send(self, type: str, data: dict[str, Any], **options: Any) -> httpx.Response:
        options.setdefault("secret", SECRET)
        return self.fake.send_event(self.url, type, data, **options)

    def events(self) -> list[tuple[str, str]]:
        connection = sqlite3.connect(self.database)
        try:
            return list(connection.execute("SELECT id, name FROM events ORDER BY id"))
        finally:
            connection.close()

    def runs(self, job_id: str | None = None) -> list[runio.Run]:
        return self.work.list_runs(job_id=job_id, limit=1000)

    def run_all(self) -> None:
        self.work.run_worker(until_idle=True)

    def output(self, job_id: str) -> Any:
        self.run_all()
        (run,) = self.runs(job_id)
        assert run.status == "COMPLETED", run.error
        return run.output


@pytest.fixture
def hooks_factory(
    fake: FakeResend, clock: TestClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Hooks]]:
    monkeypatch.delenv("RESEND_WEBHOOK_SECRET", raising=False)
    made: list[Hooks] = []

    def make(secret: str | None = SECRET, port: int = 0) -> Hooks:
        database = tmp_path / f"hooks-{len(made)}.db"

        def app() -> runio.Client:
            client = runio.Client(
                "resend-hooks",
                database_url=f"sqlite:///{database}",
                clock=clock,
                plugins=create_plugin_manager(entry_points=False),
            )
            define_jobs(client, Resend(api_key=API_KEY, base_url=fake.url, webhook_secret=secret))
            return client

        web, work = app(), app()
        server = LiveServer(web, ServerConfig(port=port, poll_interval=0.2)).start()
        hooks = Hooks(fake, clock, web, work, server, database)
        made.append(hooks)
        return hooks

    yield make
    for hooks in made:
        hooks.server.stop()
        hooks.work.close()


@pytest.fixture
def hooks(hooks_factory: Callable[..., Hooks]) -> Hooks:
    return hooks_factory()


# -- deliveries start jobs --------------------------------------------------------------------


def test_a_signed_delivery_starts_the_job_with_its_typed_event(hooks: Hooks) -> None:
    data = email_data(tags={"kind": "welcome"}, broadcast_id=None, new_field={"kept": True})
    answer = hooks.send("email.delivered", data, msg_id="msg_delivered_1")

    assert answer.status_code == 200
    assert answer.json()["stored"] is True
    assert hooks.events() == [("resend:msg_delivered_1", "resend:email.delivered")]
    output = hooks.output("delivered")
    assert output["email_id"] == data["email_id"]
    assert output["from"] == SENDER
    assert output["to"] == ["ada@example.com"]
    assert output["tags"] == {"kind": "welcome"}
    assert output["event"] == "resend:email.delivered"
    assert output["raw"]["type"] == "email.delivered"
    assert output["raw"]["data"]["new_field"] == {"kept": True}  # the raw event, as sent
    assert hooks.runs("bounced") == []


def test_a_bounce_reaches_its_job_with_the_bounce_typed(hooks: Hooks) -> None:
    bounce = {
        "type": "Permanent",
        "subType": "NoEmail",
        "message": "The mailbox does not exist.",
        "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
    }
    assert hooks.send("email.bounced", email_data(bounce=bounce)).status_code == 200

    assert hooks.output("bounced") == {
        "email_id": email_data()["email_id"],
        "type": "Permanent",
        "sub": "NoEmail",
    }
    assert hooks.runs("delivered") == []


def test_the_tags_filter_starts_only_the_jobs_whose_tags_match(hooks: Hooks) -> None:
    click = {"link": "https://acme.dev/start", "ipAddress": "192.0.2.7", "userAgent": "Mail"}
    welcome = hooks.send("email.clicked", email_data(tags={"kind": "welcome"}, click=click))
    digest = hooks.send("email.clicked", email_data(tags={"kind": "digest"}, click=click))
    untagged = hooks.send("email.clicked", email_data(click=click))

    assert [a.status_code for a in (welcome, digest, untagged)] == [200, 200, 200]
    assert [a.json()["stored"] for a in (welcome, digest, untagged)] == [True, False, False]
    assert len(welcome.json()["run_ids"]) == 1
    assert len(hooks.events()) == 1  # the others match no trigger: acknowledged, not stored
    assert hooks.output("welcome-clicked") == {"link": "https://acme.dev/start", "ip": "192.0.2.7"}


def test_on_event_takes_any_resend_event_with_its_schema(hooks: Hooks) -> None:
    contact = {
        "id": "e169aa45-1ecf-4183-9955-b1499d5701d3",
        "email": "ada@example.com",
        "unsubscribed": False,
        "created_at": "2027-01-15T08:00:00.000Z",
        "updated_at": "2027-01-15T08:00:00.000Z",
    }
    assert hooks.send("contact.created", contact).status_code == 200
    assert hooks.output("contact") == {"id": contact["id"], "email": "ada@example.com"}


def test_an_event_no_job_listens_to_is_acknowledged_and_not_stored(hooks: Hooks) -> None:
    answer = hooks.send("email.opened", email_data())
    assert answer.status_code == 200
    assert answer.json()["stored"] is False
    assert hooks.events() == []


# -- refused deliveries -----------------------------------------------------------------------


def _forged(hooks: Hooks) -> dict[str, str]:
    body = hooks.fake.event_body("email.delivered", email_data(email_id="tampered"))
    return {"svix-signature": sign_delivery(SECRET, "msg_x", int(hooks.clock.now()), body)}


REFUSALS: dict[str, tuple[Callable[[Hooks], dict[str, Any]], str]] = {
    "no svix-id": (lambda h: {"headers": {"svix-id": None}}, "no svix-id header"),
    "no svix-timestamp": (
        lambda h: {"headers": {"svix-timestamp": None}},
        "no svix-timestamp header",
    ),
    "no svix-signature": (
        lambda h: {"headers": {"svix-signature": None}},
        "no svix-signature header",
    ),
    "no Svix headers": (
        lambda h: {"headers": {"svix-id": None, "svix-timestamp": None, "svix-signature": None}},
        "no svix-id, svix-timestamp, svix-signature headers",
    ),
    "another secret": (
        lambda h: {"secret": OTHER_SECRET},
        "does not match its body",
    ),
    "a signature of another body": (lambda h: {"headers": _forged(h)}, "does not match"),
    "an unversioned signature": (
        lambda h: {"headers": {"svix-signature": "not-a-signature"}},
        "does not match",
    ),
    "a timestamp that is not a number": (
        lambda h: {"headers": {"svix-timestamp": "yesterday"}},
        "not a Unix time",
    ),
    "a stale timestamp": (lambda h: {"timestamp": h.clock.now() - 301}, "301 s older"),
    "a future timestamp": (lambda h: {"timestamp": h.clock.now() + 301}, "301 s later"),
}


def test_a_delivery_without_a_valid_signature_is_refused_and_nothing_stored(
    hooks: Hooks,
) -> None:
    for case, (options, reason) in REFUSALS.items():
        answer = hooks.send("email.delivered", email_data(), **options(hooks))
        assert answer.status_code == 401, case
        assert reason in answer.json()["detail"], case

    assert hooks.events() == []
    hooks.run_all()
    assert hooks.runs() == []


def test_a_delivery_within_five_minutes_of_its_timestamp_is_accepted(hooks: Hooks) -> None:
    early = hooks.send("email.delivered", email_data("a"), timestamp=hooks.clock.now() - 300)
    late = hooks.send("email.delivered", email_data("b"), timestamp=hooks.clock.now() + 300)
    assert (early.status_code, late.status_code) == (200, 200)


def test_a_replayed_request_is_refused_once_stale_and_never_runs_twice(hooks: Hooks) -> None:
    first = hooks.send("email.delivered", email_data(), msg_id="msg_replayed")
    assert first.status_code == 200
    sent = hooks.fake.webhook_deliveries[-1]

    hooks.clock.advance(60)  # the same request again, within the tolerance: stored once
    again = httpx.post(hooks.url, content=sent.body, headers=sent.headers)
    assert again.status_code == 200
    hooks.clock.advance(300)  # and past it: refused
    late = httpx.post(hooks.url, content=sent.body, headers=sent.headers)
    assert late.status_code == 401
    assert "older than the time it arrived" in late.json()["detail"]

    hooks.run_all()
    assert hooks.events() == [("resend:msg_replayed", "resend:email.delivered")]
    assert len(hooks.runs("delivered")) == 1


def test_svix_retries_carry_the_same_id_and_start_one_run(hooks: Hooks) -> None:
    first = hooks.send("email.delivered", email_data())
    msg_id = hooks.fake.webhook_deliveries[-1].headers["svix-id"]
    hooks.clock.advance(5)
    second = hooks.fake.redeliver(msg_id)
    hooks.clock.advance(300)
    third = hooks.fake.redeliver(msg_id)

    assert [a.status_code for a in (first, second, third)] == [200, 200, 200]
    sent = hooks.fake.webhook_deliveries
    assert {d.headers["svix-id"] for d in sent} == {msg_id}
    assert len({d.headers["svix-signature"] for d in sent}) == 3  # re-signed each time
    hooks.run_all()
    assert len(hooks.runs("delivered")) == 1
    assert {a.json()["event_id"] for a in (first, second, third)} == {f"resend:{msg_id}"}


def test_a_retry_after_a_refused_attempt_starts_the_run(hooks: Hooks) -> None:
    refused = hooks.send("email.delivered", email_data(), timestamp=hooks.clock.now() - 900)
    assert refused.status_code == 401
    assert hooks.events() == []

    (retried,) = hooks.fake.retry_failed()
    assert retried.status_code == 200
    assert hooks.fake.retry_failed() == []  # nothing left to retry
    assert hooks.output("delivered")["email_id"] == email_data()["email_id"]


# -- malformed bodies ---------------------------------------------------------------------------


MALFORMED = {
    "text": (b"not json", "not JSON"),
    "empty": (b"", "not JSON"),
    "an array": (b"[1, 2]", "not a Resend event"),
    "no type": (b'{"data": {}}', "not a Resend event"),
    "a numeric type": (b'{"type": 5, "data": {}}', "not a Resend event"),
    "deep nesting": (b"[" * 50_000 + b"]" * 50_000, "not JSON"),
    "NaN": (b'{"type": "email.delivered", "data": {"email_id": NaN}}', "JSON"),
}


def test_a_signed_body_that_is_not_a_resend_event_is_a_400(hooks: Hooks) -> None:
    for case, (body, reason) in MALFORMED.items():
        answer = hooks.send("email.delivered", {}, body=body)
        assert answer.status_code == 400, case
        assert reason in answer.json()["detail"], case
    assert hooks.events() == []


def test_a_body_that_is_not_utf8_cannot_be_signed_and_is_a_401(hooks: Hooks) -> None:
    headers = {"svix-id": "msg_1", "svix-timestamp": str(int(hooks.clock.now()))}
    headers["svix-signature"] = "v1,AAAA"
    answer = httpx.post(hooks.url, content=b'{"type": "\xff"}', headers=headers)
    assert answer.status_code == 401
    assert "not UTF-8" in answer.json()["detail"]


def test_a_signed_event_its_trigger_model_refuses_is_a_422(hooks: Hooks) -> None:
    answer = hooks.send("email.delivered", {"to": ["ada@example.com"]})  # no email_id
    assert answer.status_code == 422
    assert "email_id" in answer.json()["detail"]
    assert hooks.events() == []


# -- volume -------------------------------------------------------------------------------------


def test_a_burst_of_500_deliveries_is_stored_whole(hooks: Hooks) -> None:
    def deliver(number: int) -> int:
        data = email_data(f"email-{number}")
        return hooks.send("email.sent", data, msg_id=f"msg_burst_{number:03d}").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(deliver, range(500)))

    assert statuses == [200] * 500
    assert {event_id for event_id, _ in hooks.events()} == {
        f"resend:msg_burst_{n:03d}" for n in range(500)
    }
    hooks.run_all()
    runs = hooks.runs("sent")
    assert len(runs) == 500
    assert {r.status for r in runs} == {"COMPLETED"}
    assert sorted(r.output for r in runs) == sorted(f"email-{n}" for n in range(500))


# -- the secret ---------------------------------------------------------------------------------


def test_the_signing_secret_reaches_no_log_and_no_stored_row(
    hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert hooks.send("email.delivered", email_data()).status_code == 200
    assert hooks.send("email.delivered", email_data(), secret=OTHER_SECRET).status_code == 401
    stale = hooks.send("email.delivered", email_data(), timestamp=0)
    assert stale.status_code == 401
    hooks.run_all()

    key = base64.b64encode(KEY).decode()
    assert "refused" in caplog.text  # the refusals were logged...
    assert SECRET not in caplog.text and key not in caplog.text  # ...without the secret
    for table, column, value in text_columns(hooks.database):
        assert key not in value, f"the signing secret is stored in {table}.{column}"
    for answer in (stale,):
        assert key not in answer.text


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "RESEND_WEBHOOK_SECRET"),
        ("whsec_not*base64!", "not a Resend signing secret"),
        ("whsec_", "empty after whsec_"),
    ],
    ids=["unset", "not base64", "empty"],
)
def test_without_a_usable_secret_deliveries_get_503_and_nothing_is_stored(
    hooks_factory: Callable[..., Hooks], secret: str | None, reason: str
) -> None:
    hooks = hooks_factory(secret=secret)
    answer = hooks.send("email.delivered", email_data())
    assert answer.status_code == 503
    assert reason in answer.json()["detail"]
    if secret and secret.removeprefix("whsec_"):
        assert secret.removeprefix("whsec_") not in answer.text
    assert hooks.events() == []


# -- registering the endpoint; the fake's own deliveries ----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_email_sent_by_a_job_comes_back_as_sent_and_delivered_events(
    fake: FakeResend, hooks_factory: Callable[..., Hooks]
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/v1/webhooks/resend"
    registration = Resend(api_key=API_KEY, base_url=fake.url).register_webhook(
        url, ["email.sent", "email.delivered"]
    )
    assert registration.secret is not None and registration.secret.startswith("whsec_")
    fake.deliver_emails = True
    hooks = hooks_factory(secret=registration.secret, port=port)
    assert hooks.url == url

    hooks.work.send_event("user.signed_up", {"email": "ada@example.com"})
    hooks.run_all()  # the welcome job sends the email...
    (email,) = fake.sent_to("ada@example.com")
    fake.wait_for_webhooks()  # ...and Resend tells the endpoint
    assert [d.status for d in fake.webhook_deliveries] == [200, 200]

    assert hooks.output("sent") == email["id"]
    delivered = hooks.output("delivered")
    assert delivered["email_id"] == email["id"]
    assert delivered["tags"] == {"kind": "welcome"}
    assert fake.emails[email["id"]]["last_event"] == "delivered"


def test_the_life_of_an_email_plays_through_its_webhooks(hooks: Hooks) -> None:
    fake = hooks.fake
    fake.add_webhook(hooks.url, ["email.bounced", "email.clicked"], secret=SECRET)
    bounced = fake.add_email(to="ghost@example.com")
    clicked = fake.add_email(tags=[{"name": "kind", "value": "welcome"}])

    fake.email_event(bounced["id"], "email.bounced")
    fake.email_event(clicked["id"], "email.clicked")
    fake.email_event(clicked["id"], "email.opened")  # no webhook subscribed: not sent
    fake.wait_for_webhooks()

    assert [d.status for d in fake.webhook_deliveries] == [200, 200]
    assert hooks.output("bounced")["email_id"] == bounced["id"]
    assert hooks.output("welcome-clicked")["link"] == "https://acme.dev/welcome"
    assert fake.emails[bounced["id"]]["last_event"] == "bounced"


def test_a_disabled_webhook_is_not_notified(hooks: Hooks) -> None:
    webhook = hooks.fake.add_webhook(hooks.url, ["email.bounced"], secret=SECRET)
    hooks.fake.webhooks[webhook["id"]]["status"] = "disabled"
    email = hooks.fake.add_email()
    hooks.fake.email_event(email["id"], "email.bounced")
    hooks.fake.wait_for_webhooks()
    assert hooks.fake.webhook_deliveries == []


def test_registering_twice_keeps_one_webhook_with_the_new_events(fake: FakeResend) -> None:
    resend = Resend(api_key=API_KEY, base_url=fake.url)
    url = "https://app.example.com/api/v1/webhooks/resend"
    first = resend.register_webhook(url, ["email.delivered"])
    second = resend.register_webhook(url, ["email.delivered", "email.bounced", "email.bounced"])

    assert second.id == first.id
    assert second.secret == first.secret
    assert second.events == ("email.delivered", "email.bounced")
    (webhook,) = fake.webhooks.values()
    assert webhook["events"] == ["email.delivered", "email.bounced"]
    assert webhook["endpoint"] == url
    other = resend.register_webhook("https://other.example.com/hook", ["email.sent"])
    assert other.id != first.id and other.secret != first.secret


def test_register_webhook_refuses_bad_input_and_reports_resends_errors(fake: FakeResend) -> None:
    resend = Resend(api_key=API_KEY, base_url=fake.url)
    with pytest.raises(JobDefinitionError, match=r"Did you mean 'email\.delivered'"):
        resend.register_webhook("https://a.example.com/h", ["email.deliverd"])
    with pytest.raises(ConfigurationError, match="at least one event type"):
        resend.register_webhook("https://a.example.com/h", [])
    with pytest.raises(ConfigurationError, match="http"):
        resend.register_webhook("a.example.com/h", ["email.sent"])
    fake.fail_next(500, path="/webhooks")
    with pytest.raises(ResendAPIError, match="500"):
        resend.register_webhook("https://a.example.com/h", ["email.sent"])
    assert fake.webhooks == {}
    with pytest.raises(ResendAPIError, match="API key"):
        Resend(api_key="re_wrong_key_0000", base_url=fake.url).register_webhook(
            "https://a.example.com/h", ["email.sent"]
        )


# -- defining triggers --------------------------------------------------------------------------


def test_trigger_definitions_refuse_what_would_never_fire() -> None:
    resend = Resend(api_key=API_KEY)
    with pytest.raises(JobDefinitionError, match=r"Did you mean 'email\.delivered'"):
        resend.on_event("email.deliverd")
    with pytest.raises(JobDefinitionError, match=r"Resend sends no 'invoice\.paid' events"):
        resend.on_event("invoice.paid")
    with pytest.raises(JobDefinitionError, match=r"tags=\.\.\.\) takes the tags"):
        resend.on_email_delivered(tags={"kind": 1})  # type: ignore[dict-item]
    with pytest.raises(JobDefinitionError, match="given both"):
        resend.on_email_sent(tags={"kind": "a"}, filter={"data": {"tags": {"kind": ["b"]}}})


def test_tags_and_filter_combine() -> None:
    resend = Resend(api_key=API_KEY)
    trigger = resend.on_email_delivered(
        tags={"kind": "welcome"}, filter={"data": {"to": [["ada@example.com"]]}}
    )
    assert trigger.name == "resend:email.delivered"
    assert trigger.filter == {"data": {"to": [["ada@example.com"]], "tags": {"kind": ["welcome"]}}}
    assert trigger.matches({"data": {"to": ["ada@example.com"], "tags": {"kind": "welcome"}}})
    assert not trigger.matches({"data": {"to": ["ada@example.com"], "tags": {"kind": "other"}}})
    two = Resend("resend-eu", api_key=API_KEY).on_email_bounced()
    assert (two.name, two.schema) == ("resend-eu:email.bounced", EmailBouncedEvent)


def test_registering_finds_the_webhook_on_a_later_page(fake: FakeResend) -> None:
    resend = Resend(api_key=API_KEY, base_url=fake.url)
    url = "https://app.example.com/api/v1/webhooks/resend"
    first = resend.register_webhook(url, ["email.sent"])
    for number in range(150):  # newer webhooks: the list shows them first
        fake.add_webhook(f"https://other.example.com/{number}", ["email.sent"])
    again = resend.register_webhook(url, ["email.bounced"])
    assert again.id == first.id
    assert len(fake.webhooks) == 151
    lists = [r for r in fake.requests if r.method == "GET" and r.path == "/webhooks"]
    assert len(lists) == 1 + 2  # the first registration's page, then two pages of 100


# -- the example app ----------------------------------------------------------------------------


def _load_example(name: str) -> ModuleType:
    """examples/resend_app.py as a module of its own (the app twice: served and worked)."""
    path = Path(__file__).resolve().parents[3] / "examples" / "resend_app.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_unsubscribes_an_address_whose_email_bounced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeResend(api_key=API_KEY) as fake:  # the example's clients run on the wall clock
        monkeypatch.setenv("RESEND_API_KEY", API_KEY)
        monkeypatch.setenv("RESEND_API_BASE", fake.url)
        monkeypatch.setenv("RESEND_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("RUNIO_DATABASE_URL", f"sqlite:///{tmp_path / 'example.db'}")
        web, work = _load_example("resend_app_served"), _load_example("resend_app_worked")
        server = LiveServer(web.client, ServerConfig(port=0, poll_interval=0.2)).start()
        try:
            work.client.send_event("user.signed_up", {"email": "ada@example.com", "name": "Ada"})
            work.client.run_worker(until_idle=True)
            web.connect_fake_resend(fake, server.url)
            welcome_id = web.bounce_latest_email(fake, "ada@example.com")
            fake.wait_for_webhooks()
            work.client.run_worker(until_idle=True)

            assert [d.status for d in fake.webhook_deliveries] == [200]
            (run,) = work.client.list_runs(job_id="resend-unsubscribe-bounced")
            assert (run.status, run.output) == ("COMPLETED", {"unsubscribed": ["ada@example.com"]})
            assert fake.emails[welcome_id]["subject"] == "Welcome, Ada!"
            (contact,) = fake.contacts.values()
            assert contact["unsubscribed"] is True
        finally:
            server.stop()
            work.client.close()


# -- verify_webhook on its own ------------------------------------------------------------------


def test_verify_webhook_takes_any_of_several_signatures_whatever_the_headers_case() -> None:
    """While a secret is rotated Svix signs with both: either one verifies."""
    fake = FakeResend(clock=lambda: 1_800_000_000.0)
    body, headers = fake.signed_delivery("email.sent", email_data(), secret=SECRET)
    _, other = fake.signed_delivery(  # the same message, signed with the other secret
        "email.sent", {}, secret=OTHER_SECRET, msg_id=headers["svix-id"], body=body
    )
    both = f"{other['svix-signature']} {headers['svix-signature']}"
    request = WebhookRequest(
        headers={
            "Svix-Id": headers["svix-id"],
            "SVIX-TIMESTAMP": headers["svix-timestamp"],
            "svix-signature": both,
        },
        body=body,
        received_at=1_800_000_000.0,
    )
    for secret in (SECRET, OTHER_SECRET):
        delivery = Resend(api_key=API_KEY, webhook_secret=secret).verify_webhook(request)
        assert isinstance(delivery, WebhookDelivery)
        assert (delivery.id, delivery.type) == (headers["svix-id"], "email.sent")
        assert delivery.payload == json.loads(body)

    only_other = WebhookRequest(
        headers={**headers, "svix-signature": other["svix-signature"]},
        body=body,
        received_at=1_800_000_000.0,
    )
    with pytest.raises(WebhookSignatureError, match="does not match"):
        Resend(api_key=API_KEY, webhook_secret=SECRET).verify_webhook(only_other)
