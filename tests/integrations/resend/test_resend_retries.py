"""How Resend's answers become runio's retries, in real runs on the test clock: one email across
a 500 and across a dropped connection; rate limits waited out durably at ``retry-after``;
daily/monthly quotas failing with an explanation (or waited out when Resend says when they
reset); idempotency conflicts; permanent errors at once with Resend's message."""

from __future__ import annotations

from typing import Any

import pytest
from resend_helpers import World, message
from runio_resend import Resend

import runio

SENDER = "Acme <hello@acme.dev>"


async def send(io_resend: Any) -> Any:
    return await io_resend.send_email(
        "welcome", from_=SENDER, to="ada@example.com", subject="Welcome!", html="<p>Hi</p>"
    )


def statuses(run: runio.Run, key: str = "welcome") -> list[str]:
    return [a.status for a in run.task(key).attempts]


def test_one_email_across_a_retry_after_a_500(world: World) -> None:
    world.fake.fail_next(500)
    run = world.run(send)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"]
    assert len(world.fake.emails) == 1
    sends = [r for r in world.fake.requests if r.path == "/emails"]
    key = run.task("welcome").idempotency_key
    assert [r.header("Idempotency-Key") for r in sends] == [key, key]
    assert "Resend 500 internal_server_error" in message(run.task("welcome").attempts[0].error)


def test_one_email_across_a_500_after_resend_accepted_it(world: World) -> None:
    """Resend applied the send but answered 500: the retry's key gets the first email back."""
    world.fake.drop_after_write(path="/emails")
    run = world.run(send)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"]
    (email_id,) = world.fake.emails
    assert run.output == {"id": email_id}
    assert world.fake.requests[-1].outcome == "replayed"
    assert "Resend did not answer" in message(run.task("welcome").attempts[0].error)


def test_a_rate_limit_is_waited_out_durably_at_retry_after(world: World) -> None:
    world.fake.fail_next(world.fake.rate_limit_response(42, now=world.clock.now()))
    run_id = world.start(send)
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "WAITING", run.error
    task = run.task("welcome")
    assert task.retry_at is not None
    assert task.retry_at - world.clock.now() == pytest.approx(42, abs=1.5)
    world.clock.advance(seconds=30)
    world.work()
    assert world.client.get_run(run_id).status == "WAITING", "retried before Resend's time"
    assert len(world.fake.requests) == 1
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"] and len(world.fake.emails) == 1


@pytest.mark.parametrize("which", ["daily", "monthly"])
def test_a_quota_fails_at_once_saying_it_is_not_short_term(world: World, which: str) -> None:
    world.fake.fail_next(world.fake.quota_response(which))
    run = world.run(send)
    assert run.status == "FAILED"
    assert statuses(run) == ["ERRORED"]
    error = message(run.task("welcome").error)
    assert f"{which} sending quota is used up" in error
    assert "not a short-term rate limit" in error and "not retried" in error
    assert world.fake.emails == {}


def test_the_fakes_own_daily_quota_fails_the_send(world: World) -> None:
    world.fake.daily_quota = 0
    run = world.run(send)
    assert run.status == "FAILED" and "daily sending quota" in message(run.error)


def test_a_quota_that_says_when_it_resets_is_retried_then(world: World) -> None:
    world.fake.fail_next(world.fake.quota_response("daily", retry_after=6 * 3600))
    run_id = world.start(send)
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "WAITING"
    retry_at = run.task("welcome").retry_at
    assert retry_at is not None
    assert retry_at - world.clock.now() == pytest.approx(6 * 3600, abs=1.5)
    run = world.drive(run_id)
    assert run.status == "COMPLETED" and len(world.fake.emails) == 1


def test_an_idempotency_conflict_fails_at_once_with_an_explanation(world: World) -> None:
    world.fake.fail_next(409)  # Resend's invalid_idempotent_request
    run = world.run(send)
    assert run.status == "FAILED"
    assert statuses(run) == ["ERRORED"]
    error = message(run.task("welcome").error)
    assert "already used with a different payload" in error
    assert "cache key 'welcome'" in error and run.id in error


def test_a_concurrent_request_with_the_key_is_retried(world: World) -> None:
    world.fake.fail_next(world.fake.error_response(409, name="concurrent_idempotent_requests"))
    run = world.run(send)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"] and len(world.fake.emails) == 1


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "validation_error"),
        (401, "restricted_api_key"),
        (403, "invalid_api_key"),
        (404, "not_found"),
        (422, "validation_error"),
    ],
)
def test_client_errors_fail_at_once_with_resends_message(
    world: World, status: int, name: str
) -> None:
    world.fake.fail_next(world.fake.error_response(status, "What Resend said", name=name))
    run = world.run(send)
    assert run.status == "FAILED"
    assert statuses(run) == ["ERRORED"]
    assert f"Resend {status} {name}: What Resend said" in message(run.task("welcome").error)


def test_an_invalid_email_fails_with_the_fakes_validation_message(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.send_email(
            "welcome", from_=SENDER, to="not an address", subject="x", text="x"
        )

    run = world.run(body)
    assert run.status == "FAILED" and statuses(run) == ["ERRORED"]
    assert "Resend 422 validation_error: Invalid `to` field" in message(run.error)


def test_a_refused_connection_is_retried_up_to_the_limit(world: World) -> None:
    with_bad_port = Resend(api_key=world.resend.api_key, base_url="http://127.0.0.1:9")
    run = world.run(send, integration=with_bad_port)
    assert run.status == "FAILED"  # every attempt refused, up to the retry limit
    attempts = run.task("welcome").attempts
    assert len(attempts) == runio.retry.standard_backoff.limit
    assert all("Resend did not answer" in message(a.error) for a in attempts)
