"""A write that is all there is to commit goes to SQLite as one statement (``solo``).

When a worker runs one execution, the SQLite store applies its writes on the calling thread; a
task that completed at once is then one ``INSERT … SELECT … FROM runs WHERE <lease holds>``, and
an integration call's recorded start and its completion one statement each, with no ``BEGIN``,
lease ``SELECT`` or ``COMMIT`` of their own. Proved here, from the statements the connection
runs, with each path that must step aside to the full transaction: a lost lease, a canceled
run, a first attempt that has an attempts row, another process holding the database, and a
statement that fails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from runio._records import Event, Lease, LogEntry, NewRun, NewTask
from runio.errors import LeaseLostError, StoreError
from runio.storage import Store
from runio.storage._faults import FaultPoint, WriteKind

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

NOW = 1_800_000_000.0


@pytest.fixture
def store(inline_sqlite_store: Store) -> Store:
    return inline_sqlite_store


class Statements:
    """Every statement the store's connection runs, with the thread that ran it."""

    def __init__(self, store: Store) -> None:
        self.seen: list[tuple[str, str]] = []
        conn = store._runner._conn  # type: ignore[attr-defined]
        conn.set_trace_callback(self._note)

    def _note(self, sql: str) -> None:
        self.seen.append((" ".join(sql.split()), threading.current_thread().name))

    def since(self, mark: int) -> list[str]:
        return [sql for sql, _ in self.seen[mark:] if not sql.startswith("PRAGMA")]


async def _lease(store: Store) -> Lease:
    event = Event("evt_1", "app", "go", {}, NOW, None)
    await store.create_event(event, [NewRun("run_1", "job", "1.0", NOW)], NOW)
    (claimed,) = await store.claim_runs(
        app_id="app", job_ids=["job"], worker_id="w", limit=1, now=NOW, lease_seconds=30
    )
    return claimed.lease


def _task(key: str) -> NewTask:
    return NewTask(
        id=f"task_{key}",
        run_id="run_1",
        parent_id=None,
        idempotency_key=f"idem_{key}",
        cache_key=f'"{key}"',
        kind="task",
        name=key,
        icon=None,
        properties=None,
        params='{"p": 1}',
        style=None,
        redact=None,
        depth=1,
        created_at=NOW,
    )


async def _complete_at_once(store: Store, lease: Lease, key: str, *, plain: bool = False) -> str:
    """A new task whose function returned at once: its start is withdrawn, its row inserted
    finished (what the engine does for such a task). ``plain``: with nothing to show (no
    params), so its row's NULLs are written in the statement rather than bound."""
    task = dataclasses.replace(_task(key), params=None) if plain else _task(key)
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    return await store.complete_task(
        lease, task_id=task.id, attempt=1, output=f'"{key}-out"', output_properties=None, now=NOW
    )


async def _stored(store: Store, key: str) -> tuple[str, str | None, int]:
    rows = await store.execute_raw(
        "SELECT status, output, attempts FROM tasks WHERE id = ?", (f"task_{key}",)
    )
    assert len(rows) == 1, rows
    return rows[0]  # type: ignore[no-any-return]


async def test_a_task_completed_at_once_is_one_statement(store: Store) -> None:
    lease = await _lease(store)
    statements = Statements(store)
    assert await _complete_at_once(store, lease, "a") == "EXECUTING"
    (sql,) = statements.since(0)
    assert sql.startswith("INSERT INTO tasks")
    assert sql.endswith("FROM runs WHERE id = 'run_1' AND lease_token = 1 AND status = 'EXECUTING'")
    assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


_COLUMNS = [
    "id",
    "run_id",
    "parent_id",
    "idempotency_key",
    "cache_key",
    "kind",
    "name",
    "icon",
    "properties",
    "params",
    "style",
    "redact",
    "status",
    "depth",
    "created_at",
    "attempts",
    "started_at",
    "wake_at",
    "output",
    "output_properties",
    "ended_at",
    "description",
    "display_key",
]
_SHOWN = [
    "parent_id",
    "icon",
    "properties",
    "params",
    "style",
    "redact",
    "description",
    "display_key",
    "output_properties",
]


