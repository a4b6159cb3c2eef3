"""When an integration task's attempt is stored before the vendor is called.

Where a later attempt may act on ``task.outcome_unknown`` (a wrapper with ``find_previous``, any
call but a read to a vendor that does not deduplicate on the idempotency key, the job's own
``io.<name>.run_task`` function), the attempt's start is committed before the call, so a crash
during the call can never leave that flag false. Any other call's start is bookkeeping, as a
plain task's: held briefly, written while the call waits for the vendor, or, for a call answered
by then, stored once with its result.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import pytest

import runio
from runio.storage._deferred import HOLD_STARTS


def _started_attempts(db_path: str, task_id: str) -> list[tuple[int, str]]:
    """The task's started attempts as stored: a first attempt is recorded by the task row
    itself (status RUNNING, one attempt, its start time), later ones by rows of their own."""
    conn = sqlite3.connect(db_path)
    try:
        first = conn.execute(
            "SELECT 1, 'STARTED' FROM tasks WHERE id=? AND status='RUNNING' AND attempts=1 "
            "AND started_at IS NOT NULL",
            (task_id,),
        ).fetchall()
        later = conn.execute(
            "SELECT number, status FROM attempts WHERE task_id=? ORDER BY number", (task_id,)
        ).fetchall()
        return [(int(n), str(s)) for n, s in [*first, *later]]
    finally:
        conn.close()


def _make(idempotency: str, db_path: str) -> type[runio.Integration[Any]]:
    """A vendor whose calls look, from another connection, at what the database holds as they
    start (async and without awaiting first: nothing else gets a turn before they look)."""

    def seen(task: runio.Task, **params: Any) -> dict[str, Any]:
        return {"seen": _started_attempts(db_path, task.id), **params}

    class Vendor(runio.Integration[Any]):
        namespace = "vendor"
        name = "Vendor"
        icon = "vendor"

        def create_client(self) -> Any:
            return object()

        @runio.integration_task(name="Write", effect="write")
        async def write(self, client: Any, task: runio.Task, /, *, text: str) -> dict[str, Any]:
            return seen(task, text=text)

        @runio.integration_task(name="Found Write", effect="write")
        async def found_write(
            self, client: Any, task: runio.Task, /, *, text: str
        ) -> dict[str, Any]:
            return seen(task, text=text)

        @found_write.find_previous
        async def _find_write(
            self, client: Any, task: runio.Task, /, *, text: str
        ) -> dict[str, Any] | None:
            return None

        @runio.integration_task(name="Repeatable Write", effect="write", at_least_once=True)
        async def repeatable_write(
            self, client: Any, task: runio.Task, /, *, text: str
        ) -> dict[str, Any]:
            """Applied at least once: the vendor offers nothing to make it once."""
            return seen(task, text=text)

        @runio.integration_task(name="Idempotent Write", effect="idempotent")
        async def idempotent_write(
            self, client: Any, task: runio.Task, /, *, text: str
        ) -> dict[str, Any]:
            return seen(task, text=text)

        @runio.integration_task(name="Sync Write", effect="write")
        def sync_write(self, client: Any, task: runio.Task, /, *, text: str) -> dict[str, Any]:
            """A plain ``def`` wrapper (a synchronous SDK): it runs in the worker's threads."""
            return seen(task, text=text)

        @runio.integration_task(name="Read", effect="read")
        async def read(self, client: Any, task: runio.Task, /, *, text: str) -> dict[str, Any]:
            return seen(task, text=text)

        @runio.integration_task(name="Slow Write", effect="write")
        async def slow_write(self, client: Any, task: runio.Task, /) -> dict[str, Any]:
            """A vendor slower than the hold: the start is written while the call waits."""
            # The store writes a held start on a timer of its own, with nothing a vendor call
            # could await: look for it, as another process would, until it is there.
            deadline = time.monotonic() + 10
            while not _started_attempts(db_path, task.id) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(HOLD_STARTS / 4)
            return seen(task)

    Vendor.idempotency = idempotency  # type: ignore[assignment]
    return Vendor


def _seen(sqlite_url: str, idempotency: str, call: str) -> Any:
    """What the database held as ``io.vendor.<call>`` started (SQLite only: the call reads the
    file directly, without yielding to the loop)."""
    db_path = sqlite_url.removeprefix("sqlite:///")
    vendor = _make(idempotency, db_path)()
    with runio.Client("test-app", database_url=sqlite_url) as client:

        @client.define_job(
            id="calls", trigger=runio.event_trigger("call"), integrations={"vendor": vendor}
        )
        async def calls(payload: object, io: runio.IO) -> Any:
            if call == "run_task":
                return await io.vendor.run_task(
                    "call-1", lambda c, task: {"seen": _started_attempts(db_path, task.id)}
                )
            kwargs = {} if call == "slow_write" else {"text": "hello"}
            return await getattr(io.vendor, call)("call-1", **kwargs)

        run_id = client.send_event("call").run_ids[0]
        client.run_worker(until_idle=True)
        run = client.get_run(run_id)
        assert run.status == "COMPLETED", run.error
        (task,) = run.tasks
        # However it was written, the attempt is recorded: one, completed, with its start
        assert (task.status, len(task.attempts)) == ("COMPLETED", 1)
        assert task.started_at is not None and task.ended_at is not None
        assert task.started_at <= task.ended_at
        return run.output["seen"]


@pytest.mark.parametrize("idempotency", ["marker", "none"])
@pytest.mark.parametrize(
    "call", ["write", "idempotent_write", "repeatable_write", "sync_write", "run_task"]
)
def test_a_call_to_a_vendor_without_keys_is_started_before_it(
    sqlite_url: str, idempotency: str, call: str
) -> None:
    # Whatever its effect, a later attempt may act on task.outcome_unknown (Slack's deleting a
    # message counts "not found" as done when the earlier attempt's outcome is unknown)
    assert _seen(sqlite_url, idempotency, call) == [[1, "STARTED"]]


@pytest.mark.parametrize("idempotency", ["key", "marker", "none"])
def test_a_wrapper_that_finds_its_earlier_write_is_started_before_the_call(
    sqlite_url: str, idempotency: str
) -> None:
    assert _seen(sqlite_url, idempotency, "found_write") == [[1, "STARTED"]]


def test_the_jobs_own_vendor_call_is_started_before_it(sqlite_url: str) -> None:
    # io.<name>.run_task runs the job's code, which may rely on task.outcome_unknown
    assert _seen(sqlite_url, "key", "run_task") == [[1, "STARTED"]]


@pytest.mark.parametrize(
    ("idempotency", "call"),
    [
        ("key", "write"),
        ("key", "idempotent_write"),
        ("key", "repeatable_write"),
        ("key", "read"),
        ("marker", "read"),
        ("none", "read"),
    ],
)
def test_other_calls_store_their_start_with_their_result(
    sqlite_url: str, idempotency: str, call: str
) -> None:
    # Deduplicated by the key, or without effect: a crash before the start is written loses
    # only that record, and the retry is applied once. A call answered within the hold is
    # written once, finished.
    assert _seen(sqlite_url, idempotency, call) == []


def test_a_slow_calls_start_is_written_while_it_waits(sqlite_url: str) -> None:
    assert _seen(sqlite_url, "key", "slow_write") == [[1, "STARTED"]]
