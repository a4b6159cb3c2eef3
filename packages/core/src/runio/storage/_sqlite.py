"""The SQLite store: the zero-setup default, safe for several processes sharing one file.

One connection per process, owned by one thread, serves every operation in submission order.
The thread drains whatever has queued up while it was busy and applies it in a single
transaction: concurrent runs share commits (group commit) and a run's writes keep their order;
it then answers them with one wake-up of each event loop waiting for some, not one per write.
Writes that need to survive a power loss make their batch commit with ``synchronous=FULL``
(the default durability). Bookkeeping nobody waits for (attempt starts, logs, lease renewals)
is handed to the thread with the next awaited write or at the event loop's next turn (task
starts: up to ``HOLD_STARTS`` later, see ``_deferred``), and commits with ``synchronous=NORMAL``
when alone; the next durable commit syncs it as well, since WAL frames are synced in order. A
crash within that time can lose such a write.

When the execution making a write is alone in its worker (``alone_in_worker``) and the thread
has nothing queued, the write is applied on the calling thread under the connection's lock
instead: the caller had nothing to do but wait, and is spared waking the thread and being woken
by it (two thread hand-offs, ~50 µs each on a virtual machine, more than a fast disk's fsync).
That includes commits that wait for an fsync, as long as fsyncs are fast: the runner keeps a
moving average of how long its durable commits take, and while it is above ``INLINE_COMMIT_MAX``
(a slow or network disk) such commits go to the thread again, so the event loop (which may also
serve the dashboard) is never held for long; so does a write that finds the database locked by
another process (found at once: the connection has no busy timeout), rather than the caller
waiting for the lock. The order of writes and the durability of each commit are the same either
way. Such a write gives the event loop a turn when the loop had none for ``YIELD_EVERY``, so
timers and I/O still run while a run makes many writes in a row (a turn on every write would
cost about as much as a commit at ``synchronous=normal``). A turn the loop took by itself counts
(the run awaited a vendor's answer between two writes, say): each write that finds none pending
schedules a callback that notes the loop's next turn (``_turn_due``).

A write applied there that is all there is to commit, and has a single-statement form
(``_Item.solo``: an integration call's recorded start, the completion of a first attempt), goes
as that one statement in SQLite's autocommit mode: the lease check is part of its ``WHERE``
(``INSERT … SELECT … FROM runs WHERE id = ? AND lease_token = ? AND status = 'EXECUTING'``),
so there is no ``BEGIN IMMEDIATE``, lease ``SELECT`` or ``COMMIT`` of its own. The commonest,
a task that completed at once (its start withdrawn, nothing unawaited queued), skips the item
too: ``complete_task`` hands its ``INSERT`` straight to ``_Runner.solo_inline``. When the
statement writes nothing (a lost lease, a canceled run, an attempts row to complete too) or
fails, the write runs as a transaction as usual, which reports what went wrong; fault points
and refused executions always take the transaction. In a transaction as well, a new task's
completed row and a run's end carry the lease check in their own statement, and a new event
goes in with ``ON CONFLICT DO NOTHING``: the lease (or the event sent before) is read only when
the statement wrote nothing, to tell why. Fewer statements matter most on the writer thread,
which gives up the GIL around each one.

No failed write goes unseen: an awaited one raises ``StoreError`` to its caller; an unawaited one
makes every later write of its execution fail (``DeferredWrites``), and a write that assumes a
row (a task's end, an attempt's) fails when the row is not there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .._loop_turn import LoopTurn
from .._records import (
    ApiKeyRecord,
    AttemptStatus,
    CancelDecision,
    ClaimedRun,
    ClaimRule,
    Event,
    JobRecord,
    Lease,
    LogEntry,
    NewRun,
    NewTask,
    RetryDecision,
    Run,
    RunQuery,
    RunState,
    RunStatus,
    StoredTask,
    TaskRun,
    TaskStatus,
)
from ..errors import (
    ConfigurationError,
    LeaseLostError,
    MigrationError,
    RunioError,
    RunNotFoundError,
    StoreError,
)
from ._base import RESUMPTION_HEAD_START_S, Store, alone_in_worker
from ._deferred import DeferredWrites
from ._event_waits import OPEN_WAITS_SQL, event_json, first_match, to_resume
from ._faults import FaultPoint, Faults, WriteKind
from ._rows import (
    INTERRUPTED,
    RUN_COLUMNS,
    RUN_ENDED,
    RUN_FROM,
    attempts_of_run_sql,
    dumps,
    loads,
    migrations,
    run_from_row,
    schema_version_of,
    split_by_limit,
    task_tree,
    tasks_of_run_sql,
)
from ._run_query import API_KEY_COLUMNS, api_key_from_row, find_runs_sql

T = TypeVar("T")
log = logging.getLogger("runio.storage.sqlite")
Op = Callable[[sqlite3.Connection], Any]

_SYNC_MODES = {"off": 0, "normal": 1, "full": 2, "extra": 3}
_FULL = _SYNC_MODES["full"]
_BATCH_MAX = 512
_LOCK_RETRY_SECONDS = 120.0
INLINE_COMMIT_MAX = 0.002
"""Seconds a durable commit may take, on average, and still be made on the caller's thread."""
_AVERAGE_WEIGHT = 0.05
YIELD_EVERY = 0.001
"""Seconds between the event loop's turns while writes are applied on its thread."""


def _bind_none_directly() -> None:
    """Bind ``None`` as NULL without sqlite3's search for an adapter (Python 3.11).

    Python 3.11's sqlite3 looks up an adapter for each bound value that is not an int, float or
    str: in its registry first, then through ``PrepareProtocol.__adapt__`` (a failed lookup on a
    type, which formats an AttributeError and drops it) and the value's ``__conform__``. For
    ``None``, about half a microsecond, more than a plain value costs to bind; a task's row binds
    a dozen Nones. Registered, ``None``'s adapter is found at the first step: ``{}.get`` returns
    ``None`` for it without running Python code, so NULL is bound as before. Later Pythons fail
    that lookup cheaply: nothing is registered there. An adapter already registered for ``None``
    (by the application) is left as it is."""
    if sys.version_info >= (3, 12):
        return
    if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
        none_to_null: dict[None, None] = {}
        sqlite3.register_adapter(type(None), none_to_null.get)


_bind_none_directly()

# The enum members each task's writes read, bound once (on Python 3.11 reading a member off its
# class goes through ``EnumType.__getattr__``'s slot: ten times a plain attribute's cost). A
# status bound to a statement is its plain ``str`` value: sqlite3 binds an exact str at once, but
# looks for an adapter for a subclass (an enum member), as for None above.
_TASK_RUNNING, _TASK_WAITING = TaskStatus.RUNNING.value, TaskStatus.WAITING.value
_TASK_COMPLETED = TaskStatus.COMPLETED.value
_ATTEMPT_STARTED, _RUN_QUEUED = AttemptStatus.STARTED.value, RunStatus.QUEUED.value
_EXECUTING = RunStatus.EXECUTING
_START, _COMPLETE = WriteKind.START, WriteKind.COMPLETE


def _migrations() -> list[tuple[int, str, str]]:
    return migrations("sqlite")


@dataclass(slots=True)
class _Item:
    op: Op
    write: bool
    durable: bool
    done: Callable[[bool, Any], None] | None
    """Receives (True, result) or (False, exception), on the database thread; None: unawaited."""
    kind: WriteKind = WriteKind.OPERATION
    lease: Lease | None = None
    """The execution this write belongs to: refused once one of its unawaited writes failed."""
    solo: Op | None = None
    """The same write as one statement, for when it is all there is to write: applied in a
    transaction of its own (SQLite's autocommit), which saves the separate ``BEGIN``, checks and
    ``COMMIT``. It returns the answer, or ``NOT_APPLIED`` when a condition in the statement was
    not met (a lost lease, say): then nothing was written and ``op`` runs as usual."""


NOT_APPLIED: Any = object()
"""What a ``solo`` statement returns when it wrote nothing (see ``_Item.solo``)."""


class _RowMissing(Exception):
    """A write found no row where it assumed one (e.g. a task whose start was lost). Not a
    ``RunioError``, so the batch is rolled back and this write alone fails."""


class _CommitAnswerLost(Exception):
    """The ``AFTER_COMMIT`` fault: committed, but the caller is told it failed."""


def _require(cursor: sqlite3.Cursor, what: str, lease: Lease) -> None:
    if cursor.rowcount != 1:
        raise _RowMissing(
            f"{what} of run {lease.run_id} is not stored (an earlier write of this run failed), "
            "so this write was refused"
        )


