"""GitHub's error rules on the errors PyGithub really raises for FakeGitHub's answers: primary
limits wait for the reset, secondary limits for retry-after (else at least a minute, doubling),
5xx and connection errors are transient, 4xx permanent with GitHub's message and documentation
URL in the task's error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import github
import pytest
from github_helpers import REPO, sdk_client
from runio_github import GitHubAPIError, classify_github_error
from runio_github._sdk import ThreadSafeGithub
from runio_github.testing import FakeGitHub

import runio


def raised(call: Callable[[], Any]) -> Exception:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("the call did not fail")


def create(gh: ThreadSafeGithub) -> Callable[[], Any]:
    return lambda: gh.get_repo(REPO).create_issue(title="x")


def test_primary_rate_limit_waits_until_the_reset(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    for status in (403, 429):
        answer = fake.primary_rate_limit(reset_in=0, status=status)
        answer.headers["x-ratelimit-reset"] = "1800000420"
        decision = classify_github_error(raised(create(gh)))
        assert decision == runio.ErrorDecision.retry_at(
            datetime.fromtimestamp(1_800_000_420, tz=UTC)
        )


def test_secondary_rate_limit_uses_retry_after(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    fake.secondary_rate_limit(retry_after=37)
    assert classify_github_error(raised(create(gh))) == runio.ErrorDecision.retry_at(37.0)
    fake.secondary_rate_limit(retry_after=90, status=429)
    assert classify_github_error(raised(create(gh))) == runio.ErrorDecision.retry_at(90.0)


def test_secondary_rate_limit_without_retry_after_waits_a_minute_doubling(
    fake: FakeGitHub, gh: ThreadSafeGithub
) -> None:
    waits = []
    for attempt in (1, 2, 3, 10):
        fake.secondary_rate_limit(status=403 if attempt % 2 else 429)
        decision = classify_github_error(raised(create(gh)), attempt=attempt)
        assert decision is not None and decision.action == "retry_at"
        waits.append(decision.when)
    assert waits == [60.0, 120.0, 240.0, 900.0]


def test_transient_and_permanent_answers(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    for status in (500, 502, 503):
        fake.fail_next(status)
        assert classify_github_error(raised(create(gh))) == runio.ErrorDecision.retry()
    for status in (400, 401, 403, 404, 405, 409, 410, 422):
        fake.fail_next(status)
        assert classify_github_error(raised(create(gh))) == runio.ErrorDecision.fail(), status


def test_connection_errors_are_transient(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    fake.drop_after_write()
    assert classify_github_error(raised(create(gh))) == runio.ErrorDecision.retry()
    closed = sdk_client(fake)
    fake.stop()  # nothing listens any more: connection refused
    assert classify_github_error(raised(lambda: closed.get_user().login)) == (
        runio.ErrorDecision.retry()
    )
    closed.close()


def test_other_errors_are_left_to_runio(gh: ThreadSafeGithub) -> None:
    assert classify_github_error(ValueError("a bug in the job")) is None


def test_translated_errors_carry_githubs_message_and_documentation(
    fake: FakeGitHub, gh: ThreadSafeGithub
) -> None:
    error = raised(lambda: gh.get_repo(REPO).create_issue(title=""))
    assert isinstance(error, github.GithubException)
    translated = GitHubAPIError.from_github(error, call="Create Issue")
    text = str(translated)
    assert text.startswith("GitHub 422 on Create Issue: Validation Failed (Issue.title: ")
    assert "missing_field" in text
    assert "See https://docs.github.com/rest" in text
    assert f"[request {fake.request_ids[-1]}]" in text
    assert translated.status == 422 and translated.github_message == "Validation Failed"
    assert translated.errors == [{"resource": "Issue", "field": "title", "code": "missing_field"}]
    assert translated.github_error is error
    assert classify_github_error(translated) == runio.ErrorDecision.fail()

    missing = GitHubAPIError.from_github(
        raised(lambda: gh.get_repo("octo/nope").raw_data), call="Get Repository"
    )
    assert "GitHub 404 on Get Repository: Not Found." in str(missing)
    assert "the token cannot see it" in str(missing)

    fake.fail_next(401)
    bad = GitHubAPIError.from_github(raised(create(gh)))
    assert str(bad).startswith("GitHub 401: Bad credentials. Check the token")


@pytest.mark.parametrize("status", [403, 429])
def test_a_403_or_429_with_remaining_zero_but_no_reset_still_waits(
    fake: FakeGitHub, gh: ThreadSafeGithub, status: int
) -> None:
    answer = fake.primary_rate_limit(reset_in=0, status=status)
    del answer.headers["x-ratelimit-reset"]
    decision = classify_github_error(raised(create(gh)), attempt=1)
    assert decision == runio.ErrorDecision.retry_at(60.0)
