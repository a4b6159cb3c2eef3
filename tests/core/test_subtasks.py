"""Subtasks: ``run_task`` inside a task's function nests (DESIGN.md §4, "Subtasks", "Retries")."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import runio
from runio.errors import TaskDepthError, TaskFailedError
from runio.testing import TestClock


def define_nesting_job(client: runio.Client, job_id: str = "nest") -> None:
    """A job whose task ``level-1`` starts ``level-2`` inside it, and so on ``payload`` deep."""

    @client.define_job(id=job_id, trigger=runio.event_trigger(job_id))
    async def nest(payload: dict[str, int], io: runio.IO) -> Any:
        def level(n: int) -> Callable[[runio.Task], Awaitable[Any]]:
            async def fn(task: runio.Task) -> Any:
                if n == payload["levels"]:
                    return {"deepest": n}
                return await io.run_task(f"level-{n + 1}", level(n + 1))

            return fn

        return await io.run_task("level-1", level(1))


def chain(run: runio.Run) -> list[runio.TaskRun]:
    """The tasks of a run that nests one task in each level, outermost first."""
    tasks: list[runio.TaskRun] = []
    level = run.tasks
    while level:
        assert len(level) == 1, [t.cache_key for t in level]
        tasks.append(level[0])
        level = level[0].children
    return tasks


@pytest.mark.parametrize("levels", [5, 20])
def test_nested_tasks_complete_with_the_right_tree(client: runio.Client, levels: int) -> None:
    define_nesting_job(client)

    run_id = client.send_event("nest", {"levels": levels}).run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == {"deepest": levels}
    tasks = chain(run)
    assert [t.cache_key for t in tasks] == [f"level-{n}" for n in range(1, levels + 1)]
    assert all(t.status == "COMPLETED" for t in tasks)
    assert all(t.output == {"deepest": levels} for t in tasks)
    assert tasks[0].parent_id is None
    for parent, child in itertools.pairwise(tasks):
        assert child.parent_id == parent.id
    assert [t.cache_key for t in run.all_tasks()] == [t.cache_key for t in tasks]
    assert run.task(*[f"level-{n}" for n in range(1, levels + 1)]).id == tasks[-1].id


def test_nesting_up_to_the_max_depth_works(make_client: Callable[..., runio.Client]) -> None:
    client = make_client(max_task_depth=4)
    define_nesting_job(client)

    run_id = client.send_event("nest", {"levels": 4}).run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert len(chain(run)) == 4


def test_nesting_past_the_max_depth_fails_with_a_clear_error(
    make_client: Callable[..., runio.Client],
) -> None:
    client = make_client(max_task_depth=3)
    caught: list[BaseException] = []
    called: list[int] = []

    @client.define_job(id="deep", trigger=runio.event_trigger("deep"))
    async def deep(payload: object, io: runio.IO) -> str:
        async def third(task: runio.Task) -> str:
            try:
                await io.run_task("fourth", lambda task: called.append(4))
            except TaskDepthError as exc:
                caught.append(exc)
            return "third"

        async def second(task: runio.Task) -> str:
            return await io.run_task("third", third)

        async def first(task: runio.Task) -> str:
            return await io.run_task("second", second)

        return await io.run_task("first", first)

    run_id = client.send_event("deep").run_ids[0]
    client.run_worker(until_idle=True)

    assert called == []
    assert len(caught) == 1
    message = str(caught[0])
    assert "max_task_depth=3" in message
    assert "runio.Client(max_task_depth=" in message
    assert "fourth" in message
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert [t.cache_key for t in run.all_tasks()] == ["first", "second", "third"]


def test_an_uncaught_depth_error_fails_the_run(make_client: Callable[..., runio.Client]) -> None:
    client = make_client(max_task_depth=2)
    define_nesting_job(client)

    run_id = client.send_event("nest", {"levels": 3}).run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    first, second = chain(run)
    assert second.status == "ERRORED"
    assert second.error is not None
    assert second.error["type"] == "TaskDepthError"
    assert "max_task_depth=2" in second.error["message"]
    assert first.status == "ERRORED"
    assert first.error is not None
    assert first.error["type"] == "SubtaskFailed"


def test_a_failed_child_fails_its_parent_without_retrying_the_parent(
    client: runio.Client,
) -> None:
    calls: Counter[str] = Counter()
    parent_retry = runio.RetryOptions(limit=5, min_timeout=1, max_timeout=1, randomize=False)

    @client.define_job(id="child-fails", trigger=runio.event_trigger("child-fails"))
    async def child_fails(payload: object, io: runio.IO) -> str:
        def child(task: runio.Task) -> str:
            calls["child"] += 1
            raise ValueError("card declined")

        async def parent(task: runio.Task) -> str:
            calls["parent"] += 1
            return await io.run_task("charge", child)

        return await io.run_task("checkout", parent, retry=parent_retry)

    run_id = client.send_event("child-fails").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert calls == {"parent": 1, "child": 1}
    assert run.status == "FAILED"
    parent, child = run.task("checkout"), run.task("checkout", "charge")
    assert child.status == "ERRORED"
    assert child.error is not None
    assert child.error["type"] == "ValueError"
    assert child.error["message"] == "card declined"
    assert parent.status == "ERRORED"
    assert parent.retry_at is None
    assert len(parent.attempts) == 1
    assert parent.error is not None
    assert parent.error["type"] == "SubtaskFailed"
    assert "charge" in parent.error["message"]
    assert "card declined" in parent.error["message"]
    assert run.error is not None
    assert "checkout" in run.error["message"]


def test_a_child_that_exhausts_its_retries_fails_the_parent_once(
    client: runio.Client, clock: TestClock
) -> None:
    calls: Counter[str] = Counter()
    retry = runio.RetryOptions(limit=2, min_timeout=5, max_timeout=5, randomize=False)

    @client.define_job(id="child-retries", trigger=runio.event_trigger("child-retries"))
    async def child_retries(payload: object, io: runio.IO) -> str:
        def child(task: runio.Task) -> str:
            calls["child"] += 1
            raise ValueError(f"attempt {task.attempt} failed")

        async def parent(task: runio.Task) -> str:
            calls["parent"] += 1
            return await io.run_task("child", child, retry=retry)

        return await io.run_task("parent", parent, retry=retry)

    run_id = client.send_event("child-retries").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"  # the child's retry delay
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert calls["child"] == 2
    parent = run.task("parent")
    assert len(parent.attempts) == 1  # replayed around its child's delay, never re-attempted
    assert parent.status == "ERRORED"
    assert parent.error is not None
    assert parent.error["type"] == "SubtaskFailed"
    assert "attempt 2 failed" in parent.error["message"]
    assert [a.number for a in run.task("parent", "child").attempts] == [1, 2]


def test_a_parent_may_handle_its_childs_failure(client: runio.Client) -> None:
    @client.define_job(id="handled", trigger=runio.event_trigger("handled"))
    async def handled(payload: object, io: runio.IO) -> str:
        def child(task: runio.Task) -> str:
            raise ValueError("nope")

        async def parent(task: runio.Task) -> str:
            try:
                return await io.run_task("child", child)
            except TaskFailedError as exc:
                return f"fallback after {exc.error_type}"

        return await io.run_task("parent", parent)

    run_id = client.send_event("handled").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "fallback after ValueError"
    assert run.task("parent").status == "COMPLETED"
    assert run.task("parent", "child").status == "ERRORED"


def test_sync_task_functions_nest_with_io_sync(client: runio.Client) -> None:
    @client.define_job(id="sync-nest", trigger=runio.event_trigger("sync-nest"))
    async def sync_nest(payload: object, io: runio.IO) -> Any:
        def leaf(task: runio.Task) -> str:
            return f"leaf of {task.parent_id is not None}"

        def middle(task: runio.Task) -> list[str]:
            return [io.sync.run_task("leaf-a", leaf), io.sync.run_task("leaf-b", leaf)]

        def top(task: runio.Task) -> dict[str, Any]:
            return {"middle": io.sync.run_task("middle", middle)}

        return await io.run_task("top", top)

    run_id = client.send_event("sync-nest").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == {"middle": ["leaf of True", "leaf of True"]}
    top, middle = run.task("top"), run.task("top", "middle")
    leaf_a, leaf_b = run.task("top", "middle", "leaf-a"), run.task("top", "middle", "leaf-b")
    assert middle.parent_id == top.id
    assert leaf_a.parent_id == middle.id
    assert leaf_b.parent_id == middle.id
    assert [t.cache_key for t in run.all_tasks()] == ["top", "middle", "leaf-a", "leaf-b"]


def test_a_sync_job_nests_tasks(client: runio.Client, clock: TestClock) -> None:
    calls: Counter[str] = Counter()

    @client.define_job(id="sync-job", trigger=runio.event_trigger("sync-job"))
    def sync_job(payload: object, io: runio.SyncIO) -> Any:
        def child(task: runio.Task) -> int:
            calls["child"] += 1
            return 21

        def parent(task: runio.Task) -> int:
            calls["parent"] += 1
            return 2 * io.run_task("child", child)

        value = io.run_task("parent", parent)
        io.wait("pause", 10)
        return value

    run_id = client.send_event("sync-job").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=10)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == 42
    assert calls == {"parent": 1, "child": 1}
    assert run.task("parent", "child").parent_id == run.task("parent").id


def test_a_retried_parent_reuses_its_completed_children(
    client: runio.Client, clock: TestClock
) -> None:
    calls: Counter[str] = Counter()
    retry = runio.RetryOptions(limit=2, min_timeout=5, max_timeout=5, randomize=False)

    @client.define_job(id="parent-retries", trigger=runio.event_trigger("parent-retries"))
    async def parent_retries(payload: object, io: runio.IO) -> str:
        def child(task: runio.Task) -> str:
            calls["child"] += 1
            return "child result"

        async def parent(task: runio.Task) -> str:
            calls["parent"] += 1
            result = await io.run_task("child", child)
            if task.attempt == 1:
                raise RuntimeError("parent failed after its child")
            return f"{result} on attempt {task.attempt}"

        return await io.run_task("parent", parent, retry=retry)

    run_id = client.send_event("parent-retries").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "child result on attempt 2"
    assert calls == {"parent": 2, "child": 1}
    assert [c.cache_key for c in run.task("parent").children] == ["child"]
    assert len(run.task("parent", "child").attempts) == 1


def test_io_sync_in_async_code_is_a_clear_error(client: runio.Client) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="misused", trigger=runio.event_trigger("misused"))
    async def misused(payload: object, io: runio.IO) -> str:
        async def parent(task: runio.Task) -> str:
            try:
                io.sync.run_task("child", lambda task: "never")
            except runio.errors.ConfigurationError as exc:
                caught.append(exc)
            return "parent"

        return await io.run_task("parent", parent)

    run_id = client.send_event("misused").run_ids[0]
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    assert "await io.run_task" in str(caught[0])
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.task("parent").children == []
