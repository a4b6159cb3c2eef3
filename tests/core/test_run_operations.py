"""Operations on runs: cancel, retry, replay, max_duration, lookups (DESIGN.md §3-§4)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

import runio
from runio.errors import InvalidRunStateError, RunNotFoundError
from runio.testing import TestClock

# -- cancel -----------------------------------------------------------------------------------


def test_cancel_a_queued_run(client: runio.Client) -> None:
    calls: list[str] = []

    @client.define_job(id="queued", trigger=runio.event_trigger("queued"))
    async def queued(payload: object, io: runio.IO) -> None:
        calls.append("started")

    run_id = client.send_event("queued").run_ids[0]
    assert client.get_run(run_id).status == "QUEUED"
    canceled = client.cancel_run(run_id)
    assert canceled.id == run_id
    assert canceled.status == "CANCELED"
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert run.ended_at is not None
    assert run.execution_count == 0
    assert calls == []


def test_cancel_a_waiting_run(client: runio.Client, clock: TestClock) -> None:
    calls: Counter[str] = Counter()

    @client.define_job(id="waiting", trigger=runio.event_trigger("waiting"))
    async def waiting(payload: object, io: runio.IO) -> str:
        calls["executions"] += 1
        await io.wait("long-wait", 3600)
        calls["after the wait"] += 1
        await io.run_task("after", lambda task: calls.update(["task after the wait"]))
        return "done"

    run_id = client.send_event("waiting").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"

    client.cancel_run(run_id)
    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert run.task("long-wait").status == "CANCELED"

    clock.advance(hours=2)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert run.output is None
    assert run.task("long-wait").status == "CANCELED"
    assert [t.cache_key for t in run.tasks] == ["long-wait"]
    assert calls == {"executions": 1}


def assert_nothing_left_running(run: runio.Run) -> None:
    """A run that ended shows no task as pending, running or waiting, nor an open attempt."""
    for task in run.all_tasks():
        assert task.status in ("COMPLETED", "ERRORED", "CANCELED"), (task.cache_key, task.status)
        for attempt in task.attempts:
            assert attempt.status != "STARTED", (task.cache_key, attempt)
            assert attempt.ended_at is not None, (task.cache_key, attempt)


def test_cancel_a_run_waiting_inside_tasks_ends_every_task(
    client: runio.Client, clock: TestClock
) -> None:
    calls: Counter[str] = Counter()
    options = runio.RetryOptions(limit=3, min_timeout=600, max_timeout=600, randomize=False)

    @client.define_job(id="nested-wait", trigger=runio.event_trigger("nested-wait"))
    async def nested_wait(payload: object, io: runio.IO) -> None:
        async def waits_inside(task: runio.Task) -> None:
            calls["waits_inside"] += 1
            await io.wait("inner-wait", 3600)

        def failing_child(task: runio.Task) -> None:
            raise RuntimeError("child down")

        async def retries_inside(task: runio.Task) -> None:
            calls["retries_inside"] += 1
            await io.run_task("child", failing_child, retry=options)

        await asyncio.gather(
            io.run_task("waits-inside", waits_inside), io.run_task("retries-inside", retries_inside)
        )

    run_id = client.send_event("nested-wait").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    client.cancel_run(run_id)
    clock.advance(hours=2)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert calls == {"waits_inside": 1, "retries_inside": 1}
    assert run.task("waits-inside", "inner-wait").status == "CANCELED"
    assert_nothing_left_running(run)


def test_cancel_a_run_waiting_for_a_retry(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []
    options = runio.RetryOptions(limit=3, min_timeout=60, max_timeout=60, randomize=False)

    def flaky(task: runio.Task) -> None:
        calls.append(task.attempt)
        raise RuntimeError("down")

    @client.define_job(id="retrying", trigger=runio.event_trigger("retrying"))
    async def retrying(payload: object, io: runio.IO) -> None:
        await io.run_task("flaky", flaky, retry=options)

    run_id = client.send_event("retrying").run_ids[0]
    client.run_worker(until_idle=True)
    client.cancel_run(run_id)
    clock.advance(minutes=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert calls == [1]
    assert run.task("flaky").status == "CANCELED"


def test_cancel_an_executing_run_stops_it_at_the_next_task(client: runio.Client) -> None:
    calls: list[str] = []

    @client.define_job(id="executing", trigger=runio.event_trigger("executing"))
    async def executing(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        def cancel_myself(task: runio.Task) -> str:
            calls.append("cancel")
            client.cancel_run(ctx.run_id)  # as an operator would, from another thread
            return "canceled it"

        await io.run_task("cancel", cancel_myself)
        await io.run_task("next", lambda task: calls.append("next"))
        calls.append("after next")
        return "finished"

    run_id = client.send_event("executing").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert calls == ["cancel"]
    assert run.status == "CANCELED"
    assert run.output is None
    assert run.task("cancel").status == "COMPLETED"
    assert [t.cache_key for t in run.tasks] == ["cancel"]


def test_cancel_an_executing_run_from_an_async_task(client: runio.Client) -> None:
    calls: list[str] = []

    @client.define_job(id="executing-async", trigger=runio.event_trigger("executing-async"))
    async def executing_async(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        async def cancel_myself(task: runio.Task) -> None:
            calls.append("cancel")
            await client.cancel_run_async(ctx.run_id)

        await io.run_task("cancel", cancel_myself)
        await io.run_task("next", lambda task: calls.append("next"))
        return "finished"

    run_id = client.send_event("executing-async").run_ids[0]
    client.run_worker(until_idle=True)

    assert calls == ["cancel"]
    assert client.get_run(run_id).status == "CANCELED"


def test_cancel_from_another_client_stops_the_run_at_the_next_task(
    client: runio.Client, make_client: Callable[..., runio.Client]
) -> None:
    operator = make_client()  # another process's client on the same database
    calls: list[str] = []

    @client.define_job(id="remote-cancel", trigger=runio.event_trigger("remote-cancel"))
    async def remote_cancel(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        async def cancel_elsewhere(task: runio.Task) -> None:
            calls.append("cancel")
            await operator.cancel_run_async(ctx.run_id)

        await io.run_task("cancel", cancel_elsewhere)
        await io.run_task("next", lambda task: calls.append("next"))
        return "finished"

    run_id = client.send_event("remote-cancel").run_ids[0]
    client.run_worker(until_idle=True)

    assert calls == ["cancel"]
    assert client.get_run(run_id).status == "CANCELED"


def test_cancel_from_the_job_body_stops_before_the_next_task(client: runio.Client) -> None:
    calls: list[str] = []

    @client.define_job(id="self-cancel", trigger=runio.event_trigger("self-cancel"))
    async def self_cancel(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        await io.run_task("first", lambda task: calls.append("first"))
        await client.cancel_run_async(ctx.run_id)
        await io.run_task("second", lambda task: calls.append("second"))
        return "finished"

    run_id = client.send_event("self-cancel").run_ids[0]
    client.run_worker(until_idle=True)

    assert calls == ["first"]
    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert [t.cache_key for t in run.tasks] == ["first"]


@pytest.mark.parametrize("outcome", ["COMPLETED", "FAILED", "CANCELED"])
def test_cancel_of_a_finished_run_raises(client: runio.Client, outcome: str) -> None:
    @client.define_job(id="finished", trigger=runio.event_trigger("finished"))
    async def finished(payload: dict[str, bool], io: runio.IO) -> str:
        if payload["fail"]:
            raise RuntimeError("failed")
        return "ok"

    run_id = client.send_event("finished", {"fail": outcome == "FAILED"}).run_ids[0]
    if outcome == "CANCELED":
        client.cancel_run(run_id)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == outcome

    with pytest.raises(InvalidRunStateError) as info:
        client.cancel_run(run_id)
    assert info.value.run_id == run_id
    assert info.value.status == outcome
    assert outcome in str(info.value)
    assert client.get_run(run_id).status == outcome


# -- retry run --------------------------------------------------------------------------------


def test_retry_run_reattempts_errored_tasks_and_reuses_completed_ones(
    client: runio.Client,
) -> None:
    calls: Counter[str] = Counter()
    retries: list[bool] = []
    broken = True

    def fetch(task: runio.Task) -> dict[str, str]:
        calls["fetch"] += 1
        return {"user": "ada"}

    def charge(task: runio.Task) -> str:
        calls["charge"] += 1
        if broken:
            raise RuntimeError("payment provider down")
        return f"charged on attempt {task.attempt}"

    @client.define_job(id="checkout", trigger=runio.event_trigger("checkout"))
    async def checkout(payload: object, io: runio.IO, ctx: runio.RunContext) -> list[object]:
        retries.append(ctx.is_retry)
        user = await io.run_task("fetch", fetch)
        receipt = await io.run_task("charge", charge)
        return [user, receipt]

    run_id = client.send_event("checkout").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.task("charge").status == "ERRORED"

    broken = False
    retried = client.retry_run(run_id)
    assert retried.id == run_id
    assert retried.status == "QUEUED"
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == [{"user": "ada"}, "charged on attempt 2"]
    assert run.error is None
    assert run.is_retry is True
    assert calls == {"fetch": 1, "charge": 2}
    assert retries == [False, True]
    charge_task = run.task("charge")
    assert charge_task.status == "COMPLETED"
    assert charge_task.error is None
    assert [(a.number, a.status) for a in charge_task.attempts] == [
        (1, "ERRORED"),
        (2, "COMPLETED"),
    ]
    assert [t.id for t in run.tasks] == [t.id for t in client.get_run(run_id).tasks]


def test_retry_run_gives_errored_tasks_their_retries_again(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    options = runio.RetryOptions(limit=2, min_timeout=1, max_timeout=1, randomize=False)

    def always_fails(task: runio.Task) -> None:
        calls.append(task.attempt)
        raise RuntimeError(f"attempt {task.attempt}")

    @client.define_job(id="stubborn", trigger=runio.event_trigger("stubborn"))
    async def stubborn(payload: object, io: runio.IO) -> None:
        await io.run_task("task", always_fails, retry=options)

    run_id = client.send_event("stubborn").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "FAILED"
    assert calls == [1, 2]

    client.retry_run(run_id)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert calls == [1, 2, 3, 4]
    assert run.task("task").error is not None
    assert run.task("task").error["message"] == "attempt 4"


def test_retry_run_of_a_failed_subtask_reruns_the_parent_too(client: runio.Client) -> None:
    calls: Counter[str] = Counter()
    broken = True

    @client.define_job(id="tree-retry", trigger=runio.event_trigger("tree-retry"))
    async def tree_retry(payload: object, io: runio.IO) -> str:
        def child(task: runio.Task) -> str:
            calls["child"] += 1
            if broken:
                raise RuntimeError("child broke")
            return "child ok"

        async def parent(task: runio.Task) -> str:
            calls["parent"] += 1
            sibling = await io.run_task("sibling", lambda t: calls.update(["sibling"]) or "sib")
            return f"{sibling} + {await io.run_task('child', child)}"

        return await io.run_task("parent", parent)

    run_id = client.send_event("tree-retry").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "FAILED"

    broken = False
    client.retry_run(run_id)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "sib + child ok"
    assert calls == {"parent": 2, "child": 2, "sibling": 1}


@pytest.mark.parametrize("state", ["COMPLETED", "QUEUED", "WAITING"])
def test_retry_of_a_run_that_has_not_failed_raises(client: runio.Client, state: str) -> None:
    @client.define_job(id="fine", trigger=runio.event_trigger("fine"))
    async def fine(payload: object, io: runio.IO) -> str:
        await io.wait("pause", 60)
        return "ok"

    run_id = client.send_event("fine").run_ids[0]
    if state != "QUEUED":
        client.run_worker(until_idle=True)
    if state == "COMPLETED":
        assert isinstance(client.clock, TestClock)
        client.clock.advance(seconds=60)
        client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == state

    with pytest.raises(InvalidRunStateError) as info:
        client.retry_run(run_id)
    assert info.value.status == state
    assert state in str(info.value)
    assert client.get_run(run_id).status == state


# -- replay -----------------------------------------------------------------------------------


def test_replay_run_starts_a_new_run_of_the_same_event(client: runio.Client) -> None:
    calls: Counter[str] = Counter()
    seen: list[tuple[str, str, bool]] = []

    @client.define_job(id="replayable", trigger=runio.event_trigger("replayable"))
    async def replayable(payload: dict[str, int], io: runio.IO, ctx: runio.RunContext) -> int:
        seen.append((ctx.run_id, ctx.event.id, ctx.is_retry))
        a = await io.run_task("a", lambda task: calls.update(["a"]) or payload["n"])
        b = await io.run_task("b", lambda task: calls.update(["b"]) or 1)
        return a + b

    event = client.send_event("replayable", {"n": 41})
    original_id = event.run_ids[0]
    client.run_worker(until_idle=True)
    original = client.get_run(original_id)
    assert original.status == "COMPLETED"

    replay = client.replay_run(original_id)
    assert replay.id != original_id
    assert replay.status == "QUEUED"
    assert replay.replay_of == original_id
    assert replay.event_id == event.id
    client.run_worker(until_idle=True)

    replay = client.get_run(replay.id)
    assert replay.status == "COMPLETED"
    assert replay.output == 42
    assert replay.payload == {"n": 41}
    assert calls == {"a": 2, "b": 2}
    assert [t.cache_key for t in replay.tasks] == ["a", "b"]
    original_keys = {t.idempotency_key for t in original.tasks}
    assert not original_keys & {t.idempotency_key for t in replay.tasks}
    assert seen == [(original_id, event.id, False), (replay.id, event.id, False)]
    assert client.get_run(original_id).tasks == original.tasks


def test_replay_of_a_failed_run(client: runio.Client) -> None:
    broken = True

    @client.define_job(id="replay-failed", trigger=runio.event_trigger("replay-failed"))
    async def replay_failed(payload: object, io: runio.IO) -> str:
        def flaky(task: runio.Task) -> str:
            if broken:
                raise RuntimeError("broken")
            return "fixed"

        return await io.run_task("flaky", flaky)

    run_id = client.send_event("replay-failed").run_ids[0]
    client.run_worker(until_idle=True)
    broken = False
    replay_id = client.replay_run(run_id).id
    client.run_worker(until_idle=True)

    assert client.get_run(run_id).status == "FAILED"
    replay = client.get_run(replay_id)
    assert replay.status == "COMPLETED"
    assert replay.output == "fixed"
    assert len(replay.task("flaky").attempts) == 1


# -- max_duration -----------------------------------------------------------------------------


def test_max_duration_times_out_a_waiting_run(client: runio.Client, clock: TestClock) -> None:
    calls: list[str] = []

    @client.define_job(id="bounded", trigger=runio.event_trigger("bounded"), max_duration=600)
    async def bounded(payload: object, io: runio.IO) -> str:
        await io.run_task("before", lambda task: calls.append("before"))
        await io.wait("too-long", 3600)
        await io.run_task("after", lambda task: calls.append("after"))
        return "finished"

    start = clock.now()
    run_id = client.send_event("bounded").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(start + 600)  # woken at the deadline, not the wait

    clock.advance(seconds=599)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"

    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "TIMED_OUT"
    assert run.output is None
    assert run.ended_at is not None
    assert run.error is not None
    assert "max_duration" in run.error["message"]
    assert "600" in run.error["message"]
    assert calls == ["before"]
    assert [t.cache_key for t in run.tasks] == ["before", "too-long"]
    assert run.task("too-long").status == "CANCELED"
    assert_nothing_left_running(run)


def test_max_duration_ends_every_task_of_the_run(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(
        id="bounded-tree", trigger=runio.event_trigger("bounded-tree"), max_duration=60
    )
    async def bounded_tree(payload: object, io: runio.IO) -> None:
        async def parent(task: runio.Task) -> None:
            await io.wait("inner", 3600)

        await io.run_task("parent", parent)

    run_id = client.send_event("bounded-tree").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "TIMED_OUT"
    assert_nothing_left_running(run)


def test_a_timed_out_run_goes_on_when_retried(client: runio.Client, clock: TestClock) -> None:
    # The TIMED_OUT error tells the user to "retry the run to go on".
    calls: list[str] = []

    @client.define_job(id="go-on", trigger=runio.event_trigger("go-on"), max_duration=60)
    async def go_on(payload: object, io: runio.IO) -> str:
        await io.run_task("before", lambda task: calls.append("before"))
        await io.wait("wait", 90)
        await io.run_task("after", lambda task: calls.append("after"))
        return "finished"

    run_id = client.send_event("go-on").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "TIMED_OUT"
    assert run.error is not None
    assert "retry the run" in run.error["message"]

    client.retry_run(run_id)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=30)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert calls == ["before", "after"]


def test_max_duration_counts_from_the_first_execution(
    client: runio.Client, clock: TestClock
) -> None:
    @client.define_job(id="late", trigger=runio.event_trigger("late"), max_duration=100)
    async def late(payload: object, io: runio.IO) -> str:
        await io.wait("short", 50)
        return "in time"

    run_id = client.send_event("late").run_ids[0]
    clock.advance(hours=1)  # queued for an hour before any worker picked it up
    client.run_worker(until_idle=True)
    clock.advance(seconds=50)
    client.run_worker(until_idle=True)

    assert client.get_run(run_id).status == "COMPLETED"


def test_a_run_within_its_max_duration_completes(client: runio.Client, clock: TestClock) -> None:
    @client.define_job(id="quick", trigger=runio.event_trigger("quick"), max_duration=600)
    async def quick(payload: object, io: runio.IO) -> str:
        await io.wait("short", 599)
        return "in time"

    run_id = client.send_event("quick").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=599)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "in time"


@pytest.mark.parametrize("value", [0, -5, True, "60"])
def test_a_bad_max_duration_is_a_job_definition_error(client: runio.Client, value: object) -> None:
    with pytest.raises(runio.errors.JobDefinitionError) as info:

        @client.define_job(id="bad", trigger=runio.event_trigger("bad"), max_duration=value)  # type: ignore[arg-type]
        async def bad(payload: object, io: runio.IO) -> None:
            pass

    assert "max_duration" in str(info.value)


# -- lookups ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        lambda client: client.get_run("run_does_not_exist"),
        lambda client: client.cancel_run("run_does_not_exist"),
        lambda client: client.retry_run("run_does_not_exist"),
        lambda client: client.replay_run("run_does_not_exist"),
    ],
    ids=["get", "cancel", "retry", "replay"],
)
def test_an_unknown_run_id_raises_run_not_found(
    client: runio.Client, operation: Callable[[runio.Client], object]
) -> None:
    with pytest.raises(RunNotFoundError) as info:
        operation(client)
    assert info.value.run_id == "run_does_not_exist"
    assert "run_does_not_exist" in str(info.value)


# -- retry keeps an unknown outcome ------------------------------------------------------------


class _Dropped(Exception):
    """An error after which the call's effect is unknown (e.g. a connection dropped)."""

    outcome_unknown = True


