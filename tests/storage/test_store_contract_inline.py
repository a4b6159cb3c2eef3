"""The storage conformance suite's tests that take a ``store``, again on SQLite, with every write
applied on the caller's thread: as a worker running one execution has its writes applied
(``alone_in_worker``; at ``synchronous=normal``, whose commits may always go there), where a
write that is all there is to commit goes as one statement (``_Item.solo``). Same tests, same
promises, the other code path."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import test_store_contract as contract

from runio.storage import Store, alone_in_worker, create_store

pytestmark = pytest.mark.anyio

globals().update(
    {
        name: test
        for name, test in vars(contract).items()
        if name.startswith("test_") and "store" in inspect.signature(test).parameters
    }
)


@pytest.fixture
def backend_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runio.db'}"


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[Store]:
    opened = create_store(backend_url + "?synchronous=normal")
    await opened.upgrade()
    token = alone_in_worker.set(lambda: True)
    try:
        yield opened
    finally:
        alone_in_worker.reset(token)
        await opened.close()
