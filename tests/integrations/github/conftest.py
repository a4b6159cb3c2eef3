"""Fixtures of the GitHub integration's tests: a FakeGitHub holding ``octo/hello`` and the
``octo`` organisation, and PyGithub configured on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_helpers import REPO, TOKEN, sdk_client
from runio_github._sdk import ThreadSafeGithub
from runio_github.testing import FakeGitHub


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
