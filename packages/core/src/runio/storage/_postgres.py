"""The PostgreSQL store: runio's tables in SQL, for many workers on many machines sharing one
database.

Owns: the statements, fencing by lease token (every write of an executing run is one statement
fenced by the run's lease token under its row lock: a stale lease makes it a no-op and its caller
gets ``LeaseLostError``), claims (``FOR UPDATE SKIP LOCKED``), the notifications sent when runs
become ready, and reading rows back into records. It must not know about job functions or retries:
the engine decides. How statements reach the server (the pool, the writer's group commit,
reconnecting, ``LISTEN``) is ``_pg_transport.py``'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._records import (
    ApiKeyRecord,
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
)
from ..errors import LeaseLostError, MigrationError, RunNotFoundError, StoreError
from ._base import RESUMPTION_HEAD_START_S, Store, Watch
from ._event_waits import event_json, first_match
from ._faults import WriteKind
from ._pg_transport import CHANNEL, Conn, PgTransport, PgWrite, Rows, ignore_rows, parse_url
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

_MIGRATION_LOCK = 0x72756E696F  # "runio": pg_advisory_xact_lock key serialising upgrades
_CONCURRENCY_LOCK = 0x72756E69  # with hashtext(app id): serialises an app's limited claims


def _migrations() -> list[tuple[int, str, str]]:
    return migrations("postgresql")


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
    "output_properties, ended_at, description, display_key"
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
        "text",
        "text",
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
        _text(t.description),
        _text(t.display_key),
    )


# The fence: the run row, if this lease's token is still the run's. Every write of an executing
# run is one statement that starts with it and writes only `WHERE EXISTS (SELECT FROM r)`.
_FENCE = "r AS (SELECT status FROM runs WHERE id = %s AND lease_token = %s FOR UPDATE)"
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


_CLAIM = (
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
    "ON e.app_id = %s AND e.id = c.event_id ORDER BY c.t, c.id"
)
"""The end of every claim: the runs in ``picked`` (id, status before, time) become this
worker's, returned with their events."""


def _versions_sql(
    job_ids: Sequence[str], rules: Mapping[str, ClaimRule] | None, alias: str = ""
) -> tuple[str, tuple[Any, ...]]:
    """An ``AND ...`` keeping only runs of the versions the rules name (nothing without rules)."""
    rules = rules or {}
    pairs = [(j, v) for j in job_ids for v in rules.get(j, ClaimRule()).versions]
    if not pairs:
        return "", ()
    free = [j for j in job_ids if not rules.get(j, ClaimRule()).versions]
    return (
        f" AND (({alias}job_id, {alias}job_version) IN (SELECT * FROM unnest(%s::text[], "
        f"%s::text[])) OR {alias}job_id = ANY(%s))",
        ([p[0] for p in pairs], [p[1] for p in pairs], free),
    )


def _first_ready(condition: str) -> str:
    """The earliest ``ready_at`` of queued runs and of waiting runs (two columns of a ``LEAST``),
    each the first entry of its own partial index (``runs_queued``, ``runs_waiting``); parameters:
    app id, job ids and ``condition``'s, twice."""
    return ", ".join(
        f"(SELECT MIN(ready_at) FROM runs WHERE app_id = %s AND status = '{status}' "
        f"AND job_id = ANY(%s){condition})"
        for status in ("QUEUED", "WAITING")
    )


def _limited_claim(
    app_id: str, limited: Mapping[str, ClaimRule], now: float, limit: int
) -> tuple[str, tuple[Any, ...]]:
    """The ``WITH ... picked AS (...)`` of a claim of concurrency-limited jobs' runs, oldest
    created first: per job (and key) no more than the limit minus the runs executing under a
    live lease. Run under the app's claim lock. Each chosen row is locked and checked again
    (a run canceled or heartbeated since is not taken); a row another writer holds is skipped,
    never waited for, so a claim cannot deadlock with a batch of writes: skipping only claims
    fewer runs, never more than the limit."""
    jobs = list(limited)
    pinned, pin_params = _versions_sql(jobs, limited, alias="r.")
    sql = (
        "WITH lim AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::bool[]) "
        "AS l(job_id, n, keyed)), "
        "held AS (SELECT job_id, COALESCE(concurrency_key, '') AS k, COUNT(*) AS n FROM runs "
        "WHERE app_id = %s AND status = 'EXECUTING' AND lease_expires >= %s "
        "AND job_id = ANY(%s) GROUP BY 1, 2), "
        "cand AS (SELECT r.id, r.status, r.job_id, COALESCE(r.concurrency_key, '') AS k, "
        "r.created_at, CASE r.status WHEN 'EXECUTING' THEN r.lease_expires WHEN 'QUEUED' "
        "THEN r.ready_at + %s ELSE r.ready_at END AS t, ROW_NUMBER() OVER (PARTITION BY "
        "r.job_id, COALESCE(r.concurrency_key, '') "
        "ORDER BY r.created_at, r.id) AS rn FROM runs r JOIN lim ON lim.job_id = r.job_id "
        "WHERE r.app_id = %s AND ((r.status IN ('QUEUED','WAITING') AND r.ready_at <= %s) "
        "OR (r.status = 'EXECUTING' AND r.lease_expires < %s)) "
        f"AND (NOT lim.keyed OR r.concurrency_key IS NOT NULL){pinned}), "
        "chosen AS (SELECT c.id, c.status, c.t FROM cand c JOIN lim ON lim.job_id = c.job_id "
        "LEFT JOIN held h ON h.job_id = c.job_id AND h.k = c.k "
        "WHERE c.rn <= lim.n - COALESCE(h.n, 0) ORDER BY c.created_at, c.id LIMIT %s), "
        "picked AS (SELECT chosen.* FROM chosen JOIN runs ON runs.id = chosen.id "
        "WHERE (runs.status IN ('QUEUED','WAITING') AND runs.ready_at <= %s) "
        "OR (runs.status = 'EXECUTING' AND runs.lease_expires < %s) "
        "FOR UPDATE OF runs SKIP LOCKED), "
    )
    params = (
        jobs,
        [limited[j].concurrency_limit for j in jobs],
        [limited[j].keyed for j in jobs],
        app_id,
        now,
        jobs,
        RESUMPTION_HEAD_START_S,
        app_id,
        now,
        now,
        *pin_params,
        limit,
        now,
        now,
    )
    return sql, params


