"""``ResendClient``: the SDK's process-wide key and URL are never swapped; each client sends its
own key to its own base URL, through the SDK's HTTP-client hooks, even when two clients are
used at the same time from tasks and threads."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
import resend
from resend_helpers import API_KEY, OTHER_KEY
from runio_resend import ResendClient
from runio_resend.testing import FakeResend

from runio.testing import TestClock

EMAIL = {"from": "hi@acme.dev", "to": "ada@example.com", "subject": "Hi", "text": "x"}


def keys_sent(fake: FakeResend) -> list[str | None]:
    return [r.header("Authorization") for r in fake.requests]


@pytest.mark.anyio
async def test_two_clients_with_different_keys_used_concurrently_each_send_their_own(
    clock: TestClock,
) -> None:
    with (
        FakeResend(api_key=API_KEY, clock=clock.now) as first_fake,
        FakeResend(api_key=OTHER_KEY, clock=clock.now) as second_fake,
    ):
        first = ResendClient(API_KEY, base_url=first_fake.url)
        second = ResendClient(OTHER_KEY, base_url=second_fake.url)
        try:
            sends = []
            for i in range(20):
                client = first if i % 2 == 0 else second
                sends.append(client.Emails.send_async({**EMAIL, "subject": f"#{i}"}))
            answers = await asyncio.gather(*sends)
        finally:
            await first.aclose()
            await second.aclose()
    assert len({a["id"] for a in answers}) == 20
    assert keys_sent(first_fake) == [f"Bearer {API_KEY}"] * 10
    assert keys_sent(second_fake) == [f"Bearer {OTHER_KEY}"] * 10
    assert sorted(e["subject"] for e in first_fake.emails.values()) == sorted(
        f"#{i}" for i in range(0, 20, 2)
    )


def test_sync_calls_from_many_threads_keep_their_clients_apart(fake: FakeResend) -> None:
    with FakeResend(api_key=OTHER_KEY) as other_fake:
        clients = [
            ResendClient(API_KEY, base_url=fake.url),
            ResendClient(OTHER_KEY, base_url=other_fake.url),
        ]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: clients[i % 2].Emails.send(dict(EMAIL)), range(40)))
        for client in clients:
            client.close()
    assert keys_sent(fake) == [f"Bearer {API_KEY}"] * 20
    assert keys_sent(other_fake) == [f"Bearer {OTHER_KEY}"] * 20


def test_the_sdks_globals_are_left_alone(sdk: ResendClient) -> None:
    before = (resend.api_key, resend.api_url)
    sdk.Emails.send(dict(EMAIL))
    assert (resend.api_key, resend.api_url) == before


def test_the_sdk_outside_a_client_uses_the_http_client_it_had(
    sdk: ResendClient, fake: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdk.Emails.send(dict(EMAIL))  # the routing clients are installed
    monkeypatch.setattr(resend, "api_key", API_KEY)
    monkeypatch.setattr(resend, "api_url", fake.url)
    sent = resend.Emails.send(dict(EMAIL))  # the plain SDK, with its globals
    assert sent["id"] in fake.emails
    assert fake.requests[-1].header("Authorization") == f"Bearer {API_KEY}"
    assert isinstance(resend.default_http_client.fallback, resend.RequestsClient)  # type: ignore[union-attr]


def test_the_key_is_not_in_the_clients_repr(sdk: ResendClient) -> None:
    assert API_KEY not in repr(sdk) and sdk.base_url in repr(sdk)
    assert API_KEY not in repr(sdk.Emails)


def test_a_client_needs_a_key() -> None:
    with pytest.raises(ValueError, match="needs an API key"):
        ResendClient("")


def test_only_the_sdks_namespaces_are_offered(sdk: ResendClient) -> None:
    with pytest.raises(AttributeError, match="API namespaces"):
        sdk.api_key  # noqa: B018


def test_a_hook_replaced_later_becomes_the_fallback_and_clients_still_route(
    sdk: ResendClient, fake: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdk.Emails.send(dict(EMAIL))
    replacement = resend.RequestsClient(timeout=5)
    monkeypatch.setattr(resend, "default_http_client", replacement)  # someone else's choice
    sdk.Emails.send(dict(EMAIL))
    assert keys_sent(fake) == [f"Bearer {API_KEY}"] * 2
    assert resend.default_http_client.fallback is replacement  # type: ignore[union-attr]
