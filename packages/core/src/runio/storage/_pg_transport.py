"""PostgreSQL transport: getting statements to the server and answers back, whatever happens.

Owns: the store's own event loop on its thread, the connection pool, reconnecting after the
server went away (and retrying what is safe to repeat), the writer that applies the writes of
executing runs in order and in batches (group commit), the unawaited writes (``DeferredWrites``),
fault points, and wake-ups (``LISTEN``/``NOTIFY``). It knows nothing of runio's tables: the SQL
is ``_postgres.py``'s, which hands statements (``PgWrite``) and operations on a connection here.

One private event loop per store, on its own thread, owns an ``AsyncConnectionPool`` and every
connection. Callers on any event loop (a worker's, the client's sync bridge, a test's) hand work to
it and await the answer, as the SQLite store hands work to its thread. A pool per caller loop was
the alternative; it was dropped because ``asyncio.run`` cancels the pool's own tasks before anyone
can close its connections, and the engine's writes of one run may come from a worker loop and from
worker threads (log lines) alike.

Writes of executing runs go through one writer, in submission order. Whatever has queued up while
it was busy is applied as one transaction sent in one round trip (group commit): ``BEGIN``, the
run rows of a batch that writes to several runs locked in id order (so two batches never
deadlock), one statement per write, ``COMMIT``. A batch that fails for another reason than a
stale lease on a connection still usable is rolled back and replayed one write per transaction,
so only the broken write fails. A write whose connection broke has an unknown outcome: its caller
gets ``StoreError`` and the engine stops the execution; the run resumes from what is stored. A
failed write nobody awaited makes the later writes of its execution fail. Lease renewals go
through the writer too, so their row locks follow the same order.

Reads, claims and the operations on runs use other pooled connections, concurrently; those that
are safe to repeat are retried while the server restarts.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import select
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from .._records import Lease, NewTask
from ..errors import ConfigurationError, LeaseLostError, RunioError, StoreError
from ._base import Watch
from ._deferred import DeferredWrites
from ._faults import FaultPoint, Faults, WriteKind

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[Any, ...]]
Rows = list[tuple[Any, ...]]

log = logging.getLogger("runio.storage.postgres")

CHANNEL = "runio_wakeup"
"""The NOTIFY channel; the payload is the app id whose runs may have become ready."""

_BATCH_MAX = 256
_RETRY_SECONDS = 60.0
"""How long reads and claims keep retrying while the server is unreachable (after a first
successful connection: a wrong URL fails at once)."""
_LISTEN_CHECK = 30.0
_LISTEN_READY = 5.0
_RUNIO_OPTIONS: dict[str, float] = {"pool_min_size": 1, "pool_max_size": 10, "pool_timeout": 10.0}
_LOCK_RUNS = "SELECT FROM runs WHERE id = ANY(%s::text[]) ORDER BY id FOR UPDATE"


def _lost_connection(exc: BaseException) -> bool:
    """A failure of the connection (the server went away, refused, or the pool found none),
    as opposed to one of a statement (a deadlock, a constraint) on a connection still usable."""
    if isinstance(exc, PoolTimeout | PoolClosed | psycopg.InterfaceError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")
    return False


# -- URLs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    conninfo: str
    redacted: str
    pool_min_size: int
    pool_max_size: int
    pool_timeout: float


def parse_url(url: str) -> Settings:
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
                    f"{key}={value!r} in the database URL {redact(url)!r} is not a number."
                ) from None
        else:
            rest.append((key, value))
    low, high = int(ours["pool_min_size"]), int(ours["pool_max_size"])
    if low < 0 or high < max(1, low) or not ours["pool_timeout"] > 0:
        raise ConfigurationError(
            f"Bad pool settings in the database URL {redact(url)!r}: pool_min_size={low}, "
            f"pool_max_size={high}, pool_timeout={ours['pool_timeout']:g} (need "
            "0 <= pool_min_size <= pool_max_size, pool_max_size >= 1, pool_timeout > 0)."
        )
    plain = urlunsplit(parts._replace(query=urlencode(rest)))
    redacted = redact(url)
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
    return Settings(make_conninfo("", **params), redacted, low, high, ours["pool_timeout"])


def redact(url: str) -> str:
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


# -- the writer's unit of work -----------------------------------------------------------------


@dataclass(slots=True)
class PgWrite:
    """One statement of the writer, with how to read its result rows."""

    sql: str
    params: tuple[Any, ...]
    run_ids: tuple[str, ...]
    """Run rows the statement writes (locked first, in id order, by the batch)."""
    durable: bool
    parse: Callable[[Rows], Any]
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]] | None
    """The caller's loop and future; None: unawaited."""
    kind: WriteKind = WriteKind.OPERATION
    lease: Lease | None = None
    """The execution this write belongs to: refused once one of its unawaited writes failed."""


