"""The queue of unawaited writes shared by the SQL stores (``storage._deferred``): a new task's
start is queued unbuilt and built only if it reaches the writer, in its place among the other
writes."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runio._records import Lease, NewTask
from runio.storage import _deferred
from runio.storage._deferred import DeferredWrites

pytestmark = pytest.mark.anyio

LEASE = Lease("run_1", "worker_1", 7)


def _task(n: int) -> NewTask:
    return NewTask(
        f"task_{n}",
        "run_1",
        None,
        f"key-{n}",
        f'"t{n}"',
        "task",
        f"t{n}",
        None,
        None,
        None,
        None,
        None,
        1,
        1_800_000_000.0 + n,
    )


class Writer:
    """Records what is handed over, and which starts were built."""

    def __init__(self) -> None:
        self.handed: list[list[object]] = []
        self.built: list[str] = []

    def submit(self, items: list[object]) -> None:
        self.handed.append(items)

    def make_start(self, lease: Lease, task: NewTask, started_at: float) -> object:
        self.built.append(task.id)
        return ("start", lease.run_id, task.id, started_at)


def test_a_start_is_built_only_when_handed_over_and_keeps_its_place() -> None:
    writer = Writer()
    queue = DeferredWrites(writer.submit, writer.make_start)
    queue.add("log before")  # outside an event loop: handed over at once
    queue.add_start(LEASE, _task(1), 10.0)  # likewise, built as it goes
    assert writer.handed == [["log before"], [("start", "run_1", "task_1", 10.0)]]
    assert writer.built == ["task_1"]


async def test_starts_withdrawn_are_never_built_and_the_others_go_in_order() -> None:
    writer = Writer()
    queue = DeferredWrites(writer.submit, writer.make_start)
    queue.add_start(LEASE, _task(1), 10.0)
    queue.add("log")
    queue.add_start(LEASE, _task(2), 11.0)
    assert not queue.empty
    assert queue.withdraw_start("task_2") == (_task(2), 11.0)
    assert queue.withdraw_start("task_2") is None  # taken already
    assert writer.built == []  # nothing built yet: all of it may still be withdrawn
    items = queue.take()
    assert items == [("start", "run_1", "task_1", 10.0), "log"]
    assert writer.built == ["task_1"]
    assert queue.empty
    assert queue.withdraw_start("task_1") is None  # handed over: too late to withdraw
    await asyncio.sleep(0)  # the flush scheduled by "log" finds nothing left
    assert writer.handed == []


async def test_each_held_start_waits_its_own_hold_from_when_it_was_queued() -> None:
    """With nothing but starts queued, a start goes to the writer once it has been held
    ``HOLD_STARTS``, not with an older one whose hold ends first: a task that ends within its
    own hold is never written as started, wherever its start falls among the others'."""
    hold = _deferred.HOLD_STARTS
    now = [100.0]  # the queue's clock, moved by hand (the hold's timer itself is the loop's)
    writer = Writer()
    handed = asyncio.Event()

    def submit(items: list[object]) -> None:
        writer.submit(items)
        handed.set()

    queue = DeferredWrites(submit, writer.make_start, monotonic=lambda: now[0])
    queue.add_start(LEASE, _task(1), 10.0)
    now[0] += hold * 0.75
    queue.add_start(LEASE, _task(2), 11.0)  # three quarters of a hold after the first
    now[0] += hold * 0.25  # the first one's hold is over, not the second one's
    await asyncio.wait_for(handed.wait(), 5)
    assert writer.handed == [[("start", "run_1", "task_1", 10.0)]]
    handed.clear()
    assert queue.withdraw_start("task_2") == (_task(2), 11.0)  # still held: its task ended
    assert queue.empty

    queue.add_start(LEASE, _task(3), 12.0)
    now[0] += hold  # its whole hold: it goes
    await asyncio.wait_for(handed.wait(), 5)
    assert writer.handed[1:] == [[("start", "run_1", "task_3", 12.0)]]
    assert writer.built == ["task_1", "task_3"]


def test_writes_are_handed_over_whole_before_another_thread_sees_the_queue() -> None:
    """A thread that flushes hands its writes over before any other thread can queue, withdraw
    or find the queue empty: a write made after them cannot overtake them on its way to the
    writer (an execution alone in its worker writes on its own thread when the queue is empty
    and nothing is pending)."""
    order: list[str] = []
    entered, release, trying = threading.Event(), threading.Event(), threading.Event()

    def slow_submit(items: list[object]) -> None:
        entered.set()
        release.wait(30)
        order.append("handed over")

    queue = DeferredWrites(slow_submit, Writer().make_start)
    flusher = threading.Thread(target=queue.add, args=("log",))  # no loop: flushed at once
    flusher.start()
    assert entered.wait(30)

    def look() -> None:
        trying.set()
        order.append(f"empty={queue.empty}")

    looker = threading.Thread(target=look)
    looker.start()
    assert trying.wait(30)
    release.set()
    flusher.join(30)
    looker.join(30)
    assert order == ["handed over", "empty=True"]
