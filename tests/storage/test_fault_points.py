"""A database failure at each named fault point, on SQLite and PostgreSQL: nothing is lost.

Each test arms one fault (``store.faults``: before a commit, after it, or the connection lost in
the middle of the transaction) for one kind of write, then runs a job through workers until it
ends. Whatever the point, the test proves:

- no result lost: the run completes with every task's output, as returned by its function;
- nothing completed re-run: no task function is ever called while its result is stored (each
  call looks in the database first);
- no run reported COMPLETED without all its tasks stored;
- the failure was not ignored: where a write failed for its caller, the run stopped there and
  resumed in a later execution.

A database that keeps failing stops the worker with a clear error; a read-only PostgreSQL
database is tested here too (SQLite's read-only file and full disk, which need a subprocess, are
in test_sqlite_file_faults.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

import runio
from runio.storage._faults import FaultPoint, WriteKind
from runio.testing import TestClock

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

NO_JITTER = runio.RetryOptions(limit=3, factor=2, min_timeout=5, max_timeout=5, randomize=False)

KINDS = [
    WriteKind.CLAIM,
    WriteKind.START,
    WriteKind.COMPLETE,
    WriteKind.FAIL,
    WriteKind.WAIT,
    WriteKind.WAIT_OVER,
    WriteKind.LOGS,
    WriteKind.SUSPEND,
    WriteKind.FINISH,
]


class Job:
    """A job touching every kind of write: logs, tasks, a failed attempt and its retry delay,
    a wait. Each task function first checks that its result is not stored already."""

    def __init__(self, client: runio.Client) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self.returned: dict[str, str] = {}
        self.rerun_completed: list[str] = []

        @client.define_job(id="faulty", trigger=runio.event_trigger("go"))
        async def faulty(payload: Any, io: runio.IO) -> list[str]:
            io.logger.info("begin")
            a = await io.run_task("a", self.step("a"))
            b = await io.run_task("b", self.step("b", fail_first=True), retry=NO_JITTER)
            io.logger.info("between", a=a, b=b)
            await io.wait("w", 10)
            c = await io.run_task("c", self.step("c"))
            io.logger.info("end")
            return [a, b, c]

    def step(self, name: str, *, fail_first: bool = False) -> Any:
        async def fn(task: runio.Task) -> str:
            run = await self.client.get_run_async(task.run_id)
            if any(t.cache_key == name and t.status == "COMPLETED" for t in run.tasks):
                self.rerun_completed.append(name)
            self.calls[name] += 1
            if fail_first and task.attempt == 1:
                raise RuntimeError(f"{name} fails its first attempt")
            value = f"{name}-{self.calls[name]}"
            self.returned[name] = value
            return value

        return fn


@pytest.fixture
async def client(backend_url: str, clock: TestClock) -> AsyncIterator[runio.Client]:
    made = runio.Client("fault-app", database_url=backend_url, clock=clock)
    try:
        yield made
    finally:
        await asyncio.to_thread(made.close)


async def run_to_the_end(
    client: runio.Client, clock: TestClock, run_id: str, outcomes: list[str] | None = None
) -> runio.Run:
    """Workers until the run has ended; between them the clock passes its waits and leases.
    ``outcomes``: how each execution ended, as the worker reports it."""
    seen = [] if outcomes is None else outcomes
    for _ in range(12):
        await client.run_worker_async(
            until_idle=True,
            lease_seconds=30,
            max_store_failures=50,
            on_run_finished=lambda _run_id, outcome: seen.append(outcome),
        )
        run = await client.get_run_async(run_id)
        if run.status in ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"):
            return run
        clock.advance(60)
    raise AssertionError(f"run {run_id} did not end: {run.status}")


def check_nothing_lost(job: Job, run: runio.Run) -> None:
    assert job.rerun_completed == [], "a task whose result was stored ran again"
    assert run.status == "COMPLETED", run.error
    by_key = {t.cache_key: t for t in run.tasks}
    assert {k: (t.status, t.output) for k, t in by_key.items()} == {
        "a": ("COMPLETED", job.returned["a"]),
        "b": ("COMPLETED", job.returned["b"]),
        "w": ("COMPLETED", None),
        "c": ("COMPLETED", job.returned["c"]),
    }
    assert run.output == [job.returned["a"], job.returned["b"], job.returned["c"]]
    assert [g.message for g in run.logs] == ["begin", "between", "end"]


async def test_without_a_fault_each_task_runs_once_per_attempt(
    client: runio.Client, clock: TestClock
) -> None:
    job = Job(client)
    run_id = (await client.send_event_async("go")).run_ids[0]
    outcomes: list[str] = []
    run = await run_to_the_end(client, clock, run_id, outcomes)
    check_nothing_lost(job, run)
    # One execution until b's retry delay, one until the wait, one to the end.
    assert outcomes == ["WAITING", "WAITING", "COMPLETED"]
    assert job.calls == {"a": 1, "b": 2, "c": 1}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("point", list(FaultPoint))
async def test_a_fault_at_a_commit_loses_nothing_and_reruns_nothing_completed(
    client: runio.Client, clock: TestClock, point: FaultPoint, kind: WriteKind
) -> None:
    job = Job(client)
    run_id = (await client.send_event_async("go")).run_ids[0]
    # Twice: a failed group commit is replayed one write at a time; both attempts fail.
    client.store.faults.arm(point, kind, times=2)
    outcomes: list[str] = []
    run = await run_to_the_end(client, clock, run_id, outcomes)

    assert client.store.faults.fired, f"no {kind} write reached {point}"
    check_nothing_lost(job, run)
    # Only a task whose result did not reach the database runs again: one call at most for
    # each time the fault fired.
    assert sum(job.calls.values()) <= 4 + len(client.store.faults.fired)
    if kind is not WriteKind.CLAIM:
        # The failure stopped the execution where it happened (a later one resumed the run).
        assert "store_failed" in outcomes
    if (point, kind) != (FaultPoint.AFTER_COMMIT, WriteKind.FINISH):
        assert outcomes[-1] == "COMPLETED"
    # else the run's end was stored and only its answer lost: the run is COMPLETED (above).


async def test_a_database_that_keeps_failing_stops_the_worker_with_a_clear_error(
    client: runio.Client, clock: TestClock
) -> None:
    job = Job(client)
    run_id = (await client.send_event_async("go")).run_ids[0]
    client.store.faults.arm(FaultPoint.BEFORE_COMMIT, WriteKind.COMPLETE, times=1000)
    with pytest.raises(runio.errors.StoreUnavailableError) as stopped:
        await client.run_worker_async(until_idle=True, max_store_failures=3)
    assert stopped.value.failures == 3
    assert "The database kept failing (3 failure(s) in a row" in str(stopped.value)
    assert "start a worker again" in str(stopped.value)
    run = await client.get_run_async(run_id)
    assert run.status == "QUEUED"  # released for a later execution, not reported done
    assert [t.cache_key for t in run.tasks if t.status == "COMPLETED"] == []

    client.store.faults.disarm()
    run = await run_to_the_end(client, clock, run_id)
    check_nothing_lost(job, run)


async def test_a_read_only_postgresql_database_stops_the_worker_and_loses_nothing(
    postgres_url: str, clock: TestClock
) -> None:
    """PostgreSQL's read-only file: the database set to read-only transactions (as a standby, or
    a database an operator locked). Every write fails; no run is reported done; once writable,
    the run completes with each task stored once."""
    client = runio.Client("fault-app", database_url=postgres_url, clock=clock)
    admin = await asyncio.to_thread(_psql_connect, postgres_url)

    def read_only(on: bool) -> None:
        database = admin.execute("SELECT current_database()").fetchone()
        assert database is not None
        admin.execute(
            f'ALTER DATABASE "{database[0]}" SET default_transaction_read_only = '
            + ("on" if on else "off")
        )
        # Sessions opened before keep their settings: end them all, so the store reconnects.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid()"
        )

    try:
        job = Job(client)
        run_id = (await client.send_event_async("go")).run_ids[0]
        await asyncio.to_thread(read_only, True)
        with pytest.raises(runio.errors.StoreError) as refused:
            await client.run_worker_async(until_idle=True, max_store_failures=2)
        assert "read-only transaction" in str(refused.value)
        run = await client.get_run_async(run_id)
        assert [t.cache_key for t in run.tasks] == []  # nothing could be stored

        await asyncio.to_thread(read_only, False)
        clock.advance(60)  # a run whose release failed waits for its lease
        run = await run_to_the_end(client, clock, run_id)
        check_nothing_lost(job, run)
    finally:
        await asyncio.to_thread(admin.close)
        await asyncio.to_thread(client.close)


def _psql_connect(url: str) -> psycopg.Connection[Any]:
    """A session that may write although the database defaults to read-only."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET default_transaction_read_only = off")
    return conn
