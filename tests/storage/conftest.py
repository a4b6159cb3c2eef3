"""Fixtures of the storage suite: each test runs against SQLite and a real PostgreSQL server.

The server comes from ``tests/pg_server.py`` (started once per session, a fresh database per
test); ``procs`` (subprocess helpers shared with tests/core) is put on the import path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pg_server import PostgresServer, postgres_server, postgres_url

sys.path.append(str(Path(__file__).resolve().parent.parent / "core"))

__all__ = ["PostgresServer", "backend_url", "postgres_server", "postgres_url"]


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runio.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
