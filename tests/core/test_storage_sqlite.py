"""The SQLite store: URLs, migrations, durability settings, claims, leases and app scoping."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import runio
from runio._records import ClaimedRun, Event, NewRun
from runio._run_rules import cancel_run
from runio.errors import ConfigurationError, MigrationError, StoreError
from runio.storage import Store, _sqlite, create_store

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    opened = create_store(sqlite_url)
    await opened.upgrade()
    yield opened
    await opened.close()


async def add_runs(
    store: Store,
    *,
    app_id: str = "app",
    job_id: str = "job",
    count: int = 1,
    ready_at: float = NOW,
    event_id: str | None = None,
) -> list[str]:
    """Store one event that creates ``count`` runs of ``job_id``; return the run ids."""
    add_runs.counter += 1  # type: ignore[attr-defined]
    n = add_runs.counter  # type: ignore[attr-defined]
    event = Event(event_id or f"evt_{n}", app_id, "go", {"n": n}, NOW, None)
    runs = [NewRun(f"run_{n}_{i}", job_id, "1.0", ready_at) for i in range(count)]
    stored, created = await store.create_event(event, runs, NOW)
    assert created
    return stored.run_ids


add_runs.counter = 0  # type: ignore[attr-defined]


async def claim(
    store: Store,
    worker_id: str,
    *,
    app_id: str = "app",
    job_ids: Sequence[str] = ("job",),
    limit: int = 100,
    now: float = NOW,
    lease_seconds: float = 30.0,
) -> list[ClaimedRun]:
    return await store.claim_runs(
        app_id=app_id,
        job_ids=list(job_ids),
        worker_id=worker_id,
        limit=limit,
        now=now,
        lease_seconds=lease_seconds,
    )


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("sqlite:/x.db", "sqlite:///"),
        ("sqlite:x.db", "sqlite:///"),
        ("sqlite://x.db", "three slashes"),
        ("sqlite:///", "names no file"),
        ("mysql://user@localhost/runio", "sqlite:///"),
        ("runio.db", "sqlite:///runio.db"),
        ("", "RUNIO_DATABASE_URL"),
        ("sqlite:///x.db?journal=wal", "synchronous"),
        ("sqlite:///x.db?synchronous=sometimes", "full"),
    ],
)
def test_a_bad_database_url_is_a_configuration_error_with_a_hint(
    url: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as error:
        create_store(url)
    message = str(error.value)
    assert hint in message
    if url:
        assert repr(url) in message or url in message, "the message quotes the URL"
    assert list(tmp_path.iterdir()) == [], "nothing is created for a rejected URL"


async def test_a_client_with_a_bad_url_fails_on_first_use_with_the_same_error() -> None:
    client = runio.Client("app", database_url="mysql://localhost/runio")
    with pytest.raises(ConfigurationError, match="mysql"):
        await client.list_runs_async()


async def test_an_in_memory_store_works_and_is_private_to_its_store() -> None:
    first, second = create_store("sqlite://:memory:"), create_store("sqlite://:memory:")
    try:
        for s in (first, second):
            assert await s.upgrade() != []
        (run_id,) = await add_runs(first)
        (claimed,) = await claim(first, "w")
        assert claimed.lease.run_id == run_id
        assert await claim(second, "w") == []
        assert await second.get_run(run_id) is None
    finally:
        await first.close()
        await second.close()


async def test_a_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    opened = create_store("sqlite:///data/jobs.db")
    try:
        await opened.upgrade()
    finally:
        await opened.close()
    assert (tmp_path / "data" / "jobs.db").is_file()


async def test_the_default_database_is_under_dot_runio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNIO_DATABASE_URL", raising=False)
    client = runio.Client("app")
    try:
        assert await client.list_runs_async() == []
    finally:
        client.close()
    assert (tmp_path / ".runio" / "runio.db").is_file()


async def test_a_closed_store_refuses_work_with_a_store_error(sqlite_url: str) -> None:
    opened = create_store(sqlite_url)
    await opened.close()
    with pytest.raises(StoreError, match="closed"):
        await opened.schema_version()


# -- migrations ----------------------------------------------------------------------------------


def _migration_files() -> list[str]:
    folder = resources.files("runio.storage.migrations") / "sqlite"
    return sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))


async def test_migrations_are_numbered_from_one_each_number_once() -> None:
    names = _migration_files()
    assert names, "the SQLite dialect ships its migrations as .sql files"
    for name in names:
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", name), name
    numbers = [int(n[:4]) for n in names]
    # A later number may ship before an earlier one (a gap): the upgrade applies what is missing.
    assert numbers[0] == 1 and numbers == sorted(set(numbers))


async def test_upgrade_applies_each_migration_once(sqlite_url: str) -> None:
    opened = create_store(sqlite_url)
    try:
        assert await opened.schema_version() == 0
        newest = int(_migration_files()[-1][:4])
        assert await opened.upgrade() == _migration_files()
        assert await opened.schema_version() == newest
        assert await opened.upgrade() == []
        assert await opened.schema_version() == newest
        rows = await opened.execute_raw("SELECT version, name FROM runio_migrations ORDER BY 1")
        assert [r[1] for r in rows] == _migration_files()
    finally:
        await opened.close()
    reopened = create_store(sqlite_url)
    try:
        assert await reopened.upgrade() == []
    finally:
        await reopened.close()


async def test_two_stores_upgrading_one_new_file_at_once_apply_it_once(sqlite_url: str) -> None:
    first, second = create_store(sqlite_url), create_store(sqlite_url)
    try:
        applied = await asyncio.gather(first.upgrade(), second.upgrade())
        assert sorted(applied, key=len) == [[], _migration_files()]
        assert await first.schema_version() == await second.schema_version() >= 1
    finally:
        await first.close()
        await second.close()


async def test_a_database_newer_than_this_runio_is_refused(sqlite_url: str) -> None:
    opened = create_store(sqlite_url)
    try:
        await opened.upgrade()
        await opened.execute_raw(
            "INSERT INTO runio_migrations (version, name, applied_at) VALUES (9999, 'x.sql', 0)"
        )
        with pytest.raises(MigrationError, match="newer") as error:
            await opened.upgrade()
        assert "9999" in str(error.value) and "Upgrade runio" in str(error.value)
    finally:
        await opened.close()
    for auto_migrate in (True, False):
        client = runio.Client("app", database_url=sqlite_url, auto_migrate=auto_migrate)
        try:
            with pytest.raises(MigrationError, match="9999"):
                await client.list_runs_async()
        finally:
            client.close()


async def test_without_auto_migrate_an_old_database_asks_for_db_upgrade(sqlite_url: str) -> None:
    client = runio.Client("app", database_url=sqlite_url, auto_migrate=False)
    try:
        with pytest.raises(MigrationError, match="runio db upgrade"):
            await client.list_runs_async()
    finally:
        client.close()


# -- durability settings -------------------------------------------------------------------------


async def test_wal_and_synchronous_full_by_default(store: Store, sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
    assert await store.execute_raw("PRAGMA synchronous") == [(2,)]


async def test_synchronous_normal_relaxes_durability(sqlite_url: str) -> None:
    relaxed = create_store(sqlite_url + "?synchronous=normal")
    try:
        await relaxed.upgrade()
        assert await relaxed.execute_raw("PRAGMA synchronous") == [(1,)]
    finally:
        await relaxed.close()


def test_none_is_stored_as_null_by_runio_and_by_the_applications_own_sqlite3(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # runio registers an adapter for None (binding it without sqlite3's slow search for one):
    # NULL must stay NULL, in runio's rows and in the application's own sqlite3 use.
    client = runio.Client("app", database_url=sqlite_url)

    @client.define_job(id="plain", trigger=runio.event_trigger("go"))
    async def plain(payload: Any, io: runio.IO) -> int:
        async def one(task: runio.Task) -> int:
            return 1

        return await io.run_task("t", one)  # no icon, params, style...: NULL columns

    client.send_event("go", {})
    client.run_worker(until_idle=True)
    client.close()
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        assert conn.execute(
            "SELECT typeof(parent_id), typeof(icon), typeof(params), typeof(wake_at), "
            "typeof(output_properties), typeof(output) FROM tasks"
        ).fetchall() == [("null", "null", "null", "null", "null", "text")]
        conn.execute("CREATE TABLE mine (v)")
        conn.execute("INSERT INTO mine VALUES (?)", (None,))
        assert conn.execute("SELECT typeof(v), ? IS NULL FROM mine", (None,)).fetchone() == (
            "null",
            1,
        )
    finally:
        conn.close()

    # On Python 3.11, runio's adapter gives None back; one the application registered itself
    # is left alone. Later Pythons get none.
    from runio.storage import _sqlite

    registered: list[tuple[type, Any]] = []
    monkeypatch.setattr(sqlite3, "register_adapter", lambda t, f: registered.append((t, f)))
    monkeypatch.setattr(sqlite3, "adapters", {})
    monkeypatch.setattr(_sqlite, "sys", SimpleNamespace(version_info=(3, 11, 7)))
    _sqlite._bind_none_directly()
    assert [(t, f(None)) for t, f in registered] == [(type(None), None)]

    registered.clear()
    monkeypatch.setattr(sqlite3, "adapters", {(type(None), sqlite3.PrepareProtocol): str})
    _sqlite._bind_none_directly()
    assert registered == []

    monkeypatch.setattr(sqlite3, "adapters", {})
    monkeypatch.setattr(_sqlite, "sys", SimpleNamespace(version_info=(3, 12, 0)))
    _sqlite._bind_none_directly()
    assert registered == []


async def test_opening_a_store_waits_for_another_connection_holding_a_write_lock(
    tmp_path: Path,
) -> None:
    """Another process writing to a database not yet in WAL mode (e.g. a second worker creating
    it at the same moment) makes the switch to WAL busy: opening must wait, not fail."""
    path = tmp_path / "busy.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other VALUES (1)")
    # The other writer holds its lock for a moment, as a process creating a schema would.
    release = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    release.start()
    try:
        opened = create_store(f"sqlite:///{path}")
        try:
            assert await opened.upgrade() == _migration_files()
        finally:
            await opened.close()
    finally:
        release.join()
        other.close()


def test_a_write_waiting_for_another_processs_lock_looks_again_every_2_ms_at_most(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process writing back to back (a producer sending events) frees SQLite's write
    lock for a fraction of a millisecond between its commits: a waiting writer that looked
    again only every few milliseconds would miss those moments, time after time. However long
    it has waited, it looks again within 2 ms, and first within 0.1 ms."""
    path = tmp_path / "busy.db"
    waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter.execute("PRAGMA journal_mode=WAL")
    waiter.execute("PRAGMA busy_timeout=0")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 40:  # a long wait: the other process lets go only now
            other.execute("COMMIT")

    monkeypatch.setattr(_sqlite, "time", SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    try:
        _sqlite._retry_locked(lambda: waiter.execute("BEGIN IMMEDIATE"))
        assert waiter.in_transaction  # it got the lock once the other let go
        waiter.execute("ROLLBACK")
    finally:
        waiter.close()
        other.close()
    assert len(pauses) == 40
    assert pauses[0] <= 0.0001
    assert max(pauses) <= 0.002


async def test_a_lock_another_process_never_lets_go_fails_the_write_with_a_hint_and_stores_nothing(
    store: Store, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "_LOCK_RETRY_SECONDS", 0.05)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="Another process held the database too long"):
            await add_runs(store, event_id="evt_blocked")
        other.execute("COMMIT")
    finally:
        other.close()
    assert await store.get_event("app", "evt_blocked") is None  # refused whole, not half-stored
    assert await add_runs(store, event_id="evt_blocked")  # sent again once the lock is free


