"""The threads synchronous job and task functions run in.

A plain task function runs outside the event loop's thread, so that a blocking call in it never
holds the loop. When the execution calling it is alone in its worker, the loop waits for it,
blocked, for up to a moment (``_execution.QUICK_CALL``) before it awaits the result as usual: a
function that only computes is back sooner than the loop could have done anything else.

That wait goes through a *lane*: one thread kept for it, handed the call through one bell and
handing the outcome back through another (``_Bell``: an eventfd on Linux, whose ring gives up
the GIL before it wakes the other thread; a lock elsewhere), where the pool's ``submit`` builds
a future with its condition, a work item and a queue entry for each call. A call that outlasts
the wait goes on in its lane's thread, which then answers through a future (already running, so
it cannot be cancelled, as the pool's) and ends; the next quick call gets a new lane. So does
the next call after the caller was interrupted while it waited (a signal handler raising in the
loop's thread): that lane finishes its call unheard.

Where the system allows it (Linux), a lane's thread sleeps on the caller's CPU: before handing a
call over, the caller pins the sleeping thread to the CPU it runs on itself, so the thread wakes
there, and the thread takes the caller's CPUs (as they were at the hand-off) back first thing as
it wakes, before it runs anything. The caller only waits meanwhile, so nothing is lost by
sharing a CPU, and the hand-off becomes a switch between two threads on one CPU instead of a
wake-up of another CPU and back: on a virtual machine, with eventfds, about 15 µs a round trip
(two thread switches), against 25 through locks (five: each woken thread first finds the GIL
held) and 60 with the threads on different CPUs.
Having rung, the caller gives its CPU up (``sched_yield``) unless the outcome is there already:
the woken thread, waiting for that CPU, runs at once, where the caller would otherwise first go
to sleep in its wait, to be woken again as the outcome comes (a quick call in a tight loop: 15 µs
a call instead of 21; a plain task function at ``synchronous=full``: about 14 µs less CPU a task).
The function never runs pinned, so the threads and processes it starts get the CPUs they would
get without the lane. (Should the CPUs not be taken back, the call runs on one CPU, a warning
says so, and the worker pins no thread again.)

The same holds the other way round, for a thread that waits for the event loop: synchronous job
code (``io.sync``, a ``def`` job's ``io``) blocks its thread while the loop runs each call
(``LoopWait``), and so does a client's sync method (``_portal``). The loop pins the waiting thread
to its own CPU just before it wakes it, and the thread takes its CPUs back first thing as it wakes,
before it returns to the caller's code. A ``def`` job's plain task function thus crosses from the
job's thread to the loop, to the lane and back on one CPU: about 1.6 times as fast as with a
wake-up of another CPU at each crossing. (Each wait has a bell of its own: one that stopped waiting
early never leaves a ring behind.)

Lane threads are daemon threads: at interpreter exit, a call still running in one (it outlasted
its wait, and the worker has stopped) is not waited for, as a crash would not wait for it; the
run resumes from what is stored. The pool's threads are waited for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import select
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger("runio.worker")
T = TypeVar("T")


def _cpu_reader() -> Callable[[], int] | None:
    """``sched_getcpu()`` (the CPU the calling thread runs on), where threads can be pinned to
    CPUs (Linux); else None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        import ctypes

        getcpu = ctypes.CDLL(None, use_errno=True).sched_getcpu
        getcpu.restype = ctypes.c_int
        getcpu.argtypes = ()
        if getcpu() < 0:
            return None
    except (OSError, AttributeError):
        return None
    return getcpu


_UNREAD: Any = object()
_current_cpu: Any = _UNREAD
"""``sched_getcpu`` (or None), looked up when the first pool is made."""


def _cpu() -> Callable[[], int] | None:
    global _current_cpu
    if _current_cpu is _UNREAD:
        _current_cpu = _cpu_reader()
    return _current_cpu  # type: ignore[no-any-return]


