"""A Slack call that blocks (the SDK is synchronous) does not hold up the worker: while one
run's post waits for Slack's answer, other runs on the same worker run to completion, Slack
calls included."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from slack_helpers import World

import runio

pytestmark = pytest.mark.timeout(60)


def test_other_runs_keep_running_while_a_slack_call_blocks(world: World) -> None:
    fake, client = world.fake, world.client
    ada = fake.add_user("ada@example.com")
    hold = fake.hold_after_write(method="chat.postMessage", timeout=30)
    others_done = threading.Event()

    @client.define_job(
        id="slow-post", trigger=runio.event_trigger("slow"), integrations={"slack": world.slack}
    )
    async def slow_post(payload: Any, io: runio.IO) -> Any:
        posted = await io.slack.post_message("post", channel=fake.general_id, text="slow")
        return posted["ts"]

    @client.define_job(
        id="others", trigger=runio.event_trigger("others"), integrations={"slack": world.slack}
    )
    async def others(payload: Any, io: runio.IO) -> Any:
        user = await io.slack.lookup_user_by_email("user", email="ada@example.com")
        total = await io.run_task("sum", lambda task: sum(range(payload["n"])))
        return {"user": user["user"]["id"], "total": total}

    slow_id = client.send_event("slow", {}).run_ids[0]
    other_ids = [client.send_event("others", {"n": n}).run_ids[0] for n in range(1, 4)]
    finished: dict[str, str] = {}

    def run_finished(run_id: str, status: str) -> None:  # called on the worker's loop
        finished[run_id] = status
        if all(finished.get(r) == "COMPLETED" for r in other_ids):
            others_done.set()

    worker = client.worker(
        concurrency=4, until_idle=True, poll_interval=0.01, on_run_finished=run_finished
    )
    thread = threading.Thread(target=lambda: asyncio.run(worker.run()))
    thread.start()
    try:
        held = hold.wait_applied(timeout=20)  # the slow post is in flight, its answer held
        assert held.path == "/api/chat.postMessage"
        assert others_done.wait(timeout=20), f"other runs did not finish: {finished}"
        assert slow_id not in finished
        assert client.get_run(slow_id).status == "EXECUTING"
    finally:
        hold.release()
        thread.join(timeout=30)
    assert not thread.is_alive()
    slow = client.get_run(slow_id)
    assert slow.status == "COMPLETED", slow.error
    assert slow.output == fake.messages(fake.general_id)[0]["ts"]
    assert list(finished)[-1] == slow_id
    for run_id, n in zip(other_ids, range(1, 4), strict=True):
        run = client.get_run(run_id)
        assert run.output == {"user": ada, "total": sum(range(n))}
