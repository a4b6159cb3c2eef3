"""The sync bridge: the thread and event loop a client runs its sync methods' coroutines on.

A sync method (``send_event``, ``get_run``...) hands its coroutine to the portal's loop and
sleeps until it ends (``LoopWait``: woken through an eventfd where there is one, on the loop's
CPU where threads can be pinned), so that it works from any thread, one running an event loop
of its own included.

While a call is the only one running on the portal, its writes may be committed on the portal's
thread itself (``storage.alone_in_worker``): nothing else needs that loop meanwhile, and the
SQLite store is spared waking its writer thread and being woken by it, two thread hand-offs per
write. With several calls running at once (threads of a web server sending events together),
their writes go through the writer thread and share its commits, as before.
"""

from __future__ import annotations

import asyncio
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

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the portal's loop; block this thread until it ends and return what it
        returned (or raise what it raised)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "A sync method of runio.Client was called from code the client itself runs on "
                "its own thread (a trigger filter or concurrency_key function, for instance), "
                "where it would wait for itself forever. Compute what that code needs before "
                "sending, or call the method's async form (e.g. send_event_async) from async "
                "code."
            )
        return LoopWait(self._pins).run(self.loop, self._counted(coro))

    async def _counted(self, coro: Coroutine[Any, Any, T]) -> T:
        self._running += 1
        alone_in_worker.set(self._alone)  # in this call's own context (its asyncio task)
        try:
            return await coro
        finally:
            self._running -= 1

    def _alone(self) -> bool:
        return self._running == 1

    def stop(self) -> None:
        """Stop the loop and its thread. A call still running on it is canceled first (its
        caller gets ``concurrent.futures.CancelledError``), never left waiting."""
        self.loop.call_soon_threadsafe(self._start_stopping)
        self._thread.join()
        self.loop.close()

    def _start_stopping(self) -> None:
        self.loop.create_task(self._cancel_all_then_stop())

    async def _cancel_all_then_stop(self) -> None:
        calls = asyncio.all_tasks() - {asyncio.current_task()}
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        self.loop.stop()
