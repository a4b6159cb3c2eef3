"""Parallel tasks inside one run, and sync task functions off the event loop (DESIGN.md §3-§4)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import runio
from runio.errors import DuplicateCacheKeyError
from runio.testing import TestClock

# Bounded waits so that a broken engine fails the test instead of hanging it.
RENDEZVOUS_TIMEOUT = 5.0


def test_parallel_tasks_are_each_recorded_once(client: runio.Client, clock: TestClock) -> None:
    calls: Counter[int] = Counter()

    @client.define_job(id="fan-out", trigger=runio.event_trigger("fan-out"))
    async def fan_out(payload: object, io: runio.IO) -> list[int]:
        async def square(i: int) -> int:
            async def fn(task: runio.Task) -> int:
                calls[i] += 1
                await asyncio.sleep(0)
                return i * i

            return await io.run_task(["square", i], fn)

        results = await asyncio.gather(*(square(i) for i in range(20)))
        await io.wait("pause", 10)
        return list(results)

    run_id = client.send_event("fan-out").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=10)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == [i * i for i in range(20)]
    assert calls == dict.fromkeys(range(20), 1)
    squares = [t for t in run.tasks if t.cache_key[0] == "square"]
    assert len(squares) == 20
    assert sorted(t.cache_key[1] for t in squares) == list(range(20))
    for t in squares:
        assert t.status == "COMPLETED"
        assert t.output == t.cache_key[1] ** 2
        assert len(t.attempts) == 1


def test_a_retry_delay_keeps_the_results_of_its_siblings(
    client: runio.Client, clock: TestClock
) -> None:
    calls: Counter[str] = Counter()
    options = runio.RetryOptions(limit=2, min_timeout=30, max_timeout=30, randomize=False)

    @client.define_job(id="siblings", trigger=runio.event_trigger("siblings"))
    async def siblings(payload: object, io: runio.IO) -> list[Any]:
        suspended = asyncio.Event()

        async def fast(task: runio.Task) -> str:
            calls["fast"] += 1
            return "fast"

        async def flaky(task: runio.Task) -> str:
            calls["flaky"] += 1
            if task.attempt == 1:
                raise RuntimeError("flaky failed")
            return "flaky ok"

        async def slow(task: runio.Task) -> str:
            calls["slow"] += 1
            # Finish only after the run has started suspending for flaky's retry delay.
            try:
                await asyncio.wait_for(suspended.wait(), RENDEZVOUS_TIMEOUT)
            except TimeoutError:
                return "the run never suspended"
            return "slow"

        try:
            return await asyncio.gather(
                io.run_task("fast", fast),
                io.run_task("flaky", flaky, retry=options),
                io.run_task("slow", slow),
            )
        except BaseException:
            suspended.set()
            raise

    start = clock.now()
    run_id = client.send_event("siblings").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == start + 30
    assert run.task("fast").status == "COMPLETED"
    assert run.task("slow").status == "COMPLETED"  # recorded although it ended after the failure
    assert run.task("slow").output == "slow"
    assert run.task("flaky").status == "WAITING"
    assert calls == {"fast": 1, "flaky": 1, "slow": 1}

    clock.advance(seconds=30)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == ["fast", "flaky ok", "slow"]
    assert calls == {"fast": 1, "flaky": 2, "slow": 1}
    assert len(run.task("slow").attempts) == 1
    assert len(run.task("fast").attempts) == 1


def test_parallel_waits_suspend_until_the_first_wake_time(
    client: runio.Client, clock: TestClock
) -> None:
    @client.define_job(id="waits", trigger=runio.event_trigger("waits"))
    async def waits(payload: object, io: runio.IO) -> str:
        await asyncio.gather(io.wait("short", 10), io.wait("long", 20))
        return "both over"

    start = clock.now()
    run_id = client.send_event("waits").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.ready_at == start + 10
    assert {t.cache_key: t.wake_at for t in run.tasks} == {"short": start + 10, "long": start + 20}

    clock.advance(seconds=10)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == start + 20
    assert run.task("short").status == "COMPLETED"

    clock.advance(seconds=10)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "both over"


def test_a_task_started_beside_a_wait_runs_before_the_run_pauses(
    client: runio.Client, clock: TestClock
) -> None:
    """The wait's branch runs first and pauses the run without awaiting anything; the task
    launched with it by the same ``gather`` still starts, runs and is recorded in this
    execution, not when the wait is over."""
    ran: list[float] = []

    @client.define_job(id="beside", trigger=runio.event_trigger("beside"))
    async def beside(payload: object, io: runio.IO) -> str:
        async def work(task: runio.Task) -> str:
            ran.append(clock.now())
            return "done"

        _, out = await asyncio.gather(io.wait("pause", 10), io.run_task("work", work))
        return str(out)

    start = clock.now()
    run_id = client.send_event("beside").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert (run.status, run.ready_at) == ("WAITING", start + 10)
    assert run.task("work").status == "COMPLETED"
    assert ran == [start]

    clock.advance(seconds=10)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "done"
    assert ran == [start]  # the stored result, not a second call


def test_a_wait_reached_while_the_run_pauses_begins_then(
    client: runio.Client, clock: TestClock
) -> None:
    """One branch pauses the run at a 10 s wait while the other is running a task; that task's
    branch then reaches a 20 s wait before the run has paused. The second wait is recorded when
    reached (ending 20 s after it, not 20 s after the first one), and the run wakes for each."""

    @client.define_job(id="later-wait", trigger=runio.event_trigger("later-wait"))
    async def later_wait(payload: object, io: runio.IO) -> str:
        async def step(task: runio.Task) -> str:
            await asyncio.sleep(0)  # in flight while the other branch pauses the run
            return "stepped"

        async def then_wait() -> None:
            await io.run_task("step", step)
            await io.wait("long", 20)

        await asyncio.gather(io.wait("short", 10), then_wait())
        return "both over"

    start = clock.now()
    run_id = client.send_event("later-wait").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.task("step").status == "COMPLETED"
    assert {t.cache_key: t.wake_at for t in run.tasks if t.kind == "wait"} == {
        "short": start + 10,
        "long": start + 20,
    }
    assert run.ready_at == start + 10

    clock.advance(seconds=10)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).ready_at == start + 20
    clock.advance(seconds=10)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "both over"


def test_parallel_parents_keep_their_children_apart(client: runio.Client) -> None:
    @client.define_job(id="parents", trigger=runio.event_trigger("parents"))
    async def parents(payload: object, io: runio.IO) -> list[str]:
        def parent(name: str) -> Any:
            async def fn(task: runio.Task) -> str:
                await asyncio.sleep(0)
                child = await io.run_task("child", lambda t: f"child of {name}")
                await asyncio.sleep(0)
                grandchild = await io.run_task("child-2", lambda t: f"second child of {name}")
                return f"{child}; {grandchild}"

            return fn

        return list(
            await asyncio.gather(*(io.run_task(name, parent(name)) for name in ["a", "b", "c"]))
        )

    run_id = client.send_event("parents").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == [f"child of {n}; second child of {n}" for n in ["a", "b", "c"]]
    for name in ["a", "b", "c"]:
        parent = run.task(name)
        assert [c.cache_key for c in parent.children] == ["child", "child-2"]
        assert all(c.parent_id == parent.id for c in parent.children)
        assert run.task(name, "child").output == f"child of {name}"


def test_duplicate_keys_inside_a_gather_raise(client: runio.Client) -> None:
    calls: list[str] = []
    outcomes: list[Any] = []

    @client.define_job(id="gather-dupes", trigger=runio.event_trigger("gather-dupes"))
    async def gather_dupes(payload: object, io: runio.IO) -> None:
        async def one(task: runio.Task) -> str:
            calls.append("one")
            await asyncio.sleep(0)
            return "one"

        async def two(task: runio.Task) -> str:
            calls.append("two")
            return "two"

        outcomes.extend(
            await asyncio.gather(
                io.run_task(["item", 1], one),
                io.run_task(["item", 1], two),
                return_exceptions=True,
            )
        )

    run_id = client.send_event("gather-dupes").run_ids[0]
    client.run_worker(until_idle=True)

    assert calls == ["one"]
    assert outcomes[0] == "one"
    assert isinstance(outcomes[1], DuplicateCacheKeyError)
    assert "item" in str(outcomes[1])
    assert "gather-dupes" in str(outcomes[1])
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert len(run.tasks) == 1


def test_sync_task_functions_of_two_runs_run_at_the_same_time(client: runio.Client) -> None:
    arrived = {"left": threading.Event(), "right": threading.Event()}
    met: dict[str, bool] = {}

    @client.define_job(id="rendezvous", trigger=runio.event_trigger("rendezvous"))
    async def rendezvous(payload: dict[str, str], io: runio.IO) -> bool:
        me, other = payload["me"], payload["other"]

        def blocking(task: runio.Task) -> bool:
            arrived[me].set()
            # Blocks its thread: only returns True if the other run's task runs meanwhile.
            met[me] = arrived[other].wait(RENDEZVOUS_TIMEOUT)
            return met[me]

        return await io.run_task("blocking", blocking)

    left = client.send_event("rendezvous", {"me": "left", "other": "right"}).run_ids[0]
    right = client.send_event("rendezvous", {"me": "right", "other": "left"}).run_ids[0]
    client.run_worker(concurrency=2, until_idle=True)

    assert met == {"left": True, "right": True}
    assert client.get_run(left).output is True
    assert client.get_run(right).output is True


def test_sync_task_functions_in_one_run_run_in_parallel(client: runio.Client) -> None:
    barrier = threading.Barrier(3, timeout=RENDEZVOUS_TIMEOUT)

    @client.define_job(id="barrier", trigger=runio.event_trigger("barrier"))
    async def barrier_job(payload: object, io: runio.IO) -> list[int]:
        def blocking(task: runio.Task) -> int:
            return barrier.wait()  # raises BrokenBarrierError unless all three arrive

        return list(await asyncio.gather(*(io.run_task(["b", i], blocking) for i in range(3))))

    run_id = client.send_event("barrier").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert sorted(run.output) == [0, 1, 2]


def test_a_blocking_sync_task_does_not_block_an_async_run(client: runio.Client) -> None:
    released = threading.Event()
    outcome: dict[str, bool] = {}

    @client.define_job(id="blocker", trigger=runio.event_trigger("blocker"))
    async def blocker(payload: object, io: runio.IO) -> bool:
        def blocking(task: runio.Task) -> bool:
            outcome["released"] = released.wait(RENDEZVOUS_TIMEOUT)
            return outcome["released"]

        return await io.run_task("blocking", blocking)

    @client.define_job(id="releaser", trigger=runio.event_trigger("releaser"))
    async def releaser(payload: object, io: runio.IO) -> str:
        async def release(task: runio.Task) -> str:
            released.set()
            return "released"

        return await io.run_task("release", release)

    blocked = client.send_event("blocker").run_ids[0]
    client.send_event("releaser")
    client.run_worker(concurrency=2, until_idle=True)

    assert outcome == {"released": True}
    assert client.get_run(blocked).output is True


def test_a_sibling_failing_for_good_still_lets_the_others_be_recorded(
    client: runio.Client,
) -> None:
    calls: Counter[str] = Counter()

    @client.define_job(id="one-fails", trigger=runio.event_trigger("one-fails"))
    async def one_fails(payload: object, io: runio.IO) -> list[Any]:
        failed = asyncio.Event()

        async def broken(task: runio.Task) -> str:
            calls["broken"] += 1
            raise ValueError("broken for good")

        async def slow(task: runio.Task) -> str:
            calls["slow"] += 1
            try:
                await asyncio.wait_for(failed.wait(), RENDEZVOUS_TIMEOUT)
            except TimeoutError:
                return "the job never saw the failure"
            return "slow"

        try:
            return await asyncio.gather(io.run_task("broken", broken), io.run_task("slow", slow))
        except BaseException:
            failed.set()
            raise

    run_id = client.send_event("one-fails").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None
    assert "broken for good" in run.error["message"]
    assert calls == {"broken": 1, "slow": 1}
    assert run.task("broken").status == "ERRORED"
    slow = run.task("slow")
    assert slow.status == "COMPLETED"
    assert slow.output == "slow"
    assert [a.status for a in slow.attempts] == ["COMPLETED"]