# -- claims ----------------------------------------------------------------------------------------


async def test_two_stores_claiming_at_once_never_take_the_same_run(
    store: Store, sqlite_url: str
) -> None:
    run_ids = await add_runs(store, count=60)
    first, second = create_store(sqlite_url), create_store(sqlite_url)

    async def claim_all(s: Store, worker_id: str) -> list[ClaimedRun]:
        got: list[ClaimedRun] = []
        while batch := await claim(s, worker_id, limit=3):
            got.extend(batch)
        return got

    try:
        a, b = await asyncio.gather(claim_all(first, "a"), claim_all(second, "b"))
    finally:
        await first.close()
        await second.close()
    a_ids = [c.lease.run_id for c in a]
    b_ids = [c.lease.run_id for c in b]
    assert len(set(a_ids)) == len(a_ids) and len(set(b_ids)) == len(b_ids)
    assert not set(a_ids) & set(b_ids)
    assert sorted(a_ids + b_ids) == sorted(run_ids)
    assert {c.lease.token for c in a + b} == {1}
    owners = dict(await store.execute_raw("SELECT id, lease_owner FROM runs"))
    assert all(owners[c.lease.run_id] == "a" for c in a)
    assert all(owners[c.lease.run_id] == "b" for c in b)


async def test_a_claimed_run_is_not_claimed_again_until_its_lease_expires(store: Store) -> None:
    (run_id,) = await add_runs(store)
    (first,) = await claim(store, "a", lease_seconds=10)
    assert (first.status_before, first.execution_count) == ("QUEUED", 1)
    assert await claim(store, "b", now=NOW + 9.9) == []
    (second,) = await claim(store, "b", now=NOW + 10.1)
    assert second.lease.run_id == run_id
    assert second.lease.token == first.lease.token + 1
    assert (second.status_before, second.execution_count) == ("EXECUTING", 2)


