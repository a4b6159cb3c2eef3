"""The floor: raw ``sqlite3``, one single-row INSERT and one COMMIT per loop iteration; and, as
diagnostics, the same loop with a fixed Python workload before each commit, and runio's own
statements for a task, alone."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any


def _python_between_commits(i: int, rounds: int) -> int:
    """A fixed pure-Python workload of the kind a task's bookkeeping is (objects made, a key
    hashed, JSON encoded): what the ``work`` floors run before each commit."""
    size = 0
    for j in range(rounds):
        item = _Item(i, j, f"t{i}-{j}", None)
        key = hashlib.sha256(item.name.encode()).hexdigest()
        size += len(_ENCODE([item.run, item.number, key, item.extra]))
    return size


class _Item:
    __slots__ = ("extra", "name", "number", "run")

    def __init__(self, run: int, number: int, name: str, extra: Any) -> None:
        self.run, self.number, self.name, self.extra = run, number, name, extra


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def floor(ctx: dict[str, Any]) -> dict[str, Any]:
    """N iterations of BEGIN, a single-row INSERT, COMMIT. With ``work`` (a diagnostic), each
    iteration first runs that many rounds of ``_python_between_commits``."""
    p = ctx["params"]
    n = int(p["n"])
    work = int(p.get("work", 0))
    journal_mode, synchronous = p.get("journal_mode", "wal"), p.get("synchronous", "full")
    conn = sqlite3.connect(Path(ctx["workdir"]) / "floor.db", isolation_level=None)
    mode = conn.execute(f"PRAGMA journal_mode={journal_mode}").fetchone()[0]
    conn.execute(f"PRAGMA synchronous={synchronous}")
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(n):
        if work:
            _python_between_commits(i, work)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # user + system: fsync's work in the kernel counts
    conn.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return {
        "commits_per_s": n / elapsed,
        "cpu_us_per_commit": cpu / n * 1e6,
        "seconds": elapsed,
        "journal_mode": str(mode).lower(),
        "synchronous": names.get(sync, str(sync)),
        "sqlite_version": sqlite3.sqlite_version,
    }


def runio_statements(ctx: dict[str, Any]) -> dict[str, Any]:
    """Diagnostic: runio's own SQL for one finished task, without the rest of runio. On runio's
    schema (built by runio, untimed), N transactions, each what runio's SQLite store commits
    for a new task that completed at once: ``BEGIN IMMEDIATE``, the lease check and the task
    row's ``INSERT`` (runio's own ``_check_lease`` and ``_insert_task``), ``COMMIT``. Ids, keys
    and rows are built as runio builds them."""
    import asyncio

    from runio._ids import new_id
    from runio._keys import cache_key_json, scope_prefix, task_key
    from runio._records import Lease, NewTask, TaskStatus
    from runio.storage import create_store
    from runio.storage._sqlite import _check_lease, _insert_task

    p = ctx["params"]
    n = int(p["n"])
    synchronous = p.get("synchronous", "full")
    path = Path(ctx["workdir"]) / "statements.db"

    async def build() -> None:
        store = create_store(f"sqlite:///{path}?synchronous={synchronous}")
        await store.upgrade()
        await store.close()

    asyncio.run(build())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    lease = Lease(new_id("run"), "bench", 1)
    conn.execute(
        "INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, created_at, "
        "lease_token) VALUES (?, 'bench', 'b1', '1', ?, 'EXECUTING', ?, ?)",
        (lease.run_id, new_id("evt"), time.time(), lease.token),
    )
    scope = scope_prefix(lease.run_id, None)
    t0 = time.perf_counter()
    for i in range(n):
        cache_key = f"t{i}"
        now = time.time()
        row = NewTask(
            new_id("task"),
            lease.run_id,
            None,
            task_key(scope, cache_key),
            cache_key_json(cache_key),
            "task",
            cache_key,
            None,
            None,
            None,
            None,
            None,
            1,
            now,
        )
        conn.execute("BEGIN IMMEDIATE")
        _check_lease(conn, lease)
        _insert_task(
            conn, row, TaskStatus.COMPLETED, attempts=1, started_at=now, output="1", ended_at=now
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return {"tasks_per_s": n / elapsed, "seconds": elapsed}