def _fenced(lease: Lease) -> Callable[[Rows], Any]:
    def parse(rows: Rows) -> Any:
        if not rows:
            raise LeaseLostError(lease.run_id)
        return rows[0][0]

    return parse


_ATTEMPT_ROW = (
    "a AS (INSERT INTO attempts (task_id, number, status, started_at) "
    "SELECT %s, %s, 'STARTED', %s::float8 WHERE " + _HELD + " "
    "ON CONFLICT (task_id, number) DO UPDATE SET status = excluded.status, "
    "started_at = excluded.started_at, ended_at = NULL, error = NULL RETURNING 1)"
)
"""An attempt's row, written as it starts (in ``start_attempt``'s statements)."""
_START_NEW_TASK = (
    f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}) SELECT {_TASK_VALUES} "
    f"WHERE {_HELD} RETURNING 1), {_ATTEMPT_ROW} SELECT status FROM r"
)


def _start_write(lease: Lease, new_task: NewTask, now: float) -> PgWrite:
    """The write recording that a new task's first attempt started (``start_attempt``): its
    row, inserted RUNNING, and its attempt's."""
    params = (
        lease.run_id,
        lease.token,
        *_task_values(new_task, "RUNNING", attempts=1, started_at=now),
        new_task.id,
        1,
        now,
    )
    return PgWrite(
        _START_NEW_TASK,
        params,
        (lease.run_id,),
        False,
        _fenced(lease),
        None,
        WriteKind.START,
        lease,
    )


def _recorded(lease: Lease, task_id: str) -> Callable[[Rows], Any]:
    """A write that assumes rows: fenced, and the task row (and attempt row, when the statement
    counts them) must exist (the attempt's start may have been lost)."""

    def parse(rows: Rows) -> Any:
        if not rows:
            raise LeaseLostError(lease.run_id)
        status, *updated = rows[0]
        if not all(updated):
            raise StoreError(
                f"Task {task_id} of run {lease.run_id} has no stored start (an earlier write of "
                "this run failed), so its result was not stored. The run resumes from what is "
                "stored once its lease expires; nothing to do."
            )
        return status

    return parse


