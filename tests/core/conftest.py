"""Fixtures of the task threads' tests (``test_task_threads.py``, ``test_loop_wait.py``)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runio import _task_threads as task_threads
from runio._task_threads import TaskThreads


@pytest.fixture
def threads() -> Iterator[TaskThreads]:
    pool = TaskThreads(max_workers=2, thread_name_prefix="t")
    yield pool
    pool.shutdown(wait=True)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, as a worker's is for its job threads."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the threads pinned to a CPU from now on (``sched_setaffinity`` still pins)."""
    pins: list[int] = []
    real = os.sched_setaffinity

    def recorded(tid: int, cpus: Any) -> None:
        if tid:
            pins.append(tid)
        real(tid, cpus)

    monkeypatch.setattr(os, "sched_setaffinity", recorded)
    return pins


@pytest.fixture
def restores_refused(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """As on a machine of CPUs 0 and 1 where a thread may be pinned to one but not take the
    others back (EINVAL): the ids of the threads pinned."""
    pins: list[int] = []

    def only_pins(tid: int, cpus: Any) -> None:
        if tid == 0:
            raise OSError(22, "Invalid argument")
        pins.append(tid)

    monkeypatch.setattr(task_threads, "_current_cpu", lambda: 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda tid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "sched_setaffinity", only_pins, raising=False)
    return pins
