"""Helpers of the Resend integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test API keys and start time, and
``World``, one test's FakeResend, Resend integration, client, clock and database. Importing it
also puts tests/core on the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runio_resend.testing import FakeResend

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

API_KEY = "re_test_runio_7cQ2mZk9WxYhT4LpB3nF"
OTHER_KEY = "re_test_other_Qa8Vn2Lr6TsZk1PwD5yH"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def message(error: Any) -> str:
    """The message of a recorded error (a run's, a task's or an attempt's)."""
    if error is None:
        return ""
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error)


@dataclass
class World:
    """One test's FakeResend, Resend integration, client, clock and database file."""

    fake: FakeResend
    resend: Any
    client: runio.Client
    clock: TestClock
    database: Path
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def start(
        self,
        body: Callable[[Any], Awaitable[Any]],
        *,
        integration: Any = None,
        payload: Any = None,
    ) -> str:
        """Define a job that returns ``await body(io.resend)``, send its event, return the run
        id (nothing runs until ``work``/``drive``)."""
        number = next(self._jobs)

        @self.client.define_job(
            id=f"resend-{number}",
            trigger=runio.event_trigger(f"resend.{number}"),
            integrations={"resend": integration or self.resend},
        )
        async def job(payload: Any, io: runio.IO) -> Any:
            return await body(io.resend)

        return self.client.send_event(f"resend.{number}", payload or {}).run_ids[0]

    def work(self) -> None:
        self.client.run_worker(until_idle=True)

    def drive(self, run_id: str, *, max_steps: int = 20) -> runio.Run:
        """Run the worker, moving the clock to each wake-up, until the run has finished."""
        for _ in range(max_steps):
            self.work()
            run = self.client.get_run(run_id)
            if run.status in FINISHED:
                return run
            assert run.status == "WAITING", run.status
            assert run.ready_at is not None
            self.clock.advance(seconds=max(0.0, run.ready_at - self.clock.now()))
        raise AssertionError(f"run {run_id} did not finish in {max_steps} steps")

    def run(self, body: Callable[[Any], Awaitable[Any]], **options: Any) -> runio.Run:
        return self.drive(self.start(body, **options))
