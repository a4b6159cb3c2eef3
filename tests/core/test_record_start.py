"""An integration task's attempt is stored before the vendor is called, so a crash during the
call loses no attempt and a later attempt can always tell that an earlier one may have reached
the vendor."""

from __future__ import annotations

import sqlite3
from typing import Any

import runio


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
    class Vendor(runio.Integration[Any]):
        namespace = "vendor"
        name = "Vendor"
        icon = "vendor"

        def create_client(self) -> Any:
            return object()

        @runio.integration_task(name="Write", effect="write")
        async def write(self, client: Any, task: runio.Task, /, *, text: str) -> dict[str, Any]:
            """Look, from another connection, at what the database holds as the call starts
            (async and without awaiting: nothing else gets a turn before this runs)."""
            return {"seen": _started_attempts(db_path, task.id), "text": text}

    Vendor.idempotency = idempotency  # type: ignore[assignment]
    return Vendor


def _run(sqlite_url: str, idempotency: str) -> Any:
    # SQLite only: the task reads the database file directly, without yielding to the loop.
    db_path = sqlite_url.removeprefix("sqlite:///")
    vendor = _make(idempotency, db_path)()
    with runio.Client("test-app", database_url=sqlite_url) as client:
        return _run_with(client, vendor)


def _run_with(client: runio.Client, vendor: runio.Integration[Any]) -> Any:

    @client.define_job(
        id="writes", trigger=runio.event_trigger("write"), integrations={"vendor": vendor}
    )
    async def writes(payload: object, io: runio.IO) -> Any:
        return await io.vendor.write("write-1", text="hello")

    run_id = client.send_event("write").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    return run.output


def test_without_idempotency_keys_the_start_is_stored_before_the_call(sqlite_url: str) -> None:
    output = _run(sqlite_url, "marker")
    assert output["seen"] == [[1, "STARTED"]]


def test_with_idempotency_keys_the_start_is_stored_before_the_call_too(sqlite_url: str) -> None:
    # The vendor deduplicates on the key, but the attempt itself must not be lost to a crash.
    output = _run(sqlite_url, "key")
    assert output["seen"] == [[1, "STARTED"]]
