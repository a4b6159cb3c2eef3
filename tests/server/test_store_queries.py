"""What the server asks of a store, on SQLite and on a real PostgreSQL: pages of runs with
filters and a keyset cursor, and API keys. The API itself on PostgreSQL, end to end."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from server_harness import App

from runio._records import ApiKeyRecord, RunQuery
from runio.server import create_app
from runio.server._keys import check_key, create_key

pytestmark = pytest.mark.anyio


async def test_pages_of_runs_with_filters(app_factory: Callable[..., App], db_url: str) -> None:
    app = app_factory(db_url)
    signups = []
    for i in range(4):
        event = await app.work.send_event_async("user.created", {"user_id": f"u{i}"}, id=f"e{i}")
        signups.append(event.run_ids[0])
    app.clock.advance(seconds=10)
    charge = (await app.work.send_event_async("charge.requested", {"amount": 1})).run_ids[0]
    store = await app.work._ready()

    async def ids(**query: object) -> list[str]:
        query.setdefault("app_id", "shop")
        return [r.id for r in await store.find_runs(RunQuery(**query))]  # type: ignore[arg-type]

    newest_first = [charge, *reversed(signups)]
    assert await ids() == newest_first
    assert await ids(job_id="signup") == newest_first[1:]
    assert await ids(status=("QUEUED",), limit=2) == newest_first[:2]
    assert await ids(status=("FAILED",)) == []
    assert await ids(search="e2") == [signups[2]]
    assert await ids(search=charge) == [charge]
    assert await ids(search="charge") == [charge]
    assert await ids(search="nul\x00byte") == []
    assert await ids(since=app.clock.now()) == [charge]
    assert await ids(until=app.clock.now()) == newest_first[1:]
    assert await ids(app_id="other") == []
    page_one = await store.find_runs(RunQuery(app_id="shop", limit=2))
    last = page_one[-1]
    assert await ids(after=(last.created_at, last.id)) == newest_first[2:]


async def test_api_keys_are_stored_listed_and_revoked(
    app_factory: Callable[..., App], db_url: str
) -> None:
    app = app_factory(db_url)
    store = await app.work._ready()
    first, key = await create_key(store, "billing", now=app.clock.now())
    app.clock.advance(seconds=1)
    second, _ = await create_key(store, "reports", now=app.clock.now())

    assert [k.name for k in await store.list_api_keys()] == ["billing", "reports"]
    assert await check_key(store, key) == first
    secret = key.split("_", 3)[3]  # runio_key_<hex>_<secret>; the secret itself may hold "_"
    assert len(secret) == 43 and secret not in repr(await store.list_api_keys())
    revoked = await store.revoke_api_key(first.id, now=app.clock.now())
    assert isinstance(revoked, ApiKeyRecord)
    assert revoked.revoked_at == app.clock.now()
    app.clock.advance(seconds=1)
    again = await store.revoke_api_key(first.id, now=app.clock.now())
    assert again is not None and again.revoked_at == revoked.revoked_at  # the first time stays
    assert await check_key(store, key) is None
    assert await store.revoke_api_key("key_unknown", now=app.clock.now()) is None
    assert await store.get_api_key(second.id) == second


async def test_the_api_on_postgresql(app_factory: Callable[..., App], postgres_url: str) -> None:
    app = app_factory(postgres_url)
    asgi = create_app(app.web)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        sent = await http.post(
            "/api/v1/events", json={"name": "charge.requested", "payload": {"amount": 3}}
        )
        assert sent.status_code == 200, sent.text
        run_id = sent.json()["run_ids"][0]
        await app.work.run_worker_async(until_idle=True)
        run = (await http.get(f"/api/v1/runs/{run_id}")).json()
        assert run["status"] == "FAILED"
        page = (await http.get("/api/v1/runs", params={"status": "FAILED", "q": run_id})).json()
        assert [r["id"] for r in page["runs"]] == [run_id]
        html = await http.get(f"/runs/{run_id}")
        assert "card_declined" in html.text
        for bad in ("/runs/run%00x", "/api/v1/runs/run%00x", "/runs?q=a%00b&job=%00"):
            assert (await http.get(bad)).status_code in (200, 404, 422), bad
    await app.web.close_async()
