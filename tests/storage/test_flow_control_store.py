"""The store's side of flow control, on SQLite and PostgreSQL: a claim counts the runs executing
under a live lease per job (and concurrency key) and takes no more than the limit allows,
oldest created first; runs of versions the worker lacks are left alone; a run waiting for a slot
is not reported ready; and the computed keys (or the failures to compute one) are recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from runio._records import ClaimRule, Event, NewRun
from runio.storage import Store, create_store
from runio.storage._rows import schema_version_of

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
LEASE = 30.0


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[Store]:
    opened = create_store(backend_url)
    await opened.upgrade()
    yield opened
    await opened.close()


class Runs:
    """Runs created one event each, in order (their ids and creation times both ascend)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.n = 0

    async def add(
        self, job_id: str = "job", *, version: str = "1.0", payload: object = None
    ) -> str:
        self.n += 1
        run_id = f"run_{self.n:06d}"
        event = Event(f"evt_{self.n:06d}", "app", "go", payload or {"n": self.n}, NOW, None)
        await self.store.create_event(
            event, [NewRun(run_id, job_id, version, NOW)], NOW + self.n / 1000
        )
        return run_id


async def claim(
    store: Store,
    rules: dict[str, ClaimRule],
    *,
    worker: str = "w1",
    limit: int = 10,
    now: float = NOW + 1,
) -> list[str]:
    claimed = await store.claim_runs(
        app_id="app",
        job_ids=list(rules),
        worker_id=worker,
        limit=limit,
        now=now,
        lease_seconds=LEASE,
        rules=rules,
    )
    return [c.lease.run_id for c in claimed]


async def test_a_limited_job_runs_at_most_its_limit_oldest_first(store: Store) -> None:
    runs = Runs(store)
    made = [await runs.add() for _ in range(5)]
    rules = {"job": ClaimRule(concurrency_limit=2)}

    assert await claim(store, rules) == made[:2]
    assert await claim(store, rules, worker="w2") == []  # the two slots are taken

    first = await store.get_run(made[0])
    assert first is not None and first.status == "EXECUTING"
    claimed_again = await store.claim_runs(
        app_id="app",
        job_ids=["job"],
        worker_id="w1",
        limit=10,
        now=NOW + 1,
        lease_seconds=LEASE,
        rules=rules,
    )
    assert claimed_again == []


async def test_a_run_that_ends_frees_its_slot_for_the_next_in_line(store: Store) -> None:
    runs = Runs(store)
    made = [await runs.add() for _ in range(3)]
    rules = {"job": ClaimRule(concurrency_limit=1)}
    [held] = await store.claim_runs(
        app_id="app",
        job_ids=["job"],
        worker_id="w1",
        limit=5,
        now=NOW + 1,
        lease_seconds=LEASE,
        rules=rules,
    )
    assert held.lease.run_id == made[0]
    await store.finish_run(held.lease, status="COMPLETED", output="1", error=None, now=NOW + 2)
    assert await claim(store, rules, now=NOW + 2) == [made[1]]


async def test_a_suspended_run_holds_no_slot(store: Store) -> None:
    runs = Runs(store)
    made = [await runs.add() for _ in range(2)]
    rules = {"job": ClaimRule(concurrency_limit=1)}
    [held] = await store.claim_runs(
        app_id="app",
        job_ids=["job"],
        worker_id="w1",
        limit=5,
        now=NOW + 1,
        lease_seconds=LEASE,
        rules=rules,
    )
    await store.suspend_run(held.lease, ready_at=NOW + 10, now=NOW + 1)
    assert await claim(store, rules, now=NOW + 2) == [made[1]]
    # Woken while the other holds the slot, it waits for it.
    assert await claim(store, rules, now=NOW + 11) == []
    run = await store.get_run(made[0])
    assert run is not None and run.status == "WAITING"


