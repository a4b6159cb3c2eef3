"""pytest plugin (registered as ``runio``): fixtures for testing your own jobs.

- ``runio_clock``: a fresh ``TestClock``.
- ``runio_database_url``: a fresh SQLite database file in the test's temporary directory.
- ``runio_plugins``: a fresh plugin manager with runio's built-ins only (no installed plugin);
  register yours on it and pass it as ``runio.Client(..., plugins=runio_plugins)``.
- ``runio_app``: ``runio_app(client)`` points an app's own client (its jobs registered once, at
  import) at ``runio_database_url`` and ``runio_clock`` for this test and returns a
  ``JobTester``; the client gets its own database and clock back after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from .._client import Client
from ..plugins import PluginManager, create_plugin_manager
from ._clock import TestClock
from ._kit import JobTester


@pytest.fixture
def runio_clock() -> TestClock:
    """A fresh ``TestClock``: pass it as ``runio.Client(..., clock=runio_clock)``."""
    return TestClock()


@pytest.fixture
def runio_database_url(tmp_path: Path) -> str:
    """A SQLite URL for a fresh database file in this test's temporary directory."""
    return f"sqlite:///{tmp_path / 'runio.db'}"


@pytest.fixture
def runio_plugins() -> PluginManager:
    """A fresh plugin manager with runio's built-ins and no installed plugin."""
    return create_plugin_manager(entry_points=False)


@pytest.fixture
def runio_app(
    runio_database_url: str, runio_clock: TestClock
) -> Iterator[Callable[..., JobTester]]:
    """``runio_app(client, *, start=None, database_url=None)``: point ``client`` (your app's
    module-level ``runio.Client``) at a fresh test database and ``runio_clock`` (a new
    ``TestClock`` at ``start``, a datetime or seconds since the epoch, when given) for this
    test, without defining its jobs again; returns a ``JobTester``."""
    restores: list[Callable[[], None]] = []

    def use(
        client: Client,
        *,
        start: datetime | float | None = None,
        database_url: str | None = None,
    ) -> JobTester:
        if not isinstance(client, Client):
            raise TypeError(
                f"runio_app(...) takes your app's runio.Client, got {type(client).__name__}."
            )
        clock = runio_clock
        if start is not None:
            clock = TestClock(start=start.timestamp() if isinstance(start, datetime) else start)
        restores.append(
            client._point_at(database_url=database_url or runio_database_url, clock=clock)
        )
        return JobTester(client, clock)

    yield use
    for restore in reversed(restores):
        restore()
