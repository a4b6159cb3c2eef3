"""Migration 0003 (waits for events, canceled events, ``io.store`` items) and the store methods
behind ``io.wait_for_event``, ``cancel_event`` and ``io.store``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from runio._event_filter import matches
from runio._records import Event, NewRun, NewTask
from runio.errors import StoreError
from runio.storage import Store, create_store
from runio.storage._rows import migrations

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


def _dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[Store]:
    opened = create_store(backend_url)
    await opened.upgrade()
    yield opened
    await opened.close()


async def test_upgrading_a_version_2_database_keeps_its_events_and_runs(backend_url: str) -> None:
    opened = create_store(backend_url)
    try:
        await opened.execute_raw(
            "CREATE TABLE runio_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at DOUBLE PRECISION NOT NULL)"
        )
        for version, name, sql in migrations(_dialect(backend_url))[:2]:
            lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
            for statement in "\n".join(lines).split(";"):
                if statement.strip():
                    await opened.execute_raw(statement)
            await opened.execute_raw(
                "INSERT INTO runio_migrations (version, name, applied_at) VALUES (?, ?, 0)",
                (version, name),
            )
        assert await opened.schema_version() == 2
        await opened.execute_raw(
            "INSERT INTO events (app_id, id, name, payload, timestamp, deliver_at) "
            "VALUES ('app', 'evt_1', 'order.placed', '{\"n\": 1}', ?, ?)",
            (NOW, NOW + 60),
        )
        await opened.execute_raw(
            "INSERT INTO runs (id, app_id, job_id, job_version, event_id, status, created_at, "
            "ready_at) VALUES ('run_1', 'app', 'j', '1', 'evt_1', 'QUEUED', ?, ?)",
            (NOW, NOW + 60),
        )
        assert await opened.upgrade() == [
            "0003_events_waits_store.sql",
            "0004_flow_control.sql",
            "0005_tasks_one_btree.sql",
            "0006_claims_by_status.sql",
        ]
        again = await opened.get_event("app", "evt_1")
        assert again is not None
        assert (again.payload, again.deliver_at, again.canceled_at, again.run_ids) == (
            {"n": 1},
            NOW + 60,
            None,
            ["run_1"],
        )
    finally:
        await opened.close()


async def test_cancel_event_says_why_it_did_not(store: Store) -> None:
    delayed = Event("evt_later", "app", "x", {}, NOW, NOW + 60)
    now_event = Event("evt_now", "app", "x", {}, NOW, None)
    await store.create_events(
        [(delayed, [NewRun("run_a", "j", "1", NOW + 60)]), (now_event, [])], NOW
    )
    assert await store.cancel_event("app", "nope", now=NOW) == (None, "missing")
    assert (await store.cancel_event("app", "evt_now", now=NOW))[1] == "delivered"
    assert (await store.cancel_event("other-app", "evt_later", now=NOW))[1] == "missing"
    event, outcome = await store.cancel_event("app", "evt_later", now=NOW + 1)
    assert outcome == "canceled" and event is not None and event.canceled_at == NOW + 1
    assert (await store.cancel_event("app", "evt_later", now=NOW + 2))[1] == "canceled_before"
    run = await store.get_run("run_a", with_tasks=False)
    assert run is not None and (run.status, run.ended_at) == ("CANCELED", NOW + 1)


async def test_create_events_stores_all_or_nothing(store: Store) -> None:
    first = Event("evt_a", "app", "x", {}, NOW, None)
    clash = Event("evt_b", "app", "x", {}, NOW, None)
    with pytest.raises(StoreError):  # the database refuses the second run with the same id
        await store.create_events(
            [
                (first, [NewRun("run_same", "j", "1", NOW)]),
                (clash, [NewRun("run_same", "j", "1", NOW)]),
            ],
            NOW,
        )
    assert await store.get_event("app", "evt_a") is None
    assert await store.get_run("run_same") is None


async def test_items_are_kept_per_app_scope_and_owner(store: Store) -> None:
    await store.set_item("app", "job", "j1", "k", '{"v": 1}', now=NOW)
    await store.set_item("app", "job", "j1", "k", '{"v": 2}', now=NOW)
    await store.set_item("app", "job", "j2", "k", "3", now=NOW)
    await store.set_item("other", "job", "j1", "k", "4", now=NOW)
    assert await store.get_item("app", "job", "j1", "k") == '{"v": 2}'
    assert await store.get_item("app", "job", "j2", "k") == "3"
    assert await store.get_item("other", "job", "j1", "k") == "4"
    assert await store.get_item("app", "run", "j1", "k") is None
    assert await store.delete_item("app", "job", "j1", "k") is True
    assert await store.delete_item("app", "job", "j1", "k") is False
    assert await store.get_item("app", "job", "j1", "k") is None
    assert await store.get_item("app", "job", "j2", "k") == "3"


FILTER_CASES = [
    ({"plan": ["pro"]}, {"plan": "pro"}, True),
    ({"plan": ["pro"]}, {"plan": "free"}, False),
    ({"plan": ["pro", "team"]}, {"plan": "team", "seats": 3}, True),
    ({"n": [1]}, {"n": True}, False),  # true is not 1
    ({"flag": [True]}, {"flag": True}, True),
    ({"n": [1.0]}, {"n": 1}, True),
    ({"user": {"country": ["NZ"]}}, {"user": {"country": "NZ", "age": 3}}, True),
    ({"user": {"country": ["NZ"]}}, {"user": "NZ"}, False),
    ({"gone": [None]}, {}, False),
    ({"v": [None]}, {"v": None}, True),
    ({"a": [1], "b": [2]}, {"a": 1, "b": 3}, False),
    ({"tags": [["x", "y"]]}, {"tags": ["x", "y"]}, True),
    ({"plan": ["pro"]}, ["pro"], False),
    (None, {"anything": 1}, True),
]


async def test_events_resume_exactly_the_waits_whose_filter_they_match(store: Store) -> None:
    """Both stores match as ``runio.event_trigger`` filters do (PostgreSQL does it in SQL)."""
    await store.create_event(
        Event("evt_start", "app", "start", {}, NOW, None), [NewRun("run_w", "j", "1", NOW)], NOW
    )
    [claimed] = await store.claim_runs(
        app_id="app", job_ids=["j"], worker_id="w", limit=1, now=NOW, lease_seconds=60
    )
    for i, (spec, _, _) in enumerate(FILTER_CASES):
        task = NewTask(
            f"task_{i:02}",
            "run_w",
            None,
            f"key{i}",
            json.dumps(f"w{i}"),
            "event_wait",
            f"w{i}",
            None,
            None,
            None,
            None,
            None,
            1,
            NOW,
        )
        await store.record_event_wait(
            claimed.lease,
            new_task=task,
            task_id=task.id,
            name=f"case{i}",
            filter=None if spec is None else json.dumps(spec),
            began_at=NOW,
            timeout_at=NOW + 3600,
        )
    for i, (_, payload, _) in enumerate(FILTER_CASES):
        await store.create_event(
            Event(f"evt_{i}", "app", f"case{i}", payload, NOW + 1, None), [], NOW + 1
        )
    rows = dict(
        await store.execute_raw("SELECT task_id, event_id FROM event_waits WHERE run_id = 'run_w'")
    )
    got = [rows[f"task_{i:02}"] is not None for i in range(len(FILTER_CASES))]
    assert got == [expected for _, _, expected in FILTER_CASES]
    assert [spec is None or matches(spec, payload) for spec, payload, _ in FILTER_CASES] == got
    suspended = await store.execute_raw("SELECT wake_at FROM tasks WHERE id = 'task_00'")
    assert suspended == [(NOW + 1,)]
