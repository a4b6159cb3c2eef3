"""B6's sides: ``io.stripe.create_customer`` inside a runio job, and the bare SDK call, each
against a ``FakeStripe`` the side starts in a process of its own (as Stripe's API is: in the
side's process, the fake's thread would compete with runio's SQLite thread for the GIL, which a
remote API never does).

Both sides time each call alone (``perf_counter`` around the ``await``) after one untimed
warm-up call that opens the connection, and report the median, so the ratio of the two medians
is runio's overhead on one Stripe write: recording the task (name, icon, properties, params),
its start (held briefly: Stripe deduplicates the write on the task's idempotency key, so the
start need not be committed before the call; a call answered within the hold is stored once,
finished), the durable commit that stores the answer, the idempotency key, and converting the
answer to JSON. The fake answers in about a millisecond; against the real
Stripe API (hundreds of ms) the same overhead is a far smaller share.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import stripe
from runio_stripe import Stripe

import runio

API_KEY = "sk_test_bench_4eC39HqLyjWDarjtT1zdp7dc"

_SERVE = f"""
import sys
from runio_stripe.testing import FakeStripe

with FakeStripe(api_key={API_KEY!r}) as fake:
    print(fake.url, flush=True)
    sys.stdin.read()  # until the side closes our stdin
    print(len(fake.customers), flush=True)
"""


@contextlib.contextmanager
def _fake_stripe() -> Iterator[tuple[str, list[int]]]:
    """A FakeStripe in a child process: yields its URL and, after the block, the number of
    customers it holds (in the list)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    customers: list[int] = []
    try:
        yield child.stdout.readline().strip(), customers
    finally:
        child.stdin.close()
        customers.append(int(child.stdout.readline() or -1))
        child.wait(timeout=30)


def _summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p90_ms": ordered[int(len(ordered) * 0.9)] * 1000,
        "calls_per_s": len(ordered) / sum(ordered),
        "stripe_version": stripe.VERSION,
    }


def _client(ctx: dict[str, Any]) -> runio.Client:
    """A client on a fresh SQLite file (``query`` added to its URL)."""
    return runio.Client(
        "bench",
        database_url=f"sqlite:///{Path(ctx['workdir']) / 'runio.db'}"
        + ctx["params"].get("query", ""),
    )


