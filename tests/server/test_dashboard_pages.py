"""Dashboard pages without a browser: pagination, confirmation errors, not-found pages."""

from __future__ import annotations

import re

import httpx
import pytest
from server_harness import App

pytestmark = pytest.mark.anyio


async def test_the_runs_list_pages_through_every_run(app: App, http: httpx.AsyncClient) -> None:
    sent = set()
    for i in range(30):
        sent.add((await app.work.send_event_async("charge.requested", {"amount": i})).run_ids[0])

    first = await http.get("/runs")
    shown = re.findall(r'<tr data-run="(run_[0-9a-f]+)"', first.text)
    assert len(shown) == 25
    older = re.search(r'<a href="([^"]+)" rel="next">Older', first.text)
    assert older is not None
    second = await http.get(older.group(1).replace("&amp;", "&"))
    rest = re.findall(r'<tr data-run="(run_[0-9a-f]+)"', second.text)
    assert len(rest) == 5
    assert set(shown) | set(rest) == sent
    assert 'rel="next"' not in second.text
    assert "← Newest" in second.text
    assert "data-live-url" not in second.text  # an older page stays still


async def test_an_operation_the_run_does_not_allow_says_why(
    app: App, http: httpx.AsyncClient
) -> None:
    run_id = (await app.work.send_event_async("charge.requested", {"amount": 1})).run_ids[0]
    await app.work.run_worker_async(until_idle=True)  # FAILED
    page = await http.get(f"/runs/{run_id}/cancel")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None

    refused = await http.post(f"/runs/{run_id}/cancel", data={"csrf": token.group(1)})
    assert refused.status_code == 409
    assert "has already ended (FAILED)" in refused.text
    assert (await app.work.get_run_async(run_id)).status == "FAILED"


@pytest.mark.parametrize("path", ["/runs/run_missing", "/runs/run_missing/retry", "/runs/a%20b"])
async def test_unknown_runs_get_a_not_found_page(http: httpx.AsyncClient, path: str) -> None:
    page = await http.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "<h1>Not found</h1>" in page.text
    assert page.headers["content-type"].startswith("text/html")


async def test_the_home_page_leads_to_the_runs(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/runs"
    assert (await http.get("/static/dashboard.css")).status_code == 200
