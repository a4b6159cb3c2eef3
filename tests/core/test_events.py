"""Events: sending, idempotency, validation, filters, delivery time, sync/async twins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

import runio
from runio.errors import (
    ConfigurationError,
    InvalidPayloadError,
    JobDefinitionError,
    UnknownEventError,
)
from runio.testing import TestClock


class NewUser(BaseModel):
    user_id: str
    age: int


def test_send_event_returns_the_stored_event_with_its_runs(
    client: runio.Client, clock: TestClock
) -> None:
    contexts: list[runio.RunContext] = []

    @client.define_job(id="welcome", trigger=runio.event_trigger("new.user"))
    async def welcome(payload: dict[str, Any], io: runio.IO, ctx: runio.RunContext) -> str:
        contexts.append(ctx)
        return f"welcome {payload['user_id']}"

    @client.define_job(id="audit", trigger=runio.event_trigger("new.user"))
    async def audit(payload: dict[str, Any], io: runio.IO) -> str:
        return "audited"

    @client.define_job(id="other", trigger=runio.event_trigger("other.event"))
    async def other(payload: object, io: runio.IO) -> None:
        raise AssertionError("not triggered by new.user")

    event = client.send_event("new.user", {"user_id": "u_1"})

    assert event.name == "new.user"
    assert event.payload == {"user_id": "u_1"}
    assert event.timestamp == clock.now()
    assert event.app_id == "test-app"
    assert event.id
    assert len(event.run_ids) == 2
    runs = {client.get_run(run_id).job_id: client.get_run(run_id) for run_id in event.run_ids}
    assert set(runs) == {"welcome", "audit"}
    for run in runs.values():
        assert run.event_id == event.id
        assert run.event_name == "new.user"
        assert run.payload == {"user_id": "u_1"}
        assert run.status == "QUEUED"

    client.run_worker(until_idle=True)
    assert client.get_run(runs["welcome"].id).output == "welcome u_1"
    assert client.get_run(runs["audit"].id).output == "audited"
    (ctx,) = contexts
    assert ctx.run_id == runs["welcome"].id
    assert ctx.app_id == "test-app"
    assert ctx.job_id == "welcome"
    assert ctx.event.id == event.id
    assert ctx.event.name == "new.user"
    assert ctx.event.payload == {"user_id": "u_1"}
    assert ctx.event.timestamp == datetime.fromtimestamp(clock.now(), UTC)
    assert ctx.is_retry is False


def test_send_event_is_idempotent_on_its_id(client: runio.Client) -> None:
    calls: list[Any] = []

    @client.define_job(id="once", trigger=runio.event_trigger("charge"))
    async def once(payload: dict[str, int], io: runio.IO) -> None:
        calls.append(payload)

    first = client.send_event("charge", {"amount": 10}, id="evt_order_1")
    again = client.send_event("charge", {"amount": 10}, id="evt_order_1")
    assert again.id == first.id == "evt_order_1"
    assert again.run_ids == first.run_ids
    assert len(first.run_ids) == 1

    client.run_worker(until_idle=True)
    late = client.send_event("charge", {"amount": 99}, id="evt_order_1")
    client.run_worker(until_idle=True)

    assert late.run_ids == first.run_ids
    assert late.payload == {"amount": 10}  # the stored event, not the new payload
    assert calls == [{"amount": 10}]
    assert len(client.list_runs()) == 1


def test_different_event_ids_make_different_runs(client: runio.Client) -> None:
    @client.define_job(id="each", trigger=runio.event_trigger("ping"))
    async def each(payload: object, io: runio.IO) -> None:
        pass

    a = client.send_event("ping", id="a")
    b = client.send_event("ping", id="b")
    c = client.send_event("ping")
    d = client.send_event("ping")
    run_ids = [*a.run_ids, *b.run_ids, *c.run_ids, *d.run_ids]
    assert len(set(run_ids)) == 4
    assert c.id != d.id


def test_an_invalid_payload_is_rejected_with_field_errors(client: runio.Client) -> None:
    received: list[Any] = []

    @client.define_job(id="signup", trigger=runio.event_trigger("new.user", schema=NewUser))
    async def signup(payload: NewUser, io: runio.IO) -> str:
        received.append(payload)
        return payload.user_id

    with pytest.raises(InvalidPayloadError) as info:
        client.send_event("new.user", {"age": "old"})

    errors = info.value.errors
    assert set(errors) == {"signup"}
    by_field = {tuple(e["loc"]): e for e in errors["signup"]}
    assert set(by_field) == {("user_id",), ("age",)}
    assert by_field[("user_id",)]["msg"]
    assert "integer" in by_field[("age",)]["msg"]
    message = str(info.value)
    assert "new.user" in message
    assert "signup" in message
    assert "user_id" in message
    assert "age" in message
    assert client.list_runs() == []

    client.run_worker(until_idle=True)
    assert received == []

    event = client.send_event("new.user", {"user_id": "u_2", "age": "42"})
    client.run_worker(until_idle=True)
    assert received == [NewUser(user_id="u_2", age=42)]
    assert isinstance(received[0], NewUser)
    run = client.get_run(event.run_ids[0])
    assert run.output == "u_2"
    assert run.payload == {"user_id": "u_2", "age": "42"}  # stored as sent


def test_an_invalid_payload_with_an_id_stores_nothing(client: runio.Client) -> None:
    @client.define_job(id="signup", trigger=runio.event_trigger("new.user", schema=NewUser))
    async def signup(payload: NewUser, io: runio.IO) -> str:
        return payload.user_id

    with pytest.raises(InvalidPayloadError):
        client.send_event("new.user", {"user_id": "u_3"}, id="evt_fixed")
    # the id was not taken by the rejected event
    event = client.send_event("new.user", {"user_id": "u_3", "age": 3}, id="evt_fixed")
    assert len(event.run_ids) == 1


def test_an_unknown_event_name_raises_naming_the_app_and_its_events(
    client: runio.Client,
) -> None:
    @client.define_job(id="a", trigger=runio.event_trigger("user.created"))
    async def a(payload: object, io: runio.IO) -> None:
        pass

    @client.define_job(id="b", trigger=runio.event_trigger("order.paid"))
    async def b(payload: object, io: runio.IO) -> None:
        pass

    with pytest.raises(UnknownEventError) as info:
        client.send_event("user.craeted", {"id": 1})

    message = str(info.value)
    assert info.value.event_name == "user.craeted"
    assert "user.craeted" in message
    assert "test-app" in message
    assert "user.created" in message
    assert "order.paid" in message
    assert client.list_runs() == []


def test_a_client_without_jobs_sends_to_jobs_registered_by_a_worker(
    make_client: Callable[..., runio.Client],
) -> None:
    worker_client = make_client()

    @worker_client.define_job(id="remote", trigger=runio.event_trigger("remote.event"))
    async def remote(payload: dict[str, int], io: runio.IO) -> int:
        return payload["n"] + 1

    worker_client.run_worker(until_idle=True)  # registers the app's jobs in the database

    sender = make_client()  # e.g. a web process that runs no worker
    event = sender.send_event("remote.event", {"n": 1})
    assert len(event.run_ids) == 1
    with pytest.raises(UnknownEventError):
        sender.send_event("not.registered")
    worker_client.run_worker(until_idle=True)
    assert sender.get_run(event.run_ids[0]).output == 2


def test_payload_filters_choose_the_jobs(client: runio.Client) -> None:
    @client.define_job(
        id="paid-plans",
        trigger=runio.event_trigger(
            "signup", filter={"plan": ["pro", "team"], "user": {"country": ["NZ", "AU"]}}
        ),
    )
    async def paid_plans(payload: object, io: runio.IO) -> str:
        return "paid"

    @client.define_job(id="free", trigger=runio.event_trigger("signup", filter={"plan": ["free"]}))
    async def free(payload: object, io: runio.IO) -> str:
        return "free"

    def jobs_for(payload: Any) -> list[str]:
        event = client.send_event("signup", payload)
        return sorted(client.get_run(r).job_id for r in event.run_ids)

    assert jobs_for({"plan": "pro", "user": {"country": "NZ"}}) == ["paid-plans"]
    assert jobs_for({"plan": "team", "user": {"country": "AU", "age": 3}, "x": 1}) == ["paid-plans"]
    assert jobs_for({"plan": "pro", "user": {"country": "US"}}) == []
    assert jobs_for({"plan": "pro"}) == []
    assert jobs_for({"plan": "pro", "user": "NZ"}) == []
    assert jobs_for({"plan": "free"}) == ["free"]
    assert jobs_for({"plan": "enterprise"}) == []
    assert jobs_for(["not", "a", "mapping"]) == []
    assert jobs_for(None) == []


def test_payload_filters_compare_json_values_strictly(client: runio.Client) -> None:
    @client.define_job(
        id="strict", trigger=runio.event_trigger("flags", filter={"paid": [True], "count": [1]})
    )
    async def strict(payload: object, io: runio.IO) -> None:
        pass

    def runs_for(payload: Any) -> int:
        return len(client.send_event("flags", payload).run_ids)

    assert runs_for({"paid": True, "count": 1}) == 1
    assert runs_for({"paid": True, "count": 1.0}) == 1  # one JSON number
    # true and 1 are different JSON values, although Python's True == 1
    assert runs_for({"paid": 1, "count": 1}) == 0
    assert runs_for({"paid": True, "count": True}) == 0
    assert runs_for({"paid": "true", "count": "1"}) == 0


@pytest.mark.parametrize(
    "bad_filter",
    [{"plan": "pro"}, {"plan": 3}, {"user": {"country": "NZ"}}, ["plan"]],
)
def test_a_malformed_filter_is_a_job_definition_error(bad_filter: Any) -> None:
    with pytest.raises(JobDefinitionError):
        runio.event_trigger("signup", filter=bad_filter)


def test_a_job_function_with_a_wrong_signature_is_rejected(client: runio.Client) -> None:
    def one(payload: object) -> None:
        pass

    def four(payload: object, io: runio.IO, ctx: runio.RunContext, extra: int) -> None:
        pass

    for fn in (one, four):
        with pytest.raises(JobDefinitionError) as info:
            client.define_job(id=f"bad-{fn.__name__}", trigger=runio.event_trigger("x"))(fn)
        message = str(info.value)
        assert f"bad-{fn.__name__}" in message
        assert "(payload, io)" in message
        assert fn.__name__ in message
    assert client.jobs == {}


def test_other_bad_job_definitions_are_rejected(client: runio.Client) -> None:
    async def fine(payload: object, io: runio.IO) -> None:
        pass

    client.define_job(id="taken", trigger=runio.event_trigger("x"))(fine)
    with pytest.raises(JobDefinitionError, match="taken"):
        client.define_job(id="taken", trigger=runio.event_trigger("y"))(fine)
    with pytest.raises(JobDefinitionError):
        client.define_job(id="has spaces", trigger=runio.event_trigger("x"))(fine)
    with pytest.raises(JobDefinitionError):
        client.define_job(id="no-trigger", trigger="x")(fine)  # type: ignore[arg-type]
    with pytest.raises(JobDefinitionError):
        runio.event_trigger("")
    with pytest.raises(JobDefinitionError):
        runio.event_trigger("x", schema=dict)  # type: ignore[arg-type]


def test_a_job_is_not_called_directly(client: runio.Client) -> None:
    @client.define_job(id="direct", trigger=runio.event_trigger("direct"))
    async def direct(payload: object, io: runio.IO) -> None:
        pass

    with pytest.raises(TypeError, match="send_event"):
        direct({}, None)


def test_deliver_at_delays_the_run(client: runio.Client, clock: TestClock) -> None:
    started: list[float] = []

    @client.define_job(id="later", trigger=runio.event_trigger("later"))
    async def later(payload: object, io: runio.IO) -> str:
        started.append(clock.now())
        return "delivered"

    deliver_at = datetime.fromtimestamp(clock.now(), UTC) + timedelta(hours=1)
    event = client.send_event("later", deliver_at=deliver_at)
    run_id = event.run_ids[0]
    assert event.deliver_at == deliver_at.timestamp()
    run = client.get_run(run_id)
    assert run.status == "QUEUED"
    assert run.ready_at == deliver_at.timestamp()

    client.run_worker(until_idle=True)
    clock.advance(minutes=59)
    client.run_worker(until_idle=True)
    assert started == []
    assert client.get_run(run_id).status == "QUEUED"

    clock.advance(minutes=1)
    client.run_worker(until_idle=True)
    assert started == [deliver_at.timestamp()]
    assert client.get_run(run_id).output == "delivered"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"deliver_at": datetime(2030, 1, 1)}, ["timezone-aware"]),
        ({"deliver_at": 1_800_000_000}, ["deliver_at"]),
        ({"id": ""}, ["id"]),
        ({"payload": {"when": object()}}, ["JSON"]),
    ],
    ids=["naive-deliver-at", "number-deliver-at", "empty-id", "not-json"],
)
def test_bad_send_event_arguments_are_configuration_errors(
    client: runio.Client, kwargs: dict[str, Any], words: list[str]
) -> None:
    @client.define_job(id="target", trigger=runio.event_trigger("target"))
    async def target(payload: object, io: runio.IO) -> None:
        pass

    with pytest.raises(ConfigurationError) as info:
        client.send_event("target", **kwargs)
    for word in words:
        assert word in str(info.value)
    assert client.list_runs() == []


@pytest.mark.anyio
async def test_async_twins(client: runio.Client) -> None:
    @client.define_job(id="twins", trigger=runio.event_trigger("twins"))
    async def twins(payload: dict[str, int], io: runio.IO) -> int:
        return await io.run_task("double", lambda task: payload["n"] * 2)

    event = await client.send_event_async("twins", {"n": 21})
    assert len(event.run_ids) == 1
    run = await client.get_run_async(event.run_ids[0])
    assert run.status == "QUEUED"
    await client.run_worker_async(until_idle=True)

    run = await client.get_run_async(event.run_ids[0])
    assert run.status == "COMPLETED"
    assert run.output == 42
    listed = await client.list_runs_async(job_id="twins")
    assert [r.id for r in listed] == event.run_ids
    replay = await client.replay_run_async(run.id)
    assert replay.replay_of == run.id
    canceled = await client.cancel_run_async(replay.id)
    assert canceled.status == "CANCELED"


@pytest.mark.anyio
async def test_sync_methods_work_inside_a_running_event_loop(client: runio.Client) -> None:
    @client.define_job(id="from-async", trigger=runio.event_trigger("from-async"))
    async def from_async(payload: dict[str, str], io: runio.IO) -> str:
        return payload["word"].upper()

    asyncio.get_running_loop()  # the sync calls below are made from inside this loop
    event = client.send_event("from-async", {"word": "hello"})
    client.run_worker(until_idle=True)
    run = client.get_run(event.run_ids[0])

    assert run.status == "COMPLETED"
    assert run.output == "HELLO"
    assert [r.id for r in client.list_runs()] == event.run_ids
    with pytest.raises(runio.errors.RunNotFoundError):
        client.get_run("run_missing")


def test_io_send_event_sends_once_however_often_the_run_replays(
    client: runio.Client, clock: TestClock
) -> None:
    received: list[Any] = []

    @client.define_job(id="sender", trigger=runio.event_trigger("order.placed"))
    async def sender(payload: dict[str, int], io: runio.IO) -> dict[str, Any]:
        sent = await io.send_event("notify", "order.shipped", {"order": payload["order"]})
        await io.wait("pause", 60)
        return sent

    @client.define_job(id="receiver", trigger=runio.event_trigger("order.shipped"))
    async def receiver(payload: dict[str, int], io: runio.IO) -> None:
        received.append(payload)

    run_id = client.send_event("order.placed", {"order": 7}).run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert received == [{"order": 7}]
    assert run.output["name"] == "order.shipped"
    assert len(run.output["run_ids"]) == 1
    assert client.get_run(run.output["run_ids"][0]).job_id == "receiver"
    assert len(client.list_runs(job_id="receiver")) == 1


def test_sync_client_methods_work_inside_a_running_job(client: runio.Client) -> None:
    @client.define_job(id="inner", trigger=runio.event_trigger("inner"))
    async def inner(payload: object, io: runio.IO) -> str:
        return "inner done"

    @client.define_job(id="outer", trigger=runio.event_trigger("outer"))
    async def outer(payload: object, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
        # Blocking client calls made from the worker's own event loop thread.
        me = client.get_run(ctx.run_id)
        sent = client.send_event("inner", id=f"inner-for-{ctx.run_id}")
        return {"my_status": me.status, "inner_runs": len(sent.run_ids)}

    run_id = client.send_event("outer").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == {"my_status": "EXECUTING", "inner_runs": 1}
    (inner_run,) = client.list_runs(job_id="inner")
    assert inner_run.status == "COMPLETED"
