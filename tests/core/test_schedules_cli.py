"""``runio schedules APP``: each scheduled job, its last fired tick and its next fire times."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import runio
from runio.cli import cli
from runio.testing import TestClock

APP = """
import runio

client = runio.Client(id="sched-app")


@client.define_job(
    id="weekday-report", trigger=runio.cron_trigger("0 9 * * 1-5", timezone="Europe/Paris")
)
async def weekday_report(payload: runio.ScheduledTick, io: runio.IO) -> None:
    return None


@client.define_job(
    id="every-minute",
    trigger=runio.interval_trigger(seconds=60, missed="catch_up", max_catch_up=5),
)
async def every_minute(payload: runio.ScheduledTick, io: runio.IO) -> None:
    return None


@client.define_job(id="on-event", trigger=runio.event_trigger("something.happened"))
async def on_event(payload: dict, io: runio.IO) -> None:
    return None
"""


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "empty.py").write_text(
        "import runio\nclient = runio.Client(id='plain')\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            if name.startswith("runio_app_"):
                del sys.modules[name]


def _runio(directory: Path, *args: str) -> Result:
    runner = CliRunner(env={"RUNIO_DATABASE_URL": f"sqlite:///{directory / 'runio.db'}"})
    result = runner.invoke(cli, list(args), prog_name="runio")
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_schedules_lists_each_scheduled_job_with_its_next_fire_times(app_dir: Path) -> None:
    before = time.time()
    rows = json.loads(_runio(app_dir, "schedules", "app.py:client", "--json", "-n", "4").stdout)
    assert [r["job"] for r in rows] == ["weekday-report", "every-minute"]
    report, minute = rows
    assert report["schedule"] == "cron 0 9 * * 1-5 (Europe/Paris)"
    assert (report["missed"], report["last_fired"]) == ("skip", None)
    times = [datetime.fromisoformat(t) for t in report["next"]]
    assert len(times) == 4 and times == sorted(times) and times[0].timestamp() > before
    for t in times:
        assert (t.hour, t.minute, t.weekday() < 5) == (9, 0, True)
        assert t.utcoffset() is not None and t.utcoffset().total_seconds() in (3600, 7200)
    assert (minute["missed"], minute["max_catch_up"]) == ("catch_up", 5)
    gaps = {
        (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()
        for a, b in zip(minute["next"], minute["next"][1:], strict=False)
    }
    assert gaps == {60.0}

    text = _runio(app_dir, "schedules", "app.py:client").stdout
    assert "weekday-report  cron 0 9 * * 1-5 (Europe/Paris), missed ticks: skip" in text
    assert "every-minute  every 60 s, missed ticks: catch up (at most 5)" in text
    assert "last fired  never" in text
    assert "on-event" not in text


def test_schedules_shows_the_last_tick_a_worker_fired(app_dir: Path) -> None:
    # Another worker of the app, on a test clock, fires one tick of every-minute.
    start = 1_800_000_000.0
    clock = TestClock(start=start)
    with runio.Client(
        "sched-app", database_url=f"sqlite:///{app_dir / 'runio.db'}", clock=clock
    ) as worker_app:

        @worker_app.define_job(
            id="every-minute",
            trigger=runio.interval_trigger(seconds=60, missed="catch_up", max_catch_up=5),
        )
        async def every_minute(payload: runio.ScheduledTick, io: runio.IO) -> None:
            return None

        worker_app.run_worker(until_idle=True)
        clock.advance(60)
        worker_app.run_worker(until_idle=True)
    rows = json.loads(_runio(app_dir, "schedules", "app.py:client", "--json").stdout)
    by_job = {r["job"]: r for r in rows}
    assert by_job["every-minute"]["last_fired"] == "2027-01-15T08:01:00+00:00"
    assert by_job["weekday-report"]["last_fired"] is None


def test_schedules_of_an_app_without_any_says_how_to_add_one(app_dir: Path) -> None:
    text = _runio(app_dir, "schedules", "empty.py:client").stdout
    assert "App 'plain' has no scheduled jobs" in text
    assert "runio.cron_trigger(" in text