def _as_range(cpus: set[int]) -> range | frozenset[int]:
    """``cpus`` as a range when they are consecutive (most often): iterating a range allocates
    nothing the garbage collector tracks, so restoring them cannot start a collection (and run
    finalizers) on a thread still pinned."""
    low, high = min(cpus), max(cpus)
    return range(low, high + 1) if high - low + 1 == len(cpus) else frozenset(cpus)


class PinSwitch:
    """Whether threads may be pinned to another thread's CPU (``LoopWait``): where the system
    allows it (Linux), until a pin cannot be undone; then no thread is pinned again."""

    __slots__ = ("pins",)

    def __init__(self) -> None:
        self.pins = _cpu() is not None


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
        self.pins = _cpu() is not None
        """Whether lanes sleep on their caller's CPU (Linux; until a pin cannot be undone)."""
        _pools.add(self)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            self.count(1)
            try:
                return fn(*args, **kwargs)
            finally:
                self.count(-1)

        return super().submit(counted)

    def call_quick(self, fn: Callable[..., Any], /, *args: Any, wait: float) -> tuple[bool, Any]:
        """Call ``fn(*args)`` in the lane's thread, waiting for it, blocked, up to ``wait``
        seconds. ``(True, result)`` if it returned by then (what it raised is raised here);
        else ``(False, future)``: the call goes on, and the future gets its outcome. Not
        thread-safe: one caller (the event loop's thread) uses it."""
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        lane = self._lane
        if lane is None or lane.retired:
            lane = self._lane = _Lane(self, f"{self._prefix}-quick")
        return lane.call(fn, args, wait)

    def count(self, step: int) -> None:
        with self._lock:
            self.running += step

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


_EVENTFD = hasattr(os, "eventfd")
_ONE = (1).to_bytes(8, sys.byteorder)
"""What ringing writes to an eventfd (its counter is a native 8-byte integer)."""
_generation = 0
"""Bumped in a child process made by ``fork``: the bells made before are its parent's."""
_pools: weakref.WeakSet[TaskThreads] = weakref.WeakSet()


class _Bell:
    """One thread rings, another waits for the ring; rings not yet taken count as one.

    Where the system has eventfds (Linux) the ring is one: ``os.write`` gives up the GIL before
    it wakes the waiter, which then runs at once. (A lock's ``release`` keeps the GIL: the
    waiter, woken on the ringer's CPU, finds it held and sleeps again, and the ringer wakes it
    a second time when it lets go: twice the thread switches.) Elsewhere, or when no eventfd
    can be made (no descriptors left, or not allowed), a lock. ``blocking``: waits are long
    (the waiter sleeps at once); else the ring is usually there already when the waiter looks.
    ``os.read`` and ``os.write`` go on when a signal interrupts them, as a lock's wait does.
    The eventfd is closed by ``close``, or when the bell is collected; in a child made by
    ``fork``, a bell made before it no longer rings (the eventfd is its parent's too)."""

    __slots__ = ("_fd", "_generation", "_lock", "_poll")

    def __init__(self, *, blocking: bool) -> None:
        self._fd = -1
        self._generation = _generation
        self._lock: threading.Lock | None = None
        self._poll: Any = None
        if _EVENTFD:
            flags = os.EFD_CLOEXEC if blocking else os.EFD_CLOEXEC | os.EFD_NONBLOCK
            try:
                self._fd = os.eventfd(0, flags)
            except OSError:
                self._fd = -1
        if self._fd < 0:
            self._lock = threading.Lock()
            self._lock.acquire()
        elif not blocking:
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)

    def ring(self) -> None:
        lock = self._lock
        if lock is not None:
            with contextlib.suppress(RuntimeError):  # rung already, not yet taken
                lock.release()
        elif self._fd >= 0 and self._generation == _generation:
            os.write(self._fd, _ONE)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the ring (``timeout`` seconds at most) and take it; False if none came."""
        lock = self._lock
        if lock is not None:
            return lock.acquire(timeout=-1 if timeout is None else max(timeout, 0))
        if self._poll is None:  # a blocking eventfd
            if timeout is not None:
                raise ValueError("a blocking bell waits without a timeout")
            os.read(self._fd, 8)
            return True
        try:
            os.read(self._fd, 8)
            return True
        except BlockingIOError:
            if timeout is not None and timeout <= 0:
                return False
        if not self._poll.poll(None if timeout is None else math.ceil(timeout * 1000)):
            return False
        os.read(self._fd, 8)
        return True

    def close(self) -> None:
        """Close the eventfd now: nobody rings or waits any more."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self, _close: Callable[[int], None] = os.close) -> None:
        if self._fd >= 0:
            _close(self._fd)
            self._fd = -1