class _Runner:
    """The one thread that owns the connection and applies operations in batches.

    Operations follow one rule: an operation that fails with a ``RunioError`` (a lost lease, a
    run in the wrong state) raised it before writing anything, so the batch goes on without it.
    Any other failure rolls the batch back and replays its operations one transaction each, so
    one broken operation cannot take its neighbours' writes down with it.
    """

    def __init__(
        self,
        path: str,
        *,
        uri: bool,
        synchronous: str,
        deferred: DeferredWrites[_Item],
        faults: Faults,
    ) -> None:
        self._path = path
        self._deferred = deferred
        self._faults = faults
        self._uri = uri
        self._sync_level = _SYNC_MODES[synchronous]
        self._syncs_durable_commits = self._sync_level >= _SYNC_MODES["full"]
        self._durable_commit_seconds = 0.0
        """Moving average of the time a commit that waits for an fsync takes."""
        self._queue: queue.SimpleQueue[list[_Item] | None] = queue.SimpleQueue()
        # The connection is used by whoever holds _conn_lock: this thread, or a caller applying
        # its own write inline (``apply_inline``). _unapplied counts items handed to this
        # thread and not applied yet; an inline write goes only when it is 0, so writes keep
        # their order.
        self._conn_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._unapplied = 0
        self._answers: list[tuple[Callable[[bool, Any], None], bool, Any]] | None = None
        """The thread's answers to awaited writes of the batch it is applying (see _serve)."""
        self._conn: sqlite3.Connection | None = None
        self._ready = concurrent.futures.Future[None]()
        self._thread = threading.Thread(target=self._main, name="runio-sqlite", daemon=True)
        self._closed = False
        self._forked = False
        """This is a child process forked from the one that opened the connection (see
        ``_after_fork_in_child``): the store refuses every operation."""
        self._file = None if uri else os.path.abspath(path)
        """The database file, as SQLite resolves it (against the directory of this moment)."""
        self._released = False
        """Its connection is closed, or never opened (until then, a fork copies SQLite's
        bookkeeping of the file into the child: see ``_after_fork_in_child``)."""
        if self._file is not None and _open_in_parent & _file_keys(self._file):
            raise StoreError(_OPEN_IN_PARENT)
        _runners.add(self)
        self._thread.start()
        self._ready.result()

    @staticmethod
    def item(
        op: Op,
        *,
        write: bool,
        durable: bool = True,
        done: Callable[[bool, Any], None] | None,
        kind: WriteKind = WriteKind.OPERATION,
        lease: Lease | None = None,
        solo: Op | None = None,
    ) -> _Item:
        return _Item(op, write, durable, done, kind, lease, solo)

    def may_inline(self, durable: bool) -> bool:
        """Whether a write may be applied on the caller's thread: one that waits for no fsync
        always; one that does while this disk's fsyncs are fast."""
        return (
            not durable
            or not self._syncs_durable_commits
            or self._durable_commit_seconds < INLINE_COMMIT_MAX
        )

    def put(self, items: list[_Item]) -> None:
        """Queue items to be applied in this order (in one transaction when they are writes)."""
        if self._closed:
            raise StoreError(
                _FORKED
                if self._forked
                else "This store is closed; create a new Client or store to go on."
            )
        with self._count_lock:
            self._unapplied += len(items)
        self._queue.put(items)

    def apply_inline(self, items: list[_Item]) -> bool:
        """Apply these items on the calling thread, now, if the connection is free and nothing
        handed to the thread is still waiting (else False: nothing was done; ``put`` them).
        Their ``done`` callbacks run on this thread before this returns."""
        if self._closed or not self._conn_lock.acquire(blocking=False):
            return False
        try:
            conn = self._conn  # read under the lock: the thread closes it holding the lock
            if conn is None or self._unapplied:
                return False
            level = self._batch_sync(items)
            self._set_sync(conn, level)
            for item in items:  # a loop: cheaper than any() over a generator
                if item.solo is not None:
                    applied = self._apply_solo(conn, items, level)
                    if applied is not None:
                        return applied
                    break
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):  # another process is writing: the thread waits for it
                    return False
                begun = False  # the batch meets the error again and reports it
            else:
                begun = True
            self._run_batch(conn, items, level=level if begun else None)
            return True
        finally:
            self._conn_lock.release()

    def solo_inline(self, sql: str, params: tuple[Any, ...]) -> int | None:
        """Run one durable write of a single statement on the calling thread, now, in a
        transaction of its own (SQLite's autocommit), when nothing else is to be written with it
        (the caller took no unawaited write): the number of rows it changed. None when nothing
        was done: the connection busy or something handed to the thread still waiting, a fault
        point armed, a refused execution, or the statement failed (another process holding the
        database, say). The caller then makes the write as usual, in a transaction that meets
        any failure again and reports it. ``apply_inline`` without the item, its callback and
        the batch around it."""
        if self._closed or not self._conn_lock.acquire(blocking=False):
            return None
        try:
            conn = self._conn  # read under the lock: the thread closes it holding the lock
            if conn is None or self._unapplied or self._faults.armed or self._deferred.any_failed:
                return None
            level = self._sync_level
            if level != self._current_sync:
                self._set_sync(conn, level)
            durable = level >= _FULL
            started = time.perf_counter() if durable else 0.0
            try:
                changed: int = conn.execute(sql, params).rowcount
            except Exception:
                return None
            if durable:
                self._timed_durable_commit(started)
            return changed
        finally:
            self._conn_lock.release()

    def _timed_durable_commit(self, started: float) -> None:
        """A commit that waited for an fsync began at ``started`` (``perf_counter``) and just
        ended: into the moving average ``may_inline`` reads."""
        took = time.perf_counter() - started
        self._durable_commit_seconds += (took - self._durable_commit_seconds) * _AVERAGE_WEIGHT

    def read_inline(self, op: Op) -> tuple[bool, Any] | None:
        """Run a read on the calling thread, now, if the connection is free and nothing handed
        to the thread is still waiting (so it sees every write handed over before it); else
        None: nothing was done, ``put`` it. Returns (True, value), or (False, the error)."""
        if self._closed or not self._conn_lock.acquire(blocking=False):
            return None
        try:
            conn = self._conn  # read under the lock: the thread closes it holding the lock
            if conn is None or self._unapplied:
                return None
            try:
                return True, op(conn)
            except Exception as exc:
                if conn.in_transaction:
                    conn.rollback()
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    return None  # another process holds it: the thread retries
                return False, _wrap(exc)
        finally:
            self._conn_lock.release()

    def _apply_solo(self, conn: sqlite3.Connection, items: list[_Item], level: int) -> bool | None:
        """Apply ``items`` through the ``solo`` statement of the one that writes (the others
        are flushes, which write nothing; the connection is held). True: done and answered;
        False: another process holds the database, so the thread must apply them; None: not
        applied (not allowed, its condition not met, or it failed: the transaction meets the
        failure again and reports it)."""
        writing = [item for item in items if item.op is not _nothing]
        if len(writing) != 1 or self._faults.armed or self._deferred.any_failed:
            return None  # fault points and refusals belong to the transaction
        solo = writing[0].solo
        if solo is None:
            return None
        started = time.perf_counter()
        try:
            value = solo(conn)
        except sqlite3.OperationalError as exc:
            return False if "locked" in str(exc) else None
        except Exception:
            return None
        if value is NOT_APPLIED:
            return None
        if level >= _FULL:
            self._timed_durable_commit(started)
        for item in items:
            self._report(item, True, value if item is writing[0] else None)
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    # -- the thread ----------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, uri=self._uri
            )
            # No busy handler (SQLite's backs off to 100 ms sleeps): the thread meets
            # contention in _retry_locked, which keeps polling every 2 ms at most, and a
            # write tried inline (apply_inline) learns at once that another process holds the
            # lock, so the event loop never waits for it.
            conn.execute("PRAGMA busy_timeout=0")
            if not self._path.startswith("file:runio-memory"):
                mode = _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
                if str(mode).lower() != "wal":
                    raise StoreError(
                        f"SQLite refused WAL mode for {self._path} (got {mode!r}); runio needs a "
                        "local file system that supports it."
                    )
            self._current_sync = -1
            self._set_sync(conn, self._sync_level)
        except BaseException as exc:  # report to the constructor, then stop
            self._released = True
            self._ready.set_exception(_wrap(exc))
            return
        self._conn = conn
        self._ready.set_result(None)
        try:
            self._serve(conn)
        finally:
            with self._conn_lock:
                self._conn = None
                conn.close()
                self._released = True

    def _set_sync(self, conn: sqlite3.Connection, level: int) -> None:
        if level != self._current_sync:
            conn.execute(f"PRAGMA synchronous={level}")
            self._current_sync = level

    def _serve(self, conn: sqlite3.Connection) -> None:
        q = self._queue
        while True:
            first = q.get()
            if first is None:
                return
            batch = list(first)
            stop = False
            while len(batch) < _BATCH_MAX:
                try:
                    more = q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.extend(more)
            reads = [item for item in batch if not item.write]
            answers: list[tuple[Callable[[bool, Any], None], bool, Any]] = []
            with self._conn_lock:
                self._answers = answers
                try:
                    if len(reads) == len(batch):
                        for item in batch:
                            self._run_alone(conn, item)
                    else:
                        self._run_batch(conn, batch)
                finally:
                    self._answers = None
                    with self._count_lock:
                        self._unapplied -= len(batch)
            # Answered once the connection is free and the batch counted as applied: a caller
            # woken by its answer may then apply its next write inline at once.
            _answer_all(answers)
            if stop:
                return

    def _report(self, item: _Item, ok: bool, value: Any) -> None:
        if item.done is not None:
            if self._answers is not None:  # on the thread, in a batch (see _serve)
                self._answers.append((item.done, ok, value))
            else:
                item.done(ok, value)
        elif not ok and item.lease is not None and not isinstance(value, LeaseLostError):
            # Nobody awaits this write: its execution learns of the failure at its next one.
            log.warning("a write of run %s failed: %s", item.lease.run_id, value)
            self._deferred.failed(item.lease, value)

    def _commit(self, conn: sqlite3.Connection, batch: Sequence[_Item]) -> None:
        faults = self._faults
        armed = faults.armed
        kinds = [item.kind for item in batch] if armed else []
        if armed and (
            faults.reach(FaultPoint.BEFORE_COMMIT, kinds)
            or faults.reach(FaultPoint.CONNECTION_LOST, kinds)
        ):
            raise sqlite3.OperationalError("disk I/O error (fault point before-commit)")
        if self._current_sync >= _FULL:
            started = time.perf_counter()
            conn.execute("COMMIT")
            self._timed_durable_commit(started)
        else:
            conn.execute("COMMIT")
        if armed and faults.reach(FaultPoint.AFTER_COMMIT, kinds):
            raise _CommitAnswerLost()

    def _run_alone(self, conn: sqlite3.Connection, item: _Item) -> None:
        refusal = self._deferred.refusal(item.lease)
        if refusal is not None:
            self._report(item, False, refusal)
            return
        try:
            if item.write:
                self._set_sync(conn, self._batch_sync([item]))
                self._begin(conn)
                value = item.op(conn)
                self._commit(conn, (item,))
            else:
                value = _retry_locked(lambda: item.op(conn))
        except BaseException as exc:
            if conn.in_transaction:
                conn.rollback()
            self._report(item, False, _wrap(exc))
        else:
            self._report(item, True, value)

    def _batch_sync(self, batch: list[_Item]) -> int:
        for item in batch:
            if item.write and item.durable:
                return self._sync_level
        return min(self._sync_level, 1)

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Item], *, level: int | None = None
    ) -> None:
        """Apply a batch in one transaction. ``level``: the transaction is begun already, at
        that synchronous level."""
        begun = level is not None
        if self._deferred.any_failed and any(
            self._deferred.refusal(item.lease) is not None for item in batch
        ):
            if begun:
                conn.rollback()
            for item in batch:  # in order, so each refusal follows the failure before it
                self._run_alone(conn, item)
            return
        results: list[tuple[_Item, bool, Any]] = []
        try:
            if not begun:
                self._set_sync(conn, self._batch_sync(batch))
                self._begin(conn)
            for item in batch:
                try:
                    results.append((item, True, item.op(conn)))
                except RunioError as exc:
                    results.append((item, False, exc))
            self._commit(conn, batch)
        except _CommitAnswerLost as exc:
            for item in batch:
                self._report(item, False, _wrap(exc))
            return
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            for item in batch:  # one at a time, so only the broken operation fails
                self._run_alone(conn, item)
            return
        for item, ok, value in results:
            self._report(item, ok, value)

    def _begin(self, conn: sqlite3.Connection) -> None:
        _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))


