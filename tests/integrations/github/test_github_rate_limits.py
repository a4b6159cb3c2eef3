"""GitHub's rate limits reschedule the task durably at the time GitHub gives (on the test
clock): the primary limit at ``x-ratelimit-reset``, a secondary limit after ``retry-after`` or,
without one, after a minute and then two; the run holds no worker while it waits."""

from __future__ import annotations

from typing import Any

import pytest
from github_helpers import REPO, World


async def create(gh: Any) -> Any:
    return await gh.create_issue("issue", repo=REPO, title="Rate limited")


def waits(world: World, run_id: str) -> float:
    """Run the worker; the run must be waiting: return how long until its task's retry."""
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "WAITING", (run.status, run.error)
    retry_at = run.task("issue").retry_at
    assert retry_at is not None
    return retry_at - world.clock.now()


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_retries_at_the_reset(world: World, status: int) -> None:
    world.fake.primary_rate_limit(reset_in=1800, status=status)
    run_id = world.start(create)
    assert waits(world, run_id) == pytest.approx(1800, abs=1)
    world.clock.advance(seconds=1790)
    world.work()
    assert world.client.get_run(run_id).status == "WAITING", "retried before the reset"
    assert world.repo.issues == {}
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert [a.status for a in run.task("issue").attempts] == ["ERRORED", "COMPLETED"]
    assert "API rate limit exceeded" in str(run.task("issue").attempts[0].error)
    assert len(world.repo.issues) == 1


def test_primary_limit_of_the_fake_running_out(world: World) -> None:
    """No injected fault: the fake's own window runs out, and the task waits for its reset."""
    world.fake.rate_limit = 1

    async def two(gh: Any) -> Any:
        await gh.get_repo("repo", repo=REPO)
        return await create(gh)

    run_id = world.start(two)
    assert waits(world, run_id) == pytest.approx(3600, abs=1)
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_retries_after_retry_after(world: World, status: int) -> None:
    world.fake.secondary_rate_limit(retry_after=45, status=status)
    run_id = world.start(create)
    assert waits(world, run_id) == pytest.approx(45, abs=1)
    world.clock.advance(seconds=40)
    world.work()
    assert world.client.get_run(run_id).status == "WAITING"
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert len(world.repo.issues) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute_then_two(world: World) -> None:
    world.fake.secondary_rate_limit(times=2)
    run_id = world.start(create)
    assert waits(world, run_id) == pytest.approx(60, abs=1)
    world.clock.advance(seconds=60)
    assert waits(world, run_id) == pytest.approx(120, abs=1)
    world.clock.advance(seconds=120)
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert len(world.repo.issues) == 1
