"""Replay: a run's function is called again after every pause, but completed tasks never are.

The contract (DESIGN.md §4, "Runs and replay"): every ``io.run_task`` whose result is stored
returns it without calling ``fn``; completed results are loaded in one query per execution; logs
are stored once per run however often the function replays.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable
from typing import Any

import runio
from runio.errors import DuplicateCacheKeyError
from runio.testing import TestClock

NO_JITTER = runio.RetryOptions(limit=3, factor=2, min_timeout=10, max_timeout=60, randomize=False)


def count_store_calls(client: runio.Client) -> Counter[str]:
    """Count every call the engine makes on the client's store, by method name."""
    store = client.store
    calls: Counter[str] = Counter()
    for name in dir(type(store)):
        if name.startswith("_") or name in ("url", "close", "close_now"):
            continue
        method = getattr(store, name)
        if not callable(method):
            continue

        def wrap(method: Callable[..., Any], name: str) -> Callable[..., Any]:
            if inspect.iscoroutinefunction(method):

                async def counted_async(*args: Any, **kwargs: Any) -> Any:
                    calls[name] += 1
                    return await method(*args, **kwargs)

                return counted_async

            def counted(*args: Any, **kwargs: Any) -> Any:
                calls[name] += 1
                return method(*args, **kwargs)

            return counted

        setattr(store, name, wrap(method, name))
    return calls


def test_completed_tasks_are_not_called_again_across_waits_and_retry_delays(
    client: runio.Client, clock: TestClock
) -> None:
    calls: Counter[str] = Counter()
    counts: list[int] = []

    def tracked(name: str, result: Any) -> Callable[[runio.Task], Any]:
        def fn(task: runio.Task) -> Any:
            calls[name] += 1
            return result

        return fn

    def flaky(task: runio.Task) -> str:
        calls["flaky"] += 1
        if task.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "steady"

    @client.define_job(id="replayed", trigger=runio.event_trigger("replayed"))
    async def replayed(payload: object, io: runio.IO, ctx: runio.RunContext) -> list[Any]:
        counts.append(ctx.execution_count)
        a = await io.run_task("a", tracked("a", {"n": 1}))
        await io.wait("first-wait", 60)
        b = await io.run_task("b", tracked("b", [1, 2]))
        c = await io.run_task("flaky", flaky, retry=NO_JITTER)
        await io.wait("second-wait", 60)
        d = await io.run_task("d", tracked("d", "done"))
        return [a, b, c, d]

    run_id = client.send_event("replayed").run_ids[0]
    client.run_worker(until_idle=True)  # a, then suspends on the first wait
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)  # b, flaky fails: suspends for its retry delay
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=10)
    client.run_worker(until_idle=True)  # flaky succeeds, then the second wait
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=60)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == [{"n": 1}, [1, 2], "steady", "done"]
    assert calls == {"a": 1, "b": 1, "flaky": 2, "d": 1}
    assert counts == [1, 2, 3, 4]
    assert run.execution_count == 4
    assert [t.cache_key for t in run.tasks] == ["a", "first-wait", "b", "flaky", "second-wait", "d"]


def test_a_replayed_task_returns_its_stored_output_not_a_new_value(
    client: runio.Client, clock: TestClock
) -> None:
    seen: list[Any] = []
    draws = iter(range(100))

    @client.define_job(id="stable", trigger=runio.event_trigger("stable"))
    async def stable(payload: object, io: runio.IO) -> Any:
        value = await io.run_task("draw", lambda task: {"value": next(draws)})
        seen.append(value)
        await io.wait("pause", 5)
        return value

    run_id = client.send_event("stable").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert seen == [{"value": 0}, {"value": 0}]
    assert run.output == {"value": 0}
    assert run.task("draw").output == {"value": 0}


OUTPUTS: list[Any] = [
    {"nested": [1, 2.5, None, True, "ü"]},
    ["a", 1],
    "text with ü and 🫡",
    "",
    0,
    -7,
    10**30,
    1.0,
    2.5e-8,
    None,
    True,
    False,
]
KEYS: list[Any] = [
    "plain",
    "ünïcode",
    "with:colon",
    ["seq", 1, 2.5, None, True],
    ("tuple", ["nested", 3]),
    ["emoji", "🫡"],
    "t" * 300,
    "one",
    ["two"],
    "three",
    "four",
    "five",
]


