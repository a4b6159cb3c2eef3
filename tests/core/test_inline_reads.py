"""A read made by a caller that is alone (``alone_in_worker``) runs on the caller's thread.

A read of an execution alone in its worker, or of a client's sync call alone on its loop, is run
at once under the connection's lock instead of through the database thread; a failing read
reports its error and leaves no transaction open, and a read that finds the database locked by
another process goes to the database thread, which waits for the lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest

from runio.errors import StoreError
from runio.storage import Store

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _reading(store: Any, op: Any) -> Any:
    return store._read(op)  # the store's one read path


async def test_a_read_runs_on_the_callers_thread(inline_sqlite_store: Store) -> None:
    threads: list[str] = []

    def op(conn: sqlite3.Connection) -> int:
        threads.append(threading.current_thread().name)
        return int(conn.execute("SELECT 41 + 1").fetchone()[0])

    assert await _reading(inline_sqlite_store, op) == 42
    assert threads == [threading.current_thread().name]


async def test_a_failing_read_reports_its_error_and_leaves_no_transaction_open(
    inline_sqlite_store: Store,
) -> None:
    def op(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(StoreError, match="no such table: no_such_table"):
        await _reading(inline_sqlite_store, op)
    # a transaction left open would make the next write's BEGIN IMMEDIATE fail
    await inline_sqlite_store.execute_raw("CREATE TABLE t (x)")
    assert await inline_sqlite_store.execute_raw("SELECT count(*) FROM t") == [(0,)]


async def test_a_read_that_finds_the_database_locked_goes_to_the_database_thread(
    inline_sqlite_store: Store,
) -> None:
    threads: list[str] = []

    def op(conn: sqlite3.Connection) -> str:
        threads.append(threading.current_thread().name)
        conn.execute("BEGIN")
        if len(threads) == 1:
            raise sqlite3.OperationalError("database is locked")
        conn.execute("COMMIT")
        return "read"

    assert await _reading(inline_sqlite_store, op) == "read"
    assert threads == [threading.current_thread().name, "runio-sqlite"]


async def test_reads_in_a_row_give_the_event_loop_a_turn(inline_sqlite_store: Store) -> None:
    turns = 0

    async def other_work() -> None:  # a lease renewal, a timer...
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_work())
    reads = 0
    while turns == 0 and reads < 100_000:
        await inline_sqlite_store.execute_raw("SELECT 1")
        reads += 1
    other.cancel()
    assert turns > 0, f"{reads} reads in a row and the event loop never had a turn"
