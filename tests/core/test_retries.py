"""Retries: the delay formula, presets, ``on_error``, durable delays, timeouts (DESIGN.md §4)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import runio
from runio.errors import (
    ConfigurationError,
    InvalidRetryOptionsError,
    NonRetryableError,
    TaskFailedError,
)
from runio.retry import exponential_backoff, standard_backoff
from runio.testing import TestClock

FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def drive(client: runio.Client, clock: TestClock, run_id: str, *, max_steps: int = 20) -> runio.Run:
    """Run the worker, moving the clock to each wake-up time, until the run has finished."""
    for _ in range(max_steps):
        client.run_worker(until_idle=True)
        run = client.get_run(run_id)
        if run.status in FINISHED:
            return run
        assert run.status == "WAITING", run.status
        assert run.ready_at is not None
        clock.advance(seconds=max(0.0, run.ready_at - clock.now()))
    raise AssertionError(f"run {run_id} did not finish in {max_steps} steps")


def failing(calls: list[int], *, succeed_on: int | None = None, message: str = "boom") -> Any:
    """A task function that records each attempt and raises until attempt ``succeed_on``."""

    def fn(task: runio.Task) -> str:
        calls.append(task.attempt)
        if succeed_on is not None and task.attempt >= succeed_on:
            return f"ok on attempt {task.attempt}"
        raise RuntimeError(f"{message} (attempt {task.attempt})")

    return fn


# -- the delay formula ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        runio.RetryOptions(limit=6, factor=2, min_timeout=1, max_timeout=10, randomize=False),
        runio.RetryOptions(limit=8, factor=1.8, min_timeout=0.5, max_timeout=30, randomize=False),
        runio.RetryOptions(limit=4, factor=1, min_timeout=3, max_timeout=3, randomize=False),
        runio.RetryOptions(limit=3, factor=3, min_timeout=0, max_timeout=5, randomize=False),
    ],
)
def test_delays_without_jitter_follow_the_formula(options: runio.RetryOptions) -> None:
    for attempt in range(1, options.limit):
        expected = min(options.max_timeout, options.min_timeout * options.factor ** (attempt - 1))
        assert options.delay_after(attempt) == pytest.approx(expected, abs=0.0005)
    assert options.delay_after(options.limit) is None
    assert options.delay_after(options.limit + 1) is None


def test_delays_with_jitter_stay_within_one_to_two_times_the_base() -> None:
    options = runio.RetryOptions(limit=10, factor=2, min_timeout=1, max_timeout=1000)
    rng = random.Random(1234)
    ratios: list[float] = []
    for _ in range(500):
        for attempt in range(1, options.limit):
            base = options.min_timeout * options.factor ** (attempt - 1)
            delay = options.delay_after(attempt, rng=rng)
            assert delay is not None
            assert base <= delay <= 2 * base  # [1, 2) x base, rounded to the millisecond
            ratios.append(delay / base)
    assert min(ratios) < 1.05
    assert max(ratios) > 1.95
    assert 1.45 < sum(ratios) / len(ratios) < 1.55


def test_jittered_delays_never_exceed_max_timeout() -> None:
    options = runio.RetryOptions(limit=10, factor=2, min_timeout=4, max_timeout=10)
    rng = random.Random(99)
    for _ in range(300):
        for attempt in range(1, options.limit):
            base = min(options.max_timeout, options.min_timeout * options.factor ** (attempt - 1))
            delay = options.delay_after(attempt, rng=rng)
            assert delay is not None
            assert min(base, options.max_timeout) <= delay <= options.max_timeout


def test_jitter_draws_from_the_given_random_generator() -> None:
    options = runio.RetryOptions(limit=5, factor=2, min_timeout=1, max_timeout=100)
    first = [options.delay_after(a, rng=random.Random(7)) for a in range(1, 5)]
    again = [options.delay_after(a, rng=random.Random(7)) for a in range(1, 5)]
    other = [options.delay_after(a, rng=random.Random(8)) for a in range(1, 5)]
    assert first == again
    assert first != other


def test_presets() -> None:
    assert (
        standard_backoff.limit,
        standard_backoff.factor,
        standard_backoff.min_timeout,
        standard_backoff.max_timeout,
        standard_backoff.randomize,
    ) == (8, 1.8, 0.5, 30, True)
    assert (
        exponential_backoff.limit,
        exponential_backoff.factor,
        exponential_backoff.min_timeout,
        exponential_backoff.max_timeout,
        exponential_backoff.randomize,
    ) == (8, 2, 1, 30, True)
    assert runio.retry.standard_backoff is standard_backoff
    assert standard_backoff.replace(limit=3).limit == 3
    assert standard_backoff.limit == 8


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"limit": 0}, ["limit"]),
        ({"limit": -2}, ["limit"]),
        ({"limit": 2.5}, ["limit"]),
        ({"limit": True}, ["limit"]),
        ({"factor": 0.5}, ["factor"]),
        ({"factor": "2"}, ["factor"]),
        ({"min_timeout": -1}, ["min_timeout"]),
        ({"max_timeout": -1}, ["max_timeout"]),
        ({"min_timeout": 10, "max_timeout": 5}, ["max_timeout", "min_timeout"]),
    ],
)
def test_invalid_retry_options_are_rejected(options: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InvalidRetryOptionsError) as info:
        runio.RetryOptions(**options)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, ConfigurationError)


@pytest.mark.parametrize("when", [-1, datetime(2030, 1, 1), "soon", None])
def test_invalid_retry_at_is_rejected(when: Any) -> None:
    with pytest.raises(InvalidRetryOptionsError):
        runio.RetryAt(when)


def test_retry_must_be_retry_options(client: runio.Client) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="bad-retry", trigger=runio.event_trigger("bad-retry"))
    async def bad_retry(payload: object, io: runio.IO) -> None:
        try:
            await io.run_task("t", lambda task: 1, retry={"limit": 3})  # type: ignore[arg-type]
        except ConfigurationError as exc:
            caught.append(exc)

    client.send_event("bad-retry")
    client.run_worker(until_idle=True)
    assert len(caught) == 1
    assert "RetryOptions" in str(caught[0])


# -- attempts ---------------------------------------------------------------------------------


def test_limit_counts_every_attempt(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []
    options = runio.RetryOptions(limit=3, factor=2, min_timeout=1, max_timeout=10, randomize=False)

    @client.define_job(id="limited", trigger=runio.event_trigger("limited"))
    async def limited(payload: object, io: runio.IO) -> str:
        return await io.run_task("flaky", failing(calls), retry=options)

    run_id = client.send_event("limited").run_ids[0]
    run = drive(client, clock, run_id)

    assert calls == [1, 2, 3]
    assert run.status == "FAILED"
    task = run.task("flaky")
    assert task.status == "ERRORED"
    assert task.retry_at is None
    assert [a.number for a in task.attempts] == [1, 2, 3]
    for attempt in task.attempts:
        assert attempt.status == "ERRORED"
        assert attempt.started_at is not None
        assert attempt.ended_at is not None
        assert attempt.ended_at >= attempt.started_at
        assert attempt.error is not None
        assert attempt.error["type"] == "RuntimeError"
        assert attempt.error["message"] == f"boom (attempt {attempt.number})"
    assert task.error is not None
    assert task.error["message"] == "boom (attempt 3)"
    assert run.error is not None
    assert "flaky" in run.error["message"]


def test_each_retry_is_scheduled_at_now_plus_its_delay(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    options = runio.RetryOptions(limit=5, factor=2, min_timeout=10, max_timeout=25, randomize=False)

    @client.define_job(id="scheduled", trigger=runio.event_trigger("scheduled"))
    async def scheduled(payload: object, io: runio.IO) -> str:
        return await io.run_task("flaky", failing(calls, succeed_on=5), retry=options)

    run_id = client.send_event("scheduled").run_ids[0]
    for attempt, delay in zip([1, 2, 3, 4], [10, 20, 25, 25], strict=True):
        failed_at = clock.now()
        client.run_worker(until_idle=True)
        assert calls[-1] == attempt
        run = client.get_run(run_id)
        assert run.status == "WAITING"
        assert run.ready_at == pytest.approx(failed_at + delay)
        assert run.task("flaky").retry_at == pytest.approx(failed_at + delay)
        assert run.task("flaky").status == "WAITING"
        # Nothing runs before the retry time, however often the worker looks.
        client.run_worker(until_idle=True)
        clock.advance(seconds=delay - 1)
        client.run_worker(until_idle=True)
        assert calls[-1] == attempt
        assert client.get_run(run_id).status == "WAITING"
        clock.advance(seconds=1)

    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "ok on attempt 5"
    assert calls == [1, 2, 3, 4, 5]
    assert [a.status for a in run.task("flaky").attempts] == ["ERRORED"] * 4 + ["COMPLETED"]


def test_a_jittered_retry_is_scheduled_within_its_bounds(
    client: runio.Client, clock: TestClock
) -> None:
    options = runio.RetryOptions(limit=2, factor=2, min_timeout=100, max_timeout=1000)

    @client.define_job(id="jittered", trigger=runio.event_trigger("jittered"))
    async def jittered(payload: object, io: runio.IO) -> str:
        return await io.run_task("flaky", failing([], succeed_on=2), retry=options)

    run_id = client.send_event("jittered").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.ready_at is not None
    assert clock.now() + 100 <= run.ready_at <= clock.now() + 200


# -- on_error ---------------------------------------------------------------------------------


def define_on_error_job(
    client: runio.Client,
    fn: Callable[[runio.Task], Any],
    on_error: Callable[[Exception, runio.Task], Any],
    retry: runio.RetryOptions | None,
) -> None:
    @client.define_job(id="on-error", trigger=runio.event_trigger("on-error"))
    async def job(payload: object, io: runio.IO) -> Any:
        return await io.run_task("task", fn, retry=retry, on_error=on_error)


RETRY_3 = runio.RetryOptions(limit=3, factor=1, min_timeout=5, max_timeout=5, randomize=False)


def test_on_error_returning_none_keeps_the_normal_retries(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    seen: list[tuple[str, int]] = []

    def on_error(error: Exception, task: runio.Task) -> None:
        seen.append((str(error), task.attempt))

    define_on_error_job(client, failing(calls), on_error, RETRY_3)
    run = drive(client, clock, client.send_event("on-error").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1, 2, 3]
    assert seen == [("boom (attempt 1)", 1), ("boom (attempt 2)", 2), ("boom (attempt 3)", 3)]


class PaymentError(Exception):
    pass


def test_on_error_may_replace_the_recorded_error(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []

    def on_error(error: Exception, task: runio.Task) -> Exception:
        return PaymentError(f"payment provider said: {error}")

    define_on_error_job(client, failing(calls), on_error, RETRY_3)
    run = drive(client, clock, client.send_event("on-error").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1, 2, 3]
    task = run.task("task")
    for attempt in task.attempts:
        assert attempt.error is not None
        assert attempt.error["type"] == "PaymentError"
        assert attempt.error["message"] == f"payment provider said: boom (attempt {attempt.number})"
    assert task.error is not None
    assert task.error["type"] == "PaymentError"
    assert run.error is not None
    assert "PaymentError" in run.error["message"]


def test_on_error_retry_at_seconds_retries_then_even_beyond_the_limit(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    start = clock.now()

    def on_error(error: Exception, task: runio.Task) -> runio.RetryAt | None:
        return runio.RetryAt(30) if task.attempt < 3 else None

    no_retries = runio.RetryOptions(limit=1)
    define_on_error_job(client, failing(calls), on_error, no_retries)
    run_id = client.send_event("on-error").run_ids[0]

    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert calls == [1]
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(start + 30)
    assert run.task("task").retry_at == pytest.approx(start + 30)
    clock.advance(seconds=29)
    client.run_worker(until_idle=True)
    assert calls == [1]
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    assert calls == [1, 2]
    assert client.get_run(run_id).ready_at == pytest.approx(start + 60)
    clock.advance(seconds=30)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert calls == [1, 2, 3]  # the third failure follows the options again: no retries left
    assert run.status == "FAILED"
    assert len(run.task("task").attempts) == 3


def test_on_error_retry_at_datetime(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []
    when = datetime.fromtimestamp(clock.now() + 3600, UTC)

    def on_error(error: Exception, task: runio.Task) -> runio.RetryAt:
        return runio.RetryAt(when)

    define_on_error_job(client, failing(calls, succeed_on=2), on_error, None)
    run_id = client.send_event("on-error").run_ids[0]

    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(when.timestamp())
    clock.advance(minutes=59)
    client.run_worker(until_idle=True)
    assert calls == [1]
    clock.advance(minutes=1)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "ok on attempt 2"
    assert calls == [1, 2]


def test_on_error_skip_retrying_fails_at_once(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []

    def on_error(error: Exception, task: runio.Task) -> object:
        return runio.SKIP_RETRYING

    define_on_error_job(client, failing(calls), on_error, runio.RetryOptions(limit=5))
    run = drive(client, clock, client.send_event("on-error").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1]
    task = run.task("task")
    assert len(task.attempts) == 1
    assert task.error is not None
    assert task.error["type"] == "RuntimeError"
    assert run.execution_count == 1


def test_an_async_on_error(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []

    async def on_error(error: Exception, task: runio.Task) -> Any:
        await asyncio.sleep(0)
        return runio.RetryAt(1) if task.attempt == 1 else runio.SKIP_RETRYING

    define_on_error_job(client, failing(calls), on_error, None)
    run = drive(client, clock, client.send_event("on-error").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1, 2]


def test_an_on_error_that_raises_fails_the_task(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []

    def on_error(error: Exception, task: runio.Task) -> None:
        raise KeyError("bug in the handler")

    define_on_error_job(client, failing(calls), on_error, runio.RetryOptions(limit=5))
    run = drive(client, clock, client.send_event("on-error").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1]
    task = run.task("task")
    assert task.status == "ERRORED"
    assert len(task.attempts) == 1
    assert task.attempts[0].ended_at is not None
    assert task.error is not None
    assert "on_error" in task.error["message"]
    assert "bug in the handler" in task.error["message"]


def test_an_on_error_returning_junk_fails_with_a_clear_error(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []

    def on_error(error: Exception, task: runio.Task) -> str:
        return "please retry"

    define_on_error_job(client, failing(calls), on_error, runio.RetryOptions(limit=5))
    run = drive(client, clock, client.send_event("on-error").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1]
    task = run.task("task")
    assert task.status == "ERRORED"
    assert task.error is not None
    message = task.error["message"]
    assert "on_error" in message
    assert "'please retry'" in message
    assert "RetryAt" in message
    assert "SKIP_RETRYING" in message


# -- what retries and what does not -----------------------------------------------------------


class CardDeclined(NonRetryableError):
    pass


@pytest.mark.parametrize("error", [NonRetryableError("gone"), CardDeclined("declined")])
def test_non_retryable_error_fails_at_once(
    client: runio.Client, clock: TestClock, error: Exception
) -> None:
    calls: list[int] = []

    def fn(task: runio.Task) -> None:
        calls.append(task.attempt)
        raise error

    @client.define_job(id="non-retryable", trigger=runio.event_trigger("non-retryable"))
    async def job(payload: object, io: runio.IO) -> None:
        await io.run_task("task", fn, retry=runio.RetryOptions(limit=5))

    run = drive(client, clock, client.send_event("non-retryable").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1]
    task = run.task("task")
    assert len(task.attempts) == 1
    assert task.error is not None
    assert task.error["type"] == type(error).__name__
    assert task.error["message"] == str(error)


def test_the_client_default_retry_applies_when_no_retry_is_given(
    make_client: Callable[..., runio.Client], clock: TestClock
) -> None:
    client = make_client(
        default_retry=runio.RetryOptions(limit=4, min_timeout=2, max_timeout=2, randomize=False)
    )
    calls: dict[str, list[int]] = {"default": [], "own": []}

    @client.define_job(id="defaults", trigger=runio.event_trigger("defaults"))
    async def defaults(payload: object, io: runio.IO) -> None:
        with contextlib.suppress(TaskFailedError):
            await io.run_task("default", failing(calls["default"]))
        await io.run_task("own", failing(calls["own"]), retry=runio.RetryOptions(limit=2))

    run_id = client.send_event("defaults").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).ready_at == pytest.approx(clock.now() + 2)
    run = drive(client, clock, run_id)

    assert run.status == "FAILED"
    assert calls["default"] == [1, 2, 3, 4]
    assert calls["own"] == [1, 2]


def test_plain_run_task_does_not_retry(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []

    @client.define_job(id="plain", trigger=runio.event_trigger("plain"))
    async def plain(payload: object, io: runio.IO) -> None:
        await io.run_task("task", failing(calls))

    run = drive(client, clock, client.send_event("plain").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1]
    assert run.execution_count == 1
    assert len(run.task("task").attempts) == 1


def test_task_failed_error_reports_the_last_error(client: runio.Client, clock: TestClock) -> None:
    caught: list[TaskFailedError] = []
    options = runio.RetryOptions(limit=2, min_timeout=1, max_timeout=1, randomize=False)

    @client.define_job(id="reported", trigger=runio.event_trigger("reported"))
    async def reported(payload: object, io: runio.IO) -> str:
        try:
            await io.run_task("task", failing([]), retry=options)
        except TaskFailedError as exc:
            caught.append(exc)
            return "handled"
        return "not reached"

    run = drive(client, clock, client.send_event("reported").run_ids[0])

    assert run.status == "COMPLETED"
    assert run.output == "handled"
    assert len(caught) == 1
    assert caught[0].error_type == "RuntimeError"
    assert caught[0].error_message == "boom (attempt 2)"
    assert caught[0].cache_key == "task"


# -- durability -------------------------------------------------------------------------------


def test_a_retry_delay_survives_a_worker_restart(
    make_client: Callable[..., runio.Client], clock: TestClock
) -> None:
    calls: list[int] = []
    before: list[str] = []
    options = runio.RetryOptions(limit=3, min_timeout=60, max_timeout=60, randomize=False)

    def define(client: runio.Client) -> None:
        @client.define_job(id="durable", trigger=runio.event_trigger("durable"))
        async def durable(payload: object, io: runio.IO) -> list[str]:
            first = await io.run_task("before", lambda task: before.append("x") or "before")
            second = await io.run_task("flaky", failing(calls, succeed_on=2), retry=options)
            return [first, second]

    first_client = make_client()
    define(first_client)
    run_id = first_client.send_event("durable").run_ids[0]
    first_client.run_worker(until_idle=True)
    assert first_client.get_run(run_id).status == "WAITING"
    first_client.close()  # the worker process goes away during the delay

    second_client = make_client()
    define(second_client)
    run = second_client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at == pytest.approx(clock.now() + 60)
    clock.advance(seconds=60)
    second_client.run_worker(until_idle=True)

    run = second_client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == ["before", "ok on attempt 2"]
    assert calls == [1, 2]
    assert before == ["x"]
    assert [a.status for a in run.task("flaky").attempts] == ["ERRORED", "COMPLETED"]


# -- timeouts ---------------------------------------------------------------------------------


def test_a_task_timeout_fails_the_attempt_with_task_timeout_error(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    options = runio.RetryOptions(limit=2, min_timeout=1, max_timeout=1, randomize=False)

    async def hangs(task: runio.Task) -> str:
        calls.append(task.attempt)
        await asyncio.Event().wait()  # never set
        return "never"

    @client.define_job(id="slow", trigger=runio.event_trigger("slow"))
    async def slow(payload: object, io: runio.IO) -> str:
        return await io.run_task("hangs", hangs, timeout=0.01, retry=options)

    run = drive(client, clock, client.send_event("slow").run_ids[0])

    assert run.status == "FAILED"
    assert calls == [1, 2]
    task = run.task("hangs")
    assert [a.number for a in task.attempts] == [1, 2]
    for attempt in task.attempts:
        assert attempt.status == "ERRORED"
        assert attempt.error is not None
        assert attempt.error["type"] == "TaskTimeoutError"
        assert "0.01" in attempt.error["message"]
        assert "hangs" in attempt.error["message"]


@pytest.mark.parametrize("timeout", [0, -1, True, "1"])
def test_invalid_timeouts_are_rejected(client: runio.Client, timeout: Any) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="bad-timeout", trigger=runio.event_trigger("bad-timeout"))
    async def bad_timeout(payload: object, io: runio.IO) -> None:
        try:
            await io.run_task("t", lambda task: 1, timeout=timeout)
        except ConfigurationError as exc:
            caught.append(exc)

    client.send_event("bad-timeout")
    client.run_worker(until_idle=True)
    assert len(caught) == 1
    assert "timeout" in str(caught[0])


def test_except_exception_does_not_swallow_a_retry_delay(
    client: runio.Client, clock: TestClock
) -> None:
    calls: list[int] = []
    options = runio.RetryOptions(limit=2, min_timeout=5, max_timeout=5, randomize=False)

    @client.define_job(id="guarded", trigger=runio.event_trigger("guarded"))
    async def guarded(payload: object, io: runio.IO) -> str:
        try:
            return await io.run_task("flaky", failing(calls, succeed_on=2), retry=options)
        except Exception as exc:
            return f"gave up: {type(exc).__name__}"

    run_id = client.send_event("guarded").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=5)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.output == "ok on attempt 2"
    assert calls == [1, 2]


def test_a_parent_timeout_closes_its_interrupted_child(client: runio.Client) -> None:
    @client.define_job(id="parent-timeout", trigger=runio.event_trigger("parent-timeout"))
    async def parent_timeout(payload: object, io: runio.IO) -> str:
        async def child(task: runio.Task) -> None:
            await asyncio.Event().wait()  # never set

        async def parent(task: runio.Task) -> None:
            await io.run_task("child", child)

        try:
            await io.run_task("parent", parent, timeout=0.01)
        except TaskFailedError as exc:
            return exc.error_type
        return "not reached"

    run_id = client.send_event("parent-timeout").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == "TaskTimeoutError"
    assert run.task("parent").status == "ERRORED"
    child = run.task("parent", "child")
    # The child was interrupted by its parent's timeout: it is over, not shown as running.
    assert child.status in ("ERRORED", "CANCELED")
    for attempt in child.attempts:
        assert attempt.status != "STARTED"
        assert attempt.ended_at is not None


def test_retry_at_forever_stops_at_its_ceiling(client: runio.Client, clock: TestClock) -> None:
    """An on_error (or a vendor) asking for a retry at a time forever does not retry forever."""
    calls: list[int] = []
    define_on_error_job(client, failing(calls), lambda error, task: runio.RetryAt(0), None)
    run = drive(client, clock, client.send_event("on-error").run_ids[0], max_steps=200)

    assert runio.retry.RETRY_AT_LIMIT == 100
    assert calls == list(range(1, 101))
    assert run.status == "FAILED"
    task = run.task("task")
    assert len(task.attempts) == 100
    assert task.error is not None
    assert task.error["retry_at_limit"] == 100
    assert task.error["message"] == (
        "boom (attempt 100) (gave up after 100 attempts: RetryAt allows 100 in all; "
        "see RetryAt(limit=...))"
    )


def test_retry_at_limit_sets_a_lower_ceiling(client: runio.Client, clock: TestClock) -> None:
    calls: list[int] = []
    define_on_error_job(
        client, failing(calls), lambda error, task: runio.RetryAt(5, limit=3), RETRY_3
    )
    run = drive(client, clock, client.send_event("on-error").run_ids[0])
    assert calls == [1, 2, 3]
    assert run.status == "FAILED"
    assert "RetryAt allows 3 in all" in run.error["message"]


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "3"])
def test_retry_at_limit_must_be_a_positive_int(limit: object) -> None:
    with pytest.raises(InvalidRetryOptionsError, match=r"RetryAt\(limit=\.\.\.\) must be an int"):
        runio.RetryAt(5, limit=limit)  # type: ignore[arg-type]
