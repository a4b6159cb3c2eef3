"""``runio.remote.RemoteClient``: another process sends events and reads runs over HTTP, with
the same records and errors as ``runio.Client``."""

from __future__ import annotations

import pytest
from server_harness import App, LiveServer

from runio.errors import InvalidPayloadError, InvalidRunStateError, RunNotFoundError
from runio.remote import RemoteClient, RemoteError
from runio.server._keys import create_key


def test_send_events_and_read_runs(app: App, live_server: LiveServer) -> None:
    with RemoteClient(live_server.url) as remote:
        event = remote.send_event("user.created", {"user_id": "u_9"}, id="signup-u_9")
        assert remote.send_event("user.created", {"user_id": "u_9"}, id="signup-u_9") == event
        [run_id] = event.run_ids
        app.run_worker()

        run = remote.get_run(run_id)
        assert run.status == "WAITING"
        assert run.task("fetch-user").output == {
            "email": "u_9@example.com",
            "card": {"number": "[redacted]"},
        }
        assert run.task("emails", "📧").name == "Welcome email"
        assert [g.message for g in run.logs] == ["welcoming", "emails sent"]

        page = remote.list_runs(status="WAITING", limit=1)
        assert [r.id for r in page] == [run_id]
        assert page.next_cursor is None

        assert remote.cancel_run(run_id).status == "CANCELED"
        with pytest.raises(InvalidRunStateError, match="already ended"):
            remote.cancel_run(run_id)
        replay = remote.replay_run(run_id)
        assert replay.replay_of == run_id
        with pytest.raises(RunNotFoundError):
            remote.get_run("run_missing")


def test_a_bad_payload_is_reported_with_its_fields(live_server: LiveServer) -> None:
    with RemoteClient(live_server.url) as remote, pytest.raises(InvalidPayloadError) as caught:
        remote.send_event("charge.requested", {"amount": "lots"})
    assert caught.value.errors["charge"][0]["loc"] == ("amount",)
    assert "amount" in str(caught.value)


@pytest.mark.anyio
async def test_the_async_twins_and_keys(app: App, live_server: LiveServer) -> None:
    _, key = await create_key(await app.work._ready(), "remote", now=app.clock.now())
    async with RemoteClient(live_server.url) as anonymous:
        with pytest.raises(RemoteError, match="valid API key") as caught:
            await anonymous.list_runs_async()
        assert caught.value.status == 401
    async with RemoteClient(live_server.url, api_key=key) as remote:
        event = await remote.send_event_async("charge.requested", {"amount": 3})
        await app.work.run_worker_async(until_idle=True)
        run = await remote.get_run_async(event.run_ids[0])
        assert run.status == "FAILED"
        app.charge_fails["now"] = False
        assert (await remote.retry_run_async(run.id)).status == "QUEUED"
        assert key not in repr(remote)


def test_an_unreachable_server_is_a_clear_error() -> None:
    with RemoteClient("http://127.0.0.1:9") as remote, pytest.raises(RemoteError) as caught:
        remote.list_runs()
    assert "could not be reached" in str(caught.value)
    assert caught.value.status is None
