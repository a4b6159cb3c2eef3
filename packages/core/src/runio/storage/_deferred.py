"""Writes nobody awaits, shared by the SQL stores: their queue, their withdrawal, their failures.

An executing run makes some writes without waiting for them (an attempt started, a wait over, log
lines). This module owns:

- the queue of such writes, handed to the store's writer with the run's next awaited write or at
  the event loop's next turn, whichever comes first (a task that finishes at once then costs one
  transaction, not two);
- the "new task started" writes not handed over yet, which the task's completion may withdraw
  (the store then inserts the finished task in one statement). When nothing but such starts is
  queued, each is held up to ``HOLD_STARTS`` seconds from its own queuing rather than one loop
  turn, so a task whose function runs in a thread or awaits briefly also costs a single
  transaction, however its start falls among the others' (one timer at a time, set again for
  the oldest start left); a crash within that time can lose the record that the attempt
  started (never a result);
- the executions whose unawaited write failed. A failure nobody awaited must still stop the run
  it belongs to: every later write of that execution (same lease) is refused with a
  ``StoreError`` naming the first failure, so the engine stops the run there and it resumes,
  from what is stored, in a later execution.

It knows nothing of SQL or connections: each store's writer calls ``failed`` and ``refusal``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from .._records import Lease, NewTask
from ..errors import StoreError

W = TypeVar("W")
_Start = tuple[Lease, NewTask, float, float]
"""A new task's start, queued unbuilt: the lease, the task, when it started (the run's clock)
and when it was queued (``time.monotonic``, what its hold is counted from)."""

HOLD_STARTS = 0.02
"""Seconds a "new task started" write may wait for its task's completion to withdraw it."""


class DeferredWrites(Generic[W]):
    """The unawaited writes of one store. ``submit`` hands a list of writes to the store's
    writer, to be applied in that order; it is called from the thread that flushes.
    ``make_start(lease, new_task, started_at)`` builds the write recording that a new task
    started: a start is queued as those three values and built only if it reaches the writer
    (most are withdrawn by their task's completion first)."""

    def __init__(
        self,
        submit: Callable[[list[W]], None],
        make_start: Callable[[Lease, NewTask, float], W],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._submit = submit
        self._make_start = make_start
        self._monotonic = monotonic
        """The clock starts are held by (a test's own, to hold them without waiting)."""
        self._lock = threading.RLock()
        """Held while writes are taken and, in ``flush``, handed over: a thread queuing,
        withdrawing or checking meanwhile waits, so writes reach the writer in the order they
        were made. Reentrant: the writer, applying them on the flushing thread, may record a
        failure here (``failed``)."""
        self._items: list[W | _Start] = []
        """The queue: writes, and new tasks' starts not built yet (``_Start``, a tuple: the
        writes themselves are never plain tuples)."""
        self._flush_scheduled_on: asyncio.AbstractEventLoop | None = None
        self._hold_scheduled_on: asyncio.AbstractEventLoop | None = None
        self._started: dict[str, _Start] = {}
        self._failed: dict[tuple[str, int], StoreError] = {}

    # -- the queue -------------------------------------------------------------------------------
    def add(self, item: W) -> None:
        """Queue a write nobody waits for."""
        self._queue(item, None)

    def add_start(self, lease: Lease, new_task: NewTask, started_at: float) -> None:
        """Queue the write recording that this new task started at ``started_at``
        (``withdraw_start`` may take it back)."""
        self._queue((lease, new_task, started_at, self._monotonic()), new_task.id)

    def _queue(self, item: W | _Start, started: str | None) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        hold = False
        with self._lock:
            self._items.append(item)
            if started is not None:
                self._started[started] = item  # type: ignore[assignment]
            if loop is not None and self._flush_scheduled_on is loop:
                return
            if loop is not None and len(self._started) == len(self._items):
                # only task starts are queued: hold them a little (see the module docstring)
                if self._hold_scheduled_on is loop:
                    return
                self._hold_scheduled_on = loop
                hold = True
            else:
                self._flush_scheduled_on = loop
        if loop is None:
            self.flush()
        elif hold:
            loop.call_later(HOLD_STARTS, self._flush_held)
        else:
            loop.call_soon(self.flush)

    @property
    def empty(self) -> bool:
        """Whether nothing is queued, nor being handed over by another thread."""
        with self._lock:
            return not self._items

    def _built(self, items: list[W | _Start]) -> list[W]:
        make = self._make_start
        return [
            make(item[0], item[1], item[2]) if type(item) is tuple else item  # type: ignore[misc]
            for item in items
        ]

    def take(self) -> list[W]:
        """Everything queued, in order, for an awaited write to carry before itself."""
        with self._lock:
            items, self._items = self._items, []
            self._started.clear()
        return self._built(items) if items else []

    def _flush_held(self) -> None:
        """The hold's timer: hand over the starts queued ``HOLD_STARTS`` ago or more. When
        nothing but starts is queued, the younger ones stay, each until its own hold is over
        (the timer is set again for the oldest of them); else everything goes, as ``flush``."""
        loop: asyncio.AbstractEventLoop | None = None
        with self._lock:
            self._hold_scheduled_on = None
            items = self._items
            if items and len(self._started) == len(items):
                hold = HOLD_STARTS  # read here: a test app may change it
                now = self._monotonic()
                due = 0
                for item in items:  # in the order queued: the oldest first
                    if item[3] + hold > now:  # type: ignore[index]
                        break
                    due += 1
                if due < len(items):
                    going, self._items = items[:due], items[due:]
                    for item in going:
                        del self._started[item[1].id]  # type: ignore[index]
                    if going:
                        self._submit(self._built(going))
                    loop = self._hold_scheduled_on = asyncio.get_running_loop()
                    wait = items[due][3] + hold - now  # type: ignore[index]
        if loop is not None:
            loop.call_later(wait, self._flush_held)
            return
        self.flush()

    def flush(self) -> None:
        """Hand everything queued to the writer now."""
        with self._lock:
            items, self._items = self._items, []
            self._flush_scheduled_on = None
            self._started.clear()
            if items:
                self._submit(self._built(items))

    def withdraw_start(self, task_id: str) -> tuple[NewTask, float] | None:
        """If the "started" write of this new task has not reached the writer yet, take it back
        and return the task and its start time: its completion then inserts it finished."""
        with self._lock:
            entry = self._started.pop(task_id, None)
            if entry is None:
                return None
            items = self._items
            for i in range(len(items) - 1, -1, -1):
                if items[i] is entry:
                    del items[i]
                    return entry[1], entry[2]
            return None

    # -- failures --------------------------------------------------------------------------------
    def failed(self, lease: Lease, error: BaseException) -> None:
        """An unawaited write of this execution failed: refuse its later writes (the first
        failure is the one reported)."""
        key = (lease.run_id, lease.token)
        with self._lock:
            if key in self._failed:
                return
            self._failed[key] = StoreError(
                f"An earlier write of run {lease.run_id} failed ({error}), so this execution "
                "stopped there; the run resumes from what is stored."
            )

    @property
    def any_failed(self) -> bool:
        """Whether some execution has a failed write (the writers' cheap check)."""
        return bool(self._failed)

    def refusal(self, lease: Lease | None) -> StoreError | None:
        """The error to refuse a write of this execution with, if one of its writes failed."""
        if lease is None or not self._failed:
            return None
        with self._lock:
            return self._failed.get((lease.run_id, lease.token))

    def forget(self, lease: Lease) -> None:
        """The execution is over (its run released or its lease gone): drop its failure."""
        if self._failed:
            with self._lock:
                self._failed.pop((lease.run_id, lease.token), None)
