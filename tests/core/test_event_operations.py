"""Sending several events at once, reading an event back, and canceling a delayed one: from the
client and from inside a run (``io.send_events``, ``io.get_event``, ``io.cancel_event``). Every
test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

import runio
from runio.errors import (
    ConfigurationError,
    EventDeliveredError,
    EventNotFoundError,
    InvalidPayloadError,
)
from runio.testing import TestClock


class Signup(BaseModel):
    user_id: str


def _apps(client: runio.Client) -> None:
    @client.define_job(id="welcome", trigger=runio.event_trigger("signup", schema=Signup))
    async def welcome(payload: Signup, io: runio.IO) -> str:
        return f"welcome {payload.user_id}"

    @client.define_job(id="bill", trigger=runio.event_trigger("invoice"))
    async def bill(payload: dict[str, Any], io: runio.IO) -> Any:
        return payload


def test_send_events_stores_every_event_and_its_runs_in_one_go(
    client: runio.Client, clock: TestClock
) -> None:
    _apps(client)
    sent = client.send_events(
        [
            {"name": "signup", "payload": {"user_id": "u1"}},
            {"name": "invoice", "payload": {"n": 1}, "id": "inv-1"},
            {"name": "invoice", "payload": {"n": 2}, "delay": 60},
        ]
    )
    assert [e.name for e in sent] == ["signup", "invoice", "invoice"]
    assert sent[1].id == "inv-1"
    assert sent[2].deliver_at == clock.now() + 60
    assert all(len(e.run_ids) == 1 for e in sent)
    client.run_worker(until_idle=True)
    outputs = [client.get_run(e.run_ids[0]) for e in sent]
    assert [r.status for r in outputs] == ["COMPLETED", "COMPLETED", "QUEUED"]
    assert outputs[0].output == "welcome u1"

    again = client.send_events([{"name": "invoice", "payload": {"n": 9}, "id": "inv-1"}])
    assert again[0].payload == {"n": 1}  # idempotent on id, as send_event
    assert again[0].run_ids == sent[1].run_ids


def test_one_bad_event_in_send_events_stores_none_of_them(client: runio.Client) -> None:
    _apps(client)
    before = client.list_runs()
    with pytest.raises(InvalidPayloadError) as raised:
        client.send_events(
            [
                {"name": "invoice", "payload": {"n": 1}},
                {"name": "signup", "payload": {"user": "no id"}},
            ]
        )
    assert "user_id" in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"item 1 has unknown key\(s\) when"):
        client.send_events([{"name": "invoice"}, {"name": "invoice", "when": 3}])
    with pytest.raises(ConfigurationError, match="same id"):
        client.send_events([{"name": "invoice", "id": "x"}, {"name": "invoice", "id": "x"}])
    assert client.list_runs() == before == []


def test_a_delayed_event_is_canceled_before_delivery_with_its_runs(
    client: runio.Client, clock: TestClock
) -> None:
    _apps(client)
    when = datetime.fromtimestamp(clock.now(), UTC) + timedelta(hours=1)
    event = client.send_event("invoice", {"n": 1}, deliver_at=when)
    stored = client.get_event(event.id)
    assert (stored.deliver_at, stored.canceled_at, stored.run_ids) == (
        when.timestamp(),
        None,
        event.run_ids,
    )

    clock.advance(minutes=59)
    canceled = client.cancel_event(event.id)
    assert canceled.canceled_at == clock.now()
    clock.advance(minutes=2)
    client.run_worker(until_idle=True)
    run = client.get_run(event.run_ids[0])
    assert run.status == "CANCELED"  # it never started
    assert run.started_at is None

    with pytest.raises(EventDeliveredError, match="already canceled"):
        client.cancel_event(event.id)


def test_canceling_a_delivered_event_says_so(client: runio.Client, clock: TestClock) -> None:
    _apps(client)
    now_event = client.send_event("invoice", {"n": 1})
    with pytest.raises(EventDeliveredError) as raised:
        client.cancel_event(now_event.id)
    message = str(raised.value)
    assert "already delivered" in message and "client.cancel_run" in message
    assert raised.value.event_id == now_event.id

    delayed = client.send_event("invoice", {"n": 2}, delay=timedelta(minutes=5))
    clock.advance(minutes=5)
    with pytest.raises(EventDeliveredError, match="already delivered"):
        client.cancel_event(delayed.id)
    client.run_worker(until_idle=True)
    assert client.get_run(delayed.run_ids[0]).status == "COMPLETED"
    assert client.get_event(delayed.id).canceled_at is None


def test_unknown_event_ids_are_reported(client: runio.Client) -> None:
    _apps(client)
    with pytest.raises(EventNotFoundError, match="No event with id 'nope'"):
        client.get_event("nope")
    with pytest.raises(EventNotFoundError, match="nothing was canceled"):
        client.cancel_event("nope")


def test_io_send_events_get_event_and_cancel_event_inside_a_run(
    client: runio.Client, clock: TestClock
) -> None:
    _apps(client)
    calls: list[str] = []

    @client.define_job(id="scheduler", trigger=runio.event_trigger("plan"))
    async def scheduler(payload: object, io: runio.IO) -> dict[str, Any]:
        calls.append("run")
        sent = await io.send_events(
            "send",
            [
                {"name": "signup", "payload": {"user_id": "u7"}},
                {"name": "invoice", "payload": {"n": 1}, "delay": 3600},
            ],
        )
        reminder = sent[1]["id"]
        got = await io.get_event("read", reminder)
        canceled = await io.cancel_event("cancel", reminder)
        try:
            await io.cancel_event("cancel-again", reminder)
        except EventDeliveredError as exc:
            again = str(exc)
        await io.wait("pause", 10)  # the replay after it sends and cancels nothing again
        return {
            "sent": sent,
            "deliver_at": got.deliver_at,
            "canceled_at": canceled.canceled_at,
            "again": again,
        }

    run_id = client.send_event("plan").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=10)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert calls == ["run", "run"]
    out = run.output
    start = clock.now() - 10
    assert out["deliver_at"] == start + 3600
    assert out["canceled_at"] == start
    assert "already canceled" in out["again"]
    signup, invoice = out["sent"]
    assert client.get_run(signup["run_ids"][0]).output == "welcome u7"
    assert client.get_run(invoice["run_ids"][0]).status == "CANCELED"
    assert len(client.list_runs(job_id="welcome")) == 1  # sent exactly once
    task = run.task("send")
    assert (task.kind, task.name) == ("event", "Send 2 events")
