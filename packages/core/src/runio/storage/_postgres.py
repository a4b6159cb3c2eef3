"""The PostgreSQL store: many workers on many machines sharing one database.

Owns: the connection pool, the order and batching of a run's writes, fencing by lease token,
claims (``FOR UPDATE SKIP LOCKED``), wake-ups (``LISTEN``/``NOTIFY``) and reconnecting after the
server went away. It must not know about job functions or retries: the engine decides.

One private event loop per store, on its own thread, owns an ``AsyncConnectionPool`` and every
connection. Callers on any event loop (a worker's, the client's sync bridge, a test's) hand work to
it and await the answer, as the SQLite store hands work to its thread. A pool per caller loop was
the alternative; it was dropped because ``asyncio.run`` cancels the pool's own tasks before anyone
can close its connections, and the engine's writes of one run may come from a worker loop and from
worker threads (log lines) alike.

Writes of executing runs go through one writer, in submission order. Whatever has queued up while
it was busy is applied as one transaction sent in one round trip (group commit): ``BEGIN``, the
run rows of a batch that writes to several runs locked in id order (so two batches never
deadlock), one statement per write, ``COMMIT``. Each write is a single statement fenced by the
lease token under the run row's lock: a stale lease makes it a no-op and its caller gets
``LeaseLostError``, while the rest of the batch commits. A batch that fails for another reason on
a connection still usable is rolled back and replayed one write per transaction, so only the
broken write fails. A write whose connection broke has an unknown outcome: its caller gets
``StoreError`` and the engine stops the execution; the run resumes from what is stored once its
lease expires. Lease renewals go through the writer too, so their row locks follow the same order.

Reads, claims and the operations on runs use other pooled connections, concurrently; those that
are safe to repeat are retried while the server restarts.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import select
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from .._records import (
    ApiKeyRecord,
    ClaimedRun,
    EventRecord,
    JobRecord,
    Lease,
    LogRecord,
    NewRun,
    NewTask,
    RunQuery,
    RunRecord,
    RunStatus,
    StoredTask,
    TaskRecord,
)
from ..errors import (
    ConfigurationError,
    InvalidRunStateError,
    LeaseLostError,
    MigrationError,
    RunioError,
    RunNotFoundError,
    StoreError,
)
from ._base import Store, Watch
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
    task_tree,
    tasks_of_run_sql,
)
from ._run_query import API_KEY_COLUMNS, api_key_from_row, find_runs_sql

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[Any, ...]]

log = logging.getLogger("runio.storage.postgres")

CHANNEL = "runio_wakeup"
"""The NOTIFY channel; the payload is the app id whose runs may have become ready."""

_BATCH_MAX = 256
_MIGRATION_LOCK = 0x72756E696F  # "runio": pg_advisory_xact_lock key serialising upgrades
_RETRY_SECONDS = 60.0
"""How long reads and claims keep retrying while the server is unreachable (after a first
successful connection: a wrong URL fails at once)."""
_LISTEN_CHECK = 30.0
_LISTEN_READY = 5.0
_RUNIO_OPTIONS: dict[str, float] = {"pool_min_size": 1, "pool_max_size": 10, "pool_timeout": 10.0}


def _lost_connection(exc: BaseException) -> bool:
    """A failure of the connection (the server went away, refused, or the pool found none),
    as opposed to one of a statement (a deadlock, a constraint) on a connection still usable."""
    if isinstance(exc, PoolTimeout | PoolClosed | psycopg.InterfaceError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")
    return False


def _migrations() -> list[tuple[int, str, str]]:
    return migrations("postgresql")


# -- URLs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Settings:
    conninfo: str
    redacted: str
    pool_min_size: int
    pool_max_size: int
    pool_timeout: float


def _parse_url(url: str) -> _Settings:
    """Split runio's own options (pool sizes) off a libpq URL and check the rest."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parts = urlsplit(url)
    ours = dict(_RUNIO_OPTIONS)
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in _RUNIO_OPTIONS:
            try:
                ours[key] = float(value) if key == "pool_timeout" else int(value)
            except ValueError:
                raise ConfigurationError(
                    f"{key}={value!r} in the database URL {_redact(url)!r} is not a number."
                ) from None
        else:
            rest.append((key, value))
    low, high = int(ours["pool_min_size"]), int(ours["pool_max_size"])
    if low < 0 or high < max(1, low) or not ours["pool_timeout"] > 0:
        raise ConfigurationError(
            f"Bad pool settings in the database URL {_redact(url)!r}: pool_min_size={low}, "
            f"pool_max_size={high}, pool_timeout={ours['pool_timeout']:g} (need "
            "0 <= pool_min_size <= pool_max_size, pool_max_size >= 1, pool_timeout > 0)."
        )
    plain = urlunsplit(parts._replace(query=urlencode(rest)))
    redacted = _redact(url)
    try:
        params = conninfo_to_dict(plain)
    except psycopg.Error as exc:
        reason = str(exc)
        if parts.password:
            reason = reason.replace(parts.password, "***")
        raise ConfigurationError(
            f"Cannot read the PostgreSQL URL {redacted!r}: {reason}. Write it as "
            "postgresql://user:password@host:5432/database."
        ) from None
    params.setdefault("application_name", "runio")
    params.setdefault("connect_timeout", 10)
    # A peer that vanished without closing (a partition, a failed-over host) is noticed in
    # about a minute instead of the kernel's hours.
    params.setdefault("keepalives_idle", 30)
    params.setdefault("keepalives_interval", 10)
    params.setdefault("keepalives_count", 3)
    return _Settings(make_conninfo("", **params), redacted, low, high, ours["pool_timeout"])


def _redact(url: str) -> str:
    """The URL without its password, for messages and ``Store.url``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = urlencode(
        [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# -- values ------------------------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters (JSON escapes them; names and log lines
    may not)."""
    return None if value is None else value.replace("\x00", "\ufffd")