def _after_fork_in_child() -> None:
    """The lanes' threads, and the threads waiting for the event loop, are the parent's: bells
    made before stop ringing (they would wake the parent's threads) and pools make new lanes."""
    global _generation
    _generation += 1
    for pool in list(_pools):
        pool._lane = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Lane:
    """One thread and two bells: ``_go`` hands it a call, ``_done`` hands the outcome back."""

    def __init__(self, owner: TaskThreads, name: str) -> None:
        self._owner = owner
        self._go = _Bell(blocking=True)
        self._done = _Bell(blocking=False)
        self._state = threading.Lock()
        """Held to settle who answers a call that outlasts its wait: the outcome or the
        future."""
        self._call: tuple[Callable[..., Any], tuple[Any, ...]] | None = None
        self._outcome: tuple[bool, Any] | None = None
        self._future: concurrent.futures.Future[Any] | None = None
        self.retired = False
        """Its caller stopped waiting for a call: the thread answers it through the future and
        ends (set and read on the caller's thread only)."""
        thread = threading.Thread(target=self._main, name=name, daemon=True)
        thread.start()
        self._tid = thread.native_id or 0
        self._pins = owner.pins and self._tid > 0
        """Whether the caller pins the sleeping thread to its CPU before a hand-off."""
        self._pinned = False
        """Set by the caller before it pins the thread for a call: the thread then takes back
        ``_cpus`` first thing as it wakes."""
        self._seen: set[int] = set()
        self._cpus: range | frozenset[int] = range(0)
        """The caller's CPUs when it last handed a call over: what the call runs on."""

    def _sleep_on_this_cpu(self) -> None:
        """(The caller, before handing a call over.) Pin the sleeping thread to this CPU."""
        cpus = os.sched_getaffinity(0)
        if cpus != self._seen:
            self._seen, self._cpus = cpus, _as_range(cpus)
        cpu = _current_cpu()
        if cpu < 0:
            return
        self._pinned = True  # first: were this interrupted after the pin, the thread still knows
        try:
            os.sched_setaffinity(self._tid, {cpu})
        except OSError as exc:  # not allowed here: the lane goes on unpinned
            log.debug("quick lane not pinned to CPU %d: %s", cpu, exc)
            self._pins = False

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], wait: float) -> tuple[bool, Any]:
        self._call = (fn, args)
        try:
            pinned = self._pins and self._owner.pins
            if pinned:
                self._sleep_on_this_cpu()
            self._go.ring()
            answered = False
            if pinned:
                answered = self._done.wait(0)  # the woken thread may have run already
                if not answered:
                    os.sched_yield()  # it waits for this CPU: it runs now
            if not answered and not self._done.wait(wait):
                with self._state:
                    if self._outcome is None:  # still running: it answers through a future
                        return False, self._retire()
                self._done.wait()  # it finished just now: its ring is there to take
        except BaseException:  # interrupted: nobody takes this call's outcome
            with self._state:
                retired = self._outcome is None
                if retired:
                    self._retire()
                else:  # it answered already: drop that, so the lane is ready again
                    # (its ring is there, unless this thread took it just before the
                    # interruption: either way none is left, as for an idle lane)
                    self._done.wait(0)
                    self._outcome = None
            if retired:  # rung again, should the interruption have come before the ring: the
                self._go.ring()  # thread finishes the call unheard and ends (never reading it)
            raise
        outcome, self._outcome = self._outcome, None
        assert outcome is not None
        ok, value = outcome
        if ok:
            return True, value
        try:
            raise value
        finally:
            del value, outcome  # no cycle through this frame's traceback

    def _retire(self) -> concurrent.futures.Future[Any]:
        """(Holding ``_state``.) The running call answers through the returned future."""
        self.retired = True
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # as the pool's: cancel() can no longer succeed
        self._future = future
        return future

    def close(self) -> None:
        if not self.retired:
            self.retired = True
            self._call = None
            self._go.ring()

    def _main(self) -> None:
        while self._serve_one():
            pass

    def _serve_one(self) -> bool:
        """Wait for a call and answer it; False once the lane is done. (A method of its own so
        that nothing of a call, its function, argument, result or error, stays referenced by an
        idle lane.)"""
        self._go.wait()
        if self._pinned:  # first thing, before anything else can run on this thread
            self._pinned = False
            try:
                os.sched_setaffinity(0, self._cpus)
            except OSError as exc:
                self._pins = False
                _no_more_pins(self._owner, exc, "a quick lane's thread")
        call, self._call = self._call, None
        if call is None:
            return False
        fn, args = call
        owner = self._owner
        owner.count(1)
        try:
            outcome: tuple[bool, Any] | None = (True, fn(*args))
        except BaseException as exc:
            outcome = (False, exc)
        finally:
            owner.count(-1)
        del call, fn, args  # an error's traceback holds this frame: keep none of the call in it
        with self._state:
            future = self._future
            if future is None:
                self._outcome, outcome = outcome, None
                self._done.ring()
                return True
        assert outcome is not None
        try:
            if outcome[0]:
                future.set_result(outcome[1])
            else:
                future.set_exception(outcome[1])
        finally:
            del outcome
        return False


