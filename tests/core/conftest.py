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


@pytest.fixture
def pins_refused(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """As on a machine of CPUs 0 and 1 where threads may not be pinned (EPERM): the ids of the
    threads whose CPUs were set (0: the calling thread's own)."""
    tries: list[int] = []

    def refused(tid: int, cpus: Any) -> None:
        tries.append(tid)
        raise PermissionError("not allowed here")

    monkeypatch.setattr(task_threads, "_current_cpu", lambda: 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda tid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "sched_setaffinity", refused, raising=False)
    return tries


@pytest.fixture
def affinity_steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, set[int]]]:
    """Each ``sched_setaffinity`` from now on, as ("pin", thread id, CPUs) for another
    thread's, ("own", 0, CPUs) for the calling thread's own (it still sets them); tests append
    steps of their own."""
    steps: list[tuple[str, int, set[int]]] = []
    real = os.sched_setaffinity

    def recorded(tid: int, cpus: Any) -> None:
        steps.append(("pin" if tid else "own", tid, set(cpus)))
        real(tid, cpus)

    monkeypatch.setattr(os, "sched_setaffinity", recorded)
    return steps