async def test_a_run_delivered_later_is_claimed_only_when_due(store: Store) -> None:
    (run_id,) = await add_runs(store, ready_at=NOW + 60)
    assert await store.next_ready_at(app_id="app", job_ids=["job"]) == NOW + 60
    assert await claim(store, "w", now=NOW + 59) == []
    (claimed,) = await claim(store, "w", now=NOW + 60)
    assert claimed.lease.run_id == run_id


async def test_runs_of_other_apps_and_unlisted_jobs_are_never_claimed(store: Store) -> None:
    (mine,) = await add_runs(store, app_id="app", job_id="job")
    await add_runs(store, app_id="app", job_id="other-job")
    await add_runs(store, app_id="other-app", job_id="job")
    # ...not even when their leases have expired.
    for c in await claim(store, "x", app_id="other-app", lease_seconds=1):
        assert c.app_id == "other-app"
    for c in await claim(store, "x", app_id="app", job_ids=["other-job"], lease_seconds=1):
        assert c.job_id == "other-job"
    later = NOW + 3600
    claimed = await claim(store, "w", app_id="app", job_ids=["job"], now=later)
    assert [(c.lease.run_id, c.app_id, c.job_id) for c in claimed] == [(mine, "app", "job")]
    assert await claim(store, "w", app_id="app", job_ids=["job"], now=later) == []
    assert await claim(store, "w", app_id="app", job_ids=[], now=later) == []
    assert await store.next_ready_at(app_id="nobody", job_ids=["job"]) is None


