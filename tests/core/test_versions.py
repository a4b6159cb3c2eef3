"""Job versions on both stores: a run keeps the version it was created with and is executed only
by a worker whose code has that version (or lists it in ``compatible_versions``), so a deploy
of incompatible code leaves older runs to the workers that still have the old code; a replay
takes the version registered now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import runio
from runio.testing import TestClock

MakeClient = Callable[..., runio.Client]


def _app(make_client: MakeClient, version: str, ran: list[str], **options: Any) -> runio.Client:
    client = make_client("shop")

    @client.define_job(
        id="checkout", trigger=runio.event_trigger("checkout"), version=version, **options
    )
    async def checkout(payload: Any, io: runio.IO, ctx: runio.RunContext) -> str:
        await io.wait("settle", 60)
        ran.append(f"{version} ran a run of {ctx.job_version}")
        return version

    return client


def test_a_run_keeps_its_version_and_only_workers_with_it_execute_it(
    make_client: MakeClient, clock: TestClock
) -> None:
    ran: list[str] = []
    old = _app(make_client, "1.0.0", ran)
    before = old.send_event("checkout").run_ids[0]
    old.run_worker(until_idle=True)  # started on 1.0.0, now waiting
    assert old.get_run(before).status == "WAITING"

    new = _app(make_client, "2.0.0", ran)  # the new code is deployed beside the old
    after = new.send_event("checkout").run_ids[0]
    new.run_worker(until_idle=True)
    clock.advance(60)
    new.run_worker(until_idle=True)
    assert ran == ["2.0.0 ran a run of 2.0.0"]
    assert new.get_run(before).status == "WAITING"  # left for a worker of 1.0.0
    assert (new.get_run(after).status, new.get_run(after).job_version) == ("COMPLETED", "2.0.0")

    old.run_worker(until_idle=True)  # the old worker drains its runs, then can retire
    assert ran[1:] == ["1.0.0 ran a run of 1.0.0"]
    finished = old.get_run(before)
    assert (finished.status, finished.job_version, finished.output) == (
        "COMPLETED",
        "1.0.0",
        "1.0.0",
    )


def test_compatible_versions_let_new_code_take_over_older_runs(
    make_client: MakeClient, clock: TestClock
) -> None:
    ran: list[str] = []
    old = _app(make_client, "1.0.0", ran)
    before = old.send_event("checkout").run_ids[0]
    old.run_worker(until_idle=True)

    new = _app(make_client, "1.1.0", ran, compatible_versions=["1.0.0"])
    clock.advance(60)
    new.run_worker(until_idle=True)
    assert ran == ["1.1.0 ran a run of 1.0.0"]
    run = new.get_run(before)
    assert (run.status, run.job_version) == ("COMPLETED", "1.0.0")  # it keeps its version


def test_a_replay_takes_the_version_registered_now(
    make_client: MakeClient, clock: TestClock
) -> None:
    ran: list[str] = []
    old = _app(make_client, "1.0.0", ran)
    first = old.send_event("checkout").run_ids[0]
    old.run_worker(until_idle=True)
    clock.advance(60)
    old.run_worker(until_idle=True)
    assert old.get_run(first).status == "COMPLETED"

    new = _app(make_client, "2.0.0", ran)
    new.run_worker(until_idle=True)  # registers 2.0.0
    replay = new.replay_run(first)
    assert replay.job_version == "2.0.0"
    new.run_worker(until_idle=True)
    assert old.get_run(replay.id).status == "WAITING"
    clock.advance(60)
    new.run_worker(until_idle=True)
    assert new.get_run(replay.id).output == "2.0.0"
