"""Durable waits: ``io.wait`` and ``io.wait_until`` with a clock the test moves (DESIGN.md §4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import runio
from runio.errors import ConfigurationError
from runio.storage._base import RESUMPTION_HEAD_START_S
from runio.testing import TestClock


def test_a_wait_suspends_the_run_until_its_wake_time(
    client: runio.Client, clock: TestClock
) -> None:
    after: list[float] = []

    @client.define_job(id="napper", trigger=runio.event_trigger("napper"))
    async def napper(payload: object, io: runio.IO) -> str:
        await io.wait("nap", 3 * 3600)
        after.append(clock.now())
        return "awake"

    start = clock.now()
    run_id = client.send_event("napper").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(start + 3 * 3600)
    nap = run.task("nap")
    assert nap.kind == "wait"
    assert nap.status == "WAITING"
    assert nap.wake_at == pytest.approx(start + 3 * 3600)
    assert after == []

    clock.advance(hours=2, minutes=59, seconds=59)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    assert after == []

    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "awake"
    assert run.task("nap").status == "COMPLETED"
    assert after == [start + 3 * 3600]


def test_wait_until_wakes_at_the_given_time(client: runio.Client, clock: TestClock) -> None:
    when = datetime.fromtimestamp(clock.now(), UTC) + timedelta(days=2, minutes=30)

    @client.define_job(id="until", trigger=runio.event_trigger("until"))
    async def until(payload: object, io: runio.IO) -> str:
        await io.wait_until("appointment", when)
        return "on time"

    run_id = client.send_event("until").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(when.timestamp())
    assert run.task("appointment").wake_at == pytest.approx(when.timestamp())

    clock.advance(days=2, minutes=29)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"

    clock.advance(minutes=1)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "on time"


def test_wait_until_accepts_any_timezone(client: runio.Client, clock: TestClock) -> None:
    tz = timezone(timedelta(hours=-5))
    when = datetime.fromtimestamp(clock.now() + 600, tz)

    @client.define_job(id="tz", trigger=runio.event_trigger("tz"))
    async def tz_job(payload: object, io: runio.IO) -> str:
        await io.wait_until("later", when)
        return "done"

    run_id = client.send_event("tz").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).ready_at == pytest.approx(clock.now() + 600)


def test_a_wait_in_the_past_or_of_zero_seconds_does_not_suspend(
    client: runio.Client, clock: TestClock
) -> None:
    past = datetime.fromtimestamp(clock.now() - 60, UTC)

    @client.define_job(id="no-pause", trigger=runio.event_trigger("no-pause"))
    async def no_pause(payload: object, io: runio.IO, ctx: runio.RunContext) -> int:
        await io.wait_until("past", past)
        await io.wait("zero", 0)
        return ctx.execution_count

    run_id = client.send_event("no-pause").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == 1
    assert [t.status for t in run.tasks] == ["COMPLETED", "COMPLETED"]


def test_waits_one_after_another(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(id="steps", trigger=runio.event_trigger("steps"))
    async def steps(payload: object, io: runio.IO) -> list[str]:
        done = []
        for i, seconds in enumerate([10, 20, 30]):
            await io.wait(["step", i], seconds)
            done.append(f"step {i}")
        return done

    start = clock.now()
    run_id = client.send_event("steps").run_ids[0]
    for wake in [start + 10, start + 30, start + 60]:
        client.run_worker(until_idle=True)
        run = client.get_run(run_id)
        assert run.status == "WAITING"
        assert run.ready_at == pytest.approx(wake)
        clock.advance(seconds=wake - clock.now())
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == ["step 0", "step 1", "step 2"]
    assert run.execution_count == 4


def test_a_waiting_run_holds_no_worker_slot(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(id="slot", trigger=runio.event_trigger("slot"))
    async def slot(payload: dict[str, bool], io: runio.IO) -> str:
        if payload["wait"]:
            await io.wait("long", 3600)
        return "done"

    waiting = [client.send_event("slot", {"wait": True}).run_ids[0] for _ in range(3)]
    quick = client.send_event("slot", {"wait": False}).run_ids[0]
    client.run_worker(concurrency=1, until_idle=True)  # one slot, shared by all four runs

    assert [client.get_run(r).status for r in waiting] == ["WAITING"] * 3
    assert client.get_run(quick).status == "COMPLETED"


def test_a_run_waking_goes_before_new_runs_within_the_head_start(
    client: runio.Client, clock: TestClock
) -> None:
    """With one slot and a backlog, a wake-up is not held up behind runs that arrived during
    its wait; a run that has been queued for longer than the head start still goes first."""
    order: list[str] = []

    @client.define_job(id="napper", trigger=runio.event_trigger("napper"))
    async def napper(payload: object, io: runio.IO) -> None:
        await io.wait("nap", 60)
        order.append("napper woke")

    @client.define_job(id="fresh", trigger=runio.event_trigger("fresh"))
    async def fresh(payload: dict[str, str], io: runio.IO) -> None:
        order.append(payload["name"])

    head = RESUMPTION_HEAD_START_S
    client.send_event("napper")
    client.run_worker(until_idle=True)
    clock.advance(seconds=60 - head - 1)
    client.send_event("fresh", {"name": "queued long before the wake-up"})
    clock.advance(seconds=2)
    client.send_event("fresh", {"name": "queued during the head start"})
    clock.advance(seconds=head - 1)  # the napper is due now
    client.send_event("fresh", {"name": "queued at the wake-up"})
    client.run_worker(concurrency=1, until_idle=True)

    assert order == [
        "queued long before the wake-up",
        "napper woke",
        "queued during the head start",
        "queued at the wake-up",
    ]


def test_time_scale_shortens_waits(
    make_client: Callable[..., runio.Client], clock: TestClock
) -> None:
    client = make_client(time_scale=0.001)
    when = datetime.fromtimestamp(clock.now() + 1000, UTC)

    @client.define_job(id="scaled", trigger=runio.event_trigger("scaled"))
    async def scaled(payload: object, io: runio.IO) -> str:
        await io.wait("three-hours", 3 * 3600)
        await io.wait_until("later", when)
        return "done"

    start = clock.now()
    run_id = client.send_event("scaled").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).ready_at == pytest.approx(start + 10.8)
    clock.advance(seconds=10.8)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "WAITING"
    # what is left of the 1000 s, scaled
    assert run.ready_at == pytest.approx(clock.now() + (1000 - 10.8) * 0.001)
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "COMPLETED"


def test_runio_time_scale_environment_variable(
    make_client: Callable[..., runio.Client], clock: TestClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNIO_TIME_SCALE", "0.01")
    client = make_client()

    @client.define_job(id="env-scaled", trigger=runio.event_trigger("env-scaled"))
    async def env_scaled(payload: object, io: runio.IO) -> str:
        await io.wait("hour", 3600)
        return "done"

    run_id = client.send_event("env-scaled").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).ready_at == pytest.approx(clock.now() + 36)
    clock.advance(seconds=36)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "COMPLETED"


def test_time_scale_shortens_retry_delays(
    make_client: Callable[..., runio.Client], clock: TestClock
) -> None:
    client = make_client(time_scale=0.5)
    options = runio.RetryOptions(limit=2, min_timeout=100, max_timeout=100, randomize=False)

    def flaky(task: runio.Task) -> str:
        if task.attempt == 1:
            raise RuntimeError("first")
        return "second"

    @client.define_job(id="scaled-retry", trigger=runio.event_trigger("scaled-retry"))
    async def scaled_retry(payload: object, io: runio.IO) -> str:
        return await io.run_task("flaky", flaky, retry=options)

    run_id = client.send_event("scaled-retry").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).ready_at == pytest.approx(clock.now() + 50)


@pytest.mark.parametrize("value", ["0", "-1", "fast"])
def test_a_bad_runio_time_scale_is_a_configuration_error(
    make_client: Callable[..., runio.Client], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RUNIO_TIME_SCALE", value)
    with pytest.raises(ConfigurationError) as info:
        make_client()
    assert "RUNIO_TIME_SCALE" in str(info.value)


@pytest.mark.parametrize("value", [0, -0.5, "1"])
def test_a_bad_time_scale_argument_is_a_configuration_error(
    make_client: Callable[..., runio.Client], value: Any
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_client(time_scale=value)
    assert "time_scale" in str(info.value)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda io: io.wait("w", -1), ["seconds", "-1"]),
        (lambda io: io.wait("w", "10"), ["seconds"]),
        (lambda io: io.wait("w", True), ["seconds"]),
        (lambda io: io.wait("w", float("nan")), ["seconds"]),
        (lambda io: io.wait_until("w", datetime(2030, 1, 1)), ["timezone-aware"]),
        (lambda io: io.wait_until("w", 1_800_000_100), ["datetime"]),
    ],
    ids=["negative", "string", "bool", "nan", "naive-datetime", "timestamp"],
)
def test_bad_wait_arguments_are_configuration_errors(
    client: runio.Client, call: Callable[[runio.IO], Any], words: list[str]
) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="bad-wait", trigger=runio.event_trigger("bad-wait"))
    async def bad_wait(payload: object, io: runio.IO) -> str:
        try:
            await call(io)
        except ConfigurationError as exc:
            caught.append(exc)
        return "went on"

    run_id = client.send_event("bad-wait").run_ids[0]
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    for word in words:
        assert word in str(caught[0])
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.tasks == []


def test_an_unhandled_bad_wait_fails_the_run(client: runio.Client) -> None:
    @client.define_job(id="bad-wait-run", trigger=runio.event_trigger("bad-wait-run"))
    async def bad_wait_run(payload: object, io: runio.IO) -> None:
        await io.wait("w", -5)

    run_id = client.send_event("bad-wait-run").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None
    assert run.error["type"] == "ConfigurationError"


def test_except_exception_does_not_swallow_a_wait(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(id="guarded", trigger=runio.event_trigger("guarded"))
    async def guarded(payload: object, io: runio.IO) -> str:
        try:
            await io.wait("nap", 60)
        except Exception:
            return "swallowed the suspension"
        return "awake"

    run_id = client.send_event("guarded").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "awake"


def test_a_sync_task_function_may_wait(client: runio.Client, clock: TestClock) -> None:
    calls: list[str] = []

    @client.define_job(id="sync-wait", trigger=runio.event_trigger("sync-wait"))
    async def sync_wait(payload: object, io: runio.IO) -> str:
        def step(task: runio.Task) -> str:
            calls.append("step")
            io.sync.wait("inside", 30)
            calls.append("after")
            return "stepped"

        return await io.run_task("step", step)

    run_id = client.send_event("sync-wait").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.task("step", "inside").status == "WAITING"
    assert calls == ["step"]

    clock.advance(seconds=30)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "stepped"
    assert calls == ["step", "step", "after"]
    assert len(run.task("step").attempts) == 1


def test_a_wait_and_a_task_may_not_share_a_key(client: runio.Client) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="shared-key", trigger=runio.event_trigger("shared-key"))
    async def shared_key(payload: object, io: runio.IO) -> None:
        await io.run_task("step", lambda task: 1)
        try:
            await io.wait("step", 10)
        except runio.errors.DuplicateCacheKeyError as exc:
            caught.append(exc)

    run_id = client.send_event("shared-key").run_ids[0]
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    assert client.get_run(run_id).status == "COMPLETED"
