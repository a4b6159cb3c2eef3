"""Fixtures shared by the whole suite: a fresh database, clock and client per test; no network."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_server import postgres_server, postgres_url

import runio
from runio.storage import Store, alone_in_worker, create_store
from runio.testing import TestClock

__all__ = ["postgres_server", "postgres_url"]  # fixtures: a real PostgreSQL for the suite

# A job author's project with its own tests, run as its author would run them
# (tests/core/test_user_project.py).
collect_ignore = ["user_project"]

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None if host == "localhost" else ipaddress.ip_address("0.0.0.1")
        if ip is not None and not ip.is_loopback:
            raise OSError(f"tests may not connect to {address!r}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> TestClock:
    return TestClock(start=1_800_000_000.0)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file (for tests about SQLite itself)."""
    return f"sqlite:///{tmp_path / 'runio.db'}"


@contextlib.asynccontextmanager
async def _alone_in_worker(url: str) -> AsyncIterator[Store]:
    """A store on ``url`` used as an execution that has its worker to itself does."""
    opened = create_store(url)
    await opened.upgrade()
    token = alone_in_worker.set(lambda: True)
    try:
        yield opened
    finally:
        alone_in_worker.reset(token)
        await opened.close()


@pytest.fixture
async def inline_sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    """A SQLite store on ``sqlite_url`` whose writes are applied on the caller's thread: the
    caller has its worker to itself (``alone_in_worker``), and at ``synchronous=normal`` no
    commit waits for an fsync, so none goes to the writer thread."""
    async with _alone_in_worker(sqlite_url + "?synchronous=normal") as opened:
        yield opened


@pytest.fixture
async def inline_durable_sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    """The same at runio's default durability (``synchronous=full``): its durable commits stay
    on the caller's thread while fsyncs are fast (``INLINE_COMMIT_MAX``)."""
    async with _alone_in_worker(sqlite_url) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A fresh database of each backend in turn: every engine test runs on both."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_client(db_url: str, clock: TestClock) -> Iterator[Callable[..., runio.Client]]:
    """Build clients on the test's database and clock; all are closed after the test."""
    made: list[runio.Client] = []

    def make(app_id: str = "test-app", **options: Any) -> runio.Client:
        options.setdefault("database_url", db_url)
        options.setdefault("clock", clock)
        client = runio.Client(app_id, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., runio.Client]) -> runio.Client:
    return make_client()