async def test_an_expired_lease_frees_the_slot(store: Store) -> None:
    runs = Runs(store)
    made = [await runs.add() for _ in range(2)]
    rules = {"job": ClaimRule(concurrency_limit=1)}
    assert await claim(store, rules, worker="dead") == [made[0]]
    assert await claim(store, rules, now=NOW + LEASE) == []
    # The dead worker's lease ran out: its run (the oldest) takes the slot again, alone.
    assert await claim(store, rules, worker="w2", now=NOW + LEASE + 2) == [made[0]]
    run = await store.get_run(made[0])
    assert run is not None and run.lease_owner == "w2"


async def test_the_limit_applies_per_concurrency_key(store: Store) -> None:
    runs = Runs(store)
    a1, a2, b1, a3, c1 = [await runs.add() for _ in range(5)]
    await store.set_concurrency_keys(
        keys={a1: "acme", a2: "acme", b1: "bolt", a3: "acme", c1: "corp"}, failures={}, now=NOW
    )
    rules = {"job": ClaimRule(concurrency_limit=1, keyed=True)}
    assert await claim(store, rules) == [a1, b1, c1]
    assert await claim(store, rules) == []
    run = await store.get_run(a2)
    assert run is not None and run.status == "QUEUED" and run.concurrency_key == "acme"


async def test_runs_of_a_keyed_job_wait_for_their_key(store: Store) -> None:
    runs = Runs(store)
    first = await runs.add(payload={"customer": "acme"})
    second = await runs.add(payload={"customer": "bolt"})
    rules = {"job": ClaimRule(concurrency_limit=1, keyed=True)}
    assert await claim(store, rules) == []  # no key computed yet: not claimed unlimited

    pending = await store.runs_without_concurrency_key(app_id="app", job_ids=["job"], limit=10)
    assert pending == [(first, "job", {"customer": "acme"}), (second, "job", {"customer": "bolt"})]
    error = json.dumps({"type": "ConcurrencyKeyError", "message": "bad key"})
    await store.set_concurrency_keys(keys={first: "acme"}, failures={second: error}, now=NOW + 1)

    assert await store.runs_without_concurrency_key(app_id="app", job_ids=["job"], limit=10) == []
    failed = await store.get_run(second)
    assert failed is not None and failed.status == "FAILED"
    assert failed.error == {"type": "ConcurrencyKeyError", "message": "bad key"}
    assert await claim(store, rules) == [first]


async def test_a_key_once_recorded_is_not_replaced(store: Store) -> None:
    runs = Runs(store)
    run_id = await runs.add()
    await store.set_concurrency_keys(keys={run_id: "first"}, failures={}, now=NOW)
    await store.set_concurrency_keys(keys={run_id: "second"}, failures={}, now=NOW)
    run = await store.get_run(run_id)
    assert run is not None and run.concurrency_key == "first"


async def test_only_runs_of_the_workers_versions_are_claimed(store: Store) -> None:
    runs = Runs(store)
    old = await runs.add(version="1.0")
    new = await runs.add(version="2.0")
    other = await runs.add("other", version="9.9")
    rules = {"job": ClaimRule(versions=("2.0",)), "other": ClaimRule()}
    assert sorted(await claim(store, rules)) == sorted([new, other])
    assert await claim(store, {"job": ClaimRule(versions=("2.0", "1.0"))}) == [old]


async def test_versions_and_limits_together(store: Store) -> None:
    runs = Runs(store)
    old = await runs.add(version="1.0")
    new = [await runs.add(version="2.0") for _ in range(2)]
    v2 = {"job": ClaimRule(versions=("2.0",), concurrency_limit=1)}
    assert await claim(store, v2) == [new[0]]
    # A worker of 1.0 counts the run of 2.0 executing: the limit is the job's, not a version's.
    assert await claim(store, {"job": ClaimRule(versions=("1.0",), concurrency_limit=1)}) == []
    run = await store.get_run(old)
    assert run is not None and run.status == "QUEUED"


