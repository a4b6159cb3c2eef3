"""What every vendor's tests share: ``RunsJobs``, which each vendor's ``<vendor>_helpers.World``
mixes in (defining a job that awaits ``body(io.<namespace>)``, sending its event, and running the
worker, moving the test clock to each wake-up, until the run has finished), and
``text_columns``, every stored value as text, for the secret checks.

Test directories are not packages: tests/integrations/conftest.py puts this directory on the
import path, so the vendors' tests import this module by its own name."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import runio
from runio.testing import JobTester, TestClock


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

    def drive(self, run_id: str, *, max_steps: int = 40) -> runio.Run:
        """Run the worker, moving the clock to each wake-up, until the run has finished."""
        return JobTester(self.client, self.clock).run_until_finished(run_id, max_steps=max_steps)

    def run(self, body: Callable[[Any], Awaitable[Any]], **options: Any) -> runio.Run:
        return self.drive(self.start(body, **options))


def text_columns(database: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-null value of every table, as text."""
    found = []
    connection = sqlite3.connect(database)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in connection.execute(
                    f'SELECT CAST("{column}" AS TEXT) FROM "{table}" WHERE "{column}" IS NOT NULL'
                ):
                    found.append((table, column, value))
    finally:
        connection.close()
    return found
