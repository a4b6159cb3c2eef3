"""The task threads' quick lane: a plain task function the event loop waits for, blocked.

What it must keep from the pool it stands beside: the call runs in another thread, its result or
its error comes back to the caller, a call that outlasts the wait goes on and answers through a
future, every call in progress is counted, and shutting down ends the lane's thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from typing import Any

import pytest

from runio import _task_threads as task_threads
from runio._task_threads import TaskThreads


def test_a_quick_call_runs_in_the_lane_and_returns_its_result(threads: TaskThreads) -> None:
    def where(arg: Any) -> tuple[Any, int]:
        return arg, threading.get_ident()

    first = threads.call_quick(where, "a", wait=30)
    second = threads.call_quick(where, "b", wait=30)
    assert first[0] and second[0]
    assert first[1][0] == "a" and second[1][0] == "b"
    lane = first[1][1]
    assert lane != threading.get_ident()
    assert second[1][1] == lane  # the same thread serves call after call
    assert threads.running == 0


def test_what_the_function_raises_is_raised_to_the_caller(threads: TaskThreads) -> None:
    error = ValueError("no such customer")

    def fails(arg: Any) -> None:
        raise error

    with pytest.raises(ValueError) as caught:
        threads.call_quick(fails, None, wait=30)
    assert caught.value is error
    assert threads.call_quick(lambda arg: arg * 2, 21, wait=30) == (True, 42)  # the lane goes on


def test_a_call_outlasting_the_wait_answers_through_a_future_and_a_new_lane_takes_over(
    threads: TaskThreads,
) -> None:
    release = threading.Event()
    running = threading.Event()
    slow_thread: list[threading.Thread] = []

    def slow(arg: Any) -> str:
        slow_thread.append(threading.current_thread())
        running.set()
        assert release.wait(timeout=30)
        return f"slow {arg}"

    done, future = threads.call_quick(slow, 1, wait=0.01)
    assert not done
    assert running.wait(timeout=30)
    assert threads.running == 1  # counted while it goes on
    assert not future.done()

    # the next quick call does not wait behind it: another lane serves it
    done, value = threads.call_quick(lambda arg: threading.current_thread(), None, wait=30)
    assert done
    assert value is not slow_thread[0]

    release.set()
    assert future.result(timeout=30) == "slow 1"
    slow_thread[0].join(timeout=30)
    assert not slow_thread[0].is_alive()  # it answered, then ended
    assert threads.running == 0


def test_the_future_of_a_call_outlasting_the_wait_cannot_be_cancelled(
    threads: TaskThreads,
) -> None:
    """As the pool's: it is already running, so cancelling it (as asyncio does to a future it
    awaits when its task is cancelled) fails, and the call still delivers its outcome."""
    release = threading.Event()
    done, future = threads.call_quick(lambda arg: release.wait(timeout=30), None, wait=0.01)
    assert not done
    assert future.running()
    assert not future.cancel()
    release.set()
    assert future.result(timeout=30) is True


def test_a_base_exception_from_the_function_reaches_the_caller(threads: TaskThreads) -> None:
    class Stop(BaseException):
        pass

    def stops(arg: Any) -> None:
        raise Stop()

    with pytest.raises(Stop):
        threads.call_quick(stops, None, wait=30)
    assert threads.call_quick(lambda arg: arg, "still serving", wait=30) == (True, "still serving")


def test_an_idle_lane_keeps_nothing_of_its_last_call(threads: TaskThreads) -> None:
    class Thing:
        made: Thing | None = None

    def fails(arg: Any) -> None:
        local = Thing()
        kept.append(weakref.ref(local))
        raise ValueError("with a local in its traceback")

    kept: list[weakref.ref[Thing]] = []
    arg, result = Thing(), Thing()
    kept += [weakref.ref(arg), weakref.ref(result)]
    arg.made = result
    assert threads.call_quick(lambda a: a.made, arg, wait=30) == (True, result)
    with pytest.raises(ValueError):
        threads.call_quick(fails, None, wait=30)
    del arg, result
    assert [ref() for ref in kept] == [None, None, None]


def test_an_error_after_the_wait_reaches_the_future(threads: TaskThreads) -> None:
    release = threading.Event()

    def slow_failure(arg: Any) -> None:
        assert release.wait(timeout=30)
        raise ConnectionError("the vendor hung up")

    done, future = threads.call_quick(slow_failure, None, wait=0.01)
    assert not done
    release.set()
    with pytest.raises(ConnectionError, match="hung up"):
        future.result(timeout=30)


@pytest.fixture
def lane(threads: TaskThreads) -> Any:
    """The pool's quick lane, there after a first call."""
    threads.call_quick(lambda arg: None, None, wait=30)
    assert threads._lane is not None
    return threads._lane


