"""Flow control on both stores: ``define_job(concurrency_limit=, concurrency_key=)`` holds across
any number of workers (the store's claim decides), runs over the limit wait QUEUED and start
oldest first as slots free, a waiting run holds no slot, a dead worker's slot frees when its
lease runs out, a schedule with a limit of one never overlaps its runs, and a key function that
fails ends its run FAILED with the reason (no run lost).

The racing tests run several workers, each with its own client and database connections, on the
real clock with a short poll (they race for real); every other test drives the test clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

import runio
from runio._clock import SystemClock
from runio.errors import ConcurrencyKeyError, JobDefinitionError
from runio.testing import TestClock

MakeClient = Callable[..., runio.Client]


@dataclass
class Tracker:
    """What the job functions saw: which runs started, in which order, and how many of them
    (in all, and per key) were executing at once at most. Each run waits for its gate."""

    started: list[int] = field(default_factory=list)
    running: dict[int, str] = field(default_factory=dict)
    most: int = 0
    most_per_key: dict[str, int] = field(default_factory=dict)
    gates: dict[int, asyncio.Event] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def job(self, n: int, key: str = "") -> int:
        async with self.changed:
            self.started.append(n)
            self.running[n] = key
            self.most = max(self.most, len(self.running))
            same = sum(1 for k in self.running.values() if k == key)
            self.most_per_key[key] = max(self.most_per_key.get(key, 0), same)
            self.changed.notify_all()
        await self.gates.setdefault(n, asyncio.Event()).wait()
        async with self.changed:
            del self.running[n]
            self.changed.notify_all()
        return n

    async def until(self, check: Callable[[], bool]) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), 60)

    def release(self, n: int) -> None:
        self.gates.setdefault(n, asyncio.Event()).set()


class Order(BaseModel):
    n: int
    customer: str


@contextlib.asynccontextmanager
async def workers(clients: list[runio.Client]) -> AsyncIterator[None]:
    """One worker per client on this loop, polling every few milliseconds; stopped after."""
    running = [c.worker(poll_interval=0.005, grace_period=0) for c in clients]
    tasks = [asyncio.create_task(w.run()) for w in running]
    try:
        yield
    finally:
        for w in running:
            w.stop(force=True)
        await asyncio.gather(*tasks)


def _racing_app(make_client: MakeClient, tracker: Tracker, **flow: Any) -> runio.Client:
    client = make_client(clock=SystemClock())

    @client.define_job(id="orders", trigger=runio.event_trigger("order", schema=Order), **flow)
    async def orders(payload: Order, io: runio.IO) -> int:
        return await tracker.job(payload.n, payload.customer)

    return client


@pytest.mark.anyio
@pytest.mark.parametrize("worker_count", [2, 4])
async def test_workers_racing_never_exceed_the_limit_and_keep_the_order(
    make_client: MakeClient, worker_count: int
) -> None:
    tracker = Tracker()
    clients = [_racing_app(make_client, tracker, concurrency_limit=2) for _ in range(worker_count)]
    sent = [await clients[0].send_event_async("order", {"n": n, "customer": "c"}) for n in range(8)]
    async with workers(clients):
        for n in range(8):
            await tracker.until(lambda n=n: len(tracker.started) >= min(n + 2, 8))
            executing = await clients[0].list_runs_async(status="EXECUTING")
            assert len(executing) <= 2
            tracker.release(n)  # the oldest running run ends: the next in line starts
        await tracker.until(lambda: not tracker.running and len(tracker.started) == 8)

    assert tracker.most == 2, "the limit was exceeded" if tracker.most > 2 else "never 2 at once"
    # the two oldest are claimed first, together (both slots are free): either may reach its job
    # function first; from then on, each freed slot goes to the oldest waiting run
    assert sorted(tracker.started[:2]) == [0, 1], "the oldest two runs did not start first"
    assert tracker.started[2:] == list(range(2, 8)), "runs started out of the order they were sent"
    for event in sent:
        run = await clients[0].get_run_async(event.run_ids[0])
        assert run.status == "COMPLETED"


@pytest.mark.anyio
async def test_a_key_limits_each_customer_while_the_others_proceed(
    make_client: MakeClient,
) -> None:
    tracker = Tracker()
    clients = [
        _racing_app(
            make_client,
            tracker,
            concurrency_limit=1,
            concurrency_key=lambda order: order.customer,
        )
        for _ in range(2)
    ]
    customers = ["acme", "acme", "bolt", "acme", "corp"]
    runs = []
    for n, customer in enumerate(customers):
        event = await clients[0].send_event_async("order", {"n": n, "customer": customer})
        runs.append(event.run_ids[0])
    async with workers(clients):
        # One run per customer starts at once, acme's oldest among them.
        await tracker.until(lambda: set(tracker.running) == {0, 2, 4})
        waiting = await clients[0].list_runs_async(status="QUEUED")
        assert sorted(r.id for r in waiting) == sorted([runs[1], runs[3]])
        assert {r.concurrency_key for r in waiting} == {"acme"}
        tracker.release(2)  # bolt's ending frees no slot of acme's
        tracker.release(4)
        await tracker.until(lambda: set(tracker.running) == {0})
        tracker.release(0)
        await tracker.until(lambda: set(tracker.running) == {1})
        tracker.release(1)
        await tracker.until(lambda: set(tracker.running) == {3})
        tracker.release(3)
        await tracker.until(lambda: not tracker.running)

    assert tracker.most_per_key == {"acme": 1, "bolt": 1, "corp": 1}
    assert [n for n in tracker.started if customers[n] == "acme"] == [0, 1, 3]
    assert tracker.most == 3


def test_a_waiting_run_holds_no_slot(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(id="napper", trigger=runio.event_trigger("nap"), concurrency_limit=1)
    async def napper(payload: Any, io: runio.IO) -> str:
        await io.wait("nap", 60)
        return "rested"

    first = client.send_event("nap").run_ids[0]
    second = client.send_event("nap").run_ids[0]
    client.run_worker(until_idle=True)
    assert [client.get_run(r).status for r in (first, second)] == ["WAITING", "WAITING"]

    clock.advance(60)
    client.run_worker(until_idle=True)
    assert [client.get_run(r).status for r in (first, second)] == ["COMPLETED", "COMPLETED"]


def test_a_dead_workers_run_frees_its_slot_when_its_lease_runs_out(
    client: runio.Client, clock: TestClock
) -> None:
    done: list[str] = []

    @client.define_job(id="one-at-a-time", trigger=runio.event_trigger("go"), concurrency_limit=1)
    async def job(payload: Any, io: runio.IO) -> str:
        done.append(payload["name"])
        return payload["name"]

    first = client.send_event("go", {"name": "first"}).run_ids[0]
    second = client.send_event("go", {"name": "second"}).run_ids[0]
    # A worker claims the first run and dies: no heartbeat, no result.
    store = client.store
    rules = {"one-at-a-time": runio._records.ClaimRule(versions=("0.0.1",), concurrency_limit=1)}
    claimed = client._run_sync(
        store.claim_runs(
            app_id=client.id,
            job_ids=["one-at-a-time"],
            worker_id="dead",
            limit=10,
            now=clock.now(),
            lease_seconds=30,
            rules=rules,
        )
    )
    assert [c.lease.run_id for c in claimed] == [first]

    client.run_worker(until_idle=True)
    assert done == []  # the dead worker's lease still holds the only slot
    assert client.get_run(second).status == "QUEUED"

    clock.advance(31)
    client.run_worker(until_idle=True)
    assert done == ["first", "second"]
    assert [client.get_run(r).status for r in (first, second)] == ["COMPLETED", "COMPLETED"]


def test_a_schedule_with_a_limit_of_one_never_overlaps_its_runs(
    client: runio.Client, clock: TestClock
) -> None:
    seen: list[str] = []
    queued_meanwhile: list[int] = []
    ticks: list[float] = []

    @client.define_job(
        id="report",
        trigger=runio.interval_trigger(seconds=60, missed="catch_up", max_catch_up=10),
        concurrency_limit=1,
    )
    async def report(payload: runio.ScheduledTick, io: runio.IO) -> None:
        seen.append("start")
        ticks.append(payload.timestamp)
        # The other ticks' runs are ready meanwhile, and the worker has free slots.
        queued_meanwhile.append(len(await client.list_runs_async(status="QUEUED")))
        await io.run_task("work", lambda task: "done")
        seen.append("end")

    client.run_worker(until_idle=True)  # the schedule is first seen
    clock.advance(180)  # three ticks due at once
    client.run_worker(until_idle=True)

    assert seen == ["start", "end"] * 3
    assert queued_meanwhile == [2, 1, 0]
    assert ticks == sorted(ticks) and len(set(ticks)) == 3  # one after another, in tick order
    assert len(client.list_runs(status="COMPLETED")) == 3


def test_a_key_function_that_fails_ends_its_run_failed_and_the_run_can_be_retried(
    make_client: MakeClient,
) -> None:
    def app(key: Callable[[Any], Any]) -> runio.Client:
        client = make_client()

        @client.define_job(
            id="per-customer",
            trigger=runio.event_trigger("order"),
            concurrency_limit=1,
            concurrency_key=key,
        )
        async def job(payload: Any, io: runio.IO) -> str:
            return f"done {payload.get('customer')}"

        return client

    broken = app(lambda payload: payload["customer"])
    good = broken.send_event("order", {"customer": "acme"}).run_ids[0]
    number = broken.send_event("order", {"customer": 42}).run_ids[0]
    missing = broken.send_event("order", {"name": "no customer"}).run_ids[0]
    long = broken.send_event("order", {"customer": "x" * 300}).run_ids[0]
    broken.run_worker(until_idle=True)

    assert broken.get_run(good).output == "done acme"
    for run_id, says in [
        (number, "returned a int (42), not a string"),
        (missing, "raised KeyError: 'customer'"),
        (long, "returned 300 characters, more than 256"),
    ]:
        run = broken.get_run(run_id)
        assert run.status == "FAILED"
        assert run.error is not None and run.error["type"] == "ConcurrencyKeyError"
        assert says in run.error["message"] and "'per-customer'" in run.error["message"]
        assert run.execution_count == 0  # the job function never ran

    fixed = app(lambda payload: str(payload.get("customer", "nobody"))[:256])
    for run_id in (number, missing, long):
        fixed.retry_run(run_id)
    fixed.run_worker(until_idle=True)
    assert [fixed.get_run(r).status for r in (number, missing, long)] == ["COMPLETED"] * 3
    assert fixed.get_run(number).concurrency_key == "42"


def test_the_key_function_receives_the_parsed_payload(client: runio.Client) -> None:
    keys: list[Any] = []

    def key(order: Order) -> str:
        keys.append(order)
        return order.customer

    @client.define_job(
        id="typed",
        trigger=runio.event_trigger("order", schema=Order),
        concurrency_limit=3,
        concurrency_key=key,
    )
    async def typed(payload: Order, io: runio.IO) -> int:
        return payload.n

    run_id = client.send_event("order", {"n": 1, "customer": "acme"}).run_ids[0]
    client.run_worker(until_idle=True)
    assert keys == [Order(n=1, customer="acme")]
    run = client.get_run(run_id)
    assert (run.status, run.concurrency_key) == ("COMPLETED", "acme")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"concurrency_limit": 0}, "concurrency_limit must be an int"),
        ({"concurrency_limit": 2.5}, "concurrency_limit must be an int"),
        ({"concurrency_limit": True}, "concurrency_limit must be an int"),
        ({"concurrency_key": lambda p: "k"}, "needs concurrency_limit=N too"),
        ({"concurrency_limit": 1, "concurrency_key": "customer_id"}, "must be a function"),
        ({"compatible_versions": "1.0.0"}, "must be a list of version strings"),
        ({"compatible_versions": ["1.0.0", ""]}, "each must be a non-empty version string"),
    ],
)
def test_bad_flow_control_options_are_refused_at_definition(
    client: runio.Client, options: dict[str, Any], says: str
) -> None:
    with pytest.raises(JobDefinitionError, match="Job 'j'") as info:
        client.define_job(id="j", trigger=runio.event_trigger("e"), **options)(_noop)
    assert says in str(info.value)


async def _noop(payload: Any, io: runio.IO) -> None:
    return None


def test_concurrency_key_error_is_a_runio_error() -> None:
    error = ConcurrencyKeyError("bad", job_id="j")
    assert isinstance(error, runio.errors.RunioError) and error.job_id == "j"
