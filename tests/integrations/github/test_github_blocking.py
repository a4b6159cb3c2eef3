"""PyGithub is synchronous: a GitHub call that blocks (here, GitHub holding its answer) runs in
the worker's thread pool, and the worker's other runs keep running meanwhile."""

from __future__ import annotations

import threading
from typing import Any

from github_helpers import REPO, World

import runio


def test_other_runs_keep_running_while_a_github_call_blocks(world: World) -> None:
    hold = world.fake.hold_after_write(method="POST", path=rf"/repos/{REPO}/issues")
    other_ran = threading.Event()

    async def slow(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Held")

    github_run = world.start(slow)

    @world.client.define_job(id="other", trigger=runio.event_trigger("other"))
    async def other(payload: Any, io: runio.IO) -> Any:
        total = await io.run_task("sum", lambda task: sum(range(10)))
        other_ran.set()
        return total

    other_run = world.client.send_event("other", {}).run_ids[0]
    worker = threading.Thread(
        target=lambda: world.client.run_worker(until_idle=True, concurrency=4), daemon=True
    )
    worker.start()
    try:
        hold.wait_applied(timeout=30)  # the GitHub call is in flight, and stays so...
        assert other_ran.wait(timeout=30), "the other run did not run while GitHub blocked"
        assert world.client.get_run(github_run).status == "EXECUTING"
    finally:
        hold.release()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert world.client.get_run(other_run).status == "COMPLETED"
    run = world.client.get_run(github_run)
    assert run.status == "COMPLETED", run.error
    assert run.output["title"] == "Held"
