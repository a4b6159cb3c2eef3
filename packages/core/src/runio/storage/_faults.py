"""Named fault points of the SQL stores, so tests can prove what a failure at each one does.

Every write a store commits has a kind (``WriteKind``). A test arms a fault at a point for a kind
(``store.faults.arm(FaultPoint.BEFORE_COMMIT, WriteKind.COMPLETE)``) and the store's writer fails
the next commit holding a write of that kind there:

- ``BEFORE_COMMIT``: the writes were made, then the database failed (an I/O error); nothing of
  the transaction is kept.
- ``AFTER_COMMIT``: the transaction was committed, then the answer was lost (SQLite: an error
  after the commit; PostgreSQL: the connection dropped before the answer arrived). The writer
  reports a failure although the writes are stored: the caller cannot tell (outcome unknown).
- ``CONNECTION_LOST``: the connection broke in the middle of the transaction (PostgreSQL: the
  server ends the session; SQLite has no connection to lose and fails as ``BEFORE_COMMIT``).

Disk full and a read-only database file are real conditions, not fault points: tests make them
with ``RLIMIT_FSIZE`` and file permissions. An unarmed store pays one attribute check per commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from enum import StrEnum


class FaultPoint(StrEnum):
    BEFORE_COMMIT = "before-commit"
    AFTER_COMMIT = "after-commit"
    CONNECTION_LOST = "connection-lost"


class WriteKind(StrEnum):
    """What a committed write records."""

    EVENT = "event"
    JOBS = "jobs"
    CLAIM = "claim"
    HEARTBEAT = "heartbeat"
    START = "start"
    """An attempt started (unawaited)."""
    COMPLETE = "complete"
    """A task's result."""
    FAIL = "fail"
    """A failed attempt."""
    WAIT = "wait"
    WAIT_OVER = "wait-over"
    LOGS = "logs"
    SUSPEND = "suspend"
    FINISH = "finish"
    RELEASE = "release"
    OPERATION = "operation"
    """Cancel, retry or replay of a run; migrations; raw statements."""


class Faults:
    """The faults armed on one store (thread-safe; each fires once per ``times``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[tuple[FaultPoint, WriteKind], int] = {}
        self.armed = False
        """Whether any fault is armed (the writer's cheap check)."""
        self.fired: list[tuple[FaultPoint, WriteKind]] = []

    def arm(self, point: FaultPoint, kind: WriteKind, *, times: int = 1) -> None:
        with self._lock:
            self._armed[(point, kind)] = self._armed.get((point, kind), 0) + times
            self.armed = True

    def disarm(self) -> None:
        with self._lock:
            self._armed.clear()
            self.armed = False

    def reach(self, point: FaultPoint, kinds: Iterable[WriteKind]) -> bool:
        """Whether a commit holding writes of ``kinds`` fails at ``point`` (consumes it)."""
        if not self.armed:
            return False
        with self._lock:
            for kind in kinds:
                left = self._armed.get((point, kind), 0)
                if left > 0:
                    self._armed[(point, kind)] = left - 1
                    self.armed = any(n > 0 for n in self._armed.values())
                    self.fired.append((point, kind))
                    return True
        return False
