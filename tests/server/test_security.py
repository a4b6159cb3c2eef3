"""Who may use the server: API keys, dashboard logins, CSRF, hosts, exposure (DESIGN.md §6)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from server_harness import App

from runio.errors import ConfigurationError
from runio.server import ServerConfig, check_exposure, create_app
from runio.server._keys import create_key

pytestmark = pytest.mark.anyio


async def make_key(app: App, name: str = "billing") -> tuple[str, str]:
    record, key = await create_key(await app.web._ready(), name, now=app.clock.now())
    return record.id, key


async def test_the_api_is_open_on_loopback_until_a_key_exists(
    app: App, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/api/v1/runs")).status_code == 200
    key_id, key = await make_key(app)

    refused = await http.get("/api/v1/runs")
    assert refused.status_code == 401
    assert "runio keys create" in refused.json()["detail"]
    assert refused.headers["www-authenticate"] == "Bearer"
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), "Bearer", key_id, "x" * 80):
        response = await http.get("/api/v1/runs", headers={"Authorization": f"Bearer {wrong}"})
        assert response.status_code == 401, wrong
    ok = await http.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200


async def test_a_revoked_key_stops_working_at_once(app: App, http: httpx.AsyncClient) -> None:
    key_id, key = await make_key(app)
    auth = {"Authorization": f"Bearer {key}"}
    assert (await http.get("/api/v1/jobs", headers=auth)).status_code == 200

    store = await app.web._ready()
    revoked = await store.revoke_api_key(key_id, now=app.clock.now())
    assert revoked is not None and revoked.revoked_at == app.clock.now()
    assert (await http.get("/api/v1/jobs", headers=auth)).status_code == 401


async def test_only_a_hash_of_a_key_is_stored(app: App, sqlite_url: str) -> None:
    key_id, key = await make_key(app)
    secret = key.removeprefix(f"runio_{key_id}_")  # 43 characters, "_" may be among them
    assert len(secret) == 43
    await app.web.close_async()

    data = Path(sqlite_url.removeprefix("sqlite:///"))
    files = [p for p in data.parent.iterdir() if p.name.startswith(data.name)]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes(), path.name


async def test_key_names_are_checked(app: App) -> None:
    with pytest.raises(ConfigurationError, match="needs a name"):
        await make_key(app, "  ")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_state_changing_requests_from_other_sites_are_refused(
    app: App, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {"name": "charge.requested", "payload": {"amount": 1}}
    response = await http.post("/api/v1/events", json=body, headers=headers)

    assert response.status_code == 403
    assert "another site" in response.json()["detail"]
    assert (await http.get("/api/v1/runs")).json()["runs"] == []
    same_site = await http.post("/api/v1/events", json=body, headers={"Origin": "http://127.0.0.1"})
    assert same_site.status_code == 200


async def test_behind_a_proxy_the_public_host_is_a_trusted_origin(app: App) -> None:
    asgi = create_app(app.web, host="0.0.0.0", password="pw", allowed_hosts={"runio.example"})
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://runio.example") as http:
        login = {"credential": "pw", "next": "/runs"}
        proxied = {"Host": "127.0.0.1:8080", "Origin": "https://runio.example"}
        assert (await http.post("/login", data=login, headers=proxied)).status_code == 400
        for origin in ("https://runio.example", "https://runio.example:8443"):
            response = await http.post("/login", data=login, headers={"Origin": origin})
            assert response.status_code == 303, origin
        evil = {"Origin": "https://evil.example"}
        assert (await http.post("/login", data=login, headers=evil)).status_code == 403


async def test_a_loopback_server_answers_only_to_loopback_names(
    http: httpx.AsyncClient,
) -> None:
    rebound = await http.get("/runs", headers={"Host": "attacker.example:8080"})
    assert rebound.status_code == 400
    assert (await http.get("/runs", headers={"Host": "[::1"})).status_code == 400
    assert (await http.get("/runs", headers={"Host": "localhost:8080"})).status_code == 200


async def test_a_body_too_large_is_refused_before_it_is_read(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/v1/events",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(17 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


async def test_beyond_loopback_the_server_refuses_to_start_without_auth(app: App) -> None:
    exposed = ServerConfig(host="0.0.0.0", port=0)
    with pytest.raises(ConfigurationError, match=r"Refusing to serve on 0\.0\.0\.0"):
        await check_exposure(app.web, exposed)
    await check_exposure(app.web, ServerConfig(host="0.0.0.0", password="pw", port=0))
    await make_key(app)
    await check_exposure(app.web, exposed)


@pytest.fixture
async def guarded(app: App) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The dashboard with a key configured; yields a client and the key."""
    _, key = await make_key(app, "dashboard")
    asgi = create_app(app.web, password="correct horse")
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client, key


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def test_the_dashboard_wants_a_login_once_auth_is_on(
    app: App, guarded: tuple[httpx.AsyncClient, str]
) -> None:
    http, key = guarded
    page = await http.get("/runs?status=FAILED")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/runs%3Fstatus%3DFAILED"

    wrong = await http.post("/login", data={"credential": "guess", "next": "/runs"})
    assert wrong.status_code == 401
    assert "not an active API key" in wrong.text
    for credential in (key, "correct horse"):
        http.cookies.clear()
        login = await http.post("/login", data={"credential": credential, "next": "/jobs"})
        assert login.status_code == 303
        assert login.headers["location"] == "/jobs"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert (await http.get("/jobs")).status_code == 200
        assert key not in cookie


async def test_login_redirects_stay_on_the_server(
    guarded: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = guarded
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        login = await http.post("/login", data={"credential": key, "next": target})
        assert login.headers["location"] == "/runs"


async def test_a_session_ends_when_its_key_is_revoked(
    app: App, guarded: tuple[httpx.AsyncClient, str]
) -> None:
    http, key = guarded
    await http.post("/login", data={"credential": key, "next": "/runs"})
    assert (await http.get("/runs")).status_code == 200
    store = await app.web._ready()
    for k in await store.list_api_keys():
        await store.revoke_api_key(k.id, now=app.clock.now())
    assert (await http.get("/runs")).status_code == 303


async def test_dashboard_actions_need_the_page_token(
    app: App, guarded: tuple[httpx.AsyncClient, str]
) -> None:
    http, key = guarded
    run_id = (await app.work.send_event_async("user.created", {"user_id": "u"})).run_ids[0]
    await http.post("/login", data={"credential": key, "next": "/runs"})

    forged = await http.post(f"/runs/{run_id}/cancel", data={"csrf": "0" * 64})
    assert forged.status_code == 403
    assert (await app.work.get_run_async(run_id)).status == "QUEUED"

    page = await http.get(f"/runs/{run_id}/cancel")
    done = await http.post(f"/runs/{run_id}/cancel", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert (await app.work.get_run_async(run_id)).status == "CANCELED"


async def test_pages_forbid_framing_and_inline_scripts(http: httpx.AsyncClient) -> None:
    page = await http.get("/runs")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self'
    assert "<script>" not in page.text


async def test_what_jobs_record_is_escaped_in_pages(app: App, http: httpx.AsyncClient) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    run_id = (await app.work.send_event_async("user.created", {"user_id": evil})).run_ids[0]
    await app.work.run_worker_async(until_idle=True)

    for path in (f"/runs/{run_id}", f"/runs/{run_id}/live", "/runs", "/jobs"):
        page = await http.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text, path
        assert "<img src=x" not in page.text, path
    assert "&lt;script&gt;alert" in (await http.get(f"/runs/{run_id}")).text
