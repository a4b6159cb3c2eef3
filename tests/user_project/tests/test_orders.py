from __future__ import annotations

import pytest
from shop.app import fulfil_order, notify_sales
from shop.services import outbox, payments

import runio
from runio.testing import JobTester, assert_task, task_statuses

ORDER = {"order_id": "o-1", "email": "ada@example.com", "items": ["apple", "fig"]}


def test_an_order_is_charged_then_waits_a_day_before_the_follow_up(shop: JobTester) -> None:
    run = shop.run_job(fulfil_order, ORDER)

    assert run.status == "WAITING"
    assert task_statuses(run) == {
        "reserve-items": "COMPLETED",
        "reserve-items/reserve:apple": "COMPLETED",
        "reserve-items/reserve:fig": "COMPLETED",
        "charge": "COMPLETED",
        "cooling-off": "WAITING",
    }
    assert list(payments.charges.values()) == [420]
    assert outbox.sent == []

    shop.advance(hours=23)
    assert shop.get_run(run).status == "WAITING"
    shop.advance(hours=1)
    run = shop.get_run(run)
    assert run.status == "COMPLETED"
    assert run.output == {"order_id": "o-1", "charged": 420}
    assert [m for m in outbox.sent if m[0] == "ada@example.com"] == [
        ("ada@example.com", "How was your order?")
    ]
    # A day passed, so the nightly digest fired too: advancing the clock fires schedules.
    assert [r.status for r in shop.runs("nightly-digest")] == ["COMPLETED"]


def test_an_unavailable_gateway_is_retried_with_the_same_idempotency_key(
    shop: JobTester,
) -> None:
    payments.unavailable = 2
    run = shop.run_job(fulfil_order, ORDER)
    assert_task(run, "charge", status="WAITING", attempts=1)  # a retry in 30 s

    run = shop.run_until_finished(run)

    assert run.status == "COMPLETED"
    charge = assert_task(run, "charge", status="COMPLETED", attempts=3)
    assert list(payments.charges) == [charge.idempotency_key]


def test_run_job_starts_only_the_job_it_is_given(shop: JobTester) -> None:
    shop.run_job(fulfil_order, ORDER)
    assert [r.job_id for r in shop.runs()] == ["fulfil-order"]
    assert shop.runs(notify_sales) == []


def test_sending_the_event_starts_every_job_listening(shop: JobTester) -> None:
    shop.send_event("order.placed", ORDER)
    assert sorted(r.job_id for r in shop.runs()) == ["fulfil-order", "notify-sales"]
    assert shop.runs("notify-sales", status="COMPLETED")[0].status == "COMPLETED"


def test_a_bad_order_starts_no_run(shop: JobTester) -> None:
    with pytest.raises(runio.errors.InvalidPayloadError, match="items"):
        shop.run_job(fulfil_order, {"order_id": "o-2", "email": "x@example.com"})
    assert shop.runs() == []


def test_assert_task_shows_the_tree_when_a_check_fails(shop: JobTester) -> None:
    run = shop.run_job(fulfil_order, ORDER)
    with pytest.raises(AssertionError) as excinfo:
        assert_task(run, "charge", status="ERRORED")
    message = str(excinfo.value)
    assert "status is COMPLETED, expected ERRORED" in message
    assert "  cooling-off: WAITING" in message
