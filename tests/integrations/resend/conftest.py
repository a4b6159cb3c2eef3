"""Fixtures of the Resend integration's tests: a ``TestClock``, a FakeResend on that clock, and
the SDK bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from resend_helpers import API_KEY, START
from runio_resend import ResendClient
from runio_resend.testing import FakeResend

from runio.testing import TestClock


@pytest.fixture
def clock() -> TestClock:
    return TestClock(start=START)


@pytest.fixture
def fake(clock: TestClock) -> Iterator[FakeResend]:
    with FakeResend(api_key=API_KEY, clock=clock.now, seed=7) as server:
        yield server


@pytest.fixture
def sdk(fake: FakeResend) -> Iterator[ResendClient]:
    client = ResendClient(API_KEY, base_url=fake.url)
    yield client
    client.close()