async def test_same_event_id_in_two_apps_are_two_events(store: Store) -> None:
    (a,) = await add_runs(store, app_id="app", event_id="evt_shared")
    (b,) = await add_runs(store, app_id="other-app", event_id="evt_shared")
    assert a != b
    assert [c.lease.run_id for c in await claim(store, "w", app_id="other-app")] == [b]


async def test_creating_an_event_twice_creates_its_runs_once(store: Store) -> None:
    event = Event("evt_once", "app", "go", {}, NOW, None)
    stored, created = await store.create_event(event, [NewRun("run_once", "job", "1", NOW)], NOW)
    again, created_again = await store.create_event(
        Event("evt_once", "app", "go", {"other": True}, NOW, None),
        [NewRun("run_twice", "job", "1", NOW)],
        NOW,
    )
    assert (created, created_again) == (True, False)
    assert again.run_ids == stored.run_ids == ["run_once"]
    assert again.payload == {}
    assert await store.get_run("run_twice") is None


# -- heartbeats and release ------------------------------------------------------------------------


async def test_heartbeat_extends_a_held_lease(store: Store) -> None:
    (run_id,) = await add_runs(store)
    (claimed,) = await claim(store, "w", lease_seconds=10)
    assert await store.heartbeat([claimed.lease], now=NOW + 8, lease_seconds=10) == {}
    assert await store.execute_raw("SELECT lease_expires FROM runs WHERE id=?", (run_id,)) == [
        (NOW + 18,)
    ]
    assert await claim(store, "other", now=NOW + 15) == []


async def test_heartbeat_reports_a_canceled_run(store: Store) -> None:
    (run_id,) = await add_runs(store)
    (claimed,) = await claim(store, "w")
    await cancel_run(store, run_id, now=NOW + 1)
    assert await store.heartbeat([claimed.lease], now=NOW + 2, lease_seconds=30) == {
        run_id: "canceled"
    }