class PostgresStore(Store):
    """``postgresql://user:password@host:5432/database`` (any libpq URL; ``postgres://`` too).

    runio's own query parameters: ``pool_min_size`` (default 1) and ``pool_max_size`` (default
    10), the connections this store keeps open (one more while a worker listens for wake-ups),
    and ``pool_timeout`` (default 10), seconds an operation waits for a connection before it
    fails with ``StoreError``. ``Store.url`` is the URL without its password.
    """

    def __init__(self, url: str) -> None:
        self._pg = PgTransport(parse_url(url), _start_write)
        self.url = self._pg.url
        self.faults = self._pg.faults

    async def close(self) -> None:
        await self._pg.close()

    async def flush(self) -> None:
        """Every write handed over so far is committed once this returns; a broken connection
        raises."""
        await self._pg.flush()

    async def watch(self, app_id: str, wake: Callable[[], None]) -> Watch:
        """``LISTEN`` for runs of ``app_id`` becoming ready (see ``PgTransport.watch``)."""
        return await self._pg.watch(app_id, wake)

    async def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement; ``?`` placeholders as with SQLite. Applied after every write this
        store was given before (unawaited ones included)."""
        query = _qmark(sql) if params else sql

        async def op(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(query, tuple(params) if params else None)
            return [tuple(r) for r in await cur.fetchall()] if cur.description else []

        return await self._pg.after_writes(op)

    # -- the HTTP server: pages of runs, API keys -----------------------------------------------
    async def find_runs(self, query: RunQuery) -> list[Run]:
        sql, params = find_runs_sql(query, "%s")
        params = [_text(p) if isinstance(p, str) else p for p in params]

        async def op(conn: Conn) -> list[Run]:
            cur = await conn.execute(sql, params)
            return [run_from_row(r) for r in await cur.fetchall()]

        return await self._pg.read(op)

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (%s,%s,%s,%s,%s)",
                (key.id, _text(key.name), key.secret_hash, key.created_at, key.revoked_at),
            )

        await self._pg.read(op, retry=False)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        async def op(conn: Conn) -> list[ApiKeyRecord]:
            cur = await conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            )
            return [api_key_from_row(r) for r in await cur.fetchall()]

        return await self._pg.read(op)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        async def op(conn: Conn) -> ApiKeyRecord | None:
            cur = await conn.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = %s", (_text(key_id),)
            )
            row = await cur.fetchone()
            return None if row is None else api_key_from_row(row)

        return await self._pg.read(op)

    async def revoke_api_key(self, key_id: str, *, now: float) -> ApiKeyRecord | None:
        async def op(conn: Conn) -> None:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (now, _text(key_id)),
            )

        await self._pg.read(op)
        return await self.get_api_key(key_id)

    # -- schema --------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        async def op(conn: Conn) -> int:
            cur = await conn.execute("SELECT to_regclass('runio_migrations') IS NOT NULL")
            row = await cur.fetchone()
            if not row or not row[0]:
                return 0
            cur = await conn.execute("SELECT version FROM runio_migrations")
            applied = {r[0] for r in await cur.fetchall()}
            return schema_version_of(applied, [v for v, _, _ in _migrations()])

        return await self._pg.read(op)

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

        return await self._pg.read(op)

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

        await self._pg.read(op)

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

        return await self._pg.read(op)

    async def create_event(
        self, event: Event, runs: Sequence[NewRun], now: float
    ) -> tuple[Event, bool]:
        async def op(conn: Conn) -> tuple[Event, bool]:
            return await _store_event(conn, event, runs, now)

        # Safe to repeat: a second try finds the event stored by the first.
        return await self._pg.read(op, kind=WriteKind.EVENT)

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
        rules: Mapping[str, ClaimRule] | None = None,
    ) -> list[ClaimedRun]:
        if not job_ids or limit <= 0:
            return []
        plain, limited = split_by_limit(job_ids, rules)
        pinned, pin_params = _versions_sql(plain, rules)
        claim_sql, claim_params = _CLAIM, (worker_id, now + lease_seconds, now, app_id)

        def parse(rows: Sequence[Sequence[Any]]) -> list[ClaimedRun]:
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
                    event=Event(r[7], app_id, r[10], loads(r[11]), r[12], r[13]),
                )
                for r in rows
            ]

        async def op(conn: Conn) -> list[ClaimedRun]:
            claimed: list[ClaimedRun] = []
            if limited:
                async with conn.transaction():
                    # Limited claims of one app take turns, so each counts the runs executing
                    # after the previous one committed (READ COMMITTED: a fresh snapshot per
                    # statement, taken once the lock is held).
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                        (_CONCURRENCY_LOCK, app_id),
                    )
                    sql, params = _limited_claim(app_id, limited, now, limit)
                    cur = await conn.execute(sql + claim_sql, (*params, *claim_params))
                    claimed = parse(await cur.fetchall())
            if plain and len(claimed) < limit:
                # One statement: waiting runs whose time has come, runs whose lease expired and
                # queued runs, each status's first by its own index, then in claim-time order
                # (resumptions first: RESUMPTION_HEAD_START_S). Rows another worker is claiming
                # right now are skipped, not waited for.
                rest = limit - len(claimed)
                jobs = (plain, *pin_params)
                cur = await conn.execute(
                    "WITH waking AS (SELECT id, status, ready_at AS t FROM runs WHERE "
                    "app_id = %s AND status = 'WAITING' AND ready_at <= %s AND job_id = ANY(%s)"
                    f"{pinned} ORDER BY ready_at LIMIT %s FOR UPDATE SKIP LOCKED), "
                    "expired AS (SELECT id, status, lease_expires AS t FROM runs WHERE "
                    "app_id = %s AND status = 'EXECUTING' AND lease_expires < %s AND "
                    f"job_id = ANY(%s){pinned} ORDER BY lease_expires LIMIT %s "
                    "FOR UPDATE SKIP LOCKED), "
                    "queued AS (SELECT id, status, ready_at + %s AS t FROM runs WHERE "
                    "app_id = %s AND status = 'QUEUED' AND ready_at <= %s AND job_id = ANY(%s)"
                    f"{pinned} ORDER BY ready_at LIMIT %s FOR UPDATE SKIP LOCKED), "
                    "picked AS (SELECT id, status, t FROM waking UNION ALL SELECT id, status, t "
                    "FROM expired UNION ALL SELECT id, status, t FROM queued ORDER BY t "
                    "LIMIT %s), " + claim_sql,
                    (
                        *(app_id, now, *jobs, rest),
                        *(app_id, now, *jobs, rest),
                        *(RESUMPTION_HEAD_START_S, app_id, now, *jobs, rest),
                        rest,
                        *claim_params,
                    ),
                )
                claimed += parse(await cur.fetchall())
            return claimed

        # Safe to repeat: a claim whose answer was lost only holds its runs until the lease
        # expires.
        return await self._pg.read(op, kind=WriteKind.CLAIM)

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
        pinned, pin_params = _versions_sql(plain, rules)
        later = list(limited)
        expiring = "(SELECT MIN(lease_expires) FROM runs WHERE app_id = %s AND status = 'EXECUTING'"
        parts: list[str] = []
        params: list[Any] = []
        if plain:
            parts += [_first_ready(pinned), f"{expiring} AND job_id = ANY(%s){pinned})"]
            params += [*((app_id, plain, *pin_params) * 2), app_id, plain, *pin_params]
        if later:
            # Ready runs of a limited job that were not claimed wait for a slot: for those,
            # what comes next is a run becoming ready later, or a lease running out.
            parts += [_first_ready(" AND ready_at > %s"), f"{expiring} AND job_id = ANY(%s))"]
            params += [*((app_id, later, now) * 2), app_id, later]
        sql = f"SELECT LEAST({', '.join(parts)})"

        async def op(conn: Conn) -> float | None:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._pg.read(op)

    # -- flow control --------------------------------------------------------------------------
    async def runs_without_concurrency_key(
        self, *, app_id: str, job_ids: Sequence[str], limit: int
    ) -> list[tuple[str, str, Any]]:
        if not job_ids:
            return []

        async def op(conn: Conn) -> list[tuple[str, str, Any]]:
            cur = await conn.execute(
                "SELECT r.id, r.job_id, e.payload FROM runs r JOIN events e "
                "ON e.app_id = r.app_id AND e.id = r.event_id WHERE r.app_id = %s "
                "AND r.status IN ('QUEUED','WAITING','EXECUTING') AND r.concurrency_key IS NULL "
                "AND r.job_id = ANY(%s) ORDER BY r.created_at, r.id LIMIT %s",
                (app_id, list(job_ids), limit),
            )
            return [(r[0], r[1], loads(r[2])) for r in await cur.fetchall()]

        return await self._pg.read(op)

    async def set_concurrency_keys(
        self, *, keys: Mapping[str, str], failures: Mapping[str, str], now: float
    ) -> None:
        if not keys and not failures:
            return

        async def op(conn: Conn) -> None:
            async with conn.transaction():
                # Rows locked in one order (by id), so two workers recording keys of the same
                # runs take turns instead of deadlocking.
                await conn.execute(
                    "SELECT id FROM runs WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                    (sorted({*keys, *failures}),),
                )
                if keys:
                    await conn.execute(
                        "UPDATE runs SET concurrency_key = u.k FROM unnest(%s::text[], "
                        "%s::text[]) AS u(id, k) WHERE runs.id = u.id "
                        "AND runs.concurrency_key IS NULL",
                        (list(keys), list(keys.values())),
                    )
                for run_id, error in failures.items():
                    ended, ended_params = _end_open_tasks(
                        run_id, now, when="EXISTS (SELECT FROM f)"
                    )
                    await conn.execute(
                        "WITH f AS (UPDATE runs SET status = 'FAILED', error = %s, "
                        "ended_at = %s, ready_at = NULL WHERE id = %s AND status IN "
                        "('QUEUED','WAITING') AND concurrency_key IS NULL RETURNING 1), "
                        f"{ended} SELECT 1",
                        (error, now, run_id, *ended_params),
                    )

        await self._pg.read(op, retry=False)

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
        item = PgWrite(
            "UPDATE runs SET lease_expires = %s FROM unnest(%s::text[], %s::bigint[]) "
            "AS l(id, token) WHERE runs.id = l.id AND runs.lease_token = l.token "
            "RETURNING runs.id, runs.status",
            (now + lease_seconds, ids, tokens),
            tuple(ids),
            False,
            parse,
            None,
            WriteKind.HEARTBEAT,
        )
        return await self._pg.write(item)  # type: ignore[no-any-return]

    # -- one execution -------------------------------------------------------------------------
    async def load_run_state(self, run_id: str) -> RunState:
        async def op(conn: Conn) -> RunState:
            async with conn.pipeline():  # both queries in one round trip
                tasks = await conn.execute(_RUN_STATE_TASKS, (run_id,))
                logs = await conn.execute(
                    "SELECT scope, MAX(seq) FROM logs WHERE run_id = %s GROUP BY scope", (run_id,)
                )
            outputs: dict[str, str | None] = {}
            others: list[StoredTask] = []
            for row in await tasks.fetchall():
                if row[4] == "COMPLETED":
                    outputs[row[2]] = row[5]
                else:
                    others.append(StoredTask(*row))
            return RunState(outputs, others, {r[0]: r[1] for r in await logs.fetchall()})

        return await self._pg.read(op)

    def start_attempt(
        self, lease: Lease, *, new_task: NewTask | None, task_id: str, attempt: int, now: float
    ) -> None:
        if new_task is not None:  # its first attempt: built only if it reaches the writer
            self._pg.deferred.add_start(lease, new_task, now)
            return
        # Starting attempt N closes an attempt a crash left open (its outcome is unknown).
        # The task row must exist: a write assuming it fails when it does not.
        sql = (
            f"WITH {_FENCE}, t AS (UPDATE tasks SET status = 'RUNNING', attempts = %s, "
            "retry_at = NULL, started_at = COALESCE(started_at, %s) WHERE id = %s AND "
            f"run_id = %s AND {_HELD} RETURNING 1), i AS (UPDATE attempts SET "
            "status = 'ERRORED', ended_at = %s, error = %s WHERE task_id = %s AND "
            f"number < %s AND status = 'STARTED' AND {_HELD} RETURNING 1), {_ATTEMPT_ROW} "
            "SELECT status, (SELECT count(*) FROM t) FROM r"
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
        parse = _recorded(lease, task_id)
        item = PgWrite(sql, params, (lease.run_id,), False, parse, None, WriteKind.START, lease)
        self._pg.defer(item)

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
        unsent = self._pg.deferred.withdraw_start(task_id)
        if unsent is not None:
            new_task, started_at = unsent
            sql = (
                f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}) SELECT {_TASK_VALUES} "
                f"WHERE {_HELD} RETURNING 1), a AS (INSERT INTO attempts (task_id, number, "
                "status, started_at, ended_at) SELECT %s, %s, 'COMPLETED', %s::float8, "
                f"%s::float8 WHERE {_HELD} RETURNING 1) SELECT status, 1, 1 FROM r"
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
                "SELECT status, (SELECT count(*) FROM t), (SELECT count(*) FROM a) FROM r"
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
        item = PgWrite(
            sql,
            params,
            (lease.run_id,),
            True,
            _recorded(lease, task_id),
            None,
            WriteKind.COMPLETE,
            lease,
        )
        return await self._pg.write(item)  # type: ignore[no-any-return]

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
            "SELECT status, (SELECT count(*) FROM t), (SELECT count(*) FROM a) FROM r"
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
        item = PgWrite(
            sql,
            params,
            (lease.run_id,),
            True,
            _recorded(lease, task_id),
            None,
            WriteKind.FAIL,
            lease,
        )
        return await self._pg.write(item)  # type: ignore[no-any-return]

    def record_wait(self, lease: Lease, *, new_task: NewTask, wake_at: float) -> None:
        sql = (
            f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}) SELECT {_TASK_VALUES} "
            f"WHERE {_HELD} RETURNING 1) SELECT status FROM r"
        )
        params = (
            lease.run_id,
            lease.token,
            *_task_values(new_task, "WAITING", wake_at=wake_at, started_at=new_task.created_at),
        )
        self._defer_fenced(lease, sql, params, WriteKind.WAIT)

    def _defer_fenced(
        self, lease: Lease, sql: str, params: tuple[Any, ...], kind: WriteKind
    ) -> None:
        """Queue an unawaited write of this execution that starts with ``_FENCE`` and writes
        only while the lease holds (a lost lease surfaces on its next awaited write)."""
        self._pg.defer(
            PgWrite(sql, params, (lease.run_id,), False, _fenced(lease), None, kind, lease)
        )

    def complete_wait(self, lease: Lease, *, task_id: str, now: float) -> None:
        sql = (
            f"WITH {_FENCE}, t AS (UPDATE tasks SET status = 'COMPLETED', ended_at = %s "
            "WHERE id = %s AND run_id = %s AND status IN ('WAITING','COMPLETED') AND "
            f"{_HELD} RETURNING 1) SELECT status, (SELECT count(*) FROM t) FROM r"
        )
        params = (lease.run_id, lease.token, now, task_id, lease.run_id)
        parse = _recorded(lease, task_id)
        self._pg.defer(
            PgWrite(sql, params, (lease.run_id,), False, parse, None, WriteKind.WAIT_OVER, lease)
        )

    def add_logs(self, lease: Lease, logs: Sequence[LogEntry]) -> None:
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
        self._defer_fenced(lease, sql, params, WriteKind.LOGS)

    async def suspend_run(self, lease: Lease, *, ready_at: float, now: float) -> bool:
        ended, ended_params = _end_open_tasks(lease.run_id, now, when=_NOT_EXECUTING)
        sql = (
            f"WITH {_FENCE}, u AS (UPDATE runs SET status = 'WAITING', "
            "ready_at = LEAST(%s, ready_at), "
            f"lease_owner = NULL, lease_expires = NULL WHERE id = %s AND {_EXECUTING} "
            f"RETURNING app_id), {ended} "
            f"SELECT status, (SELECT pg_notify('{CHANNEL}', app_id) FROM u) FROM r"
        )
        params = (lease.run_id, lease.token, ready_at, lease.run_id, *ended_params)
        item = PgWrite(
            sql, params, (lease.run_id,), True, _fenced(lease), None, WriteKind.SUSPEND, lease
        )
        status = await self._pg.write(item)
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
        item = PgWrite(
            sql, params, (lease.run_id,), True, _fenced(lease), None, WriteKind.FINISH, lease
        )
        before = await self._pg.write(item)
        return bool(before == RunStatus.EXECUTING)

    async def release_run(self, lease: Lease, *, now: float) -> None:
        sql = (
            "WITH u AS (UPDATE runs SET status = 'QUEUED', ready_at = %s, lease_owner = NULL, "
            "lease_expires = NULL WHERE id = %s AND lease_token = %s AND status = 'EXECUTING' "
            f"RETURNING app_id) SELECT pg_notify('{CHANNEL}', app_id) FROM u"
        )
        params = (now - RESUMPTION_HEAD_START_S, lease.run_id, lease.token)
        item = PgWrite(sql, params, (lease.run_id,), True, ignore_rows, None, WriteKind.RELEASE)
        try:
            await self._pg.write(item)
        finally:
            self._pg.deferred.forget(lease)

    # -- operations ----------------------------------------------------------------------------
    async def get_run(self, run_id: str, *, with_tasks: bool = True) -> Run | None:
        async def op(conn: Conn) -> Run | None:
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
                    LogEntry(run_id, r[0], r[1], r[2], r[3], loads(r[4]), r[5], r[6])
                    for r in await cur.fetchall()
                ]
            return run

        return await self._pg.read(op)

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

        async def op(conn: Conn) -> list[Run]:
            cur = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} {where} "
                "ORDER BY r.created_at DESC, r.id DESC LIMIT %s",
                (*params, limit),
            )
            return [run_from_row(r) for r in await cur.fetchall()]

        return await self._pg.read(op)

    async def record_cancel(self, decision: CancelDecision, *, now: float) -> bool:
        run_id = decision.run_id

        async def op(conn: Conn) -> bool:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT status FROM runs WHERE id = %s FOR UPDATE", (run_id,)
                )
                row = await cur.fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                if row[0] != decision.status:
                    return False
                await conn.execute(
                    "UPDATE runs SET status = 'CANCELED', ended_at = %s, ready_at = NULL "
                    "WHERE id = %s",
                    (now, run_id),
                )
                if "RUNNING" in decision.end_tasks:
                    await conn.execute(
                        "UPDATE attempts SET status = 'ERRORED', ended_at = %s, error = %s "
                        "WHERE status = 'STARTED' AND task_id IN (SELECT id FROM tasks WHERE "
                        "run_id = %s AND status = 'RUNNING')",
                        (now, RUN_ENDED, run_id),
                    )
                await conn.execute(
                    "UPDATE tasks SET status = 'CANCELED', ended_at = %s WHERE run_id = %s AND "
                    "status = ANY(%s)",
                    (now, run_id, list(decision.end_tasks)),
                )
                return True

        return await self._pg.read(op, retry=False, kind=WriteKind.OPERATION)

    async def record_retry(self, decision: RetryDecision, *, now: float) -> bool:
        run_id = decision.run_id
        tasks = decision.tasks

        async def op(conn: Conn) -> bool:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT status, app_id FROM runs WHERE id = %s FOR UPDATE", (run_id,)
                )
                row = await cur.fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                if row[0] != decision.status:
                    return False
                if tasks:
                    await conn.execute(
                        "UPDATE tasks SET status = u.status, attempt_base = attempts, "
                        "error = u.error, retry_at = NULL, ended_at = NULL FROM unnest("
                        "%s::text[], %s::text[], %s::text[], %s::text[]) AS u(id, seen, status, "
                        "error) WHERE tasks.run_id = %s AND tasks.id = u.id AND "
                        "tasks.status = u.seen",
                        (
                            [t.task_id for t in tasks],
                            [t.seen for t in tasks],
                            [t.status for t in tasks],
                            [t.error for t in tasks],
                            run_id,
                        ),
                    )
                await conn.execute(
                    "UPDATE runs SET status = 'QUEUED', ready_at = %s, started_at = NULL, "
                    "ended_at = NULL, output = NULL, error = NULL, is_retry = TRUE, "
                    "lease_owner = NULL, lease_expires = NULL WHERE id = %s",
                    (now, run_id),
                )
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, row[1]))
                return True

        return await self._pg.read(op, retry=False, kind=WriteKind.OPERATION)

    async def replay_run(self, run_id: str, *, new_run_id: str, now: float) -> Run:
        async def op(conn: Conn) -> None:
            cur = await conn.execute(
                "WITH n AS (INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, "
                "created_at, ready_at, replay_of) SELECT %s, r.app_id, r.job_id, "
                "COALESCE(j.version, r.job_version), r.event_id, 'QUEUED', %s, %s, r.id "
                "FROM runs r LEFT JOIN jobs j ON j.app_id = r.app_id AND j.job_id = r.job_id "
                "WHERE r.id = %s RETURNING app_id) "
                f"SELECT pg_notify('{CHANNEL}', app_id) FROM n",
                (new_run_id, now, now, run_id),
            )
            if await cur.fetchone() is None:
                raise RunNotFoundError(run_id)

        await self._pg.read(op, retry=False)
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
        async def op(conn: Conn) -> list[tuple[Event, bool]]:
            async with conn.transaction():
                return [await _store_event(conn, event, runs, now) for event, runs in items]

        return await self._pg.read(op, kind=WriteKind.EVENT)

    async def has_event_waits(self, app_id: str, name: str) -> bool:
        async def op(conn: Conn) -> bool:
            cur = await conn.execute(
                "SELECT 1 FROM event_waits WHERE app_id = %s AND name = %s LIMIT 1",
                (app_id, _text(name)),
            )
            return await cur.fetchone() is not None

        return await self._pg.read(op)

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
        async def op(conn: Conn) -> None:
            async with conn.transaction():
                app_id = await _hold(conn, lease)
                if new_task is not None:
                    await conn.execute(
                        f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ({_TASK_VALUES})",
                        _task_values(new_task, "WAITING", wake_at=timeout_at, started_at=began_at),
                    )
                else:
                    cur = await conn.execute(
                        "UPDATE tasks SET status = 'WAITING', wake_at = %s, output = NULL, "
                        "error = NULL, ended_at = NULL WHERE run_id = %s AND id = %s",
                        (timeout_at, lease.run_id, task_id),
                    )
                    if cur.rowcount != 1:
                        raise StoreError(f"Wait {task_id} of run {lease.run_id} is not stored.")
                await conn.execute(
                    "INSERT INTO event_waits (run_id, task_id, app_id, name, filter, began_at, "
                    "timeout_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, "
                    "task_id) DO UPDATE SET name = excluded.name, filter = excluded.filter, "
                    "began_at = excluded.began_at, timeout_at = excluded.timeout_at, "
                    "event_id = NULL, event_at = NULL",
                    (lease.run_id, task_id, app_id, _text(name), filter, began_at, timeout_at),
                )

        await self._pg.after_writes(op)

    async def resolve_event_wait(
        self, lease: Lease, *, task_id: str, now: float, timeout_error: str
    ) -> tuple[str, Any]:
        async def op(conn: Conn) -> tuple[str, Any]:
            async with conn.transaction():
                await _hold(conn, lease)
                cur = await conn.execute(
                    "SELECT app_id, event_id, event_at, timeout_at FROM event_waits "
                    "WHERE run_id = %s AND task_id = %s",
                    (lease.run_id, task_id),
                )
                wait = await cur.fetchone()
                if wait is None:
                    raise StoreError(f"Wait {task_id} of run {lease.run_id} is not stored.")
                app_id, event_id, event_at, timeout_at = wait
                result: tuple[str, Any]
                if event_id is not None and event_at <= now:
                    event = await _load_event(conn, app_id, event_id)
                    assert event is not None  # events are never deleted
                    output = event_json(
                        event_id,
                        event.name,
                        json.dumps(event.payload),
                        event.timestamp,
                        event.deliver_at,
                        event.run_ids,
                    )
                    await conn.execute(
                        "UPDATE tasks SET status = 'COMPLETED', output = %s, ended_at = %s "
                        "WHERE run_id = %s AND id = %s",
                        (output, now, lease.run_id, task_id),
                    )
                    result = ("event", output)
                elif timeout_at <= now:
                    await conn.execute(
                        "UPDATE tasks SET status = 'ERRORED', error = %s, ended_at = %s "
                        "WHERE run_id = %s AND id = %s",
                        (timeout_error, now, lease.run_id, task_id),
                    )
                    result = ("timeout", None)
                else:
                    return "waiting", event_at if event_id is not None else timeout_at
                return result

        return await self._pg.after_writes(op)

    async def get_event(self, app_id: str, event_id: str) -> Event | None:
        async def op(conn: Conn) -> Event | None:
            return await _load_event(conn, app_id, event_id)

        return await self._pg.read(op)

    async def cancel_event(
        self, app_id: str, event_id: str, *, now: float
    ) -> tuple[Event | None, str]:
        async def op(conn: Conn) -> tuple[Event | None, str]:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT name FROM events WHERE app_id = %s AND id = %s", (app_id, event_id)
                )
                row = await cur.fetchone()
                if row is None:
                    return None, "missing"
                await conn.execute(
                    "SELECT 1 FROM events WHERE app_id = %s AND id = %s FOR UPDATE",
                    (app_id, event_id),
                )
                event = await _load_event(conn, app_id, event_id)
                assert event is not None
                if event.canceled_at is not None:
                    return event, "canceled_before"
                if (event.deliver_at or event.timestamp) <= now:
                    return event, "delivered"
                await conn.execute(
                    "UPDATE events SET canceled_at = %s WHERE app_id = %s AND id = %s",
                    (now, app_id, event_id),
                )
                await conn.execute(
                    "UPDATE runs SET status = 'CANCELED', ended_at = %s, ready_at = NULL "
                    "WHERE app_id = %s AND event_id = %s AND status = 'QUEUED'",
                    (now, app_id, event_id),
                )
                cur = await conn.execute(
                    "SELECT run_id, task_id, name, filter, began_at, timeout_at FROM event_waits "
                    "WHERE app_id = %s AND event_id = %s",
                    (app_id, event_id),
                )
                for run_id, task_id, name, spec, began_at, timeout_at in await cur.fetchall():
                    found_cur = await conn.execute(
                        "SELECT id, payload, COALESCE(deliver_at, timestamp) AS at FROM events "
                        "WHERE app_id = %s AND name = %s AND timestamp >= %s AND "
                        "canceled_at IS NULL ORDER BY at, id",
                        (app_id, name, began_at),
                    )
                    found = first_match(await found_cur.fetchall(), spec, timeout_at)
                    await conn.execute(
                        "UPDATE event_waits SET event_id = %s, event_at = %s "
                        "WHERE run_id = %s AND task_id = %s",
                        (*(found or (None, None)), run_id, task_id),
                    )
                    await conn.execute(
                        "UPDATE tasks SET wake_at = %s WHERE run_id = %s AND id = %s AND "
                        "status = 'WAITING'",
                        (found[1] if found else timeout_at, run_id, task_id),
                    )
                event.canceled_at = now
                return event, "canceled"

        return await self._pg.read(op, retry=False, kind=WriteKind.OPERATION)

    def delay_task(self, lease: Lease, *, new_task: NewTask, start_at: float) -> None:
        sql = (
            f"WITH {_FENCE}, t AS (INSERT INTO tasks ({_TASK_COLUMNS}, retry_at) SELECT "
            f"{_TASK_VALUES}, %s::float8 WHERE {_HELD} RETURNING 1) SELECT status FROM r"
        )
        params = (lease.run_id, lease.token, *_task_values(new_task, "WAITING"), start_at)
        self._defer_fenced(lease, sql, params, WriteKind.WAIT)

    async def get_item(self, app_id: str, scope: str, owner: str, key: str) -> str | None:
        async def op(conn: Conn) -> str | None:
            cur = await conn.execute(
                "SELECT value FROM store_items WHERE app_id = %s AND scope = %s AND owner = %s "
                "AND key = %s",
                (app_id, scope, owner, _text(key)),
            )
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._pg.read(op)

    async def set_item(
        self, app_id: str, scope: str, owner: str, key: str, value: str, *, now: float
    ) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO store_items (app_id, scope, owner, key, value, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (app_id, scope, owner, key) DO "
                "UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (app_id, scope, owner, _text(key), value, now),
            )

        await self._pg.read(op, kind=WriteKind.OPERATION)

    async def delete_item(self, app_id: str, scope: str, owner: str, key: str) -> bool:
        async def op(conn: Conn) -> bool:
            cur = await conn.execute(
                "DELETE FROM store_items WHERE app_id = %s AND scope = %s AND owner = %s "
                "AND key = %s",
                (app_id, scope, owner, _text(key)),
            )
            return bool(cur.rowcount)

        return await self._pg.read(op, kind=WriteKind.OPERATION)


async def _hold(conn: Conn, lease: Lease) -> str:
    """Lock the run row if ``lease`` still holds it (else ``LeaseLostError``); its app id."""
    cur = await conn.execute(
        "SELECT app_id FROM runs WHERE id = %s AND lease_token = %s FOR UPDATE",
        (lease.run_id, lease.token),
    )
    row = await cur.fetchone()
    if row is None:
        raise LeaseLostError(lease.run_id)
    return str(row[0])


async def _load_event(conn: Conn, app_id: str, event_id: str) -> Event | None:
    cur = await conn.execute(
        "SELECT name, payload, timestamp, deliver_at, canceled_at FROM events "
        "WHERE app_id = %s AND id = %s",
        (app_id, event_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    cur = await conn.execute(
        "SELECT id FROM runs WHERE app_id = %s AND event_id = %s AND replay_of IS NULL "
        "ORDER BY created_at, id",
        (app_id, event_id),
    )
    run_ids = [r[0] for r in await cur.fetchall()]
    return Event(event_id, app_id, row[0], loads(row[1]), row[2], row[3], run_ids, row[4])


async def _store_event(
    conn: Conn, event: Event, runs: Sequence[NewRun], now: float
) -> tuple[Event, bool]:
    """Store an event and its runs, and resume the waits open when it is stored, in one
    statement (see ``_event_waits``): a wait committed before the statement began sees its event;
    the conditional updates keep the earliest matching event when events race."""
    at = event.deliver_at if event.deliver_at is not None else event.timestamp
    payload = json.dumps(event.payload)
    cur = await conn.execute(
        "WITH e AS (INSERT INTO events (app_id, id, name, payload, timestamp, deliver_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (app_id, id) DO NOTHING RETURNING 1), "
        "n AS (INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, "
        "created_at, ready_at) SELECT u.id, %s, u.job_id, u.job_version, %s, 'QUEUED', %s, "
        "u.ready_at FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[]) "
        "AS u(id, job_id, job_version, ready_at) WHERE EXISTS (SELECT FROM e) "
        "RETURNING app_id), "
        "m AS (UPDATE event_waits w SET event_id = %s, event_at = %s FROM tasks t "
        "WHERE EXISTS (SELECT FROM e) AND w.app_id = %s AND w.name = %s "
        "AND t.run_id = w.run_id AND t.id = w.task_id AND t.status = 'WAITING' "
        "AND %s < w.timeout_at AND (w.event_at IS NULL OR %s < w.event_at) "
        "AND (w.filter IS NULL OR runio_filter_matches(w.filter::jsonb, %s::jsonb)) "
        "RETURNING w.run_id, w.task_id), "
        "mt AS (UPDATE tasks SET wake_at = LEAST(wake_at, %s) FROM m "
        "WHERE tasks.run_id = m.run_id AND tasks.id = m.task_id RETURNING 1), "
        "mr AS (UPDATE runs SET ready_at = LEAST(ready_at, %s) WHERE id IN "
        "(SELECT run_id FROM m) AND status IN ('WAITING', 'EXECUTING') RETURNING 1) "
        "SELECT EXISTS (SELECT FROM e), "
        f"(SELECT pg_notify('{CHANNEL}', %s) WHERE EXISTS (SELECT FROM n) "
        "OR EXISTS (SELECT FROM m))",
        (
            event.app_id,
            event.id,
            _text(event.name),
            payload,
            event.timestamp,
            event.deliver_at,
            event.app_id,
            event.id,
            now,
            [r.id for r in runs],
            [r.job_id for r in runs],
            [r.job_version for r in runs],
            [r.ready_at for r in runs],
            event.id,
            at,
            event.app_id,
            _text(event.name),
            at,
            at,
            payload,
            at,
            at,
            event.app_id,
        ),
    )
    row = await cur.fetchone()
    if row is not None and row[0]:
        event.run_ids = [r.id for r in runs]
        return event, True
    stored = await _load_event(conn, event.app_id, event.id)
    if stored is None:  # pragma: no cover - an event is never deleted
        raise StoreError(f"Event {event.id} vanished while it was being stored; retry.")
    return stored, False


async def _load_task_records(conn: Conn, run_id: str) -> list[TaskRun]:
    attempts = await (await conn.execute(attempts_of_run_sql("%s"), (run_id,))).fetchall()
    tasks = await (await conn.execute(tasks_of_run_sql("%s"), (run_id,))).fetchall()
    return task_tree(tasks, attempts)


# Every task of a run in one statement (one snapshot), in ``StoredTask``'s order; a completed
# task sends only what a replay needs of it (its key, status and output), the others everything.
_RUN_STATE_TASKS = (
    "SELECT "
    + ", ".join(
        column
        if column in ("idempotency_key", "status", "output")
        else f"CASE WHEN status = 'COMPLETED' THEN NULL ELSE {column} END"
        for column in (
            "id",
            "parent_id",
            "idempotency_key",
            "kind",
            "status",
            "output",
            "error",
            "attempts",
            "attempt_base",
            "retry_at",
            "wake_at",
            "started_at",
        )
    )
    + " FROM tasks WHERE run_id = %s"
)


__all__ = ["CHANNEL", "PostgresStore"]