def _floor_db(ctx: dict[str, Any]) -> sqlite3.Connection:
    """The floor's raw ``sqlite3`` table, at runio's settings (WAL, FULL)."""
    conn = sqlite3.connect(Path(ctx["workdir"]) / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA synchronous=full")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    return conn


def _run_stripe_job(
    ctx: dict[str, Any], url: str, body: Callable[[runio.IO], Awaitable[Any]]
) -> None:
    """Run ``body(io)`` as the one run of a job whose ``io.stripe`` calls the fake at ``url``;
    the run must complete."""
    client = _client(ctx)

    @client.define_job(
        id="b6",
        trigger=runio.event_trigger("b6"),
        integrations={"stripe": Stripe(api_key=API_KEY, base_url=url)},
    )
    async def b6_job(payload: Any, io: runio.IO) -> Any:
        return await body(io)

    client.send_event("b6", {})
    client.run_worker(until_idle=True)
    run = client.list_runs(limit=1)[0]
    assert run.status == "COMPLETED", run.status
    client.close()


def _commit_answer(conn: sqlite3.Connection, answer: Any) -> None:
    """The floor's commit after a call: the answer's body, one row, WAL + FULL."""
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t (v) VALUES (?)", (getattr(answer.last_response, "body", ""),))
    conn.execute("COMMIT")


def b6_wrapper(ctx: dict[str, Any]) -> dict[str, Any]:
    """N ``await io.stripe.create_customer(...)`` in one run, each timed; ``query`` is added to
    the database URL (``?synchronous=normal`` for the diagnostic side)."""
    n = int(ctx["params"]["n"])
    latencies: list[float] = []

    async def calls(io: runio.IO) -> None:
        await io.stripe.create_customer("warm-up", email="warm-up@example.com")
        for i in range(n):
            started = time.perf_counter()
            await io.stripe.create_customer(f"customer-{i}", email=f"user{i}@example.com")
            latencies.append(time.perf_counter() - started)

    with _fake_stripe() as (url, customers):
        _run_stripe_job(ctx, url, calls)
    assert customers == [n + 1], customers
    return _summary(latencies)


def b6_bare(ctx: dict[str, Any]) -> dict[str, Any]:
    """N ``await client.v1.customers.create_async(...)`` with a default ``StripeClient``.

    ``commit`` (the floor side): each call is followed by one raw ``sqlite3`` INSERT of the
    answer and a COMMIT at WAL + FULL, timed with the call. That is the least any wrapper that
    stores the answer durably pays, with the commit made where the wrapper makes it: right
    after the process waited for the vendor. On some disks a commit made after the process
    sat idle costs more than one in a tight loop (what ``sides_sqlite.floor`` measures)."""
    n = int(ctx["params"]["n"])
    commit = bool(ctx["params"].get("commit"))
    # The SDK's own httpx client passes the form as data=, which httpx 0.28 deprecates; the
    # warning says nothing about speed.
    warnings.simplefilter("ignore", DeprecationWarning)
    latencies: list[float] = []
    conn = _floor_db(ctx)

    async def calls(url: str) -> None:
        client = stripe.StripeClient(API_KEY, base_addresses={"api": url})
        await client.v1.customers.create_async({"email": "warm-up@example.com"})
        for i in range(n):
            started = time.perf_counter()
            customer = await client.v1.customers.create_async({"email": f"user{i}@example.com"})
            if commit:
                _commit_answer(conn, customer)
            latencies.append(time.perf_counter() - started)

    with _fake_stripe() as (url, customers):
        asyncio.run(calls(url))
    conn.close()
    assert customers == [n + 1], customers
    return _summary(latencies)


def b6_interleaved(ctx: dict[str, Any]) -> dict[str, Any]:
    """The three B6 calls taken in turn in one process, against one fake: the runio wrapper
    (``io.stripe.create_customer``), the bare SDK call, and the bare call followed by one raw
    ``sqlite3`` INSERT + COMMIT of the answer at WAL + FULL (``b6_bare``'s floor). Each of the
    N turns makes the three calls in a rotating order and times each alone, after the process
    waited for the fake as the others did. Reported: the median over turns of each call's
    difference with the bare call of the same turn, so the machine's drift (the fake's speed,
    the disk's, another process's load), which moves all three together, cancels out of the
    difference instead of adding to it as it does between the separate processes of the other
    sides. ``query`` is added to runio's database URL. ``streak`` (default 1): each call is made
    that many times in a row in its turn, only the last timed, so each timed call follows calls
    of its own kind (as in a job making such calls one after another) rather than the others'.
    """
    n = int(ctx["params"]["n"])
    streak = int(ctx["params"].get("streak", 1))
    warnings.simplefilter("ignore", DeprecationWarning)
    conn = _floor_db(ctx)
    times: dict[str, list[float]] = {"runio": [], "bare": [], "placed": []}

    async def turns(io: runio.IO) -> None:
        bare = stripe.StripeClient(API_KEY, base_addresses={"api": url})

        async def runio_call(i: int) -> None:
            await io.stripe.create_customer(f"customer-{i}", email=f"user{i}@example.com")

        async def bare_call(i: int) -> None:
            await bare.v1.customers.create_async({"email": f"bare{i}@example.com"})

        async def placed_call(i: int) -> None:
            customer = await bare.v1.customers.create_async({"email": f"placed{i}@ex.com"})
            _commit_answer(conn, customer)

        calls = [("runio", runio_call), ("bare", bare_call), ("placed", placed_call)]
        for _, call in calls:  # warm-up: opens the connections
            await call(-1)
        for i in range(n):
            for name, call in calls[i % 3 :] + calls[: i % 3]:
                for j in range(streak - 1):  # untimed: the same call just before, as in a row
                    await call(-(i * streak + j) - 2)
                started = time.perf_counter()
                await call(i)
                times[name].append(time.perf_counter() - started)

    with _fake_stripe() as (url, customers):
        _run_stripe_job(ctx, url, turns)
    conn.close()
    assert customers == [3 * (n * streak + 1)], customers

    def beyond_us(call: str, other: str) -> float:
        """The median over turns of ``call``'s time minus ``other``'s, in µs."""
        pairs = zip(times[call], times[other], strict=True)
        return float(statistics.median(a - b for a, b in pairs)) * 1e6

    return {
        "overhead_us": beyond_us("runio", "bare"),
        "commit_after_call_us": beyond_us("placed", "bare"),
        "beyond_placed_us": beyond_us("runio", "placed"),
        "bare_median_ms": statistics.median(times["bare"]) * 1000,
    }


# -- diagnostic: runio's integration path without the network -------------------------------------
_CUSTOMER: dict[str, Any] = {
    "id": "cus_bench0000000001",
    "object": "customer",
    "address": None,
    "balance": 0,
    "created": 1800000000,
    "currency": None,
    "default_source": None,
    "delinquent": False,
    "description": None,
    "email": "user@example.com",
    "invoice_prefix": "BENCH01",
    "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
    "livemode": False,
    "metadata": {},
    "name": None,
    "phone": None,
    "preferred_locales": [],
    "shipping": None,
    "tax_exempt": "none",
}
"""A customer as Stripe's API returns one (about 500 bytes of JSON)."""


class _Canned(runio.Integration[Any]):
    """An integration whose one write returns ``_CUSTOMER`` without calling anyone."""

    namespace = "canned"
    name = "Canned"
    icon = "canned"
    idempotency = "key"  # as Stripe: its write's start need not be stored before the call
    api_key: str = runio.setting(help="a key, as a real integration has one (a secret)")

    def create_client(self) -> Any:
        return object()

    @runio.integration_task(
        name="Create Customer",
        effect="write",
        properties=lambda p: [runio.Property("Email", p.get("email"))],
    )
    async def create_customer(
        self, client: Any, task: runio.Task, /, **params: Any
    ) -> dict[str, Any]:
        task.output_properties.append(runio.Property("ID", _CUSTOMER["id"]))
        return dict(_CUSTOMER)


def integration_loop(ctx: dict[str, Any]) -> dict[str, Any]:
    """N ``await io.canned.create_customer(...)`` in one run: what a wrapper call costs in runio
    alone (the task's start, the wrapper's bookkeeping, the stored answer), without B6's
    vendor call and its noise. Not a benchmark of ``run.py``: for ``profile.py`` and for
    comparing two checkouts (``_child.py`` with ``source``)."""
    n = int(ctx["params"]["n"])
    client = _client(ctx)
    took: dict[str, float] = {}

    @client.define_job(
        id="loop",
        trigger=runio.event_trigger("loop"),
        integrations={"canned": _Canned(api_key="sk_test_bench_canned")},
    )
    async def loop_job(payload: Any, io: runio.IO) -> int:
        await io.canned.create_customer("warm-up", email="warm-up@example.com")
        started, cpu = time.perf_counter(), time.thread_time()
        for i in range(n):
            await io.canned.create_customer(f"customer-{i}", email=f"user{i}@example.com")
        took["wall"], took["cpu"] = time.perf_counter() - started, time.thread_time() - cpu
        return n

    client.send_event("loop", {})
    client.run_worker(until_idle=True)
    assert client.list_runs(limit=1)[0].status == "COMPLETED"
    client.close()
    return {
        "us_per_call": took["wall"] / n * 1e6,
        "cpu_us_per_call": took["cpu"] / n * 1e6,
    }
