"""Scale-out on PostgreSQL with real worker processes: three workers share 1,000 runs; the server
restarts under load; a worker killed with SIGKILL has its runs resumed by another once the lease
expires, and its late writes are rejected.

Each task function appends a line to a side file of its own process (``side-<pid>.log``) with a
nonce it also returns, so the test sees every execution independently of what runio recorded:
the nonce stored as a task's output must be the last execution of that task, or a completed
task's function ran again. Lines are written without fsync: they only need to survive the
process (a SIGKILL), not the machine.
"""

from __future__ import annotations

import asyncio
import json
import signal
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import PostgresServer
from procs import Proc, Procs, read_lines, sender, wait_until

from runio._records import Lease
from runio.errors import LeaseLostError
from runio.storage import create_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

_APP = """
import os
import time
import uuid
from pathlib import Path

import runio

HERE = Path(__file__).resolve().parent
GO = HERE / "go"


def note(task: runio.Task) -> str:
    nonce = uuid.uuid4().hex
    with open(HERE / f"side-{os.getpid()}.log", "a", encoding="utf-8") as f:
        f.write(f"{task.run_id} {task.cache_key} {task.attempt} {nonce} {time.time()!r} "
                f"{os.getpid()}\\n")
    return nonce


client = runio.Client(id="scale-app")


async def quick(task: runio.Task) -> str:
    return note(task)


def blocking(task: runio.Task) -> str:
    nonce = note(task)
    if (HERE / "block").exists():
        deadline = time.monotonic() + 60  # never outlive a failed test by much
        while not GO.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        time.sleep(0.002)  # a little work in a thread, so runs interleave
    return nonce


@client.define_job(id="three-steps", trigger=runio.event_trigger("go"))
async def three_steps(payload: dict, io: runio.IO) -> dict:
    first = await io.run_task("step-1", quick)
    second = await io.run_task("step-2", blocking)
    third = await io.run_task("step-3", quick)
    return {"i": payload["i"], "nonces": [first, second, third]}
"""

STEPS = ("step-1", "step-2", "step-3")


@dataclass
class Execution:
    run_id: str
    step: str
    attempt: int
    nonce: str
    at: float
    pid: int


def executions(directory: Path) -> list[Execution]:
    found = []
    for side in sorted(directory.glob("side-*.log")):
        for line in read_lines(side):
            run_id, step, attempt, nonce, at, pid = line.split()
            found.append(Execution(run_id, step, int(attempt), nonce, float(at), int(pid)))
    return found


class Db:
    """The test's own view of the database, reconnecting after a server restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: psycopg.Connection[Any] | None = None

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        for attempt in range(50):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                return self.conn.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                self.conn = None
                if attempt == 49:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def statuses(self) -> Counter[str]:
        return Counter(dict(self.rows("SELECT status, count(*) FROM runs GROUP BY status")))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@pytest.fixture
def procs(tmp_path: Path, postgres_url: str) -> Iterator[Procs]:
    (tmp_path / "app.py").write_text(textwrap.dedent(_APP), encoding="utf-8")
    started = Procs(tmp_path, postgres_url)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def db(postgres_url: str) -> Iterator[Db]:
    view = Db(postgres_url)
    yield view
    view.close()


def start_workers(procs: Procs, count: int, *options: str) -> list[Proc]:
    workers = [
        procs.start("worker", "app.py:client", *options, name=f"worker-{i}") for i in range(count)
    ]
    for w in workers:
        wait_until(
            lambda w=w: "runio worker" in w.stdout_path.read_text(),  # type: ignore[misc]
            timeout=30,
            what=f"{w.name} to start",
            detail=procs.outputs,
        )
    return workers


def send_events(url: str, count: int, first: int = 0) -> list[str]:
    """Send ``count`` events at once from this process (a web app, say); the run ids."""

    async def send_all() -> list[str]:
        with sender(url, "scale-app", {"three-steps": "go"}) as client:
            events = await asyncio.gather(
                *(client.send_event_async("go", {"i": i}) for i in range(first, first + count))
            )
        return [e.run_ids[0] for e in events]

    return asyncio.run(send_all())


def prepare_schema(url: str) -> None:
    with sender(url, "scale-app", {"three-steps": "go"}) as client:
        assert client.list_runs() == []


def stop_workers(procs: Procs, workers: list[Proc]) -> None:
    for w in workers:
        assert w.popen.poll() is None, f"{w.name} died\n{procs.outputs()}"
        w.send(signal.SIGTERM)
    for w in workers:
        assert w.wait_exit(30) == 0, procs.outputs()


def check_no_completed_task_ran_again(db: Db, seen: list[Execution]) -> dict[str, Any]:
    """Every stored task result is the last execution of its task; every run's output holds
    its tasks' stored results. Returns figures for the report."""
    by_task: dict[tuple[str, str], list[Execution]] = defaultdict(list)
    for e in seen:
        by_task[(e.run_id, e.step)].append(e)
    stored = {
        (run_id, cache_key.strip('"')): output.strip('"')
        for run_id, cache_key, output in db.rows(
            "SELECT run_id, cache_key, output FROM tasks WHERE status = 'COMPLETED'"
        )
    }
    runs = db.rows("SELECT id, output, execution_count FROM runs")
    assert len(stored) == 3 * len(runs)
    for key, nonce in stored.items():
        ran = sorted(by_task[key], key=lambda e: e.at)
        assert ran, f"task {key} has a stored result but never ran"
        assert ran[-1].nonce == nonce, f"task {key} ran again after its result was stored: {ran}"
    assert set(by_task) == set(stored), "every task that ran belongs to a stored run"
    for run_id, output, _ in runs:
        nonces = json.loads(output)["nonces"]
        assert nonces == [stored[(run_id, step)] for step in STEPS]
    return {
        "executions": len(seen),
        "tasks": len(stored),
        "re-executed tasks": sum(1 for e in by_task.values() if len(e) > 1),
        "runs executed more than once": sum(1 for _, _, n in runs if n > 1),
    }


