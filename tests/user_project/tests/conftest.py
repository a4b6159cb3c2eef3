from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from shop import services
from shop.app import client

from runio.testing import JobTester


@pytest.fixture(autouse=True)
def fresh_services() -> Iterator[None]:
    services.payments.unavailable = 0
    services.payments.charges.clear()
    services.outbox.sent.clear()
    yield


@pytest.fixture
def shop(runio_app: Callable[..., JobTester]) -> JobTester:
    """The shop's own client, on a fresh test database and test clock."""
    return runio_app(client)
