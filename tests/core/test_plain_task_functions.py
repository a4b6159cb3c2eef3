"""Plain (non-async) task functions run in the worker's task threads, never on the event loop.

When the execution is alone in its worker, the loop waits a moment (``QUICK_CALL``), blocked, for
a plain function's result, sparing two thread hand-offs when it only computes. These tests prove
what that must never change: a function that blocks longer does not hold the loop (the loop keeps
serving while it runs, and never waits for that function again), what a function raises reaches
the task as before, and a function's context (the task it runs as) is its own.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import runio
from runio import _execution


def test_a_plain_function_that_blocks_lets_the_event_loop_run_meanwhile(
    client: runio.Client,
) -> None:
    released = threading.Event()

    def blocks(task: runio.Task) -> bool:
        # Set by a callback the event loop runs: were the loop waiting for this function until
        # it returns, the callback could never run and this would time out.
        return released.wait(timeout=30)

    def computes(task: runio.Task) -> str:
        return f"computed {task.cache_key}"

    @client.define_job(id="blocking", trigger=runio.event_trigger("go"))
    async def blocking(payload: Any, io: runio.IO) -> list[Any]:
        asyncio.get_running_loop().call_soon(released.set)
        first = await io.run_task("blocks", blocks)
        return [first, await io.run_task("computes", computes)]

    run_id = client.send_event("go").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == [True, "computed computes"]
    # the function that outlasted the quick wait is awaited at once from now on; the other not
    assert blocks.__code__ in _execution._slow_functions
    assert computes.__code__ not in _execution._slow_functions


def test_a_plain_function_raising_timeout_error_fails_its_task_with_that_error(
    client: runio.Client,
) -> None:
    def times_out(task: runio.Task) -> None:
        raise TimeoutError("the vendor did not answer in 10 s")

    @client.define_job(id="timing-out", trigger=runio.event_trigger("go"))
    async def timing_out(payload: Any, io: runio.IO) -> None:
        await io.run_task("call", times_out, retry=runio.RetryOptions(limit=1))

    run_id = client.send_event("go").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    task = run.task("call")
    assert task.status == "ERRORED"
    assert task.error is not None
    assert task.error["type"] == "TimeoutError"
    assert task.error["message"] == "the vendor did not answer in 10 s"
    # its own error, raised at once: not a function that took long
    assert times_out.__code__ not in _execution._slow_functions


@pytest.mark.parametrize("parallel", [False, True], ids=["one at a time", "in parallel"])
def test_plain_functions_run_in_task_threads_and_see_their_own_task(
    client: runio.Client, parallel: bool
) -> None:
    def fn(task: runio.Task) -> list[Any]:
        return [task.cache_key, task.attempt, threading.current_thread().name]

    loop_threads: list[str] = []

    @client.define_job(id="plain", trigger=runio.event_trigger("go"))
    async def plain(payload: Any, io: runio.IO) -> list[Any]:
        loop_threads.append(threading.current_thread().name)
        keys = [f"k{i}" for i in range(6)]
        if parallel:
            return list(await asyncio.gather(*(io.run_task(k, fn) for k in keys)))
        return [await io.run_task(k, fn) for k in keys]

    run_id = client.send_event("go").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert [x[:2] for x in run.output] == [[f"k{i}", 1] for i in range(6)]
    assert loop_threads and not {x[2] for x in run.output} & set(loop_threads)
