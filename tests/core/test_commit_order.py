"""A task's result is committed before the job goes past its ``await``, whichever thread commits it.

A worker running a single execution lets the SQLite store commit that execution's writes on the
calling thread (``runio.storage.alone_in_worker``), those that wait for an fsync only while
fsyncs are fast; otherwise the store's writer thread commits them, grouping concurrent writes.
Both paths keep the same promises, proved here from a second connection that sees only what is
committed, read without yielding to the event loop:

- when ``await io.run_task`` returns, the result is stored (async and plain task functions, one
  run alone or several sharing the worker, at each durability, SQLite and PostgreSQL);
- a write queued before an awaited write is applied first, also when the awaited one goes on the
  calling thread;
- a durable commit goes to the writer thread while the disk's fsyncs are slow, while runs share
  the worker, and when another process holds the database's lock (the loop never waits for it);
- a failed commit on the calling thread reaches the caller, and its run resumes and calls the
  task function again rather than losing the result;
- a worker killed after a task function returned but before its result was committed loses
  nothing: the next worker runs the task again, told that an earlier attempt's outcome is
  unknown.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procs import read_lines, running, sender, wait_for_status, wait_until

import runio
from runio.errors import StoreError
from runio.storage import Store, _sqlite, alone_in_worker, create_store
from runio.storage._faults import FaultPoint, WriteKind
from runio.testing import TestClock

pytestmark = pytest.mark.timeout(120)


def _committed_reader(db_url: str) -> Callable[[str], tuple[str, str | None] | None]:
    """Reads a task's status and output over a connection of its own (committed rows only),
    blocking: the event loop gets no turn while it reads."""
    if db_url.startswith("sqlite:///"):
        path = db_url.removeprefix("sqlite:///")

        def read_sqlite(task_id: str) -> tuple[str, str | None] | None:
            conn = sqlite3.connect(path)
            try:
                row = conn.execute(
                    "SELECT status, output FROM tasks WHERE id = ?", (task_id,)
                ).fetchone()
            finally:
                conn.close()
            return None if row is None else (str(row[0]), row[1])

        return read_sqlite

    def read_postgres(task_id: str) -> tuple[str, str | None] | None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT status, output FROM tasks WHERE id = %s", (task_id,)
            ).fetchone()
        if row is None:
            return None
        output = row[1]
        return str(row[0]), output if output is None or isinstance(output, str) else repr(output)

    return read_postgres


async def _answer(task: runio.Task) -> str:
    return f"answer of {task.cache_key}"


FUNCTIONS: dict[str, Callable[[runio.Task], Any]] = {
    "async def": _answer,
    "lambda": lambda task: f"answer of {task.cache_key}",
}


@pytest.mark.parametrize("durability", ["default", "synchronous=normal"])
@pytest.mark.parametrize("runs", [1, 3], ids=["one run alone", "three runs at once"])
@pytest.mark.parametrize("kind", list(FUNCTIONS))
def test_a_result_is_stored_before_the_job_goes_past_its_await(
    make_client: Callable[..., runio.Client], db_url: str, kind: str, runs: int, durability: str
) -> None:
    query = ""
    if durability != "default":
        if not db_url.startswith("sqlite"):
            pytest.skip("synchronous=normal is a SQLite setting")
        query = "?synchronous=normal"
    client = make_client(database_url=db_url + query)
    read = _committed_reader(db_url)
    fn = FUNCTIONS[kind]
    seen: list[tuple[str, Any]] = []
    ids: dict[tuple[str, str], str] = {}

    def remember(task: runio.Task) -> Any:
        ids[(task.run_id, str(task.cache_key))] = task.id
        return fn(task)

    @client.define_job(id="steps", trigger=runio.event_trigger("go"))
    async def steps(payload: Any, io: runio.IO, ctx: runio.RunContext) -> list[str]:
        out = []
        for key in ("a", "b", "c"):
            value = await io.run_task(key, remember)
            seen.append((value, read(ids[(ctx.run_id, key)])))
            out.append(value)
        return out

    run_ids = [client.send_event("go").run_ids[0] for _ in range(runs)]
    client.run_worker(until_idle=True)

    for run_id in run_ids:
        assert client.get_run(run_id).output == ["answer of a", "answer of b", "answer of c"]
    assert len(seen) == 3 * runs
    for value, stored in seen:
        assert stored is not None, f"{value!r} was returned before its task row was committed"
        status, output = stored
        assert status == "COMPLETED"
        assert output is not None and value in output


# -- the store, with its calling thread allowed to commit ----------------------------------------


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    # synchronous=normal: its durable commits wait for no fsync, so they may go inline
    opened = create_store(sqlite_url + "?synchronous=normal")
    await opened.upgrade()
    await opened.execute_raw("CREATE TABLE seq (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield opened
    await opened.close()


@pytest.mark.anyio
async def test_a_write_handed_to_the_writer_thread_stays_ahead_of_a_later_one_committed_inline(
    store: Store, sqlite_url: str
) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the writer thread's next transaction has to wait
    first = asyncio.ensure_future(store.execute_raw("INSERT INTO seq (v) VALUES ('first')"))
    await asyncio.sleep(0)  # one loop turn: the first write is now in the writer's hands
    release = threading.Timer(0.1, lambda: other.execute("COMMIT"))
    release.start()
    token = alone_in_worker.set(lambda: True)
    try:
        await store.execute_raw("INSERT INTO seq (v) VALUES ('second')")
        await first
    finally:
        alone_in_worker.reset(token)
        release.join()
        other.close()
    assert await store.execute_raw("SELECT v FROM seq ORDER BY n") == [("first",), ("second",)]


@pytest.mark.anyio
async def test_writes_made_on_the_loop_in_a_row_still_give_it_a_turn_now_and_then(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write committed on the event loop's thread returns without a loop turn when the loop
    had one less than ``YIELD_EVERY`` ago, and gives it one otherwise: a run making writes in a
    row never keeps timers and I/O waiting longer than that."""
    alone_in_worker.set(lambda: True)  # in this test's own context
    loop = asyncio.get_running_loop()
    ran: list[int] = []
    writes = 0

    async def write() -> None:
        nonlocal writes
        await store.execute_raw("INSERT INTO seq (v) VALUES ('x')")
        writes += 1

    monkeypatch.setattr(_sqlite, "YIELD_EVERY", 3600.0)
    await write()  # the loop's turns are watched from here
    loop.call_soon(lambda: ran.append(writes))
    for _ in range(20):
        await write()
    assert ran == []  # twenty writes, no turn: the watch began less than an hour ago
    monkeypatch.setattr(_sqlite, "YIELD_EVERY", 0.0)
    await write()
    assert ran == [21]  # the callback ran during the 22nd write, before it returned
    assert await store.execute_raw("SELECT count(*) FROM seq") == [(22,)]