def _qmark(sql: str) -> str:
    """``?`` placeholders (as the SQLite store takes them) to psycopg's ``%s``, outside quotes."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


_TASK_COLUMNS = (
    "id, run_id, parent_id, idempotency_key, cache_key, kind, name, icon, properties, params, "
    "style, redact, status, depth, created_at, attempts, started_at, wake_at, output, "
    "output_properties, ended_at"
)
# Typed, because `INSERT ... SELECT` resolves an untyped NULL as text.
_TASK_VALUES = ", ".join(
    f"%s::{t}"
    for t in (
        *["text"] * 13,
        "integer",
        "float8",
        "integer",
        "float8",
        "float8",
        "text",
        "text",
        "float8",
    )
)


def _task_values(t: NewTask, status: str, **extra: Any) -> tuple[Any, ...]:
    return (
        t.id,
        t.run_id,
        t.parent_id,
        t.idempotency_key,
        t.cache_key,
        t.kind,
        _text(t.name),
        _text(t.icon),
        t.properties,
        t.params,
        _text(t.style),
        t.redact,
        status,
        t.depth,
        t.created_at,
        extra.get("attempts", 0),
        extra.get("started_at"),
        extra.get("wake_at"),
        extra.get("output"),
        extra.get("output_properties"),
        extra.get("ended_at"),
    )


# The fence: the run row, if this lease's token is still the run's. Every write of an executing
# run is one statement that starts with it and writes only `WHERE EXISTS (SELECT FROM r)`.
_FENCE = "r AS (SELECT status FROM runs WHERE id = %s AND lease_token = %s FOR UPDATE)"
_LOCK_RUNS = "SELECT FROM runs WHERE id = ANY(%s::text[]) ORDER BY id FOR UPDATE"
_HELD = "EXISTS (SELECT FROM r)"
_EXECUTING = "EXISTS (SELECT FROM r WHERE status = 'EXECUTING')"
_NOT_EXECUTING = "EXISTS (SELECT FROM r WHERE status <> 'EXECUTING')"


def _end_open_tasks(run_id: str, now: float, *, when: str) -> tuple[str, tuple[Any, ...]]:
    """CTEs ending what a run left open (as the SQLite store's ``_end_open_tasks`` with
    ``include_running``): its tasks pending, waiting or running, and their open attempts."""
    sql = (
        "ea AS (UPDATE attempts SET status = 'ERRORED', ended_at = %s, error = %s WHERE "
        "status = 'STARTED' AND task_id IN (SELECT id FROM tasks WHERE run_id = %s AND "
        f"status = 'RUNNING') AND {when} RETURNING 1), "
        "et AS (UPDATE tasks SET status = 'CANCELED', ended_at = %s WHERE run_id = %s AND "
        f"status IN ('PENDING','WAITING','RUNNING') AND {when} RETURNING 1)"
    )
    return sql, (now, RUN_ENDED, run_id, now, run_id)


# -- the writer's unit of work -----------------------------------------------------------------


Rows = list[tuple[Any, ...]]


@dataclass(slots=True)
class _Write:
    """One statement of the writer, with how to read its result rows."""

    sql: str
    params: tuple[Any, ...]
    run_ids: tuple[str, ...]
    """Run rows the statement writes (locked first, in id order, by the batch)."""
    durable: bool
    parse: Callable[[Rows], Any]
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]] | None
    """The caller's loop and future; None: unawaited."""
    started_task: str | None = None
    """For a deferred "new task started" write: the task's id (see complete_task)."""


def _fenced(lease: Lease) -> Callable[[Rows], Any]:
    def parse(rows: Rows) -> Any:
        if not rows:
            raise LeaseLostError(lease.run_id)
        return rows[0][0]

    return parse


def _recorded(lease: Lease, task_id: str) -> Callable[[Rows], Any]:
    """A task's end: fenced, and the task row must exist (its start may have been lost)."""

    def parse(rows: Rows) -> Any:
        if not rows:
            raise LeaseLostError(lease.run_id)
        status, updated = rows[0]
        if not updated:
            raise StoreError(
                f"Task {task_id} of run {lease.run_id} has no stored start (an earlier write of "
                "this run failed), so its result was not stored. The run resumes from what is "
                "stored once its lease expires; nothing to do."
            )
        return status

    return parse


def _ignore(rows: Rows) -> None:
    return None


# -- the store's own event loop ----------------------------------------------------------------


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="runio-postgres", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=30)
            if not self.thread.is_alive():
                self.loop.close()


def _alive(conn: Conn) -> bool:
    """Whether an idle connection may still be used: a server that restarted or ended the
    session has left an error and end-of-file to read on it. Costs a poll, not a round trip
    (the pool's own check would be a query per use, and it backs off a second per dead one)."""
    if conn.closed:
        return False
    ready, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    return not ready


class _PgWatch(Watch):
    def __init__(self, store: PostgresStore, key: int) -> None:
        self._store = store
        self._key = key

    async def close(self) -> None:
        key, self._key = self._key, -1
        if key < 0 or self._store._closed:
            return
        with contextlib.suppress(StoreError):
            await self._store._call(self._store._unwatch(key))


_open_stores: weakref.WeakSet[PostgresStore] = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    for store in list(_open_stores):
        store._close_at_exit()


