"""The storage conformance suite: every ``Store`` method's contract, on SQLite and PostgreSQL.

Each test takes ``backend_url`` (a fresh database of each backend in turn) and talks to the
store directly, the way the engine, worker, client and CLI do. What only one backend has (SQLite
file settings, PostgreSQL's SKIP LOCKED and LISTEN/NOTIFY) is tested beside its store.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Sequence
from importlib import resources

import pytest
from click.testing import CliRunner

import runio
from runio._records import (
    CancelDecision,
    ClaimedRun,
    Event,
    JobRecord,
    Lease,
    LogEntry,
    NewRun,
    NewTask,
    StoredTask,
)
from runio._run_rules import cancel_run, decide_cancel, decide_retry, retry_run
from runio.cli import cli
from runio.errors import (
    InvalidRunStateError,
    LeaseLostError,
    MigrationError,
    RunNotFoundError,
    StoreError,
)
from runio.storage import Store, create_store
from runio.storage import _postgres as postgres_store
from runio.storage import _sqlite as sqlite_store
from runio.storage._base import RESUMPTION_HEAD_START_S
from runio.storage._deferred import HOLD_STARTS
from runio.storage._rows import migrations

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[Store]:
    opened = create_store(backend_url)
    await opened.upgrade()
    yield opened
    await opened.close()


class Ids:
    """Unique ids that sort in the order they were made, as runio's own do."""

    def __init__(self) -> None:
        self.n = 0
        self.tasks: dict[tuple[str, str], str] = {}

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:08d}"

    def task(self, run_id: str, key: str) -> str:
        """The same id each time a test names the task of a run by its key."""
        if (run_id, key) not in self.tasks:
            self.tasks[(run_id, key)] = f"{self('task')}_{key}"
        return self.tasks[(run_id, key)]


ids = Ids()


async def add_runs(
    store: Store,
    *,
    app_id: str = "app",
    job_id: str = "job",
    count: int = 1,
    ready_at: float | Sequence[float] = NOW,
    event_id: str | None = None,
    payload: object = None,
) -> list[str]:
    """Store one event that creates ``count`` runs of ``job_id``; return the run ids."""
    event_id = event_id or ids("evt")
    times = [ready_at] * count if isinstance(ready_at, int | float) else list(ready_at)
    event = Event(event_id, app_id, "go", payload or {"event": event_id}, NOW, None)
    runs = [NewRun(ids("run"), job_id, "1.0", t) for t in times]
    stored, created = await store.create_event(event, runs, NOW)
    assert created
    return stored.run_ids


async def claim(
    store: Store,
    worker_id: str = "w",
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


async def claim_one(store: Store, **options: object) -> Lease:
    (run_id,) = await add_runs(store)
    (claimed,) = await claim(store, **options)  # type: ignore[arg-type]
    assert claimed.lease.run_id == run_id
    return claimed.lease


def new_task(
    run_id: str,
    key: str,
    *,
    kind: str = "task",
    parent_id: str | None = None,
    depth: int = 1,
    name: str | None = None,
    created_at: float = NOW,
) -> NewTask:
    return NewTask(
        id=ids.task(run_id, key),
        run_id=run_id,
        parent_id=parent_id,
        idempotency_key=f"idem_{key}",
        cache_key=f'"{key}"',
        kind=kind,
        name=name or key,
        icon="user",
        properties='[{"label": "User", "text": "u_1"}]',
        params='{"p": 1}',
        style=None,
        redact='["secret"]',
        depth=depth,
        created_at=created_at,
    )


async def complete(store: Store, lease: Lease, key: str, output: str, now: float = NOW) -> str:
    """A task's first attempt, start to end, as the engine writes it."""
    task = new_task(lease.run_id, key)
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=now)
    return await store.complete_task(
        lease, task_id=task.id, attempt=1, output=output, output_properties=None, now=now + 1
    )


async def snapshot(store: Store, run_id: str) -> tuple[object, ...]:
    """Everything stored about a run, to show that a rejected write changed nothing."""
    run = await store.execute_raw(
        "SELECT status, output, error, ended_at, lease_owner, lease_token, lease_expires, "
        "ready_at FROM runs WHERE id=?",
        (run_id,),
    )
    tasks = await store.execute_raw(
        "SELECT id, status, output, error, attempts, retry_at, ended_at FROM tasks "
        "WHERE run_id=? ORDER BY id",
        (run_id,),
    )
    attempts = await store.execute_raw(
        "SELECT a.task_id, a.number, a.status, a.ended_at, a.error FROM attempts a "
        "JOIN tasks t ON t.id = a.task_id WHERE t.run_id=? ORDER BY 1, 2",
        (run_id,),
    )
    logs = await store.execute_raw("SELECT COUNT(*) FROM logs WHERE run_id=?", (run_id,))
    return (run, tasks, attempts, logs)


# -- migrations and schema -----------------------------------------------------------------------


def _migration_files(dialect: str) -> list[str]:
    folder = resources.files("runio.storage.migrations") / dialect
    return sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))


def _dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_each_dialect_ships_migrations_numbered_from_one(dialect: str) -> None:
    names = _migration_files(dialect)
    assert names
    for name in names:
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", name), name
    numbers = [int(n[:4]) for n in names]
    # Numbers are handed out as migrations are written, so one may ship before an earlier one
    # (a gap); each number is used once, and the upgrade applies whatever is missing.
    assert numbers[0] == 1 and numbers == sorted(set(numbers))


def test_both_dialects_are_at_the_same_schema_version() -> None:
    assert _migration_files("sqlite") == _migration_files("postgresql")


async def test_upgrade_applies_each_migration_once(backend_url: str) -> None:
    files = _migration_files(_dialect(backend_url))
    newest = int(files[-1][:4])
    opened = create_store(backend_url)
    try:
        assert await opened.schema_version() == 0
        assert opened.newest_known_version() == newest
        assert await opened.upgrade() == files
        assert await opened.schema_version() == newest
        assert await opened.upgrade() == []
        rows = await opened.execute_raw("SELECT version, name FROM runio_migrations ORDER BY 1")
        assert [r[1] for r in rows] == files
    finally:
        await opened.close()
    reopened = create_store(backend_url)
    try:
        assert await reopened.upgrade() == []
        assert await reopened.schema_version() == newest
    finally:
        await reopened.close()