class _LateBell:
    """Stands in for the lane's "done" bell: its first timed wait reports a timeout only once
    the lane has handed the outcome over, as when a call ends just as the wait runs out."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._handed_over = threading.Event()
        self._timed_out_once = False

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and not self._timed_out_once:
            self._timed_out_once = True
            assert self._handed_over.wait(timeout=30)
            return False
        return bool(self._real.wait(timeout))

    def ring(self) -> None:
        self._real.ring()
        self._handed_over.set()


def test_a_call_ending_just_as_the_wait_runs_out_is_answered_directly(
    threads: TaskThreads, lane: Any
) -> None:
    lane._done = _LateBell(lane._done)  # type: ignore[assignment]

    assert threads.call_quick(lambda arg: "in time after all", None, wait=30) == (
        True,
        "in time after all",
    )
    assert threads._lane is lane and not lane.retired  # still the lane for the next call
    assert threads.call_quick(lambda arg: arg, 7, wait=30) == (True, 7)


class _Interrupted(BaseException):
    """What a signal handler raising in the waiting thread (a second Ctrl-C) looks like."""


class _InterruptingBell:
    """Stands in for the lane's "done" bell: the caller's first wait (a look, when the lane is
    pinned, or the timed wait) is interrupted while the call still runs, once it has answered,
    or just after taking the answer."""

    def __init__(self, real: Any, *, when: str, handed_over: threading.Event) -> None:
        self._real = real
        self._when = when
        self._handed_over = handed_over
        self._interrupted = False

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and not self._interrupted:
            self._interrupted = True
            if self._when != "while running":
                assert self._handed_over.wait(timeout=30)
            if self._when == "after taking the answer":
                assert self._real.wait()
            raise _Interrupted()
        return bool(self._real.wait(timeout))

    def ring(self) -> None:
        self._real.ring()
        self._handed_over.set()


@pytest.mark.parametrize("when", ["while running", "after the answer", "after taking the answer"])
def test_a_caller_interrupted_while_waiting_leaves_the_next_call_its_own_answer(
    threads: TaskThreads, lane: Any, when: str
) -> None:
    handed_over = threading.Event()
    lane._done = _InterruptingBell(  # type: ignore[assignment]
        lane._done, when=when, handed_over=handed_over
    )
    release = threading.Event()

    def first(arg: Any) -> str:
        assert when != "while running" or release.wait(timeout=30)
        return "first"

    with pytest.raises(_Interrupted):
        threads.call_quick(first, None, wait=30)
    assert threads.call_quick(lambda arg: "second", None, wait=30) == (True, "second")
    assert threads.call_quick(lambda arg: "third", None, wait=30) == (True, "third")
    # interrupted before the answer, the lane was retired (its call ends unheard); after it,
    # the answer was dropped and the lane serves on
    assert (threads._lane is lane) is (when != "while running")
    release.set()


def test_shutdown_ends_the_lane_and_refuses_new_calls() -> None:
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    done, lane_thread = pool.call_quick(lambda arg: threading.current_thread(), None, wait=30)
    assert done
    pool.shutdown(wait=True)
    lane_thread.join(timeout=30)
    assert not lane_thread.is_alive()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.call_quick(lambda arg: arg, 1, wait=30)


# -- the lane's thread sleeps on the caller's CPU, and runs calls on all of its CPUs ---------------

pinning = pytest.mark.skipif(
    task_threads._cpu() is None, reason="threads cannot be pinned to CPUs here"
)


@pinning
def test_the_lane_sleeps_on_the_caller_s_cpu_and_runs_each_call_on_all_of_them(
    threads: TaskThreads, affinity_steps: list[tuple[str, int, set[int]]]
) -> None:
    everywhere = os.sched_getaffinity(0)
    steps = affinity_steps

    def where(arg: Any) -> set[int]:
        steps.append(("call", threading.get_native_id(), os.sched_getaffinity(0)))
        return os.sched_getaffinity(0)

    for _ in range(3):
        assert threads.call_quick(where, None, wait=30) == (True, everywhere)
    lane = steps[2][1]
    for i in range(3):  # each call: the caller pins the sleeping thread, which takes back its
        pin, own, call = steps[3 * i : 3 * i + 3]  # CPUs as it wakes, then runs the call
        assert pin[0] == "pin" and pin[1] == lane and len(pin[2]) == 1 and pin[2] <= everywhere
        assert own == ("own", 0, everywhere)
        assert call == ("call", lane, everywhere)


@pinning
@pytest.mark.parametrize("pins", [True, False], ids=["pinned", "unpinned"])
def test_the_caller_gives_its_cpu_to_the_pinned_lane_it_woke(
    threads: TaskThreads, monkeypatch: pytest.MonkeyPatch, pins: bool
) -> None:
    """Having rung a pinned lane, the caller finds no outcome yet and yields its CPU, so the
    woken thread runs there at once; an unpinned lane runs on another CPU: no yield."""
    threads.pins = pins
    caller = threading.get_native_id()
    yielded = threading.Event()
    yields: list[int] = []
    real = os.sched_yield

    def recorded() -> None:
        yields.append(threading.get_native_id())
        yielded.set()
        real()

    monkeypatch.setattr(os, "sched_yield", recorded)
    wait_for_yield = 10 if pins else 0  # unpinned: whether any yield came before the call ends
    done, saw_yield = threads.call_quick(lambda arg: yielded.wait(wait_for_yield), None, wait=30)
    assert done
    assert saw_yield is pins and yields == ([caller] if pins else [])


@pinning
def test_threads_and_processes_a_call_starts_get_all_of_the_cpus(threads: TaskThreads) -> None:
    everywhere = os.sched_getaffinity(0)

    def starts(arg: Any) -> tuple[set[int], set[int]]:
        seen: list[set[int]] = []
        thread = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        thread.start()
        thread.join(30)
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return seen[0], set(json.loads(child.stdout))

    for _ in range(2):
        done, (in_thread, in_child) = threads.call_quick(starts, None, wait=30)
        assert done, "the call outlasted a 30 s wait"
        assert in_thread == everywhere and in_child == everywhere


def test_a_lane_that_may_not_be_pinned_works_unpinned_and_stops_trying(
    pins_refused: list[int],
) -> None:
    tries = pins_refused
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    try:
        calls = [pool.call_quick(lambda arg: arg + 1, n, wait=30) for n in range(3)]
    finally:
        pool.shutdown(wait=True)
    assert calls == [(True, 1), (True, 2), (True, 3)]
    # refused once, and not asked again for this lane (the thread, woken for that first call,
    # set its CPUs as they were: a pin might have gone through before the refusal)
    assert len(tries) == 2 and tries[0] != 0 and tries[1] == 0


@pinning
def test_a_caller_interrupted_just_after_pinning_leaves_the_next_call_unpinned(
    threads: TaskThreads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal handler raising in the caller right after it pinned the sleeping thread: the
    thread still takes its CPUs back when the next call wakes it, even if that call's pin is
    refused."""
    everywhere = os.sched_getaffinity(0)
    real = os.sched_setaffinity
    pins: list[str] = []

    def interrupted_then_refused(tid: int, cpus: Any) -> None:
        if tid == 0:
            real(tid, cpus)  # the thread taking its CPUs back
        elif not pins:
            pins.append("pinned")
            real(tid, cpus)
            raise KeyboardInterrupt
        else:
            pins.append("refused")
            raise PermissionError("not allowed here")

    monkeypatch.setattr(os, "sched_setaffinity", interrupted_then_refused)
    with pytest.raises(KeyboardInterrupt):
        threads.call_quick(lambda arg: arg, None, wait=30)
    assert threads.call_quick(lambda arg: os.sched_getaffinity(0), None, wait=30) == (
        True,
        everywhere,
    )
    assert pins == ["pinned", "refused"]


