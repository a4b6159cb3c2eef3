"""Helpers of the Slack integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test token, and ``World``, one test's
FakeSlack, Slack integration, client, clock and database. Importing it also puts tests/core on
the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runio_slack import Slack
from runio_slack.testing import FakeSlack

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

TOKEN = "xoxb-1111111111-2222222222-runioTestTokenR4nd0m"
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


@dataclass
class World:
    """One test's FakeSlack, Slack integration, client, clock and database file."""

    fake: FakeSlack
    slack: Slack
    client: runio.Client
    clock: TestClock
    database: Path
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def start(self, body: Callable[[Any], Awaitable[Any]], *, integration: Any = None) -> str:
        """Define a job that returns ``await body(io.slack)``, send its event, return the run
        id (nothing runs until ``work``/``drive``)."""
        number = next(self._jobs)

        @self.client.define_job(
            id=f"slack-{number}",
            trigger=runio.event_trigger(f"slack.{number}"),
            integrations={"slack": integration or self.slack},
        )
        async def job(payload: Any, io: runio.IO) -> Any:
            return await body(io.slack)

        return self.client.send_event(f"slack.{number}", {}).run_ids[0]

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

    def texts(self, channel: str | None = None, **options: Any) -> list[str]:
        return [m["text"] for m in self.fake.messages(channel or self.fake.general_id, **options)]
