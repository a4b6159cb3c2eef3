"""A thread waiting for the event loop (``io.sync``, a ``def`` job's ``io``): what the loop's
coroutine returned or raised comes back to it, and where threads can be pinned it sleeps on the
loop's CPU and is back on all of its own CPUs before its code goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import gc
import os
import signal
import threading
import warnings
from typing import Any

import pytest

import runio
from runio import _task_threads as task_threads
from runio._task_threads import LoopWait, TaskThreads
from runio.testing import TestClock


async def _on_loop(value: Any) -> tuple[Any, int]:
    return value, threading.get_ident()


def test_the_coroutine_runs_on_the_loop_and_its_value_comes_back(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads
) -> None:
    value, ident = LoopWait(threads).run(loop, _on_loop("v"))
    assert value == "v" and ident != threading.get_ident()


class _Stop(BaseException):
    """As a run's signals (Suspend, Canceled...): not an Exception."""


def test_errors_signals_and_a_cancellation_reach_the_waiting_thread(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads
) -> None:
    async def fails() -> None:
        raise ValueError("bad input")

    async def stops() -> None:
        raise _Stop

    async def canceled() -> None:
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        await asyncio.sleep(0)

    with pytest.raises(ValueError, match="bad input"):
        LoopWait(threads).run(loop, fails())
    with pytest.raises(_Stop):
        LoopWait(threads).run(loop, stops())
    with pytest.raises(concurrent.futures.CancelledError):  # as a future's result() raises
        LoopWait(threads).run(loop, canceled())
    assert LoopWait(threads).run(loop, _on_loop(1))[0] == 1  # and the next call still works


def test_a_closed_loop_refuses_the_call_at_once_leaving_no_coroutine_behind(
    threads: TaskThreads,
) -> None:
    closed = asyncio.new_event_loop()
    closed.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="closed"):
            LoopWait(threads).run(closed, _on_loop(1))
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_loop_that_refuses_the_task_answers_the_waiting_thread(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads
) -> None:
    def refuses(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
        raise RuntimeError("no more tasks")

    loop.call_soon_threadsafe(loop.set_task_factory, refuses)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="no more tasks"):  # rather than waiting forever
            LoopWait(threads).run(loop, _on_loop(1))
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


# -- the waiting thread sleeps on the loop's CPU -------------------------------------------------

pinning = pytest.mark.skipif(
    task_threads._cpu() is None, reason="threads cannot be pinned to CPUs here"
)


@pinning
def test_the_waiting_thread_sleeps_on_the_loop_s_cpu_and_wakes_with_its_own(
    loop: asyncio.AbstractEventLoop,
    threads: TaskThreads,
    affinity_steps: list[tuple[str, int, set[int]]],
) -> None:
    everywhere = os.sched_getaffinity(0)
    steps = affinity_steps
    for _ in range(3):
        LoopWait(threads).run(loop, _on_loop(None))
        steps.append(("after", threading.get_native_id(), os.sched_getaffinity(0)))
    me = threading.get_native_id()
    for i in range(3):  # each wait: the loop pins this thread, which takes back its CPUs as it
        pin, own, after = steps[3 * i : 3 * i + 3]  # wakes, before its code goes on
        assert pin[0] == "pin" and pin[1] == me and len(pin[2]) == 1 and pin[2] <= everywhere
        assert own == ("own", 0, everywhere)
        assert after == ("after", me, everywhere)


@pinning
def test_a_def_job_s_code_runs_on_all_of_its_cpus_between_calls(
    sqlite_url: str, clock: TestClock, pinned: list[int]
) -> None:
    everywhere = os.sched_getaffinity(0)
    client = runio.Client("test-app", database_url=sqlite_url, clock=clock)
    seen: list[tuple[int, set[int]]] = []

    @client.define_job(id="sync-job", trigger=runio.event_trigger("sync-job"))
    def sync_job(payload: object, io: runio.SyncIO) -> int:
        total = 0
        for i in range(3):
            total += io.run_task(f"step-{i}", lambda task: 1)
            seen.append((threading.get_native_id(), os.sched_getaffinity(0)))
        return total

    try:
        run_id = client.send_event("sync-job").run_ids[0]
        client.run_worker(until_idle=True)
        assert client.get_run(run_id).output == 3
    finally:
        client.close()
    job_thread = seen[0][0]
    assert seen == [(job_thread, everywhere)] * 3
    assert job_thread in pinned  # it slept on the loop's CPU while it waited


def test_a_wait_that_may_not_be_pinned_works_unpinned_and_stops_the_pinning(
    loop: asyncio.AbstractEventLoop, pins_refused: list[int]
) -> None:
    tries = pins_refused
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    try:
        values = [LoopWait(pool).run(loop, _on_loop(n))[0] for n in range(3)]
    finally:
        pool.shutdown(wait=True)
    assert values == [0, 1, 2]
    # refused once; the thread, woken for that call, set its CPUs as they were (a pin might
    # have gone through before the refusal), and no wait of this worker was pinned again
    assert len(tries) == 2 and tries[0] != 0 and tries[1] == 0
    assert not pool.pins