def ignore_rows(rows: Rows) -> None:
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
    def __init__(self, transport: PgTransport, key: int) -> None:
        self._transport = transport
        self._key = key

    async def close(self) -> None:
        key, self._key = self._key, -1
        if key < 0 or self._transport._closed:
            return
        with contextlib.suppress(StoreError):
            await self._transport._call(self._transport._unwatch(key))


_open_transports: weakref.WeakSet[PgTransport] = weakref.WeakSet()


@atexit.register
def _close_open_transports() -> None:
    for transport in list(_open_transports):
        transport._close_at_exit()


class PgTransport:
    """The connections, writer and wake-ups of one ``PostgresStore``."""

    def __init__(
        self, settings: Settings, make_start: Callable[[Lease, NewTask, float], PgWrite]
    ) -> None:
        """``make_start``: the write recording that a new task started (``DeferredWrites``)."""
        self._settings = settings
        self.url = settings.redacted
        self._closed = False
        self._portal = _LoopThread()
        self._loop = self._portal.loop
        _open_transports.add(self)
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._pool_lock: asyncio.Lock | None = None
        self._connected_once = False
        # The writer: items queued from any thread, applied in order on the store's loop.
        self._lock = threading.Lock()
        self._queue: list[PgWrite] = []
        self._submitted = 0
        self._applied = 0
        self._writer_busy = False
        self._progress: asyncio.Condition | None = None
        # Unawaited writes not yet handed to the writer, and executions whose one failed.
        self.deferred: DeferredWrites[PgWrite] = DeferredWrites(self._put_unless_closed, make_start)
        self.faults = Faults()
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

    async def _run(
        self, op: Callable[[Conn], Awaitable[T]], *, retry: bool, kind: WriteKind | None = None
    ) -> T:
        """On the store's loop: ``op`` on a pooled connection; an operation that is safe to
        repeat is retried (with a fresh connection) while the server is unreachable."""
        deadline = time.monotonic() + _RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                async with self._connection() as conn:
                    if kind is None or not self.faults.armed:
                        return await op(conn)
                    return await self._run_with_faults(conn, op, kind)
            except psycopg.Error as exc:
                if not _lost_connection(exc):
                    raise self._store_error(exc) from exc
                if not (retry and self._connected_once) or time.monotonic() > deadline:
                    raise self._store_error(exc) from exc
                log.warning("PostgreSQL unreachable (%s); retrying", _one_line(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _run_with_faults(
        self, conn: Conn, op: Callable[[Conn], Awaitable[T]], kind: WriteKind
    ) -> T:
        """``op`` (one autocommitted statement or its own transaction) failing at an armed
        fault point: before it, the connection is lost; after it, the answer is."""
        faults = self.faults
        if faults.reach(FaultPoint.BEFORE_COMMIT, [kind]) or faults.reach(
            FaultPoint.CONNECTION_LOST, [kind]
        ):
            await conn.close()
            raise psycopg.OperationalError(f"the connection was lost (fault point {kind})")
        value = await op(conn)
        if faults.reach(FaultPoint.AFTER_COMMIT, [kind]):
            await conn.close()
            raise psycopg.OperationalError(
                f"the connection was lost before the answer arrived (fault point {kind})"
            )
        return value

    async def read(
        self,
        op: Callable[[Conn], Awaitable[T]],
        *,
        retry: bool = True,
        kind: WriteKind | None = None,
    ) -> T:
        self.flush_deferred()
        return await self._call(self._run(op, retry=retry, kind=kind))

    def _store_error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        text = _sentence(exc)
        if isinstance(exc, psycopg.errors.UndefinedTable):
            hint = "The database has no runio schema yet: run `runio db upgrade`."
        elif _lost_connection(exc):
            hint = (
                "The server is down, restarting or unreachable; runio reconnects by itself. "
                "An execution that was writing stops; its run resumes from what is stored."
            )
        elif isinstance(exc, psycopg.errors.IntegrityError):
            hint = "This is a bug in runio; please report it with the steps that led here."
        else:
            hint = "Check the server's log for details."
        return StoreError(f"PostgreSQL error at {self.url}: {text} {hint}")

    # -- plumbing: the writer ------------------------------------------------------------------
    def _put(self, items: list[PgWrite]) -> None:
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
            outcomes = _Outcomes(self.deferred)
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

    async def _apply(self, batch: list[PgWrite], outcomes: _Outcomes) -> None:
        if self.deferred.any_failed:
            kept = []
            for item in batch:
                refusal = self.deferred.refusal(item.lease)
                if refusal is None:
                    kept.append(item)
                else:
                    outcomes.add(item, False, refusal)
            if not kept:
                return
            batch = kept
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
                    # One at a time, in order, so only the broken write fails (and the later
                    # writes of its execution, when nobody awaited it).
                    for item in batch:
                        refusal = self.deferred.refusal(item.lease)
                        if refusal is not None:
                            outcomes.add(item, False, refusal)
                        else:
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

    async def _apply_alone(self, conn: Conn, item: PgWrite, outcomes: _Outcomes) -> None:
        try:
            (rows,) = await self._transaction(conn, [item])
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                raise
            await _rollback(conn)
            outcomes.add(item, False, self._store_error(exc))
            return
        outcomes.parse(item, rows)

    async def _transaction(self, conn: Conn, batch: list[PgWrite]) -> list[Rows]:
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
        faults = self.faults
        answer_lost = False
        if faults.armed:
            kinds = [item.kind for item in batch]
            if faults.reach(FaultPoint.CONNECTION_LOST, kinds):
                # The server ends this session in the middle of the transaction.
                statements.append("SELECT pg_terminate_backend(pg_backend_pid())")
            elif faults.reach(FaultPoint.BEFORE_COMMIT, kinds):
                statements.append(
                    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'disk_full', MESSAGE = "
                    "'could not extend file (fault point before-commit)'; END $$"
                )
            answer_lost = faults.reach(FaultPoint.AFTER_COMMIT, kinds)
        statements.append("COMMIT")
        await cur.execute(";\n".join(statements).encode())
        if answer_lost:
            await conn.close()
            raise psycopg.OperationalError(
                "the connection was lost before the answer arrived (fault point after-commit)"
            )
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

    async def write(self, item: PgWrite) -> Any:
        """An awaited write: it carries every unawaited write queued before it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        item.waiter = (loop, fut)
        items = self.deferred.take()
        items.append(item)
        self._put(items)
        return await fut

    async def flush(self) -> None:
        """Every write handed over so far is committed once this returns (an empty statement
        carries the unawaited ones, as any awaited write does); a broken connection raises."""
        await self.write(PgWrite("SELECT 1", (), (), False, ignore_rows, None))

    def defer(self, item: PgWrite) -> None:
        """Queue a write nobody waits for (see ``DeferredWrites``)."""
        self.deferred.add(item)

    def flush_deferred(self) -> None:
        self.deferred.flush()

    def _put_unless_closed(self, items: list[PgWrite]) -> None:
        if not self._closed:
            self._put(items)

    # -- lifecycle -----------------------------------------------------------------------------
    async def close(self) -> None:
        if self._closed:
            return
        self.flush_deferred()
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
        self.flush_deferred()
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

    async def after_writes(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """``op`` once every write handed over before (unawaited ones included) is applied."""
        self.flush_deferred()
        with self._lock:
            target = self._submitted

        async def later() -> T:
            await self._barrier(target)
            return await self._run(op, retry=False)

        return await self._call(later())


class _Outcomes:
    """The results of a batch, handed to each caller's event loop in one wake-up. A failed write
    nobody awaits makes the later writes of its execution fail (``DeferredWrites.failed``)."""

    def __init__(self, deferred: DeferredWrites[PgWrite]) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]]
        self._by_loop = {}
        self._deferred = deferred

    def parse(self, item: PgWrite, rows: Rows) -> None:
        refusal = self._deferred.refusal(item.lease)
        if refusal is not None:  # an earlier unawaited write of its execution failed
            self.add(item, False, refusal)
            return
        try:
            value = item.parse(rows)
        except RunioError as exc:
            self.add(item, False, exc)
        else:
            self.add(item, True, value)

    def add(self, item: PgWrite, ok: bool, value: Any, *, quiet: bool = False) -> None:
        if item.waiter is not None:
            loop, fut = item.waiter
            self._by_loop.setdefault(loop, []).append((fut, ok, value))
        elif not ok and not isinstance(value, LeaseLostError):
            if not quiet:
                log.warning("an unawaited write failed: %s", value)
            if item.lease is not None:
                self._deferred.failed(item.lease, value)

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