@pytest.mark.parametrize("given", [None, *_SHOWN])
async def test_a_task_completed_at_once_stores_every_column_whatever_it_shows(
    store: Store, given: str | None
) -> None:
    # A plain task's row (top level, nothing to show) has its NULLs written in the statement;
    # a task with any of them binds every column. Both store the same row, in one statement.
    lease = await _lease(store)
    task = dataclasses.replace(_task("a"), params=None)
    if given is not None and given != "output_properties":
        task = dataclasses.replace(task, **{given: f"<{given}>"})
    output_properties = "<output_properties>" if given == "output_properties" else None
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    statements = Statements(store)
    status = await store.complete_task(
        lease,
        task_id=task.id,
        attempt=1,
        output='"out"',
        output_properties=output_properties,
        now=NOW + 1,
    )
    assert status == "EXECUTING"
    assert len(statements.since(0)) == 1
    expected: dict[str, object] = dict.fromkeys(_COLUMNS)
    expected.update(
        id="task_a",
        run_id="run_1",
        idempotency_key="idem_a",
        cache_key='"a"',
        kind="task",
        name="a",
        status="COMPLETED",
        depth=1,
        created_at=NOW,
        attempts=1,
        started_at=NOW,
        output='"out"',
        ended_at=NOW + 1,
    )
    if given is not None:
        expected[given] = f"<{given}>"
    (row,) = await store.execute_raw(f"SELECT {', '.join(_COLUMNS)} FROM tasks")
    assert dict(zip(_COLUMNS, row, strict=True)) == expected


async def test_an_integration_call_s_start_and_end_are_one_statement_each(store: Store) -> None:
    """A recorded start (flushed before the vendor call) and the completion of attempt 1."""
    lease = await _lease(store)
    statements = Statements(store)
    task = _task("call")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.flush()
    (start,) = statements.since(0)
    assert start.startswith("INSERT INTO tasks")
    assert await _stored(store, "call") == ("RUNNING", None, 1)
    mark = len(statements.seen)
    status = await store.complete_task(
        lease, task_id=task.id, attempt=1, output='"done"', output_properties=None, now=NOW + 1
    )
    assert status == "EXECUTING"
    (end,) = statements.since(mark)
    assert end.startswith("UPDATE tasks SET status='COMPLETED'")
    assert await _stored(store, "call") == ("COMPLETED", '"done"', 1)
    assert await store.execute_raw("SELECT count(*) FROM attempts") == [(0,)]


@pytest.mark.parametrize("plain", [False, True], ids=["shown", "plain"])
async def test_a_lost_lease_writes_nothing_and_fails_as_before(store: Store, plain: bool) -> None:
    lease = await _lease(store)
    await store.execute_raw("UPDATE runs SET lease_token = lease_token + 1 WHERE id = 'run_1'")
    statements = Statements(store)
    with pytest.raises(LeaseLostError):
        await _complete_at_once(store, lease, "a", plain=plain)
    # the single statement wrote nothing; the transaction checked the lease and stopped
    assert "BEGIN IMMEDIATE" in statements.since(0)
    assert await store.execute_raw("SELECT count(*) FROM tasks") == [(0,)]


@pytest.mark.parametrize("plain", [False, True], ids=["shown", "plain"])
async def test_a_canceled_run_still_gets_its_result_and_is_told(store: Store, plain: bool) -> None:
    lease = await _lease(store)
    await store.execute_raw("UPDATE runs SET status = 'CANCELED' WHERE id = 'run_1'")
    statements = Statements(store)
    assert await _complete_at_once(store, lease, "a", plain=plain) == "CANCELED"
    assert "BEGIN IMMEDIATE" in statements.since(0)
    assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


async def test_a_first_attempt_with_an_attempts_row_completes_through_the_transaction(
    store: Store,
) -> None:
    """A task created earlier (``delay_until``, say) starts attempt 1 with an attempts row:
    the single statement steps aside and the transaction completes that row too."""
    lease = await _lease(store)
    task = _task("later")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.flush()
    await store.execute_raw(
        "INSERT INTO attempts (task_id, number, status, started_at) VALUES (?, 1, 'STARTED', ?)",
        (task.id, NOW),
    )
    statements = Statements(store)
    await store.complete_task(
        lease, task_id=task.id, attempt=1, output='"x"', output_properties=None, now=NOW + 1
    )
    assert "BEGIN IMMEDIATE" in statements.since(0)
    assert await store.execute_raw("SELECT status, ended_at FROM attempts") == [
        ("COMPLETED", NOW + 1)
    ]


