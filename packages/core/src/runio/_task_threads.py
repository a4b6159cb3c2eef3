"""The threads synchronous job and task functions run in.

A plain task function runs outside the event loop's thread, so that a blocking call in it never
holds the loop. When the execution calling it is alone in its worker, the loop waits for it,
blocked, for up to a moment (``_execution.QUICK_CALL``) before it awaits the result as usual: a
function that only computes is back sooner than the loop could have done anything else.

That wait goes through a *lane*: one thread kept for it, handed the call through one lock and
handing the outcome back through another. The pool's ``submit`` builds a future, its condition,
a work item and a queue entry for each call; the lane builds nothing. A call that outlasts the
wait goes on in its lane's thread, which then answers through a future and ends; the next quick
call gets a new lane.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class TaskThreads(ThreadPoolExecutor):
    """The pool synchronous job and task functions run in, and its quick lane, counting the
    calls in progress in both (a call Python cannot interrupt outlives the worker when it is
    stopped by force)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lock = threading.Lock()
        self.running = 0
        self._lane: _Lane | None = None
        self._prefix = options.get("thread_name_prefix") or "runio-task"
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            with self._lock:
                self.running += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1

        return super().submit(counted)

    def call_quick(self, fn: Callable[..., Any], arg: Any, *, wait: float) -> tuple[bool, Any]:
        """Call ``fn(arg)`` in the lane's thread, waiting for it, blocked, up to ``wait``
        seconds. ``(True, result)`` if it returned by then (what it raised is raised here);
        else ``(False, future)``: the call goes on, and the future gets its outcome. Not
        thread-safe: one caller (the event loop's thread) uses it."""
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        lane = self._lane
        if lane is None or lane.retired:
            lane = self._lane = _Lane(self, f"{self._prefix}-quick")
        return lane.call(fn, arg, wait)

    def count(self, step: int) -> None:
        with self._lock:
            self.running += step

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


class _Lane:
    """One thread and two locks: ``_go`` hands it a call, ``_done`` hands the outcome back."""

    def __init__(self, owner: TaskThreads, name: str) -> None:
        self._owner = owner
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._state = threading.Lock()
        """Held to settle who answers a call that outlasts its wait: the outcome or the
        future."""
        self._call: tuple[Callable[..., Any], Any] | None = None
        self._outcome: tuple[bool, Any] | None = None
        self._future: concurrent.futures.Future[Any] | None = None
        self.retired = False
        """Its caller stopped waiting for a call: the thread answers it through the future and
        ends (set and read on the caller's thread only)."""
        threading.Thread(target=self._main, name=name, daemon=True).start()

    def call(self, fn: Callable[..., Any], arg: Any, wait: float) -> tuple[bool, Any]:
        self._call = (fn, arg)
        self._go.release()
        if not self._done.acquire(timeout=wait):
            with self._state:
                if self._outcome is None:  # still running: it answers through a future
                    self.retired = True
                    self._future = concurrent.futures.Future()
                    return False, self._future
            self._done.acquire()  # it finished just now: its release is there to take
        outcome, self._outcome = self._outcome, None
        assert outcome is not None
        ok, value = outcome
        if not ok:
            raise value
        return True, value

    def close(self) -> None:
        if not self.retired:
            self.retired = True
            self._call = None
            self._go.release()

    def _main(self) -> None:
        owner = self._owner
        while True:
            self._go.acquire()
            call, self._call = self._call, None
            if call is None:
                return
            fn, arg = call
            owner.count(1)
            try:
                outcome: tuple[bool, Any] = (True, fn(arg))
            except BaseException as exc:
                outcome = (False, exc)
            finally:
                owner.count(-1)
            with self._state:
                future = self._future
                if future is None:
                    self._outcome = outcome
                    self._done.release()
                    continue
            ok, value = outcome
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
            return