# -- three workers, 1,000 runs ---------------------------------------------------------------------


def test_three_workers_complete_1000_runs_each_exactly_once(
    procs: Procs, db: Db, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_schema(postgres_url)
    workers = start_workers(procs, 3, "--concurrency", "20")
    started = time.monotonic()
    run_ids = send_events(postgres_url, 1000)
    wait_until(
        lambda: db.statuses()["COMPLETED"] == 1000,
        timeout=180,
        what="1,000 runs to complete",
        detail=lambda: f"{db.statuses()}\n{procs.outputs()}",
    )
    elapsed = time.monotonic() - started
    stop_workers(procs, workers)

    runs = db.rows("SELECT id, status, output, execution_count FROM runs")
    assert sorted(r[0] for r in runs) == sorted(run_ids), "no run lost, none made up"
    assert {r[1] for r in runs} == {"COMPLETED"}
    assert sorted(json.loads(r[2])["i"] for r in runs) == list(range(1000))
    assert {r[3] for r in runs} == {1}, "every run executed exactly once"
    attempts = db.rows("SELECT attempts, count(*) FROM tasks GROUP BY attempts")
    assert attempts == [(1, 3000)]

    seen = executions(tmp_path)
    calls = Counter((e.run_id, e.step) for e in seen)
    assert len(calls) == 3000 and set(calls.values()) == {1}, "each task's function ran once"
    check_no_completed_task_ran_again(db, seen)
    per_worker = Counter(e.pid for e in seen if e.step == "step-1")
    assert set(per_worker) == {w.pid for w in workers}, "all three workers took runs"
    with capsys.disabled():
        print(
            f"\n[3 workers, PostgreSQL] 1,000 runs of 3 tasks in {elapsed:.1f} s "
            f"({1000 / elapsed:.0f} runs/s, send included); runs per worker: "
            f"{sorted(per_worker.values())}"
        )


# -- the server restarts under load ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_workers_reconnect_after_a_server_restart_and_every_run_completes(
    procs: Procs,
    db: Db,
    postgres_url: str,
    postgres_server: PostgresServer,
    tmp_path: Path,
    mode: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``fast``: an orderly restart (sessions ended, checkpoint); ``immediate``: as a crash of
    the server, recovering from its log."""
    prepare_schema(postgres_url)
    workers = start_workers(procs, 3, "--concurrency", "20", "--lease-seconds", "3")
    run_ids = send_events(postgres_url, 600)
    wait_until(
        lambda: db.statuses()["COMPLETED"] >= 100,
        timeout=120,
        what="the load to be under way",
        detail=procs.outputs,
    )
    postgres_server.restart(mode)
    at_restart = db.statuses()
    assert at_restart["COMPLETED"] < 600, "the restart must happen while runs are in flight"
    wait_until(
        lambda: db.statuses()["COMPLETED"] == 600,
        timeout=180,
        what="every run to complete after the restart",
        detail=lambda: f"{db.statuses()}\n{procs.outputs()}",
    )
    # The same processes did it: none exited on the lost connections.
    stop_workers(procs, workers)

    runs = db.rows("SELECT id, status FROM runs")
    assert sorted(r[0] for r in runs) == sorted(run_ids)
    figures = check_no_completed_task_ran_again(db, executions(tmp_path))
    with capsys.disabled():
        print(f"\n[restart {mode}] at the restart: {dict(at_restart)}; {figures}")


# -- a worker killed with SIGKILL ------------------------------------------------------------------


def test_a_killed_workers_runs_resume_elsewhere_after_its_lease_and_its_late_writes_fail(
    procs: Procs, db: Db, postgres_url: str, tmp_path: Path
) -> None:
    prepare_schema(postgres_url)
    (tmp_path / "block").touch()  # step-2 waits for the go file
    (first,) = start_workers(procs, 1, "--lease-seconds", "2")
    run_ids = send_events(postgres_url, 5)

    def blocked() -> bool:
        return sum(1 for e in executions(tmp_path) if e.step == "step-2") == 5

    wait_until(blocked, timeout=60, what="the first worker to start step-2 of 5 runs")
    # A second worker, idle: every run is leased to the first one.
    (second,) = start_workers(procs, 1, "--lease-seconds", "2")
    first.send(signal.SIGKILL)
    assert first.wait_exit(10) == -signal.SIGKILL
    killed_at = time.time()
    leases = {  # as the killed worker left them: no heartbeat extends them any more
        run_id: (owner, token, expires)
        for run_id, owner, token, expires in db.rows(
            "SELECT id, lease_owner, lease_token, lease_expires FROM runs WHERE status = %s",
            ("EXECUTING",),
        )
    }
    assert sorted(leases) == sorted(run_ids)
    assert len({owner for owner, _, _ in leases.values()}) == 1
    (tmp_path / "go").touch()
    wait_until(
        lambda: db.statuses()["COMPLETED"] == 5,
        timeout=60,
        what="the second worker to finish the killed worker's runs",
        detail=procs.outputs,
    )
    stop_workers(procs, [second])

    seen = executions(tmp_path)
    for run_id in run_ids:
        mine = sorted((e for e in seen if e.run_id == run_id), key=lambda e: e.at)
        assert [(e.step, e.attempt, e.pid) for e in mine] == [
            ("step-1", 1, first.pid),
            ("step-2", 1, first.pid),
            ("step-2", 2, second.pid),  # the interrupted task runs again, nothing else does
            ("step-3", 1, second.pid),
        ]
        _, _, expires = leases[run_id]
        assert mine[2].at >= expires, "the run was taken over only once its lease expired"
    assert all(e.at <= killed_at for e in seen if e.pid == first.pid)
    assert db.rows("SELECT DISTINCT execution_count FROM runs") == [(2,)]
    check_no_completed_task_ran_again(db, seen)

    # The killed worker's writes, had they arrived late (a stalled process, a slow network),
    # are all refused and change nothing.
    async def late_writes() -> None:
        store = create_store(postgres_url)
        try:
            before = (
                db.rows("SELECT * FROM runs ORDER BY id"),
                db.rows("SELECT id, status, output FROM tasks ORDER BY id"),
            )
            for run_id in run_ids:
                owner, token, _ = leases[run_id]
                stale = Lease(run_id, owner, token)
                (task_id,) = db.rows(
                    "SELECT id FROM tasks WHERE run_id = %s AND cache_key = '\"step-2\"'",
                    (run_id,),
                )[0]
                with pytest.raises(LeaseLostError):
                    await store.complete_task(
                        stale,
                        task_id=task_id,
                        attempt=1,
                        output='"late"',
                        output_properties=None,
                        now=time.time(),
                    )
                with pytest.raises(LeaseLostError):
                    await store.finish_run(
                        stale, status="FAILED", output=None, error="{}", now=time.time()
                    )
                assert await store.heartbeat([stale], now=time.time(), lease_seconds=2) == {
                    run_id: "lost"
                }
            after = (
                db.rows("SELECT * FROM runs ORDER BY id"),
                db.rows("SELECT id, status, output FROM tasks ORDER BY id"),
            )
            assert after == before
        finally:
            await store.close()

    asyncio.run(late_writes())
