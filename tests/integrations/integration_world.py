"""What every vendor's test world shares (each vendor's ``<vendor>_helpers.World`` mixes it in):
defining a job that awaits ``body(io.<namespace>)``, sending its event, and running the worker,
moving the test clock to each wake-up, until the run has finished.

Test directories are not packages, so the vendors' helper modules put this directory on the path
and import it by its own name."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import runio
from runio.testing import TestClock

FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


class RunsJobs:
    """Mixin of a test world with ``client``, ``clock`` and the integration as the attribute
    named ``namespace``."""

    namespace: ClassVar[str]
    client: runio.Client
    clock: TestClock
    database: Path

    def start(
        self,
        body: Callable[[Any], Awaitable[Any]],
        *,
        integration: Any = None,
        payload: Any = None,
    ) -> str:
        """Define a job that returns ``await body(io.<namespace>)``, send its event with
        ``payload``, return the run id (nothing runs until ``work``/``drive``)."""
        numbers: Iterator[int] = self.__dict__.setdefault("_job_numbers", itertools.count(1))
        number = next(numbers)
        namespace = self.namespace

        @self.client.define_job(
            id=f"{namespace}-{number}",
            trigger=runio.event_trigger(f"{namespace}.{number}"),
            integrations={namespace: integration or getattr(self, namespace)},
        )
        async def job(payload: Any, io: runio.IO) -> Any:
            return await body(getattr(io, namespace))

        return self.client.send_event(f"{namespace}.{number}", payload or {}).run_ids[0]

    def work(self) -> None:
        """Run a worker until no run is ready."""
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
