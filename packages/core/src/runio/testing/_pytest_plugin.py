"""pytest plugin (registered as ``runio``): fixtures for testing your own jobs.

- ``runio_clock``: a fresh ``TestClock``.
- ``runio_database_url``: a fresh SQLite database file in the test's temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._clock import TestClock


@pytest.fixture
def runio_clock() -> TestClock:
    return TestClock()


@pytest.fixture
def runio_database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runio.db'}"
