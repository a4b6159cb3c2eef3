"""``TestClock``: time that moves only when a test says so."""

from __future__ import annotations

import asyncio
import threading
import time


class TestClock:
    """A clock for tests. Starts at ``start`` (default: now) and moves only on ``advance``.

    Safe to advance from another thread than the worker's event loop.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()
        self._sleepers: list[tuple[float, asyncio.AbstractEventLoop, asyncio.Event]] = []

    def now(self) -> float:
        return self._now

    def advance(
        self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0, days: float = 0.0
    ) -> float:
        """Move time forward; wake every worker sleeping until a time now passed. Returns now."""
        delta = seconds + 60 * minutes + 3600 * hours + 86400 * days
        if delta < 0:
            raise ValueError("TestClock only moves forward; advance by a positive amount.")
        with self._lock:
            self._now += delta
            due = [s for s in self._sleepers if s[0] <= self._now]
            self._sleepers = [s for s in self._sleepers if s[0] > self._now]
        for _, loop, event in due:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
        return self._now

    async def sleep_until(self, when: float, wakeup: asyncio.Event) -> None:
        if when <= self._now:
            return
        reached = asyncio.Event()
        entry = (when, asyncio.get_running_loop(), reached)
        with self._lock:
            if when <= self._now:
                return
            self._sleepers.append(entry)
        try:
            waiters = [asyncio.ensure_future(reached.wait()), asyncio.ensure_future(wakeup.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        finally:
            with self._lock:
                if entry in self._sleepers:
                    self._sleepers.remove(entry)
