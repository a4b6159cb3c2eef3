from __future__ import annotations

import runio
from runio.testing import TestClock


def test_a_run_completes_with_its_task_tree(client: runio.Client) -> None:
    @client.define_job(id="hello", trigger=runio.event_trigger("hello"))
    async def hello(payload: dict[str, str], io: runio.IO) -> dict[str, str]:
        greeting = await io.run_task("greet", lambda task: f"hello {payload['name']}")
        return {"greeting": greeting}

    event = client.send_event("hello", {"name": "ada"})
    client.run_worker(until_idle=True)

    run = client.get_run(event.run_ids[0])
    assert run.status == "COMPLETED"
    assert run.output == {"greeting": "hello ada"}
    assert [t.cache_key for t in run.tasks] == ["greet"]


def test_a_wait_resumes_after_the_clock_moves(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(id="sleepy", trigger=runio.event_trigger("sleepy"))
    async def sleepy(payload: object, io: runio.IO) -> str:
        await io.wait("nap", 3 * 3600)
        return "awake"

    run_id = client.send_event("sleepy").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(hours=3)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "awake"
