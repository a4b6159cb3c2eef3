"""The run page shows what a task says of itself (description, display key, properties given
as dicts) and the run's concurrency key; the JSON API returns them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from server_harness import App

import runio

pytestmark = pytest.mark.anyio


def _define(client: runio.Client) -> None:
    @client.define_job(
        id="sync-account",
        trigger=runio.event_trigger("account.changed"),
        concurrency_limit=1,
        concurrency_key=lambda payload: payload["account"],
    )
    async def sync_account(payload: Any, io: runio.IO) -> str:
        await io.run_task(
            ["push", payload["account"]],
            lambda task: "pushed",
            name="Push to CRM",
            description="Copies the account to the CRM <b>now</b>",
            display_key=f"account {payload['account']}",
            properties=[{"label": "Account", "value": payload["account"]}],
        )
        return "synced"


async def test_the_run_page_shows_description_display_key_and_concurrency_key(
    app: App, http: httpx.AsyncClient
) -> None:
    _define(app.web)
    _define(app.work)
    run_id = (await app.work.send_event_async("account.changed", {"account": "acme"})).run_ids[0]
    await app.work.run_worker_async(until_idle=True)

    page = (await http.get(f"/runs/{run_id}")).text
    assert re.search(r'<code class="cache-key" title="Display key">account acme</code>', page)
    assert '<p class="description">Copies the account to the CRM &lt;b&gt;now&lt;/b&gt;</p>' in page
    assert '<span class="label">Account</span> acme' in page
    assert '<code class="concurrency-key">acme</code>' in page

    body = (await http.get(f"/api/v1/runs/{run_id}")).json()
    assert body["concurrency_key"] == "acme"
    [task] = body["tasks"]
    assert (task["display_key"], task["properties"]) == (
        "account acme",
        [{"label": "Account", "text": "acme"}],
    )
    assert task["description"] == "Copies the account to the CRM <b>now</b>"