@pytest.mark.anyio
async def test_a_write_after_the_loop_had_a_turn_by_itself_gives_it_none(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn the loop took by itself (the run awaited something between two writes, as a
    vendor's answer) counts: the next write does not give it another, however long ago the
    watch began; writes in a row after it do again."""
    alone_in_worker.set(lambda: True)  # in this test's own context
    monkeypatch.setattr(_sqlite, "YIELD_EVERY", 0.0)
    loop = asyncio.get_running_loop()
    ran: list[str] = []
    insert = "INSERT INTO seq (v) VALUES ('x')"
    await store.execute_raw(insert)  # watched from here
    await asyncio.sleep(0.01)  # the loop's own turns, as while awaiting a vendor
    loop.call_soon(lambda: ran.append("turn"))
    await store.execute_raw(insert)
    assert ran == []  # the loop had its turn during the sleep: none given here
    await store.execute_raw(insert)
    assert ran == ["turn"]  # a second write in a row: no turn since the first, one given
    assert await store.execute_raw("SELECT count(*) FROM seq") == [(3,)]


@pytest.mark.anyio
async def test_another_loops_writes_in_between_neither_hide_nor_give_this_loop_a_turn(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two event loops on two threads write through one store (two workers in one process,
    say): a write of the other loop's, and that loop's own turns, between two writes of this
    loop's do not spare this loop the turn it is due."""
    alone_in_worker.set(lambda: True)  # in this test's own context
    monkeypatch.setattr(_sqlite, "YIELD_EVERY", 0.0)
    insert = "INSERT INTO seq (v) VALUES ('x')"
    loop = asyncio.get_running_loop()
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()

    async def write_there() -> None:
        alone_in_worker.set(lambda: True)  # in the other loop's task's context
        await store.execute_raw(insert)
        await asyncio.sleep(0)  # and that loop has a turn of its own

    ran: list[str] = []
    try:
        await store.execute_raw(insert)  # this loop is watched from here
        loop.call_soon(lambda: ran.append("turn"))
        # this loop blocks (no turn) while the other one writes
        asyncio.run_coroutine_threadsafe(write_there(), other).result(timeout=30)
        await store.execute_raw(insert)
        assert ran == ["turn"]  # this loop had none since its first write: given one
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join()
        other.close()
    assert await store.execute_raw("SELECT count(*) FROM seq") == [(3,)]


@pytest.mark.anyio
async def test_a_failed_commit_on_the_calling_thread_raises_to_the_caller(store: Store) -> None:
    alone_in_worker.set(lambda: True)  # in this test's own context
    # Twice: a failed batch is replayed one write at a time, and that commit fails too.
    store.faults.arm(FaultPoint.BEFORE_COMMIT, WriteKind.OPERATION, times=2)
    with pytest.raises(StoreError, match="fault point before-commit"):
        await store.execute_raw("INSERT INTO seq (v) VALUES ('lost')")
    assert store.faults.fired == [(FaultPoint.BEFORE_COMMIT, WriteKind.OPERATION)] * 2
    await store.execute_raw("INSERT INTO seq (v) VALUES ('kept')")
    assert await store.execute_raw("SELECT v FROM seq") == [("kept",)]


@pytest.mark.anyio
@pytest.mark.parametrize("query", ["", "?synchronous=normal"], ids=["default", "normal"])
@pytest.mark.parametrize("point", [FaultPoint.BEFORE_COMMIT, FaultPoint.AFTER_COMMIT])
async def test_a_result_whose_commit_failed_is_computed_again_not_lost(
    sqlite_url: str, point: FaultPoint, query: str
) -> None:
    """The task function returned, then its result's commit failed (before it, or with its
    answer lost): the run stops there, and its next execution calls the function again (or
    finds the result stored) and completes with it."""
    clock = TestClock(start=1_800_000_000.0)
    client = runio.Client("app", database_url=sqlite_url + query, clock=clock)
    calls: Counter[str] = Counter()

    def step(name: str) -> Callable[[runio.Task], str]:
        def fn(task: runio.Task) -> str:
            calls[name] += 1
            return f"{name}-{calls[name]}"

        return fn

    @client.define_job(id="steps", trigger=runio.event_trigger("go"))
    async def steps(payload: Any, io: runio.IO) -> list[str]:
        return [await io.run_task(k, step(k)) for k in ("a", "b")]

    try:
        run_id = (await client.send_event_async("go")).run_ids[0]
        run, outcomes = await _through_a_failed_commit(
            client, clock, run_id, point, WriteKind.COMPLETE, until="COMPLETED"
        )
        assert outcomes == ["store_failed", "COMPLETED"]
        assert run.status == "COMPLETED", run.error
        a = run.task("a")
        if point is FaultPoint.BEFORE_COMMIT:
            assert calls == {"a": 2, "b": 1}  # a's first result never reached the database
            assert run.output == ["a-2", "b-1"]
        else:
            assert calls == {"a": 1, "b": 1}  # stored, though its answer was lost
            assert run.output == ["a-1", "b-1"]
        assert a.status == "COMPLETED" and a.output == run.output[0]
    finally:
        await asyncio.to_thread(client.close)


async def _through_a_failed_commit(
    client: runio.Client,
    clock: TestClock,
    run_id: str,
    point: FaultPoint,
    kind: WriteKind,
    *,
    until: str,
) -> tuple[runio.Run, list[str]]:
    """Arm ``point`` for the commit of the run's first write of ``kind``, then run workers
    until the run is in status ``until`` (at most three, each after the lease of a failed
    execution ran out): the run and the outcomes its executions reported."""
    # BEFORE_COMMIT twice: a failed batch is replayed one write at a time, and fails again
    times = 2 if point is FaultPoint.BEFORE_COMMIT else 1
    client.store.faults.arm(point, kind, times=times)
    outcomes: list[str] = []
    for _ in range(3):
        await client.run_worker_async(
            until_idle=True,
            max_store_failures=5,
            on_run_finished=lambda _run_id, outcome: outcomes.append(outcome),
        )
        run = await client.get_run_async(run_id)
        if run.status == until:
            break
        clock.advance(60)
    assert client.store.faults.fired == [(point, kind)] * times
    return run, outcomes


def _napper(sqlite_url: str, clock: TestClock, *, delayed: bool = False) -> runio.Client:
    """A client whose job waits a minute, then returns "rested"; ``delayed``: whose job's task
    "nap" returns it, started a minute later (``delay_until``)."""
    client = runio.Client("app", database_url=sqlite_url, clock=clock)
    in_a_minute = datetime.fromtimestamp(clock.now() + 60, UTC)

    @client.define_job(id="napper", trigger=runio.event_trigger("go"))
    async def napper(payload: Any, io: runio.IO) -> str:
        if delayed:
            return await io.run_task("nap", lambda task: "rested", delay_until=in_a_minute)
        await io.wait("nap", 60)
        return "rested"

    return client


def _durable_commits(statements: list[str], since: int) -> int:
    """How many of these statements (a connection's, in order, traced from a moment its
    ``synchronous`` level was FULL, 2: the level is followed from there), from index ``since``
    on, committed with ``synchronous=FULL`` or more: ``COMMIT`` and single-statement writes in
    autocommit."""
    level, in_transaction, durable = 2, False, 0
    for index, sql in enumerate(statements):
        if index == since:
            durable = 0
        word = sql.split(None, 1)[0].upper()
        if sql.upper().startswith("PRAGMA SYNCHRONOUS="):
            level = int(sql.split("=", 1)[1])
        elif word == "BEGIN":
            in_transaction = True
        elif word in ("COMMIT", "ROLLBACK"):
            durable += word == "COMMIT" and level >= 2
            in_transaction = False
        elif not in_transaction and word in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            durable += level >= 2
    return durable


@pytest.mark.anyio
@pytest.mark.parametrize("delayed", [False, True], ids=["wait", "delay_until"])
async def test_a_run_that_reaches_a_wait_pauses_with_one_durable_commit(
    sqlite_url: str, delayed: bool
) -> None:
    """The wait's record (or a delayed task's) is written ahead of the pause, not with a
    power-safe commit of its own: the pause's durable commit covers it. The run is then
    WAITING until its time."""
    clock = TestClock(start=1_800_000_000.0)
    client = _napper(sqlite_url, clock, delayed=delayed)
    try:
        run_id = (await client.send_event_async("go")).run_ids[0]
        statements: list[str] = []  # traced from here: the event's durable commit left FULL
        conn = client.store._runner._conn  # type: ignore[attr-defined]
        conn.set_trace_callback(lambda sql: statements.append(" ".join(sql.split())))
        await client.run_worker_async(until_idle=True)
        conn.set_trace_callback(None)
        run = await client.get_run_async(run_id)
        assert (run.status, run.ready_at) == ("WAITING", clock.now() + 60)
        (nap,) = run.tasks
        assert (nap.cache_key, nap.status) == ("nap", "WAITING")
        assert (nap.retry_at if delayed else nap.wake_at) == clock.now() + 60
        # From the claim on: the worker registered its jobs before, with a commit of its own.
        claimed = next(i for i, s in enumerate(statements) if "status='EXECUTING'" in s)
        assert any(s.startswith("INSERT INTO tasks") for s in statements[claimed:]), statements
        assert _durable_commits(statements, claimed) == 1, statements  # the pause's
        clock.advance(60)
        await client.run_worker_async(until_idle=True)
        assert (await client.get_run_async(run_id)).output == "rested"
    finally:
        await asyncio.to_thread(client.close)


@pytest.mark.anyio
@pytest.mark.parametrize("point", [FaultPoint.BEFORE_COMMIT, FaultPoint.AFTER_COMMIT])
async def test_a_wait_whose_record_failed_is_recorded_again_and_the_run_pauses_then(
    sqlite_url: str, point: FaultPoint
) -> None:
    """The wait's record is not awaited: when its commit fails (before it, or with its answer
    lost), the pause that follows is refused, the run stops there, and its next execution
    records the wait (or finds it stored) and pauses. Nothing is lost either way."""
    clock = TestClock(start=1_800_000_000.0)
    client = _napper(sqlite_url, clock)
    try:
        run_id = (await client.send_event_async("go")).run_ids[0]
        run, outcomes = await _through_a_failed_commit(
            client, clock, run_id, point, WriteKind.WAIT, until="WAITING"
        )
        assert outcomes[0] == "store_failed"
        assert run.status == "WAITING", (outcomes, run.error)
        (nap,) = run.tasks
        assert (nap.cache_key, nap.status) == ("nap", "WAITING")
        assert nap.wake_at is not None and run.ready_at == nap.wake_at
        clock.advance(nap.wake_at - clock.now())
        await client.run_worker_async(until_idle=True)
        assert (await client.get_run_async(run_id)).output == "rested"
    finally:
        await asyncio.to_thread(client.close)


# -- which thread commits: the caller's while fsyncs are fast and the database is free ----------


@pytest.fixture
async def full_store(sqlite_url: str) -> AsyncIterator[Store]:
    """A store at the default durability, whose commits record the thread that made them."""
    opened = create_store(sqlite_url)
    await opened.upgrade()
    await opened.execute_raw("CREATE TABLE seq (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    conn = opened._runner._conn  # type: ignore[attr-defined]
    conn.create_function("writer", 0, lambda: threading.current_thread().name)
    yield opened
    await opened.close()


async def _committed_by(store: Store) -> str:
    await store.execute_raw("INSERT INTO seq (v) VALUES (writer())")
    ((name,),) = await store.execute_raw("SELECT v FROM seq ORDER BY n DESC LIMIT 1")
    return str(name)


@pytest.mark.anyio
async def test_durable_commits_are_made_on_the_calling_thread_while_fsyncs_are_fast(
    full_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone_in_worker.set(lambda: True)  # in this test's own context
    here = threading.current_thread().name
    # (the schema's creation took long commits: what counts as fast is set for the test)
    monkeypatch.setattr(_sqlite, "INLINE_COMMIT_MAX", 60.0)
    assert await _committed_by(full_store) == here
    # A slow disk: every fsync now takes longer than a commit on the event loop may.
    monkeypatch.setattr(_sqlite, "INLINE_COMMIT_MAX", 0.0)
    assert await _committed_by(full_store) == "runio-sqlite"
    assert await _committed_by(full_store) == "runio-sqlite"
    monkeypatch.setattr(_sqlite, "INLINE_COMMIT_MAX", 60.0)  # fast again
    assert await _committed_by(full_store) == here


@pytest.mark.anyio
async def test_durable_commits_of_runs_sharing_the_worker_go_to_the_writer_thread(
    full_store: Store,
) -> None:
    token = alone_in_worker.set(lambda: False)
    try:
        assert await _committed_by(full_store) == "runio-sqlite"
    finally:
        alone_in_worker.reset(token)


@pytest.mark.anyio
async def test_a_write_finding_the_database_locked_waits_on_the_writer_thread_not_the_loop(
    full_store: Store, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock: the write is handed to the writer thread, and the
    event loop goes on (here: it runs the callback that releases the lock; were the loop
    waiting for the lock itself, the write could never finish)."""
    alone_in_worker.set(lambda: True)
    monkeypatch.setattr(_sqlite, "INLINE_COMMIT_MAX", 60.0)
    assert await _committed_by(full_store) == threading.current_thread().name
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(
            full_store.execute_raw("INSERT INTO seq (v) VALUES (writer())")
        )
        asyncio.get_running_loop().call_soon(other.execute, "COMMIT")
        await asyncio.wait_for(write, 30)
    finally:
        other.close()
    assert await full_store.execute_raw("SELECT v FROM seq ORDER BY n DESC LIMIT 1") == [
        ("runio-sqlite",)
    ]


# -- a worker killed after its task function returned, before the result was committed ----------

_APP = """
import os
import time
from pathlib import Path

import runio

HERE = Path(__file__).resolve().parent
client = runio.Client(id="commit-app")


def note(line: str) -> None:
    with open(HERE / "side.log", "a", encoding="utf-8") as f:
        f.write(line + "\\n")
        f.flush()
        os.fsync(f.fileno())


def step(name: str):
    def fn(task: runio.Task) -> str:
        note(f"start {name} attempt={task.attempt} unknown={task.outcome_unknown}")
        if name == "a" and task.attempt == 1:
            deadline = time.monotonic() + 60  # never outlive a failed test by much
            while not (HERE / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        note(f"returned {name} attempt={task.attempt}")
        return f"{name} from attempt {task.attempt}"
    return fn


@client.define_job(id="two-steps", trigger=runio.event_trigger("two"))
async def two_steps(payload: dict, io: runio.IO) -> list[str]:
    return [await io.run_task(k, step(k)) for k in ("a", "b")]
"""


@pytest.mark.slow
def test_a_worker_killed_between_a_task_returning_and_its_commit_runs_the_task_again(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.py").write_text(_APP, encoding="utf-8")
    side = tmp_path / "side.log"
    db_path = tmp_path / "runio.db"

    with (
        running(tmp_path) as procs,
        sender(procs.database_url, "commit-app", {"two-steps": "two"}) as client,
    ):
        run_id = client.send_event("two", {}).run_ids[0]

        def stored(key: str) -> list[tuple[str, int]]:
            """Task ``key``'s attempts, as the run's readers (dashboard, API) see them."""
            tasks = [t for t in client.get_run(run_id).tasks if t.cache_key == key]
            return [(a.status, a.number) for t in tasks for a in t.attempts]

        first = procs.start("worker", "app.py:client", "--lease-seconds", "1", name="first")
        wait_until(
            lambda: stored("a") == [("STARTED", 1)],
            timeout=30,
            what="task a's attempt to be stored",
            detail=procs.outputs,
        )
        # Hold the database's write lock: the worker's commit of a's result has to wait.
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            (tmp_path / "go").touch()
            wait_until(
                lambda: "returned a attempt=1" in read_lines(side),
                timeout=30,
                what="task a to return",
                detail=procs.outputs,
            )
            first.send(signal.SIGKILL)
            assert first.wait_exit(10) == -signal.SIGKILL
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert stored("a") == [("STARTED", 1)]  # the result never reached the database

        second = procs.start("worker", "app.py:client", "--lease-seconds", "1", name="second")
        (run,) = wait_for_status(client, [run_id], {"COMPLETED", "FAILED"}, timeout=30)
        second.send(signal.SIGTERM)
        assert second.wait_exit(15) == 0, procs.outputs()
        assert stored("a") == [("ERRORED", 1), ("COMPLETED", 2)]

    assert run.status == "COMPLETED", run.error
    assert run.output == ["a from attempt 2", "b from attempt 1"]
    assert read_lines(side) == [
        "start a attempt=1 unknown=False",
        "returned a attempt=1",
        "start a attempt=2 unknown=True",
        "returned a attempt=2",
        "start b attempt=1 unknown=False",
        "returned b attempt=1",
    ]
