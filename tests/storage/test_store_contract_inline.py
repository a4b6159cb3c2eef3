"""The storage conformance suite's tests that take a ``store``, again on SQLite, with every write
applied on the caller's thread: as a worker running one execution has its writes applied
(``alone_in_worker``; at ``synchronous=normal``, whose commits may always go there), where a
write that is all there is to commit goes as one statement (``_Item.solo``). Same tests, same
promises, the other code path."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import test_store_contract as contract

from runio.storage import Store

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
def store(inline_sqlite_store: Store) -> Store:
    return inline_sqlite_store