_runners: weakref.WeakSet[_Runner] = weakref.WeakSet()
_FORKED = (
    "This SQLite database was opened in the process this one was forked from. A forked child "
    "cannot use that connection, nor safely open another to the same file while the parent's "
    "is open (SQLite keeps its file locks per process, so the child's writes could be lost). "
    "Close the client before forking (client.close()), or create clients after the fork."
)


_OPEN_IN_PARENT = (
    "This SQLite database was open in the process this one was forked from when it forked. A "
    "connection opened to it here would share that process's lock bookkeeping (SQLite keeps it "
    "per process, and this process has a copy for good), so its writes could be lost. Close "
    "the parent's client before forking (client.close(); it opens again on use), or open this "
    "database only in the forked processes."
)
_open_in_parent: set[tuple[object, ...]] = set()
"""In a forked child: the files the parent had open when it forked (``_file_keys``), which no
new store opens here."""


def _file_keys(path: str) -> set[tuple[object, ...]]:
    """What tells a file apart: its device and inode (SQLite's own key for its bookkeeping,
    whatever the path's spelling), and its resolved path (for one not created yet)."""
    keys: set[tuple[object, ...]] = {("path", os.path.realpath(path))}
    try:
        st = os.stat(path)
    except OSError:
        return keys
    keys.add(("inode", st.st_dev, st.st_ino))
    return keys


_kept_in_child: list[_Runner] = []
"""In a forked child: the parent's runners, referenced for good so that their connections are
never closed here (closing one the parent was writing through would roll its transaction back
in the shared file)."""


def _after_fork_in_child() -> None:
    """In a child made by ``fork``: every SQLite store of the parent refuses from now on, and is
    never closed here (its connection is the parent's)."""
    for runner in list(_runners):
        if runner._file is not None and not runner._released:
            _open_in_parent.update(_file_keys(runner._file))
        runner._closed = runner._forked = True
        _kept_in_child.append(runner)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _retry_locked(action: Callable[[], T]) -> T:
    """Run ``action``, retrying while another process holds the database lock (SQLite's busy
    handler does not cover every case, e.g. switching to WAL while another process does).

    It looks again first after 0.1 ms, then less often, but never less than every 2 ms: another
    process writing back to back (a producer sending events) lets go of the lock for a fraction
    of a millisecond between its commits, and a writer that slept longer would miss one such
    moment after another (with pauses growing to 5 ms, a worker beside such a producer slept
    2.2 s of 8 waiting for the lock, and its runs' wake-ups fell behind)."""
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    pause = 0.0001
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 1.5, 0.002)


def _alone() -> bool:
    alone = alone_in_worker.get()
    return alone is not None and alone()


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _awaitable() -> tuple[asyncio.Future[Any], _Settle]:
    """A future of the running loop, and the callback the database thread settles it with."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    return fut, _Settle(loop, fut)


class _Settle:
    """Settles one future of an event loop from the database thread (``__call__``), or with
    the others of a batch answered together (``_answer_all``)."""

    __slots__ = ("fut", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]) -> None:
        self.loop, self.fut = loop, fut

    def __call__(self, ok: bool, value: Any) -> None:
        _settle_on(self.loop, [(self.fut, ok, value)])


def _answer_all(answers: list[tuple[Callable[[bool, Any], None], bool, Any]]) -> None:
    """Answer a batch's awaited writes: one wake-up of each event loop waiting for some (not one
    per write), which settles its futures in the order of the writes."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for done, ok, value in answers:
        if type(done) is _Settle:
            by_loop.setdefault(done.loop, []).append((done.fut, ok, value))
        else:
            done(ok, value)
    for loop, settled in by_loop.items():
        _settle_on(loop, settled)


def _settle_on(
    loop: asyncio.AbstractEventLoop, settled: list[tuple[asyncio.Future[Any], bool, Any]]
) -> None:
    # RuntimeError: the loop was closed meanwhile, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in settled:
        if not fut.done():
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)


def _wrap(exc: BaseException) -> BaseException:
    if isinstance(exc, _RowMissing):
        return StoreError(f"{exc}. The run resumes from what is stored; nothing to do.")
    if isinstance(exc, _CommitAnswerLost):
        return StoreError(
            "SQLite reported an error after committing (fault point after-commit); whether the "
            "write is stored is unknown. The run resumes from what is stored."
        )
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"SQLite error: {exc}. {_hint(exc)}").with_traceback(exc.__traceback__)
    return exc


