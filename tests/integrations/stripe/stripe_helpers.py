"""Helpers of the Stripe integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test API key, and ``World``, one test's
FakeStripe, Stripe integration, client, clock and database. Importing it also puts
tests/core on the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runio_stripe import Stripe
from runio_stripe.testing import FakeStripe

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

API_KEY = "sk_test_runio_4eC39HqLyjWDarjtT1zdp7dc"
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


@dataclass
class World:
    """One test's FakeStripe, Stripe integration, client, clock and database file."""

    fake: FakeStripe
    stripe: Stripe
    client: runio.Client
    clock: TestClock
    database: Path
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def start(self, body: Callable[[Any], Awaitable[Any]], *, integration: Any = None) -> str:
        """Define a job that returns ``await body(io.stripe)``, send its event, return the run
        id (nothing runs until ``work``/``drive``)."""
        number = next(self._jobs)

        @self.client.define_job(
            id=f"stripe-{number}",
            trigger=runio.event_trigger(f"stripe.{number}"),
            integrations={"stripe": integration or self.stripe},
        )
        async def job(payload: Any, io: runio.IO) -> Any:
            return await body(io.stripe)

        return self.client.send_event(f"stripe.{number}", {}).run_ids[0]

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
