"""Resend's error rules on the SDK's real errors (raised against FakeResend): which answers are
retried and when, which fail at once, and the message each failure is recorded with."""

from __future__ import annotations

import pytest
from resend.exceptions import ResendError
from resend_helpers import API_KEY
from runio_resend import (
    ResendAPIError,
    ResendClient,
    ResendConnectionError,
    ResendIdempotencyError,
    ResendQuotaError,
)
from runio_resend._errors import Decision, decide, from_sdk, retry_after
from runio_resend.testing import FakeResend

from runio.testing import TestClock

EMAIL = {"from": "hi@acme.dev", "to": "ada@example.com", "subject": "Hi", "text": "x"}
NOW = 1_800_000_000.0


def sdk_error(sdk: ResendClient, params: dict[str, object] | None = None) -> ResendError:
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send(params or dict(EMAIL), {"idempotency_key": "k"})
    return exc.value


def test_a_rate_limit_is_retried_at_retry_after(sdk: ResendClient, fake: FakeResend) -> None:
    fake.fail_next(fake.rate_limit_response(12, now=NOW))
    assert decide(sdk_error(sdk), now=NOW) == Decision("retry", 12.0)


def test_a_rate_limit_without_retry_after_uses_ratelimit_reset_or_the_backoff(
    sdk: ResendClient, fake: FakeResend
) -> None:
    fake.fail_next(429, headers={"ratelimit-reset": "3"})
    assert decide(sdk_error(sdk), now=NOW) == Decision("retry", 3.0)
    fake.fail_next(429)
    assert decide(sdk_error(sdk), now=NOW) == Decision("retry", None)


def test_retry_after_may_be_an_http_date() -> None:
    assert retry_after({"retry-after": "Fri, 15 Jan 2027 08:01:00 GMT"}, now=NOW) == 60.0


@pytest.mark.parametrize("which", ["daily", "monthly"])
def test_a_quota_fails_and_says_it_is_not_short_term(
    sdk: ResendClient, fake: FakeResend, which: str
) -> None:
    fake.fail_next(fake.quota_response(which))
    error = sdk_error(sdk)
    assert decide(error, now=NOW) == Decision("fail")
    recorded = from_sdk(error, now=NOW)
    assert isinstance(recorded, ResendQuotaError)
    assert f"{which} sending quota is used up" in str(recorded)
    assert "not a short-term rate limit" in str(recorded)
    assert "not retried" in str(recorded)
    assert f"You have reached your {which} email sending quota." in str(recorded)


def test_a_quota_that_says_when_it_resets_is_retried_then(
    sdk: ResendClient, fake: FakeResend
) -> None:
    fake.fail_next(fake.quota_response("daily", retry_after=3600))
    error = sdk_error(sdk)
    assert decide(error, now=NOW) == Decision("retry", 3600.0)
    assert "retried then (in 3600 s)" in str(from_sdk(error, now=NOW))


def test_an_idempotency_conflict_fails_with_an_explanation(
    sdk: ResendClient, fake: FakeResend
) -> None:
    sdk.Emails.send(dict(EMAIL), {"idempotency_key": "k"})
    error = sdk_error(sdk, {**EMAIL, "subject": "Other"})
    assert decide(error, now=NOW) == Decision("fail")
    recorded = from_sdk(error, now=NOW, cache_key="welcome", run_id="run_1")
    assert isinstance(recorded, ResendIdempotencyError)
    assert recorded.status == 409 and recorded.name == "invalid_idempotent_request"
    text = str(recorded)
    assert "cache key 'welcome' in run run_1" in text
    assert "already used with a different payload" in text
    assert "Same idempotency key used with a different request payload" in text


def test_a_concurrent_request_with_the_key_is_retried(sdk: ResendClient, fake: FakeResend) -> None:
    fake.fail_next(
        409, json={"statusCode": 409, "name": "concurrent_idempotent_requests", "message": "wait"}
    )
    assert decide(sdk_error(sdk), now=NOW) == Decision("retry", None)


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "validation_error"),
        (401, "restricted_api_key"),
        (403, "invalid_api_key"),
        (404, "not_found"),
        (422, "missing_required_field"),
    ],
)
def test_client_errors_fail_with_resends_message(
    sdk: ResendClient, fake: FakeResend, status: int, name: str
) -> None:
    fake.fail_next(fake.error_response(status, f"Resend says {status}", name=name))
    error = sdk_error(sdk)
    assert decide(error, now=NOW) == Decision("fail")
    recorded = from_sdk(error, now=NOW)
    assert type(recorded) is ResendAPIError
    assert (recorded.status, recorded.name) == (status, name)
    assert str(recorded) == f"Resend {status} {name}: Resend says {status}"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(sdk: ResendClient, fake: FakeResend, status: int) -> None:
    fake.fail_next(status)
    assert decide(sdk_error(sdk), now=NOW) == Decision("retry", None)


def test_no_answer_is_retried_and_recorded_as_a_connection_error(
    sdk: ResendClient, fake: FakeResend
) -> None:
    fake.drop_after_write()
    error = sdk_error(sdk)
    assert error.code == 500 and error.error_type == "HttpClientError"
    assert decide(error, now=NOW) == Decision("retry", None)
    recorded = from_sdk(error, now=NOW)
    assert isinstance(recorded, ResendConnectionError)
    assert "Resend did not answer" in str(recorded) and "may or may not" in str(recorded)


def test_a_refused_connection_is_a_connection_error_too(clock: TestClock) -> None:
    with FakeResend(api_key=API_KEY, clock=clock.now) as fake:
        url = fake.url
    with ResendClient(API_KEY, base_url=url) as gone:
        error = sdk_error(gone)
    assert decide(error, now=NOW) == Decision("retry", None)
    recorded = from_sdk(error, now=NOW)
    assert isinstance(recorded, ResendConnectionError)
    assert "the connection was not made, so nothing was sent" in str(recorded)


def test_errors_that_are_not_resends_are_left_to_the_kit() -> None:
    assert decide(ValueError("x"), now=NOW) is None
    error = ValueError("x")
    assert from_sdk(error, now=NOW) is error


def test_a_request_that_cannot_be_made_fails_with_its_own_error(sdk: ResendClient) -> None:
    with pytest.raises(ResendError) as exc:
        sdk.Emails.send({**EMAIL, "headers": {"X-Object": object()}})
    assert exc.value.error_type == "HttpClientError"
    assert decide(exc.value, now=NOW) == Decision("fail")
    recorded = from_sdk(exc.value, now=NOW)
    assert isinstance(recorded, TypeError) and "not JSON serializable" in str(recorded)