def test_retry_run_keeps_a_tasks_unknown_outcome(client: runio.Client) -> None:
    seen: list[tuple[str, int, bool]] = []

    @client.define_job(id="unknown", trigger=runio.event_trigger("unknown"))
    async def unknown(payload: object, io: runio.IO) -> str:
        def dropped(task: runio.Task) -> str:
            seen.append(("dropped", task.attempt, task.outcome_unknown))
            if task.attempt == 1:
                raise _Dropped("the connection dropped mid-call")
            return "done"

        def plain(task: runio.Task) -> str:
            seen.append(("plain", task.attempt, task.outcome_unknown))
            if task.attempt == 1:
                raise ValueError("a plain failure")
            return "done"

        await io.run_task("plain", plain, retry=runio.RetryOptions(limit=1))
        return await io.run_task("dropped", dropped, retry=runio.RetryOptions(limit=1))

    run_id = client.send_event("unknown").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "FAILED"
    client.retry_run(run_id)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "FAILED"  # "dropped" failed on its first try
    client.retry_run(run_id)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert seen == [
        ("plain", 1, False),
        ("plain", 2, False),  # a plain failure: nothing unknown about it
        ("dropped", 1, False),
        ("dropped", 2, True),  # still unknown after the retry: the next attempt is told
    ]


def test_retry_run_marks_a_task_interrupted_by_a_cancel_as_of_unknown_outcome(
    client: runio.Client,
) -> None:
    seen: list[tuple[str, int, bool]] = []

    @client.define_job(id="interrupted", trigger=runio.event_trigger("interrupted"))
    async def interrupted(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        async def outer(task: runio.Task) -> str:
            seen.append(("outer", task.attempt, task.outcome_unknown))

            def cancel_myself(task: runio.Task) -> str:
                client.cancel_run(ctx.run_id)
                return "canceled it"

            await io.run_task("cancel", cancel_myself)
            await io.run_task("after", lambda task: "after")  # stops here while canceled
            return "outer done"

        return await io.run_task("outer", outer)

    run_id = client.send_event("interrupted").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "CANCELED"
    assert run.task("outer").status == "CANCELED"

    retried = client.retry_run(run_id)
    assert retried.task("outer").status == "PENDING"
    assert retried.task("outer").error is not None
    assert retried.task("outer").error["outcome_unknown"] is True
    assert retried.task("outer", "cancel").status == "COMPLETED"
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert seen == [("outer", 1, False), ("outer", 2, True)]
