"""``io.store``: durable key-value items scoped to the run, the job or the app; each call a task,
so replays read what the first execution read. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import runio
from runio.errors import ConfigurationError
from runio.testing import TestClock

MakeClient = Callable[..., runio.Client]


def test_each_scope_is_shared_as_its_name_says(client: runio.Client) -> None:
    @client.define_job(id="counter", trigger=runio.event_trigger("count"))
    async def counter(payload: dict[str, Any], io: runio.IO) -> dict[str, Any]:
        seen_run = await io.store.run.get("run-before", "n", default=0)
        await io.store.run.set("run-set", "n", seen_run + 1)
        job_n = await io.store.job.get("job-get", "n", default=0)
        await io.store.job.set("job-set", "n", job_n + 1)
        app_n = await io.store.app.get("app-get", "n", default=0)
        await io.store.app.set("app-set", "n", app_n + 1)
        return {
            "run": await io.store.run.get("run-after", "n"),
            "job": job_n + 1,
            "app": app_n + 1,
        }

    @client.define_job(id="other", trigger=runio.event_trigger("other"))
    async def other(payload: object, io: runio.IO) -> dict[str, Any]:
        return {
            "job": await io.store.job.has("job", "n"),
            "app": await io.store.app.get("app", "n"),
        }

    runs = [client.send_event("count").run_ids[0] for _ in range(3)]
    for _ in runs:
        client.run_worker(until_idle=True, concurrency=1)
    outputs = [client.get_run(r).output for r in runs]
    assert [o["run"] for o in outputs] == [1, 1, 1]  # a fresh run store each time
    assert sorted(o["job"] for o in outputs) == [1, 2, 3]
    other_id = client.send_event("other").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(other_id).output == {"job": False, "app": 3}


def test_a_replay_returns_what_the_first_execution_read(
    make_client: MakeClient, clock: TestClock
) -> None:
    client = make_client()
    reads: list[Any] = []

    @client.define_job(id="reader", trigger=runio.event_trigger("read"))
    async def reader(payload: object, io: runio.IO) -> Any:
        value = await io.store.app.get("read", "flag")
        reads.append(value)
        await io.wait("pause", 60)
        return value

    @client.define_job(id="writer", trigger=runio.event_trigger("write"))
    async def writer(payload: dict[str, Any], io: runio.IO) -> Any:
        return await io.store.app.set("write", "flag", payload)

    client.send_event("write", {"v": 1})
    client.run_worker(until_idle=True)
    run_id = client.send_event("read").run_ids[0]
    client.run_worker(until_idle=True)
    client.send_event("write", {"v": 2})  # changes the item while the reader waits
    client.run_worker(until_idle=True)
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.output == {"v": 1}
    assert reads == [{"v": 1}, {"v": 1}]
    task = run.task("read")
    assert (task.kind, task.name, task.params) == (
        "store",
        "store.app.get flag",
        {"scope": "app", "key": "flag"},
    )


def test_delete_and_has_and_items_survive_a_new_client(make_client: MakeClient) -> None:
    def app() -> runio.Client:
        client = make_client()

        @client.define_job(id="keeper", trigger=runio.event_trigger("keep"))
        def keeper(payload: dict[str, Any], io: runio.SyncIO) -> Any:  # the sync form
            if payload["op"] == "set":
                return io.store.job.set("set", "cfg", {"retries": 3})
            if payload["op"] == "get":
                return [io.store.job.has("has", "cfg"), io.store.job.get("get", "cfg")]
            return [io.store.job.delete("del", "cfg"), io.store.job.delete("del-2", "cfg")]

        return client

    first = app()
    first.send_event("keep", {"op": "set"})
    first.run_worker(until_idle=True)
    first.close()
    second = app()
    got = second.send_event("keep", {"op": "get"}).run_ids[0]
    deleted = second.send_event("keep", {"op": "delete"}).run_ids[0]
    second.run_worker(until_idle=True, concurrency=1)
    assert second.get_run(got).output == [True, {"retries": 3}]
    assert second.get_run(deleted).output == [True, False]


def test_apps_sharing_a_database_do_not_share_items(make_client: MakeClient) -> None:
    results: dict[str, Any] = {}
    for app_id in ("app-a", "app-b"):
        client = make_client(app_id)

        @client.define_job(id="same", trigger=runio.event_trigger("go"))
        async def same(payload: object, io: runio.IO, app_id: str = app_id) -> Any:
            before = await io.store.app.get("get", "owner")
            await io.store.app.set("set", "owner", app_id)
            return before

        run_id = client.send_event("go").run_ids[0]
        client.run_worker(until_idle=True)
        results[app_id] = client.get_run(run_id).output
    assert results == {"app-a": None, "app-b": None}


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda io: io.store.run.set("s", "k", object()), ("cannot be stored as JSON",)),
        (lambda io: io.store.run.get("s", ""), ("key must be a non-empty string",)),
        (lambda io: io.store.job.set("s", 3, 1), ("key must be a non-empty string", "got 3")),
        (lambda io: io.store.app.delete("s", "k" * 2000), ("keep keys to 1024",)),
    ],
)
def test_bad_store_calls_fail_the_run_clearly_and_store_nothing(
    client: runio.Client, call: Callable[[runio.IO], Any], words: tuple[str, ...]
) -> None:
    @client.define_job(id="bad", trigger=runio.event_trigger("bad"))
    async def bad(payload: object, io: runio.IO) -> Any:
        return await call(io)

    run_id = client.send_event("bad").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None and run.error["type"] == ConfigurationError.__name__
    for word in words:
        assert word in run.error["message"]
    assert run.tasks == []
