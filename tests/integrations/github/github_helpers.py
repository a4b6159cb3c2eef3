"""Helpers of the GitHub integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test token, the repository the fake
starts with, and a PyGithub client on a fake. Importing it also puts tests/core on the path,
for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import sys
from pathlib import Path

from github import Auth
from runio_github._sdk import ThreadSafeGithub, new_client
from runio_github.testing import FakeGitHub

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

TOKEN = "ghp_runioTest0123456789abcdefghijklmnopq"
REPO = "octo/hello"
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def sdk_client(fake: FakeGitHub, *, token: str = TOKEN, per_page: int = 100) -> ThreadSafeGithub:
    """PyGithub on ``fake``, configured as the integration configures it."""
    return new_client(Auth.Token(token), base_url=fake.url, per_page=per_page)