async def test_the_database_locked_by_another_process_sends_it_to_the_writer_thread(
    store: Store, sqlite_url: str
) -> None:
    lease = await _lease(store)
    statements = Statements(store)
    other = sqlite3.connect(Path(sqlite_url.removeprefix("sqlite:///")), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(_complete_at_once(store, lease, "a"))
        # the loop is free while the lock is held: it runs the release
        asyncio.get_running_loop().call_soon(other.execute, "COMMIT")
        assert await asyncio.wait_for(write, 30) == "EXECUTING"
    finally:
        other.close()
    here = threading.current_thread().name
    assert [t for sql, t in statements.seen if sql.startswith("INSERT INTO tasks")] == [
        here,  # the single statement, refused at once by the lock
        "runio-sqlite",  # the write, applied by the writer thread once the lock was free
    ]
    assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


async def test_a_failing_single_statement_leaves_the_transaction_to_report_it(
    store: Store,
) -> None:
    lease = await _lease(store)
    await store.execute_raw(
        "CREATE TRIGGER no_space BEFORE INSERT ON tasks "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with pytest.raises(StoreError, match="disk is full"):
        await _complete_at_once(store, lease, "a")
    await store.execute_raw("DROP TRIGGER no_space")
    assert await _complete_at_once(store, lease, "b") == "EXECUTING"
    assert await store.execute_raw("SELECT id FROM tasks") == [("task_b",)]


async def test_a_completion_carrying_other_writes_is_one_transaction(store: Store) -> None:
    """Log lines queued before the completion: both go in one transaction, not two."""
    lease = await _lease(store)
    statements = Statements(store)
    log = LogEntry("run_1", "", 1, "INFO", "hello", None, NOW)
    store.add_logs(lease, [log])
    assert await _complete_at_once(store, lease, "a") == "EXECUTING"
    seen = statements.since(0)
    assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "COMMIT", seen
    assert await store.execute_raw("SELECT message FROM logs") == [("hello",)]
    assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


async def test_an_armed_fault_point_is_met_by_the_transaction(store: Store) -> None:
    lease = await _lease(store)
    store.faults.arm(FaultPoint.BEFORE_COMMIT, WriteKind.COMPLETE, times=2)
    with pytest.raises(StoreError, match="fault point before-commit"):
        await _complete_at_once(store, lease, "a")
    assert store.faults.fired == [(FaultPoint.BEFORE_COMMIT, WriteKind.COMPLETE)] * 2
    assert await store.execute_raw("SELECT count(*) FROM tasks") == [(0,)]


async def test_at_full_durability_the_statement_commits_at_full_after_a_bookkeeping_commit(
    inline_durable_sqlite_store: Store,
) -> None:
    """A log line committed on its own (bookkeeping: at ``synchronous=1``) leaves the
    connection there; the completion's single statement sets ``synchronous=2`` first, and its
    commit counts in the average that decides whether durable commits stay on this thread."""
    store = inline_durable_sqlite_store
    lease = await _lease(store)
    statements = Statements(store)
    store.add_logs(lease, [LogEntry("run_1", "", 1, "INFO", "hi", None, NOW)])
    await asyncio.sleep(0)  # the next loop turn hands the log over, committed on its own
    assert [sql for sql, _ in statements.seen][-1] == "COMMIT"
    runner = store._runner  # type: ignore[attr-defined]
    assert runner._current_sync == 1  # bookkeeping: no fsync
    average = runner._durable_commit_seconds
    assert await _complete_at_once(store, lease, "a") == "EXECUTING"
    seen = [sql for sql, _ in statements.seen]
    insert = max(i for i, sql in enumerate(seen) if sql.startswith("INSERT INTO tasks"))
    assert [sql for sql in seen[:insert] if sql.startswith("PRAGMA")][-1] == (
        "PRAGMA synchronous=2"
    )
    assert seen[insert:] == [seen[insert]]  # the statement alone: no BEGIN, no COMMIT
    assert runner._current_sync == 2
    assert runner._durable_commit_seconds != average
    assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


async def test_an_execution_refused_after_a_failed_write_gets_no_row(store: Store) -> None:
    """One of the execution's unawaited writes failed: its completion is refused, not written
    as a single statement."""
    lease = await _lease(store)
    store._deferred.failed(lease, RuntimeError("disk I/O error"))  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match="An earlier write of run run_1 failed"):
        await _complete_at_once(store, lease, "a")
    assert await store.execute_raw("SELECT count(*) FROM tasks") == [(0,)]


async def test_a_statement_waits_behind_writes_handed_to_the_thread(store: Store) -> None:
    """While writes handed to the writer thread are not applied yet, a single statement is not
    made on the caller's thread (it would overtake them): the caller makes it as usual."""
    runner = store._runner  # type: ignore[attr-defined]
    with runner._count_lock:
        runner._unapplied += 1  # as if one write were queued for the thread
    try:
        assert runner.solo_inline("SELECT 1", ()) is None
    finally:
        with runner._count_lock:
            runner._unapplied -= 1
    assert runner.solo_inline("SELECT 1", ()) == -1  # made: a statement changing no row


# -- inside a transaction: the lease checked by the statement that writes ------------------------
async def test_a_completion_in_a_transaction_checks_the_lease_in_its_insert(store: Store) -> None:
    """With other writes to commit, the completed row goes in a transaction, still with the
    lease check in the ``INSERT`` itself: no lease ``SELECT`` before it."""
    lease = await _lease(store)
    statements = Statements(store)
    store.add_logs(lease, [LogEntry("run_1", "", 1, "INFO", "hello", None, NOW)])
    assert await _complete_at_once(store, lease, "a") == "EXECUTING"
    seen = statements.since(0)
    assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "COMMIT", seen
    # one lease SELECT: the log line's own; the completion's is in its INSERT
    assert len([sql for sql in seen if sql.startswith("SELECT lease_token")]) == 1, seen
    (insert,) = [sql for sql in seen if sql.startswith("INSERT INTO tasks")]
    assert "lease_token = 1 AND status = 'EXECUTING'" in insert
    assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


@pytest.mark.parametrize("lost", [False, True], ids=["canceled", "lost"])
async def test_a_completion_in_a_transaction_still_tells_a_canceled_run_and_a_lost_lease(
    store: Store, lost: bool
) -> None:
    lease = await _lease(store)
    change = "lease_token = lease_token + 1" if lost else "status = 'CANCELED'"
    await store.execute_raw(f"UPDATE runs SET {change} WHERE id = 'run_1'")
    store.add_logs(lease, [LogEntry("run_1", "", 1, "INFO", "hello", None, NOW)])
    if lost:
        with pytest.raises(LeaseLostError):
            await _complete_at_once(store, lease, "a")
        assert await store.execute_raw("SELECT count(*) FROM tasks") == [(0,)]
    else:  # the result is kept, and the execution learns that the run was canceled
        assert await _complete_at_once(store, lease, "a") == "CANCELED"
        assert await _stored(store, "a") == ("COMPLETED", '"a-out"', 1)


async def test_a_run_s_end_checks_the_lease_in_its_update(store: Store) -> None:
    lease = await _lease(store)
    statements = Statements(store)
    assert await store.finish_run(lease, status="COMPLETED", output="1", error=None, now=NOW)
    seen = statements.since(0)
    assert not [sql for sql in seen if sql.startswith("SELECT lease_token")], seen
    (update,) = [sql for sql in seen if sql.startswith("UPDATE runs")]
    assert "lease_token=1 AND status='EXECUTING'" in update
    assert await store.execute_raw(
        "SELECT status, output, lease_owner FROM runs WHERE id = 'run_1'"
    ) == [("COMPLETED", "1", None)]


async def test_a_new_event_is_inserted_without_looking_for_its_id_first(store: Store) -> None:
    """A new event's row goes in at once (``ON CONFLICT DO NOTHING``); only an id sent before
    is then read back: its stored event is returned, and nothing is written."""
    statements = Statements(store)
    event = Event("evt_1", "app", "go", {"n": 1}, NOW, None)
    stored, created = await store.create_event(event, [NewRun("run_1", "job", "1.0", NOW)], NOW)
    assert created and stored.run_ids == ["run_1"]
    seen = statements.since(0)
    assert not [sql for sql in seen if sql.startswith("SELECT name, payload")], seen
    assert [sql for sql in seen if sql.startswith("INSERT")][:2] == [
        sql for sql in seen if sql.startswith(("INSERT INTO events", "INSERT INTO runs"))
    ]
    again = Event("evt_1", "app", "other", {"n": 2}, NOW + 5, None)
    stored, created = await store.create_event(again, [NewRun("run_2", "job", "1.0", NOW)], NOW)
    assert not created
    assert (stored.name, stored.payload, stored.timestamp, stored.run_ids) == (
        "go",
        {"n": 1},
        NOW,
        ["run_1"],
    )
    assert await store.execute_raw("SELECT id FROM runs") == [("run_1",)]
    assert await store.execute_raw("SELECT name, payload FROM events") == [("go", '{"n": 1}')]
