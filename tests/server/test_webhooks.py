"""``POST /api/v1/webhooks/{integration_id}`` with a third party's integration (``Acme``, written
here the way a package would): verified deliveries become events and runs, everything else is
refused with nothing stored, redeliveries create nothing, and a burst through a real server
loses nothing. The vendors' own schemes are tested in tests/integrations/<vendor>/."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel, ConfigDict
from server_harness import LiveServer

import runio
from runio.errors import WebhookPayloadError, WebhookSignatureError
from runio.integrations import (
    WebhookDelivery,
    WebhookReply,
    WebhookRequest,
    WebhookTrigger,
)
from runio.server import ServerConfig, create_app
from runio.testing import JobTester, TestClock

SECRET = "acme-signing-secret-0123456789"
TOLERANCE = 300.0

pytestmark = pytest.mark.anyio


class Acme(runio.Integration[None]):
    """A vendor that signs ``<timestamp>.<body>`` with HMAC-SHA256 and pings new endpoints."""

    namespace, name = "acme", "Acme"
    webhook_help: ClassVar[str] = "Acme dashboard → Webhooks → Add endpoint."
    webhook_secret: str | None = runio.setting(env="ACME_WEBHOOK_SECRET", required=False)

    def create_client(self) -> None:
        return None

    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
        secret = self.require_setting("webhook_secret")
        stamp, signature = request.header("acme-timestamp"), request.header("acme-signature")
        if not stamp or not signature:
            raise WebhookSignatureError("no Acme-Timestamp/Acme-Signature header")
        expected = _sign(secret, stamp, request.body)
        if not hmac.compare_digest(expected, signature):
            raise WebhookSignatureError("the signature does not match the body")
        if abs(request.received_at - float(stamp)) > TOLERANCE:
            raise WebhookSignatureError("the signature is older than 5 minutes")
        try:
            event = json.loads(request.body)
            kind, event_id = event["type"], event["id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookPayloadError(f"not an Acme event: {exc}") from None
        if kind == "ping":
            return WebhookReply(body={"pong": event.get("challenge")})
        return WebhookDelivery(id=event_id, type=kind, payload=event)

    def on_order_paid(self, *, region: str | None = None) -> WebhookTrigger:
        return self.webhook_trigger(
            "order.paid",
            schema=OrderPaid,
            filter=None if region is None else {"data": {"region": [region]}},
        )


class Order(BaseModel):
    model_config = ConfigDict(extra="allow")
    order_id: str
    amount: int


class OrderPaid(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    type: str
    data: Order


def _sign(secret: str, stamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def delivery(
    event_id: str,
    kind: str = "order.paid",
    *,
    at: float,
    secret: str = SECRET,
    **data: Any,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": event_id, "type": kind, "data": {"order_id": "o_1", "amount": 100, **data}}
    ).encode()
    stamp = str(int(at))
    return body, {"Acme-Timestamp": stamp, "Acme-Signature": _sign(secret, stamp, body)}


@pytest.fixture
def clock() -> TestClock:
    return TestClock(start=1_800_000_000.0)


@pytest.fixture
def acme() -> Acme:
    return Acme(webhook_secret=SECRET)


@pytest.fixture
def client(sqlite_url: str, clock: TestClock, acme: Acme) -> Iterator[runio.Client]:
    app = runio.Client("shop", database_url=sqlite_url, clock=clock)
    received: list[Any] = []

    @app.define_job(id="on-paid", trigger=acme.on_order_paid())
    async def on_paid(payload: OrderPaid, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
        received.append((payload, ctx.event.payload))
        return {"order": payload.data.order_id, "amount": payload.data.amount}

    @app.define_job(id="on-paid-eu", trigger=acme.on_order_paid(region="eu"))
    async def on_paid_eu(payload: OrderPaid, io: runio.IO) -> str:
        return payload.data.order_id

    app.received = received  # type: ignore[attr-defined]
    yield app
    app.close()


@pytest.fixture
async def http(client: runio.Client) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(client))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def _events(client: runio.Client) -> list[Any]:
    store = await client._ready()
    return await store.execute_raw("SELECT id FROM events ORDER BY id")


async def test_a_verified_delivery_starts_the_jobs_whose_trigger_matches(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_1", at=clock.now(), region="eu")

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] is True
    assert answer.json()["event_id"] == "acme:evt_1"
    assert len(answer.json()["run_ids"]) == 2  # on-paid and on-paid-eu (region eu)
    await client.run_worker_async(until_idle=True)
    runs = {r.job_id: r for r in await client.list_runs_async()}
    assert runs["on-paid"].status == "COMPLETED"
    assert (await client.get_run_async(runs["on-paid"].id)).output == {
        "order": "o_1",
        "amount": 100,
    }
    typed, raw = client.received[0]  # type: ignore[attr-defined]
    assert isinstance(typed, OrderPaid)
    assert raw == json.loads(body)  # the vendor's event, as sent


async def test_the_filter_applies_to_the_vendor_event(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_us", at=clock.now(), region="us")

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert len(answer.json()["run_ids"]) == 1
    assert [r.job_id for r in await client.list_runs_async()] == ["on-paid"]


async def test_a_redelivery_creates_no_second_run(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_2", at=clock.now())
    first = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)
    clock.advance(60)  # the vendor retries a minute later, signing again
    body, headers = delivery("evt_2", at=clock.now())

    again = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert again.status_code == 200
    assert again.json()["run_ids"] == first.json()["run_ids"]
    assert len(await client.list_runs_async()) == 1
    assert len(await _events(client)) == 1


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda body, headers: (body, {}), "no Acme-Timestamp"),
        (
            lambda body, headers: (body, {**headers, "Acme-Signature": "0" * 64}),
            "does not match",
        ),
        (lambda body, headers: (body.replace(b"100", b"999"), headers), "does not match"),
        (
            lambda body, headers: delivery("evt_3", at=0, secret="another-secret"),
            "does not match",
        ),
    ],
    ids=["missing", "wrong", "body-changed", "other-secret"],
)
async def test_a_bad_signature_is_refused_and_nothing_stored(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock, tamper: Any, reason: str
) -> None:
    body, headers = tamper(*delivery("evt_3", at=clock.now()))

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 401
    assert reason in answer.json()["detail"]
    assert await _events(client) == []
    assert await client.list_runs_async() == []


async def test_a_stale_or_replayed_signature_is_refused(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_4", at=clock.now())
    clock.advance(TOLERANCE + 1)  # the same signed request, replayed later

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 401
    assert "older than" in answer.json()["detail"]
    assert await _events(client) == []


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"text"', b'{"id": 1}', b"\xff\xfe", b'{"type": "order.paid"}'],
)
async def test_a_signed_body_that_is_no_event_is_a_400_never_a_5xx(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock, body: bytes
) -> None:
    stamp = str(int(clock.now()))
    headers = {"Acme-Timestamp": stamp, "Acme-Signature": _sign(SECRET, stamp, body)}

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 400, answer.text
    assert await _events(client) == []


async def test_a_delivery_that_fails_the_jobs_schema_is_refused_and_says_why(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_5", at=clock.now(), amount="lots")

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 422
    assert "amount" in answer.json()["detail"]
    assert await _events(client) == []


async def test_a_handshake_is_answered_and_nothing_stored(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body = json.dumps({"id": "p1", "type": "ping", "challenge": "c-42"}).encode()
    stamp = str(int(clock.now()))
    headers = {"Acme-Timestamp": stamp, "Acme-Signature": _sign(SECRET, stamp, body)}

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 200
    assert answer.json() == {"pong": "c-42"}
    assert await _events(client) == []


async def test_an_event_type_no_job_listens_to_is_acknowledged_and_not_stored(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_6", "order.refunded", at=clock.now())

    answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)

    assert answer.status_code == 200  # else the vendor would retry it for days
    assert answer.json()["stored"] is False
    assert "acme:order.refunded" in answer.json()["detail"]
    assert await _events(client) == []


async def test_an_event_no_trigger_filter_matches_is_acknowledged_and_not_stored(
    sqlite_url: str, clock: TestClock, acme: Acme
) -> None:
    app = runio.Client("shop", database_url=sqlite_url, clock=clock)

    @app.define_job(id="eu-only", trigger=acme.on_order_paid(region="eu"))
    async def eu_only(payload: OrderPaid, io: runio.IO) -> None:
        return None

    transport = httpx.ASGITransport(app=create_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        body, headers = delivery("evt_us", at=clock.now(), region="us")
        answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)
        stored = await _events(app)
    await app.close_async()

    assert answer.status_code == 200
    assert answer.json()["stored"] is False
    assert "filters leave it out" in answer.json()["detail"]
    assert stored == []


async def test_an_integration_no_trigger_names_is_a_404(
    http: httpx.AsyncClient, clock: TestClock
) -> None:
    body, headers = delivery("evt_7", at=clock.now())

    answer = await http.post("/api/v1/webhooks/stripe", content=body, headers=headers)

    assert answer.status_code == 404
    assert "integrations with webhooks: acme" in answer.json()["detail"]


async def test_without_a_signing_secret_deliveries_wait_for_it(
    sqlite_url: str, clock: TestClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_WEBHOOK_SECRET", raising=False)
    acme = Acme()
    app = runio.Client("shop", database_url=sqlite_url, clock=clock)

    @app.define_job(id="on-paid", trigger=acme.on_order_paid())
    async def on_paid(payload: OrderPaid, io: runio.IO) -> None:
        return None

    transport = httpx.ASGITransport(app=create_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        body, headers = delivery("evt_8", at=clock.now())
        answer = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)
    await app.close_async()

    assert answer.status_code == 503  # the vendor delivers again once it is set
    assert "ACME_WEBHOOK_SECRET" in answer.json()["detail"]


async def test_no_api_key_is_needed_but_the_secret_never_shows(
    client: runio.Client, http: httpx.AsyncClient, clock: TestClock, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = delivery("evt_9", at=clock.now())
    await http.post("/api/v1/webhooks/acme", content=body, headers=headers)
    await http.post("/api/v1/webhooks/acme", content=body, headers={})

    assert SECRET not in caplog.text
    assert headers["Acme-Signature"] not in caplog.text
    assert "acme:evt_9" in caplog.text  # what was stored is logged, by id


def test_a_burst_of_500_deliveries_through_a_real_server_is_stored_whole(
    client: runio.Client, clock: TestClock
) -> None:
    server = LiveServer(client, ServerConfig(port=0)).start()
    try:
        statuses = asyncio.run(_burst(server.url, clock.now(), count=500))
    finally:
        server.stop()
    reader = runio.Client("shop", database_url=client._database_url, clock=clock)
    try:
        events = reader._run_sync(_events(reader))
        runs = reader.list_runs(limit=10_000)
    finally:
        reader.close()

    assert statuses == {200: 500}
    assert len(events) == 500
    assert len(runs) == 500  # on-paid for each; none are in region eu


async def _burst(url: str, now: float, *, count: int) -> dict[int, int]:
    limit = asyncio.Semaphore(50)
    statuses: dict[int, int] = {}

    async def send(http: httpx.AsyncClient, n: int) -> None:
        body, headers = delivery(f"evt_burst_{n}", at=now)
        async with limit:
            answer = await http.post(f"{url}/api/v1/webhooks/acme", content=body, headers=headers)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(send(http, n) for n in range(count)))
    return statuses


async def test_the_jobs_page_and_api_say_which_webhook_starts_a_job(
    client: runio.Client, http: httpx.AsyncClient
) -> None:
    await client._register_jobs()

    jobs = {job["id"]: job for job in (await http.get("/api/v1/jobs")).json()["jobs"]}
    page = (await http.get("/jobs", headers={"Accept": "text/html"})).text

    assert jobs["on-paid-eu"]["webhook"] == {
        "integration": "acme",
        "vendor": "Acme",
        "event_type": "order.paid",
    }
    assert jobs["on-paid-eu"]["event_name"] == "acme:order.paid"
    assert jobs["on-paid-eu"]["payload_filter"] == {"data": {"region": ["eu"]}}
    assert "Acme webhook <code>order.paid</code> at <code>/api/v1/webhooks/acme</code>" in page


def test_the_testing_kit_delivers_webhooks_to_the_apps_endpoint(
    client: runio.Client, clock: TestClock
) -> None:
    tester = JobTester(client, clock)
    body, headers = delivery("evt_kit", at=clock.now(), region="eu")

    answer = tester.deliver_webhook("acme", body, headers)
    refused = tester.deliver_webhook("acme", body, {})

    assert answer.status_code == 200 and refused.status_code == 401
    assert {run.job_id: run.status for run in tester.runs()} == {
        "on-paid": "COMPLETED",
        "on-paid-eu": "COMPLETED",
    }
    assert tester.runs("on-paid-eu")[0].output == "o_1"


def test_two_instances_with_one_id_but_other_secrets_are_refused_at_definition(
    sqlite_url: str,
) -> None:
    app = runio.Client("shop", database_url=sqlite_url)
    same = Acme(webhook_secret=SECRET)

    @app.define_job(id="a", trigger=Acme(webhook_secret=SECRET).on_order_paid())
    async def a(payload: OrderPaid, io: runio.IO) -> None:
        return None

    @app.define_job(id="b", trigger=same.on_order_paid(region="eu"))  # same settings: fine
    async def b(payload: OrderPaid, io: runio.IO) -> None:
        return None

    with pytest.raises(runio.errors.JobDefinitionError) as refused:

        @app.define_job(id="c", trigger=Acme(webhook_secret="s3cr3t-2").on_order_paid())
        async def c(payload: OrderPaid, io: runio.IO) -> None:
            return None

    assert "give each its own id (Acme(id=...))" in str(refused.value)
    assert "s3cr3t-2" not in str(refused.value) and SECRET not in str(refused.value)


async def test_a_run_waiting_for_a_vendor_event_is_resumed_by_its_delivery(
    sqlite_url: str, clock: TestClock, acme: Acme
) -> None:
    app = runio.Client("shop", database_url=sqlite_url, clock=clock)

    @app.define_job(
        id="ship-and-wait",
        trigger=runio.event_trigger("order.placed"),
        integrations={"acme": acme},  # its webhooks reach the app without a trigger
    )
    async def ship_and_wait(payload: dict[str, Any], io: runio.IO) -> int:
        shipped = await io.wait_for_event(
            "shipped", "acme:order.shipped", filter={"data": {"order_id": [payload["order"]]}}
        )
        return int(shipped.payload["data"]["amount"])

    transport = httpx.ASGITransport(app=create_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        before, before_headers = delivery("evt_early", "order.shipped", at=clock.now())
        early = await http.post("/api/v1/webhooks/acme", content=before, headers=before_headers)
        event = await app.send_event_async("order.placed", {"order": "o_1"})
        await app.run_worker_async(until_idle=True)  # the run waits for the shipment
        other, other_headers = delivery("evt_o2", "order.shipped", at=clock.now(), order_id="o_2")
        unrelated = await http.post("/api/v1/webhooks/acme", content=other, headers=other_headers)
        body, headers = delivery("evt_o1", "order.shipped", at=clock.now(), amount=250)
        shipped = await http.post("/api/v1/webhooks/acme", content=body, headers=headers)
        await app.run_worker_async(until_idle=True)
        run = await app.get_run_async(event.run_ids[0])
    await app.close_async()

    assert early.json()["stored"] is False  # nothing waited for it yet
    assert unrelated.json()["stored"] is True and unrelated.json()["run_ids"] == []
    assert shipped.json()["stored"] is True
    assert run.status == "COMPLETED"
    assert run.output == 250