async def test_upgrading_a_version_4_database_keeps_its_tasks_and_their_order(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 5 drops the tasks table's second index (SQLite rebuilds the table for it): every
    row comes through with every column, in order, and the run resumes from them."""
    dialect = _dialect(backend_url)
    module = sqlite_store if dialect == "sqlite" else postgres_store
    opened = create_store(backend_url)
    try:
        with monkeypatch.context() as patch:  # a runio that knows migrations 1 to 4
            patch.setattr(module, "_migrations", lambda: migrations(dialect)[:4])
            await opened.upgrade()
            assert await opened.schema_version() == 4
        await opened.execute_raw(
            "INSERT INTO events (app_id, id, name, payload, timestamp) "
            "VALUES ('app', 'evt_1', 'go', '{}', ?)",
            (NOW,),
        )
        await opened.execute_raw(
            "INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, created_at, "
            "ready_at) VALUES ('run_1', 'app', 'j', '1', 'evt_1', 'QUEUED', ?, ?)",
            (NOW, NOW),
        )
        columns = (
            "run_id, id, parent_id, idempotency_key, cache_key, kind, name, icon, properties, "
            "params, style, redact, status, output, output_properties, error, attempts, "
            "attempt_base, retry_at, wake_at, depth, created_at, started_at, ended_at, "
            "description, display_key"
        )
        rows = [
            ("task_2", None, "k2", '"b"', "COMPLETED", '{"n": 2}', 1, "Second", "shown-b"),
            ("task_1", None, "k1", '"a"', "COMPLETED", '"one"', 1, None, None),
            ("task_3", "task_2", "k3", '"c"', "RUNNING", None, 2, None, None),
        ]
        for task_id, parent, key, cache_key, status, output, attempts, desc, shown in rows:
            await opened.execute_raw(
                f"INSERT INTO tasks ({columns}) VALUES "
                "('run_1',?,?,?,?,'task',?,'user','[]','{\"p\": 1}',NULL,NULL,?,?,"
                "NULL,NULL,?,0,NULL,NULL,?,?,?,?,?,?)",
                (
                    task_id,
                    parent,
                    key,
                    cache_key,
                    cache_key.strip('"'),
                    status,
                    output,
                    attempts,
                    2 if parent else 1,
                    NOW,
                    NOW + 1,
                    NOW + 2 if status == "COMPLETED" else None,
                    desc,
                    shown,
                ),
            )
        await opened.execute_raw(
            "INSERT INTO attempts (task_id, number, status, started_at, ended_at, error) "
            "VALUES ('task_3', 1, 'ERRORED', ?, ?, '{\"type\": \"X\"}'), "
            "('task_3', 2, 'STARTED', ?, NULL, NULL)",
            (NOW + 1, NOW + 2, NOW + 3),
        )

        every_column = "SELECT * FROM tasks ORDER BY run_id, id"
        before = await opened.execute_raw(every_column)

        assert await opened.upgrade() == ["0005_tasks_one_btree.sql", "0006_claims_by_status.sql"]

        assert await opened.execute_raw(every_column) == before
        # The index is gone: a second row with a stored key is the engine's to prevent now.
        await opened.execute_raw(
            f"INSERT INTO tasks ({columns}) SELECT run_id, 'task_4', parent_id, "
            "idempotency_key, cache_key, kind, name, icon, properties, params, style, redact, "
            "status, output, output_properties, error, attempts, attempt_base, retry_at, "
            "wake_at, depth, created_at, started_at, ended_at, description, display_key "
            "FROM tasks WHERE id = 'task_1'"
        )
        await opened.execute_raw("DELETE FROM tasks WHERE id = 'task_4'")

        run = await opened.get_run("run_1")
        assert run is not None
        assert [(t.id, t.status, t.output) for t in run.tasks] == [
            ("task_1", "COMPLETED", "one"),
            ("task_2", "COMPLETED", {"n": 2}),
        ]
        second = run.tasks[1]
        assert (second.description, second.display_key, second.params) == (
            "Second",
            "shown-b",
            {"p": 1},
        )
        (third,) = second.children
        assert [(a.number, a.status) for a in third.attempts] == [(1, "ERRORED"), (2, "STARTED")]
        state = await opened.load_run_state("run_1")
        assert state.outputs == {"k1": '"one"', "k2": '{"n": 2}'}
        assert [(t.id, t.idempotency_key, t.attempts) for t in state.tasks] == [("task_3", "k3", 2)]
    finally:
        await opened.close()


async def test_two_stores_upgrading_one_new_database_at_once_apply_it_once(
    backend_url: str,
) -> None:
    first, second = create_store(backend_url), create_store(backend_url)
    try:
        applied = await asyncio.gather(first.upgrade(), second.upgrade())
        assert sorted(applied, key=len) == [[], _migration_files(_dialect(backend_url))]
    finally:
        await first.close()
        await second.close()


async def test_a_database_newer_than_this_runio_is_refused(backend_url: str) -> None:
    opened = create_store(backend_url)
    try:
        await opened.upgrade()
        await opened.execute_raw(
            "INSERT INTO runio_migrations (version, name, applied_at) VALUES (9999, 'x.sql', 0)"
        )
        with pytest.raises(MigrationError, match="newer") as error:
            await opened.upgrade()
        assert "9999" in str(error.value) and "Upgrade runio" in str(error.value)
        assert await opened.schema_version() == 9999
    finally:
        await opened.close()
    for auto_migrate in (True, False):
        client = runio.Client("app", database_url=backend_url, auto_migrate=auto_migrate)
        try:
            with pytest.raises(MigrationError, match="9999"):
                await client.list_runs_async()
        finally:
            client.close()


async def test_without_auto_migrate_an_empty_database_asks_for_db_upgrade(
    backend_url: str,
) -> None:
    client = runio.Client("app", database_url=backend_url, auto_migrate=False)
    try:
        with pytest.raises(MigrationError, match="runio db upgrade"):
            await client.list_runs_async()
    finally:
        client.close()


async def test_using_a_database_without_the_schema_says_to_run_db_upgrade(
    backend_url: str,
) -> None:
    opened = create_store(backend_url)
    try:
        with pytest.raises(StoreError, match="runio db upgrade"):
            await opened.get_run("run_x")
    finally:
        await opened.close()


def test_runio_db_upgrade_migrates_then_reports_up_to_date(backend_url: str) -> None:
    url = backend_url
    if url.startswith("postgresql://postgres@"):
        # The test server trusts local connections, so a password is accepted and ignored:
        # it must never be printed.
        url = url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
    runner = CliRunner()
    first = runner.invoke(cli, ["--database-url", url, "db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "applied 0001_initial.sql" in first.output
    second = runner.invoke(cli, ["--database-url", url, "db", "upgrade"])
    assert second.exit_code == 0, second.output
    assert "already up to date" in second.output
    assert "s3cret-pw" not in first.output + second.output


async def test_a_closed_store_refuses_work_with_a_store_error(backend_url: str) -> None:
    opened = create_store(backend_url)
    await opened.upgrade()
    await opened.close()
    await opened.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        await opened.schema_version()


def test_a_store_serves_callers_on_several_event_loops(backend_url: str) -> None:
    """The client's sync bridge and a worker each have their own loop; both use one store."""
    opened = create_store(backend_url)
    asyncio.run(opened.upgrade())
    (run_id,) = asyncio.run(add_runs(opened))
    found: list[object] = []

    def other_thread() -> None:
        found.append(asyncio.run(opened.get_run(run_id)))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    (claimed,) = asyncio.run(claim(opened))
    asyncio.run(opened.close())
    run = found[0]
    assert isinstance(run, runio.Run) and run.id == run_id
    assert claimed.lease.run_id == run_id


async def test_execute_raw_takes_question_mark_placeholders(store: Store) -> None:
    (run_id,) = await add_runs(store)
    rows = await store.execute_raw(
        "SELECT id, status FROM runs WHERE id = ? AND status <> '?' AND job_id LIKE 'j%'",
        (run_id,),
    )
    assert rows == [(run_id, "QUEUED")]
    assert await store.execute_raw("UPDATE runs SET job_version = '2.0' WHERE id = 'none'") == []


# -- jobs and events -----------------------------------------------------------------------------


async def test_register_jobs_inserts_then_updates_and_lists_by_app(store: Store) -> None:
    trigger = {"schema": {"type": "object"}, "filter": {"plan": ["pro"]}}
    await store.register_jobs(
        [
            JobRecord("app", "b-job", "1.0", "B", "b.event", trigger),
            JobRecord("app", "a-job", "1.0", "A", "a.event"),
            JobRecord("other", "a-job", "1.0", "Other A", "a.event"),
        ],
        NOW,
    )
    await store.register_jobs([JobRecord("app", "a-job", "2.0", "A two", "a2.event")], NOW + 1)
    assert await store.list_jobs("app") == [
        JobRecord("app", "a-job", "2.0", "A two", "a2.event", None),
        JobRecord("app", "b-job", "1.0", "B", "b.event", trigger),
    ]
    assert [(j.app_id, j.job_id) for j in await store.list_jobs()] == [
        ("app", "a-job"),
        ("app", "b-job"),
        ("other", "a-job"),
    ]
    await store.register_jobs([], NOW)


async def test_an_event_and_its_runs_are_stored_together(store: Store) -> None:
    payload = {"name": "Zoë 📧", "n": 1.5, "items": [1, None, True], "nested": {"a": "b"}}
    event = Event("evt_x", "app", "user.created", payload, NOW, NOW + 60)
    runs = [NewRun("run_a", "job", "1.0", NOW + 60), NewRun("run_b", "other-job", "2.0", NOW)]
    stored, created = await store.create_event(event, runs, NOW)
    assert created and stored.run_ids == ["run_a", "run_b"]
    run = await store.get_run("run_a")
    assert run is not None
    assert (run.app_id, run.job_id, run.job_version, run.event_id) == ("app", "job", "1.0", "evt_x")
    assert (run.event_name, run.payload, run.status) == ("user.created", payload, "QUEUED")
    assert (run.created_at, run.ready_at, run.started_at, run.ended_at) == (
        NOW,
        NOW + 60,
        None,
        None,
    )
    assert (run.execution_count, run.is_retry, run.replay_of, run.lease_owner) == (
        0,
        False,
        None,
        None,
    )
    assert run.tasks == [] and run.logs == []
    # An event that starts no run is stored all the same.
    _, created = await store.create_event(Event("evt_y", "app", "y", {}, NOW, None), [], NOW)
    assert created


async def test_creating_an_event_twice_creates_its_runs_once(store: Store) -> None:
    event = Event("evt_once", "app", "go", {}, NOW, None)
    stored, created = await store.create_event(event, [NewRun("run_once", "job", "1", NOW)], NOW)
    again, created_again = await store.create_event(
        Event("evt_once", "app", "go", {"other": True}, NOW + 5, None),
        [NewRun("run_twice", "job", "1", NOW)],
        NOW + 5,
    )
    assert (created, created_again) == (True, False)
    assert again.run_ids == stored.run_ids == ["run_once"]
    assert (again.payload, again.timestamp) == ({}, NOW)
    assert await store.get_run("run_twice") is None


async def test_two_stores_creating_one_event_at_once_create_it_once(
    store: Store, backend_url: str
) -> None:
    others = [create_store(backend_url) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(
                s.create_event(
                    Event("evt_race", "app", "go", {"i": i}, NOW, None),
                    [NewRun(f"run_race_{i}", "job", "1", NOW)],
                    NOW,
                )
                for i, s in enumerate(others)
            )
        )
    finally:
        for s in others:
            await s.close()
    assert sorted(created for _, created in results) == [False, False, True]
    winners = {tuple(event.run_ids) for event, _ in results}
    assert len(winners) == 1
    (run_ids,) = winners
    assert len(run_ids) == 1
    runs = await store.execute_raw("SELECT id FROM runs WHERE event_id = ?", ("evt_race",))
    assert [r[0] for r in runs] == list(run_ids)


async def test_the_same_event_id_in_two_apps_is_two_events(store: Store) -> None:
    (a,) = await add_runs(store, app_id="app", event_id="evt_shared")
    (b,) = await add_runs(store, app_id="other-app", event_id="evt_shared")
    assert a != b
    assert [c.lease.run_id for c in await claim(store, app_id="other-app")] == [b]


# -- claims ----------------------------------------------------------------------------------------


async def test_a_claim_hands_over_the_run_its_event_and_a_lease(store: Store) -> None:
    (run_id,) = await add_runs(store, event_id="evt_c", payload={"user": "u_1"})
    (claimed,) = await claim(store, "worker-1", lease_seconds=10)
    assert claimed.lease == Lease(run_id, "worker-1", 1)
    assert (claimed.app_id, claimed.job_id, claimed.job_version) == ("app", "job", "1.0")
    assert (claimed.status_before, claimed.execution_count, claimed.is_retry) == (
        "QUEUED",
        1,
        False,
    )
    assert (claimed.created_at, claimed.started_at) == (NOW, NOW)
    assert claimed.event == Event("evt_c", "app", "go", {"user": "u_1"}, NOW, None)
    run = await store.get_run(run_id)
    assert run is not None
    assert (run.status, run.lease_owner, run.ready_at, run.started_at) == (
        "EXECUTING",
        "worker-1",
        None,
        NOW,
    )
    rows = await store.execute_raw("SELECT lease_expires FROM runs WHERE id=?", (run_id,))
    assert rows == [(NOW + 10,)]


async def test_a_claimed_run_is_not_claimed_again_until_its_lease_expires(store: Store) -> None:
    (run_id,) = await add_runs(store)
    (first,) = await claim(store, "a", lease_seconds=10)
    assert await claim(store, "b", now=NOW + 9.9) == []
    (second,) = await claim(store, "b", now=NOW + 10.1)
    assert second.lease.run_id == run_id
    assert second.lease.token == first.lease.token + 1
    assert (second.status_before, second.execution_count) == ("EXECUTING", 2)
    assert second.started_at == NOW, "the first execution's start is kept"


async def test_claims_take_ready_runs_in_claim_time_order_up_to_the_limit(store: Store) -> None:
    late, early, middle = await add_runs(store, count=3, ready_at=[NOW - 1, NOW - 3, NOW - 2])
    (expired,) = await add_runs(store, ready_at=NOW - 100)
    (stale,) = await claim(store, "gone", limit=1, lease_seconds=1, now=NOW - 100)
    assert stale.lease.run_id == expired  # its lease expires at NOW - 99: older than the rest
    got = await claim(store, "w", limit=3)
    assert [c.lease.run_id for c in got] == [expired, early, middle]
    assert [c.lease.run_id for c in await claim(store, "w", limit=3)] == [late]
    assert await claim(store, "w", limit=0) == []


async def test_claims_put_runs_that_started_before_new_ones_by_a_head_start(
    store: Store,
) -> None:
    head = RESUMPTION_HEAD_START_S
    (waking,) = await add_runs(store, ready_at=NOW - 100)
    (first,) = await claim(store, "w", now=NOW - 100)
    assert await store.suspend_run(first.lease, ready_at=NOW - 1, now=NOW - 99)
    (crashed,) = await add_runs(store, ready_at=NOW - 100)
    (lost,) = await claim(store, "gone", now=NOW - 100, lease_seconds=98)  # expires at NOW - 2
    assert lost.lease.run_id == crashed
    long_queued, recent = await add_runs(store, count=2, ready_at=[NOW - head - 5, NOW - 3])

    # Claim times: long_queued NOW - 5, crashed NOW - 2, waking NOW - 1, recent NOW + head - 3.
    got = await claim(store, "w", limit=2)
    assert [c.lease.run_id for c in got] == [long_queued, crashed]
    got = await claim(store, "w", limit=2)
    assert [(c.lease.run_id, c.status_before) for c in got] == [
        (waking, "WAITING"),
        (recent, "QUEUED"),
    ]


async def test_a_run_delivered_later_is_claimed_only_when_due(store: Store) -> None:
    (run_id,) = await add_runs(store, ready_at=NOW + 60)
    assert await store.next_ready_at(app_id="app", job_ids=["job"]) == NOW + 60
    assert await claim(store, now=NOW + 59) == []
    (claimed,) = await claim(store, now=NOW + 60)
    assert claimed.lease.run_id == run_id


async def test_next_ready_at_counts_waiting_runs_and_expiring_leases(store: Store) -> None:
    assert await store.next_ready_at(app_id="app", job_ids=["job"]) is None
    await claim_one(store, lease_seconds=30)
    assert await store.next_ready_at(app_id="app", job_ids=["job"]) == NOW + 30
    await add_runs(store, ready_at=NOW + 20)
    assert await store.next_ready_at(app_id="app", job_ids=["job"]) == NOW + 20
    assert await store.next_ready_at(app_id="app", job_ids=[]) is None
    assert await store.next_ready_at(app_id="app", job_ids=["other"]) is None


async def test_runs_of_other_apps_and_unlisted_jobs_are_never_claimed(store: Store) -> None:
    (mine,) = await add_runs(store, app_id="app", job_id="job")
    await add_runs(store, app_id="app", job_id="other-job")
    await add_runs(store, app_id="other-app", job_id="job")
    for c in await claim(store, "x", app_id="other-app", lease_seconds=1):
        assert c.app_id == "other-app"
    for c in await claim(store, "x", app_id="app", job_ids=["other-job"], lease_seconds=1):
        assert c.job_id == "other-job"
    later = NOW + 3600  # ...not even once their leases have expired
    claimed = await claim(store, "w", app_id="app", job_ids=["job"], now=later)
    assert [(c.lease.run_id, c.app_id, c.job_id) for c in claimed] == [(mine, "app", "job")]
    assert await claim(store, "w", app_id="app", job_ids=["job"], now=later) == []
    assert await claim(store, "w", app_id="app", job_ids=[], now=later) == []


async def test_two_stores_claiming_at_once_never_take_the_same_run(
    store: Store, backend_url: str
) -> None:
    run_ids = await add_runs(store, count=60)
    first, second = create_store(backend_url), create_store(backend_url)

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


# -- heartbeats and release ------------------------------------------------------------------------


async def test_heartbeat_extends_a_held_lease(store: Store) -> None:
    lease = await claim_one(store, lease_seconds=10)
    assert await store.heartbeat([lease], now=NOW + 8, lease_seconds=10) == {}
    rows = await store.execute_raw("SELECT lease_expires FROM runs WHERE id=?", (lease.run_id,))
    assert rows == [(NOW + 18,)]
    assert await claim(store, "other", now=NOW + 15) == []
    assert await store.heartbeat([], now=NOW, lease_seconds=10) == {}


async def test_heartbeat_reports_a_canceled_run(store: Store) -> None:
    lease = await claim_one(store)
    await cancel_run(store, lease.run_id, now=NOW + 1)
    assert await store.heartbeat([lease], now=NOW + 2, lease_seconds=30) == {
        lease.run_id: "canceled"
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


async def test_a_released_run_is_ready_for_another_worker_at_once(store: Store) -> None:
    lease = await claim_one(store, worker_id="a", lease_seconds=300)
    (queued,) = await add_runs(store, ready_at=NOW)  # ready before the release, never started
    await store.release_run(lease, now=NOW + 1)
    run = await store.get_run(lease.run_id)
    assert run is not None
    # Having started, it keeps its place before runs that never did.
    assert (run.status, run.lease_owner, run.ready_at) == (
        "QUEUED",
        None,
        NOW + 1 - RESUMPTION_HEAD_START_S,
    )
    (again,) = await claim(store, "b", now=NOW + 1, limit=1)
    assert again.lease.run_id == lease.run_id
    assert again.execution_count == 2
    assert [c.lease.run_id for c in await claim(store, "b", now=NOW + 1)] == [queued]


# -- one execution ---------------------------------------------------------------------------------


async def test_a_task_started_and_completed_in_one_go_is_stored_whole(store: Store) -> None:
    lease = await claim_one(store)
    assert await complete(store, lease, "fetch", '{"ok": true}') == "EXECUTING"
    run = await store.get_run(lease.run_id)
    assert run is not None
    (task,) = run.tasks
    assert (task.cache_key, task.status, task.output, task.error) == (
        "fetch",
        "COMPLETED",
        {"ok": True},
        None,
    )
    assert (task.name, task.icon, task.kind, task.depth) == ("fetch", "user", "task", 1)
    assert task.properties == [{"label": "User", "text": "u_1"}]
    assert (task.params, task.redact) == ({"p": 1}, ["secret"])
    assert (task.started_at, task.ended_at, task.created_at) == (NOW, NOW + 1, NOW)
    assert [(a.number, a.status, a.started_at, a.ended_at) for a in task.attempts] == [
        (1, "COMPLETED", NOW, NOW + 1)
    ]
    state = await store.load_run_state(lease.run_id)
    # A replay needs a completed task's output only: it comes keyed by idempotency key.
    assert (state.outputs, state.tasks, state.log_marks) == ({"idem_fetch": '{"ok": true}'}, [], {})


async def test_the_run_state_holds_completed_outputs_apart_from_tasks_still_going(
    store: Store,
) -> None:
    lease = await claim_one(store)
    await complete(store, lease, "done", "1")
    nap = new_task(lease.run_id, "nap", kind="wait")
    store.record_wait(lease, new_task=nap, wake_at=NOW)
    store.complete_wait(lease, task_id=nap.id, now=NOW)  # a completed task with no output
    flaky = new_task(lease.run_id, "flaky")
    store.start_attempt(lease, new_task=flaky, task_id=flaky.id, attempt=1, now=NOW)
    await store.fail_attempt(
        lease, task_id=flaky.id, attempt=1, error='{"type": "X"}', retry_at=NOW + 5, now=NOW + 1
    )
    child = new_task(lease.run_id, "child", parent_id=flaky.id, depth=2)
    store.start_attempt(lease, new_task=child, task_id=child.id, attempt=1, now=NOW + 2)
    await store.flush()

    state = await store.load_run_state(lease.run_id)

    assert state.outputs == {"idem_done": "1", "idem_nap": None}
    by_key = {t.idempotency_key: t for t in state.tasks}
    assert set(by_key) == {"idem_flaky", "idem_child"}, "each task in one place only"
    assert by_key["idem_flaky"] == StoredTask(
        flaky.id, None, "idem_flaky", "task", "WAITING", None, '{"type": "X"}', 1, 0, NOW + 5,
        None, NOW,
    )  # fmt: skip
    assert by_key["idem_child"] == StoredTask(
        child.id, flaky.id, "idem_child", "task", "RUNNING", None, None, 1, 0, None, None, NOW + 2
    )


async def test_the_run_state_holds_every_open_task_however_many(store: Store) -> None:
    lease = await claim_one(store)
    opened = [new_task(lease.run_id, f"open-{i}") for i in range(5)]
    for task in opened:
        store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    for i in range(3):
        await complete(store, lease, f"done-{i}", str(i))

    state = await store.load_run_state(lease.run_id)

    assert state.outputs == {f"idem_done-{i}": str(i) for i in range(3)}
    assert sorted((t.id, t.status) for t in state.tasks) == sorted(
        (t.id, "RUNNING") for t in opened
    )


async def test_a_task_whose_start_was_written_first_is_completed_in_place(store: Store) -> None:
    lease = await claim_one(store)
    task = new_task(lease.run_id, "slow")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    # While the task's function runs, the start goes out on its own: held at most HOLD_STARTS
    # for the task's completion to withdraw it (a time bound, so the test waits past it).
    await asyncio.sleep(HOLD_STARTS * 2)
    await store.execute_raw("SELECT 1")  # comes after every write handed over
    run = await store.get_run(lease.run_id)
    assert run is not None
    (running,) = run.tasks
    assert running.status == "RUNNING"
    assert [(a.number, a.status, a.started_at, a.ended_at) for a in running.attempts] == [
        (1, "STARTED", NOW, None)
    ]
    status = await store.complete_task(
        lease,
        task_id=task.id,
        attempt=1,
        output="42",
        output_properties='[{"label": "Rows", "text": "3"}]',
        now=NOW + 2,
    )
    assert status == "EXECUTING"
    run = await store.get_run(lease.run_id)
    assert run is not None
    (done,) = run.tasks
    assert (done.status, done.output, done.ended_at) == ("COMPLETED", 42, NOW + 2)
    assert done.output_properties == [{"label": "Rows", "text": "3"}]
    assert [(a.number, a.status) for a in done.attempts] == [(1, "COMPLETED")]


async def test_flush_commits_the_unawaited_writes_made_so_far(
    store: Store, backend_url: str
) -> None:
    """What an integration task without idempotency keys relies on: its attempt's start is
    stored before the vendor is called."""
    lease = await claim_one(store)
    task = new_task(lease.run_id, "vendor-call")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    store.add_logs(lease, [LogEntry(lease.run_id, "", 1, "info", "calling", None, NOW)])
    await store.flush()
    other = create_store(backend_url)  # another process's view
    try:
        run = await other.get_run(lease.run_id)
    finally:
        await other.close()
    assert run is not None
    assert [(a.number, a.status) for a in run.task("vendor-call").attempts] == [(1, "STARTED")]
    assert [g.message for g in run.logs] == ["calling"]
    await store.flush()  # with nothing to write, too


async def test_a_failed_attempt_waits_for_its_retry_then_completes(store: Store) -> None:
    lease = await claim_one(store)
    task = new_task(lease.run_id, "flaky")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    status = await store.fail_attempt(
        lease,
        task_id=task.id,
        attempt=1,
        error='{"type": "Boom", "message": "first"}',
        retry_at=NOW + 10,
        now=NOW + 1,
    )
    assert status == "EXECUTING"
    (stored,) = (await store.load_run_state(lease.run_id)).tasks
    assert (stored.status, stored.retry_at, stored.attempts) == ("WAITING", NOW + 10, 1)
    assert stored.error is not None and "first" in stored.error
    store.start_attempt(lease, new_task=None, task_id=task.id, attempt=2, now=NOW + 10)
    await store.complete_task(
        lease, task_id=task.id, attempt=2, output='"ok"', output_properties=None, now=NOW + 11
    )
    run = await store.get_run(lease.run_id)
    assert run is not None
    (done,) = run.tasks
    assert (done.status, done.output, done.error, done.retry_at) == ("COMPLETED", "ok", None, None)
    assert done.started_at == NOW, "a task's start is its first attempt's"
    first, second = done.attempts
    assert (first.number, first.status, first.ended_at) == (1, "ERRORED", NOW + 1)
    assert first.error == {"type": "Boom", "message": "first"}
    assert (second.number, second.status, second.started_at) == (2, "COMPLETED", NOW + 10)


async def test_a_failed_attempt_without_retry_fails_the_task(store: Store) -> None:
    lease = await claim_one(store)
    task = new_task(lease.run_id, "doomed")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.fail_attempt(
        lease,
        task_id=task.id,
        attempt=1,
        error='{"type": "NonRetryable", "message": "no"}',
        retry_at=None,
        now=NOW + 1,
    )
    run = await store.get_run(lease.run_id)
    assert run is not None
    (failed,) = run.tasks
    assert (failed.status, failed.ended_at, failed.retry_at) == ("ERRORED", NOW + 1, None)
    assert failed.error == {"type": "NonRetryable", "message": "no"}


async def test_an_attempt_a_crash_interrupted_is_closed_when_the_next_starts(
    store: Store,
) -> None:
    lease = await claim_one(store, lease_seconds=5)
    task = new_task(lease.run_id, "cut-short")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.heartbeat([lease], now=NOW, lease_seconds=5)  # sends the start
    (again,) = await claim(store, "second", now=NOW + 6)  # the first worker died
    state = await store.load_run_state(lease.run_id)
    assert [(t.status, t.attempts) for t in state.tasks] == [("RUNNING", 1)]
    assert state.outputs == {}
    store.start_attempt(again.lease, new_task=None, task_id=task.id, attempt=2, now=NOW + 7)
    await store.complete_task(
        again.lease, task_id=task.id, attempt=2, output="1", output_properties=None, now=NOW + 8
    )
    run = await store.get_run(lease.run_id)
    assert run is not None
    interrupted, retried = run.tasks[0].attempts
    assert (interrupted.number, interrupted.status) == (1, "ERRORED")
    assert (interrupted.started_at, interrupted.ended_at) == (NOW, NOW + 7)
    assert interrupted.error is not None and interrupted.error["type"] == "AttemptInterrupted"
    assert (retried.status, retried.number) == ("COMPLETED", 2)


async def test_a_wait_is_recorded_then_completed(store: Store) -> None:
    lease = await claim_one(store)
    wait = new_task(lease.run_id, "nap", kind="wait", name="Wait 1 h")
    store.record_wait(lease, new_task=wait, wake_at=NOW + 3600)  # not awaited
    await store.flush()
    (stored,) = (await store.load_run_state(lease.run_id)).tasks
    assert (stored.kind, stored.status, stored.wake_at, stored.attempts) == (
        "wait",
        "WAITING",
        NOW + 3600,
        0,
    )
    store.complete_wait(lease, task_id=wait.id, now=NOW + 3600)
    assert await store.suspend_run(lease, ready_at=NOW + 4000, now=NOW + 3600)
    run = await store.get_run(lease.run_id)
    assert run is not None
    (done,) = run.tasks
    assert (done.status, done.started_at, done.ended_at, done.wake_at) == (
        "COMPLETED",
        NOW,
        NOW + 3600,
        NOW + 3600,
    )
    assert done.attempts == []


async def test_log_lines_are_stored_once_with_their_marks(store: Store) -> None:
    lease = await claim_one(store)
    task = new_task(lease.run_id, "logging")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    lines = [
        LogEntry(lease.run_id, "", 1, "info", "hello", {"n": 1}, NOW),
        LogEntry(lease.run_id, "", 2, "warn", "nul \x00 inside", None, NOW + 1),
        LogEntry(lease.run_id, "idem_logging#1", 1, "debug", "in task", None, NOW + 2, task.id),
    ]
    store.add_logs(lease, lines[:2])
    store.add_logs(lease, lines)  # a replay logs the same lines again: they are ignored
    await store.complete_task(
        lease, task_id=task.id, attempt=1, output="null", output_properties=None, now=NOW + 3
    )
    run = await store.get_run(lease.run_id)
    assert run is not None
    assert [(g.scope, g.seq, g.level, g.data, g.task_id) for g in run.logs] == [
        ("", 1, "info", {"n": 1}, None),
        ("", 2, "warn", None, None),
        ("idem_logging#1", 1, "debug", None, task.id),
    ]
    assert run.logs[0].message == "hello"
    assert run.logs[1].message.startswith("nul ") and run.logs[1].message.endswith(" inside")
    marks = (await store.load_run_state(lease.run_id)).log_marks
    assert marks == {"": 2, "idem_logging#1": 1}


async def test_subtasks_come_back_as_a_tree_in_creation_order(store: Store) -> None:
    lease = await claim_one(store)
    parent = new_task(lease.run_id, "parent")
    child_b = new_task(lease.run_id, "b", parent_id=parent.id, depth=2, created_at=NOW + 1)
    child_a = new_task(lease.run_id, "a", parent_id=parent.id, depth=2, created_at=NOW + 2)
    grandchild = new_task(lease.run_id, "g", parent_id=child_a.id, depth=3, created_at=NOW + 3)
    store.start_attempt(lease, new_task=parent, task_id=parent.id, attempt=1, now=NOW)
    for t in (child_b, child_a, grandchild):
        store.start_attempt(lease, new_task=t, task_id=t.id, attempt=1, now=t.created_at)
    for t in (grandchild, child_a, child_b, parent):
        await store.complete_task(
            lease, task_id=t.id, attempt=1, output='"x"', output_properties=None, now=NOW + 9
        )
    run = await store.get_run(lease.run_id)
    assert run is not None
    (root,) = run.tasks
    assert root.cache_key == "parent"
    assert [c.cache_key for c in root.children] == ["b", "a"]
    assert [c.cache_key for c in root.children[1].children] == ["g"]
    assert run.task("parent", "a", "g").depth == 3
    assert [t.cache_key for t in run.all_tasks()] == ["parent", "b", "a", "g"]
    without = await store.get_run(lease.run_id, with_tasks=False)
    assert without is not None and without.tasks == [] and without.logs == []


async def test_writes_of_many_runs_at_once_are_all_stored(store: Store) -> None:
    """Concurrent runs share commits; each write still lands on its own run."""
    run_ids = await add_runs(store, count=40)
    leases = [c.lease for c in await claim(store, limit=40)]
    assert sorted(lease.run_id for lease in leases) == sorted(run_ids)

    async def one_run(lease: Lease) -> None:
        for n in range(3):
            await complete(store, lease, f"step-{n}", f'"{lease.run_id}-{n}"')
        assert await store.finish_run(
            lease, status="COMPLETED", output=f'"{lease.run_id}"', error=None, now=NOW + 5
        )

    await asyncio.gather(*(one_run(lease) for lease in leases))
    for run_id in run_ids:
        run = await store.get_run(run_id)
        assert run is not None
        assert (run.status, run.output) == ("COMPLETED", run_id)
        assert [t.output for t in run.tasks] == [f"{run_id}-{n}" for n in range(3)]


async def test_one_broken_write_does_not_take_its_neighbours_down(store: Store) -> None:
    await add_runs(store, count=2)
    first, second = [c.lease for c in await claim(store, limit=2)]
    clash = new_task(first.run_id, "clash")
    again = new_task(first.run_id, "clash-again")
    again.id = clash.id  # the database refuses the second
    store.record_wait(first, new_task=clash, wake_at=NOW + 60)
    store.record_wait(first, new_task=again, wake_at=NOW + 60)  # unawaited: fails unseen
    results = await asyncio.gather(
        store.suspend_run(first, ready_at=NOW + 60, now=NOW),  # refused for that failure
        complete(store, second, "fine", '"fine"'),
        return_exceptions=True,
    )
    assert isinstance(results[0], StoreError), results
    assert "An earlier write of run" in str(results[0])
    assert results[1] == "EXECUTING"
    run = await store.get_run(second.run_id)
    assert run is not None and run.task("fine").output == "fine"
    run = await store.get_run(first.run_id)
    assert run is not None and [t.status for t in run.tasks] == ["WAITING"]


# -- the end of an execution -----------------------------------------------------------------------


async def test_a_run_suspends_until_its_time_then_is_claimed_again(store: Store) -> None:
    lease = await claim_one(store)
    assert await store.suspend_run(lease, ready_at=NOW + 60, now=NOW + 1)
    run = await store.get_run(lease.run_id)
    assert run is not None
    assert (run.status, run.ready_at, run.lease_owner) == ("WAITING", NOW + 60, None)
    assert await claim(store, now=NOW + 59) == []
    (again,) = await claim(store, now=NOW + 60)
    assert (again.status_before, again.execution_count) == ("WAITING", 2)


async def test_finishing_a_run_records_its_end(store: Store) -> None:
    lease = await claim_one(store)
    await complete(store, lease, "only", "1")
    assert await store.finish_run(
        lease, status="COMPLETED", output='{"total": 1}', error=None, now=NOW + 5
    )
    run = await store.get_run(lease.run_id)
    assert run is not None
    assert (run.status, run.output, run.error, run.ended_at) == (
        "COMPLETED",
        {"total": 1},
        None,
        NOW + 5,
    )
    assert (run.ready_at, run.lease_owner) == (None, None)
    assert await claim(store, now=NOW + 3600) == []


@pytest.mark.parametrize("status", ["FAILED", "COMPLETED"])
async def test_a_run_that_ends_leaves_no_task_or_attempt_open(store: Store, status: str) -> None:
    lease = await claim_one(store)
    wait = new_task(lease.run_id, "nap", kind="wait")
    store.record_wait(lease, new_task=wait, wake_at=NOW + 60)
    retrying = new_task(lease.run_id, "retrying")
    store.start_attempt(lease, new_task=retrying, task_id=retrying.id, attempt=1, now=NOW)
    await store.fail_attempt(
        lease, task_id=retrying.id, attempt=1, error='{"type": "X"}', retry_at=NOW + 5, now=NOW
    )
    running = new_task(lease.run_id, "left-running")  # e.g. a parallel task the job abandoned
    store.start_attempt(lease, new_task=running, task_id=running.id, attempt=1, now=NOW)
    await complete(store, lease, "done", "1")
    error = '{"type": "ValueError", "message": "bad"}' if status == "FAILED" else None
    output = None if status == "FAILED" else "1"
    assert await store.finish_run(lease, status=status, output=output, error=error, now=NOW + 1)
    run = await store.get_run(lease.run_id)
    assert run is not None
    assert run.status == status
    assert [(t.cache_key, t.status, t.ended_at) for t in run.tasks] == [
        ("nap", "CANCELED", NOW + 1),
        ("retrying", "CANCELED", NOW + 1),
        ("left-running", "CANCELED", NOW + 1),
        ("done", "COMPLETED", NOW + 1),
    ]
    (cut,) = run.task("left-running").attempts
    assert (cut.status, cut.ended_at) == ("ERRORED", NOW + 1)
    assert cut.error is not None and cut.error["type"] == "AttemptInterrupted"
    assert [a.status for a in run.task("retrying").attempts] == ["ERRORED"]


async def test_a_run_canceled_while_executing_stays_canceled(store: Store) -> None:
    lease = await claim_one(store)
    canceled = await cancel_run(store, lease.run_id, now=NOW + 1)
    assert canceled.status == "CANCELED" and canceled.ended_at == NOW + 1
    assert await complete(store, lease, "after", "1") == "CANCELED"
    failing = new_task(lease.run_id, "failing")
    store.start_attempt(lease, new_task=failing, task_id=failing.id, attempt=1, now=NOW + 1)
    status = await store.fail_attempt(
        lease,
        task_id=failing.id,
        attempt=1,
        error="{}",
        retry_at=None,
        now=NOW + 2,
    )
    assert status == "CANCELED"
    assert not await store.suspend_run(lease, ready_at=NOW + 60, now=NOW + 2)
    assert not await store.finish_run(lease, status="COMPLETED", output="1", error=None, now=NOW)
    run = await store.get_run(lease.run_id)
    assert run is not None
    assert (run.status, run.output, run.ready_at, run.lease_owner) == (
        "CANCELED",
        None,
        None,
        None,
    )
    assert run.ended_at == NOW + 1


async def test_cancel_ends_running_tasks_only_of_a_run_no_worker_executes(store: Store) -> None:
    executing, waiting = await add_runs(store, count=2)
    leases = {c.lease.run_id: c.lease for c in await claim(store, limit=2)}
    for run_id, lease in leases.items():
        parent = new_task(run_id, "parent")
        store.start_attempt(lease, new_task=parent, task_id=parent.id, attempt=1, now=NOW)
    # The parent task's subtask waits: the run suspends with its parent task still running.
    assert await store.suspend_run(leases[waiting], ready_at=NOW + 60, now=NOW)
    for run_id in (executing, waiting):
        await cancel_run(store, run_id, now=NOW + 1)
    live = await store.get_run(executing)
    parked = await store.get_run(waiting)
    assert live is not None and parked is not None
    assert [(t.status, t.attempts[0].status) for t in live.tasks] == [("RUNNING", "STARTED")]
    assert [(t.status, t.attempts[0].status) for t in parked.tasks] == [("CANCELED", "ERRORED")]
    # The attempt that never reported back keeps its start, and says why it ended.
    ((ended,),) = [t.attempts for t in parked.tasks]
    assert (ended.number, ended.started_at, ended.ended_at) == (1, NOW, NOW + 1)
    assert ended.error is not None and ended.error["type"] == "AttemptInterrupted"
    # The worker executing the first run stops at its next task boundary and ends it.
    assert not await store.finish_run(
        leases[executing], status="COMPLETED", output="1", error=None, now=NOW + 2
    )
    live = await store.get_run(executing)
    assert live is not None
    assert [(t.status, t.attempts[0].status) for t in live.tasks] == [("CANCELED", "ERRORED")]
    ((ended,),) = [t.attempts for t in live.tasks]
    assert (ended.number, ended.started_at, ended.ended_at) == (1, NOW, NOW + 2)


# -- fencing: a worker whose lease expired -------------------------------------------------------


async def test_writes_made_under_an_expired_lease_are_rejected_and_change_nothing(
    store: Store, backend_url: str
) -> None:
    old_worker, new_worker = store, create_store(backend_url)
    try:
        (run_id,) = await add_runs(old_worker)
        (claimed,) = await claim(old_worker, "old", lease_seconds=30)
        old = claimed.lease
        task = new_task(run_id, "step")
        old_worker.start_attempt(old, new_task=task, task_id=task.id, attempt=1, now=NOW)
        assert await old_worker.heartbeat([old], now=NOW, lease_seconds=30) == {}

        later = NOW + 31  # the old worker stalled: no heartbeat for longer than its lease
        (reclaimed,) = await claim(new_worker, "new", now=later, lease_seconds=30)
        new = reclaimed.lease
        assert (reclaimed.status_before, reclaimed.execution_count) == ("EXECUTING", 2)
        assert new.run_id == run_id and new.token > old.token
        wait = new_task(run_id, "wait", kind="wait")
        new_worker.record_wait(new, new_task=wait, wake_at=later + 3600)
        await new_worker.flush()  # stored before the snapshot below
        before = await snapshot(new_worker, run_id)

        with pytest.raises(LeaseLostError) as lost:
            await old_worker.complete_task(
                old, task_id=task.id, attempt=1, output='"late"', output_properties=None, now=later
            )
        assert lost.value.run_id == run_id
        with pytest.raises(LeaseLostError):
            await old_worker.finish_run(
                old, status="COMPLETED", output='"late"', error=None, now=later
            )
        with pytest.raises(LeaseLostError):
            await old_worker.fail_attempt(
                old, task_id=task.id, attempt=1, error='{"type": "X"}', retry_at=None, now=later
            )
        with pytest.raises(LeaseLostError):
            await old_worker.suspend_run(old, ready_at=later + 60, now=later)
        with pytest.raises(LeaseLostError):  # a new task started and ended in one go
            await complete(old_worker, old, "stale-task", '"late"', now=later)
        # Unawaited writes are fenced too: they are applied in order, before the next write.
        old_worker.record_wait(
            old, new_task=new_task(run_id, "stale-wait", kind="wait"), wake_at=later
        )
        old_worker.start_attempt(old, new_task=None, task_id=task.id, attempt=2, now=later)
        old_worker.complete_wait(old, task_id=wait.id, now=later)
        old_worker.add_logs(old, [LogEntry(run_id, "", 1, "info", "late", None, later)])
        await old_worker.release_run(old, now=later)
        assert await old_worker.heartbeat([old], now=later, lease_seconds=30) == {run_id: "lost"}

        assert await snapshot(old_worker, run_id) == before
        run = await new_worker.get_run(run_id)
        assert run is not None
        assert (run.status, run.lease_owner, run.output) == ("EXECUTING", "new", None)

        # The worker that holds the lease now writes normally.
        new_worker.start_attempt(new, new_task=None, task_id=task.id, attempt=2, now=later)
        await new_worker.complete_task(
            new, task_id=task.id, attempt=2, output='"fresh"', output_properties=None, now=later
        )
        assert await new_worker.finish_run(
            new, status="COMPLETED", output='"done"', error=None, now=later
        )
        run = await new_worker.get_run(run_id)
        assert run is not None
        assert (run.status, run.output, run.task("step").output) == ("COMPLETED", "done", "fresh")
    finally:
        await new_worker.close()


async def test_a_lease_kept_alive_by_heartbeats_is_not_taken_over(store: Store) -> None:
    lease = await claim_one(store, worker_id="a", lease_seconds=10)
    now = NOW
    for _ in range(5):
        now += 8
        assert await store.heartbeat([lease], now=now, lease_seconds=10) == {}
        assert await claim(store, "b", now=now, lease_seconds=10) == []
    run = await store.get_run(lease.run_id)
    assert run is not None and run.lease_owner == "a"


# -- operations on runs ----------------------------------------------------------------------------


async def test_list_runs_filters_and_pages_newest_first(store: Store) -> None:
    events = []
    for i, (app_id, job_id) in enumerate(
        [("app", "job"), ("app", "other"), ("other-app", "job"), ("app", "job")]
    ):
        event = Event(ids("evt"), app_id, "go", {}, NOW, None)
        run_id = f"run_list_{i}"
        await store.create_event(event, [NewRun(run_id, job_id, "1", NOW)], NOW + i)
        events.append(run_id)
    await cancel_run(store, "run_list_3", now=NOW + 10)
    assert [r.id for r in await store.list_runs()] == events[::-1]
    assert [r.id for r in await store.list_runs(app_id="app")] == [
        "run_list_3",
        "run_list_1",
        "run_list_0",
    ]
    assert [r.id for r in await store.list_runs(app_id="app", job_id="job")] == [
        "run_list_3",
        "run_list_0",
    ]
    assert [r.id for r in await store.list_runs(status=["CANCELED"])] == ["run_list_3"]
    assert [r.id for r in await store.list_runs(status=["QUEUED", "CANCELED"], limit=2)] == [
        "run_list_3",
        "run_list_2",
    ]
    assert [r.id for r in await store.list_runs(before=NOW + 2)] == ["run_list_1", "run_list_0"]
    listed = (await store.list_runs(limit=1))[0]
    assert listed.tasks == [] and listed.payload == {}


async def test_unknown_runs_are_reported_as_not_found(store: Store) -> None:
    assert await store.get_run("run_nope") is None
    with pytest.raises(RunNotFoundError):
        await cancel_run(store, "run_nope", now=NOW)
    with pytest.raises(RunNotFoundError):
        await retry_run(store, "run_nope", now=NOW)
    with pytest.raises(RunNotFoundError):
        await store.replay_run("run_nope", new_run_id="run_new", now=NOW)


async def test_cancel_stops_a_waiting_run_and_its_waits(store: Store) -> None:
    lease = await claim_one(store)
    wait = new_task(lease.run_id, "nap", kind="wait")
    store.record_wait(lease, new_task=wait, wake_at=NOW + 60)
    await complete(store, lease, "done-before", "1")
    assert await store.suspend_run(lease, ready_at=NOW + 60, now=NOW)
    run = await cancel_run(store, lease.run_id, now=NOW + 1)
    assert (run.status, run.ended_at, run.ready_at) == ("CANCELED", NOW + 1, None)
    assert [(t.cache_key, t.status) for t in run.tasks] == [
        ("nap", "CANCELED"),
        ("done-before", "COMPLETED"),
    ]
    assert await claim(store, now=NOW + 3600) == []
    with pytest.raises(InvalidRunStateError) as error:
        await cancel_run(store, lease.run_id, now=NOW + 2)
    assert error.value.status == "CANCELED"


async def test_a_first_attempt_cut_short_keeps_its_record_through_cancel_and_retry(
    store: Store,
) -> None:
    """The worker died during a task's first attempt, the run was canceled while it was still
    executing (its running task is left for the worker to end), then retried: the attempt that
    never reported back is shown as interrupted, ahead of the one that completed."""
    lease = await claim_one(store)
    task = new_task(lease.run_id, "cut-short")
    store.start_attempt(lease, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.flush()
    canceled = await cancel_run(store, lease.run_id, now=NOW + 1)
    assert [(t.status, [a.status for a in t.attempts]) for t in canceled.tasks] == [
        ("RUNNING", ["STARTED"])
    ]
    retried = await retry_run(store, lease.run_id, now=NOW + 2)
    (reset,) = retried.tasks
    assert reset.status == "PENDING"
    assert [(a.number, a.status, a.started_at) for a in reset.attempts] == [(1, "STARTED", NOW)]
    assert reset.error is not None and reset.error["outcome_unknown"] is True
    (again,) = await claim(store, "second", now=NOW + 3)
    store.start_attempt(again.lease, new_task=None, task_id=task.id, attempt=2, now=NOW + 4)
    await store.complete_task(
        again.lease, task_id=task.id, attempt=2, output="1", output_properties=None, now=NOW + 5
    )
    run = await store.get_run(lease.run_id)
    assert run is not None
    first, second = run.tasks[0].attempts
    assert (first.number, first.status, first.started_at, first.ended_at) == (
        1,
        "ERRORED",
        NOW,
        NOW + 4,
    )
    assert first.error is not None and first.error["type"] == "AttemptInterrupted"
    assert (second.number, second.status) == (2, "COMPLETED")


async def test_retry_reattempts_errored_tasks_and_keeps_completed_ones(store: Store) -> None:
    lease = await claim_one(store)
    await complete(store, lease, "kept", '"kept"')
    broken = new_task(lease.run_id, "broken")
    store.start_attempt(lease, new_task=broken, task_id=broken.id, attempt=1, now=NOW)
    await store.fail_attempt(
        lease, task_id=broken.id, attempt=1, error='{"type": "X"}', retry_at=None, now=NOW + 1
    )
    wait = new_task(lease.run_id, "nap", kind="wait")
    store.record_wait(lease, new_task=wait, wake_at=NOW + 100)
    assert await store.finish_run(lease, status="FAILED", output=None, error="{}", now=NOW + 2)
    retried = await retry_run(store, lease.run_id, now=NOW + 3)
    assert (retried.status, retried.is_retry, retried.ready_at) == ("QUEUED", True, NOW + 3)
    assert (retried.error, retried.output, retried.ended_at, retried.started_at) == (
        None,
        None,
        None,
        None,
    )
    states = {t.cache_key: (t.status, t.error) for t in retried.tasks}
    assert states == {
        "kept": ("COMPLETED", None),
        "broken": ("PENDING", None),
        "nap": ("WAITING", None),
    }
    state = await store.load_run_state(lease.run_id)
    stored = {t.idempotency_key: t for t in state.tasks}
    assert (stored["idem_broken"].attempts, stored["idem_broken"].attempt_base) == (1, 1)
    assert state.outputs == {"idem_kept": '"kept"'}, "a retry replays what completed"
    assert set(stored) == {"idem_broken", "idem_nap"}
    (again,) = await claim(store, now=NOW + 3)
    assert (again.is_retry, again.status_before, again.execution_count) == (True, "QUEUED", 2)
    assert again.started_at == NOW + 3, "a retried run starts its clock anew"


async def test_only_failed_canceled_or_timed_out_runs_can_be_retried(store: Store) -> None:
    lease = await claim_one(store)
    with pytest.raises(InvalidRunStateError, match="replay"):
        await retry_run(store, lease.run_id, now=NOW)
    assert await store.finish_run(lease, status="COMPLETED", output="1", error=None, now=NOW)
    with pytest.raises(InvalidRunStateError) as error:
        await retry_run(store, lease.run_id, now=NOW)
    assert error.value.status == "COMPLETED"
    for status in ("CANCELED", "TIMED_OUT"):
        other = await claim_one(store)
        if status == "CANCELED":
            await cancel_run(store, other.run_id, now=NOW)
        else:
            await store.finish_run(other, status=status, output=None, error="{}", now=NOW)
        assert (await retry_run(store, other.run_id, now=NOW + 1)).status == "QUEUED"


async def test_replay_starts_a_new_run_of_the_same_event(store: Store) -> None:
    (run_id,) = await add_runs(store, event_id="evt_replayed", payload={"x": 1})
    (claimed,) = await claim(store)
    await complete(store, claimed.lease, "a", "1")
    await store.finish_run(claimed.lease, status="COMPLETED", output="1", error=None, now=NOW)
    replay = await store.replay_run(run_id, new_run_id="run_replay", now=NOW + 5)
    assert (replay.id, replay.status, replay.replay_of) == ("run_replay", "QUEUED", run_id)
    assert (replay.event_id, replay.payload, replay.tasks) == ("evt_replayed", {"x": 1}, [])
    assert (replay.created_at, replay.ready_at, replay.execution_count) == (NOW + 5, NOW + 5, 0)
    (fresh,) = await claim(store, now=NOW + 5)
    assert fresh.lease.run_id == "run_replay" and fresh.event.id == "evt_replayed"
    again, created = await store.create_event(
        Event("evt_replayed", "app", "go", {}, NOW, None), [], NOW
    )
    assert not created and again.run_ids == [run_id], "a replay is not one of the event's runs"


async def test_an_end_whose_start_was_lost_is_refused(store: Store) -> None:
    """If the unawaited "task started" write fails, the task's end must not be reported as
    stored (a later execution would run the task again while its result is unknown)."""
    (run_id,) = await add_runs(store)
    (lease,) = [c.lease for c in await claim(store)]
    await complete(store, lease, "x", "1")
    clash = new_task(run_id, "y")
    clash.id = new_task(run_id, "x").id  # the database refuses it
    store.start_attempt(lease, new_task=clash, task_id=clash.id, attempt=1, now=NOW)
    await asyncio.sleep(HOLD_STARTS * 2)  # the start goes out on its own, and fails
    await store.execute_raw("SELECT 1")  # ...once the writer got to it
    with pytest.raises(StoreError, match=f"An earlier write of run {run_id} failed"):
        await store.complete_task(
            lease, task_id=clash.id, attempt=1, output="2", output_properties=None, now=NOW
        )
    run = await store.get_run(run_id)
    assert run is not None and [(t.cache_key, t.output) for t in run.tasks] == [("x", 1)]
    # Every later write of that execution is refused too, up to its end...
    with pytest.raises(StoreError, match="An earlier write"):
        await store.finish_run(lease, status="COMPLETED", output="1", error=None, now=NOW)
    # ...while releasing the run goes through: a later execution resumes it.
    await store.release_run(lease, now=NOW)
    run = await store.get_run(run_id, with_tasks=False)
    assert run is not None and run.status == "QUEUED"
    (again,) = [c.lease for c in await claim(store)]
    assert await complete(store, again, "z", "3") == "EXECUTING"


async def test_a_write_that_assumes_a_row_fails_when_the_row_is_missing(store: Store) -> None:
    """The end of a task or attempt that is not stored is refused, never reported done."""
    (run_id,) = await add_runs(store)
    (lease,) = [c.lease for c in await claim(store)]
    with pytest.raises(StoreError, match=r"not stored|no stored start"):
        await store.complete_task(
            lease,
            task_id="task_never_started",
            attempt=1,
            output="1",
            output_properties=None,
            now=NOW,
        )
    with pytest.raises(StoreError, match=r"not stored|no stored start"):
        await store.fail_attempt(
            lease, task_id="task_never_started", attempt=1, error="{}", retry_at=None, now=NOW
        )
    run = await store.get_run(run_id)
    assert run is not None and run.tasks == []


async def test_a_cancel_or_retry_decided_for_another_status_writes_nothing(store: Store) -> None:
    """The engine decides from the run as it read it; the store records only if the run is
    still so (another worker or operator may have changed it meanwhile)."""
    (run_id,) = await add_runs(store)
    queued = await store.get_run(run_id)
    assert queued is not None and queued.status == "QUEUED"
    decision = decide_cancel(queued)
    (lease,) = [c.lease for c in await claim(store)]  # now EXECUTING
    assert await store.record_cancel(decision, now=NOW) is False
    run = await store.get_run(run_id, with_tasks=False)
    assert run is not None and run.status == "EXECUTING"

    await store.finish_run(lease, status="FAILED", output=None, error="{}", now=NOW)
    failed = await store.get_run(run_id)
    assert failed is not None
    retry = decide_retry(failed)
    await store.replay_run(run_id, new_run_id=ids("run"), now=NOW)  # changes nothing of it
    assert await store.record_retry(retry, now=NOW) is True
    assert await store.record_retry(retry, now=NOW) is False  # QUEUED now, not FAILED
    with pytest.raises(RunNotFoundError):
        await store.record_cancel(CancelDecision("run_nope", "QUEUED", ()), now=NOW)


async def test_clock_skew_between_workers_costs_an_early_takeover_never_a_result(
    store: Store,
) -> None:
    """A lease's expiry is written with the owner's clock and judged with the claimer's. A worker
    whose clock runs a minute ahead takes a 30 s lease over while its owner still works: the
    owner's later writes are refused (fencing by token, not by time), so the task may run twice
    but its result is stored once, by the worker that holds the run."""
    (run_id,) = await add_runs(store)
    (owner,) = [c.lease for c in await claim(store, "behind", now=NOW, lease_seconds=30)]
    task = new_task(run_id, "charge")
    store.start_attempt(owner, new_task=task, task_id=task.id, attempt=1, now=NOW)
    await store.flush()
    assert await claim(store, "on-time", now=NOW + 10) == []  # a clock in step waits

    (ahead,) = await claim(store, "ahead", now=NOW + 60)
    assert ahead.status_before == "EXECUTING" and ahead.lease.token > owner.token
    store.start_attempt(ahead.lease, new_task=None, task_id=task.id, attempt=2, now=NOW + 60)
    assert (
        await store.complete_task(
            ahead.lease,
            task_id=task.id,
            attempt=2,
            output='"ahead"',
            output_properties=None,
            now=NOW + 61,
        )
        == "EXECUTING"
    )
    with pytest.raises(LeaseLostError):  # the owner, behind, finishes its attempt late
        await store.complete_task(
            owner,
            task_id=task.id,
            attempt=1,
            output='"behind"',
            output_properties=None,
            now=NOW + 2,
        )
    assert await store.heartbeat([owner], now=NOW + 3, lease_seconds=30) == {run_id: "lost"}

    run = await store.get_run(run_id)
    assert run is not None
    (stored,) = run.tasks
    assert (stored.status, stored.output) == ("COMPLETED", "ahead")
    assert [(a.number, a.status) for a in stored.attempts] == [(1, "ERRORED"), (2, "COMPLETED")]
    assert stored.attempts[0].error is not None
    assert stored.attempts[0].error["type"] == "AttemptInterrupted"
