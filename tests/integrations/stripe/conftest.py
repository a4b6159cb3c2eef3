"""Fixtures of the Stripe integration's tests: a FakeStripe, a ``Stripe`` pointed at it, and a
runio client on a fresh SQLite file with a ``TestClock`` (retries and waits take no time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runio_stripe import Stripe
from runio_stripe.testing import FakeStripe
from stripe_helpers import API_KEY, World

import runio
from runio.plugins import create_plugin_manager
from runio.testing import TestClock


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def world(fake: FakeStripe, tmp_path: Path) -> Iterator[World]:
    clock = TestClock(start=1_800_000_000.0)
    database = tmp_path / "runio.db"
    client = runio.Client(
        "stripe-tests",
        database_url=f"sqlite:///{database}",
        clock=clock,
        time_scale=1,
        plugins=create_plugin_manager(entry_points=False),
    )
    try:
        yield World(fake, Stripe(api_key=API_KEY, base_url=fake.url), client, clock, database)
    finally:
        client.close()