class LoopWait:
    """One blocking wait of a thread for a coroutine it hands to the event loop (``SyncIO``, a
    client's sync methods through its ``Portal``): ``run`` schedules the coroutine on the loop
    and sleeps until it ends, then returns what it returned or raises what it raised.

    Where threads can be pinned (``threads.pins``), the loop's thread pins the sleeping thread
    to its own CPU as the coroutine ends, just before it wakes it, so the thread wakes there
    instead of on another CPU (and the loop's next wake-up, by this thread's next call, happens
    on its own CPU too); the thread takes back the CPUs it had first thing as it wakes. A
    thread that stopped waiting (an exception raised in it meanwhile, a signal handler's in the
    main thread) is not pinned, and one pinned as it stopped takes its CPUs back all the same.
    """

    __slots__ = (
        "_cpus",
        "_guard",
        "_lock",
        "_outcome",
        "_pinned",
        "_started",
        "_task",
        "_threads",
        "_tid",
        "_waiting",
    )

    def __init__(self, threads: TaskThreads | PinSwitch | None) -> None:
        self._threads = threads if threads is not None and threads.pins else None
        self._lock = _Bell(blocking=True)
        self._guard = threading.Lock()
        """Held to settle whether the thread is pinned: by the loop's thread as it pins it, by
        the waiting thread as it stops waiting."""
        self._waiting = True
        """Whether the thread may still be pinned (it has not left ``run``)."""
        self._pinned = False
        """Whether the loop's thread pinned (or was about to pin) the waiting thread."""
        self._started = False
        """Whether the coroutine started (then it wakes the thread as it ends, whatever else
        happens)."""
        self._outcome: tuple[bool, Any] | None = None
        self._task: Any = None
        """The coroutine's asyncio task, referenced so that it is not collected as it runs."""
        self._tid = 0
        self._cpus: range | frozenset[int] = range(0)
        if self._threads is not None:
            self._tid = threading.get_native_id()
            self._cpus = _as_range(os.sched_getaffinity(0))

    def run(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on ``loop`` (another thread's), blocking this thread until it ends.
        (A cancellation, as at the loop's shutdown, raises ``concurrent.futures.CancelledError``
        here, as a future's ``result()`` would.)"""

        async def until_done() -> None:
            self._started = True
            try:
                self._outcome = (True, await coro)
            except asyncio.CancelledError:
                self._outcome = (False, concurrent.futures.CancelledError())
            except (KeyboardInterrupt, SystemExit) as exc:  # they stop the loop too
                self._outcome = (False, exc)
                task = self._task = asyncio.current_task()
                if task is not None:  # retrieved here: the loop reports it as it stops
                    task.add_done_callback(_retrieved)
                raise
            except BaseException as exc:  # a run's signals (Suspend, Canceled...) included
                self._outcome = (False, exc)
            finally:
                self._wake()

        def start() -> None:
            wrapped = until_done()
            try:
                task = self._task = loop.create_task(wrapped)
            except BaseException as exc:
                if self._started:  # an eager task ran (and woke the thread) and raised
                    if self._task is not None and self._task.done():
                        _retrieved(self._task)  # the loop stops before callbacks run
                    raise
                wrapped.close()  # refused: nothing else will wake the thread
                coro.close()
                self._outcome = (False, exc)
                self._wake()
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
            else:  # (task: the waiter may have reset self._task, an eager task having ended)
                task.add_done_callback(ended)

        def ended(task: asyncio.Task[None]) -> None:
            if not self._started:  # canceled before its first step: until_done never ran
                coro.close()
                self._outcome = (False, concurrent.futures.CancelledError())
                self._wake()

        try:
            try:
                loop.call_soon_threadsafe(start)
            except BaseException:  # a closed loop
                coro.close()
                raise
            self._lock.wait()
        finally:  # first thing, before anything else can run on this thread (no allocation
            guard = self._guard  # that could start a garbage collection: no `with`)
            guard.acquire()
            try:
                self._waiting = False
                pinned = self._pinned
            finally:
                guard.release()
            if pinned:
                try:
                    os.sched_setaffinity(0, self._cpus)
                except OSError as exc:
                    _no_more_pins(self._threads, exc, "a thread waiting for the event loop")
        self._lock.close()  # rung: the loop's thread is done with it
        self._task = None
        outcome, self._outcome = self._outcome, None
        assert outcome is not None
        ok, value = outcome
        if ok:
            return value  # type: ignore[no-any-return]
        try:
            raise value
        finally:
            del value, outcome  # no cycle through this frame's traceback

    def abandon(self) -> None:
        """(Any thread, once the loop has stopped for good: it will not start or end the
        coroutine.) Wake the waiting thread with a cancellation, unless it was answered."""
        if self._outcome is None:
            self._outcome = (False, concurrent.futures.CancelledError())
            self._lock.ring()

    def _wake(self) -> None:
        """(The loop's thread.) Wake the waiting thread, pinned to this CPU where threads can
        be pinned and it still waits."""
        try:
            threads = self._threads
            if threads is not None and threads.pins:
                cpu = _current_cpu()
                with self._guard:
                    if self._waiting and cpu >= 0:
                        self._pinned = True  # first: were this interrupted, it still knows
                        try:
                            os.sched_setaffinity(self._tid, {cpu})
                        except OSError as exc:  # not allowed here: this worker's go unpinned
                            log.debug("waiting thread not pinned to CPU %d: %s", cpu, exc)
                            threads.pins = False
        finally:
            self._lock.ring()


def _retrieved(task: asyncio.Task[Any]) -> None:
    task.exception()


def _no_more_pins(threads: TaskThreads | PinSwitch | None, exc: OSError, who: str) -> None:
    """(A woken thread.) Its CPUs could not be given back: no thread of this worker is pinned
    again."""
    log.warning(
        "%s could not take back its CPUs (%s); it runs on one CPU, and no thread of this "
        "worker is pinned to another's CPU again",
        who,
        exc,
    )
    if threads is not None:
        threads.pins = False
