from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from shop.app import client, nightly_digest
from shop.services import outbox

from runio.testing import JobTester, assert_task

PARIS = ZoneInfo("Europe/Paris")


def test_the_digest_fires_at_two_in_the_night_paris_time(
    runio_app: Callable[..., JobTester],
) -> None:
    shop = runio_app(client, start=datetime(2027, 1, 15, 1, 0, tzinfo=PARIS))
    shop.work()  # the schedule starts now: nothing is due before 02:00
    assert shop.runs(nightly_digest) == []

    shop.advance(minutes=59)
    assert shop.runs(nightly_digest) == []
    shop.advance(minutes=1)

    (run,) = shop.runs(nightly_digest)
    assert run.status == "COMPLETED"
    assert run.payload["scheduled_at"] == "2027-01-15T02:00:00+01:00"
    assert run.output == "2027-01-15"
    assert outbox.sent == [("owner@shop.example", "Digest 2027-01-15")]

    shop.advance(days=3)  # missed ticks are skipped: only the latest fires
    assert [r.output for r in shop.runs(nightly_digest)] == ["2027-01-15", "2027-01-18"]


def test_a_digest_can_be_run_for_the_current_tick(
    runio_app: Callable[..., JobTester],
) -> None:
    shop = runio_app(client, start=datetime(2027, 6, 1, 2, 0, tzinfo=PARIS))
    run = shop.run_job(nightly_digest)
    assert run.output == "2027-06-01"
    assert_task(run, "send-digest", status="COMPLETED")
