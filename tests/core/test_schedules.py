"""Schedules: cron and interval triggers fire exactly one run per tick, on both stores, driven by
the test clock (no sleeping), across several workers and worker restarts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from procs import wait_until

import runio
from runio.errors import JobDefinitionError
from runio.testing import TestClock

# The suite's clock starts at 1_800_000_000: Friday 2027-01-15 08:00 UTC, 09:00 in Paris.
T0 = 1_800_000_000.0
MakeClient = Callable[..., runio.Client]


def _ticks(client: runio.Client, job_id: str) -> list[float]:
    runs = client.list_runs(job_id=job_id, limit=1000)
    return sorted(r.payload["timestamp"] for r in runs)


def _interval_app(make_client: MakeClient, **trigger: Any) -> tuple[runio.Client, list[Any]]:
    client = make_client()
    seen: list[Any] = []

    @client.define_job(id="every-5-min", trigger=runio.interval_trigger(seconds=300, **trigger))
    async def job(payload: runio.ScheduledTick, io: runio.IO) -> float:
        seen.append(payload)
        return payload.timestamp

    return client, seen


def test_an_interval_schedule_fires_one_run_per_tick_as_the_clock_moves(
    make_client: MakeClient, clock: TestClock
) -> None:
    client, seen = _interval_app(make_client)
    client.run_worker(until_idle=True)
    assert client.list_runs() == [], "no tick has come since the schedule was first seen"
    clock.advance(299)
    client.run_worker(until_idle=True)
    assert client.list_runs() == []
    clock.advance(1)
    client.run_worker(until_idle=True)
    client.run_worker(until_idle=True)  # a restarted worker does not fire the tick again
    clock.advance(300)
    client.run_worker(until_idle=True)
    assert _ticks(client, "every-5-min") == [T0 + 300, T0 + 600]
    assert [r.status for r in client.list_runs()] == ["COMPLETED", "COMPLETED"]
    assert [p.timestamp for p in seen] == [T0 + 300, T0 + 600]
    first = seen[0]
    assert isinstance(first, runio.ScheduledTick)
    assert first.schedule == "every 300 s"
    assert first.scheduled_at == datetime.fromisoformat("2027-01-15T08:05:00+00:00")


def test_a_cron_schedule_fires_in_its_time_zone_and_says_which_tick_it_is(
    make_client: MakeClient, clock: TestClock
) -> None:
    client = make_client()

    @client.define_job(
        id="weekday-report",
        trigger=runio.cron_trigger("0 9 * * 1-5", timezone="Europe/Paris"),
    )
    async def report(payload: runio.ScheduledTick, io: runio.IO) -> str:
        return payload.scheduled_at.strftime("%A %H:%M %z")

    client.run_worker(until_idle=True)  # first seen at Friday 09:00 Paris: that tick is past
    clock.advance(days=2)  # Sunday 09:00: no tick on weekends
    client.run_worker(until_idle=True)
    assert client.list_runs() == []
    clock.advance(days=1)  # Monday 09:00 Paris
    client.run_worker(until_idle=True)
    (run,) = client.list_runs()
    assert run.status == "COMPLETED"
    assert run.output == "Monday 09:00 +0100"
    assert run.event_name == "schedule:weekday-report"
    assert run.payload == {
        "schedule": "cron 0 9 * * 1-5 (Europe/Paris)",
        "scheduled_at": "2027-01-18T09:00:00+01:00",
        "timestamp": T0 + 3 * 86400,
    }


def test_missed_ticks_are_skipped_by_default_only_the_latest_fires(
    make_client: MakeClient, clock: TestClock
) -> None:
    client, _ = _interval_app(make_client)
    client.run_worker(until_idle=True)
    clock.advance(minutes=60)  # twelve ticks passed with no worker running
    client.run_worker(until_idle=True)
    assert _ticks(client, "every-5-min") == [T0 + 3600]


def test_catch_up_fires_the_latest_missed_ticks_up_to_its_bound_oldest_first(
    make_client: MakeClient, clock: TestClock
) -> None:
    client, seen = _interval_app(make_client, missed="catch_up", max_catch_up=3)
    client.run_worker(until_idle=True)
    clock.advance(minutes=60)
    client.run_worker(until_idle=True)
    assert _ticks(client, "every-5-min") == [T0 + 3000, T0 + 3300, T0 + 3600]
    clock.advance(minutes=10)  # a worker that kept up fires each tick once
    client.run_worker(until_idle=True)
    assert _ticks(client, "every-5-min") == [T0 + 3000 + 300 * k for k in range(5)]
    assert sorted(p.timestamp for p in seen) == _ticks(client, "every-5-min")


def test_several_workers_racing_on_the_same_ticks_create_one_run_per_tick(
    make_client: MakeClient, clock: TestClock
) -> None:
    apps = [_interval_app(make_client, missed="catch_up", max_catch_up=5)[0] for _ in range(4)]
    apps[0].run_worker(until_idle=True)
    for _ in range(3):
        clock.advance(minutes=15)
        start = threading.Barrier(len(apps))

        def work(app: runio.Client, start: threading.Barrier = start) -> None:
            start.wait()
            app.run_worker(until_idle=True)

        threads = [threading.Thread(target=work, args=(app,)) for app in apps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ticks = _ticks(apps[0], "every-5-min")
    assert ticks == [T0 + 300 * k for k in range(1, 10)]
    assert all(r.status == "COMPLETED" for r in apps[0].list_runs(limit=100))


def test_a_running_worker_fires_a_tick_when_the_clock_reaches_it(
    make_client: MakeClient, clock: TestClock
) -> None:
    client, _ = _interval_app(make_client)
    client.run_worker(until_idle=True)  # the schedule is first seen at T0
    finished = threading.Event()
    worker = client.worker(on_run_finished=lambda run_id, status: finished.set())
    thread = threading.Thread(target=lambda: asyncio.run(worker.run()))
    thread.start()
    try:
        # Another thread's worker cannot be awaited: watch it go to sleep on the test clock.
        wait_until(lambda: clock._sleepers, timeout=30, what="the worker to sleep")
        assert not finished.is_set()
        clock.advance(300)
        assert finished.wait(30), "the worker did not fire the tick the clock reached"
    finally:
        worker.stop()
        thread.join()
    assert _ticks(client, "every-5-min") == [T0 + 300]


def test_a_scheduled_job_is_not_called_directly(make_client: MakeClient) -> None:
    client, _ = _interval_app(make_client)
    with pytest.raises(TypeError, match="runs on its schedule \\(every 300 s\\)"):
        client.jobs["every-5-min"]()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: runio.cron_trigger("every monday"), "five fields"),
        (lambda: runio.cron_trigger("0 9 * * 1-5 2027"), "five fields"),
        (lambda: runio.cron_trigger("61 * * * *"), "five fields"),
        (lambda: runio.cron_trigger(""), "needs a cron expression"),
        (lambda: runio.cron_trigger("0 9 * * *", timezone="Mars/Olympus"), "unknown time zone"),
        (lambda: runio.interval_trigger(seconds=0), "whole number of seconds"),
        (lambda: runio.interval_trigger(seconds=1.5), "whole number of seconds"),
        (lambda: runio.interval_trigger(seconds=True), "whole number of seconds"),
        (lambda: runio.interval_trigger(seconds=300, missed="later"), "'skip'"),  # type: ignore[arg-type]
        (lambda: runio.interval_trigger(seconds=300, max_catch_up=3), "missed='catch_up'"),
        (
            lambda: runio.interval_trigger(seconds=300, missed="catch_up", max_catch_up=0),
            "from 1 to",
        ),
        (lambda: runio.event_trigger("schedule:mine"), "belong to schedules"),
    ],
)
def test_bad_schedules_are_refused_with_what_to_write_instead(
    make: Callable[[], Any], message: str
) -> None:
    with pytest.raises(JobDefinitionError, match=message):
        make()


def test_aliases_and_next_fire_times(clock: TestClock) -> None:
    daily = runio.cron_trigger("@daily", timezone="Europe/Paris")
    assert [t.isoformat() for t in daily.next_times(T0, 2)] == [
        "2027-01-16T00:00:00+01:00",
        "2027-01-17T00:00:00+01:00",
    ]
    hourly = runio.interval_trigger(seconds=3600)
    assert hourly.next_after(T0) == T0 + 3600  # T0 is on the hour


def test_a_worker_with_every_slot_busy_still_fires_ticks_on_time(
    make_client: MakeClient, clock: TestClock
) -> None:
    client = make_client()
    release = threading.Event()

    @client.define_job(id="busy", trigger=runio.event_trigger("busy"))
    def busy(payload: dict[str, Any], io: runio.SyncIO) -> None:
        io.run_task("block", lambda task: release.wait(60))

    @client.define_job(id="ticker", trigger=runio.interval_trigger(seconds=60))
    async def ticker(tick: runio.ScheduledTick, io: runio.IO) -> float:
        return tick.timestamp

    client.run_worker(until_idle=True)  # the schedule starts at T0
    client.send_event("busy", {})
    worker = client.worker(concurrency=1, until_idle=True)
    thread = threading.Thread(target=lambda: asyncio.run(worker.run()))
    thread.start()
    try:
        # The one slot is taken by "busy"; watch the worker wait for it and for the next tick.
        wait_until(lambda: clock._sleepers, timeout=30, what="the worker to wait")
        clock.advance(60)
        wait_until(lambda: client.list_runs(job_id="ticker"), timeout=30, what="the tick to fire")
        assert [r.status for r in client.list_runs(job_id="busy")] == ["EXECUTING"]
    finally:
        release.set()
        thread.join()
    assert _ticks(client, "ticker") == [T0 + 60]
    assert {r.job_id: r.status for r in client.list_runs()} == {
        "ticker": "COMPLETED",
        "busy": "COMPLETED",
    }
