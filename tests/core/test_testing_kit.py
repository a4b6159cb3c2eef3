"""The testing kit (``runio_app``, ``JobTester``, ``assert_task``, ``task_statuses``) on both
stores: an app's own client pointed at the test's database and clock, jobs run to completion
or their next wait, the clock firing waits, retry delays and schedules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import runio
from runio.errors import ConfigurationError, MigrationError, UnknownJobError
from runio.testing import JobTester, TestClock, assert_task, task_statuses

RETRY = runio.RetryOptions(limit=3, factor=1, min_timeout=10, randomize=False)


def _app() -> tuple[runio.Client, dict[str, int]]:
    """An app as a user module defines it: a client with its jobs, registered once."""
    client = runio.Client(id="kit-app")
    calls = {"flaky": 0}

    @client.define_job(id="sleepy", trigger=runio.event_trigger("sleepy", filter={"go": [True]}))
    async def sleepy(payload: dict[str, object], io: runio.IO) -> str:
        await io.run_task("before", lambda task: "a")
        await io.wait("nap", 3600)
        return await io.run_task("after", lambda task: "b")

    @client.define_job(id="flaky", trigger=runio.event_trigger("flaky"))
    async def flaky(payload: dict[str, object], io: runio.IO) -> int:
        def call(task: runio.Task) -> int:
            calls["flaky"] += 1
            if task.attempt < 3:
                raise ConnectionError("not yet")
            return task.attempt

        return await io.run_task("call", call, retry=RETRY)

    @client.define_job(id="hourly", trigger=runio.interval_trigger(seconds=3600))
    async def hourly(tick: runio.ScheduledTick, io: runio.IO) -> float:
        return tick.timestamp

    return client, calls


@pytest.fixture
def kit(runio_app: Callable[..., JobTester], db_url: str) -> JobTester:
    client, _ = _app()
    return runio_app(client, start=1_800_000_000.0, database_url=db_url)


def test_run_job_runs_to_the_next_wait_and_advance_fires_it(kit: JobTester) -> None:
    run = kit.run_job("sleepy", {"go": True})
    assert run.status == "WAITING"
    assert task_statuses(run) == {"before": "COMPLETED", "nap": "WAITING"}
    kit.advance(minutes=59)
    assert kit.get_run(run).status == "WAITING"
    kit.advance(minutes=1)
    run = kit.get_run(run)
    assert (run.status, run.output) == ("COMPLETED", "b")
    assert_task(run, "after", status="COMPLETED", output="b", attempts=1)


def test_run_until_finished_moves_the_clock_through_retry_delays(kit: JobTester) -> None:
    run = kit.run_job(kit.client.jobs["flaky"], {})
    assert_task(run, "call", status="WAITING", attempts=1)
    start = kit.clock.now()
    run = kit.run_until_finished(run)
    assert (run.status, run.output) == ("COMPLETED", 3)
    assert kit.clock.now() == start + 20  # two 10-second retry delays, nothing more
    assert_task(run, "call", attempts=3, where=lambda t: t.attempts[0].status == "ERRORED")


def test_advancing_the_clock_fires_schedules(kit: JobTester) -> None:
    kit.work()
    kit.advance(hours=2)  # the hour at +1 h was missed by this pass: only +2 h fires
    kit.advance(hours=1)
    assert [r.output for r in kit.runs("hourly")] == [1_800_007_200.0, 1_800_010_800.0]


def test_run_job_refuses_what_an_event_could_not_start(kit: JobTester) -> None:
    with pytest.raises(ConfigurationError, match="filter"):
        kit.run_job("sleepy", {"go": False})
    other, _ = _app()
    with pytest.raises(UnknownJobError, match="pass the function define_job returned"):
        kit.run_job(other.jobs["sleepy"], {"go": True})
    with pytest.raises(UnknownJobError, match="its jobs: flaky, hourly, sleepy"):
        kit.run_job("nope")
    assert kit.runs() == []


def test_assert_task_names_what_differs_and_shows_the_tree(kit: JobTester) -> None:
    run = kit.run_job("sleepy", {"go": True})
    with pytest.raises(AssertionError, match="no such task") as excinfo:
        assert_task(run, "missing")
    assert "  before: COMPLETED\n  nap: WAITING" in str(excinfo.value)
    with pytest.raises(AssertionError, match="output is 'a', expected 'z'"):
        assert_task(run, "before", output="z")


def test_the_client_gets_its_own_database_and_clock_back(tmp_path: Path) -> None:
    own_url = f"sqlite:///{tmp_path / 'own.db'}"
    # An app that migrates its database separately still gets a ready test database.
    client = runio.Client(id="kit-own", database_url=own_url, auto_migrate=False)

    @client.define_job(id="hello", trigger=runio.event_trigger("hello"))
    async def hello(payload: dict[str, object], io: runio.IO) -> str:
        return "hi"

    own_clock = client.clock
    test_clock = TestClock(start=1_800_000_000.0)
    restore = client._point_at(database_url=f"sqlite:///{tmp_path / 'test.db'}", clock=test_clock)
    JobTester(client, test_clock).run_job(hello, {})
    assert client.list_runs()[0].created_at == 1_800_000_000.0
    restore()
    try:
        assert client.clock is own_clock
        assert client.database_url == own_url
        # Its own database was never touched: still unmigrated, and it is not migrated now.
        with pytest.raises(MigrationError, match="runio db upgrade"):
            client.list_runs()
    finally:
        client.close()


def test_runio_app_takes_a_client(runio_app: Callable[..., JobTester]) -> None:
    with pytest.raises(TypeError, match=r"takes your app's runio\.Client"):
        runio_app("my_app:client")
