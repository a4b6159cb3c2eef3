"""What only the PostgreSQL store has: URLs, SKIP LOCKED claims, LISTEN/NOTIFY wake-ups, and
surviving a server that stops or restarts. The shared contract is in test_store_contract.py."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pg_server import PostgresServer
from test_store_contract import NOW, add_runs, claim, complete, new_task

import runio
from runio._run_rules import cancel_run, retry_run
from runio.errors import ConfigurationError, StoreError
from runio.storage import Store, create_store

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[Store]:
    opened = create_store(postgres_url)
    await opened.upgrade()
    yield opened
    await opened.close()


class Wakes:
    """A ``wake`` callback that counts calls, which a test can await from its own loop."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()

    def __call__(self) -> None:  # on the store's thread
        with self._lock:
            self.count += 1
        self._loop.call_soon_threadsafe(self._changed.set)

    async def reach(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while self.count < count:
                self._changed.clear()
                if self.count >= count:
                    break
                await self._changed.wait()


# -- URLs and the driver -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("postgresql://u@localhost/db?pool_max_size=0", "pool_max_size"),
        ("postgresql://u@localhost/db?pool_min_size=5&pool_max_size=2", "pool_min_size"),
        ("postgresql://u@localhost/db?pool_timeout=soon", "not a number"),
        ("postgresql://u@localhost/db?no_such_option=1", "no_such_option"),
        ("postgresql://u@localhost/d%zzb", "postgresql://user:password@host"),
    ],
)
def test_a_bad_postgresql_url_is_a_configuration_error(url: str, hint: str) -> None:
    with pytest.raises(ConfigurationError, match=hint):
        create_store(url)


async def test_the_password_never_shows_in_the_store_url_or_its_errors() -> None:
    with pytest.raises(ConfigurationError) as error:
        create_store("postgresql://u:hunter2@localhost/d%zzb")
    assert "hunter2" not in str(error.value)
    opened = create_store("postgres://runio:hunter2@127.0.0.1:1/jobs?password=hunter2")
    try:
        assert "hunter2" not in opened.url
        assert opened.url.startswith("postgres")
        with pytest.raises(StoreError) as failed:  # nothing listens on port 1
            await opened.list_runs()
        assert "hunter2" not in str(failed.value)
        assert "Cannot connect to PostgreSQL" in str(failed.value)
    finally:
        await opened.close()


def test_without_the_driver_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "runio.storage._postgres", raising=False)
    monkeypatch.delitem(sys.modules, "runio.storage._pg_transport", raising=False)
    with pytest.raises(ConfigurationError, match=r'pip install "runio\[postgres\]"'):
        create_store("postgresql://localhost/runio")


async def test_pool_sizes_bound_the_connections_and_queue_the_rest(postgres_url: str) -> None:
    small = create_store(postgres_url + "?pool_min_size=0&pool_max_size=2")
    try:
        await small.upgrade()
        (run_id,) = await add_runs(small)
        runs = await asyncio.gather(*(small.get_run(run_id) for _ in range(30)))
        assert all(r is not None and r.id == run_id for r in runs)
        rows = await small.execute_raw(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'runio'"
        )
        assert rows[0][0] <= 2
    finally:
        await small.close()


# -- claims: FOR UPDATE SKIP LOCKED ----------------------------------------------------------------


async def test_a_claim_skips_a_run_another_transaction_holds_instead_of_waiting(
    store: Store, postgres_url: str
) -> None:
    import psycopg

    held, free = await add_runs(store, count=2)
    async with await psycopg.AsyncConnection.connect(postgres_url) as other:
        # Another worker's claim (or cancel) is in the middle of its transaction on `held`.
        await other.execute("SELECT 1 FROM runs WHERE id = %s FOR UPDATE", (held,))
        async with asyncio.timeout(5):  # waiting for the lock would hang here
            claimed = await claim(store, "w")
        assert [c.lease.run_id for c in claimed] == [free]
        await other.rollback()
    (later,) = await claim(store, "w")
    assert later.lease.run_id == held