class PostgresStore(Store):
    """``postgresql://user:password@host:5432/database`` (any libpq URL; ``postgres://`` too).

    runio's own query parameters: ``pool_min_size`` (default 1) and ``pool_max_size`` (default
    10), the connections this store keeps open (one more while a worker listens for wake-ups),
    and ``pool_timeout`` (default 10), seconds an operation waits for a connection before it
    fails with ``StoreError``. ``Store.url`` is the URL without its password.
    """

    def __init__(self, url: str) -> None:
        settings = _parse_url(url)
        self._settings = settings
        self.url = settings.redacted
        self._closed = False
        self._portal = _LoopThread()
        self._loop = self._portal.loop
        _open_stores.add(self)
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._pool_lock: asyncio.Lock | None = None
        self._connected_once = False
        # The writer: items queued from any thread, applied in order on the store's loop.
        self._lock = threading.Lock()
        self._queue: list[_Write] = []
        self._submitted = 0
        self._applied = 0
        self._writer_busy = False
        self._progress: asyncio.Condition | None = None
        # Unawaited writes not yet handed to the writer (see _defer).
        self._deferred: list[_Write] = []
        self._flush_scheduled_on: asyncio.AbstractEventLoop | None = None
        self._started: dict[str, tuple[NewTask, float]] = {}
        # LISTEN: one connection per store, whatever the number of watchers.
        self._watchers: dict[int, tuple[str, Callable[[], None]]] = {}
        self._watch_keys = 0
        self._listener: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None

    # -- plumbing: hopping onto the store's loop ---------------------------------------------
    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise StoreError("This store is closed; create a new Client or store to go on.")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return await asyncio.wrap_future(fut)

    async def _get_pool(self) -> AsyncConnectionPool[Conn]:
        if self._pool is not None:
            return self._pool
        if self._pool_lock is None:
            self._pool_lock = asyncio.Lock()
        async with self._pool_lock:
            if self._pool is None:
                # One plain connection first, so a wrong URL or a server that is down is
                # reported at once with libpq's own words (the pool would only time out).
                try:
                    first = await psycopg.AsyncConnection.connect(self._settings.conninfo)
                except psycopg.Error as exc:
                    raise StoreError(
                        f"Cannot connect to PostgreSQL at {self.url}: {_sentence(exc)} Check "
                        "that the server is running and that the URL (RUNIO_DATABASE_URL) is "
                        "right."
                    ) from None
                await first.close()
                pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
                    self._settings.conninfo,
                    kwargs={"autocommit": True},
                    min_size=self._settings.pool_min_size,
                    max_size=self._settings.pool_max_size,
                    timeout=self._settings.pool_timeout,
                    name="runio",
                    open=False,
                )
                await pool.open()
                self._pool = pool
                self._connected_once = True
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        """A pooled connection that is still alive (dead ones left by a restart are dropped)."""
        pool = await self._get_pool()
        for _ in range(self._settings.pool_max_size + 1):
            conn = await pool.getconn()
            if _alive(conn):
                break
            await conn.close()
            await pool.putconn(conn)  # a closed connection is discarded and replaced
        else:
            raise psycopg.OperationalError("every pooled connection was closed by the server")
        try:
            yield conn
        finally:
            await pool.putconn(conn)

    async def _run(self, op: Callable[[Conn], Awaitable[T]], *, retry: bool) -> T:
        """On the store's loop: ``op`` on a pooled connection; an operation that is safe to
        repeat is retried (with a fresh connection) while the server is unreachable."""
        deadline = time.monotonic() + _RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                async with self._connection() as conn:
                    return await op(conn)
            except psycopg.Error as exc:
                if not _lost_connection(exc):
                    raise self._store_error(exc) from exc
                if not (retry and self._connected_once) or time.monotonic() > deadline:
                    raise self._store_error(exc) from exc
                log.warning("PostgreSQL unreachable (%s); retrying", _one_line(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _read(self, op: Callable[[Conn], Awaitable[T]], *, retry: bool = True) -> T:
        self._flush_deferred()
        return await self._call(self._run(op, retry=retry))

    def _store_error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        text = _sentence(exc)
        if isinstance(exc, psycopg.errors.UndefinedTable):
            hint = "The database has no runio schema yet: run `runio db upgrade`."
        elif _lost_connection(exc):
            hint = (
                "The server is down, restarting or unreachable; runio reconnects by itself. "
                "An execution that was writing stops and its run resumes once its lease expires."
            )
        elif isinstance(exc, psycopg.errors.IntegrityError):
            hint = "This is a bug in runio; please report it with the steps that led here."
        else:
            hint = "Check the server's log for details."
        return StoreError(f"PostgreSQL error at {self.url}: {text} {hint}")

    # -- plumbing: the writer ------------------------------------------------------------------
    def _put(self, items: list[_Write]) -> None:
        """Queue writes to be applied in this order (from any thread)."""
        if self._closed:
            raise StoreError("This store is closed; create a new Client or store to go on.")
        with self._lock:
            self._queue.extend(items)
            self._submitted += len(items)
            start = not self._writer_busy
            self._writer_busy = True
        if start:
            self._loop.call_soon_threadsafe(self._start_writer)

    def _start_writer(self) -> None:
        self._loop.create_task(self._drain(), name="runio-postgres-writer")

    async def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._queue[:_BATCH_MAX]
                del self._queue[:_BATCH_MAX]
                if not batch:
                    self._writer_busy = False
                    return
            outcomes = _Outcomes()
            try:
                await self._apply(batch, outcomes)
            except BaseException as exc:  # never leave a caller waiting
                for item in batch:
                    outcomes.add(item, False, self._store_error(exc))
                if isinstance(exc, asyncio.CancelledError):
                    with self._lock:
                        self._writer_busy = False
                    raise
            finally:
                outcomes.send()
                self._applied += len(batch)
                if self._progress is not None:
                    async with self._progress:
                        self._progress.notify_all()

    async def _barrier(self, target: int) -> None:
        """Wait until the writer has applied the first ``target`` writes ever submitted."""
        if self._progress is None:
            self._progress = asyncio.Condition()
        async with self._progress:
            await self._progress.wait_for(lambda: self._applied >= target)

    async def _apply(self, batch: list[_Write], outcomes: _Outcomes) -> None:
        try:
            async with self._connection() as conn:
                try:
                    results = await self._transaction(conn, batch)
                except psycopg.Error:
                    if conn.broken or conn.closed:
                        raise  # the outcome is unknown
                    await _rollback(conn)
                    if len(batch) == 1:
                        raise
                    # One at a time, so only the broken write fails.
                    for item in batch:
                        await self._apply_alone(conn, item, outcomes)
                    return
        except (psycopg.Error, StoreError) as exc:
            # A broken connection leaves the outcome unknown: callers stop, and unawaited
            # writes of their runs are as good as lost (a later end of a task whose start
            # was lost is refused, see _recorded).
            error = self._store_error(exc)
            for item in batch:
                outcomes.add(item, False, error, quiet=_lost_connection(exc))
            return
        for item, rows in zip(batch, results, strict=True):
            outcomes.parse(item, rows)

    async def _apply_alone(self, conn: Conn, item: _Write, outcomes: _Outcomes) -> None:
        try:
            (rows,) = await self._transaction(conn, [item])
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                raise
            await _rollback(conn)
            outcomes.add(item, False, self._store_error(exc))
            return
        outcomes.parse(item, rows)

    async def _transaction(self, conn: Conn, batch: list[_Write]) -> list[Rows]:
        """The batch as one transaction in one round trip; each write's result rows."""
        # Each statement is bound on its own (its text is one of a few, so psycopg's parsed
        # form is cached), then the batch goes out as one simple-protocol message.
        cur = psycopg.AsyncClientCursor(conn)
        statements = ["BEGIN"]
        if not any(item.durable for item in batch):
            # Bookkeeping that may be lost with the server (not with a worker): the next
            # durable commit flushes it too, as WAL is written in order.
            statements.append("SET LOCAL synchronous_commit TO off")
        run_ids = sorted({run_id for item in batch for run_id in item.run_ids})
        if len(run_ids) > 1:  # one run's writes lock its row by themselves
            statements.append(cur.mogrify(_LOCK_RUNS, (run_ids,)))
        head = len(statements)
        for item in batch:
            statements.append(cur.mogrify(item.sql, item.params))
        statements.append("COMMIT")
        await cur.execute(";\n".join(statements).encode())
        results: list[Rows] = []
        index = 0
        while True:
            if head <= index < head + len(batch):
                tuples = cur.pgresult is not None and cur.pgresult.status == pq.ExecStatus.TUPLES_OK
                results.append(list(await cur.fetchall()) if tuples else [])
            index += 1
            if not cur.nextset():
                break
        return results

    async def _write(self, item: _Write) -> Any:
        """An awaited write: it carries every unawaited write queued before it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        item.waiter = (loop, fut)
        with self._lock:
            items, self._deferred = self._deferred, []
            self._started.clear()
        items.append(item)
        self._put(items)
        return await fut

    async def flush(self) -> None:
        """Every write handed over so far is committed once this returns (an empty statement
        carries the unawaited ones, as any awaited write does); a broken connection raises."""
        await self._write(_Write("SELECT 1", (), (), False, _ignore, None))

    def _defer(self, item: _Write) -> None:
        """Queue a write nobody waits for. It goes to the writer with the next awaited write, or
        at the event loop's next turn, whichever comes first: a task that finishes at once then
        costs one transaction, not two."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._deferred.append(item)
            if loop is not None and self._flush_scheduled_on is loop:
                return
            self._flush_scheduled_on = loop
        if loop is None:
            self._flush_deferred()
        else:
            loop.call_soon(self._flush_deferred)

    def _flush_deferred(self) -> None:
        with self._lock:
            items, self._deferred = self._deferred, []
            self._flush_scheduled_on = None
            self._started.clear()
        if items and not self._closed:
            self._put(items)

    def _take_unsent_start(self, task_id: str) -> tuple[NewTask, float] | None:
        """If the "started" write of this new task has not reached the writer yet, withdraw it:
        the completion then inserts the finished task in one go."""
        with self._lock:
            start = self._started.pop(task_id, None)
            if start is None:
                return None
            for i in range(len(self._deferred) - 1, -1, -1):
                if self._deferred[i].started_task == task_id:
                    del self._deferred[i]
                    return start
            return None

    # -- lifecycle -----------------------------------------------------------------------------
    async def close(self) -> None:
        if self._closed:
            return
        self._flush_deferred()
        with self._lock:
            target = self._submitted
        self._closed = True
        try:
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(target), self._loop)
            await asyncio.wrap_future(fut)
        finally:
            self._portal.stop()

    def _close_at_exit(self) -> None:
        """A store nobody closed (a script that sent events and ended): close its connections
        while its thread still runs, so the interpreter's exit stays quiet."""
        if self._closed:
            return
        self._flush_deferred()
        with self._lock:
            target = self._submitted
        self._closed = True
        with contextlib.suppress(Exception):  # e.g. a loop already stopped
            asyncio.run_coroutine_threadsafe(self._shutdown(target), self._loop).result(10)
            self._portal.stop()

    async def _shutdown(self, target: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._barrier(target), timeout=30)
        self._watchers.clear()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        if self._pool is not None:
            await self._pool.close()

    async def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement; ``?`` placeholders as with SQLite. Applied after every write this
        store was given before (unawaited ones included)."""
        self._flush_deferred()
        with self._lock:
            target = self._submitted
        query = _qmark(sql) if params else sql

        async def op(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(query, tuple(params) if params else None)
            return [tuple(r) for r in await cur.fetchall()] if cur.description else []

        async def after_writes() -> list[tuple[Any, ...]]:
            await self._barrier(target)
            return await self._run(op, retry=False)

        return await self._call(after_writes())

    # -- wake-ups ------------------------------------------------------------------------------
    async def watch(self, app_id: str, wake: Callable[[], None]) -> Watch:
        """``LISTEN`` for runs of ``app_id`` becoming ready (new, retried, replayed, released
        or suspended runs). ``wake`` is called on the store's thread; after a reconnect too,
        since notifications sent meanwhile are lost. Returns once listening (or after a few
        seconds without a connection: the worker polls meanwhile)."""
        key = await self._call(self._add_watcher(app_id, wake))
        return _PgWatch(self, key)

    async def _add_watcher(self, app_id: str, wake: Callable[[], None]) -> int:
        self._watch_keys += 1
        self._watchers[self._watch_keys] = (app_id, wake)
        if self._listening is None:
            self._listening = asyncio.Event()
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="runio-postgres-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), _LISTEN_READY)
        return self._watch_keys

    async def _unwatch(self, key: int) -> None:
        self._watchers.pop(key, None)
        if not self._watchers and self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
            self._listener = None

    def _wake(self, app_id: str | None) -> None:
        for watched, wake in list(self._watchers.values()):
            if app_id is None or watched == app_id:
                try:
                    wake()
                except Exception:
                    log.exception("a wake-up callback failed")

    async def _listen(self) -> None:
        delay = 0.1
        connected_before = False
        while self._watchers:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._settings.conninfo, autocommit=True
                )
            except psycopg.Error as exc:
                log.warning("cannot LISTEN for wake-ups (%s); polling meanwhile", _one_line(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            listening = self._listening
            assert listening is not None
            try:
                await conn.execute(f"LISTEN {CHANNEL}")
                listening.set()
                if connected_before:
                    self._wake(None)  # notifications sent while disconnected are lost
                connected_before = True
                delay = 0.1
                while True:
                    async for note in conn.notifies(timeout=_LISTEN_CHECK):
                        self._wake(note.payload)
                    await conn.execute("SELECT 1")  # a silent network still fails here
            except psycopg.Error as exc:
                log.warning("lost the LISTEN connection (%s); reconnecting", _one_line(exc))
                await asyncio.sleep(delay)
            finally:
                listening.clear()
                with contextlib.suppress(Exception):
                    await conn.close()

    # -- the HTTP server: pages of runs, API keys -----------------------------------------------
    async def find_runs(self, query: RunQuery) -> list[RunRecord]:
        sql, params = find_runs_sql(query, "%s")
        params = [_text(p) if isinstance(p, str) else p for p in params]

        async def op(conn: Conn) -> list[RunRecord]:
            cur = await conn.execute(sql, params)
            return [run_from_row(r) for r in await cur.fetchall()]

        return await self._read(op)

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (%s,%s,%s,%s,%s)",
                (key.id, _text(key.name), key.secret_hash, key.created_at, key.revoked_at),
            )

        await self._read(op, retry=False)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        async def op(conn: Conn) -> list[ApiKeyRecord]:
            cur = await conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            )
            return [api_key_from_row(r) for r in await cur.fetchall()]

        return await self._read(op)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        async def op(conn: Conn) -> ApiKeyRecord | None:
            cur = await conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = %s", (_text(key_id),)
            )
            row = await cur.fetchone()
            return None if row is None else api_key_from_row(row)

        return await self._read(op)

    async def revoke_api_key(self, key_id: str, *, now: float) -> ApiKeyRecord | None:
        async def op(conn: Conn) -> None:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (now, _text(key_id)),
            )

        await self._read(op)
        return await self.get_api_key(key_id)

    # -- schema --------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        async def op(conn: Conn) -> int:
            cur = await conn.execute("SELECT to_regclass('runio_migrations') IS NOT NULL")
            row = await cur.fetchone()
            if not row or not row[0]:
                return 0
            cur = await conn.execute("SELECT MAX(version) FROM runio_migrations")
            row = await cur.fetchone()
            return int(row[0] or 0) if row else 0

        return await self._read(op)

    def newest_known_version(self) -> int:
        return max(version for version, _, _ in _migrations())

    async def upgrade(self) -> list[str]:
        migrations = _migrations()

        async def op(conn: Conn) -> list[str]:
            async with conn.transaction():
                # Concurrent upgrades (several workers starting at once) take turns.
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS runio_migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
                )
                cur = await conn.execute("SELECT version FROM runio_migrations")
                done = {r[0] for r in await cur.fetchall()}
                newest_known = migrations[-1][0] if migrations else 0
                if done and max(done) > newest_known:
                    raise MigrationError(
                        f"This database has schema version {max(done)}, newer than this runio "
                        f"knows ({newest_known}). Upgrade runio on this machine before using it."
                    )
                applied = []
                for version, name, sql in migrations:
                    if version in done:
                        continue
                    await conn.execute(sql.encode())  # a script: several statements, no params
                    await conn.execute(
                        "INSERT INTO runio_migrations (version, name, applied_at) "
                        "VALUES (%s, %s, %s)",
                        (version, name, time.time()),
                    )
                    applied.append(name)
                return applied

        return await self._read(op)

    # -- jobs and events -----------------------------------------------------------------------
    async def register_jobs(self, jobs: Sequence[JobRecord], now: float) -> None:
        rows = [
            (
                j.app_id,
                j.job_id,
                j.version,
                _text(j.name),
                _text(j.event_name),
                dumps(j.trigger),
                now,
            )
            for j in sorted(jobs, key=lambda j: (j.app_id, j.job_id))
        ]
        if not rows:
            return

        async def op(conn: Conn) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO jobs (app_id, job_id, version, name, event_name, trigger, "
                    "updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (app_id, job_id) DO "
                    "UPDATE SET version=excluded.version, name=excluded.name, "
                    "event_name=excluded.event_name, trigger=excluded.trigger, "
                    "updated_at=excluded.updated_at",
                    rows,
                )

        await self._read(op)

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        sql = "SELECT app_id, job_id, version, name, event_name, trigger FROM jobs"
        params: tuple[Any, ...] = ()
        if app_id is not None:
            sql += " WHERE app_id = %s"
            params = (app_id,)

        async def op(conn: Conn) -> list[JobRecord]:
            cur = await conn.execute(sql + " ORDER BY app_id, job_id", params)
            return [
                JobRecord(r[0], r[1], r[2], r[3], r[4], loads(r[5])) for r in await cur.fetchall()
            ]

        return await self._read(op)

    async def create_event(
        self, event: EventRecord, runs: Sequence[NewRun], now: float
    ) -> tuple[EventRecord, bool]:
        async def op(conn: Conn) -> tuple[EventRecord, bool]:
            cur = await conn.execute(
                "WITH e AS (INSERT INTO events (app_id, id, name, payload, timestamp, deliver_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (app_id, id) DO NOTHING RETURNING 1), "
                "n AS (INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, "
                "created_at, ready_at) SELECT u.id, %s, u.job_id, u.job_version, %s, 'QUEUED', %s, "
                "u.ready_at FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[]) "
                "AS u(id, job_id, job_version, ready_at) WHERE EXISTS (SELECT FROM e) "
                "RETURNING app_id) "
                "SELECT EXISTS (SELECT FROM e), "
                f"(SELECT pg_notify('{CHANNEL}', %s) WHERE EXISTS (SELECT FROM n))",
                (
                    event.app_id,
                    event.id,
                    _text(event.name),
                    json.dumps(event.payload),
                    event.timestamp,
                    event.deliver_at,
                    event.app_id,
                    event.id,
                    now,
                    [r.id for r in runs],
                    [r.job_id for r in runs],
                    [r.job_version for r in runs],
                    [r.ready_at for r in runs],
                    event.app_id,
                ),
            )
            row = await cur.fetchone()
            if row is not None and row[0]:
                event.run_ids = [r.id for r in runs]
                return event, True
            cur = await conn.execute(
                "SELECT name, payload, timestamp, deliver_at FROM events WHERE app_id=%s AND id=%s",
                (event.app_id, event.id),
            )
            existing = await cur.fetchone()
            if existing is None:  # pragma: no cover - an event is never deleted
                raise StoreError(f"Event {event.id} vanished while it was being stored; retry.")
            cur = await conn.execute(
                "SELECT id FROM runs WHERE app_id=%s AND event_id=%s AND replay_of IS NULL "
                "ORDER BY created_at, id",
                (event.app_id, event.id),
            )
            run_ids = [r[0] for r in await cur.fetchall()]
            stored = EventRecord(
                event.id,
                event.app_id,
                existing[0],
                loads(existing[1]),
                existing[2],
                existing[3],
                run_ids,
            )
            return stored, False

        # Safe to repeat: a second try finds the event stored by the first.
        return await self._read(op)

    # -- claiming and leases -------------------------------------------------------------------
    async def claim_runs(
        self,
        *,
        app_id: str,
        job_ids: Sequence[str],
        worker_id: str,
        limit: int,
        now: float,
        lease_seconds: float,
    ) -> list[ClaimedRun]:
        if not job_ids or limit <= 0:
            return []
        jobs = list(job_ids)

        async def op(conn: Conn) -> list[ClaimedRun]:
            # One statement: runs whose time has come and runs whose lease expired, oldest
            # first; rows another worker is claiming right now are skipped, not waited for.
            cur = await conn.execute(
                "WITH ready AS (SELECT id, status, ready_at AS t FROM runs WHERE app_id = %s "
                "AND status IN ('QUEUED','WAITING') AND ready_at <= %s AND job_id = ANY(%s) "
                "ORDER BY ready_at LIMIT %s FOR UPDATE SKIP LOCKED), "
                "expired AS (SELECT id, status, lease_expires AS t FROM runs WHERE app_id = %s "
                "AND status = 'EXECUTING' AND lease_expires < %s AND job_id = ANY(%s) "
                "ORDER BY lease_expires LIMIT %s FOR UPDATE SKIP LOCKED), "
                "picked AS (SELECT id, status, t FROM ready UNION ALL "
                "SELECT id, status, t FROM expired ORDER BY t LIMIT %s), "
                "claimed AS (UPDATE runs SET status = 'EXECUTING', lease_owner = %s, "
                "lease_expires = %s, lease_token = runs.lease_token + 1, "
                "execution_count = runs.execution_count + 1, "
                "started_at = COALESCE(runs.started_at, %s), ready_at = NULL "
                "FROM picked WHERE runs.id = picked.id RETURNING runs.id, picked.status, "
                "picked.t, runs.lease_token, runs.execution_count, runs.is_retry, runs.job_id, "
                "runs.job_version, runs.event_id, runs.created_at, runs.started_at) "
                "SELECT c.id, c.status, c.lease_token, c.execution_count, c.is_retry, c.job_id, "
                "c.job_version, c.event_id, c.created_at, c.started_at, e.name, e.payload, "
                "e.timestamp, e.deliver_at FROM claimed c JOIN events e "
                "ON e.app_id = %s AND e.id = c.event_id ORDER BY c.t, c.id",
                (
                    app_id,
                    now,
                    jobs,
                    limit,
                    app_id,
                    now,
                    jobs,
                    limit,
                    limit,
                    worker_id,
                    now + lease_seconds,
                    now,
                    app_id,
                ),
            )
            return [
                ClaimedRun(
                    lease=Lease(r[0], worker_id, r[2]),
                    app_id=app_id,
                    job_id=r[5],
                    job_version=r[6],
                    status_before=r[1],
                    execution_count=r[3],
                    is_retry=bool(r[4]),
                    created_at=r[8],
                    started_at=r[9],
                    event=EventRecord(r[7], app_id, r[10], loads(r[11]), r[12], r[13]),
                )
                for r in await cur.fetchall()
            ]

        # Safe to repeat: a claim whose answer was lost only holds its runs until the lease
        # expires.
        return await self._read(op)

    async def next_ready_at(self, *, app_id: str, job_ids: Sequence[str]) -> float | None:
        if not job_ids:
            return None
        jobs = list(job_ids)

        async def op(conn: Conn) -> float | None:
            cur = await conn.execute(
                "SELECT LEAST((SELECT MIN(ready_at) FROM runs WHERE app_id = %s AND status IN "
                "('QUEUED','WAITING') AND job_id = ANY(%s)), (SELECT MIN(lease_expires) FROM runs "
                "WHERE app_id = %s AND status = 'EXECUTING' AND job_id = ANY(%s)))",
                (app_id, jobs, app_id, jobs),
            )
            row = await cur.fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._read(op)

    async def heartbeat(
        self, leases: Sequence[Lease], *, now: float, lease_seconds: float
    ) -> dict[str, str]:
        if not leases:
            return {}
        ids = [lease.run_id for lease in leases]
        tokens = [lease.token for lease in leases]

        def parse(rows: Rows) -> dict[str, str]:
            held: dict[str, str] = {row[0]: row[1] for row in rows}
            stop: dict[str, str] = {}
            for run_id in ids:
                if run_id not in held:
                    stop[run_id] = "lost"
                elif held[run_id] == RunStatus.CANCELED:
                    stop[run_id] = "canceled"
            return stop

        # Through the writer, so its row locks come in the same order as every batch's.
        item = _Write(
            "UPDATE runs SET lease_expires = %s FROM unnest(%s::text[], %s::bigint[]) "
            "AS l(id, token) WHERE runs.id = l.id AND runs.lease_token = l.token "
            "RETURNING runs.id, runs.status",
            (now + lease_seconds, ids, tokens),
            tuple(ids),
            False,
            parse,
            None,
        )
        return await self._write(item)  # type: ignore[no-any-return]

    # -- one execution -------------------------------------------------------------------------
    async def load_run_state(self, run_id: str) -> tuple[list[StoredTask], dict[str, int]]:
        async def op(conn: Conn) -> tuple[list[StoredTask], dict[str, int]]:
            async with conn.pipeline():  # both queries in one round trip
                tasks = await conn.execute(
                    "SELECT id, parent_id, idempotency_key, kind, status, output, error, "
                    "attempts, attempt_base, retry_at, wake_at, started_at FROM tasks "
                    "WHERE run_id = %s",
                    (run_id,),
                )
                logs = await conn.execute(
                    "SELECT scope, MAX(seq) FROM logs WHERE run_id = %s GROUP BY scope", (run_id,)
                )
            return (
                [StoredTask(*r) for r in await tasks.fetchall()],
                {r[0]: r[1] for r in await logs.fetchall()},
            )

        return await self._read(op)

    def start_attempt(
        self, lease: Lease, *, new_task: NewTask | None, task_id: str, attempt: int, now: float
    ) -> None:
        attempt_row = (
            "a AS (INSERT INTO attempts (task_id, number, status, started_at) "
            "SELECT %s, %s, 'STARTED', %s::float8 WHERE " + _HELD + " "
            "ON CONFLICT (task_id, number) DO UPDATE SET status = excluded.status, "
            "started_at = excluded.started_at, ended_at = NULL, error = NULL RETURNING 1)"
        )
        if new_task is not None:
            sql = (
                f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}) SELECT {_TASK_VALUES} "
                f"WHERE {_HELD} RETURNING 1), {attempt_row} SELECT status FROM r"
            )
            params: tuple[Any, ...] = (
                lease.run_id,
                lease.token,
                *_task_values(new_task, "RUNNING", attempts=attempt, started_at=now),
                task_id,
                attempt,
                now,
            )
        else:
            # Starting attempt N closes an attempt a crash left open (its outcome is unknown).
            sql = (
                f"WITH {_FENCE}, t AS (UPDATE tasks SET status = 'RUNNING', attempts = %s, "
                "retry_at = NULL, started_at = COALESCE(started_at, %s) WHERE id = %s AND "
                f"run_id = %s AND {_HELD} RETURNING 1), i AS (UPDATE attempts SET "
                "status = 'ERRORED', ended_at = %s, error = %s WHERE task_id = %s AND "
                f"number < %s AND status = 'STARTED' AND {_HELD} RETURNING 1), {attempt_row} "
                "SELECT status FROM r"
            )
            params = (
                lease.run_id,
                lease.token,
                attempt,
                now,
                task_id,
                lease.run_id,
                now,
                INTERRUPTED,
                task_id,
                attempt,
                task_id,
                attempt,
                now,
            )
        item = _Write(sql, params, (lease.run_id,), False, _fenced(lease), None)
        if new_task is not None:
            item.started_task = task_id
        self._defer(item)
        if new_task is not None:
            with self._lock:
                self._started[task_id] = (new_task, now)

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
        unsent = self._take_unsent_start(task_id)
        if unsent is not None:
            new_task, started_at = unsent
            sql = (
                f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}) SELECT {_TASK_VALUES} "
                f"WHERE {_HELD} RETURNING 1), a AS (INSERT INTO attempts (task_id, number, "
                "status, started_at, ended_at) SELECT %s, %s, 'COMPLETED', %s::float8, "
                f"%s::float8 WHERE {_HELD} RETURNING 1) SELECT status, 1 FROM r"
            )
            params: tuple[Any, ...] = (
                lease.run_id,
                lease.token,
                *_task_values(
                    new_task,
                    "COMPLETED",
                    attempts=attempt,
                    started_at=started_at,
                    output=output,
                    output_properties=output_properties,
                    ended_at=now,
                ),
                task_id,
                attempt,
                started_at,
                now,
            )
        else:
            sql = (
                f"WITH {_FENCE}, t AS (UPDATE tasks SET status = 'COMPLETED', output = %s, "
                "output_properties = %s, error = NULL, ended_at = %s WHERE id = %s AND "
                f"run_id = %s AND {_HELD} RETURNING 1), a AS (UPDATE attempts SET "
                "status = 'COMPLETED', ended_at = %s WHERE task_id = %s AND number = %s AND "
                f"{_HELD} RETURNING 1) "
                "SELECT status, (SELECT count(*) FROM t) FROM r"
            )
            params = (
                lease.run_id,
                lease.token,
                output,
                output_properties,
                now,
                task_id,
                lease.run_id,
                now,
                task_id,
                attempt,
            )
        item = _Write(sql, params, (lease.run_id,), True, _recorded(lease, task_id), None)
        return await self._write(item)  # type: ignore[no-any-return]

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
        if retry_at is None:
            task_update = (
                "UPDATE tasks SET status = 'ERRORED', error = %s, ended_at = %s, retry_at = NULL"
            )
            task_params: tuple[Any, ...] = (error, now)
        else:
            task_update = "UPDATE tasks SET status = 'WAITING', error = %s, retry_at = %s"
            task_params = (error, retry_at)
        sql = (
            f"WITH {_FENCE}, t AS ({task_update} WHERE id = %s AND run_id = %s AND {_HELD} "
            "RETURNING 1), "
            "a AS (UPDATE attempts SET status = 'ERRORED', ended_at = %s, error = %s WHERE "
            f"task_id = %s AND number = %s AND {_HELD} RETURNING 1) "
            "SELECT status, (SELECT count(*) FROM t) FROM r"
        )
        params = (
            lease.run_id,
            lease.token,
            *task_params,
            task_id,
            lease.run_id,
            now,
            error,
            task_id,
            attempt,
        )
        item = _Write(sql, params, (lease.run_id,), True, _recorded(lease, task_id), None)
        return await self._write(item)  # type: ignore[no-any-return]

    async def record_wait(self, lease: Lease, *, new_task: NewTask, wake_at: float) -> None:
        sql = (
            f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}) SELECT {_TASK_VALUES} "
            f"WHERE {_HELD} RETURNING 1) SELECT status FROM r"
        )
        params = (
            lease.run_id,
            lease.token,
            *_task_values(new_task, "WAITING", wake_at=wake_at, started_at=new_task.created_at),
        )
        await self._write(_Write(sql, params, (lease.run_id,), True, _fenced(lease), None))

    def complete_wait(self, lease: Lease, *, task_id: str, now: float) -> None:
        sql = (
            f"WITH {_FENCE}, t AS (UPDATE tasks SET status = 'COMPLETED', ended_at = %s "
            f"WHERE id = %s AND run_id = %s AND status = 'WAITING' AND {_HELD} RETURNING 1) "
            "SELECT status FROM r"
        )
        params = (lease.run_id, lease.token, now, task_id, lease.run_id)
        self._defer(_Write(sql, params, (lease.run_id,), False, _fenced(lease), None))

    def add_logs(self, lease: Lease, logs: Sequence[LogRecord]) -> None:
        if not logs:
            return
        columns: list[list[Any]] = [[], [], [], [], [], [], [], []]
        for g in logs:
            row = (
                g.run_id,
                _text(g.scope),
                g.seq,
                g.task_id,
                _text(g.level),
                _text(g.message),
                _text(dumps(g.data)),
                g.created_at,
            )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        sql = (
            f"WITH {_FENCE}, t AS (INSERT INTO logs (run_id, scope, seq, task_id, level, message, "
            "data, created_at) SELECT * FROM unnest(%s::text[], %s::text[], %s::integer[], "
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::float8[]) "
            f"WHERE {_HELD} ON CONFLICT DO NOTHING RETURNING 1) SELECT status FROM r"
        )
        params = (lease.run_id, lease.token, *columns)
        self._defer(_Write(sql, params, (lease.run_id,), False, _fenced(lease), None))

    async def suspend_run(self, lease: Lease, *, ready_at: float, now: float) -> bool:
        ended, ended_params = _end_open_tasks(lease.run_id, now, when=_NOT_EXECUTING)
        sql = (
            f"WITH {_FENCE}, u AS (UPDATE runs SET status = 'WAITING', ready_at = %s, "
            f"lease_owner = NULL, lease_expires = NULL WHERE id = %s AND {_EXECUTING} "
            f"RETURNING app_id), {ended} "
            f"SELECT status, (SELECT pg_notify('{CHANNEL}', app_id) FROM u) FROM r"
        )
        params = (lease.run_id, lease.token, ready_at, lease.run_id, *ended_params)
        item = _Write(sql, params, (lease.run_id,), True, _fenced(lease), None)
        status = await self._write(item)
        return bool(status == RunStatus.EXECUTING)

    async def finish_run(
        self, lease: Lease, *, status: str, output: str | None, error: str | None, now: float
    ) -> bool:
        # A run that ended (or was canceled meanwhile) leaves nothing open; the two updates
        # of the run row exclude each other.
        ended, ended_params = _end_open_tasks(lease.run_id, now, when=_HELD)
        sql = (
            f"WITH {_FENCE}, u AS (UPDATE runs SET status = %s, output = %s, error = %s, "
            "ended_at = %s, ready_at = NULL, lease_owner = NULL, lease_expires = NULL "
            f"WHERE id = %s AND {_EXECUTING} RETURNING 1), c AS (UPDATE runs SET "
            f"lease_owner = NULL, lease_expires = NULL WHERE id = %s AND {_NOT_EXECUTING} "
            f"RETURNING 1), {ended} SELECT status FROM r"
        )
        params = (
            lease.run_id,
            lease.token,
            status,
            output,
            error,
            now,
            lease.run_id,
            lease.run_id,
            *ended_params,
        )
        item = _Write(sql, params, (lease.run_id,), True, _fenced(lease), None)
        before = await self._write(item)
        return bool(before == RunStatus.EXECUTING)

    async def release_run(self, lease: Lease, *, now: float) -> None:
        sql = (
            "WITH u AS (UPDATE runs SET status = 'QUEUED', ready_at = %s, lease_owner = NULL, "
            "lease_expires = NULL WHERE id = %s AND lease_token = %s AND status = 'EXECUTING' "
            f"RETURNING app_id) SELECT pg_notify('{CHANNEL}', app_id) FROM u"
        )
        params = (now, lease.run_id, lease.token)
        await self._write(_Write(sql, params, (lease.run_id,), True, _ignore, None))

    # -- operations ----------------------------------------------------------------------------
    async def get_run(self, run_id: str, *, with_tasks: bool = True) -> RunRecord | None:
        async def op(conn: Conn) -> RunRecord | None:
            cur = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = %s", (run_id,)
            )
            row = await cur.fetchone()
            if row is None:
                return None
            run = run_from_row(row)
            if with_tasks:
                run.tasks = await _load_task_records(conn, run_id)
                cur = await conn.execute(
                    "SELECT scope, seq, level, message, data, created_at, task_id FROM logs "
                    "WHERE run_id = %s ORDER BY id",
                    (run_id,),
                )
                run.logs = [
                    LogRecord(run_id, r[0], r[1], r[2], r[3], loads(r[4]), r[5], r[6])
                    for r in await cur.fetchall()
                ]
            return run

        return await self._read(op)

    async def list_runs(
        self,
        *,
        app_id: str | None = None,
        job_id: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 50,
        before: float | None = None,
    ) -> list[RunRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if app_id is not None:
            clauses.append("r.app_id = %s")
            params.append(app_id)
        if job_id is not None:
            clauses.append("r.job_id = %s")
            params.append(job_id)
        if status:
            clauses.append("r.status = ANY(%s)")
            params.append(list(status))
        if before is not None:
            clauses.append("r.created_at < %s")
            params.append(before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""

        async def op(conn: Conn) -> list[RunRecord]:
            cur = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} {where} "
                "ORDER BY r.created_at DESC, r.id DESC LIMIT %s",
                (*params, limit),
            )
            return [run_from_row(r) for r in await cur.fetchall()]

        return await self._read(op)

    async def cancel_run(self, run_id: str, *, now: float) -> RunRecord:
        async def op(conn: Conn) -> None:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT status FROM runs WHERE id = %s FOR UPDATE", (run_id,)
                )
                row = await cur.fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                if RunStatus(row[0]).finished:
                    raise InvalidRunStateError(
                        f"Run {run_id} has already ended ({row[0]}); only queued, waiting or "
                        "executing runs can be canceled.",
                        run_id=run_id,
                        status=row[0],
                    )
                await conn.execute(
                    "UPDATE runs SET status = 'CANCELED', ended_at = %s, ready_at = NULL "
                    "WHERE id = %s",
                    (now, run_id),
                )
                # An executing run's running tasks are really running: its worker ends them
                # when it stops at the next task boundary (finish_run / suspend_run).
                statuses = ["PENDING", "WAITING"]
                if row[0] != RunStatus.EXECUTING:
                    statuses.append("RUNNING")
                    await conn.execute(
                        "UPDATE attempts SET status = 'ERRORED', ended_at = %s, error = %s "
                        "WHERE status = 'STARTED' AND task_id IN (SELECT id FROM tasks WHERE "
                        "run_id = %s AND status = 'RUNNING')",
                        (now, RUN_ENDED, run_id),
                    )
                await conn.execute(
                    "UPDATE tasks SET status = 'CANCELED', ended_at = %s WHERE run_id = %s AND "
                    "status = ANY(%s)",
                    (now, run_id, statuses),
                )

        await self._read(op, retry=False)
        return await self._must_get(run_id)

    async def retry_run(self, run_id: str, *, now: float) -> RunRecord:
        async def op(conn: Conn) -> None:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT status, app_id FROM runs WHERE id = %s FOR UPDATE", (run_id,)
                )
                row = await cur.fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                if row[0] not in (RunStatus.FAILED, RunStatus.CANCELED, RunStatus.TIMED_OUT):
                    raise InvalidRunStateError(
                        f"Run {run_id} is {row[0]}; only FAILED, CANCELED or TIMED_OUT runs can "
                        "be retried. To run a finished run again from the start, replay it.",
                        run_id=run_id,
                        status=row[0],
                    )
                await conn.execute(
                    "UPDATE tasks SET status = 'PENDING', attempt_base = attempts, error = NULL, "
                    "retry_at = NULL, ended_at = NULL WHERE run_id = %s AND status IN "
                    "('ERRORED','CANCELED','RUNNING')",
                    (run_id,),
                )
                await conn.execute(
                    "UPDATE tasks SET status = 'WAITING' WHERE run_id = %s AND kind = 'wait' AND "
                    "status = 'PENDING'",
                    (run_id,),
                )
                await conn.execute(
                    "UPDATE runs SET status = 'QUEUED', ready_at = %s, started_at = NULL, "
                    "ended_at = NULL, output = NULL, error = NULL, is_retry = TRUE, "
                    "lease_owner = NULL, lease_expires = NULL WHERE id = %s",
                    (now, run_id),
                )
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, row[1]))

        await self._read(op, retry=False)
        return await self._must_get(run_id)

    async def replay_run(self, run_id: str, *, new_run_id: str, now: float) -> RunRecord:
        async def op(conn: Conn) -> None:
            cur = await conn.execute(
                "WITH n AS (INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, "
                "created_at, ready_at, replay_of) SELECT %s, app_id, job_id, job_version, "
                "event_id, 'QUEUED', %s, %s, id FROM runs WHERE id = %s RETURNING app_id) "
                f"SELECT pg_notify('{CHANNEL}', app_id) FROM n",
                (new_run_id, now, now, run_id),
            )
            if await cur.fetchone() is None:
                raise RunNotFoundError(run_id)

        await self._read(op, retry=False)
        return await self._must_get(new_run_id)

    async def _must_get(self, run_id: str) -> RunRecord:
        run = await self.get_run(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return run


class _Outcomes:
    """The results of a batch, handed to each caller's event loop in one wake-up."""

    def __init__(self) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]]
        self._by_loop = {}

    def parse(self, item: _Write, rows: Rows) -> None:
        try:
            value = item.parse(rows)
        except RunioError as exc:
            self.add(item, False, exc)
        else:
            self.add(item, True, value)

    def add(self, item: _Write, ok: bool, value: Any, *, quiet: bool = False) -> None:
        if item.waiter is not None:
            loop, fut = item.waiter
            self._by_loop.setdefault(loop, []).append((fut, ok, value))
        elif not ok and not quiet and not isinstance(value, LeaseLostError):
            log.warning("an unawaited write failed: %s", value)

    def send(self) -> None:
        by_loop, self._by_loop = self._by_loop, {}
        for loop, results in by_loop.items():
            # RuntimeError: that loop was closed meanwhile, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_deliver, results)


def _deliver(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in results:
        if not fut.done():
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)


async def _rollback(conn: Conn) -> None:
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        await conn.execute("ROLLBACK")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _sentence(exc: BaseException) -> str:
    """The error's message as a sentence of a longer message (libpq's span several lines)."""
    text = _one_line(exc).rstrip(". ")
    return text if text.endswith("?") else text + "."


async def _load_task_records(conn: Conn, run_id: str) -> list[TaskRecord]:
    attempts = await (await conn.execute(attempts_of_run_sql("%s"), (run_id,))).fetchall()
    tasks = await (await conn.execute(tasks_of_run_sql("%s"), (run_id,))).fetchall()
    return task_tree(tasks, attempts)


__all__ = ["CHANNEL", "PostgresStore"]