async def test_heartbeat_reports_a_run_another_worker_took_as_lost(store: Store) -> None:
    kept, taken = await add_runs(store, count=2)
    claimed = {c.lease.run_id: c for c in await claim(store, "a", lease_seconds=5)}
    assert await store.heartbeat([claimed[kept].lease], now=NOW + 4, lease_seconds=5) == {}
    (retaken,) = await claim(store, "b", now=NOW + 6)  # only `taken` expired
    assert retaken.lease.run_id == taken
    leases = [claimed[kept].lease, claimed[taken].lease]
    assert await store.heartbeat(leases, now=NOW + 7, lease_seconds=5) == {taken: "lost"}
    run = await store.get_run(taken)
    assert run is not None and run.lease_owner == "b"


async def test_writes_committed_together_wake_their_event_loop_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    wakes: list[str] = []
    real = loop.call_soon_threadsafe

    def counted(*args: Any, **kwargs: Any) -> Any:
        wakes.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
    await store.execute_raw("CREATE TABLE t (n INTEGER)")
    wakes.clear()
    runner: Any = store._runner  # type: ignore[attr-defined]
    runner._conn_lock.acquire()  # the database thread cannot apply any of them yet
    writes = [
        asyncio.ensure_future(store.execute_raw("INSERT INTO t VALUES (?) RETURNING n", (n,)))
        for n in range(5)
    ]
    await asyncio.sleep(0)  # all five are handed over: in one batch, or the first then four
    runner._conn_lock.release()
    assert await asyncio.gather(*writes) == [[(n,)] for n in range(5)]  # each its own answer
    assert set(wakes) == {"runio-sqlite"} and len(wakes) <= 2  # one per batch, not per write
    assert await store.execute_raw("SELECT n FROM t ORDER BY rowid") == [(n,) for n in range(5)]


async def test_a_claim_takes_its_runs_with_two_statements_and_keeps_claim_time_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many runs a claim takes, one UPDATE takes them and one SELECT reads their events
    (per ``_CLAIM_CHUNK`` runs, here shrunk to 3): each run comes back with its own event, in
    claim-time order (a run whose worker's lease expired first, then the queued ones by time)."""
    monkeypatch.setattr(_sqlite, "_CLAIM_CHUNK", 3)
    expired = (await add_runs(store, ready_at=NOW - 100))[0]
    (first,) = await claim(store, "dead-worker", lease_seconds=1, now=NOW - 100)
    assert first.lease.run_id == expired
    shared = await add_runs(store, count=3, ready_at=NOW - 50)  # one event, three runs
    single = [(await add_runs(store, ready_at=NOW - 40 + i))[0] for i in range(3)]
    seen: list[str] = []
    conn = store._runner._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(seen.append)
    try:
        claimed = await claim(store, "w", now=NOW + 5)
    finally:
        conn.set_trace_callback(None)
    assert [c.lease.run_id for c in claimed] == [expired, *shared, *single]
    assert [c.status_before for c in claimed] == ["EXECUTING"] + ["QUEUED"] * 6
    assert [c.execution_count for c in claimed] == [2] + [1] * 6
    assert [c.lease.token for c in claimed] == [first.lease.token + 1] + [1] * 6
    assert {c.lease.worker_id for c in claimed} == {"w"}
    payloads = [c.event.payload for c in claimed]
    assert payloads[1:4] == [payloads[1]] * 3 and len({p["n"] for p in payloads}) == 5
    assert all(c.event.id.startswith("evt_") and c.event.name == "go" for c in claimed)
    writes = [s for s in seen if s.startswith(("UPDATE runs", "SELECT id, name, payload"))]
    assert len(writes) == 6, seen  # 7 runs: 3 chunks, each an UPDATE and a SELECT
    rows = await store.execute_raw("SELECT id, status, lease_owner, ready_at FROM runs ORDER BY id")
    assert {(status, owner, ready) for _, status, owner, ready in rows} == {
        ("EXECUTING", "w", None)
    }


def test_an_in_list_comes_in_a_few_sizes_so_its_statements_stay_cached() -> None:
    """sqlite3 keeps prepared statements by their text: a claim of any number of runs uses an
    ``IN`` list padded to a power of two (the last id repeated), so a worker claiming 1 to 50
    runs at a time prepares 7 texts of each statement, not 50."""
    assert _sqlite._in_list(["a"]) == ("?", ["a"])
    assert _sqlite._in_list(["a", "b", "c"]) == ("?,?,?,?", ["a", "b", "c", "c"])
    sizes = {_sqlite._in_list([str(i) for i in range(n)])[0].count("?") for n in range(1, 51)}
    assert sizes == {1, 2, 4, 8, 16, 32, 64}
