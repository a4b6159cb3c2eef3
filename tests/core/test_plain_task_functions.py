"""Plain (non-async) task functions run in the worker's task threads, never on the event loop.

When the execution is alone in its worker, the loop waits a moment (``QUICK_CALL``), blocked, for
a plain function's result, sparing two thread hand-offs when it only computes. These tests prove
what that must never change: a function that blocks longer does not hold the loop (the loop keeps
serving while it runs, and never waits for that function again), what a function raises reaches
the task as before, and a function's context (the task it runs as) is its own.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import weakref
from typing import Any

import pytest

import runio
from runio import _execution
from runio.storage import alone_in_worker


@pytest.fixture(autouse=True)
def slow_functions(monkeypatch: pytest.MonkeyPatch) -> weakref.WeakKeyDictionary[Any, list[int]]:
    """The functions noted slow, fresh for each test (a test's functions have the same code
    each time it runs)."""
    fresh: weakref.WeakKeyDictionary[Any, list[int]] = weakref.WeakKeyDictionary()
    monkeypatch.setattr(_execution, "_slow_functions", fresh)
    return fresh


async def _alone_in_worker() -> None:
    """Until the worker leaves the run alone (its claim loop has gone idle): only then does the
    event loop wait for a plain function at all. Awaited, yielding to the loop each time."""
    alone = alone_in_worker.get()
    assert alone is not None
    for _ in range(1_000_000):
        if alone():
            return
        await asyncio.sleep(0)
    raise AssertionError("the worker kept claiming")


def test_a_plain_function_that_blocks_lets_the_event_loop_run_meanwhile(
    client: runio.Client, slow_functions: weakref.WeakKeyDictionary[Any, list[int]]
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
        await _alone_in_worker()
        asyncio.get_running_loop().call_soon(released.set)
        first = await io.run_task("blocks", blocks)
        return [first, await io.run_task("computes", computes)]

    run_id = client.send_event("go").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == [True, "computed computes"]
    # the function that outlasted the quick wait is awaited at once for its next 64 calls
    # (whether `computes` came back within the wait depends on how busy the machine is)
    assert slow_functions[blocks.__code__] == [64, 128]


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


def test_a_function_slow_once_is_waited_for_again_after_a_while(
    client: runio.Client, slow_functions: weakref.WeakKeyDictionary[Any, list[int]]
) -> None:
    """Each long call makes the next calls be awaited at once: 64 after the first, 128 after
    the second (a function that only met a busy machine once is soon waited for again)."""
    release = threading.Event()
    long_calls = {0, 65}  # its 1st call, and the first one waited for again after 64

    def sometimes_slow(task: runio.Task) -> int:
        if int(task.cache_key[1:]) in long_calls:
            release.wait(timeout=30)
        return 1

    skips: list[list[int]] = []

    @client.define_job(id="sometimes", trigger=runio.event_trigger("go"))
    async def sometimes(payload: Any, io: runio.IO) -> int:
        await _alone_in_worker()
        loop = asyncio.get_running_loop()
        total = 0
        for i in range(70):
            if i in long_calls:
                release.clear()
                loop.call_soon(release.set)
            total += await io.run_task(f"c{i}", sometimes_slow)
            skips.append(list(slow_functions.get(sometimes_slow.__code__, [0, 0])))
        return total

    run_id = client.send_event("go").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == 70
    assert skips[0] == [64, 128]  # after the first long call
    assert skips[64] == [0, 128]  # 64 calls awaited at once; the next is waited for again
    assert skips[65] == [128, 256]  # and it was long again


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


def test_a_worker_stopped_by_force_during_a_long_plain_call_leaves_it_counted_then_done(
    client: runio.Client,
) -> None:
    """The call outlasted the loop's quick wait, then the worker was stopped by force: the run's
    asyncio task is cancelled, which must not break the thread still running the call (it was
    answered through a future that can no longer be cancelled)."""
    started = threading.Event()
    release = threading.Event()
    call_thread: list[threading.Thread] = []

    def slow(task: runio.Task) -> str:
        call_thread.append(threading.current_thread())
        started.set()
        assert release.wait(timeout=30)
        return "done"

    @client.define_job(id="slow", trigger=runio.event_trigger("go"))
    async def slow_job(payload: Any, io: runio.IO) -> str:
        await _alone_in_worker()
        return await io.run_task("slow", slow)

    run_id = client.send_event("go").run_ids[0]
    worker = client.worker(grace_period=0)

    async def run_then_stop() -> None:
        running = asyncio.create_task(worker.run())
        await asyncio.to_thread(started.wait, 30)
        worker.stop(force=True)
        await running

    asyncio.run(run_then_stop())
    assert worker.abandoned_calls == 1  # still running, and counted
    release.set()
    call_thread[0].join(timeout=30)
    assert not call_thread[0].is_alive()
    assert worker.abandoned_calls == 0
    run = client.get_run(run_id)
    assert run.status == "QUEUED"  # released, to be resumed by the next worker
    assert run.task("slow").status == "RUNNING"


async def _coroutine_fn(task: Any) -> int:
    return 1


def _plain_fn(task: Any) -> int:
    return 1


class _Callable:
    async def __call__(self, task: Any) -> int:
        return 1

    async def method(self, task: Any) -> int:
        return 1


def _candidates() -> list[Any]:
    @functools.wraps(_coroutine_fn)
    def wrapped(task: Any) -> Any:
        return _coroutine_fn(task)

    found: list[Any] = [
        _coroutine_fn,
        _plain_fn,
        lambda task: 1,
        functools.partial(_coroutine_fn),
        _Callable(),
        _Callable().method,
        wrapped,
    ]
    mark = getattr(inspect, "markcoroutinefunction", None)  # Python 3.12+
    if mark is not None:
        found.append(mark(lambda task: _coroutine_fn(task)))
    return found


@pytest.mark.parametrize("fn", _candidates())
def test_async_task_functions_are_told_apart_as_inspect_tells_them(fn: Any) -> None:
    assert _execution._is_async(fn) == inspect.iscoroutinefunction(fn)
