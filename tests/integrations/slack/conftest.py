"""Fixtures of the Slack integration's tests: a FakeSlack, a ``Slack`` pointed at it, and a
runio client on a fresh SQLite file with a ``TestClock`` (retries and waits take no time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runio_slack import Slack
from runio_slack.testing import FakeSlack
from slack_helpers import TOKEN, World

import runio
from runio.plugins import create_plugin_manager
from runio.testing import TestClock


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as server:
        yield server


@pytest.fixture
def world(fake: FakeSlack, tmp_path: Path) -> Iterator[World]:
    clock = TestClock(start=1_800_000_000.0)
    database = tmp_path / "runio.db"
    client = runio.Client(
        "slack-tests",
        database_url=f"sqlite:///{database}",
        clock=clock,
        time_scale=1,
        plugins=create_plugin_manager(entry_points=False),
    )
    try:
        yield World(fake, Slack(token=TOKEN, base_url=fake.url), client, clock, database)
    finally:
        client.close()