def _hint(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "no such table" in text:
        return "The database has no runio schema yet: run `runio db upgrade`."
    if isinstance(exc, sqlite3.IntegrityError):
        return "This is a bug in runio; please report it with the steps that led here."
    if "locked" in text:
        return "Another process held the database too long; retry, and keep transactions short."
    if "full" in text or "disk I/O" in text:
        return "Free disk space (and check the file size limit, ulimit -f) and the disk's health."
    if "readonly" in text:
        return "Make the database file and its directory writable by this user."
    return "Check that the database file is writable and not corrupted."


def _check_lease(conn: sqlite3.Connection, lease: Lease) -> str:
    row = conn.execute(
        "SELECT lease_token, status FROM runs WHERE id = ?", (lease.run_id,)
    ).fetchone()
    if row is None or row[0] != lease.token:
        raise LeaseLostError(lease.run_id)
    return str(row[1])


def _insert_task(
    conn: sqlite3.Connection,
    t: NewTask,
    status: str,
    *,
    attempts: int = 0,
    started_at: float | None = None,
    wake_at: float | None = None,
    output: str | None = None,
    output_properties: str | None = None,
    ended_at: float | None = None,
) -> None:
    conn.execute(
        _INSERT_TASK,
        _task_row(
            t,
            status,
            attempts=attempts,
            started_at=started_at,
            wake_at=wake_at,
            output=output,
            output_properties=output_properties,
            ended_at=ended_at,
        ),
    )


_TASK_COLUMNS = (
    "INSERT INTO tasks (id, run_id, parent_id, idempotency_key, cache_key, kind, name, icon, "
    "properties, params, style, redact, status, depth, created_at, attempts, started_at, "
    "wake_at, output, output_properties, ended_at, description, display_key) "
)
_INSERT_TASK = _TASK_COLUMNS + "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_IF_LEASED = " FROM runs WHERE id = ? AND lease_token = ? AND status = 'EXECUTING'"
"""What makes an ``INSERT … SELECT`` of a task row write it only while the lease holds (its run
id and token are bound after the row's values)."""
_INSERT_TASK_IF_LEASED = (
    _TASK_COLUMNS + "SELECT ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?" + _IF_LEASED
)
"""A task row, written only while the lease holds and the run is executing (``solo``)."""


def _insert_if_leased(conn: sqlite3.Connection, row: tuple[Any, ...], lease: Lease) -> bool:
    """Insert a task row (``_task_row``) in one statement if the lease holds; whether it did."""
    leased = (*row, lease.run_id, lease.token)
    return bool(conn.execute(_INSERT_TASK_IF_LEASED, leased).rowcount == 1)


_PLAIN_DONE = "?,?,NULL,?,?,?,?,NULL,NULL,NULL,NULL,NULL,?,?,?,?,?,NULL,?,NULL,?,NULL,NULL"
"""The values of a plain task's completed row (``_done_row``): its ten NULLs written here."""
_INSERT_PLAIN_DONE = _TASK_COLUMNS + "VALUES (" + _PLAIN_DONE + ")"
_INSERT_PLAIN_DONE_IF_LEASED = _TASK_COLUMNS + "SELECT " + _PLAIN_DONE + _IF_LEASED
_NOTHING_SHOWN = (None,) * 7


def _done_row(
    t: NewTask,
    *,
    attempts: int,
    started_at: float | None,
    output: str,
    output_properties: str | None,
    ended_at: float,
) -> tuple[str, str, tuple[Any, ...]]:
    """A new task's row, completed: the statement inserting it, the one inserting it only while
    the lease holds (followed by the lease's run id and token), and the values they bind.

    Most tasks are plain: at the top level, with no display options and no output properties.
    Their row's ten NULLs are written in the statements (``_PLAIN_DONE``) rather than bound:
    binding ``None`` costs sqlite3 more than a value (see ``_bind_none_directly``), and the row
    is shorter to build. Any other task binds every column (``_task_row``)."""
    shown = (t.parent_id, t.icon, t.properties, t.params, t.style, t.redact, t.description)
    if output_properties is None and t.display_key is None and shown == _NOTHING_SHOWN:
        values = (
            t.id,
            t.run_id,
            t.idempotency_key,
            t.cache_key,
            t.kind,
            t.name,
            _TASK_COMPLETED,
            t.depth,
            t.created_at,
            attempts,
            started_at,
            output,
            ended_at,
        )
        return _INSERT_PLAIN_DONE, _INSERT_PLAIN_DONE_IF_LEASED, values
    row = _task_row(
        t,
        _TASK_COMPLETED,
        attempts=attempts,
        started_at=started_at,
        wake_at=None,
        output=output,
        output_properties=output_properties,
        ended_at=ended_at,
    )
    return _INSERT_TASK, _INSERT_TASK_IF_LEASED, row


_COMPLETE_FIRST_ATTEMPT_IF_LEASED = (
    "UPDATE tasks SET status='COMPLETED', output=?, output_properties=?, error=NULL, ended_at=? "
    "WHERE run_id=? AND id=? AND attempts=1 "
    "AND NOT EXISTS (SELECT 1 FROM attempts WHERE task_id=? AND number=1) "
    "AND EXISTS (SELECT 1 FROM runs WHERE id=? AND lease_token=? AND status='EXECUTING')"
)
"""A task's completion at attempt 1 when no attempts row records it (``solo``)."""


def _task_row(
    t: NewTask,
    status: str,
    *,
    attempts: int,
    started_at: float | None,
    wake_at: float | None,
    output: str | None,
    output_properties: str | None,
    ended_at: float | None,
) -> tuple[Any, ...]:
    return (
        t.id,
        t.run_id,
        t.parent_id,
        t.idempotency_key,
        t.cache_key,
        t.kind,
        t.name,
        t.icon,
        t.properties,
        t.params,
        t.style,
        t.redact,
        status,
        t.depth,
        t.created_at,
        attempts,
        started_at,
        wake_at,
        output,
        output_properties,
        ended_at,
        t.description,
        t.display_key,
    )


class SQLiteStore(Store):
    """``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``sqlite://:memory:``.

    Query parameter ``synchronous`` (``full``, the default, or ``normal``, ``extra``, ``off``)
    sets durability: ``full`` survives power loss, ``normal`` survives a crash of the process.
    """

    # No notifications between processes: an idle worker looks often (a cheap indexed read) so
    # runs sent from another process start within ~50 ms.
    poll_interval = 0.05
    reopens_in_forked_child = False  # the parent's file locks would be the child's (_FORKED)

    def __init__(self, url: str) -> None:
        self.url = url
        path, uri, synchronous = _parse_url(url)
        self.path = path
        self.synchronous = synchronous
        if not uri:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.faults = Faults()
        self._deferred: DeferredWrites[_Item] = DeferredWrites(self._put, self._start_item)
        self._turn_watches = threading.local()
        """Per thread (so per running event loop), its ``watch``: the loop an operation
        applied on that thread last ran on, and since when it has had no turn (``_turn_due``)."""
        self._runner = _Runner(
            path, uri=uri, synchronous=synchronous, deferred=self._deferred, faults=self.faults
        )

    # -- plumbing ------------------------------------------------------------------------------
    def _put(self, items: list[_Item]) -> None:
        if _alone() and self._runner.apply_inline(items):
            return
        self._runner.put(items)

    async def _write(
        self,
        op: Op,
        durable: bool = True,
        *,
        kind: WriteKind = WriteKind.OPERATION,
        lease: Lease | None = None,
        solo: Op | None = None,
    ) -> Any:
        """An awaited write: it carries every unawaited write queued before it. When the
        execution making it is alone in its worker (``alone_in_worker``), the runner allows it
        (``may_inline``) and the connection is free, it is applied on this thread and returns once
        committed, giving the event loop a turn first if it had none for ``YIELD_EVERY``."""
        items = self._deferred.take()
        if _alone() and self._runner.may_inline(durable):
            answer: list[tuple[bool, Any]] = []
            item = self._runner.item(
                op,
                write=True,
                durable=durable,
                done=lambda ok, value: answer.append((ok, value)),
                kind=kind,
                lease=lease,
                solo=solo,
            )
            items.append(item)
            if self._runner.apply_inline(items):
                if self._turn_due():
                    await asyncio.sleep(0)
                ok, value = answer[0]
                if not ok:
                    raise value
                return value
            fut, item.done = _awaitable()
        else:
            fut, done = _awaitable()
            items.append(
                self._runner.item(
                    op, write=True, durable=durable, done=done, kind=kind, lease=lease
                )
            )
        self._runner.put(items)
        return await fut

    def _turn_due(self) -> bool:
        """Whether an operation just applied on the event loop's thread should give the loop a
        turn now: it had none for ``YIELD_EVERY``, so timers (lease renewals) and I/O still run
        while an execution makes many reads or writes in a row. An operation that finds no turn
        watched (the loop had one since the last watch began, or none ever did) watches from
        now (``LoopTurn``), however the next turn comes (this operation's caller awaiting a
        vendor, say). Each thread has its own watch: event loops on other threads writing in
        between neither hide this loop's lack of turns nor count as its turns."""
        loop = asyncio.get_running_loop()
        watches = self._turn_watches
        watch: LoopTurn | None = getattr(watches, "watch", None)
        if watch is not None and not watch.taken and watch.loop is loop:
            return time.monotonic() - watch.since >= YIELD_EVERY
        watches.watch = LoopTurn(loop)
        return False

    def _defer(self, op: Op, kind: WriteKind, lease: Lease) -> None:
        """Queue a write nobody waits for (see ``DeferredWrites``)."""
        self._deferred.add(_Item(op, True, False, None, kind, lease))

    def _flush_deferred(self) -> None:
        self._deferred.flush()

    async def _read(self, op: Op) -> Any:
        """A read. When the caller is alone (``alone_in_worker``) and the connection is free, it
        runs on this thread at once (giving the loop a turn as writes do, ``_turn_due``); else
        the database thread runs it after what it was handed before."""
        if _alone():
            answer = self._runner.read_inline(op)
            if answer is not None:
                if self._turn_due():
                    await asyncio.sleep(0)
                ok, value = answer
                if not ok:
                    raise value
                return value
        fut, done = _awaitable()
        self._runner.put([self._runner.item(op, write=False, done=done)])
        return await fut

    async def close(self) -> None:
        self._flush_deferred()
        self._runner.close()

    async def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def op(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(sql, tuple(params)).fetchall()]

        write = not sql.lstrip().upper().startswith(("SELECT", "PRAGMA", "WITH"))
        return await (self._write(op) if write else self._read(op))  # type: ignore[no-any-return]

    # -- the HTTP server: pages of runs, API keys -----------------------------------------------
    async def find_runs(self, query: RunQuery) -> list[Run]:
        sql, params = find_runs_sql(query, "?")

        def op(conn: sqlite3.Connection) -> list[Run]:
            return [run_from_row(r) for r in conn.execute(sql, params)]

        return await self._read(op)  # type: ignore[no-any-return]

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?,?,?,?,?)",
                (key.id, key.name, key.secret_hash, key.created_at, key.revoked_at),
            )

        await self._write(op)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        def op(conn: sqlite3.Connection) -> list[ApiKeyRecord]:
            return [
                api_key_from_row(r)
                for r in conn.execute(
                    f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
                )
            ]

        return await self._read(op)  # type: ignore[no-any-return]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        def op(conn: sqlite3.Connection) -> ApiKeyRecord | None:
            row = conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            return None if row is None else api_key_from_row(row)

        return await self._read(op)  # type: ignore[no-any-return]

    async def revoke_api_key(self, key_id: str, *, now: float) -> ApiKeyRecord | None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, key_id),
            )

        await self._write(op)
        return await self.get_api_key(key_id)

    # -- schema ------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        def op(conn: sqlite3.Connection) -> int:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='runio_migrations'"
            ).fetchone()
            if not exists:
                return 0
            applied = {r[0] for r in conn.execute("SELECT version FROM runio_migrations")}
            return schema_version_of(applied, [v for v, _, _ in _migrations()])

        return await self._read(op)  # type: ignore[no-any-return]

    def newest_known_version(self) -> int:
        return max(version for version, _, _ in _migrations())

    async def upgrade(self) -> list[str]:
        migrations = _migrations()

        def op(conn: sqlite3.Connection) -> list[str]:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS runio_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM runio_migrations")}
            newest_known = migrations[-1][0] if migrations else 0
            if done and max(done) > newest_known:
                raise MigrationError(
                    f"This database has schema version {max(done)}, newer than this runio knows "
                    f"({newest_known}). Upgrade runio on this machine before using it."
                )
            applied = []
            for version, name, sql in migrations:
                if version in done:
                    continue
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO runio_migrations (version, name, applied_at) VALUES (?,?,?)",
                    (version, name, time.time()),
                )
                applied.append(name)
            return applied

        return await self._write(op)  # type: ignore[no-any-return]

    # -- jobs and events -----------------------------------------------------------------------
    async def register_jobs(self, jobs: Sequence[JobRecord], now: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO jobs (app_id, job_id, version, name, event_name, trigger, updated_at) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT (app_id, job_id) DO UPDATE SET "
                "version=excluded.version, name=excluded.name, event_name=excluded.event_name, "
                "trigger=excluded.trigger, updated_at=excluded.updated_at",
                [
                    (j.app_id, j.job_id, j.version, j.name, j.event_name, dumps(j.trigger), now)
                    for j in jobs
                ],
            )

        await self._write(op, kind=WriteKind.JOBS)

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        def op(conn: sqlite3.Connection) -> list[JobRecord]:
            sql = "SELECT app_id, job_id, version, name, event_name, trigger FROM jobs"
            params: tuple[Any, ...] = ()
            if app_id is not None:
                sql += " WHERE app_id = ?"
                params = (app_id,)
            return [
                JobRecord(r[0], r[1], r[2], r[3], r[4], loads(r[5]))
                for r in conn.execute(sql + " ORDER BY app_id, job_id", params)
            ]

        return await self._read(op)  # type: ignore[no-any-return]

    async def create_event(
        self, event: Event, runs: Sequence[NewRun], now: float
    ) -> tuple[Event, bool]:
        def op(conn: sqlite3.Connection) -> tuple[Event, bool]:
            return _store_event(conn, event, runs, now)

        return await self._write(op, kind=WriteKind.EVENT)  # type: ignore[no-any-return]

    # -- claiming ------------------------------------------------------------------------------
    async def claim_runs(
        self,
        *,
        app_id: str,
        job_ids: Sequence[str],
        worker_id: str,
        limit: int,
        now: float,
        lease_seconds: float,
        rules: Mapping[str, ClaimRule] | None = None,
    ) -> list[ClaimedRun]:
        if not job_ids or limit <= 0:
            return []
        plain, limited = split_by_limit(job_ids, rules)
        marks = ",".join("?" * len(plain))
        pinned, pin_params = _versions_sql(plain, rules)

        def op(conn: sqlite3.Connection) -> list[ClaimedRun]:
            candidates = []
            if plain:
                # Each status's first runs by its own index (app_id, status, ready_at), then
                # those in claim-time order: resumptions first (RESUMPTION_HEAD_START_S).
                jobs = (*plain, *pin_params)
                candidates = conn.execute(
                    f"SELECT * FROM (SELECT id, status, ready_at AS t FROM runs WHERE app_id=? "
                    f"AND status='WAITING' AND ready_at <= ? AND job_id IN ({marks}){pinned} "
                    f"ORDER BY ready_at LIMIT ?) UNION ALL SELECT * FROM (SELECT id, status, "
                    f"lease_expires AS t FROM runs WHERE status='EXECUTING' AND "
                    f"lease_expires < ? AND app_id=? AND job_id IN ({marks}){pinned} "
                    f"ORDER BY lease_expires LIMIT ?) UNION ALL SELECT * FROM (SELECT id, "
                    f"status, ready_at + ? AS t FROM runs WHERE app_id=? AND status='QUEUED' "
                    f"AND ready_at <= ? AND job_id IN ({marks}){pinned} ORDER BY ready_at "
                    f"LIMIT ?) ORDER BY t LIMIT ?",
                    (
                        *(app_id, now, *jobs, limit),
                        *(now, app_id, *jobs, limit),
                        *(RESUMPTION_HEAD_START_S, app_id, now, *jobs, limit),
                        limit,
                    ),
                ).fetchall()
            if limited:
                candidates += _limited_candidates(conn, app_id, limited, now, limit)
                candidates.sort(key=lambda c: c[2])
                del candidates[limit:]
            claimed = []
            # Two statements for up to _CLAIM_CHUNK runs, not two per run: one UPDATE takes
            # them all, one SELECT reads their events.
            for first in range(0, len(candidates), _CLAIM_CHUNK):
                chunk = candidates[first : first + _CLAIM_CHUNK]
                run_marks, ids = _in_list([run_id for run_id, _, _ in chunk])
                rows = {
                    row[0]: row
                    for row in conn.execute(
                        "UPDATE runs SET status='EXECUTING', lease_owner=?, lease_expires=?, "
                        "lease_token=lease_token+1, execution_count=execution_count+1, "
                        "started_at=COALESCE(started_at, ?), ready_at=NULL "
                        f"WHERE id IN ({run_marks}) RETURNING id, lease_token, execution_count, "
                        "is_retry, job_id, job_version, event_id, created_at, started_at",
                        (worker_id, now + lease_seconds, now, *ids),
                    )
                }
                event_marks, event_ids = _in_list(list({row[6] for row in rows.values()}))
                events = {
                    ev[0]: ev
                    for ev in conn.execute(
                        "SELECT id, name, payload, timestamp, deliver_at FROM events "
                        f"WHERE app_id=? AND id IN ({event_marks})",
                        (app_id, *event_ids),
                    )
                }
                for run_id, status_before, _ in chunk:  # in claim-time order
                    row = rows[run_id]
                    ev = events[row[6]]
                    claimed.append(
                        ClaimedRun(
                            lease=Lease(run_id, worker_id, row[1]),
                            app_id=app_id,
                            job_id=row[4],
                            job_version=row[5],
                            status_before=status_before,
                            execution_count=row[2],
                            is_retry=bool(row[3]),
                            created_at=row[7],
                            started_at=row[8],
                            event=Event(row[6], app_id, ev[1], loads(ev[2]), ev[3], ev[4]),
                        )
                    )
            return claimed

        return await self._write(op, durable=False, kind=WriteKind.CLAIM)  # type: ignore[no-any-return]

    async def next_ready_at(
        self,
        *,
        app_id: str,
        job_ids: Sequence[str],
        rules: Mapping[str, ClaimRule] | None = None,
        now: float | None = None,
    ) -> float | None:
        if not job_ids:
            return None
        plain, limited = split_by_limit(job_ids, rules)
        if now is None:  # without the time, a run waiting for a slot cannot be told apart
            plain, limited = list(job_ids), {}
        marks = ",".join("?" * len(plain))
        pinned, pin_params = _versions_sql(plain, rules)
        later_marks = ",".join("?" * len(limited))

        def op(conn: sqlite3.Connection) -> float | None:
            times = []
            if plain:
                row = conn.execute(
                    f"SELECT MIN(t) FROM (SELECT MIN(ready_at) AS t FROM runs WHERE app_id=? "
                    f"AND status IN ('QUEUED','WAITING') AND job_id IN ({marks}){pinned} "
                    f"UNION ALL SELECT MIN(lease_expires) FROM runs WHERE status='EXECUTING' "
                    f"AND app_id=? AND job_id IN ({marks}){pinned})",
                    (app_id, *plain, *pin_params, app_id, *plain, *pin_params),
                ).fetchone()
                times.append(row[0])
            if limited:
                # Ready runs of a limited job that were not claimed wait for a slot: what comes
                # next is a run becoming ready later, or a lease running out.
                row = conn.execute(
                    f"SELECT MIN(t) FROM (SELECT MIN(ready_at) AS t FROM runs WHERE app_id=? "
                    f"AND status IN ('QUEUED','WAITING') AND ready_at > ? "
                    f"AND job_id IN ({later_marks}) UNION ALL SELECT MIN(lease_expires) "
                    f"FROM runs WHERE status='EXECUTING' AND app_id=? "
                    f"AND job_id IN ({later_marks}))",
                    (app_id, now, *limited, app_id, *limited),
                ).fetchone()
                times.append(row[0])
            found = [float(t) for t in times if t is not None]
            return min(found) if found else None

        return await self._read(op)  # type: ignore[no-any-return]

    # -- flow control --------------------------------------------------------------------------
    async def runs_without_concurrency_key(
        self, *, app_id: str, job_ids: Sequence[str], limit: int
    ) -> list[tuple[str, str, Any]]:
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))

        def op(conn: sqlite3.Connection) -> list[tuple[str, str, Any]]:
            rows = conn.execute(
                f"SELECT r.id, r.job_id, e.payload FROM runs r JOIN events e "
                f"ON e.app_id = r.app_id AND e.id = r.event_id WHERE r.app_id=? "
                f"AND r.status IN ('QUEUED','WAITING','EXECUTING') AND r.concurrency_key IS NULL "
                f"AND r.job_id IN ({marks}) ORDER BY r.created_at, r.id LIMIT ?",
                (app_id, *job_ids, limit),
            ).fetchall()
            return [(r[0], r[1], loads(r[2])) for r in rows]

        return await self._read(op)  # type: ignore[no-any-return]

    async def set_concurrency_keys(
        self, *, keys: Mapping[str, str], failures: Mapping[str, str], now: float
    ) -> None:
        if not keys and not failures:
            return

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE runs SET concurrency_key=? WHERE id=? AND concurrency_key IS NULL",
                [(key, run_id) for run_id, key in keys.items()],
            )
            for run_id, error in failures.items():
                ended = conn.execute(
                    "UPDATE runs SET status='FAILED', error=?, ended_at=?, ready_at=NULL "
                    "WHERE id=? AND status IN ('QUEUED','WAITING') AND concurrency_key IS NULL "
                    "RETURNING 1",
                    (error, now, run_id),
                ).fetchone()
                if ended is not None:
                    _end_open_tasks(conn, run_id, now, include_running=False)

        await self._write(op)

    async def heartbeat(
        self, leases: Sequence[Lease], *, now: float, lease_seconds: float
    ) -> dict[str, str]:
        def op(conn: sqlite3.Connection) -> dict[str, str]:
            stop: dict[str, str] = {}
            for lease in leases:
                row = conn.execute(
                    "UPDATE runs SET lease_expires=? WHERE id=? AND lease_token=? RETURNING status",
                    (now + lease_seconds, lease.run_id, lease.token),
                ).fetchone()
                if row is None:
                    stop[lease.run_id] = "lost"
                elif row[0] == RunStatus.CANCELED:
                    stop[lease.run_id] = "canceled"
            return stop

        return await self._write(op, durable=False, kind=WriteKind.HEARTBEAT)  # type: ignore[no-any-return]

    # -- one execution -------------------------------------------------------------------------
    async def load_run_state(self, run_id: str) -> RunState:
        def op(conn: sqlite3.Connection) -> RunState:
            began = not conn.in_transaction
            if began:
                conn.execute("BEGIN")  # one snapshot for every read below
            try:
                # One pass over the run's tasks, straight into a dict: a completed task (most
                # of a resumed run's) is its output, any other task a 0 to be read whole.
                outputs: dict[str, Any] = dict(
                    conn.execute(
                        "SELECT idempotency_key, CASE status WHEN 'COMPLETED' THEN output "
                        "ELSE 0 END FROM tasks WHERE run_id=?",
                        (run_id,),
                    )
                )
                others = [key for key, output in outputs.items() if type(output) is int]
                tasks = (
                    [
                        StoredTask(*row)
                        for row in conn.execute(
                            "SELECT id, parent_id, idempotency_key, kind, status, output, "
                            "error, attempts, attempt_base, retry_at, wake_at, started_at "
                            "FROM tasks WHERE run_id=? AND status != 'COMPLETED'",
                            (run_id,),
                        )
                    ]
                    if others
                    else []
                )
                marks = dict(
                    conn.execute(
                        "SELECT scope, MAX(seq) FROM logs WHERE run_id=? GROUP BY scope", (run_id,)
                    ).fetchall()
                )
            finally:
                if began:
                    conn.execute("COMMIT")
            for key in others:
                del outputs[key]
            return RunState(outputs, tasks, marks)

        return await self._read(op)  # type: ignore[no-any-return]

    def start_attempt(
        self, lease: Lease, *, new_task: NewTask | None, task_id: str, attempt: int, now: float
    ) -> None:
        if new_task is not None:  # its first attempt: built only if it reaches the writer
            self._deferred.add_start(lease, new_task, now)
            return

        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            _write_first_attempts(conn, lease.run_id, task_id)
            _require(
                conn.execute(
                    "UPDATE tasks SET status='RUNNING', attempts=?, retry_at=NULL, "
                    "started_at=COALESCE(started_at, ?) WHERE run_id=? AND id=?",
                    (attempt, now, lease.run_id, task_id),
                ),
                f"Task {task_id}",
                lease,
            )
            conn.execute(  # an attempt still open never reported back: it was interrupted
                "UPDATE attempts SET status='ERRORED', ended_at=?, error=? "
                "WHERE task_id=? AND number<? AND status='STARTED'",
                (now, INTERRUPTED, task_id, attempt),
            )
            conn.execute(
                "INSERT INTO attempts (task_id, number, status, started_at) VALUES (?,?,?,?) "
                "ON CONFLICT (task_id, number) DO UPDATE SET status=excluded.status, "
                "started_at=excluded.started_at, ended_at=NULL, error=NULL",
                (task_id, attempt, _ATTEMPT_STARTED, now),
            )

        self._defer(op, _START, lease)

    @staticmethod
    def _start_item(lease: Lease, new_task: NewTask, now: float) -> _Item:
        """The write recording that a new task's first attempt started (``start_attempt``):
        its row, inserted RUNNING; the row records the attempt (``_rows.py``)."""

        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            _insert_task(conn, new_task, _TASK_RUNNING, attempts=1, started_at=now)

        def solo(conn: sqlite3.Connection) -> Any:
            row = _task_row(
                new_task,
                _TASK_RUNNING,
                attempts=1,
                started_at=now,
                wake_at=None,
                output=None,
                output_properties=None,
                ended_at=None,
            )
            return None if _insert_if_leased(conn, row, lease) else NOT_APPLIED

        return _Item(op, True, False, None, _START, lease, solo)

    async def flush(self) -> None:
        await self._write(_nothing, durable=False)

    async def _insert_done(
        self, lease: Lease, insert: str, insert_if_leased: str, values: tuple[Any, ...]
    ) -> str:
        """Insert a new task's completed row in a transaction that checks the lease (with the
        run's unawaited writes, or where the single statement could not be made). The row goes
        in with the lease check as one statement, as alone (``insert_if_leased``); only when it
        wrote nothing (a lost lease, a run no longer executing) is the lease read to tell why."""
        leased = (*values, lease.run_id, lease.token)

        def insert_done(conn: sqlite3.Connection) -> str:
            # No attempts row: attempt 1 is the task row's own start and end (_rows.py)
            if conn.execute(insert_if_leased, leased).rowcount == 1:
                return _EXECUTING
            status = _check_lease(conn, lease)
            conn.execute(insert, values)
            return status

        return await self._write(insert_done, kind=_COMPLETE, lease=lease)  # type: ignore[no-any-return]

    async def complete_task(
        self,
        lease: Lease,
        *,
        task_id: str,
        attempt: int,
        output: str,
        output_properties: str | None,
        now: float,
    ) -> str:
        unsent = self._deferred.withdraw_start(task_id)
        if unsent is not None:
            new_task, started_at = unsent
            insert, insert_if_leased, values = _done_row(
                new_task,
                attempts=attempt,
                started_at=started_at,
                output=output,
                output_properties=output_properties,
                ended_at=now,
            )
            if self._deferred.empty and _alone() and self._runner.may_inline(True):
                # Nothing unawaited goes with it (the common case: a task completed in the
                # execution that started it): the row alone, one statement on this thread
                leased = (*values, lease.run_id, lease.token)
                if self._runner.solo_inline(insert_if_leased, leased) == 1:
                    if self._turn_due():
                        await asyncio.sleep(0)
                    return _EXECUTING
            return await self._insert_done(lease, insert, insert_if_leased, values)

        def op(conn: sqlite3.Connection) -> str:
            status = _check_lease(conn, lease)
            _require(
                conn.execute(
                    "UPDATE tasks SET status='COMPLETED', output=?, output_properties=?, "
                    "error=NULL, ended_at=? WHERE run_id=? AND id=?",
                    (output, output_properties, now, lease.run_id, task_id),
                ),
                f"Task {task_id}",
                lease,
            )
            attempted = conn.execute(
                "UPDATE attempts SET status='COMPLETED', ended_at=? WHERE task_id=? AND number=?",
                (now, task_id, attempt),
            )
            if attempt > 1:  # attempt 1 may have no row: the task row records it (_rows.py)
                _require(attempted, f"Attempt {attempt} of task {task_id}", lease)
            return status

        def solo(conn: sqlite3.Connection) -> Any:
            # Attempt 1 with no attempts row (a task started in this execution): one statement
            run_id, token = lease.run_id, lease.token
            updated = conn.execute(
                _COMPLETE_FIRST_ATTEMPT_IF_LEASED,
                (output, output_properties, now, run_id, task_id, task_id, run_id, token),
            )
            return _EXECUTING if updated.rowcount == 1 else NOT_APPLIED

        return await self._write(  # type: ignore[no-any-return]
            op, kind=_COMPLETE, lease=lease, solo=solo if attempt == 1 else None
        )

    async def fail_attempt(
        self,
        lease: Lease,
        *,
        task_id: str,
        attempt: int,
        error: str,
        retry_at: float | None,
        now: float,
    ) -> str:
        def op(conn: sqlite3.Connection) -> str:
            status = _check_lease(conn, lease)
            if retry_at is None:
                updated = conn.execute(
                    "UPDATE tasks SET status='ERRORED', error=?, ended_at=?, retry_at=NULL "
                    "WHERE run_id=? AND id=?",
                    (error, now, lease.run_id, task_id),
                )
            else:
                updated = conn.execute(
                    "UPDATE tasks SET status='WAITING', error=?, retry_at=? "
                    "WHERE run_id=? AND id=?",
                    (error, retry_at, lease.run_id, task_id),
                )
            _require(updated, f"Task {task_id}", lease)
            if attempt == 1:
                _write_first_attempts(conn, lease.run_id, task_id)
            _require(
                conn.execute(
                    "UPDATE attempts SET status='ERRORED', ended_at=?, error=? "
                    "WHERE task_id=? AND number=?",
                    (now, error, task_id, attempt),
                ),
                f"Attempt {attempt} of task {task_id}",
                lease,
            )
            return status

        return await self._write(op, kind=WriteKind.FAIL, lease=lease)  # type: ignore[no-any-return]

    def record_wait(self, lease: Lease, *, new_task: NewTask, wake_at: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            _insert_task(
                conn,
                new_task,
                _TASK_WAITING,
                wake_at=wake_at,
                started_at=new_task.created_at,
            )

        self._defer(op, WriteKind.WAIT, lease)

    def complete_wait(self, lease: Lease, *, task_id: str, now: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            _require(
                conn.execute(
                    "UPDATE tasks SET status='COMPLETED', ended_at=? "
                    "WHERE run_id=? AND id=? AND status IN ('WAITING','COMPLETED')",
                    (now, lease.run_id, task_id),
                ),
                f"Wait {task_id}",
                lease,
            )

        self._defer(op, WriteKind.WAIT_OVER, lease)

    def add_logs(self, lease: Lease, logs: Sequence[LogEntry]) -> None:
        rows = [
            (g.run_id, g.scope, g.seq, g.task_id, g.level, g.message, dumps(g.data), g.created_at)
            for g in logs
        ]

        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            conn.executemany(
                "INSERT OR IGNORE INTO logs (run_id, scope, seq, task_id, level, message, data, "
                "created_at) VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )

        self._defer(op, WriteKind.LOGS, lease)

    async def suspend_run(self, lease: Lease, *, ready_at: float, now: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            status = _check_lease(conn, lease)
            if status != RunStatus.EXECUTING:
                _end_open_tasks(conn, lease.run_id, now, include_running=True)
                return False
            conn.execute(
                "UPDATE runs SET status='WAITING', ready_at=MIN(?, COALESCE(ready_at, ?)), "
                "lease_owner=NULL, lease_expires=NULL WHERE id=?",
                (ready_at, ready_at, lease.run_id),
            )
            return True

        return await self._write(  # type: ignore[no-any-return]
            op, kind=WriteKind.SUSPEND, lease=lease
        )

    async def finish_run(
        self, lease: Lease, *, status: str, output: str | None, error: str | None, now: float
    ) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            # The lease checked in the UPDATE's WHERE: one statement fewer than a SELECT first
            if (
                conn.execute(
                    "UPDATE runs SET status=?, output=?, error=?, ended_at=?, ready_at=NULL, "
                    "lease_owner=NULL, lease_expires=NULL WHERE id=? AND lease_token=? "
                    "AND status='EXECUTING'",
                    (status, output, error, now, lease.run_id, lease.token),
                ).rowcount
                == 1
            ):
                _end_open_tasks(conn, lease.run_id, now, include_running=True)
                return True
            _check_lease(conn, lease)  # lost: raises LeaseLostError
            # Canceled while this worker executed it: what the execution left open ends.
            _end_open_tasks(conn, lease.run_id, now, include_running=True)
            conn.execute(
                "UPDATE runs SET lease_owner=NULL, lease_expires=NULL WHERE id=?",
                (lease.run_id,),
            )
            return False

        return await self._write(  # type: ignore[no-any-return]
            op, kind=WriteKind.FINISH, lease=lease
        )

    async def release_run(self, lease: Lease, *, now: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE runs SET status='QUEUED', ready_at=?, lease_owner=NULL, "
                "lease_expires=NULL WHERE id=? AND lease_token=? AND status='EXECUTING'",
                (now - RESUMPTION_HEAD_START_S, lease.run_id, lease.token),
            )

        try:
            await self._write(op, kind=WriteKind.RELEASE)
        finally:
            self._deferred.forget(lease)

    # -- operations ----------------------------------------------------------------------------
    async def get_run(self, run_id: str, *, with_tasks: bool = True) -> Run | None:
        def op(conn: sqlite3.Connection) -> Run | None:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = ?", (run_id,)
            ).fetchone()
            if row is None:
                return None
            run = run_from_row(row)
            if with_tasks:
                run.tasks = _load_task_records(conn, run_id)
                run.logs = [
                    LogEntry(run_id, r[0], r[1], r[2], r[3], loads(r[4]), r[5], r[6])
                    for r in conn.execute(
                        "SELECT scope, seq, level, message, data, created_at, task_id FROM logs "
                        "WHERE run_id=? ORDER BY id",
                        (run_id,),
                    )
                ]
            return run

        return await self._read(op)  # type: ignore[no-any-return]

    async def list_runs(
        self,
        *,
        app_id: str | None = None,
        job_id: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 50,
        before: float | None = None,
    ) -> list[Run]:
        clauses: list[str] = []
        params: list[Any] = []
        if app_id is not None:
            clauses.append("r.app_id = ?")
            params.append(app_id)
        if job_id is not None:
            clauses.append("r.job_id = ?")
            params.append(job_id)
        if status:
            clauses.append(f"r.status IN ({','.join('?' * len(status))})")
            params.extend(status)
        if before is not None:
            clauses.append("r.created_at < ?")
            params.append(before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""

        def op(conn: sqlite3.Connection) -> list[Run]:
            return [
                run_from_row(r)
                for r in conn.execute(
                    f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} {where} "
                    "ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
                    (*params, limit),
                )
            ]

        return await self._read(op)  # type: ignore[no-any-return]

    async def record_cancel(self, decision: CancelDecision, *, now: float) -> bool:
        run_id = decision.run_id

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(run_id)
            if row[0] != decision.status:
                return False
            conn.execute(
                "UPDATE runs SET status='CANCELED', ended_at=?, ready_at=NULL WHERE id=?",
                (now, run_id),
            )
            if TaskStatus.RUNNING in decision.end_tasks:
                _write_first_attempts(conn, run_id)
                conn.execute(
                    "UPDATE attempts SET status='ERRORED', ended_at=?, error=? WHERE "
                    "status='STARTED' AND task_id IN (SELECT id FROM tasks WHERE run_id=? AND "
                    "status='RUNNING')",
                    (now, RUN_ENDED, run_id),
                )
            marks = ",".join("?" * len(decision.end_tasks))
            conn.execute(
                f"UPDATE tasks SET status='CANCELED', ended_at=? WHERE run_id=? AND status IN "
                f"({marks})",
                (now, run_id, *decision.end_tasks),
            )
            return True

        return await self._write(op)  # type: ignore[no-any-return]

    async def record_retry(self, decision: RetryDecision, *, now: float) -> bool:
        run_id = decision.run_id

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(run_id)
            if row[0] != decision.status:
                return False
            _write_first_attempts(conn, run_id)  # before running tasks are reset
            conn.executemany(
                "UPDATE tasks SET status=?, attempt_base=attempts, error=?, retry_at=NULL, "
                "ended_at=NULL WHERE run_id=? AND id=? AND status=?",
                [(t.status, t.error, run_id, t.task_id, t.seen) for t in decision.tasks],
            )
            conn.execute(
                "UPDATE runs SET status='QUEUED', ready_at=?, started_at=NULL, ended_at=NULL, "
                "output=NULL, error=NULL, is_retry=1, lease_owner=NULL, lease_expires=NULL "
                "WHERE id=?",
                (now, run_id),
            )
            return True

        return await self._write(op)  # type: ignore[no-any-return]

    async def replay_run(self, run_id: str, *, new_run_id: str, now: float) -> Run:
        def op(conn: sqlite3.Connection) -> None:
            # A replay is a new run: it takes the job's version registered now (the code that
            # runs it), not the version the replayed run kept.
            row = conn.execute(
                "SELECT r.app_id, r.job_id, COALESCE(j.version, r.job_version), r.event_id "
                "FROM runs r LEFT JOIN jobs j ON j.app_id = r.app_id AND j.job_id = r.job_id "
                "WHERE r.id=?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise RunNotFoundError(run_id)
            conn.execute(
                "INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, created_at, "
                "ready_at, replay_of) VALUES (?,?,?,?,?,'QUEUED',?,?,?)",
                (new_run_id, row[0], row[1], row[2], row[3], now, now, run_id),
            )

        await self._write(op)
        return await self._must_get(new_run_id)

    async def _must_get(self, run_id: str) -> Run:
        run = await self.get_run(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return run

    # -- waits for events, delayed events, io.store ---------------------------------------------
    async def create_events(
        self, items: Sequence[tuple[Event, Sequence[NewRun]]], now: float
    ) -> list[tuple[Event, bool]]:
        def op(conn: sqlite3.Connection) -> list[tuple[Event, bool]]:
            return [_store_event(conn, event, runs, now) for event, runs in items]

        return await self._write(op, kind=WriteKind.EVENT)  # type: ignore[no-any-return]

    async def has_event_waits(self, app_id: str, name: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM event_waits WHERE app_id=? AND name=? LIMIT 1", (app_id, name)
            ).fetchone()
            return row is not None

        return await self._read(op)  # type: ignore[no-any-return]

    async def record_event_wait(
        self,
        lease: Lease,
        *,
        new_task: NewTask | None,
        task_id: str,
        name: str,
        filter: str | None,
        began_at: float,
        timeout_at: float,
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            if new_task is not None:
                _insert_task(conn, new_task, _TASK_WAITING, wake_at=timeout_at, started_at=began_at)
            else:
                _require(
                    conn.execute(
                        "UPDATE tasks SET status='WAITING', wake_at=?, output=NULL, error=NULL, "
                        "ended_at=NULL WHERE run_id=? AND id=?",
                        (timeout_at, lease.run_id, task_id),
                    ),
                    f"Wait {task_id}",
                    lease,
                )
            conn.execute(
                "INSERT OR REPLACE INTO event_waits (run_id, task_id, app_id, name, filter, "
                "began_at, timeout_at) SELECT id, ?, app_id, ?, ?, ?, ? FROM runs WHERE id=?",
                (task_id, name, filter, began_at, timeout_at, lease.run_id),
            )

        await self._write(op, kind=WriteKind.WAIT, lease=lease)

    async def resolve_event_wait(
        self, lease: Lease, *, task_id: str, now: float, timeout_error: str
    ) -> tuple[str, Any]:
        def op(conn: sqlite3.Connection) -> tuple[str, Any]:
            _check_lease(conn, lease)
            wait = conn.execute(
                "SELECT app_id, event_id, event_at, timeout_at FROM event_waits "
                "WHERE run_id=? AND task_id=?",
                (lease.run_id, task_id),
            ).fetchone()
            if wait is None:
                raise _RowMissing(f"Wait {task_id} of run {lease.run_id} is not stored")
            app_id, event_id, event_at, timeout_at = wait
            if event_id is not None and event_at <= now:
                ev = conn.execute(
                    "SELECT name, payload, timestamp, deliver_at FROM events "
                    "WHERE app_id=? AND id=?",
                    (app_id, event_id),
                ).fetchone()
                run_ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM runs WHERE app_id=? AND event_id=? AND replay_of IS NULL "
                        "ORDER BY created_at, id",
                        (app_id, event_id),
                    )
                ]
                output = event_json(event_id, ev[0], ev[1], ev[2], ev[3], run_ids)
                conn.execute(
                    "UPDATE tasks SET status='COMPLETED', output=?, ended_at=? "
                    "WHERE run_id=? AND id=?",
                    (output, now, lease.run_id, task_id),
                )
                result: tuple[str, Any] = ("event", output)
            elif timeout_at <= now:
                conn.execute(
                    "UPDATE tasks SET status='ERRORED', error=?, ended_at=? "
                    "WHERE run_id=? AND id=?",
                    (timeout_error, now, lease.run_id, task_id),
                )
                result = ("timeout", None)
            else:
                return "waiting", event_at if event_id is not None else timeout_at
            return result

        return await self._write(  # type: ignore[no-any-return]
            op, kind=WriteKind.WAIT_OVER, lease=lease
        )

    async def get_event(self, app_id: str, event_id: str) -> Event | None:
        def op(conn: sqlite3.Connection) -> Event | None:
            return _load_event(conn, app_id, event_id)

        return await self._read(op)  # type: ignore[no-any-return]

    async def cancel_event(
        self, app_id: str, event_id: str, *, now: float
    ) -> tuple[Event | None, str]:
        def op(conn: sqlite3.Connection) -> tuple[Event | None, str]:
            event = _load_event(conn, app_id, event_id)
            if event is None:
                return None, "missing"
            if event.canceled_at is not None:
                return event, "canceled_before"
            if (event.deliver_at or event.timestamp) <= now:
                return event, "delivered"
            conn.execute(
                "UPDATE events SET canceled_at=? WHERE app_id=? AND id=?", (now, app_id, event_id)
            )
            conn.execute(
                "UPDATE runs SET status='CANCELED', ended_at=?, ready_at=NULL "
                "WHERE app_id=? AND event_id=? AND status='QUEUED'",
                (now, app_id, event_id),
            )
            matched = conn.execute(
                "SELECT run_id, task_id, name, filter, began_at, timeout_at FROM event_waits "
                "WHERE app_id=? AND event_id=?",
                (app_id, event_id),
            ).fetchall()
            for run_id, task_id, name, spec, began_at, timeout_at in matched:
                candidates = conn.execute(
                    "SELECT id, payload, COALESCE(deliver_at, timestamp) AS at FROM events "
                    "WHERE app_id=? AND name=? AND timestamp>=? AND canceled_at IS NULL "
                    "ORDER BY at, id",
                    (app_id, name, began_at),
                ).fetchall()
                found = first_match(candidates, spec, timeout_at)
                conn.execute(
                    "UPDATE event_waits SET event_id=?, event_at=? WHERE run_id=? AND task_id=?",
                    (*(found or (None, None)), run_id, task_id),
                )
                conn.execute(
                    "UPDATE tasks SET wake_at=? WHERE run_id=? AND id=? AND status='WAITING'",
                    (found[1] if found else timeout_at, run_id, task_id),
                )
            event.canceled_at = now
            return event, "canceled"

        return await self._write(op, kind=WriteKind.OPERATION)  # type: ignore[no-any-return]

    def delay_task(self, lease: Lease, *, new_task: NewTask, start_at: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _check_lease(conn, lease)
            _insert_task(conn, new_task, _TASK_WAITING)
            conn.execute(
                "UPDATE tasks SET retry_at=? WHERE run_id=? AND id=?",
                (start_at, lease.run_id, new_task.id),
            )

        self._defer(op, WriteKind.WAIT, lease)

    async def get_item(self, app_id: str, scope: str, owner: str, key: str) -> str | None:
        def op(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT value FROM store_items WHERE app_id=? AND scope=? AND owner=? AND key=?",
                (app_id, scope, owner, key),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._read(op)  # type: ignore[no-any-return]

    async def set_item(
        self, app_id: str, scope: str, owner: str, key: str, value: str, *, now: float
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO store_items (app_id, scope, owner, key, value, updated_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (app_id, scope, owner, key) DO UPDATE SET "
                "value=excluded.value, updated_at=excluded.updated_at",
                (app_id, scope, owner, key, value, now),
            )

        await self._write(op)

    async def delete_item(self, app_id: str, scope: str, owner: str, key: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM store_items WHERE app_id=? AND scope=? AND owner=? AND key=?",
                (app_id, scope, owner, key),
            )
            return cur.rowcount > 0

        return await self._write(op)  # type: ignore[no-any-return]


def _store_event(
    conn: sqlite3.Connection, event: Event, runs: Sequence[NewRun], now: float
) -> tuple[Event, bool]:
    inserted = conn.execute(  # an id sent before keeps its event: nothing is written then
        "INSERT INTO events (app_id, id, name, payload, timestamp, deliver_at) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT (app_id, id) DO NOTHING",
        (
            event.app_id,
            event.id,
            event.name,
            json.dumps(event.payload),
            event.timestamp,
            event.deliver_at,
        ),
    ).rowcount
    if not inserted:
        existing = conn.execute(
            "SELECT name, payload, timestamp, deliver_at FROM events WHERE app_id=? AND id=?",
            (event.app_id, event.id),
        ).fetchone()
        run_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM runs WHERE app_id=? AND event_id=? AND replay_of IS NULL "
                "ORDER BY created_at, id",
                (event.app_id, event.id),
            )
        ]
        stored = Event(
            event.id,
            event.app_id,
            existing[0],
            loads(existing[1]),
            existing[2],
            existing[3],
            run_ids,
        )
        return stored, False
    conn.executemany(
        "INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, created_at, "
        "ready_at) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                event.app_id,
                r.job_id,
                r.job_version,
                event.id,
                _RUN_QUEUED,
                now,
                r.ready_at,
            )
            for r in runs
        ],
    )
    event.run_ids = [r.id for r in runs]
    _resume_waits(conn, event)
    return event, True


def _resume_waits(conn: sqlite3.Connection, event: Event) -> None:
    """Match a just-stored event to the waits open now (see ``_event_waits``)."""
    at = event.deliver_at if event.deliver_at is not None else event.timestamp
    waits = conn.execute(OPEN_WAITS_SQL.format(p="?"), (event.app_id, event.name)).fetchall()
    for run_id, task_id in to_resume(waits, event.payload, at):
        conn.execute(
            "UPDATE event_waits SET event_id=?, event_at=? WHERE run_id=? AND task_id=?",
            (event.id, at, run_id, task_id),
        )
        conn.execute("UPDATE tasks SET wake_at=? WHERE run_id=? AND id=?", (at, run_id, task_id))
        conn.execute(
            "UPDATE runs SET ready_at=MIN(COALESCE(ready_at, ?), ?) "
            "WHERE id=? AND status IN ('WAITING','EXECUTING')",
            (at, at, run_id),
        )


def _load_event(conn: sqlite3.Connection, app_id: str, event_id: str) -> Event | None:
    row = conn.execute(
        "SELECT name, payload, timestamp, deliver_at, canceled_at FROM events "
        "WHERE app_id=? AND id=?",
        (app_id, event_id),
    ).fetchone()
    if row is None:
        return None
    run_ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM runs WHERE app_id=? AND event_id=? AND replay_of IS NULL "
            "ORDER BY created_at, id",
            (app_id, event_id),
        )
    ]
    return Event(event_id, app_id, row[0], loads(row[1]), row[2], row[3], run_ids, row[4])


def _versions_sql(
    job_ids: Sequence[str], rules: Mapping[str, ClaimRule] | None, alias: str = ""
) -> tuple[str, list[str]]:
    """An ``AND ...`` keeping only runs of the versions the rules name (nothing without rules)."""
    rules = rules or {}
    pairs = [(j, v) for j in job_ids for v in rules.get(j, ClaimRule()).versions]
    if not pairs:
        return "", []
    free = [j for j in job_ids if not rules.get(j, ClaimRule()).versions]
    any_version = f" OR {alias}job_id IN ({','.join('?' * len(free))})" if free else ""
    values = ",".join("(?,?)" for _ in pairs)
    return (
        f" AND (({alias}job_id, {alias}job_version) IN (VALUES {values}){any_version})",
        [x for pair in pairs for x in pair] + free,
    )


_CLAIM_CHUNK = 512
"""Runs a claim takes with one statement."""


def _in_list(values: list[str]) -> tuple[str, list[str]]:
    """The ``?`` marks of an ``IN (…)`` list for ``values`` and the values to bind, padded to a
    power of two by repeating the last one (harmless in ``IN``): a statement taking a varying
    number of values then comes in a few texts, not one per count, and sqlite3, which keeps
    prepared statements by their text (128 a connection), keeps preparing the others once."""
    size = 1 << (len(values) - 1).bit_length()
    return ",".join("?" * size), values + [values[-1]] * (size - len(values))


def _limited_candidates(
    conn: sqlite3.Connection,
    app_id: str,
    limited: Mapping[str, ClaimRule],
    now: float,
    limit: int,
) -> list[tuple[str, str, float]]:
    """Runs of concurrency-limited jobs that may start now, oldest created first: per job (and
    key) no more than the limit minus the runs executing under a live lease. The caller's write
    transaction makes the count and the claim one decision (SQLite has one writer at a time)."""
    jobs = list(limited)
    lim_values = ",".join("(?,?,?)" for _ in jobs)
    lim_params = [x for j in jobs for x in (j, limited[j].concurrency_limit, limited[j].keyed)]
    pinned, pin_params = _versions_sql(jobs, limited, alias="r.")
    rows = conn.execute(
        f"WITH lim(job_id, n, keyed) AS (VALUES {lim_values}), "
        "held AS (SELECT job_id, COALESCE(concurrency_key, '') AS k, COUNT(*) AS n FROM runs "
        "WHERE app_id=? AND status='EXECUTING' AND lease_expires >= ? "
        "AND job_id IN (SELECT job_id FROM lim) GROUP BY 1, 2), "
        "cand AS (SELECT r.id, r.status, r.job_id, COALESCE(r.concurrency_key, '') AS k, "
        "r.created_at, CASE r.status WHEN 'EXECUTING' THEN r.lease_expires WHEN 'QUEUED' "
        "THEN r.ready_at + ? ELSE r.ready_at END AS t, ROW_NUMBER() OVER (PARTITION BY "
        "r.job_id, COALESCE(r.concurrency_key, '') "
        "ORDER BY r.created_at, r.id) AS rn FROM runs r JOIN lim ON lim.job_id = r.job_id "
        "WHERE r.app_id=? AND ((r.status IN ('QUEUED','WAITING') AND r.ready_at <= ?) "
        "OR (r.status='EXECUTING' AND r.lease_expires < ?)) "
        f"AND (NOT lim.keyed OR r.concurrency_key IS NOT NULL){pinned}) "
        "SELECT c.id, c.status, c.t FROM cand c JOIN lim ON lim.job_id = c.job_id "
        "LEFT JOIN held h ON h.job_id = c.job_id AND h.k = c.k "
        "WHERE c.rn <= lim.n - COALESCE(h.n, 0) ORDER BY c.created_at, c.id LIMIT ?",
        (*lim_params, app_id, now, RESUMPTION_HEAD_START_S, app_id, now, now, *pin_params, limit),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _end_open_tasks(
    conn: sqlite3.Connection, run_id: str, now: float, *, include_running: bool
) -> None:
    """A run that ended leaves no task pending, waiting or running, and no attempt open.

    One pass over the run's tasks finds the open ones (often none, or a few among thousands
    completed); only those are written."""
    statuses = "('PENDING','WAITING','RUNNING')" if include_running else "('PENDING','WAITING')"
    open_tasks = conn.execute(
        f"SELECT id, status FROM tasks WHERE run_id=? AND status IN {statuses}", (run_id,)
    ).fetchall()
    if not open_tasks:
        return
    if include_running:
        running = [task_id for task_id, status in open_tasks if status == "RUNNING"]
        if running:
            _write_first_attempts(conn, run_id)
        conn.executemany(
            "UPDATE attempts SET status='ERRORED', ended_at=?, error=? WHERE task_id=? "
            "AND status='STARTED'",
            [(now, RUN_ENDED, task_id) for task_id in running],
        )
    conn.executemany(
        "UPDATE tasks SET status='CANCELED', ended_at=? WHERE run_id=? AND id=?",
        [(now, run_id, task_id) for task_id, _ in open_tasks],
    )


def _write_first_attempts(
    conn: sqlite3.Connection, run_id: str, task_id: str | None = None
) -> None:
    """Give a row to the first attempt of each running task of the run (or of task ``task_id``,
    whatever its status) that has none, so that what closes the attempt next finds it.

    A first attempt has no row while it runs: the task row records its start (``_rows.py``).
    Whatever ends it other than its completion (its failure, a crash found by the next attempt,
    a cancel, the run's end, a retry of the run) calls this first."""
    which = "id=?" if task_id is not None else "status='RUNNING'"
    conn.execute(
        "INSERT INTO attempts (task_id, number, status, started_at) SELECT id, 1, 'STARTED', "
        f"started_at FROM tasks WHERE run_id=? AND {which} AND attempts>=1 AND started_at IS "
        "NOT NULL ON CONFLICT (task_id, number) DO NOTHING",
        (run_id,) if task_id is None else (run_id, task_id),
    )


def _load_task_records(conn: sqlite3.Connection, run_id: str) -> list[TaskRun]:
    return task_tree(
        conn.execute(tasks_of_run_sql("?"), (run_id,)).fetchall(),
        conn.execute(attempts_of_run_sql("?"), (run_id,)).fetchall(),
    )


def _split_sql(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


_memory_counter = 0
_memory_lock = threading.Lock()


def _parse_url(url: str) -> tuple[str, bool, str]:
    from urllib.parse import parse_qs

    if not url.startswith("sqlite://"):
        raise ConfigurationError(f"Not a SQLite URL: {url!r}")
    rest = url[len("sqlite://") :]
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    params = parse_qs(query)
    synchronous = params.pop("synchronous", ["full"])[-1].lower()
    if synchronous not in _SYNC_MODES:
        raise ConfigurationError(
            f"Unknown SQLite synchronous setting {synchronous!r} in {url!r}; use one of "
            f"{', '.join(_SYNC_MODES)} (full is the power-safe default)."
        )
    if params:
        raise ConfigurationError(
            f"Unknown option(s) {', '.join(sorted(params))} in database URL {url!r}; "
            "the SQLite store understands only 'synchronous'."
        )
    if rest in (":memory:", "/:memory:"):
        global _memory_counter
        with _memory_lock:
            _memory_counter += 1
            name = f"file:runio-memory-{_memory_counter}?mode=memory&cache=private"
        return name, True, synchronous
    if not rest.startswith("/"):
        raise ConfigurationError(
            f"Cannot read the SQLite path in {url!r}: write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (three slashes, then the path)."
        )
    path = rest[1:]
    if not path:
        raise ConfigurationError(f"The SQLite URL {url!r} names no file.")
    return path, False, synchronous
