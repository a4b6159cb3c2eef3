"""Slack's error rules on the SDK's real errors (raised by ``slack_sdk.WebClient`` against
FakeSlack): what is retried and when, what fails at once, which failures may have taken effect,
and what the recorded error says."""

from __future__ import annotations

import socket
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from runio_slack import SlackAPIError
from runio_slack._errors import classify, is_outcome_unknown
from runio_slack.testing import FakeSlack
from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError

TOKEN = "xoxb-fake-1-2-errorrules"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as server:
        yield server


@pytest.fixture
def web(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.url + "/api/", retry_handlers=[], timeout=5)


def raised(call: Callable[[], Any]) -> Exception:
    with pytest.raises(Exception) as info:
        call()
    assert isinstance(info.value, Exception)
    return info.value


def post(web: WebClient, fake: FakeSlack) -> Callable[[], Any]:
    return lambda: web.chat_postMessage(channel=fake.general_id, text="hi")


def test_a_rate_limit_is_retried_at_retry_after(fake: FakeSlack, web: WebClient) -> None:
    fake.fail_next(429, retry_after=42)
    decision = classify(raised(post(web, fake)))
    assert decision is not None
    assert (decision.action, decision.when) == ("retry_at", 42.0)


def test_a_rate_limit_without_retry_after_is_retried_with_the_backoff(
    fake: FakeSlack, web: WebClient
) -> None:
    fake.fail_next(429, headers={"Retry-After": "soon"})
    decision = classify(raised(post(web, fake)))
    assert decision is not None and decision.action == "retry"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient_and_of_unknown_outcome(
    fake: FakeSlack, web: WebClient, status: int
) -> None:
    fake.fail_next(status)
    error = raised(post(web, fake))
    decision = classify(error)
    assert decision is not None and decision.action == "retry"
    assert is_outcome_unknown(error) is True


@pytest.mark.parametrize(
    ("code", "unknown"),
    [("internal_error", True), ("fatal_error", True), ("service_unavailable", False)],
)
def test_slacks_temporary_codes_are_transient(
    fake: FakeSlack, web: WebClient, code: str, unknown: bool
) -> None:
    fake.fail_next(error=code)
    error = raised(post(web, fake))
    decision = classify(error)
    assert decision is not None and decision.action == "retry"
    assert is_outcome_unknown(error) is unknown


@pytest.mark.parametrize(
    "code", ["channel_not_found", "not_in_channel", "invalid_auth", "missing_scope", "no_text"]
)
def test_other_codes_fail_at_once(fake: FakeSlack, web: WebClient, code: str) -> None:
    fake.fail_next(error=code)
    error = raised(post(web, fake))
    decision = classify(error)
    assert decision is not None and decision.action == "fail"
    assert is_outcome_unknown(error) is False


def test_a_wrong_token_fails_at_once_with_advice(fake: FakeSlack) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=fake.url + "/api/", retry_handlers=[])
    error = raised(lambda: wrong.chat_postMessage(channel=fake.general_id, text="hi"))
    decision = classify(error)
    assert decision is not None and decision.action == "fail"
    translated = SlackAPIError.from_sdk(error)  # type: ignore[arg-type]
    assert str(translated).startswith("Slack chat.postMessage failed: invalid_auth:")
    assert "SLACK_BOT_TOKEN" in str(translated)
    assert translated.method == "chat.postMessage"
    assert translated.error == "invalid_auth"
    assert translated.status == 200
    assert translated.slack_error is error
    # A translated error classifies like the SDK's own.
    again = classify(translated)
    assert again is not None and again.action == "fail"


def test_the_message_names_method_code_status_scope_and_details(
    fake: FakeSlack, web: WebClient
) -> None:
    fake.fail_next(
        json={"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "x"}
    )
    scope = SlackAPIError.from_sdk(raised(post(web, fake)))  # type: ignore[arg-type]
    assert scope.needed == "chat:write"
    assert "chat:write scope" in str(scope)
    fake.fail_next(503)
    outage = SlackAPIError.from_sdk(raised(post(web, fake)))  # type: ignore[arg-type]
    assert str(outage) == "Slack chat.postMessage failed: service_unavailable (HTTP 503)"
    fake.fail_next(fake.permanent_error_response("channel must be a string"))
    details = SlackAPIError.from_sdk(raised(post(web, fake)))  # type: ignore[arg-type]
    assert details.details == ("[ERROR] channel must be a string",)
    assert str(details).endswith("[[ERROR] channel must be a string]")
    fake.fail_next(error="not_in_channel", method="conversations.history")
    history = SlackAPIError.from_sdk(
        raised(lambda: web.conversations_history(channel=fake.general_id))  # type: ignore[arg-type]
    )
    assert str(history).startswith("Slack conversations.history failed: not_in_channel:")
    assert "join_if_needed=True" in str(history)


def test_a_dropped_connection_is_transient_and_of_unknown_outcome(
    fake: FakeSlack, web: WebClient
) -> None:
    fake.drop_after_write()
    error = raised(post(web, fake))
    decision = classify(error)
    assert decision is not None and decision.action == "retry"
    assert is_outcome_unknown(error) is None  # no answer from Slack: runio's rules decide


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    web = WebClient(token=TOKEN, base_url=f"http://127.0.0.1:{port}/api/", retry_handlers=[])
    error = raised(web.auth_test)
    decision = classify(error)
    assert decision is not None and decision.action == "retry"


def test_the_sdks_refusal_of_bad_arguments_fails_at_once() -> None:
    web = WebClient(token=TOKEN, retry_handlers=[])
    error = raised(lambda: web.files_upload_v2(channel="C1", filename="a.txt"))
    assert isinstance(error, SlackRequestError)
    decision = classify(error)
    assert decision is not None and decision.action == "fail"
    assert is_outcome_unknown(error) is False


def test_a_failed_upload_to_the_upload_url_is_transient(fake: FakeSlack, web: WebClient) -> None:
    fake.fail_next(502, path="/upload/.*")
    error = raised(
        lambda: web.files_upload_v2(channel=fake.general_id, content="x", filename="a.txt")
    )
    assert isinstance(error, urllib.error.HTTPError)
    error.close()
    decision = classify(error)
    assert decision is not None and decision.action == "retry"
    assert is_outcome_unknown(error) is True
    assert fake.messages(fake.general_id) == []
    fake.fail_next(403, path="/upload/.*")
    error = raised(
        lambda: web.files_upload_v2(channel=fake.general_id, content="x", filename="a.txt")
    )
    assert isinstance(error, urllib.error.HTTPError)
    error.close()
    decision = classify(error)
    assert decision is not None and decision.action == "fail"


def test_unrelated_errors_are_left_to_runio() -> None:
    assert classify(ValueError("a bug in the job")) is None
