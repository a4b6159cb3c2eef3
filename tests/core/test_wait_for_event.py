"""``io.wait_for_event``: a run parks until a matching event is sent after its wait began, or
its timeout passes (DESIGN.md §3-§4). Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

import runio
from runio.errors import EventTimeoutError, InvalidPayloadError, UnknownEventError
from runio.testing import TestClock

MakeClient = Callable[..., runio.Client]


class Approval(BaseModel):
    order: str
    by: str


def _approval_app(client: runio.Client, seen: list[runio.Event], **wait: Any) -> None:
    @client.define_job(id="order", trigger=runio.event_trigger("order.placed"))
    async def order(payload: dict[str, Any], io: runio.IO) -> dict[str, Any]:
        await io.run_task("reserve", lambda task: "reserved")
        event = await io.wait_for_event(
            "approval", "order.approved", filter={"order": [payload["order"]]}, **wait
        )
        seen.append(event)
        return {"approved_by": event.payload["by"], "event": event.id}


def test_the_first_matching_event_sent_after_the_wait_began_resumes_the_run(
    client: runio.Client, clock: TestClock
) -> None:
    seen: list[runio.Event] = []
    _approval_app(client, seen, timeout=3600)

    @client.define_job(id="audit", trigger=runio.event_trigger("order.approved"))
    async def audit(payload: object, io: runio.IO) -> None:
        return None

    too_early = client.send_event("order.approved", {"order": "o1", "by": "early"})
    run_id = client.send_event("order.placed", {"order": "o1"}).run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(clock.now() + 3600)  # parked until the timeout
    wait = run.task("approval")
    assert (wait.kind, wait.status) == ("event_wait", "WAITING")
    assert wait.name == "Wait for event order.approved"
    assert wait.params == {"name": "order.approved", "filter": {"order": ["o1"]}, "timeout": 3600}

    clock.advance(minutes=5)
    client.send_event("order.approved", {"order": "o2", "by": "someone else"})  # filtered out
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    assert seen == []

    clock.advance(minutes=5)
    approved = client.send_event("order.approved", {"order": "o1", "by": "ada"})
    clock.advance(minutes=1)
    client.send_event("order.approved", {"order": "o1", "by": "second"})  # too late to count
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == {"approved_by": "ada", "event": approved.id}
    assert approved.id != too_early.id
    wait = run.task("approval")
    assert wait.status == "COMPLETED"
    assert wait.output["id"] == approved.id
    assert wait.output["payload"] == {"order": "o1", "by": "ada"}
    assert wait.output["run_ids"] == approved.run_ids  # the audit run it also started
    [event] = seen
    assert (event.name, event.app_id) == ("order.approved", "test-app")
    assert event.timestamp == approved.timestamp


def test_the_schema_parses_the_payload_and_a_payload_that_fails_it_is_a_clear_error(
    client: runio.Client,
) -> None:
    got: list[Any] = []

    @client.define_job(id="typed", trigger=runio.event_trigger("typed"))
    async def typed(payload: object, io: runio.IO) -> str:
        event = await io.wait_for_event("approval", "approved", schema=Approval)
        got.append(event.payload)
        return event.payload.by

    @client.define_job(id="strict", trigger=runio.event_trigger("strict"))
    async def strict(payload: object, io: runio.IO) -> str:
        try:
            await io.wait_for_event("approval", "approved", schema=Approval)
        except InvalidPayloadError as exc:
            return f"refused: {exc}"
        return "accepted"

    typed_run = client.send_event("typed").run_ids[0]
    strict_run = client.send_event("strict").run_ids[0]
    client.run_worker(until_idle=True)

    client.send_event("approved", {"order": "o1", "by": "ada"})
    client.run_worker(until_idle=True)
    assert client.get_run(typed_run).output == "ada"
    assert got == [Approval(order="o1", by="ada")]
    assert client.get_run(strict_run).output == "accepted"

    typed_run = client.send_event("typed").run_ids[0]
    strict_run = client.send_event("strict").run_ids[0]
    client.run_worker(until_idle=True)
    client.send_event("approved", {"order": "o2"})
    client.run_worker(until_idle=True)
    run = client.get_run(strict_run)
    assert run.status == "COMPLETED"
    assert "refused: " in run.output and "by: Field required" in run.output
    assert "does not fit Approval" in run.output
    run = client.get_run(typed_run)
    assert run.status == "FAILED"
    assert run.error is not None and run.error["type"] == "InvalidPayloadError"
    assert run.task("approval").status == "COMPLETED"  # the event it got is kept, as sent


def test_a_timeout_raises_a_catchable_error_on_every_execution(
    client: runio.Client, clock: TestClock
) -> None:
    caught: list[EventTimeoutError] = []

    @client.define_job(id="patient", trigger=runio.event_trigger("patient"))
    async def patient(payload: object, io: runio.IO) -> str:
        try:
            await io.wait_for_event("reply", "reply.sent", timeout=600)
        except EventTimeoutError as exc:
            caught.append(exc)
            await io.wait("then", 60)  # a replay after this meets the timeout again
            return "gave up"
        return "got a reply"

    run_id = client.send_event("patient").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=599)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    assert caught == []

    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)
    clock.advance(hours=1)
    late = client.send_event("reply.sent", {})  # a name runs waited for: stored, resumes nothing
    assert late.run_ids == []
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "gave up"
    assert len(caught) == 2  # the first execution and the replay after the wait
    error = caught[0]
    assert (error.event_name, error.timeout, error.cache_key, error.run_id) == (
        "reply.sent",
        600,
        "reply",
        run_id,
    )
    assert "No event 'reply.sent'" in str(error) and "600 s timeout" in str(error)
    assert "runio.errors.EventTimeoutError" in str(error)
    reply = run.task("reply")
    assert reply.status == "ERRORED"
    assert reply.error is not None and reply.error["type"] == "EventTimeoutError"


def test_an_uncaught_timeout_fails_the_run_and_retry_run_waits_anew(
    client: runio.Client, clock: TestClock
) -> None:
    @client.define_job(id="strict", trigger=runio.event_trigger("strict"))
    async def strict(payload: object, io: runio.IO) -> Any:
        event = await io.wait_for_event("reply", "reply.sent", timeout=60)
        return event.payload

    run_id = client.send_event("strict").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None and run.error["type"] == "EventTimeoutError"

    client.send_event("reply.sent", {"n": 1})  # sent before the retry: it does not count
    client.retry_run(run_id)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.task("reply").status == "WAITING"

    client.send_event("reply.sent", {"n": 2})
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", {"n": 2})


def test_an_event_sent_while_no_worker_runs_resumes_the_wait_in_a_restarted_worker(
    make_client: MakeClient, clock: TestClock
) -> None:
    def app() -> runio.Client:
        client = make_client()

        @client.define_job(id="waiter", trigger=runio.event_trigger("start"))
        def waiter(payload: object, io: runio.SyncIO) -> Any:  # the sync form
            return io.wait_for_event("go", "go", timeout=86400).payload

        return client

    first = app()
    run_id = first.send_event("start").run_ids[0]
    first.run_worker(until_idle=True)
    first.close()  # the worker's process is gone; the run holds nothing but its rows

    sender = make_client()  # another process, defining no job
    sent = sender.send_event("go", {"go": True})
    assert sent.run_ids == []  # no job is triggered by "go": it only resumed the wait
    assert sender.get_run(run_id).ready_at == pytest.approx(clock.now())

    second = app()
    second.run_worker(until_idle=True)
    run = second.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", {"go": True})


def test_an_event_nobody_triggers_on_or_waits_for_is_still_refused(client: runio.Client) -> None:
    @client.define_job(id="waiter", trigger=runio.event_trigger("start"))
    async def waiter(payload: object, io: runio.IO) -> None:
        await io.wait_for_event("go", "go")

    with pytest.raises(UnknownEventError) as raised:
        client.send_event("go", {})
    assert "no run of the app has waited for it (io.wait_for_event)" in str(raised.value)


def test_an_event_sent_by_another_run_resumes_the_wait(client: runio.Client) -> None:
    @client.define_job(id="waiter", trigger=runio.event_trigger("start"))
    async def waiter(payload: object, io: runio.IO) -> Any:
        event = await io.wait_for_event("done", "job.done", filter={"id": ["a"]})
        return event.payload

    @client.define_job(id="doer", trigger=runio.event_trigger("do"))
    async def doer(payload: object, io: runio.IO) -> None:
        await io.send_event("tell", "job.done", {"id": "a"})

    waiting = client.send_event("start").run_ids[0]
    client.run_worker(until_idle=True)
    client.send_event("do")
    client.run_worker(until_idle=True)
    assert client.get_run(waiting).output == {"id": "a"}


def test_several_runs_wait_for_the_same_event_and_parallel_waits_in_one_run(
    client: runio.Client,
) -> None:
    import asyncio

    @client.define_job(id="both", trigger=runio.event_trigger("both"))
    async def both(payload: object, io: runio.IO) -> list[Any]:
        a, b = await asyncio.gather(
            io.wait_for_event("a", "ping", filter={"to": ["a"]}),
            io.wait_for_event("b", "ping", filter={"to": ["b"]}),
        )
        return [a.payload, b.payload]

    runs = [client.send_event("both").run_ids[0] for _ in range(3)]
    client.run_worker(until_idle=True)
    client.send_event("ping", {"to": "b"})
    client.run_worker(until_idle=True)
    assert {client.get_run(r).status for r in runs} == {"WAITING"}
    client.send_event("ping", {"to": "a"})
    client.run_worker(until_idle=True)
    for run_id in runs:
        run = client.get_run(run_id)
        assert (run.status, run.output) == ("COMPLETED", [{"to": "a"}, {"to": "b"}])


def test_a_delayed_event_resumes_the_wait_at_its_delivery_time_and_canceling_it_does_not(
    client: runio.Client, clock: TestClock
) -> None:
    @client.define_job(id="waiter", trigger=runio.event_trigger("start"))
    async def waiter(payload: object, io: runio.IO) -> Any:
        return (await io.wait_for_event("go", "go", timeout=7200)).payload

    run_id = client.send_event("start").run_ids[0]
    client.run_worker(until_idle=True)
    later = client.send_event("go", {"n": "later"}, delay=timedelta(minutes=30))
    soon = client.send_event("go", {"n": "soon"}, delay=600)
    assert client.get_run(run_id).ready_at == pytest.approx(clock.now() + 600)

    client.cancel_event(soon.id)  # the wait falls back on the next matching event
    assert client.get_event(soon.id).canceled_at == clock.now()
    clock.advance(minutes=10)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"

    clock.advance(minutes=20)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", {"n": "later"})
    assert run.task("go").output["id"] == later.id
    assert run.task("go").output["deliver_at"] == pytest.approx(
        datetime.fromtimestamp(later.timestamp, UTC).timestamp() + 1800
    )


def test_an_event_that_arrives_before_the_run_has_parked_is_not_slept_through(
    client: runio.Client,
) -> None:
    """The run records its wait, then finishes a task in flight before it parks: an event sent
    in between resumes it at once rather than at the timeout."""
    import asyncio

    async def send_once_waiting(task: runio.Task) -> str:
        for _ in range(10_000):  # each look is a read of the database, awaited
            run = await client.get_run_async(task.run_id)
            if any(t.cache_key == "ping" and t.status == "WAITING" for t in run.tasks):
                break
        else:
            raise AssertionError("the wait was never recorded")
        await client.send_event_async("ping", {"n": 1})
        return "sent"

    @client.define_job(id="racer", trigger=runio.event_trigger("race"))
    async def racer(payload: object, io: runio.IO) -> Any:
        event, sent = await asyncio.gather(
            io.wait_for_event("ping", "ping", timeout=86400),
            io.run_task("send", send_once_waiting),
        )
        return [event.payload, sent]

    run_id = client.send_event("race").run_ids[0]
    client.run_worker(until_idle=True)  # the clock never moves: no timeout can fire
    run = client.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", [{"n": 1}, "sent"]), (run, run.tasks)
    assert run.execution_count == 2