def test_cpus_not_taken_back_say_so_and_stop_the_pinning(
    loop: asyncio.AbstractEventLoop,
    restores_refused: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    try:
        with caplog.at_level("WARNING", logger="runio.worker"):
            values = [LoopWait(pool).run(loop, _on_loop(n))[0] for n in range(3)]
            # a lane of this worker is not pinned either, from now on
            assert pool.call_quick(lambda arg: arg, "lane", wait=30) == (True, "lane")
    finally:
        pool.shutdown(wait=True)
    assert values == [0, 1, 2]  # every call came back
    assert len(restores_refused) == 1 and not pool.pins  # after the first, nothing was pinned
    assert "a thread waiting for the event loop could not take back its CPUs" in caplog.text


class _Interrupted(Exception):
    """Raised in a waiting thread from outside: a signal handler's, or a timeout library's
    ``PyThreadState_SetAsyncExc``."""


def _settled(loop: asyncio.AbstractEventLoop) -> None:
    """Return once the loop has run what was ready (a coroutine's end and its wake-up)."""
    for _ in range(3):
        LoopWait(None).run(loop, asyncio.sleep(0))


@pinning
def test_a_thread_interrupted_as_it_wakes_takes_its_cpus_back_first(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads
) -> None:
    """An exception set for the thread while it sleeps fires as it wakes, pinned: its handler,
    and what the thread does next, still run on all of its CPUs."""
    everywhere = os.sched_getaffinity(0)
    release = asyncio.Event()
    seen: dict[str, Any] = {}

    def waits() -> None:
        try:
            LoopWait(threads).run(loop, release.wait())
        except _Interrupted:
            seen["handler"] = os.sched_getaffinity(0)
        child = threading.Thread(target=lambda: seen.update(child=os.sched_getaffinity(0)))
        child.start()
        child.join(30)

    waiting = threading.Thread(target=waits)
    waiting.start()
    _settled(loop)  # the thread's call has started: it sleeps on its lock
    assert waiting.ident is not None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(waiting.ident), ctypes.py_object(_Interrupted)
    )
    loop.call_soon_threadsafe(release.set)  # the call ends: the loop pins and wakes the thread
    waiting.join(30)
    assert seen == {"handler": everywhere, "child": everywhere}


@pinning
def test_a_thread_that_stopped_waiting_is_not_pinned_when_its_call_ends_later(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads, pinned: list[int]
) -> None:
    """The main thread waiting, a signal handler raising meanwhile: it leaves ``run`` before
    the call ends, and the loop's thread, ending the call, leaves it alone."""
    everywhere = os.sched_getaffinity(0)

    def interrupt(signum: int, frame: Any) -> None:
        raise _Interrupted

    release = asyncio.Event()
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(_Interrupted):
            LoopWait(threads).run(loop, release.wait())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    loop.call_soon_threadsafe(release.set)
    _settled(loop)
    assert threading.get_native_id() not in pinned
    assert os.sched_getaffinity(0) == everywhere


def test_an_interrupt_from_a_task_run_at_once_wakes_the_thread_once_and_stops_the_loop(
    threads: TaskThreads, caplog: pytest.LogCaptureFixture
) -> None:
    """A task factory that runs the coroutine at once (as Python 3.12's eager tasks do): a
    KeyboardInterrupt it raises reaches the waiting thread and stops the loop, as one raised in
    any task does, and nothing else is reported."""

    def at_once(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
        future = loop.create_future()
        try:
            coro.send(None)
        except StopIteration as done:
            future.set_result(done.value)
            return future
        raise AssertionError("the coroutine was expected to end at once")

    async def interrupts() -> None:
        raise KeyboardInterrupt

    loop = asyncio.new_event_loop()
    loop.set_task_factory(at_once)
    stopped: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_forever()
        except BaseException as exc:
            stopped.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert LoopWait(threads).run(loop, _on_loop(1))[0] == 1
        with caplog.at_level("ERROR"), pytest.raises(KeyboardInterrupt):
            LoopWait(threads).run(loop, interrupts())
        thread.join(30)
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
        loop.close()
    assert [type(exc) for exc in stopped] == [KeyboardInterrupt]
    gc.collect()
    assert "never retrieved" not in caplog.text


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="open files are not listed here")
def test_errors_kept_after_their_calls_keep_no_file_open(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads
) -> None:
    async def fails(n: int) -> None:
        raise ValueError(n)

    kept: list[BaseException] = []
    before = len(os.listdir("/proc/self/fd"))
    for n in range(50):
        try:
            LoopWait(threads).run(loop, fails(n))
        except ValueError as exc:
            kept.append(exc)  # its traceback holds the wait
    assert len(os.listdir("/proc/self/fd")) - before < 5
    assert len(kept) == 50


def test_a_task_canceled_before_its_first_step_still_answers_the_waiting_thread(
    loop: asyncio.AbstractEventLoop, threads: TaskThreads, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = loop.call_soon_threadsafe

    def then_cancel(callback: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real(callback, *args, **kwargs)  # LoopWait's start: it creates the task...
        real(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])  # ...canceled at once
        return handle

    monkeypatch.setattr(loop, "call_soon_threadsafe", then_cancel)
    ran: list[bool] = []

    async def never_started() -> None:
        ran.append(True)

    with pytest.raises(concurrent.futures.CancelledError):
        LoopWait(threads).run(loop, never_started())
    assert ran == []