def test_cpus_not_taken_back_run_the_call_say_so_and_stop_the_pinning(
    restores_refused: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    try:
        with caplog.at_level("WARNING", logger="runio.worker"):
            calls = [pool.call_quick(lambda arg: arg * 2, n, wait=30) for n in range(3)]
    finally:
        pool.shutdown(wait=True)
    assert calls == [(True, 0), (True, 2), (True, 4)]  # every call ran
    assert len(restores_refused) == 1 and not pool.pins  # after the first, none was pinned
    assert "could not take back its CPUs" in caplog.text


# -- the bells the lane's hand-offs go through -----------------------------------------------------


@pytest.fixture(params=["eventfd", "lock"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way a bell is made: an eventfd (Linux), and the lock used where there is none."""
    if request.param == "eventfd" and not task_threads._EVENTFD:
        pytest.skip("no eventfds here")
    if request.param == "lock":
        monkeypatch.setattr(task_threads, "_EVENTFD", False)

        def no_eventfd(*args: Any) -> int:
            raise AssertionError("an eventfd was made where there are none")

        monkeypatch.setattr(os, "eventfd", no_eventfd, raising=False)
    return str(request.param)


@pytest.mark.parametrize("blocking", [True, False])
def test_a_bell_wakes_its_waiter_once_per_ring(backend: str, blocking: bool) -> None:
    bell = task_threads._Bell(blocking=blocking)
    if not blocking:
        assert bell.wait(0) is False  # nothing rung: no wait
        assert bell.wait(0.01) is False
    bell.ring()
    assert bell.wait() is True  # rung before the wait: taken at once
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(bell.wait()))
    waiter.start()
    bell.ring()  # whether the waiter sleeps already or not
    waiter.join(30)
    assert woke == [True]
    if not blocking:
        assert bell.wait(0) is False  # each ring is taken once


def test_the_lane_and_loop_waits_work_on_either_kind_of_bell(backend: str) -> None:
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    loop = asyncio.new_event_loop()
    serving = threading.Thread(target=loop.run_forever, daemon=True)
    serving.start()
    release = threading.Event()

    def fails(arg: Any) -> None:
        raise ValueError(arg)

    async def on_loop() -> str:
        return "from the loop"

    try:
        assert pool.call_quick(lambda arg: arg * 2, 21, wait=30) == (True, 42)
        with pytest.raises(ValueError, match="bad"):
            pool.call_quick(fails, "bad", wait=30)
        done, future = pool.call_quick(lambda arg: release.wait(30) and arg, "late", wait=0.01)
        assert not done
        release.set()
        assert future.result(timeout=30) == "late"
        assert pool.call_quick(lambda arg: arg, "new lane", wait=30) == (True, "new lane")
        assert task_threads.LoopWait(pool).run(loop, on_loop()) == "from the loop"
    finally:
        pool.shutdown(wait=True)
        loop.call_soon_threadsafe(loop.stop)
        serving.join(30)
        loop.close()


def _on_signal(signum: int, frame: Any) -> None:
    """A signal handler that returns: the call it interrupted goes on."""


def _asleep(thread: threading.Thread) -> None:
    """Return once ``thread`` sleeps in the kernel (Linux's /proc tells)."""
    stat = f"/proc/self/task/{thread.native_id}/stat"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(stat) as f:  # "pid (name) state ...": the state follows the name's ")"
            if f.read().rpartition(")")[2].split()[0] == "S":
                return
        os.sched_yield()
    raise AssertionError(f"{thread.name} never went to sleep")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads are not listed here")
@pytest.mark.parametrize("blocking", [True, False])
def test_a_signal_to_a_waiting_thread_does_not_end_its_wait(backend: str, blocking: bool) -> None:
    bell = task_threads._Bell(blocking=blocking)
    woke: list[Any] = []

    def waits() -> None:
        try:
            woke.append(bell.wait())
        except BaseException as exc:  # what the test is about
            woke.append(exc)

    previous = signal.signal(signal.SIGUSR1, _on_signal)
    try:
        waiter = threading.Thread(target=waits)
        waiter.start()
        for _ in range(3):
            _asleep(waiter)  # in its wait
            assert waiter.ident is not None
            signal.pthread_kill(waiter.ident, signal.SIGUSR1)
        assert woke == []
        bell.ring()
        waiter.join(30)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert woke == [True]


def test_a_bell_rung_after_it_was_closed_does_nothing(backend: str) -> None:
    bell = task_threads._Bell(blocking=True)
    bell.close()
    bell.ring()  # as a wait abandoned, then collected, can be rung by the loop's thread late


def test_where_no_eventfd_can_be_made_the_bells_are_locks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(*args: Any) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "eventfd", refused, raising=False)
    pool = TaskThreads(max_workers=1, thread_name_prefix="t")
    try:
        assert pool.call_quick(lambda arg: arg + 1, 1, wait=30) == (True, 2)
    finally:
        pool.shutdown(wait=True)


def test_a_caller_interrupted_just_after_handing_a_call_over_leaves_the_next_its_own_answer(
    threads: TaskThreads, lane: Any
) -> None:

    class InterruptedAfterRinging:
        def __init__(self, real: Any) -> None:
            self.real = real

        def ring(self) -> None:
            self.real.ring()
            raise _Interrupted()

        def wait(self, timeout: float | None = None) -> bool:
            return bool(self.real.wait(timeout))

    real = lane._go
    lane._go = InterruptedAfterRinging(real)  # type: ignore[assignment]
    release, ran = threading.Event(), threading.Event()

    def first(arg: Any) -> str:
        assert release.wait(30)
        ran.set()
        return "first"

    with pytest.raises(_Interrupted):
        threads.call_quick(first, None, wait=30)
    lane._go = real
    assert lane.retired and threads._lane is lane
    assert threads.call_quick(lambda arg: "second", None, wait=30) == (True, "second")
    assert threads._lane is not lane
    release.set()
    assert ran.wait(30)  # the first call ran on, unheard


def test_in_a_forked_child_bells_made_before_stay_silent_and_pools_make_new_lanes(
    threads: TaskThreads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``os.register_at_fork`` runs in the child: the parent's threads are not woken
    through the eventfds the child shares with it."""
    threads.call_quick(lambda arg: None, None, wait=30)
    lane = threads._lane
    before = task_threads._Bell(blocking=False)
    monkeypatch.setattr(task_threads, "_pools", weakref.WeakSet([threads]))
    monkeypatch.setattr(task_threads, "_generation", task_threads._generation)
    task_threads._after_fork_in_child()
    assert threads._lane is None
    before.ring()
    assert before.wait(0) is (before._lock is not None)  # a lock is the child's own copy
    after = task_threads._Bell(blocking=False)
    after.ring()
    assert after.wait(0) is True
    assert threads.call_quick(lambda arg: arg, "new lane", wait=30) == (True, "new lane")
    assert threads._lane is not lane
