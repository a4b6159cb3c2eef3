"""Fixtures of the Resend integration's tests: a ``TestClock``, a FakeResend on that clock, the
SDK bound to it, and a ``World``: a ``Resend`` pointed at the fake and a runio client on a fresh
SQLite file with the same clock (retries and waits take no time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from resend_helpers import API_KEY, START, World
from runio_resend import Resend, ResendClient
from runio_resend.testing import FakeResend

import runio
from runio.plugins import create_plugin_manager
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


@pytest.fixture
def world(fake: FakeResend, clock: TestClock, tmp_path: Path) -> Iterator[World]:
    database = tmp_path / "runio.db"
    client = runio.Client(
        "resend-tests",
        database_url=f"sqlite:///{database}",
        clock=clock,
        time_scale=1,
        plugins=create_plugin_manager(entry_points=False),
    )
    try:
        yield World(fake, Resend(api_key=API_KEY, base_url=fake.url), client, clock, database)
    finally:
        client.close()
