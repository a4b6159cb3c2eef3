"""Whether an event loop has had a turn since a moment: what the engine's pauses and the SQLite
store's writes on the loop's thread ask before giving the loop a turn of their own."""

from __future__ import annotations

import asyncio
import time


class LoopTurn:
    """Made on ``loop``'s thread, it schedules a callback there: ``taken`` turns true when the
    loop runs it, at its next turn, however the turn comes. ``since`` is when the watch began
    (``time.monotonic``)."""

    __slots__ = ("loop", "since", "taken")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.since = time.monotonic()
        self.taken = False
        loop.call_soon(self._take)

    def _take(self) -> None:
        self.taken = True