def test_every_kind_of_key_and_output_replays_as_it_first_came_back(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[Any] = []
    returned: list[list[Any]] = []

    @client.define_job(id="kinds", trigger=runio.event_trigger("kinds"))
    async def kinds(payload: object, io: runio.IO) -> int:
        got: list[Any] = []
        for key, output in zip(KEYS, OUTPUTS, strict=True):

            def fn(task: runio.Task, key: Any = key, output: Any = output) -> Any:
                calls.append(key)
                return output

            got.append(await io.run_task(key, fn))

        async def parent(task: runio.Task) -> Any:
            return await io.run_task(["child", "ü"], lambda child: calls.append("child") or 7)

        got.append(await io.run_task("parent", parent))
        returned.append(got)
        await io.wait("pause", 5)
        return len(got)

    run_id = client.send_event("kinds").run_ids[0]
    client.run_worker(until_idle=True)
    first_calls = list(calls)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    assert client.get_run(run_id).status == "COMPLETED"
    assert calls == first_calls == [*KEYS, "child"], "no task ran again"
    first, replayed = returned
    assert replayed == first == [*OUTPUTS, 7]
    assert [type(v) for v in replayed] == [type(v) for v in first]


def test_a_plain_def_job_and_io_sync_replay_stored_tasks_as_they_first_came_back(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[Any] = []
    returned: list[list[Any]] = []

    @client.define_job(id="plain", trigger=runio.event_trigger("plain"))
    def plain(payload: object, io: runio.SyncIO, ctx: runio.RunContext) -> int:
        got: list[Any] = []
        if ctx.execution_count == 1:  # the same cache key as the child's below, at the top level
            io.run_task(["child", "ü"], lambda task: calls.append("top") or "top")
        for key, output in zip(KEYS, OUTPUTS, strict=True):

            def fn(task: runio.Task, key: Any = key, output: Any = output) -> Any:
                calls.append(key)
                return output

            got.append(io.run_task(key, fn))

        def parent(task: runio.Task) -> Any:
            # Runs again in the second execution (its wait had not ended): the child replays.
            child = io.sync.run_task(["child", "ü"], lambda child: calls.append("child") or 7)
            io.sync.wait("inner", 5)
            return child

        got.append(io.run_task("typed", lambda task: {"n": 1}, output_type=dict[str, float]))
        got.append(io.run_task("parent", parent))
        returned.append(got)
        return len(got)

    run_id = client.send_event("plain").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    assert calls == ["top", *KEYS, "child"]
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert calls == ["top", *KEYS, "child"], "no task ran again"
    (replayed,) = returned
    assert replayed == [*OUTPUTS, {"n": 1.0}, 7], "the child's own output, not the top task's"
    assert [type(v) for v in replayed] == [type(v) for v in [*OUTPUTS, {}, 7]]
    assert type(replayed[-2]["n"]) is float, "output_type parses the stored output"
    assert run.task("parent", ["child", "ü"]).parent_id == run.task("parent").id


def test_a_plain_def_job_reports_a_replayed_key_used_again(
    client: runio.Client, clock: TestClock
) -> None:
    caught: list[DuplicateCacheKeyError] = []

    @client.define_job(id="plain-again", trigger=runio.event_trigger("plain-again"))
    def plain_again(payload: object, io: runio.SyncIO) -> int:
        first = io.run_task("charge", lambda task: 1)
        io.wait("pause", 5)
        try:
            io.run_task("charge", lambda task: 2)
        except DuplicateCacheKeyError as exc:
            caught.append(exc)
        return first

    run_id = client.send_event("plain-again").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    assert (client.get_run(run_id).status, client.get_run(run_id).output) == ("COMPLETED", 1)
    assert len(caught) == 1 and caught[0].cache_key == "charge"


def test_io_sync_in_async_code_is_an_error_for_a_stored_task_too(
    client: runio.Client, clock: TestClock
) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="misused", trigger=runio.event_trigger("misused"))
    async def misused(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        if ctx.execution_count == 1:
            await io.run_task("stored", lambda task: "stored")
            await io.wait("pause", 5)
        try:
            io.sync.run_task("stored", lambda task: "never")
        except runio.errors.ConfigurationError as exc:
            caught.append(exc)
        return await io.run_task("stored", lambda task: "never")

    run_id = client.send_event("misused").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    assert len(caught) == 1 and "await io.run_task" in str(caught[0])
    assert client.get_run(run_id).output == "stored", "the failed call claimed nothing"


def test_a_replayed_key_used_again_in_the_same_scope_is_a_duplicate(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    caught: list[DuplicateCacheKeyError] = []

    @client.define_job(id="again", trigger=runio.event_trigger("again"))
    async def again(payload: object, io: runio.IO) -> list[int]:
        got = [await io.run_task("charge", lambda task: calls.append(1) or 1)]
        await io.wait("pause", 5)
        try:  # the second execution replays "charge" above, then comes here
            got.append(await io.run_task("charge", lambda task: calls.append(2) or 2))
        except DuplicateCacheKeyError as exc:
            caught.append(exc)
        return got

    run_id = client.send_event("again").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", [1])
    assert calls == [1]
    assert len(caught) == 1 and caught[0].cache_key == "charge"
    assert [t.cache_key for t in run.tasks] == ["charge", "pause"]


def test_a_replayed_task_is_a_task_boundary_too(client: runio.Client, clock: TestClock) -> None:
    reached: list[Any] = []

    @client.define_job(id="bounded", trigger=runio.event_trigger("bounded"))
    async def bounded(payload: object, io: runio.IO, ctx: runio.RunContext) -> str:
        if ctx.execution_count == 2:
            await client.cancel_run_async(ctx.run_id)
            reached.append("canceled")
        reached.append(await io.run_task("first", lambda task: "first"))
        await io.wait("pause", 5)
        return "finished"

    run_id = client.send_event("bounded").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    assert reached == ["first", "canceled"], "the cancel stops the run at the stored task"
    run = client.get_run(run_id)
    assert (run.status, run.output) == ("CANCELED", None)


def test_waits_already_over_replay_without_waiting_again(
    client: runio.Client, clock: TestClock
) -> None:
    seen: list[Any] = []

    @client.define_job(id="waits", trigger=runio.event_trigger("waits"))
    async def waits(payload: object, io: runio.IO) -> Any:
        await io.wait("nap", 5)
        event = await io.wait_for_event("approval", "approved", timeout=60)
        seen.append(event.payload)
        await io.wait("nap-again", 5)  # a third execution replays both waits above
        return event.payload

    @client.define_job(id="approver", trigger=runio.event_trigger("approved"))
    async def approver(payload: object, io: runio.IO) -> None:
        return None

    run_id = client.send_event("waits").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).task("approval").status == "WAITING"
    client.send_event("approved", {"by": "ada"})
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"  # on nap-again
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert (run.status, run.output) == ("COMPLETED", {"by": "ada"})
    assert seen == [{"by": "ada"}, {"by": "ada"}]
    assert [t.status for t in run.tasks] == ["COMPLETED"] * 3


def test_the_execution_count_grows_with_every_execution(
    client: runio.Client, clock: TestClock
) -> None:
    counts: list[int] = []

    @client.define_job(id="counted", trigger=runio.event_trigger("counted"))
    async def counted(payload: object, io: runio.IO, ctx: runio.RunContext) -> int:
        counts.append(ctx.execution_count)
        for i in range(3):
            await io.wait(["nap", i], 10)
        return ctx.execution_count

    run_id = client.send_event("counted").run_ids[0]
    client.run_worker(until_idle=True)
    for _ in range(3):
        assert client.get_run(run_id).status == "WAITING"
        clock.advance(seconds=10)
        client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert counts == [1, 2, 3, 4]
    assert run.status == "COMPLETED"
    assert run.output == 4
    assert run.execution_count == 4


def test_completed_results_are_loaded_in_one_query_per_execution(
    client: runio.Client, clock: TestClock
) -> None:
    @client.define_job(id="many", trigger=runio.event_trigger("many"))
    async def many(payload: dict[str, int], io: runio.IO) -> int:
        total = 0
        for i in range(payload["tasks"]):
            total += await io.run_task(["task", i], lambda task: 1)
        await io.wait("pause", payload["wait"])
        return total

    small = client.send_event("many", {"tasks": 2, "wait": 30}).run_ids[0]
    large = client.send_event("many", {"tasks": 60, "wait": 60}).run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(small).status == "WAITING"
    assert client.get_run(large).status == "WAITING"

    calls = count_store_calls(client)
    clock.advance(seconds=30)
    client.run_worker(until_idle=True)  # replays the run with 2 completed tasks
    replaying_2 = calls.copy()
    assert client.get_run(small).output == 2
    calls.clear()
    clock.advance(seconds=30)
    client.run_worker(until_idle=True)  # replays the run with 60 completed tasks
    replaying_60 = calls.copy()
    assert client.get_run(large).output == 60

    # Replaying 60 completed tasks costs exactly the store calls that replaying 2 costs: a
    # dictionary lookup per task, no round trip. (How often the idle worker looks for more runs
    # depends on how fast the execution ends compared with a claim's round trip: not counted.)
    for counted in (replaying_2, replaying_60):
        counted.pop("claim_runs", None)
    assert replaying_60 == replaying_2
    loads = {name: n for name, n in replaying_60.items() if name.startswith("load")}
    assert sum(loads.values()) == 1, loads  # one execution: its stored state read once
    assert sum(replaying_60.values()) < 15, replaying_60


def test_a_first_execution_reads_no_stored_state_and_each_later_one_reads_it_once(
    client: runio.Client, clock: TestClock
) -> None:
    """A run claimed for the first time has nothing stored (tasks and log lines are written
    under a lease, and every claim granting one counts an execution): its first execution
    starts without reading the run's state; a later one reads it once, and replays from it."""
    calls: Counter[str] = Counter()

    def once(name: str, value: int) -> Callable[[runio.Task], int]:
        def fn(task: runio.Task) -> int:
            calls[name] += 1
            return value

        return fn

    @client.define_job(id="twice", trigger=runio.event_trigger("twice"))
    async def twice(payload: object, io: runio.IO) -> int:
        io.logger.info("starting")
        first = await io.run_task("first", once("first", 1))
        await io.wait("pause", 30)
        io.logger.info("resumed")
        return first + await io.run_task("second", once("second", 2))

    store_calls = count_store_calls(client)
    run_id = client.send_event("twice").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    assert store_calls["load_run_state"] == 0
    clock.advance(seconds=30)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert (run.status, run.output, run.execution_count) == ("COMPLETED", 3, 2)
    assert store_calls["load_run_state"] == 1
    assert calls == {"first": 1, "second": 1}, "the stored task was replayed, not run again"
    assert [log.message for log in run.logs] == ["starting", "resumed"]


def test_logs_are_stored_once_however_often_the_function_replays(
    client: runio.Client, clock: TestClock
) -> None:
    calls: Counter[str] = Counter()

    @client.define_job(id="chatty", trigger=runio.event_trigger("chatty"))
    async def chatty(payload: object, io: runio.IO) -> str:
        async def parent(task: runio.Task) -> str:
            calls["parent"] += 1
            io.logger.info("inside the task, before its subtask waits")
            await io.wait("inner-wait", 20)
            io.logger.info("inside the task, after its subtask waited")
            return "parent done"

        io.logger.info("before the wait", step=1)
        await io.wait("outer-wait", 10)
        io.logger.warn("after the wait", step=2)
        result = await io.run_task("parent", parent)
        io.logger.error("at the end")
        return result

    run_id = client.send_event("chatty").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=10)
    client.run_worker(until_idle=True)  # suspends inside the task, on its subtask's wait
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=20)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.execution_count == 3
    assert calls["parent"] == 2  # the unfinished task's function itself replays
    messages = Counter(entry.message for entry in run.logs)
    assert messages == {
        "before the wait": 1,
        "after the wait": 1,
        "inside the task, before its subtask waits": 1,
        "inside the task, after its subtask waited": 1,
        "at the end": 1,
    }
    by_message = {entry.message: entry for entry in run.logs}
    assert by_message["before the wait"].level == "info"
    assert by_message["before the wait"].data == {"step": 1}
    assert by_message["after the wait"].level == "warn"
    parent_task = run.task("parent")
    assert by_message["inside the task, before its subtask waits"].task_id == parent_task.id
    assert by_message["at the end"].task_id is None


def test_logs_of_each_retry_attempt_are_kept(client: runio.Client, clock: TestClock) -> None:
    # A retry attempt is new work, not a replay: what it logs must not be dropped as a repeat.
    @client.define_job(id="retry-logs", trigger=runio.event_trigger("retry-logs"))
    async def retry_logs(payload: object, io: runio.IO) -> str:
        async def flaky(task: runio.Task) -> str:
            io.logger.info(f"attempt {task.attempt} starting")
            if task.attempt < 3:
                raise RuntimeError(f"attempt {task.attempt} failed")
            io.logger.info("succeeded")
            return "ok"

        return await io.run_task("flaky", flaky, retry=NO_JITTER.replace(min_timeout=1))

    run_id = client.send_event("retry-logs").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    clock.advance(seconds=2)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert [entry.message for entry in run.logs] == [
        "attempt 1 starting",
        "attempt 2 starting",
        "attempt 3 starting",
        "succeeded",
    ]
