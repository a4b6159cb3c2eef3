"""Concurrency limits across real worker processes on one database (SQLite file and
PostgreSQL): three ``runio worker`` processes race for the runs of a job limited to two at a
time, one of them is killed mid-way, and never more than two runs execute at once; every run
completes.

The job functions of the worker processes note each start and end in a side file under an
exclusive file lock, with the number of runs executing at that moment. This test observes other
processes with the real clock, so it waits for them by polling with a deadline.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from procs import Procs, read_lines, sender, wait_for_status

APP = """
import fcntl
import time
from pathlib import Path

import runio

client = runio.Client(id="flow-app")
SIDE = Path(__file__).resolve().parent / "side.log"


def note(what, n):
    with SIDE.open("a+", encoding="utf-8") as side:
        fcntl.flock(side, fcntl.LOCK_EX)
        side.seek(0)
        lines = [line.split() for line in side.read().splitlines()]
        running = {l[1] for l in lines if l[0] == "start"} - {l[1] for l in lines if l[0] == "end"}
        running = running | {str(n)} if what == "start" else running - {str(n)}
        side.write(f"{what} {n} {len(running)}\\n")
        side.flush()


@client.define_job(id="limited", trigger=runio.event_trigger("go"), concurrency_limit=2)
def limited(payload, io):
    note("start", payload["n"])
    time.sleep(0.15)
    note("end", payload["n"])
    return payload["n"]
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


def test_worker_processes_racing_never_exceed_the_limit(procs: Procs, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    assert procs.run("db", "upgrade").returncode == 0
    with sender(procs.database_url, "flow-app", {"limited": "go"}) as client:
        run_ids = [client.send_event("go", {"n": n}).run_ids[0] for n in range(12)]
        workers = [procs.start("worker", "app.py:client", name=f"worker-{i}") for i in range(3)]
        wait_for_status(client, run_ids[:2], {"COMPLETED"}, timeout=60, detail=procs.outputs)
        workers[0].send(signal.SIGKILL)  # a worker dies; its runs resume when leases run out
        workers[0].wait_exit(10)
        runs = wait_for_status(client, run_ids, {"COMPLETED"}, timeout=120, detail=procs.outputs)
        for w in workers[1:]:
            w.send(signal.SIGTERM)
        for w in workers[1:]:
            assert w.wait_exit(30) == 0, procs.outputs()

    notes = [line.split() for line in read_lines(tmp_path / "side.log")]
    most = max(int(count) for what, _, count in notes if what == "start")
    assert most == 2, f"{most} runs executed at once (limit 2): {notes}"
    assert sorted(run.output for run in runs) == list(range(12))
