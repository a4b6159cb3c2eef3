"""Schedules across real worker processes on one database (SQLite file and PostgreSQL): three
``runio worker`` processes race on every tick of a one-second schedule, one is killed and
another started mid-way, and each tick still starts exactly one run that executes once.

This test observes other processes with the real clock (a one-second interval), so it waits
for them by polling with a deadline; every in-process schedule test uses the test clock.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
from procs import Procs, read_lines, wait_until

import runio

APP = """
import os
from pathlib import Path

import runio

client = runio.Client(id="ticking-app")
SIDE = Path(__file__).resolve().parent / "side.log"


@client.define_job(
    id="every-second",
    trigger=runio.interval_trigger(seconds=1, missed="catch_up", max_catch_up=1000),
)
async def every_second(payload: runio.ScheduledTick, io: runio.IO) -> float:
    with SIDE.open("a", encoding="utf-8") as side:
        side.write(f"{payload.timestamp} {os.getpid()}\\n")
    return payload.timestamp
"""


@pytest.fixture(params=["sqlite", "postgres"])
def procs(request: pytest.FixtureRequest, tmp_path: Path) -> Procs:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runio.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    procs = Procs(tmp_path, url)
    request.addfinalizer(procs.kill_all)
    return procs


def test_worker_processes_racing_on_each_tick_start_one_run_per_tick(
    procs: Procs, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    assert procs.run("db", "upgrade").returncode == 0
    with runio.Client("ticking-reader", database_url=procs.database_url) as reader:

        def ticks() -> list[float]:
            runs = reader.list_runs(job_id="every-second", all_apps=True, limit=10_000)
            return [r.payload["timestamp"] for r in runs]

        workers = [procs.start("worker", "app.py:client", name=f"worker-{i}") for i in range(3)]
        wait_until(lambda: len(ticks()) >= 3, timeout=60, what="3 ticks", detail=procs.outputs)
        workers[0].send(signal.SIGKILL)  # a worker dies...
        workers[0].wait_exit(10)
        seen = len(ticks())
        workers.append(procs.start("worker", "app.py:client", name="worker-3"))  # ...one starts
        wait_until(
            lambda: len(ticks()) >= seen + 3, timeout=60, what="3 more ticks", detail=procs.outputs
        )
        for w in workers[1:]:
            w.send(signal.SIGTERM)
        for w in workers[1:]:
            assert w.wait_exit(30) == 0, procs.outputs()
        fired = ticks()
        runs = reader.list_runs(job_id="every-second", all_apps=True, limit=10_000)

    counts = Counter(fired)
    assert max(counts.values()) == 1, f"a tick started several runs: {counts}"
    ordered = sorted(fired)
    assert ordered == [ordered[0] + k for k in range(len(ordered))], f"a tick was lost: {ordered}"
    # Runs fired just before the workers stopped may not have been claimed yet, and a run the
    # killed worker held stays EXECUTING until its lease expires.
    statuses = Counter(r.status for r in runs)
    assert set(statuses) <= {"COMPLETED", "QUEUED", "EXECUTING"}, statuses
    assert statuses["EXECUTING"] <= 1, statuses
    completed = [r.payload["timestamp"] for r in runs if r.status == "COMPLETED"]
    assert len(completed) >= 3, (statuses, procs.outputs())
    executed = Counter(float(line.split()[0]) for line in read_lines(tmp_path / "side.log"))
    assert all(executed[t] >= 1 for t in completed)
    # Only a run the killed worker was executing may have executed twice (resumed elsewhere).
    assert sum(1 for t in completed if executed[t] != 1) <= 1, executed