async def test_a_run_waiting_for_a_slot_is_not_reported_ready(store: Store) -> None:
    runs = Runs(store)
    await runs.add()
    await runs.add()
    rules = {"job": ClaimRule(concurrency_limit=1)}
    await claim(store, rules)
    # The other run is ready but blocked: the next moment anything may change is the lease's end.
    got = await store.next_ready_at(app_id="app", job_ids=["job"], rules=rules, now=NOW + 1)
    assert got == pytest.approx(NOW + 1 + LEASE)
    # Without the rules the blocked run counts as ready (what a plain worker would claim).
    assert await store.next_ready_at(app_id="app", job_ids=["job"]) == pytest.approx(NOW)


async def test_claims_racing_on_many_connections_never_exceed_the_limit(
    backend_url: str,
) -> None:
    stores = [create_store(backend_url) for _ in range(4)]
    try:
        await stores[0].upgrade()
        runs = Runs(stores[0])
        made = [await runs.add() for _ in range(12)]
        rules = {"job": ClaimRule(concurrency_limit=3)}
        results = await asyncio.gather(
            *(claim(s, rules, worker=f"w{i}") for i, s in enumerate(stores))
        )
        taken = [run_id for got in results for run_id in got]
        assert sorted(taken) == made[:3]
    finally:
        for s in stores:
            await s.close()


def test_the_schema_version_stops_before_the_first_missing_migration() -> None:
    # 0004 shipped before 0003: a database with 1, 2 and 4 applied is at 4 while 3 is unknown...
    assert schema_version_of({1, 2, 4}, [1, 2, 4]) == 4
    # ...and at 2 once 3 ships, so the upgrade runs and applies 3.
    assert schema_version_of({1, 2, 4}, [1, 2, 3, 4]) == 2
    assert schema_version_of(set(), [1, 2]) == 0
    # Newer than anything known: reported as such, so runio refuses it.
    assert schema_version_of({1, 2, 9}, [1, 2, 3]) == 9


async def test_an_upgraded_database_is_at_the_newest_known_version(store: Store) -> None:
    assert await store.schema_version() == store.newest_known_version()
    assert await store.upgrade() == []


async def test_a_run_executing_without_a_key_gets_one_and_is_claimed_after_its_lease(
    store: Store,
) -> None:
    # Started by a worker whose code had no key function, which then died.
    runs = Runs(store)
    run_id = await runs.add(payload={"customer": "acme"})
    assert await claim(store, {"job": ClaimRule()}, worker="old") == [run_id]

    pending = await store.runs_without_concurrency_key(app_id="app", job_ids=["job"], limit=10)
    assert [p[0] for p in pending] == [run_id]
    await store.set_concurrency_keys(keys={run_id: "acme"}, failures={}, now=NOW + 2)
    keyed = {"job": ClaimRule(concurrency_limit=1, keyed=True)}
    assert await claim(store, keyed, worker="new", now=NOW + 2) == []  # its lease holds
    assert await claim(store, keyed, worker="new", now=NOW + LEASE + 2) == [run_id]


async def test_a_woken_run_goes_ahead_of_runs_created_after_it(store: Store) -> None:
    runs = Runs(store)
    first = await runs.add()
    second = await runs.add()
    rules = {"job": ClaimRule(concurrency_limit=1)}
    [held] = await store.claim_runs(
        app_id="app",
        job_ids=["job"],
        worker_id="w1",
        limit=5,
        now=NOW + 1,
        lease_seconds=LEASE,
        rules=rules,
    )
    assert held.lease.run_id == first
    await store.suspend_run(held.lease, ready_at=NOW + 10, now=NOW + 1)  # first waits
    [running] = await store.claim_runs(
        app_id="app",
        job_ids=["job"],
        worker_id="w1",
        limit=5,
        now=NOW + 2,
        lease_seconds=LEASE,
        rules=rules,
    )
    assert running.lease.run_id == second
    third = await runs.add()
    await store.finish_run(running.lease, status="COMPLETED", output="2", error=None, now=NOW + 11)
    # The slot is free, and both the woken first run and the newer third one are ready.
    assert await claim(store, rules, now=NOW + 11) == [first]
    assert third not in await claim(store, rules, now=NOW + 12)