async def test_a_stale_write_racing_a_takeover_sees_the_takeover(
    store: Store, postgres_url: str
) -> None:
    """Fencing is decided under the run row's lock: a write that waited for a takeover in
    progress is checked against the state after it, not the one it started from."""
    import psycopg

    (run_id,) = await add_runs(store)
    (claimed,) = await claim(store, "old")
    task = new_task(run_id, "step")
    store.start_attempt(claimed.lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.heartbeat([claimed.lease], now=NOW, lease_seconds=30)
    async with await psycopg.AsyncConnection.connect(postgres_url) as other:
        await other.execute(
            "UPDATE runs SET lease_token = lease_token + 1, lease_owner = 'new' WHERE id = %s",
            (run_id,),
        )
        late = asyncio.create_task(
            store.complete_task(
                claimed.lease,
                task_id=task.id,
                attempt=1,
                output="1",
                output_properties=None,
                now=NOW,
            )
        )
        done, _ = await asyncio.wait([late], timeout=0.2)
        assert not done, "the write must wait for the takeover's row lock"
        await other.commit()
    with pytest.raises(runio.errors.LeaseLostError):
        await late
    state = await store.load_run_state(run_id)
    assert [(t.status, t.output) for t in state.tasks] == [("RUNNING", None)]
    assert state.outputs == {}


# -- LISTEN/NOTIFY -----------------------------------------------------------------------------


async def test_a_watcher_is_woken_by_new_runs_of_its_app_only(
    store: Store, postgres_url: str
) -> None:
    mine, others = Wakes(), Wakes()
    watch_mine = await store.watch("app", mine)
    watch_others = await store.watch("other-app", others)
    sender = create_store(postgres_url)
    try:
        await add_runs(sender, app_id="other-app")
        await others.reach(1)
        await add_runs(sender, app_id="app")
        await mine.reach(1)
        # Notifications arrive in commit order: had the other app's woken us, we'd be at 2.
        assert (mine.count, others.count) == (1, 1)
        assert await listening(sender) == 1, "one LISTEN connection serves every watcher"
        await watch_mine.close()
        assert await listening(sender) == 1
        await watch_others.close()
        await watch_others.close()  # closing twice is harmless

        async def gone() -> bool:
            return await listening(sender) == 0

        await _until_async(gone)  # the last watcher closed: so is the connection
    finally:
        await watch_mine.close()
        await watch_others.close()
        await sender.close()


async def listening(store: Store) -> int:
    rows = await store.execute_raw(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'LISTEN%'"
    )
    return int(rows[0][0])


async def test_retries_replays_releases_and_suspends_wake_watchers(
    store: Store, postgres_url: str
) -> None:
    wakes = Wakes()
    watch = await store.watch("app", wakes)
    sender = create_store(postgres_url)
    try:
        (run_id,) = await add_runs(sender)
        await wakes.reach(1)
        (claimed,) = await claim(sender)
        await sender.release_run(claimed.lease, now=NOW)  # a worker stopping gives it back
        await wakes.reach(2)
        (claimed,) = await claim(sender)
        assert await sender.suspend_run(claimed.lease, ready_at=NOW + 60, now=NOW)
        await wakes.reach(3)  # a wake time other workers may want to sleep until
        await cancel_run(sender, run_id, now=NOW)
        await retry_run(sender, run_id, now=NOW)
        await wakes.reach(4)
        await sender.replay_run(run_id, new_run_id="run_replayed", now=NOW)
        await wakes.reach(5)
    finally:
        await watch.close()
        await sender.close()


async def test_an_idle_worker_starts_a_run_sent_from_elsewhere_without_polling(
    postgres_url: str,
) -> None:
    """The sender is another client (another process, say): only NOTIFY can tell the worker,
    which would otherwise look again only after its hour-long poll interval."""
    worker_client = runio.Client("wake-app", database_url=postgres_url)
    sender = runio.Client("wake-app", database_url=postgres_url)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def quick(payload: dict[str, int], io: runio.IO) -> int:
        loop.call_soon_threadsafe(done.set)
        return payload["n"]

    for client in (worker_client, sender):
        client.define_job(id="quick", trigger=runio.event_trigger("go"))(quick)
    worker = worker_client.worker(poll_interval=3600.0)
    running = asyncio.create_task(worker.run())
    try:
        await _until(lambda: bool(worker_client._workers), timeout=60)  # up and listening
        await sender.send_event_async("go", {"n": 1})
        async with asyncio.timeout(30):
            await done.wait()
    finally:
        worker.stop()
        try:
            await running
        finally:
            await asyncio.to_thread(worker_client.close)
            await asyncio.to_thread(sender.close)


# -- the server going away -----------------------------------------------------------------------


async def test_a_store_reconnects_after_the_server_restarts(
    store: Store, postgres_server: PostgresServer
) -> None:
    wakes = Wakes()
    watch = await store.watch("app", wakes)
    try:
        (before,) = await add_runs(store)
        await wakes.reach(1)
        await asyncio.to_thread(postgres_server.restart)
        # Reads get a fresh connection; the listener reconnects and wakes its watchers, as
        # notifications sent while it was away are lost.
        run = await store.get_run(before)
        assert run is not None and run.status == "QUEUED"
        await wakes.reach(2)
        (lease,) = [c.lease for c in await claim(store)]
        assert await complete(store, lease, "after-restart", "1") == "EXECUTING"
        seen = wakes.count
        await add_runs(store)
        await wakes.reach(seen + 1)
    finally:
        await watch.close()


async def test_a_write_while_the_server_is_down_fails_with_a_store_error(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    opened = create_store(postgres_url + "?pool_timeout=1")
    try:
        await opened.upgrade()
        (run_id,) = await add_runs(opened)
        (claimed,) = await claim(opened)
        await asyncio.to_thread(postgres_server.stop, "immediate")
        with pytest.raises(StoreError) as error:
            await complete(opened, claimed.lease, "lost", "1")
        assert "runio reconnects by itself" in str(error.value)
        await asyncio.to_thread(postgres_server.start)
        # The execution stopped; the run resumes from what is stored once its lease expires.
        (again,) = await claim(opened, "other", now=NOW + 31)
        assert again.lease.run_id == run_id
        state = await opened.load_run_state(run_id)
        assert (state.tasks, state.outputs) == ([], {})
        assert await complete(opened, again.lease, "lost", "1") == "EXECUTING"
    finally:
        await opened.close()


async def test_a_read_while_the_server_restarts_waits_for_it(
    postgres_url: str, postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    opened = create_store(postgres_url + "?pool_timeout=0.5")
    try:
        await opened.upgrade()
        (run_id,) = await add_runs(opened)
        await asyncio.to_thread(postgres_server.stop)
        caplog.set_level(logging.WARNING, logger="runio.storage.postgres")
        reading = asyncio.create_task(opened.get_run(run_id))

        def retried() -> bool:
            return any("retrying" in r.getMessage() for r in caplog.records)

        await _until(retried)  # the read failed once and is trying again
        await asyncio.to_thread(postgres_server.start)
        run = await asyncio.wait_for(reading, 30)
        assert run is not None and run.id == run_id
    finally:
        await opened.close()


async def _until_async(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll another process's state (the server's list of sessions)."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll state that another thread changes and that offers nothing to await."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_sqlite_has_no_wake_ups_and_its_watch_does_nothing() -> None:
    opened = create_store("sqlite://:memory:")
    try:
        watch = await opened.watch("app", lambda: None)
        await watch.close()
    finally:
        await opened.close()
