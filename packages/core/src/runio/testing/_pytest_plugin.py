"""pytest plugin (registered as ``runio``): fixtures for testing your own jobs.

- ``runio_clock``: a fresh ``TestClock``.
- ``runio_database_url``: a fresh SQLite database file in the test's temporary directory.
- ``runio_plugins``: a fresh plugin manager with runio's built-ins only (no installed plugin);
  register yours on it and pass it as ``runio.Client(..., plugins=runio_plugins)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..plugins import PluginManager, create_plugin_manager
from ._clock import TestClock


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
