"""Fixtures of the GitHub integration's tests: a FakeGitHub holding ``octo/hello`` and the
``octo`` organisation, PyGithub configured on it, and ``world`` for tests that run jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github_helpers import REPO, TOKEN, World, sdk_client
from runio_github._sdk import ThreadSafeGithub
from runio_github.testing import FakeGitHub

import runio
from runio.plugins import create_plugin_manager
from runio.testing import TestClock


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo(REPO)
        server.add_org("octo")
        yield server


@pytest.fixture
def gh(fake: FakeGitHub) -> Iterator[ThreadSafeGithub]:
    client = sdk_client(fake)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A FakeGitHub on the test's clock (its timestamps and rate-limit resets follow it), a
    ``GitHub`` pointed at it, and a client on a fresh SQLite file."""
    from runio_github import GitHub

    clock = TestClock(start=1_800_000_000.0)
    database = tmp_path / "runio.db"
    client = runio.Client(
        "github-tests",
        database_url=f"sqlite:///{database}",
        clock=clock,
        time_scale=1,
        plugins=create_plugin_manager(entry_points=False),
    )
    with FakeGitHub(token=TOKEN, clock=clock.now) as server:
        server.add_repo(REPO)
        server.add_org("octo")
        try:
            yield World(server, GitHub(token=TOKEN, base_url=server.url), client, clock, database)
        finally:
            client.close()
