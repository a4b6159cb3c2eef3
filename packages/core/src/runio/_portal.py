"""The sync bridge: the thread and event loop a client runs its sync methods' coroutines on.

A sync method (``send_event``, ``get_run``...) hands its coroutine to the portal's loop and
sleeps until it ends (``LoopWait``: woken through an eventfd where there is one, on the loop's
CPU where threads can be pinned), so that it works from any thread, one running an event loop
of its own included.

While a call is the only one running on the portal, its reads and writes may be done on the
portal's thread itself (``storage.alone_in_worker``): nothing else needs that loop meanwhile, and
the SQLite store is spared waking its database thread and being woken by it, two thread
hand-offs per operation. Calls running at once (threads of a web server sending events together)
go through the database thread and share its commits.

No caller is left waiting: stopping the portal (``Client.close``) cancels the calls still
running on it, and a call it overtakes (made as it stops) is canceled too, with
``concurrent.futures.CancelledError``. A ``KeyboardInterrupt`` or ``SystemExit`` raised by code a
call runs there (a payload validator's) is raised to that call's caller, and the portal goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._task_threads import LoopWait, PinSwitch
from .storage import alone_in_worker

T = TypeVar("T")


class Portal:
    """One client's loop thread for its sync methods (started by the first of them)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._running = 0
        """Calls whose coroutine runs on the loop now (counted on the loop's thread only)."""
        self._pins = PinSwitch()
        self._guard = threading.Lock()
        self._waits: dict[LoopWait, tuple[Coroutine[Any, Any, Any], ...]] = {}
        """The calls whose threads wait (or are about to) for the loop, with their coroutines."""
        self._stopping = False
        self._pid = os.getpid()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the portal's loop; block this thread until it ends and return what it
        returned (or raise what it raised). A call the portal's stop overtakes raises
        ``concurrent.futures.CancelledError``."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "A sync method of runio.Client was called from code the client itself runs on "
                "its own thread (a payload schema's validator, for instance), where it would "
                "wait for itself forever. Compute what that code needs before sending, or call "
                "the method's async form (e.g. send_event_async) from async code."
            )
        wait, counted = LoopWait(self._pins), self._counted(coro)
        with self._guard:
            if self._stopping:
                counted.close()
                coro.close()
                raise concurrent.futures.CancelledError()
            self._waits[wait] = (counted, coro)
        try:
            return wait.run(self.loop, counted)
        except _Carried as carried:
            raise carried.error from None
        except concurrent.futures.CancelledError:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:  # canceled before it
                coro.close()  # started: it never will
            raise
        except RuntimeError:
            if self._closed_by_stop():  # stopped before the call reached it
                coro.close()
                raise concurrent.futures.CancelledError() from None
            raise
        finally:
            with self._guard:
                self._waits.pop(wait, None)

    def refuse_own_thread(self) -> None:
        """Raise ``RuntimeError`` on the portal's own thread, where stopping it would wait for
        its own end (``Client.close`` from a payload validator, say)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "runio.Client.close() was called from code the client itself runs on its own "
                "thread (a payload schema's validator, for instance), which would have to wait "
                "for its own end. Close the client after the call that ran that code returns."
            )

    def usable_here(self) -> bool:
        """False in a child process forked from the one that started it: its thread is not
        there."""
        return self._pid == os.getpid()

    def _closed_by_stop(self) -> bool:
        return self._stopping and self.loop.is_closed()

    async def _counted(self, coro: Coroutine[Any, Any, T]) -> T:
        self._running += 1
        alone_in_worker.set(self._alone)  # in this call's own context (its asyncio task)
        try:
            return await coro
        except (KeyboardInterrupt, SystemExit) as exc:  # the caller's, not the portal's to stop
            raise _Carried(exc) from None
        finally:
            self._running -= 1

    def _alone(self) -> bool:
        return self._running == 1

    def stop(self) -> None:
        """Stop the loop and its thread. A call still running on it is canceled first, and one
        not started yet never starts: their callers get ``concurrent.futures.CancelledError``,
        none is left waiting."""
        self.refuse_own_thread()
        with self._guard:
            self._stopping = True
        self.loop.call_soon_threadsafe(self._start_stopping)
        self._thread.join()
        with self._guard:
            waits = list(self._waits.items())
        for wait, coros in waits:  # handed over too late for the loop to start it
            wait.abandon()
            for coro in coros:
                coro.close()
        for task in asyncio.all_tasks(self.loop):  # made in the loop's last turn, never run
            task.get_coro().close()
        self.loop.close()

    def _start_stopping(self) -> None:
        self.loop.create_task(self._cancel_all_then_stop())

    async def _cancel_all_then_stop(self) -> None:
        calls = asyncio.all_tasks() - {asyncio.current_task()}
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        self.loop.stop()


class _Carried(Exception):
    """A KeyboardInterrupt or SystemExit raised by a call's coroutine, carried to its caller's
    thread (raised as itself there) instead of stopping the portal's loop."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error
