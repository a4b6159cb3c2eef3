"""Time as runio sees it: the system clock, or a test clock that moves only when told.

Every timestamp runio stores (wake-ups, retry times, leases) comes from the client's clock, so a
test can advance time past a three-hour wait or a retry delay without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep_until(self, when: float, wakeup: asyncio.Event) -> None:
        """Return at ``when`` or as soon as ``wakeup`` is set, whichever comes first."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float, wakeup: asyncio.Event) -> None:
        delay = when - time.time()
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=delay)
