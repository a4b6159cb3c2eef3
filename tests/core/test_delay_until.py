"""``io.run_task(..., delay_until=when)``: the task starts no earlier than ``when``; the run
parks meanwhile, holding no worker slot. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import runio
from runio.testing import TestClock

MakeClient = Callable[..., runio.Client]


def test_a_delayed_task_starts_at_its_time_and_not_before(
    make_client: MakeClient, clock: TestClock
) -> None:
    started: list[float] = []

    def app() -> runio.Client:
        client = make_client()

        @client.define_job(id="later", trigger=runio.event_trigger("later"))
        async def later(payload: object, io: runio.IO) -> float:
            when = datetime.fromtimestamp(1_800_000_000.0, UTC) + timedelta(hours=2)
            return await io.run_task(
                "report", lambda task: started.append(clock.now()) or clock.now(), delay_until=when
            )

        return client

    first = app()
    run_id = first.send_event("later").run_ids[0]
    first.run_worker(until_idle=True)
    run = first.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(1_800_000_000.0 + 7200)
    task = run.task("report")
    assert (task.status, task.retry_at, task.attempts) == ("WAITING", 1_800_000_000.0 + 7200, [])
    first.close()  # the worker is gone; the delay is in the database

    second = app()
    clock.advance(hours=1, minutes=59)
    second.run_worker(until_idle=True)
    assert started == []
    clock.advance(minutes=1)
    second.run_worker(until_idle=True)
    run = second.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", 1_800_000_000.0 + 7200)
    assert started == [1_800_000_000.0 + 7200]
    assert [a.number for a in run.task("report").attempts] == [1]


def test_a_time_already_past_runs_the_task_at_once_and_retries_keep_their_delays(
    client: runio.Client, clock: TestClock
) -> None:
    attempts: list[float] = []

    def flaky(task: runio.Task) -> str:
        attempts.append(clock.now())
        if task.attempt < 2:
            raise RuntimeError("not yet")
        return "done"

    @client.define_job(id="past", trigger=runio.event_trigger("past"))
    async def past(payload: object, io: runio.IO) -> Any:
        yesterday = datetime.fromtimestamp(clock.now(), UTC) - timedelta(days=1)
        return await io.run_task(
            "flaky",
            flaky,
            delay_until=yesterday,
            retry=runio.RetryOptions(limit=3, min_timeout=5, randomize=False),
        )

    run_id = client.send_event("past").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "done"
    assert attempts == [1_800_000_000.0, 1_800_000_005.0]
