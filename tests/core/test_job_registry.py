"""Workers record their app's jobs so that senders which do not define them can find them;
a restart with the same jobs writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import runio


def test_jobs_are_recorded_once_and_again_only_when_they_change(
    make_client: Callable[..., runio.Client],
) -> None:
    client = make_client()

    @client.define_job(id="greet", trigger=runio.event_trigger("hello"))
    async def greet(payload: Any, io: runio.IO) -> str:
        return "hi"

    writes: list[list[str]] = []
    store = client.store
    original = store.register_jobs

    async def counting(jobs: Any, now: float) -> None:
        writes.append([j.job_id for j in jobs])
        await original(jobs, now)

    store.register_jobs = counting  # type: ignore[method-assign]
    client.run_worker(until_idle=True)
    client.run_worker(until_idle=True)
    assert writes == [["greet"]]

    @client.define_job(id="bye", trigger=runio.event_trigger("bye"))
    async def bye(payload: Any, io: runio.IO) -> str:
        return "bye"

    client.run_worker(until_idle=True)
    assert writes == [["greet"], ["bye"]]

    sender = make_client()  # defines no job: finds them in the database
    assert sender.send_event("bye").run_ids
